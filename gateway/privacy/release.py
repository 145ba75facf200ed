"""k-anonymity of a set of summaries released together to one recipient.

Before a set leaves (a page of a stream), k is computed over the quasi-identifiers a recipient
could link to other knowledge: age band, sex, area, household size, special groups. Below the
configured k the set is generalised one level at a time:

1. age bands widen to 20 years (minors stay one band "0-17"), area drops to the street;
2. age to "0-17" / "18-59" / "60+", area to the district, household size withheld;
3. special groups withheld.

Rows still in a group smaller than k at the last level are suppressed (not sent). What was done
is returned as one line for the ledger entries of the set.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.privacy.generalise import k_anonymity

QUASI_IDENTIFIERS = ("age_band", "sex", "area", "household_size", "special_groups")
DISTRICT = "江北区"
LEVELS = 3
# An output withheld by generalisation → the source field named in the released list.
_SOURCE_OF = {"household_size": "household_size", "special_groups": "special_groups"}
_STREET = re.compile(r"^.*?(街道|镇|乡)")
_BAND = re.compile(r"^(\d+)-(\d+)$")


@dataclass(frozen=True)
class Outcome:
    k_before: int
    k_after: int
    level: int  # 0: nothing generalised
    suppressed: int  # rows not sent

    def describe(self, k: int) -> str:
        if self.level == 0 and not self.suppressed:
            return f"k-anonymity {self.k_before} ≥ {k}: released as decided"
        return (
            f"k-anonymity {self.k_before} < {k}: generalised to level {self.level}, "
            f"{self.suppressed} suppressed, k now {self.k_after}"
        )


def quasi_row(values: Mapping[str, Any]) -> dict[str, Any]:
    row = {name: values.get(name) for name in QUASI_IDENTIFIERS}
    groups = row["special_groups"]
    row["special_groups"] = tuple(sorted(groups)) if groups is not None else None
    return row


def anonymise(
    rows: Sequence[dict[str, Any]], k: int
) -> tuple[list[dict[str, Any] | None], Outcome]:
    """Generalise ``rows`` (released values, output names) until every quasi-identifier group
    has at least ``k`` rows; rows that cannot be are None. The input dicts are not changed."""
    if not rows:
        return [], Outcome(0, 0, 0, 0)
    k_before = k_anonymity([quasi_row(r) for r in rows], QUASI_IDENTIFIERS)
    if k <= 1 or k_before >= k:
        return list(rows), Outcome(k_before, k_before, 0, 0)
    current: list[dict[str, Any]] = [dict(r) for r in rows]
    level = 0
    while level < LEVELS:
        level += 1
        current = [generalise_row(r, level) for r in rows]
        if k_anonymity([quasi_row(r) for r in current], QUASI_IDENTIFIERS) >= k:
            return list(current), Outcome(k_before, k_of(current), level, 0)
    classes = Counter(_key(r) for r in current)
    out: list[dict[str, Any] | None] = [r if classes[_key(r)] >= k else None for r in current]
    kept = [r for r in out if r is not None]
    return out, Outcome(k_before, k_of(kept), level, len(out) - len(kept))


def k_of(rows: Sequence[Mapping[str, Any]]) -> int:
    return k_anonymity([quasi_row(r) for r in rows], QUASI_IDENTIFIERS)


def generalise_row(values: Mapping[str, Any], level: int) -> dict[str, Any]:
    """``values`` generalised to ``level`` (1..LEVELS), from the values as the policy released
    them (each level includes the ones below)."""
    out = dict(values)
    if out.get("age_band") is not None:
        out["age_band"] = wider_age_band(str(out["age_band"]), level)
    if out.get("area") is not None:
        street = _STREET.match(str(out["area"]))
        out["area"] = DISTRICT if level >= 2 else (street.group(0) if street else out["area"])
    if level >= 2:
        out.pop("household_size", None)
    if level >= 3:
        out.pop("special_groups", None)
    return out


def wider_age_band(band: str, level: int) -> str:
    match = _BAND.match(band)
    if match is None:  # "80+" or a band already wide
        return "60+" if level >= 2 and band.endswith("+") else band
    low, high = int(match.group(1)), int(match.group(2))
    if high < 18:
        return "0-17"
    if level == 1:
        return "18-39" if low < 40 else ("40-59" if low < 60 else "60-79")
    return "18-59" if low < 60 else "60+"


def withheld_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> frozenset[str]:
    """Source fields that generalisation withheld (for the released list)."""
    return frozenset(_SOURCE_OF[n] for n in _SOURCE_OF if n in before and n not in after)


def _key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    q = quasi_row(row)
    return tuple(q[name] for name in QUASI_IDENTIFIERS)
