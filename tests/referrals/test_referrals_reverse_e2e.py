"""Reverse referrals through a real gateway, on SQLite and PostgreSQL: a charity refers a person
who may qualify for aid to the office of their street, with the person's consent naming that
office; the office opens it as an application or closes it with a reason; the charity sees the
outcome. Retries are idempotent, every refusal names its field, is ledgered and stores nothing."""

from __future__ import annotations

import base64

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.store.models import ReverseReferral, ReverseReferralEvent
from tests.e2e.flow import CHARITY_A, CHARITY_B, GOV, STREET_OFFICE
from tests.referrals.loop import (
    GUANYINQIAO,
    YUZUI,
    S,
    count,
    ledger,
    person,
    refused,
    reverse_request,
)

CREATE = "aidbridge.v1.ReferralService/CreateReverseReferral"


def _report(client, reverse_id: str, state: str, *, rid: str, **kw):  # type: ignore[no-untyped-def]
    return client.referrals.ReportReverseOutcome(
        S.ReportReverseOutcomeRequest(
            request_id=rid, reverse_referral_id=reverse_id, state=state, **kw
        )
    )


def test_a_charity_refers_back_the_office_opens_or_closes_and_the_charity_sees_it(loop_gw):
    gw = loop_gw
    sunshine, harbour = gw.client(CHARITY_A), gw.client(CHARITY_B)
    office, bureau = gw.client(STREET_OFFICE), gw.client(GOV)
    near, far = person(21, street=GUANYINQIAO), person(22, street=YUZUI)

    first = sunshine.referrals.CreateReverseReferral(
        reverse_request(gw, near, rid="rev-1", office=STREET_OFFICE)
    )
    assert first.state == "submitted" and first.from_org == CHARITY_A
    assert first.consent.signature and first.consent.recipient_office == STREET_OFFICE
    second = harbour.referrals.CreateReverseReferral(
        reverse_request(gw, far, rid="rev-2", office=GOV)
    )

    received = office.referrals.ListReverseReferrals(S.ListReverseReferralsRequest()).referrals
    assert [r.reverse_referral_id for r in received] == [first.reverse_referral_id]
    assert received[0].subject_resident_id == near.person.resident_id
    assert received[0].reason.startswith("家中老人")
    assert [
        r.reverse_referral_id
        for r in bureau.referrals.ListReverseReferrals(S.ListReverseReferralsRequest()).referrals
    ] == [second.reverse_referral_id]

    _report(office, first.reverse_referral_id, "received", rid="o-1")
    opened = _report(
        office, first.reverse_referral_id, "opened", rid="o-2", application_id="DB-2026-0412"
    )
    assert opened.state == "opened" and opened.application_id == "DB-2026-0412"
    closed = _report(
        bureau,
        second.reverse_referral_id,
        "closed",
        rid="o-3",
        close_reason=S.REVERSE_CLOSE_REASON_ALREADY_RECEIVING,
        outcome_note="已在低保名册中",
    )
    assert closed.close_reason == S.REVERSE_CLOSE_REASON_ALREADY_RECEIVING

    mine = sunshine.referrals.ListReverseReferrals(S.ListReverseReferralsRequest()).referrals
    assert [(r.state, r.application_id) for r in mine] == [("opened", "DB-2026-0412")]
    assert [e.state for e in mine[0].events] == ["submitted", "received", "opened"]
    theirs = harbour.referrals.ListReverseReferrals(S.ListReverseReferralsRequest()).referrals
    assert theirs[0].state == "closed" and theirs[0].outcome_note == "已在低保名册中"

    # The consent is signed by the gateway's consent key over what the charity submitted.
    public = gw.app.keys.public_key("consent")
    assert isinstance(public, Ed25519PublicKey)
    assert len(base64.b64decode(first.consent.signature)) == 64

    # Each call is ledgered under the person's ledger pseudonym.
    entries = ledger(gw, CREATE)
    assert [e.outcome for e in entries] == ["OK", "OK"]
    assert all(e.subject and near.person.resident_id not in e.entry_json for e in entries)


