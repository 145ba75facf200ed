"""The volume-spike detector with the default settings on a real SQLite store, through the
group commit as a call's counts are written: a new actor's first calls are not a spike (the
floor), an actor's usual pace is not, and a burst well above its own history is — flagged once,
on the call that crosses."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from aidbridge.v1 import cases_pb2
from gateway.app import Gateway
from gateway.clock import NS_PER_DAY, NS_PER_SECOND
from gateway.exchange import Call, Caller
from gateway.integrity import detectors
from gateway.store.models import ActorCallCount
from gateway.workdir import init_workdir

HOUR = 3600 * NS_PER_SECOND
DAY0 = 20_800 * NS_PER_DAY - 8 * HOUR  # a midnight in China (UTC+8) in 2026
PULL = "aidbridge.v1.CaseService/PullCaseSummary"


@pytest.fixture
def app(tmp_path):  # type: ignore[no-untyped-def]
    gateway = Gateway.open(init_workdir(tmp_path / "work"))
    yield gateway
    gateway.close()


def _call(app, actor: str, at_ns: int, method: str = PULL) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    caller = Caller(org="charity-sunshine", role="charity", actor=actor, fingerprint="ab" * 32)
    call = Call(
        app=app, caller=caller, method=method, request=cases_pb2.PullCaseSummaryRequest(),
        now_ns=at_ns,
    )  # fmt: skip
    with app.store.read() as session:
        detectors.count_call(session, call)
    app.writer.submit(None, inserts=call.inserts)
    return call.facts.flags


def test_a_new_actor_is_not_flagged_before_the_floor_of_twenty(app) -> None:  # type: ignore[no-untyped-def]
    flags = [_call(app, "staff-new", DAY0 + 9 * HOUR + n * NS_PER_SECOND) for n in range(21)]
    assert flags[:19] == [()] * 19
    assert flags[19] == ("volume-spike",)  # the 20th in the hour, with no history at all
    assert flags[20] == ()


def test_an_actors_usual_pace_is_not_a_spike_and_a_burst_above_it_is(app) -> None:  # type: ignore[no-untyped-def]
    # A week of 80 calls a day, 10 an hour over eight hours.
    for day in range(7):
        for n in range(80):
            at = DAY0 + day * NS_PER_DAY + 9 * HOUR + n * 360 * NS_PER_SECOND
            assert _call(app, "staff-017", at) == ()
    # The eighth day: the same pace is nothing; forty in the hour (over half the daily 80) is.
    today = DAY0 + 7 * NS_PER_DAY + 9 * HOUR
    usual = [_call(app, "staff-017", today + n * 360 * NS_PER_SECOND) for n in range(10)]
    assert usual == [()] * 10
    burst_at = today + 2 * HOUR
    burst = [_call(app, "staff-017", burst_at + n * NS_PER_SECOND) for n in range(45)]
    assert [i for i, f in enumerate(burst) if f] == [40]  # the 41st: more than 0.5 x 80
    # Calls that are not releases or referrals are not counted.
    assert _call(app, "staff-017", burst_at, "aidbridge.v1.ReferralService/ListReferrals") == ()


def test_the_actors_days_are_china_days(app) -> None:  # type: ignore[no-untyped-def]
    # 23:30 and 00:30 China time are two days, though both are the same UTC day (15:30, 16:30).
    _call(app, "staff-020", DAY0 + NS_PER_DAY - HOUR // 2)
    _call(app, "staff-020", DAY0 + NS_PER_DAY + HOUR // 2)
    # 07:30 and 08:30 China time are one day, though UTC's midnight lies between them.
    _call(app, "staff-020", DAY0 + 2 * NS_PER_DAY + 7 * HOUR + HOUR // 2)
    _call(app, "staff-020", DAY0 + 2 * NS_PER_DAY + 8 * HOUR + HOUR // 2)
    with app.store.read() as session:
        days = {
            r.start_ns: r.calls
            for r in session.scalars(select(ActorCallCount))
            if r.actor == "staff-020" and r.span == "d"
        }
    assert days == {DAY0: 1, DAY0 + NS_PER_DAY: 1, DAY0 + 2 * NS_PER_DAY: 2}
