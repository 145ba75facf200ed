"""The canonical form the scrubber matches in, with a map back to the original text.

A note can write one number in many ways: full-width digits (１３８), other Unicode digits,
Chinese numerals (一三八, 幺 for one, 两 for two, the financial 壹贰叁), with spaces, dashes, dots
or slashes between the digits, or zero-width characters hidden inside. Two views are built:

* ``Normalised.text``: each character NFKC-normalised (Unicode UAX #15), letters lower-cased,
  every decimal digit and Chinese digit numeral written as an ASCII digit, zero-width and
  combining characters dropped. Known values and the structural recognisers (addresses, e-mail,
  WeChat) match here.
* ``digit_runs``: the maximal runs of digits, separators between digits removed, each with the
  places where a separator stood (a boundary a number written in groups may start or end at).
  The number recognisers work on these.

Every character of either view knows the span of the original it came from, so a replacement
removes exactly the original characters, separators included, and nothing around them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Chinese digit numerals (not 十百千万, which are place values: 三十五 is 35, not 3?5).
# 幺 is "one" read out in phone numbers; 两 is "two" in counting and some read-outs; 〇 and 零 zero.
CHINESE_DIGITS = {
    **dict.fromkeys("〇零○◯洞", "0"),
    **dict.fromkeys("一幺壹弌", "1"),
    **dict.fromkeys("二两兩贰貳弍", "2"),
    **dict.fromkeys("三叁參弎", "3"),
    **dict.fromkeys("四肆", "4"),
    **dict.fromkeys("五伍", "5"),
    **dict.fromkeys("六陆陸", "6"),
    **dict.fromkeys("七柒", "7"),
    **dict.fromkeys("八捌", "8"),
    **dict.fromkeys("九玖", "9"),
}
# Written between the digits of one number: white space, dashes, dots, slashes, commas, middle
# dots and round brackets (after NFKC, so their full-width forms are included). Not colons (a
# time, 14:30, would join the date before it), nor square brackets: they delimit the scrubber's
# own tags, which must never join the digits around them.
SEPARATORS = frozenset(" \t\n\r\f\v\u3000-‐‑‒–—―−﹣_.。·・･/\\|,，、~～()（）")
# At most this many separator characters between two digits of one number ("138 - 1234").
MAX_SEPARATOR_RUN = 3


@dataclass(frozen=True)
class DigitRun:
    """Digits (ASCII, with a final ``x`` allowed for a resident id) and their original spans."""

    digits: str
    starts: tuple[int, ...]  # original start of each digit
    ends: tuple[int, ...]  # original end of each digit
    breaks: frozenset[int]  # indices into ``digits`` where a group starts (0 and len included)


@dataclass(frozen=True)
class Normalised:
    text: str
    starts: tuple[int, ...]  # original start of each character of ``text``
    ends: tuple[int, ...]  # original end of each character of ``text``

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of ``text[start:end]`` (``end > start``)."""
        return self.starts[start], self.ends[end - 1]


_CACHE: dict[str, str] = {}
# Bound of the character caches: arbitrary input cannot grow them without limit.
_CACHE_LIMIT = 65536


class _Table(dict[int, str]):
    """``canonical_char`` by code point, for ``str.translate``: a character seen before is
    mapped in C; one not seen yet is computed (and kept, up to the bound) on first use."""

    def __missing__(self, code: int) -> str:
        result = canonical_char(chr(code))
        if len(self) < _CACHE_LIMIT:
            self[code] = result
        return result


_TABLE = _Table()
# The characters seen that are not written as exactly one character (dropped or expanded),
# whatever the caches hold; once it reaches the bound, normalise takes its slow path always.
_IRREGULAR: set[str] = set()


