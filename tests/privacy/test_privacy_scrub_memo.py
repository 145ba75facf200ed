"""The scrub memo: a remembered text is exactly what scrubbing it again gives, under the same known
values only, and the memo holds nothing plain of what it scrubbed."""

from __future__ import annotations

import random
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.privacy.scrub import KnownValue, known_values, scrub_narrative
from gateway.privacy.scrub.memo import ScrubMemo
from gateway.services import convert
from gateway.synthetic import obfuscated_note, synthetic_case

TODAY = date(2026, 11, 27)


def _notes(count: int) -> list[tuple[str, list[KnownValue], list[str]]]:
    """Synthetic notes with their record's known values and the identifiers they hold."""
    rng = random.Random(9)
    notes = []
    for index in range(count):
        case = synthetic_case(7_000 + index, today=TODAY)
        p = case.person
        note = obfuscated_note(case, rng, min_length=200)
        known = known_values(convert.case_to_record(case))
        notes.append((note, known, [p.name, p.resident_id, p.phone]))
    return notes


def test_a_remembered_note_is_what_scrubbing_it_again_gives() -> None:
    memo = ScrubMemo()
    notes = _notes(40)
    first = [memo.scrub(note, known) for note, known, _ in notes]
    again = [memo.scrub(note, known) for note, known, _ in notes]
    assert first == again == [scrub_narrative(note, known) for note, known, _ in notes]
    assert len(memo) == len(notes)


def test_the_same_text_under_other_known_values_is_scrubbed_again() -> None:
    # A name only the record knows: no recogniser finds it, so the two results differ.
    text = "申请人王建国与其女儿王小红同住，家中经济困难，长期依靠亲戚接济，需要社会帮扶。"
    with_name = [KnownValue("王建国", "[申请人]")]
    for order in ((with_name, []), ([], with_name)):
        memo = ScrubMemo()
        results = [memo.scrub(text, known) for known in order]
        assert results == [scrub_narrative(text, known) for known in order]
    assert "王建国" not in ScrubMemo().scrub(text, with_name)
    assert "王建国" in ScrubMemo().scrub(text, [])
    # A tag is part of what was known: the same value under another role is another entry.
    memo = ScrubMemo()
    assert "[申请人]" in memo.scrub(text, with_name)
    assert "[家属1]" in memo.scrub(text, [KnownValue("王建国", "[家属1]")])


def test_parts_cannot_run_into_each_other() -> None:
    # The same characters split differently between the text and its known values.
    memo = ScrubMemo()
    text = "联系人李四海，电话一三八一三八一三六三二，住址不详，平时由社区工作人员代为联系。"
    a = memo.scrub(text, [KnownValue("李四海", "[申请人]")])
    b = memo.scrub(text, [KnownValue("李四", "海[申请人]")])
    assert a == scrub_narrative(text, [KnownValue("李四海", "[申请人]")])
    assert b == scrub_narrative(text, [KnownValue("李四", "海[申请人]")])
    assert len(memo) == 2


def test_the_memo_is_bounded_and_forgets_the_least_recently_used() -> None:
    memo = ScrubMemo(entries=2)
    notes = _notes(3)
    memo.scrub(notes[0][0], notes[0][1])
    memo.scrub(notes[1][0], notes[1][1])
    memo.scrub(notes[0][0], notes[0][1])  # used again: notes[1] is now the oldest
    memo.scrub(notes[2][0], notes[2][1])
    assert len(memo) == 2
    for note, known, _ in notes:
        assert memo.scrub(note, known) == scrub_narrative(note, known)
    with pytest.raises(ValueError, match="at least one"):
        ScrubMemo(entries=0)


def test_the_memo_holds_no_plain_text_of_what_it_scrubbed() -> None:
    memo = ScrubMemo()
    notes = _notes(20)
    for note, known, _ in notes:
        memo.scrub(note, known)
    held = list(memo._scrubbed.items())
    assert all(len(key) == 32 for key, _ in held)
    for note, _, identifiers in notes:
        for key, scrubbed in held:
            assert note.encode() not in key
            for identifier in identifiers:
                assert identifier not in scrubbed
                assert identifier.encode() not in key


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(min_size=0, max_size=120),
    known=st.lists(
        st.tuples(st.text(min_size=1, max_size=8), st.sampled_from(["[申请人]", "[家属1]", ""])),
        max_size=3,
    ),
)
def test_memo_and_scrubber_agree_on_any_text(text: str, known: list[tuple[str, str]]) -> None:
    values = [KnownValue(t, tag) if tag else t for t, tag in known]
    memo = ScrubMemo()
    expected = scrub_narrative(text, values)
    assert memo.scrub(text, values) == expected
    assert memo.scrub(text, values) == expected
