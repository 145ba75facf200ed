"""Scrubbing Chinese narratives: known values first, then resident ids (MOD 11-2), mobiles and
Luhn-valid bank cards, with no reliance on word boundaries between Chinese and digits."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from gateway.privacy.scrub import scrub_narrative

from .synthetic import (
    FULL_WIDTH,
    HAN,
    fake,
    filler,
    seeds,
    written_bank_cards,
    written_mobiles,
    written_resident_ids,
)

RID = "11010519491231002X"  # the GB 11643 standard's own example
CARD = "6222021234567890128"  # 19 digits, Luhn-valid
ANY_DIGIT = re.compile(r"[0-9０-９]")


@pytest.mark.parametrize(
    "written",
    [RID, RID.lower(), "110105 19491231 002X", "110105-19491231-002X", RID.translate(FULL_WIDTH)],
)
def test_a_resident_id_inside_chinese_text_is_replaced(written: str) -> None:
    assert scrub_narrative(f"身份证号{written}，已核实", []) == "身份证号[身份证号]，已核实"


def test_an_id_ending_in_x_is_found_even_when_digits_follow() -> None:
    assert scrub_narrative(f"证件{RID}13812345678", []) == "证件[身份证号][手机号]"


def test_eighteen_digits_with_a_wrong_check_digit_are_left_alone() -> None:
    text = "档案编号110105194912310021号"
    assert scrub_narrative(text, []) == text


def test_an_id_inside_a_longer_run_of_digits_is_not_an_id() -> None:
    text = "流水号1110105194912310029"  # 19 digits, not Luhn-valid either
    assert scrub_narrative(text, []) == text


@pytest.mark.parametrize(
    "written",
    [
        "13812345678",
        "138 1234 5678",
        "138-1234-5678",
        "+86 138 1234 5678",
        "+8613812345678",
        "86-13812345678",
        "１３８１２３４５６７８",
    ],
)
def test_mobile_numbers_in_their_written_forms_are_replaced(written: str) -> None:
    assert scrub_narrative(f"电话{written}（本人）", []) == "电话[手机号]（本人）"


def test_numbers_that_are_not_mobiles_are_left_alone() -> None:
    text = "座机023-67891234，补助12345678901元以内的12位编号123456789012"
    assert scrub_narrative(text, []) == text


@pytest.mark.parametrize("written", [CARD, "6222 0212 3456 7890 128", "4111111111111111"])
def test_bank_cards_passing_luhn_are_replaced(written: str) -> None:
    assert scrub_narrative(f"银行卡{written}已冻结", []) == "银行卡[银行卡号]已冻结"


def test_sixteen_digits_failing_luhn_are_left_alone() -> None:
    text = "银行卡4111111111111112已冻结"
    assert scrub_narrative(text, []) == text


def test_known_values_are_replaced_longest_first_with_a_placeholder_by_kind() -> None:
    text = "张三丰的儿子张三住在江北区建新北路88号，身份证110105194912310021有误"
    scrubbed = scrub_narrative(
        text, ["张三", "张三丰", "江北区建新北路88号", "110105194912310021", ""]
    )
    assert scrubbed == "[姓名]的儿子[姓名]住在[已隐去]，身份证[已隐去]有误"


def test_a_placeholder_is_never_rescanned_for_known_values() -> None:
    assert scrub_narrative("李四说", ["李四", "姓名"]) == "[姓名]说"


def test_a_known_id_is_matched_whatever_the_case_of_its_x() -> None:
    assert scrub_narrative(f"证号{RID.lower()}", [RID]) == "证号[身份证号]"


@st.composite
def narratives(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A narrative mixing Chinese filler, identifiers in their written forms, and the record's
    own names and address (Faker zh_CN); every digit in it belongs to an identifier."""
    f = fake(draw(seeds))
    known = [str(f.name()), str(f.name()), str(f.address())]
    pieces = draw(
        st.lists(
            st.one_of(
                written_resident_ids(),
                written_mobiles(),
                written_bank_cards(),
                st.sampled_from(known),
            ),
            min_size=1,
            max_size=6,
        )
    )
    # At least one character between pieces that is neither a digit nor a separator, or two
    # numbers would run together into one that is neither.
    glue = st.builds(lambda a, han, b: a + han + b, filler, HAN, filler)
    text = draw(filler)
    for piece in pieces:
        text += piece + draw(glue)
    return text, known


@given(narratives())
def test_a_scrubbed_narrative_keeps_no_identifier_and_no_known_value(
    case: tuple[str, list[str]],
) -> None:
    text, known = case
    scrubbed = scrub_narrative(text, known)
    assert not ANY_DIGIT.search(scrubbed), scrubbed
    for value in known:
        assert value not in scrubbed


@st.composite
def innocent_texts(draw: st.DrawFn) -> str:
    """Chinese text with numbers too short to be an identifier, each between Chinese words."""
    digits = st.text(st.sampled_from("0123456789０１２３"), min_size=1, max_size=10)
    words = st.builds(lambda a, han, b: a + han + b, filler, HAN, filler)
    parts = draw(st.lists(st.tuples(words, digits), max_size=6))
    return draw(filler) + "".join(w + d for w, d in parts) + draw(filler)


@given(text=innocent_texts(), known=st.lists(st.text(HAN, min_size=2, max_size=4), max_size=3))
def test_text_without_identifiers_or_known_values_is_unchanged(text: str, known: list[str]) -> None:
    assume(not any(value in text for value in known))
    assert scrub_narrative(text, known) == text
