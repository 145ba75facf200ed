"""Applying a policy decision's obligations to a case record: what leaves, and in what form.

The policy (``policies/aidbridge/obligations.rego``) gives every field one action: plain,
pseudonymise, generalise, mask, drop or scrub. This module carries them out and fails closed:

* a field is released only if an obligation names it with an action other than "drop" and the
  record holds a value for it; everything else is absent from the result;
* an obligation it does not understand (unknown action, a transform undefined for the field,
  malformed parameters) raises ``ObligationError`` and nothing at all is released;
* whatever the policy says, the resident id never leaves plain (its 18 digits carry region,
  birth date and sex), a narrative never leaves unscrubbed (it may quote the id), and
  relatives never leave at all.

Generalised fields change name (birth_date → age_band, street/community → area, monthly_income
→ income_band, health_condition → health_category, disability → disability_category); a
scrubbed narrative is cleared of every known value of the record, relatives' names included.
Error messages name fields and actions, never a personal value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from gateway.errors import PermissionDenied
from gateway.keys import KeyRing
from gateway.privacy import generalise
from gateway.privacy.pseudonyms import pseudonym_for
from gateway.privacy.scrub import KnownValue, known_values
from gateway.privacy.scrub.memo import MEMO

ACTIONS = frozenset({"plain", "pseudonymise", "generalise", "mask", "drop", "scrub"})
GENERALISED_NAMES: Mapping[str, str] = {
    "birth_date": "age_band",
    "street": "area",
    "community": "area",
    "monthly_income": "income_band",
    "health_condition": "health_category",
    "disability": "disability_category",
}
SUBJECT_FIELD = "resident_id"
NEVER_RELEASED = frozenset({"relatives"})
# Free text carries whatever the caseworker wrote, identifiers included: it leaves scrubbed.
FREE_TEXT = frozenset({"narrative"})

_AREA_FIELDS = ("street", "community")
# The finest level each address field may be generalised to: a street cannot be made finer.
_AREA_LEVELS_OF = {"street": ("street",), "community": ("street", "community")}
_DEFAULT_AGE_BAND = 10


class ObligationError(PermissionDenied):
    """An obligation cannot be carried out as given; the release is refused (fail closed)."""


@dataclass(frozen=True)
class Released:
    values: dict[str, object]  # output name -> value
    fields: tuple[tuple[str, str], ...]  # (source field, action) for every field released
    # The known values and withheld values the release scrubbed its free text of (its record's,
    # with ``withheld_values`` under its actions): what the release's other texts are scrubbed
    # of too (``disclosure.release_case``), so they are worked out once.
    known: tuple[KnownValue, ...] = dataclasses.field(default=(), compare=False, repr=False)


def apply_obligations(
    record: Mapping[str, object],
    obligations: Mapping[str, Mapping[str, object]],
    *,
    keys: KeyRing,
    recipient: str,
    today: date,
) -> Released:
    """The values of ``record`` that ``obligations`` release to ``recipient``, transformed."""
    actions = {field: _action_of(field, obligation) for field, obligation in obligations.items()}
    known = known_values(record) + withheld_values(record, actions, today)
    values: dict[str, object] = {}
    fields: list[tuple[str, str]] = []
    area_levels: dict[str, str] = {}
    for field in sorted(actions):
        action = actions[field]
        value = record.get(field)
        if action == "drop" or _is_empty(value):
            continue
        params = obligations[field]
        if action == "generalise" and field in _AREA_FIELDS:
            # Street and community make one "area", built below once both are known; it
            # always starts with the street, so without one there is no area to release.
            if _is_empty(record.get("street")):
                continue
            area_levels[field] = _area_level(field, params)
        else:
            name, out = _transform(
                field, action, value, params, record, keys, recipient, today, known
            )
            values[name] = out
        fields.append((field, action))
    if area_levels:
        values["area"] = _area(record, area_levels)
    return Released(values=values, fields=tuple(fields), known=tuple(known))


# Fields whose own text a narrative may repeat; when the field is not released plain, the
# narrative must not release it either (a note that says "月收入约4108元" releases the income).
# Each is replaced by the tag of what it is, never taken for a name.
_WITHHELD_TEXT = {
    "community": "[社区]",
    "health_condition": "[健康状况]",
    "disability": "[残疾情况]",
    "assistance_status": "[救助类别]",
}
_INCOME_TAG = "[收入]"
_AGE_TAG = "[年龄]"


def withheld_values(
    record: Mapping[str, object], actions: Mapping[str, str], today: date
) -> list[KnownValue]:
    """Values of fields not released plain, in the forms a caseworker's note would use them:
    the text itself, the monthly income in yuan, the exact age ("52岁")."""
    found: list[KnownValue] = []
    for field, tag in _WITHHELD_TEXT.items():
        value = record.get(field)
        if actions.get(field) != "plain" and isinstance(value, str) and len(value.strip()) >= 2:
            found.append(KnownValue(value.strip(), tag))
    income = record.get("monthly_income")
    if actions.get("monthly_income") != "plain" and isinstance(income, int) and income >= 10000:
        yuan, fen = divmod(income, 100)
        found.append(KnownValue(f"{yuan}.{fen:02d}" if fen else str(yuan), _INCOME_TAG))
    born = record.get("birth_date")
    if actions.get("birth_date") != "plain" and isinstance(born, str):
        try:
            birth = date.fromisoformat(born)
        except ValueError:
            birth = None
        if birth is not None:
            age = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
            found += [KnownValue(f"{age}岁", _AGE_TAG), KnownValue(f"{age}周岁", _AGE_TAG)]
    return found


def _action_of(field: str, obligation: object) -> str:
    """The obligation's action, checked before any value is looked at."""
    if not isinstance(obligation, Mapping):
        raise ObligationError(
            f"expected the obligation of {field!r} to be a mapping with an action, "
            f"found {type(obligation).__name__}"
        )
    action = obligation.get("action")
    if action not in ACTIONS:
        raise ObligationError(
            f"expected the action of {field!r} to be one of {sorted(ACTIONS)}, found {action!r}"
        )
    if field == SUBJECT_FIELD and action == "plain":
        raise ObligationError(f"{field!r} is never released plain, whatever the policy says")
    if field in NEVER_RELEASED and action != "drop":
        raise ObligationError(f"{field!r} is never released, found action {action!r}")
    if field in FREE_TEXT and action not in ("scrub", "drop"):
        raise ObligationError(
            f"expected free text {field!r} to be scrubbed or dropped, found action {action!r}"
        )
    return str(action)


