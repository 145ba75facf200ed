"""The embedded engine's input builder (gateway/policy/rego_input.py) against regopy.Input.

The builder replaces ``regopy.Input`` on the hot path, so the policy must see exactly the same
document from it, for every JSON value; and it must refuse, with the path of the culprit, what
JSON cannot carry.
"""

from __future__ import annotations

from typing import Any

import pytest
import regopy
from faker import Faker
from hypothesis import given, settings
from hypothesis import strategies as st
from regopy.rego_shared import rego_free_output, rego_output_string, rego_query, rego_set_input

from gateway.policy.rego_input import build_input

from .table import load_table

_fake = Faker("zh_CN")
_TEXT = st.one_of(st.text(max_size=12), st.sampled_from([_fake.name(), _fake.street_name()]))
_JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(allow_nan=False, allow_infinity=False, width=32),
        _TEXT.filter(lambda s: "\x00" not in s),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(_TEXT.filter(lambda s: "\x00" not in s), inner, max_size=4),
    ),
    max_leaves=20,
)


def _seen_through_builder(value: dict[str, Any]) -> str:
    interpreter = regopy.Interpreter()
    with build_input(value) as document:
        rego_set_input(interpreter._impl, document.handle)
    return _input_text(interpreter)


def _seen_through_regopy(value: dict[str, Any]) -> str:
    interpreter = regopy.Interpreter()
    interpreter.set_input(regopy.Input(value))
    return _input_text(interpreter)


def _input_text(interpreter: regopy.Interpreter) -> str:
    # The raw output text: regopy's Output parses it, and fails on control characters.
    output = rego_query(interpreter._impl, "x := input")
    try:
        return rego_output_string(output)
    finally:
        rego_free_output(output)


@pytest.mark.parametrize("row", load_table()[:40], ids=lambda row: row[0])
def test_the_policy_sees_table_inputs_as_regopy_input_gives_them(row: Any) -> None:
    assert _seen_through_builder(row[1]) == _seen_through_regopy(row[1])


@settings(max_examples=150, deadline=None)
@given(value=st.dictionaries(st.sampled_from(["a", "consent", "街道"]), _JSON, max_size=3))
def test_the_policy_sees_any_json_value_as_regopy_input_gives_it(value: dict[str, Any]) -> None:
    assert _seen_through_builder(value) == _seen_through_regopy(value)


def test_tuples_and_mappings_go_in_as_arrays_and_objects() -> None:
    from types import MappingProxyType

    value = {"fields": ("sex", "street"), "caller": MappingProxyType({"org": "charity-x"})}
    expected = {"fields": ["sex", "street"], "caller": {"org": "charity-x"}}
    assert _seen_through_builder(value) == _seen_through_regopy(expected)


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ({"consent": {"fields": ["sex", {"street"}]}}, TypeError, "input.consent.fields[1]: "),
        ({"caller": {"org": b"charity-x"}}, TypeError, "input.caller.org: expected a JSON"),
        ({"resource": {1: "case"}}, TypeError, "input.resource: keys must be strings"),
        ({"now_ns": 2**64}, ValueError, "input.now_ns: expected a 64-bit integer"),
    ],
)
def test_what_json_cannot_carry_is_refused_with_its_path(
    value: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as raised:
        build_input(value)
    assert str(raised.value).startswith(message)
