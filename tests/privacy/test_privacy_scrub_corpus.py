"""The labelled corpus of adversarial notes (tests/privacy/scrub_corpus/*.yaml): each note, with
the known values of its record, scrubs to exactly the expected text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.privacy.scrub import known_values, scrub_narrative

CORPUS = Path(__file__).parent / "scrub_corpus"


def _cases() -> list[Any]:
    found = []
    for path in sorted(CORPUS.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            found.append(pytest.param(case, id=f"{path.stem}: {case['description']}"))
    return found


CASES = _cases()


def test_the_corpus_covers_every_form_and_has_negatives() -> None:
    stems = {param.id.split(":")[0] for param in CASES}
    assert {"identifiers", "doubt", "structure", "known", "negatives"} <= stems
    assert len(CASES) >= 60


@pytest.mark.parametrize("case", CASES)
def test_a_corpus_note_scrubs_to_its_expected_text(case: dict[str, Any]) -> None:
    assert set(case) <= {"description", "input", "record", "expected"}, sorted(case)
    known = known_values(case.get("record") or {})
    assert scrub_narrative(case["input"], known) == case["expected"]


@pytest.mark.parametrize("case", CASES)
def test_a_scrubbed_corpus_note_scrubs_to_itself(case: dict[str, Any]) -> None:
    known = known_values(case.get("record") or {})
    once = scrub_narrative(case["input"], known)
    assert scrub_narrative(once, known) == once
