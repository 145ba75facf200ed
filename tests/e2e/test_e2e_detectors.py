"""The integrity detectors through a real gateway over mutual TLS, on SQLite and PostgreSQL:
each flag fires on the call that triggers it and not on the calls around it, is written into
that call's ledger entry, listed by ListFlags (filtered by flag, with its compliance detail) and
``aidbridge audit flags``, and resolved with a note.

The gateway runs on a ``FixedClock`` a day after the real time (the certificates ``init`` issues
are valid then) that the tests move by hand, so windows and days never depend on the wall clock;
the periodic sweep is parked.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
import uuid

import grpc
import pytest
from sqlalchemy import select

from aidbridge.v1 import cases_pb2, common_pb2, consents_pb2, integrity_pb2, referrals_pb2
from gateway.clock import NS_PER_DAY, NS_PER_SECOND, FixedClock
from gateway.services.convert import timestamp
from gateway.store.models import ActorCallCount, LedgerEntry
from gateway.sweeps import sweep
from gateway.workdir import init_workdir
from tests.conftest import fresh_postgres_url, start_gateway
from tests.e2e.flow import CHARITY_A, CHARITY_B, COMPLIANCE, GOV, PURPOSE, adults, consent_message

IG = integrity_pb2
R = referrals_pb2
HOUR = 3600 * NS_PER_SECOND
MINUTE = 60 * NS_PER_SECOND
# A day after now, at eight in the morning China time (a UTC midnight): the detector's days are
# China's, so the tests' days are whole days and START - 8 h is a day's start.
START = (time.time_ns() // NS_PER_DAY + 1) * NS_PER_DAY
PULL = "aidbridge.v1.CaseService/PullCaseSummary"
HELP = "aidbridge.v1.ReferralService/RecordHelp"


@pytest.fixture(params=["sqlite", "postgresql"])
def gw(request, tmp_path):  # type: ignore[no-untyped-def]
    db_url = "" if request.param == "sqlite" else fresh_postgres_url()
    config = dataclasses.replace(
        init_workdir(tmp_path / "work", db_url=db_url),
        sweep_interval_s=86_400.0,
        # Small numbers, so a spike is a dozen calls: 6 at least, and more than half the
        # actor's mean per day over the two days before today.
        volume_floor=6,
        volume_history_days=2,
        volume_ratio=0.5,
        release_k=1,  # a stream of a few people sends every summary (k-anonymity has its tests)
    )
    clock = FixedClock(START)
    for running in start_gateway(config, clock=clock):
        running.clock = clock  # type: ignore[attr-defined]
        yield running


def _case(gov, person, tag: str) -> str:  # type: ignore[no-untyped-def]
    return gov.cases.RegisterCase(
        cases_pb2.RegisterCaseRequest(request_id=f"case-{tag}", case=person)
    ).case_id


def _refer(gov, case_id: str, to_org: str, tag: str) -> str:  # type: ignore[no-untyped-def]
    consent = gov.consents.RecordConsent(
        consents_pb2.RecordConsentRequest(
            request_id=f"consent-{tag}",
            consent=consent_message(case_id, recipient=to_org, now_ns=START),
        )
    ).consent
    return gov.referrals.CreateReferral(
        R.CreateReferralRequest(
            request_id=f"referral-{tag}",
            case_id=case_id,
            to_org=to_org,
            consent_id=consent.consent_id,
            purpose=PURPOSE,
        )
    ).referral.referral_id


def _pull(charity, referral_id: str):  # type: ignore[no-untyped-def]
    return charity.cases.PullCaseSummary(
        cases_pb2.PullCaseSummaryRequest(referral_id=referral_id, purpose=PURPOSE)
    )


def _set_state(charity, referral_id: str, state: int) -> None:  # type: ignore[no-untyped-def]
    charity.referrals.UpdateReferralState(
        R.UpdateReferralStateRequest(
            request_id=f"state-{uuid.uuid4().hex[:10]}", referral_id=referral_id, state=state
        )
    )


def _help(charity, referral_id: str, kind: int, at_ns: int) -> R.HelpDelivered:  # type: ignore[no-untyped-def]
    return charity.referrals.RecordHelp(
        R.RecordHelpRequest(
            request_id=f"help-{uuid.uuid4().hex[:10]}",
            help=R.HelpDelivered(
                referral_id=referral_id, kind=kind, value_fen=50_000, delivered_at=timestamp(at_ns)
            ),
        )
    )


def _entries(gw, method: str, actor: str | None = None) -> list[tuple[str, list[str], int]]:  # type: ignore[no-untyped-def]
    """(outcome, flags, entry id) of the method's entries, in order."""
    with gw.app.store.read() as session:
        query = select(LedgerEntry).where(LedgerEntry.method == method).order_by(LedgerEntry.id)
        if actor is not None:
            query = query.where(LedgerEntry.actor == actor)
        rows = list(session.scalars(query))
    return [(e.outcome, json.loads(e.entry_json).get("flags", []), e.id) for e in rows]


