"""The referral loop through a real gateway over mutual TLS, on SQLite and PostgreSQL: several
offices refer to several charities, charities work their queue most severe first, record help
and complete; rejections carry a structured reason; the offices follow every state change;
nobody's inaction expires a referral; a withdrawn consent cancels; retries are idempotent;
bad input is refused naming the field, ledgered, and stores nothing."""

from __future__ import annotations

import grpc

from aidbridge.v1 import common_pb2
from gateway.clock import NS_PER_DAY
from gateway.ledger import system
from gateway.store.models import HelpRecord, Referral, ReferralEvent
from gateway.sweeps import sweep
from tests.e2e.flow import CHARITY_A, CHARITY_B, GOV, STREET_OFFICE
from tests.referrals.loop import (
    GUANYINQIAO,
    S,
    count,
    help_request,
    ledger,
    person,
    refer,
    refused,
    set_state,
)

SEV = common_pb2


def test_offices_refer_charities_work_their_queues_and_the_offices_see_the_outcome(loop_gw):
    gw = loop_gw
    gov, office = gw.client(GOV), gw.client(STREET_OFFICE)
    sunshine, harbour = gw.client(CHARITY_A), gw.client(CHARITY_B)
    low = refer(gw, gov, person(1, severity=SEV.SEVERITY_LOW), tag="low")
    gw.clock.advance(10**9)
    urgent_late = refer(gw, gov, person(2, severity=SEV.SEVERITY_URGENT), tag="urgent-late")
    gw.clock.advance(10**9)
    medium = refer(
        gw, office, person(3, severity=SEV.SEVERITY_MEDIUM, street=GUANYINQIAO), tag="medium"
    )
    gw.clock.advance(10**9)
    urgent_later = refer(gw, gov, person(4, severity=SEV.SEVERITY_URGENT), tag="urgent-later")
    to_harbour = refer(gw, office, person(5, street=GUANYINQIAO), tag="harbour", to=CHARITY_B)

    # Most severe first; equal severity: longest waiting first.
    queue = sunshine.referrals.ListReferrals(S.ListReferralsRequest()).referrals
    assert [r.referral_id for r in queue] == [
        urgent_late.referral_id,
        urgent_later.referral_id,
        medium.referral_id,
        low.referral_id,
    ]
    assert queue[0].fast_track and not queue[3].fast_track
    assert queue[0].severity == SEV.SEVERITY_URGENT and queue[0].hardship_type
    # Paged, the same order.
    page1 = sunshine.referrals.ListReferrals(
        S.ListReferralsRequest(page=common_pb2.PageRequest(page_size=3))
    )
    page2 = sunshine.referrals.ListReferrals(
        S.ListReferralsRequest(
            page=common_pb2.PageRequest(page_size=3, page_token=page1.next_page_token)
        )
    )
    assert [r.referral_id for r in [*page1.referrals, *page2.referrals]] == [
        r.referral_id for r in queue
    ]
    assert [
        r.referral_id for r in harbour.referrals.ListReferrals(S.ListReferralsRequest()).referrals
    ] == [to_harbour.referral_id]

    for charity, referral in ((sunshine, urgent_late), (harbour, to_harbour)):
        rid = referral.referral_id
        set_state(charity, rid, S.REFERRAL_STATE_ACCEPTED, rid=f"acc-{rid}")
        set_state(charity, rid, S.REFERRAL_STATE_IN_PROGRESS, rid=f"go-{rid}")
        charity.referrals.RecordHelp(help_request(gw, rid, rid=f"h1-{rid}", value_fen=80_000))
        gw.clock.advance(10**9)
        charity.referrals.RecordHelp(
            help_request(
                gw,
                rid,
                rid=f"h2-{rid}",
                kind=common_pb2.HELP_KIND_VISITS_AND_CARE,
                value_fen=0,
                minutes=90,
                description="上门探访两次",
            )
        )
        done = set_state(charity, rid, S.REFERRAL_STATE_COMPLETED, rid=f"done-{rid}")
        assert done.state == S.REFERRAL_STATE_COMPLETED

    seen = gov.referrals.GetReferral(S.GetReferralRequest(referral_id=urgent_late.referral_id))
    assert [e.state for e in seen.events] == [
        S.REFERRAL_STATE_REQUESTED,
        S.REFERRAL_STATE_ACCEPTED,
        S.REFERRAL_STATE_IN_PROGRESS,
        S.REFERRAL_STATE_COMPLETED,
    ]
    assert [e.org for e in seen.events] == [GOV, CHARITY_A, CHARITY_A, CHARITY_A]
    assert [(h.kind, h.value_fen, h.minutes) for h in seen.help] == [
        (common_pb2.HELP_KIND_MATERIAL, 80_000, 0),
        (common_pb2.HELP_KIND_VISITS_AND_CARE, 0, 90),
    ]
    assert seen.help[1].description == "上门探访两次" and seen.help[0].org == CHARITY_A

    # Each office follows the state changes of its own referrals, in order, and only those.
    feed = gov.referrals.ListReferralEvents(S.ListReferralEventsRequest())
    assert {e.referral_id for e in feed.events} == {
        low.referral_id,
        urgent_late.referral_id,
        urgent_later.referral_id,
    }
    assert [e.event_id for e in feed.events] == sorted(e.event_id for e in feed.events)
    office_feed = office.referrals.ListReferralEvents(S.ListReferralEventsRequest())
    harbour_done = [e for e in office_feed.events if e.referral_id == to_harbour.referral_id]
    assert [e.state for e in harbour_done][-1] == S.REFERRAL_STATE_COMPLETED
    more = office.referrals.ListReferralEvents(
        S.ListReferralEventsRequest(after_event_id=office_feed.last_event_id)
    )
    assert list(more.events) == [] and more.last_event_id == office_feed.last_event_id
    assert count(gw, HelpRecord) == 4


