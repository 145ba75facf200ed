"""regopy and OPA's own engine give the same decision on thousands of generated inputs.

The bundle promises to run unchanged in a stock OPA. The two engines differ where Rego leaves
room: `not f(x)` / `not x in y` with an undefined argument is true on regopy and undefined on
OPA, and OPA orders values of different types where regopy does not compare them. Any such
construct in the bundle shows here as a difference in allow, reasons, flags or obligations.

Inputs come from two seeded generators: inputs.py, built around the input schema (every role
and registry organisation, unknown ones, every method, resources and consents with keys
missing or odd, ages around 14 and 18, times around the validity bounds), and inputs mixed
from the rows of the decision table with parts dropped. CI runs a few thousand (about 10 s);
``AIDBRIDGE_POLICY_DIFF_INPUTS=50000`` runs more by hand, ``AIDBRIDGE_POLICY_DIFF_SEED`` another
sequence.
"""

from __future__ import annotations

import copy
import json
import os
import random
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.policy.embedded import EmbeddedEngine

from .golib_engine import GolibEngine, canonical
from .inputs import generate
from .table import load_table

COUNT = int(os.environ.get("AIDBRIDGE_POLICY_DIFF_INPUTS", "3000"))
SEED = int(os.environ.get("AIDBRIDGE_POLICY_DIFF_SEED", "20261127"))
ROWS = load_table()
_PARTS = ["caller", "method", "purpose", "release", "resource", "subject", "consent", "now_ns"]


def mixed_from_table(count: int, seed: int) -> Iterator[dict[str, Any]]:
    """Each part of the input from a random table row, or absent (one time in four)."""
    rng = random.Random(seed)
    for _ in range(count):
        policy_input: dict[str, Any] = {}
        for part in _PARTS:
            source = rng.choice(ROWS)[1]
            if part in source and rng.random() >= 0.25:
                policy_input[part] = copy.deepcopy(source[part])
        yield policy_input


def differences(
    embedded: EmbeddedEngine, opa: GolibEngine, inputs: Iterator[dict[str, Any]]
) -> tuple[int, int, list[str]]:
    """(inputs decided, inputs allowed, a report of each input decided differently)."""
    seen = allowed = 0
    found: list[str] = []
    for index, policy_input in enumerate(inputs):
        a, b = embedded.decide(policy_input), opa.decide(policy_input)
        seen += 1
        allowed += a.allow
        if canonical(a) != canonical(b):
            found.append(
                f"input #{index}: {json.dumps(policy_input, ensure_ascii=False)}\n"
                f"  regopy: {canonical(a)}\n  OPA:    {canonical(b)}"
            )
    return seen, allowed, found


@pytest.fixture(scope="module")
def opa(golib: GolibEngine) -> GolibEngine:
    return golib


def test_engines_agree_on_inputs_generated_from_the_schema(
    embedded: EmbeddedEngine, opa: GolibEngine
) -> None:
    seen, allowed, found = differences(embedded, opa, generate(COUNT, SEED))
    assert seen == COUNT
    # The generator must reach allowed calls too, or it would only compare denials.
    assert allowed >= COUNT // 20, f"only {allowed} of {seen} inputs were allowed"
    assert found == [], f"{len(found)} of {seen} inputs decided differently:\n" + "\n".join(
        found[:5]
    )


def test_engines_agree_on_inputs_mixed_from_the_table(
    embedded: EmbeddedEngine, opa: GolibEngine
) -> None:
    count = max(COUNT // 3, 1)
    seen, allowed, found = differences(embedded, opa, mixed_from_table(count, SEED))
    assert seen == count and allowed > 0
    assert found == [], f"{len(found)} of {seen} inputs decided differently:\n" + "\n".join(
        found[:5]
    )


def test_the_comparison_sees_a_difference_in_obligations_alone(
    embedded: EmbeddedEngine, opa: GolibEngine, bundle_copy: Any
) -> None:
    # A bundle that releases one more field on OPA's side must be reported: the comparison
    # looks at obligations, not only at allow.
    data = bundle_copy / "aidbridge" / "data.json"
    text = data.read_text(encoding="utf-8")
    data.write_text(text.replace('"line_fen": 80000', '"line_fen": 80001'), encoding="utf-8")
    other = GolibEngine(bundle_copy)
    try:
        allowed = [row[1] for row in ROWS if row[2]["allow"] and "release" in row[1]]
        seen, _, found = differences(embedded, other, iter(allowed))
    finally:
        other.close()
    assert seen == len(allowed) and found
    assert "80001" in found[0]