def _listed(gw, flag: str, *, open_only: bool = True) -> list[IG.Flag]:  # type: ignore[no-untyped-def]
    supervisor = gw.client(COMPLIANCE, actor="au-001")
    request = IG.ListFlagsRequest(open_only=open_only, flag=flag)
    return list(supervisor.integrity.ListFlags(request).flags)


def _audit_cli(gw, *args: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run(
        [
            *(sys.executable, "-m", "gateway.cli", "audit", *args),
            *("--work", str(gw.app.config.work_dir), "--target", gw.target),
            *("--caller", COMPLIANCE, "--actor", "au-001"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# --- pull-without-live-referral -----------------------------------------------------------------


def test_a_pull_through_a_referral_not_held_live_is_denied_and_the_attempt_flagged(gw) -> None:  # type: ignore[no-untyped-def]
    gov = gw.client(GOV, actor="cw-007")
    sunshine = gw.client(CHARITY_A, actor="staff-017")
    harbour = gw.client(CHARITY_B, actor="staff-101")
    person = adults(1, seed=51)[0]
    referral = _refer(gov, _case(gov, person, "p"), CHARITY_A, "p")

    assert _pull(sunshine, referral).referral_id == referral  # live: released, not flagged
    with pytest.raises(grpc.RpcError) as other:
        _pull(harbour, referral)  # sent to another charity
    assert other.value.code() == grpc.StatusCode.PERMISSION_DENIED
    _set_state(sunshine, referral, R.REFERRAL_STATE_ACCEPTED)
    _help(sunshine, referral, common_pb2.HELP_KIND_MATERIAL, START)
    _set_state(sunshine, referral, R.REFERRAL_STATE_COMPLETED)
    with pytest.raises(grpc.RpcError) as closed:
        _pull(sunshine, referral)  # no longer live
    assert closed.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "no live referral" in (closed.value.details() or "")
    with pytest.raises(grpc.RpcError) as missing:
        _pull(sunshine, "ref-does-not-exist")  # names no case: not found, not flagged
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND

    entries = _entries(gw, PULL)
    assert [(outcome, flags) for outcome, flags, _ in entries] == [
        ("OK", []),
        ("PERMISSION_DENIED", ["pull-without-live-referral"]),
        ("PERMISSION_DENIED", ["pull-without-live-referral"]),
        ("NOT_FOUND", []),
    ]
    listed = _listed(gw, "pull-without-live-referral")
    assert [f.flag_id for f in listed] == [f"flag-{entries[2][2]}", f"flag-{entries[1][2]}"]
    assert [(f.org, f.outcome) for f in listed] == [
        (CHARITY_A, "PERMISSION_DENIED"),
        (CHARITY_B, "PERMISSION_DENIED"),
    ]

    shown = _audit_cli(gw, "flags", "--open", "--flag", "pull-without-live-referral")
    assert shown.returncode == 0, shown.stderr
    rows = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [r["flag_id"] for r in rows] == [f.flag_id for f in listed]
    assert rows[1]["flags"] == ["pull-without-live-referral"]
    done = _audit_cli(gw, "resolve-flag", rows[1]["flag_id"], "--note", "误操作，已提醒")
    assert done.returncode == 0, done.stderr
    assert [f.flag_id for f in _listed(gw, "pull-without-live-referral")] == [rows[0]["flag_id"]]


# --- volume-spike ---------------------------------------------------------------------------------


def test_a_volume_spike_against_the_actors_own_history_flags_the_call_that_crosses(gw) -> None:  # type: ignore[no-untyped-def]
    gov = gw.client(GOV, actor="cw-007")
    usual = gw.client(CHARITY_A, actor="staff-017")
    newcomer = gw.client(CHARITY_A, actor="staff-018")
    person = adults(1, seed=52)[0]
    referral = _refer(gov, _case(gov, person, "v"), CHARITY_A, "v")

    # Two days of ordinary work: 16 pulls a day, one an hour (never 6 in an hour).
    for day in range(2):
        gw.clock.set(START + day * NS_PER_DAY)
        for hour in range(16):
            gw.clock.set(START + day * NS_PER_DAY + hour * HOUR)
            _pull(usual, referral)
    # Today: a mean of 16 a day puts the line above 8 in the hour (more than half of 16).
    today = START + 2 * NS_PER_DAY
    for minute in range(10):
        gw.clock.set(today + minute * MINUTE)
        _pull(usual, referral)
    # A new actor's first calls: three are nothing; its sixth in the hour reaches the floor.
    for minute in range(6):
        gw.clock.set(today + minute * MINUTE)
        _pull(newcomer, referral)

    usual_flags = [flags for _, flags, _ in _entries(gw, PULL, actor="staff-017")]
    assert usual_flags[:32] == [[]] * 32  # the ordinary days
    assert usual_flags[32:] == [[]] * 8 + [["volume-spike"]] + [[]]  # the 9th in the hour
    assert [flags for _, flags, _ in _entries(gw, PULL, actor="staff-018")] == [[]] * 5 + [
        ["volume-spike"]
    ]

    listed = _listed(gw, "volume-spike")
    assert [f.actor for f in listed] == ["staff-018", "staff-017"]
    detail = listed[1].details["volume-spike"]
    assert detail.startswith("9 releases and referrals in the last 3600 s; trailing mean 16.0")
    assert "over 2 day(s)" in listed[1].details["volume-spike"]
    assert listed[0].details["volume-spike"].startswith("6 releases and referrals")

    # An hour later the window holds none of them: the next pull is not a spike.
    gw.clock.set(today + 2 * HOUR)
    _pull(usual, referral)
    assert _entries(gw, PULL, actor="staff-017")[-1][1] == []

    shown = _audit_cli(gw, "flags", "--flag", "volume-spike")
    assert shown.returncode == 0, shown.stderr
    rows = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [r["actor"] for r in rows] == ["staff-018", "staff-017"]
    assert rows[1]["details"]["volume-spike"] == detail
    supervisor = gw.client(COMPLIANCE, actor="au-001")
    resolved = supervisor.integrity.ResolveFlag(
        IG.ResolveFlagRequest(request_id="rs-v", flag_id=listed[0].flag_id, note="新员工集中录入")
    )
    assert resolved.resolved
    assert resolved.details["volume-spike"] == listed[0].details["volume-spike"]
    assert [f.actor for f in _listed(gw, "volume-spike")] == ["staff-017"]

    # The sweep drops the short buckets no window reaches; the days stay as history.
    sweep(gw.app)
    with gw.app.store.read() as session:
        rows = list(session.scalars(select(ActorCallCount)))
    assert {r.start_ns for r in rows if r.span == "b"} == {today + 2 * HOUR}
    days = {(r.actor, r.start_ns): r.calls for r in rows if r.span == "d"}
    first = START - 8 * HOUR
    assert days == {
        ("cw-007", first): 1,  # the referral: referrals count too
        ("staff-017", first): 16,
        ("staff-017", first + NS_PER_DAY): 16,
        ("staff-017", first + 2 * NS_PER_DAY): 11,
        ("staff-018", first + 2 * NS_PER_DAY): 6,
    }


def test_a_stream_counts_every_summary_it_sends_and_its_page_carries_the_spike(gw) -> None:  # type: ignore[no-untyped-def]
    gov = gw.client(GOV, actor="cw-007")
    charity = gw.client(CHARITY_A, actor="staff-019")
    for n, person in enumerate(adults(7, seed=54)):
        _refer(gov, _case(gov, person, f"s{n}"), CHARITY_A, f"s{n}")
    gw.clock.set(START + MINUTE)
    sent = list(
        charity.cases.StreamCaseSummaries(cases_pb2.StreamCaseSummariesRequest(purpose=PURPOSE))
    )
    assert len(sent) == 7
    # One page: its entry carries the flag (7 summaries, a new actor, floor 6); the summaries'
    # own entries do not.
    (page,) = _entries(gw, "aidbridge.v1.CaseService/StreamCaseSummaries", actor="staff-019")
    assert page[:2] == ("OK", ["volume-spike"])
    summaries = _entries(gw, "aidbridge.v1.CaseService/StreamCaseSummaries/summary")
    assert [flags for _, flags, _ in summaries] == [[]] * 7
    # The caseworker's seven referrals in the minute are a spike of their own (floor 6).
    listed = _listed(gw, "volume-spike")
    assert [(f.actor, f.method) for f in listed] == [
        ("staff-019", "aidbridge.v1.CaseService/StreamCaseSummaries"),
        ("cw-007", "aidbridge.v1.ReferralService/CreateReferral"),
    ]
    assert listed[0].details["volume-spike"].startswith("7 releases and referrals")
    assert listed[1].details["volume-spike"].startswith("6 releases and referrals")


# --- duplicate-help -----------------------------------------------------------------------------


def test_the_same_help_by_two_charities_for_the_same_need_is_flagged_to_compliance_only(gw) -> None:  # type: ignore[no-untyped-def]
    gov = gw.client(GOV, actor="cw-007")
    sunshine = gw.client(CHARITY_A, actor="staff-017")
    harbour = gw.client(CHARITY_B, actor="staff-101")
    person = adults(1, seed=53)[0]
    case_id = _case(gov, person, "d")
    to_sunshine = _refer(gov, case_id, CHARITY_A, "d-a")
    to_harbour = _refer(gov, case_id, CHARITY_B, "d-b")
    _set_state(sunshine, to_sunshine, R.REFERRAL_STATE_ACCEPTED)
    _set_state(harbour, to_harbour, R.REFERRAL_STATE_ACCEPTED)
    cash, medical = common_pb2.HELP_KIND_CASH, common_pb2.HELP_KIND_MEDICAL

    gw.clock.set(START + HOUR)
    first = _help(sunshine, to_sunshine, cash, START + HOUR)
    gw.clock.set(START + 3 * NS_PER_DAY)
    second = _help(harbour, to_harbour, cash, START + 2 * NS_PER_DAY)
    _help(harbour, to_harbour, medical, START + 2 * NS_PER_DAY)
    # The charity's answer is what it always is: nothing of the other charity's help.
    assert second.org == CHARITY_B
    assert first.help_id not in str(second)
    # A month and more later, the same help is a new period.
    gw.clock.set(START + 40 * NS_PER_DAY)
    later = _help(harbour, to_harbour, cash, START + 40 * NS_PER_DAY)
    assert later.help_id

    entries = _entries(gw, HELP)
    assert [(outcome, flags) for outcome, flags, _ in entries] == [
        ("OK", []),
        ("OK", ["duplicate-help"]),
        ("OK", []),
        ("OK", []),
    ]
    (flag,) = _listed(gw, "duplicate-help")
    assert flag.flag_id == f"flag-{entries[1][2]}"
    assert (flag.org, flag.actor, flag.method) == (CHARITY_B, "staff-101", HELP)
    detail = flag.details["duplicate-help"]
    assert f"{first.help_id} ({CHARITY_A})" in detail
    assert person.person.resident_id not in detail and person.person.name not in detail

    shown = _audit_cli(gw, "flags", "--open", "--flag", "duplicate-help")
    assert shown.returncode == 0, shown.stderr
    (row,) = [json.loads(line) for line in shown.stdout.splitlines()]
    assert row["details"] == {"duplicate-help": detail}

    # Only compliance lists flags.
    with pytest.raises(grpc.RpcError) as denied:
        sunshine.integrity.ListFlags(IG.ListFlagsRequest(flag="duplicate-help"))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