def _transform(
    field: str,
    action: str,
    value: object,
    params: Mapping[str, object],
    record: Mapping[str, object],
    keys: KeyRing,
    recipient: str,
    today: date,
    known: list[KnownValue],
) -> tuple[str, object]:
    if action == "plain":
        return field, _copied(value)
    if action == "pseudonymise":
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise ObligationError(f"expected a single value of {field!r} to pseudonymise")
        # The resident id gives the subject's pseudonym; any other field is hashed in its own
        # domain, so its pseudonym can never equal a subject's.
        subject = str(value) if field == SUBJECT_FIELD else f"{field}:{value}"
        return field, pseudonym_for(keys, recipient, subject)
    if action == "mask":
        if field not in generalise.MASKABLE_FIELDS or not isinstance(value, str):
            raise ObligationError(
                f"expected a field in {generalise.MASKABLE_FIELDS} to mask, found {field!r}"
            )
        return field, generalise.mask(field, value)
    if action == "scrub":
        if not isinstance(value, str):
            raise ObligationError(f"expected free text in {field!r} to scrub")
        return field, MEMO.scrub(value, known)
    return GENERALISED_NAMES.get(field, field), _generalised(field, value, params, record, today)


def _generalised(
    field: str,
    value: object,
    params: Mapping[str, object],
    record: Mapping[str, object],
    today: date,
) -> str:
    if field == "birth_date":
        width = _positive_int(field, params, "band", default=_DEFAULT_AGE_BAND)
        try:
            born = value if isinstance(value, date) else date.fromisoformat(str(value))
            return generalise.age_band(born, today, width)
        except ValueError:
            # Not the exception's text: it would quote the birth date.
            raise ObligationError(
                f"expected {field!r} as YYYY-MM-DD, on or before today, to generalise"
            ) from None
    if field == "monthly_income":
        line = _positive_int(field, params, "line_fen", default=None)
        size = record.get("household_size")
        if not isinstance(value, int) or not isinstance(size, int) or value < 0 or size < 1:
            raise ObligationError(
                "expected monthly_income as fen (0 or more) and household_size of at least 1 "
                "to generalise income"
            )
        return generalise.income_band(value, size, line)
    if field == "health_condition" and isinstance(value, str):
        return generalise.health_category(value)
    if field == "disability" and isinstance(value, str):
        return generalise.disability_category(value)
    raise ObligationError(f"expected a field with a generalisation to generalise, found {field!r}")


def _area_level(field: str, params: Mapping[str, object]) -> str:
    allowed = _AREA_LEVELS_OF[field]
    level = params.get("level", "street")  # absent: the coarsest level
    if level not in allowed:
        raise ObligationError(
            f"expected the level of {field!r} to be one of {allowed}, found {level!r}"
        )
    return str(level)


def _area(record: Mapping[str, object], levels: Mapping[str, str]) -> str:
    street = str(record["street"]).strip()
    if levels.get("community") == "community":
        # Naming the community names its street anyway, so the street's own obligation (at
        # most "street") cannot make this coarser.
        return generalise.area(street, str(record["community"]).strip(), "community")
    return generalise.area(street, None, "street")


def _positive_int(
    field: str, params: Mapping[str, object], name: str, *, default: int | None
) -> int:
    value = params.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ObligationError(
            f"expected parameter {name!r} of {field!r} to be a positive integer, found {value!r}"
        )
    return value


def _copied(value: object) -> object:
    """A copy of a plain value, so the released values never alias the stored record (cheaper
    than ``copy.deepcopy`` for the JSON-shaped values a record holds)."""
    if isinstance(value, list | tuple):
        return [_copied(item) for item in value]
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    return value


def _is_empty(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | dict | set):
        return not value
    return False