def test_a_rejection_carries_a_structured_reason_the_office_can_route_on(loop_gw):
    gw = loop_gw
    gov, charity = gw.client(GOV), gw.client(CHARITY_A)
    rid = refer(gw, gov, person(6), tag="rej").referral_id

    no_reason = refused(
        charity.referrals.UpdateReferralState,
        S.UpdateReferralStateRequest(
            request_id="r1", referral_id=rid, state=S.REFERRAL_STATE_REJECTED
        ),
    )
    assert no_reason.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "rejection_reason is required" in no_reason.details()
    other_without_text = refused(
        charity.referrals.UpdateReferralState,
        S.UpdateReferralStateRequest(
            request_id="r2",
            referral_id=rid,
            state=S.REFERRAL_STATE_REJECTED,
            rejection_reason=S.REJECTION_REASON_OTHER,
        ),
    )
    assert other_without_text.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "reason is required" in other_without_text.details()
    assert count(gw, ReferralEvent) == 1  # only "requested"

    set_state(
        charity,
        rid,
        S.REFERRAL_STATE_REJECTED,
        rid="r3",
        rejection_reason=S.REJECTION_REASON_NO_CAPACITY,
        reason="本月名额已满",
    )
    seen = gov.referrals.GetReferral(S.GetReferralRequest(referral_id=rid))
    assert seen.state == S.REFERRAL_STATE_REJECTED
    assert seen.rejection_reason == S.REJECTION_REASON_NO_CAPACITY
    assert seen.events[-1].rejection_reason == S.REJECTION_REASON_NO_CAPACITY
    assert seen.events[-1].reason == "本月名额已满"
    entries = ledger(gw, "aidbridge.v1.ReferralService/UpdateReferralState")
    assert [e.outcome for e in entries] == ["INVALID_ARGUMENT", "INVALID_ARGUMENT", "OK"]
    # The state change is found by the person's ledger pseudonym, beside the calls about them.
    assert (
        entries[-1].subject
        and entries[-1].subject
        == ledger(gw, "aidbridge.v1.ReferralService/CreateReferral")[0].subject
    )


