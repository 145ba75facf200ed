"""The decision conformance table (decisions.yaml): loading its rows, checking a decision."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "policies"
TABLE = Path(__file__).with_name("decisions.yaml")


def deep_merge(base: Any, override: Any) -> Any:
    """``override`` over ``base``; dicts merge recursively, a None value removes the key."""
    if not isinstance(base, dict) or not isinstance(override, dict):
        return copy.deepcopy(override)
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = deep_merge(merged.get(key), value) if key in merged else value
    return merged


def load_table() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(id, input, expect) rows: the matrix of RPC x role, then the named cases."""
    table = yaml.safe_load(TABLE.read_text(encoding="utf-8"))
    bases, callers = table["bases"], table["callers"]
    rows: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for method, spec in table["matrix"].items():
        start = deep_merge(bases[spec["base"]], spec.get("input", {}))
        for role, caller in callers.items():
            allowed = role in spec["allow"]
            case_input = deep_merge(start, {"caller": caller, "method": method})
            case_input = deep_merge(case_input, (spec["allow"].get(role) or {}))
            rows.append((f"{method.split('.')[-1]} as {role}", case_input, {"allow": allowed}))
    for case in table["cases"]:
        base = bases[case["base"]] if "base" in case else {}
        rows.append((case["name"], deep_merge(base, case.get("input", {})), case["expect"]))
    return rows


def check_expectation(decision: Any, expect: dict[str, Any]) -> None:
    """Assert a Decision meets a table row's expectation, with a message saying why not."""
    where = f"reasons={list(decision.reasons)} flags={list(decision.flags)}"
    assert decision.allow is expect["allow"], where
    assert not decision.unavailable
    if not decision.allow:
        assert decision.reasons, "a denial must say why"
        assert dict(decision.obligations) == {}
    for reason in expect.get("reasons", []):
        assert reason in decision.reasons, where
    if "reasons_exact" in expect:
        assert list(decision.reasons) == sorted(expect["reasons_exact"]), where
    for flag in expect.get("flags", []):
        assert flag in decision.flags, where
    if "flags_exact" in expect:
        assert list(decision.flags) == sorted(expect["flags_exact"]), where
    if "holds" in expect:
        want_holds = (expect["holds"]["from_ns"], expect["holds"]["until_ns"])
        assert decision.holds == want_holds, f"holds {decision.holds}, expected {want_holds}"
    for name, want in expect.get("obligations", {}).items():
        want = {"action": want} if isinstance(want, str) else want
        assert dict(decision.obligation(name)) == want, f"obligation of {name}"
