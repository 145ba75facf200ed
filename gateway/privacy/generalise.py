"""Generalisation and masking of quasi-identifiers, and the k-anonymity check of a release set.

DESIGN.md "Privacy transforms": birth date → age band, address → street or community, income →
band relative to the local minimum-living line, illnesses and disabilities → a small closed set
of categories (rare ones included, so they never pass through verbatim). Masks follow the usual
Chinese display forms (张**, 138****5678). k-anonymity is Sweeney's (2002): every combination of
quasi-identifier values in a release set is shared by at least k rows.

These functions are pure; they raise ``ValueError`` on input they cannot generalise, with a
message that names what was expected and never repeats the personal value itself.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from datetime import date

AREA_LEVELS = ("street", "community")
INCOME_BANDS = ("below-line", "1-1.5x-line", "1.5-2x-line", "above-2x-line")
HEALTH_CATEGORIES = (
    "cancer",
    "kidney-failure",
    "stroke",
    "cardiovascular",
    "mental-health",
    "diabetes",
    "respiratory",
    "none",
    "other",
)
DISABILITY_CATEGORIES = (
    "multiple",
    "intellectual",
    "mental-health",
    "visual",
    "hearing",
    "speech",
    "physical",
    "none",
    "other",
)
MASKABLE_FIELDS = ("name", "phone", "address", "resident_id")

# Under 18 the bands follow what rules and programmes turn on: preschool (0-5), compulsory
# schooling before 14 (6-13; under 14 a guardian consents, PIPL Art. 31), and 14-17.
_MINOR_BANDS = ((0, 5), (6, 13), (14, 17))
_ADULT = 18
_OLDEST_BAND = 80

# Checked in order: the first category whose keyword occurs wins, so a more specific or graver
# condition is listed before a broader one (脑梗 before 心脑血管's 心, 肾癌 is cancer).
_HEALTH_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("cancer", ("癌", "肿瘤", "白血病", "淋巴瘤", "骨髓瘤", "肉瘤")),
    ("kidney-failure", ("尿毒症", "肾衰", "肾功能衰竭", "透析")),
    ("stroke", ("脑梗", "中风", "脑卒中", "脑出血", "脑溢血", "脑血栓")),
    ("cardiovascular", ("心脏", "冠心病", "心衰", "心肌", "心血管", "心脑血管", "高血压")),
    ("mental-health", ("精神", "抑郁", "分裂症", "躁郁", "双相", "焦虑")),
    ("diabetes", ("糖尿病",)),
    ("respiratory", ("慢阻肺", "肺气肿", "哮喘", "尘肺", "肺纤维化")),
)
# GB/T 26341-2010 classes of disability (视力, 听力, 言语, 肢体, 智力, 精神, 多重).
_DISABILITY_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("multiple", ("多重",)),
    ("intellectual", ("智力", "智障")),
    ("mental-health", ("精神", "自闭", "孤独症")),
    ("visual", ("视力", "盲", "失明", "低视力")),
    ("hearing", ("听力", "聋")),
    ("speech", ("言语", "语言", "哑")),
    ("physical", ("肢体", "截肢", "瘫痪", "偏瘫")),
)
# Whole answers that mean "nothing to report"; matched exactly, since 无 also begins 无法行走.
_NOTHING = frozenset({"无", "没有", "健康", "良好", "正常", "无疾病", "无残疾", "否"})

# Two-character surnames; the rest of Chinese surnames are one character.
_COMPOUND_SURNAMES = frozenset(
    {
        "欧阳",
        "司马",
        "上官",
        "诸葛",
        "东方",
        "皇甫",
        "尉迟",
        "公孙",
        "慕容",
        "长孙",
        "宇文",
        "司徒",
        "夏侯",
        "令狐",
        "轩辕",
        "端木",
        "独孤",
        "南宫",
        "西门",
        "百里",
        "呼延",
        "闻人",
        "澹台",
        "万俟",
        "申屠",
        "太史",
        "公冶",
        "濮阳",
        "淳于",
        "单于",
        "钟离",
        "宗政",
        "拓跋",
    }
)
# Where the street part of an address ends: road, street, lane, or a township-level unit.
_STREET_END = re.compile(r"大道|街道|路|街|巷|胡同|弄|镇|乡")
_DIGIT = re.compile(r"[0-9０-９]")
_PHONE_NOISE = re.compile(r"[\s\-()（）]")
_RESIDENT_ID_SHOWN = 6  # the region code; the rest carries birth date and sex


def age_band(birth_date: date, on: date, width: int = 10) -> str:
    """Age on ``on`` as a band: "0-5", "6-13", "14-17" for minors, then ``width``-year bands
    aligned to multiples of ``width`` ("40-49"), and "80+"."""
    if width < 1:
        raise ValueError(f"expected a band width of at least 1 year, found {width}")
    if birth_date > on:
        raise ValueError("expected a birth date on or before the reference date")
    age = on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))
    if age >= _OLDEST_BAND:
        return f"{_OLDEST_BAND}+"
    if age < _ADULT:
        low, high = next(band for band in _MINOR_BANDS if band[0] <= age <= band[1])
        return f"{low}-{high}"
    low = max(_ADULT, age // width * width)
    high = min(age // width * width + width - 1, _OLDEST_BAND - 1)
    return f"{low}-{high}"


def area(street: str, community: str | None, level: str) -> str:
    """The address at ``level``: "street" → the street (街道/镇) alone; "community" → the street
    followed by the community (社区/村)."""
    if not street:
        raise ValueError("expected a street to generalise an address to, found none")
    if level == "street":
        return street
    if level == "community":
        if not community:
            raise ValueError("expected a community for level 'community', found none")
        return f"{street}{community}"
    raise ValueError(f"expected an area level in {AREA_LEVELS}, found {level!r}")


def income_band(monthly_income_fen: int, household_size: int, line_fen_per_person: int) -> str:
    """The household's monthly income per person against the local minimum-living line.

    Bands, not amounts, because they are what decides help: below the line a household may
    qualify for minimum-living assistance (低保); up to 1.5x or 2x the line is how provinces
    define low-income (低收入) families, who qualify for special assistance; above 2x is neither.
    Compared in integer fen, without rounding.
    """
    if monthly_income_fen < 0:
        raise ValueError("expected a monthly income of 0 fen or more, found a negative one")
    if household_size < 1:
        raise ValueError(f"expected a household of at least 1 person, found {household_size}")
    if line_fen_per_person < 1:
        raise ValueError(
            f"expected a minimum-living line of at least 1 fen, found {line_fen_per_person}"
        )
    line = line_fen_per_person * household_size  # the line for the whole household
    if monthly_income_fen < line:
        return "below-line"
    if 2 * monthly_income_fen < 3 * line:
        return "1-1.5x-line"
    if monthly_income_fen < 2 * line:
        return "1.5-2x-line"
    return "above-2x-line"


def health_category(text: str) -> str:
    """A health condition described in free Chinese text → one of ``HEALTH_CATEGORIES``."""
    return _categorise(text, _HEALTH_KEYWORDS)


def disability_category(text: str) -> str:
    """A disability described in free Chinese text → one of ``DISABILITY_CATEGORIES``."""
    return _categorise(text, _DISABILITY_KEYWORDS)


def mask(field: str, value: str) -> str:
    """``value`` of ``field`` in its masked display form; ``field`` is one of MASKABLE_FIELDS."""
    if field == "name":
        return _mask_name(value)
    if field == "phone":
        return _mask_phone(value)
    if field == "address":
        return _mask_address(value)
    if field == "resident_id":
        return _mask_resident_id(value)
    raise ValueError(f"expected a field in {MASKABLE_FIELDS} to mask, found {field!r}")


def k_anonymity(rows: Sequence[Mapping[str, object]], quasi_identifiers: Sequence[str]) -> int:
    """The size of the smallest group of rows sharing all quasi-identifier values (0 for no
    rows). A missing value is a value of its own (None)."""
    if not rows:
        return 0
    classes = Counter(tuple(_hashable(row.get(name)) for name in quasi_identifiers) for row in rows)
    return min(classes.values())


def _categorise(text: str, keywords: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
    compact = "".join(text.split())
    if compact in _NOTHING:
        return "none"
    for category, words in keywords:
        if any(word in compact for word in words):
            return category
    # Anything unrecognised, rare illnesses included, is "other": never the text itself.
    return "other"


def surname_of(name: str) -> str:
    """The surname of a Chinese name: its first character, or two for a compound surname
    (欧阳, 诸葛, ...). A name of one character has no surname shown."""
    name = name.strip()
    length = 2 if name[:2] in _COMPOUND_SURNAMES and len(name) > 2 else 1
    return name[:length] if len(name) > length else ""


def _mask_name(name: str) -> str:
    name = name.strip()
    surname = surname_of(name)
    return surname + "*" * (len(name) - len(surname))


def _mask_phone(phone: str) -> str:
    digits = _PHONE_NOISE.sub("", phone)
    for prefix in ("+86", "0086"):
        digits = digits.removeprefix(prefix)
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if len(digits) >= 11:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    if len(digits) >= 8:
        # A landline: its last four digits only, like a bank statement.
        return "*" * (len(digits) - 4) + digits[-4:]
    return "*" * len(digits)


def _mask_address(address: str) -> str:
    address = address.strip()
    end = _STREET_END.search(address)
    kept = address[: end.end()] if end else ""
    # No house or building number survives, even one written before the street marker.
    digit = _DIGIT.search(kept)
    if digit:
        kept = kept[: digit.start()]
    return kept + "****"


def _mask_resident_id(resident_id: str) -> str:
    compact = "".join(resident_id.split())
    return compact[:_RESIDENT_ID_SHOWN] + "*" * max(len(compact) - _RESIDENT_ID_SHOWN, 0)


def _hashable(value: object) -> Hashable:
    if isinstance(value, list | tuple):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, set | frozenset):
        return frozenset(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _hashable(v)) for k, v in value.items()))
    return value
