"""The report's parts on their own: a month in China Standard Time, small-cell suppression, and
the page of an empty month."""

from __future__ import annotations

from datetime import datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest

from gateway import errors
from gateway.report.html import render_html
from gateway.report.linkage import Period
from gateway.report.suppression import shown, withheld_unless

SHANGHAI = ZoneInfo("Asia/Shanghai")


def ns(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=SHANGHAI).timestamp()) * 10**9


def test_a_month_is_taken_in_china_standard_time_and_december_ends_in_january():
    november = Period.parse("2026-11")
    assert (november.start_ns, november.end_ns) == (ns(2026, 11, 1), ns(2026, 12, 1))
    december = Period.parse(" 2026-12 ")
    assert (december.name, december.end_ns) == ("2026-12", ns(2027, 1, 1))
    # 23:30 on 30 November in Chongqing is 15:30 UTC: still November.
    assert november.holds(ns(2026, 11, 30, 23, 30)) and not november.holds(ns(2026, 12, 1))


@pytest.mark.parametrize(
    "text", ["2026-13", "2026-00", "26-11", "2026/11", "November", "", "1899-12"]
)
def test_a_period_that_is_not_a_month_is_refused_naming_the_field(text):
    with pytest.raises(errors.InvalidArgument) as info:
        Period.parse(text)
    assert info.value.field == "period" and "YYYY-MM" in info.value.message


def test_counts_from_one_to_four_are_shown_as_under_five_and_small_bases_withheld():
    assert [shown(n) for n in (0, 1, 4, 5, 17)] == [0, "<5", "<5", 5, 17]
    assert withheld_unless(4, 123.5) is None and withheld_unless(5, 123.5) == 123.5


def test_the_page_of_an_empty_month_parses_and_says_there_is_nothing():
    empty = {
        "period": "2026-11",
        "from": "2026-11-01T00:00:00+08:00",
        "until": "2026-12-01T00:00:00+08:00",
        "generated_at": "2026-12-02T00:00:00Z",
        "scope": {"streets": "district"},
        "referrals": {
            "total": 0, "by_state": {}, "by_hardship_type": {}, "by_street": {},
            "rejections_by_reason": {}, "by_charity": {}, "accepted": 0,
            "median_hours_to_accept": None, "completed": 0, "median_hours_to_complete": None,
        },
        "help": {"total": {"records": 0, "amount_yuan": None, "hours": None}, "by_kind": {}},
        "reverse_referrals": {"total": 0, "by_state": {}, "by_outcome": {}, "by_suspected_aid": {}},
        "projects": [],
    }  # fmt: skip
    page = render_html(empty)
    HTMLParser().feed(page)
    assert "2026年11月" in page and "本期无记录" in page and "本期无在办项目" in page
    assert 'data-figure="referrals.median_hours_to_accept">—<' in page
    # Every "<" of the page opens a tag: text is escaped.
    assert "<5" not in page and "&lt;5" in page
