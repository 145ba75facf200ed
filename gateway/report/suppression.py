"""Small-cell suppression: a count from 1 to 4 is shown as "<5", so the report cannot single
anyone out; amounts and medians resting on fewer than 5 records are withheld (None).

Zero is shown as 0: an empty cell names nobody. Known limit: no complementary suppression, so a
total and all but one of its parts could still give the hidden part away; the report therefore
gives totals only where each part is shown or the total itself is at least 5 with parts hidden.
"""

from __future__ import annotations

THRESHOLD = 5
SUPPRESSED = "<5"


def shown(count: int) -> int | str:
    """``count`` as the report shows it."""
    return SUPPRESSED if 0 < count < THRESHOLD else count


def withheld_unless(records: int, value: float | int) -> float | int | None:
    """``value`` when it rests on at least ``THRESHOLD`` records, else None (withheld)."""
    return value if records >= THRESHOLD else None
