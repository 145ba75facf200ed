"""Scrubbing of free-text Chinese case notes (DESIGN.md "Privacy transforms").

A note is first normalised (``normalise``: NFKC, Chinese numerals and other digits as ASCII
digits, separators between digits set aside, with a map back to the original characters). Then,
in the normalised text:

1. every known value of the record (``known``: names, resident id, phones, address and its
   parts, community, ...) is found, also when written with separators, in full-width or in
   Chinese numerals, and tagged with the role it has in the record (``[申请人]``, ``[家属1]``,
   ``[身份证号]``, ``[社区]``, ...);
2. the recognisers find what the record did not list: resident ids, mobile and landline numbers,
   bank cards (``numbers``), street addresses, e-mail, WeChat and QQ ids (``structure``); a long
   number none of them can place is removed in doubt (``[号码]``); a number written in pieces
   with words between them is found by joining its pieces (``numbers.across_words``).

Every span found maps back to the original text; overlapping spans are merged and each is
replaced once by its tag, so a tag is never rescanned, and scrubbing a scrubbed note changes
nothing. Text with nothing to remove comes back unchanged, character for character.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.privacy.scrub import numbers, structure, tags
from gateway.privacy.scrub.known import KnownValue, address_parts, known_values
from gateway.privacy.scrub.normalise import (
    SEPARATORS,
    Normalised,
    canonical,
    digit_groups,
    digit_runs,
    normalise,
)

__all__ = ["KnownValue", "address_parts", "known_values", "scrub_narrative", "tags"]

# Known values come first: their tag (the role in the record) wins over a recogniser's.
# Of overlapping spans of one length, the lowest rank's tag stands: a known value's, then an
# identifier joined from pieces (more than a piece alone could be read as), then a recogniser's.
_KNOWN, _PIECES, _RECOGNISED = 0, 1, 2
# A known value of fewer characters would remove too much ordinary text wherever it occurs.
_MIN_KNOWN_LENGTH = 2
_PHONES = frozenset({tags.MOBILE, tags.LANDLINE})
_WITHOUT_SEPARATORS = {ord(c): None for c in SEPARATORS}


def scrub_narrative(text: str, known: Iterable[KnownValue | str] = ()) -> str:
    """``text`` with every known value and every recognised identifier replaced by a tag.

    ``known`` gives the record's values with their tags (``known_values(record)``); a bare
    string is tagged by what it is recognised as, or ``[已隐去]``."""
    norm = normalise(text)
    spans: list[tuple[int, int, int, str]] = []  # (start, end, rank, tag), original offsets
    forms = _known_forms(known)
    if forms:
        spans += _known_spans(norm, forms)
    for start, end, tag in structure.find(norm.text):
        if end > start:
            spans.append((*norm.span(start, end), _RECOGNISED, tag))
    for run in digit_runs(norm):
        for found in numbers.identify(run):
            start, end = run.starts[found.start], run.ends[found.end - 1]
            if found.tag in _PHONES:
                start = _with_plus(text, start)
            spans.append((start, end, _RECOGNISED, found.tag))
    groups = digit_groups(norm)
    if len(groups) > 1:
        blocked = [
            any(s < run.ends[-1] and run.starts[0] < e for s, e, _, _ in spans)
            for _, _, run in groups
        ]
        for run, tag in numbers.across_words(norm.text, groups, blocked):
            spans.append((run.starts[0], run.ends[-1], _PIECES, tag))
    if not spans:
        return text
    return _replaced(text, spans)


def _known_forms(known: Iterable[KnownValue | str]) -> list[tuple[str, str]]:
    """``(form, tag)`` for each known value, longest first: its canonical text without
    separators, so that "王 建 国" and "138-1381-3632" are found as the values they write."""
    by_form: dict[str, str] = {}
    for value in known:
        text, tag = (value.text, value.tag) if isinstance(value, KnownValue) else (value, "")
        form = canonical(str(text)).translate(_WITHOUT_SEPARATORS)
        if len(form) >= _MIN_KNOWN_LENGTH and form not in by_form:
            by_form[form] = tag or _tag_of_bare(form)
    return sorted(by_form.items(), key=lambda item: len(item[0]), reverse=True)


def _known_spans(norm: Normalised, forms: list[tuple[str, str]]) -> list[tuple[int, int, int, str]]:
    """The original spans where the known values occur in the text with its separators taken
    out, longest value first; a shorter value inside a longer one found is not found again."""
    kept = [i for i, c in enumerate(norm.text) if c not in SEPARATORS]
    compact = "".join(norm.text[i] for i in kept)
    taken: list[tuple[int, int]] = []
    spans: list[tuple[int, int, int, str]] = []
    for form, tag in forms:
        at = compact.find(form)
        while at >= 0:
            end = at + len(form)
            # A known number is not found inside a longer one ("4108" in "2024108"): the
            # longer number is the recognisers' to judge. Only a digit written right beside it
            # makes it part of a longer number; across a separator ("130… 14") it is found, so
            # that a scrubbed note, where a tag now stands beside it, scrubs the same.
            first, last = kept[at], kept[end - 1]
            inside_number = (
                form[0].isdigit() and first > 0 and norm.text[first - 1].isdigit()
            ) or (
                form[-1].isdigit() and last + 1 < len(norm.text) and norm.text[last + 1].isdigit()
            )
            if not inside_number and all(end <= a or at >= b for a, b in taken):
                taken.append((at, end))
                spans.append((norm.starts[kept[at]], norm.ends[kept[end - 1]], _KNOWN, tag))
            at = compact.find(form, at + 1)
    return spans


def _with_plus(text: str, start: int) -> int:
    """``start`` moved back over the "+" of an international prefix ("+86 138...")."""
    before = start - 1
    while before >= 0 and before >= start - 2 and text[before] in " (（":
        before -= 1
    return before if before >= 0 and text[before] in "+＋" else start


def _replaced(text: str, spans: list[tuple[int, int, int, str]]) -> str:
    """``text`` with each group of overlapping spans replaced by one tag: the longest span's,
    the lowest rank's (``_KNOWN`` first) of the same length."""
    spans.sort(key=lambda s: (s[0], -s[1]))
    parts: list[str] = []
    kept_from = 0
    group_start, group_end, best = spans[0][0], spans[0][1], spans[0]
    for span in spans[1:]:
        start, end = span[0], span[1]
        if start < group_end:
            group_end = max(group_end, end)
            if (span[0] - span[1], span[2]) < (best[0] - best[1], best[2]):
                best = span
            continue
        parts += [text[kept_from:group_start], best[3]]
        kept_from = group_end
        group_start, group_end, best = start, end, span
    parts += [text[kept_from:group_start], best[3], text[group_end:]]
    return "".join(parts)


def _tag_of_bare(form: str) -> str:
    """The tag of a known value given without its role: what the recognisers make of it."""
    if numbers.is_resident_id(form) or numbers.is_legacy_resident_id(form):
        return tags.RESIDENT_ID
    if form.isdigit():
        return numbers.mobile_tag(form) or tags.UNPLACED_NUMBER
    return tags.REDACTED
