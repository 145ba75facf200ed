"""The policy's fast path (`fast_allow`) and its explanations (`deny_reasons`) agree.

authz.rego decides with one positive rule and runs the problem rules only to explain a denial
(regopy charges per rule evaluated). If the two ever disagreed, a call could be allowed while a
problem rule objects; these tests look for such an input on every row of the decision table
and on inputs mixed from them at random.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import regopy
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.policy.bundle import (
    evaluate_entrypoint,
    first_expression,
    new_interpreter,
    read_bundle,
)

from .table import BUNDLE, load_table

ROWS = load_table()
_SOURCE = read_bundle(BUNDLE)
_INTERPRETER = new_interpreter(_SOURCE, with_tests=False)
_COMPILED = _INTERPRETER.build(None, ["aidbridge/authz/fast_allow", "aidbridge/authz/deny_reasons"])


def _both(policy_input: dict[str, Any]) -> tuple[bool, list[str]]:
    _INTERPRETER.set_input(regopy.Input(policy_input))
    ok, text = evaluate_entrypoint(_INTERPRETER, _COMPILED, "aidbridge/authz/fast_allow")
    assert ok, text
    defined, fast = first_expression(text)
    ok, text = evaluate_entrypoint(_INTERPRETER, _COMPILED, "aidbridge/authz/deny_reasons")
    assert ok, text
    _, reasons = first_expression(text)
    return bool(defined and fast is True), reasons or []


def test_fast_path_agrees_with_the_problem_rules_on_every_table_row() -> None:
    disagreements = []
    for name, policy_input, _ in ROWS:
        fast, reasons = _both(policy_input)
        if fast == bool(reasons):
            disagreements.append((name, fast, reasons))
    assert disagreements == []


_PARTS = ["caller", "method", "purpose", "release", "resource", "subject", "consent", "now_ns"]


@settings(max_examples=300, deadline=None)
@given(
    picks=st.lists(st.integers(min_value=0, max_value=len(ROWS) - 1), min_size=8, max_size=8),
    drops=st.lists(st.booleans(), min_size=8, max_size=8),
)
def test_fast_path_agrees_on_inputs_mixed_from_the_table(
    picks: list[int], drops: list[bool]
) -> None:
    policy_input: dict[str, Any] = {}
    for part, pick, drop in zip(_PARTS, picks, drops, strict=True):
        source = ROWS[pick][1]
        if part in source and not drop:
            policy_input[part] = copy.deepcopy(source[part])
    fast, reasons = _both(policy_input)
    assert fast != bool(reasons), json.dumps(policy_input, ensure_ascii=False)