def test_the_office_s_answers_follow_the_state_machine(loop_gw):
    gw = loop_gw
    sunshine, office = gw.client(CHARITY_A), gw.client(STREET_OFFICE)
    created = sunshine.referrals.CreateReverseReferral(
        reverse_request(gw, person(23, street=GUANYINQIAO), rid="rev", office=STREET_OFFICE)
    )
    rev = created.reverse_referral_id
    _report(office, rev, "opened", rid="open", application_id="A-1")

    again = refused(
        office.referrals.ReportReverseOutcome,
        S.ReportReverseOutcomeRequest(
            request_id="close",
            reverse_referral_id=rev,
            state="closed",
            close_reason=S.REVERSE_CLOSE_REASON_DUPLICATE,
        ),
    )
    assert again.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert f"reverse referral {rev} is opened" in again.details()
    by_charity = refused(
        sunshine.referrals.ReportReverseOutcome,
        S.ReportReverseOutcomeRequest(request_id="x", reverse_referral_id=rev, state="received"),
    )
    assert by_charity.code() == grpc.StatusCode.PERMISSION_DENIED
    other_office = refused(
        gw.client(GOV).referrals.ReportReverseOutcome,
        S.ReportReverseOutcomeRequest(
            request_id="y", reverse_referral_id="rev-nope", state="received"
        ),
    )
    assert other_office.code() == grpc.StatusCode.NOT_FOUND
    for kw, named in (
        ({"state": "closed"}, "close_reason"),
        ({"state": "opened"}, "application_id"),
        (
            {"state": "closed", "close_reason": S.REVERSE_CLOSE_REASON_OTHER},
            "outcome_note",
        ),
        ({"state": "received", "application_id": "A-2"}, "application_id"),
        ({"state": "assessed"}, "state"),
    ):
        error = refused(
            office.referrals.ReportReverseOutcome,
            S.ReportReverseOutcomeRequest(request_id="bad", reverse_referral_id=rev, **kw),
        )
        assert named in error.details(), (kw, error.details())
    assert count(gw, ReverseReferralEvent) == 2  # submitted, opened


def test_bad_reverse_referrals_are_refused_naming_the_field_and_store_nothing(loop_gw):
    gw = loop_gw
    sunshine = gw.client(CHARITY_A)
    near = person(24, street=GUANYINQIAO)
    bad = [
        (dict(consent_office=GOV), grpc.StatusCode.FAILED_PRECONDITION, "recipient_office"),
        (
            dict(subject_resident_id="110101199003070000"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "subject_resident_id",
        ),
        (dict(office=CHARITY_B), grpc.StatusCode.INVALID_ARGUMENT, "to_office"),
        (dict(street=YUZUI), grpc.StatusCode.FAILED_PRECONDITION, "referral.street"),
        (dict(reason=""), grpc.StatusCode.INVALID_ARGUMENT, "referral.reason"),
        (dict(suspected_aid=0), grpc.StatusCode.INVALID_ARGUMENT, "suspected_aid"),
        (dict(state="opened"), grpc.StatusCode.INVALID_ARGUMENT, "referral.state"),
    ]
    for i, (change, code, named) in enumerate(bad):
        office = change.pop("office", STREET_OFFICE)
        consent_office = change.pop("consent_office", "")
        request = reverse_request(
            gw, near, rid=f"bad-{i}", office=office, consent_office=consent_office, **change
        )
        error = refused(sunshine.referrals.CreateReverseReferral, request)
        assert (error.code(), named in error.details()) == (code, True), (change, error.details())
    lapsed = reverse_request(gw, near, rid="lapsed", office=STREET_OFFICE)
    lapsed.referral.consent.valid_until.seconds = lapsed.referral.consent.valid_from.seconds + 1
    error = refused(sunshine.referrals.CreateReverseReferral, lapsed)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "valid_until" in error.details()
    by_office = refused(
        gw.client(GOV).referrals.CreateReverseReferral,
        reverse_request(gw, near, rid="gov", office=STREET_OFFICE),
    )
    assert by_office.code() == grpc.StatusCode.PERMISSION_DENIED

    assert count(gw, ReverseReferral) == 0 and count(gw, ReverseReferralEvent) == 0
    outcomes = [e.outcome for e in ledger(gw, CREATE)]
    assert len(outcomes) == len(bad) + 2 and "OK" not in outcomes


def test_a_retried_reverse_referral_is_one_and_other_content_already_exists(loop_gw):
    gw = loop_gw
    sunshine = gw.client(CHARITY_A)
    near = person(25, street=GUANYINQIAO)
    request = reverse_request(gw, near, rid="once", office=STREET_OFFICE)
    first = sunshine.referrals.CreateReverseReferral(request)
    assert sunshine.referrals.CreateReverseReferral(request) == first
    changed = reverse_request(gw, near, rid="once", office=STREET_OFFICE, reason="另一个原因")
    error = refused(sunshine.referrals.CreateReverseReferral, changed)
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert count(gw, ReverseReferral) == 1
