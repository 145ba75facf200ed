"""Recognisers for the numbers that identify a person, on the digit runs of a normalised note.

* resident ids: 18 characters with the GB 11643-1999 / ISO 7064 MOD 11-2 check character and a
  real birth date (``stdnum.cn.ric``), and the 15-digit form issued before 1999 (region, YYMMDD,
  sequence; no check digit) with a plausible province code and birth date;
* mobile numbers: 11 digits, optionally after 86 or 0086, that ``phonenumbers`` (Google's
  libphonenumber metadata) accepts as a mainland mobile; landlines with their area code the same
  way;
* bank cards: 13 to 19 digits passing the Luhn check (ISO/IEC 7812, ``stdnum.luhn``).

A number written in groups may start and end only where a group does (``138 1234 5678 2026``
holds a mobile, not ``3812345678 2``). Whatever is left of a run that is 11 digits or longer is
removed as a number the scrubber cannot place: failing a checksum does not make it safe (an id
with one digit mistyped still names its person).

A number can also be written in pieces with a few words between them (``前三位138，中间1234，后四位
5678``): ``across_words`` joins up to six neighbouring pieces and removes each piece of what
together is a resident id, a phone number or a UnionPay card (62…, with its Luhn digit).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import phonenumbers
from stdnum import luhn
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from gateway.privacy.scrub.normalise import DigitRun
from gateway.privacy.scrub.tags import (
    BANK_CARD,
    LANDLINE,
    MOBILE,
    RESIDENT_ID,
    UNPLACED_NUMBER,
)

# The longest identifier a window is tried for, and the shortest run removed in doubt.
_LONGEST = 19
DOUBTFUL_LENGTH = 11
# GB/T 2260 province-level codes: the first two digits of every resident id.
_PROVINCES = frozenset(
    ("11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
     "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
     "65", "71", "81", "82", "83", "91")
)  # fmt: skip


@dataclass(frozen=True)
class Found:
    start: int  # index into the run's digits
    end: int
    tag: str


def is_resident_id(candidate: str) -> bool:
    """An 18-character id whose check character and birth date hold. The region is checked only
    for its province: ``ric.is_valid`` looks the county up in python-stdnum's table, and ids under
    codes missing there (abolished counties, new ones) would then pass through unscrubbed."""
    candidate = candidate.upper()
    if len(candidate) != 18 or not candidate[:17].isdigit() or candidate[:2] not in _PROVINCES:
        return False
    if ric.calc_check_digit(candidate) != candidate[17]:
        return False
    try:
        ric.get_birth_date(candidate)
    except ValidationError:
        return False
    return True


def is_legacy_resident_id(candidate: str) -> bool:
    """A 15-digit id (issued before 1999): province code, a 19YYMMDD birth date, a sequence."""
    if len(candidate) != 15 or not candidate.isdigit() or candidate[:2] not in _PROVINCES:
        return False
    try:
        date(1900 + int(candidate[6:8]), int(candidate[8:10]), int(candidate[10:12]))
    except ValueError:
        return False
    return True


def mobile_tag(candidate: str) -> str | None:
    """The tag of a mainland phone number written as ``candidate`` (digits only), or None."""
    for prefix in ("0086", "86"):
        if candidate.startswith(prefix) and len(candidate) == len(prefix) + 11:
            candidate = candidate[len(prefix) :]
            break
    if len(candidate) == 11 and candidate[0] == "1" and candidate[1] in "3456789":
        return MOBILE if _is_mobile_block(candidate[:7]) else None
    if 10 <= len(candidate) <= 12 and candidate[0] == "0" and candidate[1] != "0":
        kind = _number_type(candidate)
        return LANDLINE if kind in _LANDLINE_TYPES else None
    return None


_MOBILE_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)
_LANDLINE_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)


@functools.lru_cache(maxsize=4096)
def _is_mobile_block(first_seven: str) -> bool:
    """Whether the 11-digit mobiles starting with ``first_seven`` are valid. libphonenumber's
    pattern for Chinese mobiles looks at no more than the first five digits and the length, so
    a block of ten thousand numbers shares one answer, and the parse is done once per block."""
    return _number_type(first_seven + "0000") in _MOBILE_TYPES


def _number_type(national: str) -> int | None:
    try:
        number = phonenumbers.parse(national, "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number_for_region(number, "CN"):
        return None
    return int(phonenumbers.number_type(number))


def _tag_of(window: str) -> str | None:
    length = len(window)
    if length == 18 and is_resident_id(window):
        return RESIDENT_ID
    if window[-1] == "x":
        return None
    if length == 15 and is_legacy_resident_id(window):
        return RESIDENT_ID
    if length in (10, 11, 12, 13, 15):
        tag = mobile_tag(window)
        if tag is not None:
            return tag
    if 13 <= length <= 19 and luhn.is_valid(window):
        return BANK_CARD
    return None


_PRIORITY = {RESIDENT_ID: 0, MOBILE: 1, BANK_CARD: 2, LANDLINE: 3}


def identify(run: DigitRun) -> list[Found]:
    """The identifiers in ``run`` and, for what is left, the stretches removed in doubt."""
    digits = run.digits
    if len(digits) < 10:
        return []
    breaks = sorted(run.breaks)
    candidates: list[tuple[int, int, int, str]] = []  # (-length, priority, start, tag)
    for a, start in enumerate(breaks):
        for end in breaks[a + 1 :]:
            if end - start > _LONGEST:
                break
            if end - start < 10:
                continue
            tag = _tag_of(digits[start:end])
            if tag is not None:
                candidates.append((start - end, _PRIORITY[tag], start, tag))
    # Longest first: a card split at random places can hold a valid mobile in its last eleven
    # digits, and taking that would leave the card's first eight behind.
    chosen: list[Found] = []
    for negative_length, _, start, tag in sorted(candidates):
        end = start - negative_length
        if all(end <= f.start or start >= f.end for f in chosen):
            chosen.append(Found(start, end, tag))
    chosen.sort(key=lambda f: f.start)
    found: list[Found] = []
    kept_from = 0
    for f in [*chosen, Found(len(digits), len(digits), "")]:
        if f.start - kept_from >= DOUBTFUL_LENGTH:
            found.append(Found(kept_from, f.start, UNPLACED_NUMBER))
        if f.tag:
            found.append(f)
        kept_from = f.end
    return found


# A number written in pieces: at most this many pieces, at most this many characters between
# two, in which a run of one or two digits may stand (the numerals of "后四位" are digits too).
_MOST_PIECES = 6
_MOST_BETWEEN = 10
_SKIPPABLE = 2


def across_words(
    text: str, groups: Sequence[tuple[int, int, DigitRun]], blocked: Sequence[bool]
) -> list[tuple[DigitRun, str]]:
    """The pieces of identifiers written across words in ``text`` (a normalised note), each with
    the identifier's tag. ``groups`` are its runs of digits in order (``digit_groups``); two to
    ``_MOST_PIECES`` of them, each no more than ``_MOST_BETWEEN`` characters after the one
    before, with only runs of one or two digits between, form a candidate when their digits
    together are an identifier; the longest candidates are taken first. A run ``blocked``
    (already removed by another recogniser) may be a piece, so that the pieces left beside it
    are removed too; it is returned with the rest, so that the identifier's tag and its whole
    piece (a final ``x`` the run recogniser left) replace the narrower reading. A scrubber's
    tag between two runs ends a candidate, so a scrubbed note scrubs the same."""
    candidates: list[tuple[int, int, int, tuple[int, ...], str]] = []

    def extend(pieces: tuple[int, ...], digits: str) -> None:
        end = groups[pieces[-1]][1]
        for later in range(pieces[-1] + 1, len(groups)):
            between = text[end : groups[later][0]]
            if len(between) > _MOST_BETWEEN or "[" in between or "]" in between:
                return
            joined = digits + groups[later][2].digits
            if len(joined) <= _LONGEST and not counts[later]:
                tag = _tag_of_pieces(joined, len(groups[pieces[0]][2].digits))
                if tag is not None:
                    candidates.append((-len(joined), pieces[0], later, (*pieces, later), tag))
                if len(pieces) + 1 < _MOST_PIECES:
                    extend((*pieces, later), joined)
            if len(groups[later][2].digits) > _SKIPPABLE:
                return

    # A run right before 位 counts digits ("后四位", "前3位"): a word between pieces, not one.
    counts = [text.startswith("位", end) for _, end, _ in groups]
    for first in range(len(groups)):
        if not counts[first]:
            extend((first,), groups[first][2].digits)
    taken: list[tuple[int, int]] = []
    found: list[tuple[DigitRun, str]] = []
    for _, first, last, pieces, tag in sorted(candidates):
        if all(blocked[i] for i in pieces):
            continue
        if all(last < a or first > b for a, b in taken):
            taken.append((first, last))
            found += [(groups[i][2], tag) for i in pieces]
    return found


def _tag_of_pieces(digits: str, first: int) -> str | None:
    """The tag of ``digits`` joined from pieces (``first``: the first piece's length), or None.
    Narrower than one run's (``_tag_of``), since a note's dates and sums are pieces too: a bank
    card only with the UnionPay prefix (any 16 digits pass Luhn one time in ten), a landline
    only when its first piece holds at least its area code (not a month's "05")."""
    if len(digits) == 18 and is_resident_id(digits):
        return RESIDENT_ID
    if "x" in digits:
        return None
    if len(digits) == 15 and is_legacy_resident_id(digits):
        return RESIDENT_ID
    tag = mobile_tag(digits)
    if tag == MOBILE or (tag == LANDLINE and first >= 3):
        return tag
    # Eleven digits shaped like a mobile whose first piece holds its network prefix: a block
    # libphonenumber does not know yet (as one run it would go as [号码]) is removed as well.
    if len(digits) == 11 and digits[0] == "1" and digits[1] in "3456789" and first >= 3:
        return MOBILE
    if 16 <= len(digits) <= 19 and digits.startswith("62") and luhn.is_valid(digits):
        return BANK_CARD
    return None
