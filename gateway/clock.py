"""The one clock of the gateway: integer nanoseconds since the Unix epoch (UTC).

Policies receive times as integer nanoseconds (regopy's RFC 3339 parsing is unreliable), the
store keeps them as integers, and tests substitute a ``FixedClock`` to pin boundaries exactly.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Protocol

NS_PER_SECOND = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_SECOND


class Clock(Protocol):
    def now_ns(self) -> int: ...


class SystemClock:
    def now_ns(self) -> int:
        return time.time_ns()


class FixedClock:
    """A clock that only moves when told to; for tests."""

    def __init__(self, now_ns: int) -> None:
        self._now = now_ns

    def now_ns(self) -> int:
        return self._now

    def set(self, now_ns: int) -> None:
        self._now = now_ns

    def advance(self, ns: int) -> None:
        self._now += ns


def to_datetime(ns: int) -> datetime:
    # Integer arithmetic: a float of ~1.8e18 ns is only good to ~240 ns.
    seconds, rest = divmod(ns, NS_PER_SECOND)
    return datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=rest // 1000)


def from_datetime(value: datetime) -> int:
    if value.tzinfo is None:
        raise ValueError("naive datetime: give a timezone")
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * NS_PER_SECOND + delta.microseconds * 1000


def to_date(ns: int) -> date:
    """The calendar date in China Standard Time (UTC+8), where the people and offices are."""
    return datetime.fromtimestamp(ns // NS_PER_SECOND + 8 * 3600, tz=UTC).date()


def iso(ns: int) -> str:
    return to_datetime(ns).isoformat().replace("+00:00", "Z")
