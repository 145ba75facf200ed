"""Scrubbing of free-text Chinese case narratives (DESIGN.md "Privacy transforms").

Two passes. First every known value of the record (the person's name, relatives' names, resident
id, phone, address, ...) is replaced, longest first and in a single pass so a placeholder is
never rescanned. Then recognisers catch what the record did not list:

* resident ids: 18 characters (optionally grouped 6-8-4), the last a digit or X, accepted when
  the GB 11643 / ISO 7064 MOD 11-2 check character and the birth date hold (``stdnum.cn.ric``);
* mainland mobile numbers: 1[3-9] and nine more digits, optionally +86/86 and spaces or dashes
  in the 3-4-4 grouping;
* bank card numbers: 16-19 digits (optionally in groups of four) passing Luhn (``stdnum.luhn``).

There is no ``\\b`` between a Chinese character and a digit ("电话13812345678" is one word to the
regex engine), so every recogniser bounds its digits with lookarounds instead. Full-width digits
(０-９), common in Chinese text, count as digits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from stdnum import luhn
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

RESIDENT_ID_PLACEHOLDER = "[身份证号]"
MOBILE_PLACEHOLDER = "[手机号]"
BANK_CARD_PLACEHOLDER = "[银行卡号]"
NAME_PLACEHOLDER = "[姓名]"
REDACTED_PLACEHOLDER = "[已隐去]"

_D = "[0-9０-９]"
_SEP = "[ -]?"
# An id ending in X is bounded by the X itself, even when digits follow (an id run into a phone).
_RESIDENT_ID = re.compile(
    rf"(?<!{_D}){_D}{{6}}{_SEP}{_D}{{8}}{_SEP}{_D}{{3}}(?:[XxＸｘ]|{_D}(?!{_D}))"
)
_MOBILE = re.compile(
    rf"(?<![0-9０-９+＋])(?:[+＋]?[8８][6６]{_SEP})?"
    rf"[1１][3-9３-９]{_D}(?:{_SEP}{_D}{{4}}){{2}}(?!{_D})"
)
_BANK_CARD = re.compile(
    rf"(?<!{_D}){_D}{{4}}(?:{_SEP}{_D}{{4}}){{3}}(?:{_SEP}{_D}{{1,3}})?(?!{_D})"
)
_TO_ASCII = str.maketrans("０１２３４５６７８９Ｘｘ＋", "0123456789XX+")
_NOISE = re.compile(r"[\s\-]")
_PERSON_NAME = re.compile(r"[\u3400-\u9fff]{2,4}|[\u3400-\u9fff]+·[\u3400-\u9fff]+")
_PLAIN_MOBILE = re.compile(r"(?:\+?86)?1[3-9]\d{9}")


def scrub_narrative(text: str, known_values: Iterable[str]) -> str:
    """``text`` with every known value and every recognised identifier replaced by a
    placeholder; text containing none of them is returned unchanged."""
    return _scrub_patterns(_scrub_known(text, known_values))


def _scrub_known(text: str, known_values: Iterable[str]) -> str:
    values = sorted({v.strip() for v in known_values if v and v.strip()}, key=len, reverse=True)
    if not values:
        return text
    # One alternation, longest first: "张三丰" is replaced before "张三" can split it, and a
    # placeholder already written is never matched again. IGNORECASE: the id's x or X.
    alternation = re.compile("|".join(re.escape(v) for v in values), re.IGNORECASE)
    return alternation.sub(lambda found: _placeholder_for(found.group()), text)


def _scrub_patterns(text: str) -> str:
    text = _replace_valid(_RESIDENT_ID, text, _is_resident_id, RESIDENT_ID_PLACEHOLDER)
    text = _replace_valid(_BANK_CARD, text, luhn.is_valid, BANK_CARD_PLACEHOLDER)
    return _MOBILE.sub(MOBILE_PLACEHOLDER, text)


def _replace_valid(
    pattern: re.Pattern[str], text: str, is_valid: Callable[[str], bool], placeholder: str
) -> str:
    """Replace the matches of ``pattern`` whose digits pass ``is_valid``; after a match that
    fails, look again from its next character rather than past it."""
    parts: list[str] = []
    kept_from = 0
    found = pattern.search(text)
    while found:
        if is_valid(_digits(found.group())):
            parts += [text[kept_from : found.start()], placeholder]
            kept_from = found.end()
            found = pattern.search(text, found.end())
        else:
            found = pattern.search(text, found.start() + 1)
    parts.append(text[kept_from:])
    return "".join(parts)


def _placeholder_for(value: str) -> str:
    if _is_resident_id(_digits(value)):
        return RESIDENT_ID_PLACEHOLDER
    if _PLAIN_MOBILE.fullmatch(_digits(value)):
        return MOBILE_PLACEHOLDER
    if _PERSON_NAME.fullmatch(value):
        return NAME_PLACEHOLDER
    return REDACTED_PLACEHOLDER


def _is_resident_id(candidate: str) -> bool:
    """Check character and birth date, not the region: ``ric.is_valid`` also looks the region
    code up in python-stdnum's table, and ids issued under codes missing there (abolished
    counties, Faker's inventions) would then pass through unscrubbed."""
    if len(candidate) != 18 or not candidate[:17].isdigit():
        return False
    if ric.calc_check_digit(candidate) != candidate[17]:
        return False
    try:
        ric.get_birth_date(candidate)
    except ValidationError:
        return False
    return True


def _digits(candidate: str) -> str:
    return _NOISE.sub("", candidate.translate(_TO_ASCII)).upper()
