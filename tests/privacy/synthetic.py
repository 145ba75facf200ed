"""Synthetic people for the privacy tests (Faker zh_CN; never real people) and hypothesis
strategies built on them. Faker is seeded from hypothesis, so failures shrink and replay."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from faker import Faker
from hypothesis import strategies as st
from stdnum import luhn

from gateway.keys import KeyRing
from gateway.privacy.scrub.normalise import CHINESE_DIGITS
from gateway.synthetic import NUMBER_FORMS, bank_card, mobile_number, resident_id, written_number

# A fixed master key: tests are reproducible and the key is obviously not a deployment's.
TEST_MASTER = bytes(range(32))
KEYS = KeyRing(TEST_MASTER)

_FAKE = Faker("zh_CN")
FULL_WIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")

# Chinese filler without digits, so that every digit in a generated narrative is an identifier:
# no Chinese numerals either (the scrubber reads 一三八 as 138), nor the characters that make an
# address (路, 号, 栋...) or introduce a WeChat id, which the scrubber removes by structure.
_NOT_FILLER = frozenset(
    "".join(CHINESE_DIGITS) + "十百千万"  # every numeral the scrubber reads as a digit
    "路街巷弄号栋幢座单元楼层室户门组社道"  # address units
    "微威薇信"  # WeChat
)
HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5).filter(
    lambda c: c not in _NOT_FILLER
)
FILLER_CHARS = st.one_of(HAN, st.sampled_from(list("，。、；：！？（）“”《》 -abcXYZx")))
filler = st.text(FILLER_CHARS, max_size=12)


def fake(seed: int) -> Faker:
    _FAKE.seed_instance(seed)
    return _FAKE


seeds = st.integers(min_value=0, max_value=2**32 - 1)


@st.composite
def resident_ids(draw: st.DrawFn) -> str:
    return str(fake(draw(seeds)).ssn())


@st.composite
def mobiles(draw: st.DrawFn) -> str:
    """A mainland mobile number, plain (13812345678)."""
    second = draw(st.sampled_from("3456789"))
    rest = draw(st.text(st.sampled_from("0123456789"), min_size=9, max_size=9))
    return f"1{second}{rest}"


@st.composite
def bank_cards(draw: st.DrawFn) -> str:
    """A 16-19 digit card number with a valid Luhn check digit."""
    length = draw(st.integers(min_value=16, max_value=19))
    body = draw(st.text(st.sampled_from("0123456789"), min_size=length - 1, max_size=length - 1))
    return body + luhn.calc_check_digit(body)


@st.composite
def written_resident_ids(draw: st.DrawFn) -> str:
    """A resident id as people write it: plain, lower-case x, grouped 6-8-4, or full-width."""
    rid = draw(resident_ids())
    form = draw(st.sampled_from(["plain", "lower", "grouped", "full-width"]))
    if form == "lower":
        return rid.lower()
    if form == "grouped":
        return f"{rid[:6]} {rid[6:14]} {rid[14:]}"
    if form == "full-width":
        return rid.translate(FULL_WIDTH)
    return rid


@st.composite
def written_mobiles(draw: st.DrawFn) -> str:
    """A mobile as people write it: with or without +86/86, spaced or dashed 3-4-4."""
    number = draw(mobiles())
    prefix = draw(st.sampled_from(["", "+86", "+86 ", "86", "86-"]))
    sep = draw(st.sampled_from(["", " ", "-"]))
    return prefix + number[:3] + sep + number[3:7] + sep + number[7:]


@st.composite
def written_bank_cards(draw: st.DrawFn) -> str:
    card = draw(bank_cards())
    if draw(st.booleans()):
        return " ".join(card[i : i + 4] for i in range(0, len(card), 4))
    return card


@st.composite
def obfuscated_numbers(draw: st.DrawFn, digits: str) -> str:
    """``digits`` in one of the forms of ``gateway.synthetic.written_number`` (groups, full-width,
    Chinese numerals, mixed, zero-width, random splits), drawn by hypothesis."""
    form = draw(st.sampled_from(NUMBER_FORMS))
    return written_number(digits, random.Random(draw(seeds)), form)


@st.composite
def synthetic_people(draw: st.DrawFn) -> dict[str, Any]:
    """A record with a GB 11643 resident id, a mobile, a bank card, a street address and two
    relatives, its numbers drawn with ``gateway.synthetic``'s generators."""
    rng = random.Random(draw(seeds))
    f = fake(draw(seeds))
    born = date(1930, 1, 1) + timedelta(days=rng.randrange(365 * 90))
    male = rng.random() < 0.5
    road = f"{rng.choice(('石子山路', '建新北路', '郭家沱路', '鱼嘴大道'))}{rng.randint(1, 399)}号"
    road += (
        f"{rng.randint(1, 30)}栋{rng.randint(1, 4)}单元{rng.randint(1, 33)}{rng.randint(1, 6):02d}"
    )
    return {
        "resident_id": resident_id(born, male, rng),
        "name": str(f.name()),
        "phone": mobile_number(rng),
        "bank_card": bank_card(rng),
        "address": f"重庆市江北区大石坝街道南桥社区{road}",
        "street": "大石坝街道",
        "community": "南桥社区",
        "road": road,
        "relatives": [
            {"name": str(f.name()), "relationship": "配偶"},
            {"name": str(f.name()), "relationship": "儿子"},
        ],
    }


def make_record(seed: int) -> dict[str, Any]:
    """A case record with the source field names of ``gateway.privacy.transform``."""
    f = fake(seed)
    rid = str(f.ssn())
    name = str(f.name())
    spouse = str(f.name())
    return {
        "resident_id": rid,
        "name": name,
        "phone": str(f.phone_number()),
        "address": str(f.address()),
        "street": "观音桥街道",
        "community": "建新东路社区",
        "birth_date": f"{rid[6:10]}-{rid[10:12]}-{rid[12:14]}",
        "sex": "male" if int(rid[16]) % 2 else "female",
        "household_size": f.random_int(1, 6),
        "monthly_income": f.random_int(0, 500_000),
        "hardship_types": ["illness"],
        "special_groups": ["elderly"],
        "severity": "high",
        "needs": ["cash", "visits"],
        "assistance_status": "minimum-living",
        "health_condition": "尿毒症，每周透析三次",
        "disability": "肢体残疾二级",
        "narrative": (
            f"{name}（身份证{rid}）与配偶{spouse}同住，联系电话{f.phone_number()}。"
            f"{spouse}去年确诊肺癌，家中积蓄已用尽。"
        ),
        "relatives": [{"name": spouse, "relationship": "spouse"}],
    }
