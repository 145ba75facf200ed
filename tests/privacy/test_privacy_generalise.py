"""Generalisation of quasi-identifiers, display masks, and the k-anonymity of a release set."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.privacy.generalise import (
    DISABILITY_CATEGORIES,
    HEALTH_CATEGORIES,
    age_band,
    area,
    disability_category,
    health_category,
    income_band,
    k_anonymity,
    mask,
)

from .synthetic import fake, resident_ids, seeds

ON = date(2025, 6, 15)


def _born_years_ago(years: int, days_more: int = 0) -> date:
    return ON.replace(year=ON.year - years) - timedelta(days=days_more)


@pytest.mark.parametrize(
    ("years", "band"),
    [
        (0, "0-5"),
        (5, "0-5"),
        (6, "6-13"),
        (13, "6-13"),
        (14, "14-17"),
        (17, "14-17"),
        (18, "18-19"),
        (20, "20-29"),
        (45, "40-49"),
        (79, "70-79"),
        (80, "80+"),
        (103, "80+"),
    ],
)
def test_age_bands_are_finer_for_minors_and_open_above_80(years: int, band: str) -> None:
    assert age_band(_born_years_ago(years), ON) == band


def test_the_age_band_turns_on_the_birthday_not_before() -> None:
    assert age_band(_born_years_ago(14) + timedelta(days=1), ON) == "6-13"
    assert age_band(_born_years_ago(14), ON) == "14-17"


def test_band_width_is_a_parameter_and_bands_stop_below_80() -> None:
    assert age_band(_born_years_ago(47), ON, width=5) == "45-49"
    assert age_band(_born_years_ago(77), ON, width=15) == "75-79"
    assert age_band(_born_years_ago(31), ON, width=15) == "30-44"


def test_a_birth_date_after_the_reference_date_is_refused() -> None:
    with pytest.raises(ValueError, match="on or before"):
        age_band(ON + timedelta(days=1), ON)


@given(
    born=st.dates(min_value=date(1900, 1, 1), max_value=ON),
    width=st.integers(min_value=1, max_value=30),
)
def test_the_age_band_contains_the_age(born: date, width: int) -> None:
    age = ON.year - born.year - ((ON.month, ON.day) < (born.month, born.day))
    band = age_band(born, ON, width)
    if band == "80+":
        assert age >= 80
    else:
        low, high = map(int, band.split("-"))
        assert low <= age <= high
        assert (age < 18) == (high < 18)


def test_area_is_the_street_or_the_street_and_its_community() -> None:
    assert area("观音桥街道", "建新东路社区", "street") == "观音桥街道"
    assert area("观音桥街道", "建新东路社区", "community") == "观音桥街道建新东路社区"
    with pytest.raises(ValueError, match="expected a community"):
        area("观音桥街道", None, "community")
    with pytest.raises(ValueError, match="found 'building'"):
        area("观音桥街道", "建新东路社区", "building")


@pytest.mark.parametrize(
    ("income", "band"),
    [
        (0, "below-line"),
        (239_999, "below-line"),
        (240_000, "1-1.5x-line"),
        (359_999, "1-1.5x-line"),
        (360_000, "1.5-2x-line"),
        (479_999, "1.5-2x-line"),
        (480_000, "above-2x-line"),
    ],
)
def test_income_is_banded_per_person_against_the_minimum_living_line(
    income: int, band: str
) -> None:
    # A household of 3 against a line of 800 yuan (80,000 fen) per person: 2,400 yuan in all.
    assert income_band(income, 3, 80_000) == band


def test_income_bands_refuse_impossible_households() -> None:
    with pytest.raises(ValueError, match="at least 1 person, found 0"):
        income_band(100_000, 0, 80_000)
    with pytest.raises(ValueError, match="negative"):
        income_band(-1, 2, 80_000)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("肺癌晚期，化疗中", "cancer"),
        ("急性白血病", "cancer"),
        ("右肾肿瘤术后", "cancer"),
        ("尿毒症，每周透析三次", "kidney-failure"),
        ("慢性肾衰竭", "kidney-failure"),
        ("冠心病、高血压", "cardiovascular"),
        ("脑梗后遗症，行动不便", "stroke"),
        ("中风偏瘫", "stroke"),
        ("重度抑郁", "mental-health"),
        ("精神分裂症", "mental-health"),
        ("2型糖尿病", "diabetes"),
        ("渐冻症（肌萎缩侧索硬化）", "other"),
        ("戈谢病", "other"),
        ("无", "none"),
    ],
)
def test_health_conditions_fall_into_a_closed_set_of_categories(text: str, category: str) -> None:
    assert health_category(text) == category


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("肢体残疾二级", "physical"),
        ("双目失明", "visual"),
        ("视力残疾一级", "visual"),
        ("先天性耳聋", "hearing"),
        ("听力残疾三级", "hearing"),
        ("智力残疾", "intellectual"),
        ("精神残疾二级", "mental-health"),
        ("言语残疾", "speech"),
        ("多重残疾（肢体、视力）", "multiple"),
        ("罕见的骨骼发育异常", "other"),
    ],
)
def test_disabilities_fall_into_a_closed_set_of_categories(text: str, category: str) -> None:
    assert disability_category(text) == category


@given(st.text(max_size=40))
def test_any_description_becomes_a_category_never_the_text(text: str) -> None:
    assert health_category(text) in HEALTH_CATEGORIES
    assert disability_category(text) in DISABILITY_CATEGORIES


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张小明", "张**"), ("李娜", "李*"), ("欧阳娜娜", "欧阳**"), ("欧阳", "欧*")],
)
def test_names_keep_only_the_surname(name: str, masked: str) -> None:
    assert mask("name", name) == masked


@pytest.mark.parametrize(
    "phone", ["13812345678", "138 1234 5678", "+86 138-1234-5678", "+8613812345678"]
)
def test_mobiles_keep_the_first_three_and_last_four_digits(phone: str) -> None:
    assert mask("phone", phone) == "138****5678"


def test_addresses_keep_the_street_part_and_no_number() -> None:
    assert mask("address", "重庆市江北区建新北路88号3栋2单元501") == "重庆市江北区建新北路****"
    assert mask("address", "江北区观音桥街道") == "江北区观音桥街道****"
    assert mask("address", "88号院3栋") == "****"


@given(seed=seeds)
def test_masked_addresses_never_keep_a_digit(seed: int) -> None:
    masked = mask("address", str(fake(seed).address()))
    assert masked.endswith("****")
    assert not re.search(r"\d", masked)


@given(rid=resident_ids())
def test_a_masked_resident_id_shows_the_region_code_only(rid: str) -> None:
    masked = mask("resident_id", rid)
    assert masked == rid[:6] + "*" * 12


def test_fields_without_a_mask_are_refused() -> None:
    with pytest.raises(ValueError, match="found 'narrative'"):
        mask("narrative", "任意文本")


def test_k_anonymity_is_the_smallest_class_size() -> None:
    rows = [
        {"age_band": "40-49", "area": "观音桥街道", "sex": "female"},
        {"age_band": "40-49", "area": "观音桥街道", "sex": "female"},
        {"age_band": "40-49", "area": "观音桥街道", "sex": "male"},
        {"age_band": "60-69", "area": "华新街街道", "sex": "male"},
        {"age_band": "60-69", "area": "华新街街道", "sex": "male"},
    ]
    assert k_anonymity(rows, ["age_band", "area", "sex"]) == 1
    assert k_anonymity(rows, ["age_band", "area"]) == 2
    assert k_anonymity(rows, []) == 5
    assert k_anonymity([], ["age_band"]) == 0


def test_k_anonymity_handles_lists_and_missing_values() -> None:
    rows = [
        {"needs": ["cash", "visits"]},
        {"needs": ["cash", "visits"]},
        {},
        {"needs": None},
    ]
    assert k_anonymity(rows, ["needs"]) == 2


@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {"a": st.sampled_from(["0-5", "6-13", "40-49"]), "s": st.sampled_from(["m", "f"])}
        ),
        min_size=1,
        max_size=30,
    ),
    copies=st.integers(min_value=1, max_value=4),
)
def test_k_grows_with_copies_and_never_exceeds_the_rows(
    rows: list[dict[str, str]], copies: int
) -> None:
    k = k_anonymity(rows, ["a", "s"])
    assert 1 <= k <= len(rows)
    assert k_anonymity(rows * copies, ["a", "s"]) == k * copies
