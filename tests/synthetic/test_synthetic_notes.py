"""The synthetic generator writes a person's identifiers the way adversarial notes do
(``written_number``, ``obfuscated_note``): every form reads back as the same number, notes are
reproducible and realistic in length, and the scrubber removes everything they embed."""

from __future__ import annotations

import random
import re
from datetime import date

import pytest
from stdnum import luhn

from gateway.privacy.scrub import known_values, scrub_narrative
from gateway.privacy.scrub.normalise import SEPARATORS, canonical
from gateway.services import convert
from gateway.synthetic import (
    BETWEEN_PIECES,
    NUMBER_FORMS,
    bank_card,
    obfuscated_note,
    synthetic_case,
    synthetic_cases,
    written_number,
)

TODAY = date(2026, 11, 27)


def _compact(text: str) -> str:
    return "".join(c for c in canonical(text) if c not in SEPARATORS)


@pytest.mark.parametrize("form", NUMBER_FORMS)
def test_every_written_form_reads_back_as_the_same_number(form: str) -> None:
    rng = random.Random(form)
    for number in ("510211199505264126", "13211535642", bank_card(rng)):
        written = written_number(number, rng, form)
        compact = _compact(written)
        if form == "pieces":
            # Words between the pieces (some hold numerals of their own, 后四位): without them
            # the digits read back in order.
            assert any(words in written for words in BETWEEN_PIECES), written
            for words in BETWEEN_PIECES:
                written = written.replace(words, "")
            compact = _compact(written)
        assert compact == number.lower(), (form, written)


def test_forms_other_than_plain_change_how_the_number_is_written() -> None:
    rng = random.Random(3)
    for form in NUMBER_FORMS[1:]:
        assert written_number("510211199505264126", rng, form) != "510211199505264126", form


def test_generated_bank_cards_pass_luhn() -> None:
    rng = random.Random(9)
    cards = [bank_card(rng) for _ in range(50)]
    assert all(luhn.is_valid(card) and len(card) in (16, 19) for card in cards)


def test_an_obfuscated_note_is_reproducible_and_of_realistic_length() -> None:
    case = synthetic_case(41, today=TODAY)
    note = obfuscated_note(case, random.Random(5))
    assert note == obfuscated_note(case, random.Random(5))
    assert 200 <= len(note) <= 500


def test_an_obfuscated_note_embeds_the_persons_identifiers_and_names() -> None:
    for case in synthetic_cases(30, seed=11, today=TODAY):
        note = obfuscated_note(case, random.Random(case.person.resident_id))
        compact = _compact(note)
        for number in (case.person.resident_id.lower(), case.person.phone):
            # Whole, or in pieces with a few words between ("pieces" form).
            assert number in compact or re.search(".{0,12}?".join(number), compact), note
        assert case.person.name in note
        assert all(relative.name in note for relative in case.relatives)


def test_writing_notes_leaves_the_seeded_cases_unchanged() -> None:
    before = synthetic_cases(10, seed=3, today=TODAY)
    for case in before:
        obfuscated_note(case, random.Random(1))
    assert synthetic_cases(10, seed=3, today=TODAY) == before


def test_scrubbed_obfuscated_notes_keep_no_identifier_or_name() -> None:
    for case in synthetic_cases(200, seed=2026, today=TODAY):
        record = convert.case_to_record(case)
        note = obfuscated_note(case, random.Random(case.person.resident_id))
        scrubbed = scrub_narrative(note, known_values(record))
        # The filler's own numerals (上门一次) read as digits too: none is as long as a number.
        assert not re.search(r"[0-9x]{5,}", _compact(scrubbed)), scrubbed
        for name in [case.person.name, *(r.name for r in case.relatives)]:
            assert name not in scrubbed