def test_completion_needs_help_recorded_and_bad_help_is_refused_naming_the_field(loop_gw):
    gw = loop_gw
    gov, charity = gw.client(GOV), gw.client(CHARITY_A)
    rid = refer(gw, gov, person(7), tag="help").referral_id

    early = refused(charity.referrals.RecordHelp, help_request(gw, rid, rid="h-early"))
    assert early.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "is requested" in early.details()
    set_state(charity, rid, S.REFERRAL_STATE_ACCEPTED, rid="acc")

    not_yet = refused(
        charity.referrals.UpdateReferralState,
        S.UpdateReferralStateRequest(
            request_id="done", referral_id=rid, state=S.REFERRAL_STATE_COMPLETED
        ),
    )
    assert not_yet.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "no help recorded" in not_yet.details()

    now = gw.clock.now_ns()
    from gateway.services.convert import timestamp

    cases = [
        (dict(value_fen=-1), grpc.StatusCode.INVALID_ARGUMENT, "help.value_fen"),
        (dict(value_fen=0), grpc.StatusCode.INVALID_ARGUMENT, "help.value_fen"),
        (dict(minutes=-5), grpc.StatusCode.INVALID_ARGUMENT, "help.minutes"),
        (
            dict(delivered_at=timestamp(now + NS_PER_DAY)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "help.delivered_at",
        ),
        (
            dict(delivered_at=timestamp(now - 400 * NS_PER_DAY)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "help.delivered_at",
        ),
        (
            dict(kind=common_pb2.HELP_KIND_UNSPECIFIED),
            grpc.StatusCode.INVALID_ARGUMENT,
            "help.kind",
        ),
        (dict(project_id="p-none"), grpc.StatusCode.NOT_FOUND, "help.project_id"),
        (dict(help_id="help-mine"), grpc.StatusCode.INVALID_ARGUMENT, "help.help_id"),
    ]
    for i, (change, code, named) in enumerate(cases):
        kind = change.pop("kind", common_pb2.HELP_KIND_MATERIAL)
        error = refused(
            charity.referrals.RecordHelp, help_request(gw, rid, rid=f"bad-{i}", kind=kind, **change)
        )
        assert (error.code(), named in error.details()) == (code, True), (change, error.details())
    unknown = refused(charity.referrals.RecordHelp, help_request(gw, "ref-nope", rid="bad-unknown"))
    assert unknown.code() == grpc.StatusCode.NOT_FOUND and "ref-nope" in unknown.details()
    stranger = refused(
        gw.client(CHARITY_B).referrals.RecordHelp, help_request(gw, rid, rid="bad-b")
    )
    assert stranger.code() == grpc.StatusCode.PERMISSION_DENIED

    assert count(gw, HelpRecord) == 0
    outcomes = [e.outcome for e in ledger(gw, "aidbridge.v1.ReferralService/RecordHelp")]
    assert outcomes.count("OK") == 0 and len(outcomes) == len(cases) + 3

    charity.referrals.RecordHelp(help_request(gw, rid, rid="good"))
    done = set_state(charity, rid, S.REFERRAL_STATE_COMPLETED, rid="done")
    assert done.state == S.REFERRAL_STATE_COMPLETED


def test_a_referral_nobody_acts_on_expires_and_the_sweep_is_ledgered(loop_gw):
    gw = loop_gw
    gov, charity = gw.client(GOV), gw.client(CHARITY_A)
    waiting = refer(gw, gov, person(8), tag="exp", days=1)
    taken = refer(gw, gov, person(9), tag="taken", days=1)
    set_state(charity, taken.referral_id, S.REFERRAL_STATE_ACCEPTED, rid="acc")

    gw.clock.advance(NS_PER_DAY - 1)
    assert sweep(gw.app).referrals_expired == 0
    gw.clock.advance(1)
    assert sweep(gw.app).referrals_expired == 1

    seen = gov.referrals.GetReferral(S.GetReferralRequest(referral_id=waiting.referral_id))
    assert seen.state == S.REFERRAL_STATE_EXPIRED
    assert seen.events[-1].org == "aidbridge" and "respond-by" in seen.events[-1].reason
    assert (
        gov.referrals.GetReferral(S.GetReferralRequest(referral_id=taken.referral_id)).state
        == S.REFERRAL_STATE_ACCEPTED
    )
    [entry] = ledger(gw, system.EXPIRE_REFERRAL)
    assert waiting.referral_id in entry.reason and entry.subject

    late = refused(
        charity.referrals.UpdateReferralState,
        S.UpdateReferralStateRequest(
            request_id="late", referral_id=waiting.referral_id, state=S.REFERRAL_STATE_ACCEPTED
        ),
    )
    assert late.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert f"referral {waiting.referral_id} is expired" in late.details()


def test_withdrawing_the_consent_cancels_its_open_referrals_through_the_state_machine(loop_gw):
    from aidbridge.v1 import consents_pb2

    gw = loop_gw
    gov, charity = gw.client(GOV), gw.client(CHARITY_A)
    referral = refer(gw, gov, person(10), tag="wd")
    set_state(charity, referral.referral_id, S.REFERRAL_STATE_ACCEPTED, rid="acc")
    gov.consents.WithdrawConsent(
        consents_pb2.WithdrawConsentRequest(
            request_id="wd", consent_id=referral.consent_id, reason="本人撤回"
        )
    )
    feed = gov.referrals.ListReferralEvents(
        S.ListReferralEventsRequest(referral_id=referral.referral_id)
    )
    assert [e.state for e in feed.events][-1] == S.REFERRAL_STATE_CANCELLED_BY_WITHDRAWAL
    again = refused(
        charity.referrals.UpdateReferralState,
        S.UpdateReferralStateRequest(
            request_id="go", referral_id=referral.referral_id, state=S.REFERRAL_STATE_IN_PROGRESS
        ),
    )
    assert again.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "is cancelled-by-withdrawal" in again.details()


def test_retries_get_the_same_answer_and_a_reused_id_with_other_content_already_exists(loop_gw):
    gw = loop_gw
    gov, charity = gw.client(GOV), gw.client(CHARITY_A)
    rid = refer(gw, gov, person(11), tag="idem").referral_id
    first = set_state(charity, rid, S.REFERRAL_STATE_ACCEPTED, rid="same")
    assert set_state(charity, rid, S.REFERRAL_STATE_ACCEPTED, rid="same") == first
    other = refused(
        charity.referrals.UpdateReferralState,
        S.UpdateReferralStateRequest(
            request_id="same", referral_id=rid, state=S.REFERRAL_STATE_ON_HOLD
        ),
    )
    assert other.code() == grpc.StatusCode.ALREADY_EXISTS and "request_id" in other.details()

    h1 = charity.referrals.RecordHelp(help_request(gw, rid, rid="help-once"))
    assert charity.referrals.RecordHelp(help_request(gw, rid, rid="help-once")) == h1
    changed = refused(
        charity.referrals.RecordHelp, help_request(gw, rid, rid="help-once", value_fen=1)
    )
    assert changed.code() == grpc.StatusCode.ALREADY_EXISTS

    with gw.app.store.read() as session:
        from sqlalchemy import select

        states = session.scalars(
            select(ReferralEvent.state).where(ReferralEvent.referral_id == rid)
        ).all()
    assert states == ["requested", "accepted"]
    assert count(gw, HelpRecord) == 1 and count(gw, Referral) == 1