def canonical_char(char: str) -> str:
    """What one original character becomes in the canonical text (possibly nothing)."""
    found = _CACHE.get(char)
    if found is not None:
        return found
    out: list[str] = []
    for part in unicodedata.normalize("NFKC", char):
        category = unicodedata.category(part)
        if category in ("Cf", "Mn", "Me", "Cc") and not part.isspace():
            continue  # zero-width, joiners, combining marks, controls: invisible padding
        if category == "Nd":
            out.append(str(unicodedata.decimal(part)))
        elif part in CHINESE_DIGITS:
            out.append(CHINESE_DIGITS[part])
        elif part.isspace():
            out.append(" ")
        else:
            out.append(part.lower())
    result = "".join(out)
    if len(result) != 1 and len(_IRREGULAR) < _CACHE_LIMIT:
        _IRREGULAR.add(char)
    if len(_CACHE) < _CACHE_LIMIT:
        _CACHE[char] = result
    return result


def normalise(text: str) -> Normalised:
    n = len(text)
    canon = text.translate(_TABLE)  # classifies every character of ``text`` (``_IRREGULAR``)
    if len(canon) == n and len(_IRREGULAR) < _CACHE_LIMIT and _IRREGULAR.isdisjoint(text):
        # The common case: every character written as exactly one.
        return Normalised(canon, tuple(range(n)), tuple(range(1, n + 1)))
    mapped = [canonical_char(c) for c in text]
    starts: list[int] = []
    ends: list[int] = []
    for index, part in enumerate(mapped):
        starts += [index] * len(part)
        ends += [index + 1] * len(part)
    return Normalised("".join(mapped), tuple(starts), tuple(ends))


def canonical(text: str) -> str:
    """The canonical text of ``text``, without the position map (each character as
    ``canonical_char`` writes it)."""
    return text.translate(_TABLE)


_SEPARATOR_CLASS = "[" + re.escape("".join(sorted(SEPARATORS))) + "]"
_RUN = re.compile(
    rf"[0-9](?:{_SEPARATOR_CLASS}{{0,{MAX_SEPARATOR_RUN}}}[0-9])*"
    rf"(?:{_SEPARATOR_CLASS}{{0,{MAX_SEPARATOR_RUN}}}x)?"
)
# Shorter runs hold no identifier and are never removed in doubt: not worth a closer look.
_SHORTEST_RUN = 10


def digit_runs(norm: Normalised) -> list[DigitRun]:
    """The runs of digits of ``norm`` of 10 digits or more, joined over short runs of separators
    between digits; an ``x`` after 17 digits or more is kept (the check character of a resident
    id) and ends its run."""
    return [
        run
        for found in _RUN.finditer(norm.text)
        if found.end() - found.start() >= _SHORTEST_RUN
        and len((run := _run_of(norm, found.start(), found.end(), 17)).digits) >= _SHORTEST_RUN
    ]


def digit_groups(norm: Normalised) -> list[tuple[int, int, DigitRun]]:
    """Every run of digits of ``norm``, however short, with where it starts and ends in
    ``norm.text``: the pieces a number split by words ("前三位138，中间1234") is written in. An
    ``x`` after a run is kept whatever its length (the last piece of a resident id)."""
    return [
        (found.start(), found.end(), _run_of(norm, found.start(), found.end(), 0))
        for found in _RUN.finditer(norm.text)
    ]


def _run_of(norm: Normalised, begin: int, finish: int, x_after: int) -> DigitRun:
    """The digits of ``norm.text[begin:finish]`` (a match of ``_RUN``) with their spans; a
    final ``x`` only after ``x_after`` digits or more."""
    text = norm.text
    digits: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    breaks = {0}
    previous = begin - 1
    for index in range(begin, finish):
        char = text[index]
        if char == "x" and len(digits) < x_after:
            break
        if "0" <= char <= "9" or char == "x":
            if index != previous + 1:
                breaks.add(len(digits))
            digits.append(char)
            starts.append(norm.starts[index])
            ends.append(norm.ends[index])
            previous = index
    breaks.add(len(digits))
    return DigitRun("".join(digits), tuple(starts), tuple(ends), frozenset(breaks))
