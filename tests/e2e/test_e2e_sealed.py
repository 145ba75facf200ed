"""Nothing is decrypted before the decision allows the call, in every service: with a case's
sealed payload, its consent's sealed record and a reverse referral's sealed payload made
unreadable, every call the policy refuses is still refused as not permitted (an attempt to open
any would fail the call INTERNAL), and a compliance query by the person's resident id finds each
refusal's ledger entry, named by the store index of the case (or of the reverse referral)."""

from __future__ import annotations

import time

import grpc
import pytest
from sqlalchemy import update

from aidbridge.v1 import (
    audit_pb2,
    cases_pb2,
    common_pb2,
    consents_pb2,
    referrals_pb2,
    resources_pb2,
)
from gateway.services.convert import timestamp
from gateway.store.models import Case, Consent, Referral, ReverseReferral
from tests.conftest import start_gateway
from tests.e2e.flow import (
    CHARITY_A,
    CHARITY_B,
    COMPLIANCE,
    GOV,
    PURPOSE,
    Referred,
    adults,
    consent_message,
    refer,
)

UNREADABLE = b"\0" * 64


@pytest.fixture(params=["sqlite", "postgresql"])
def gw(request, tmp_path):
    from gateway.workdir import init_workdir
    from tests.conftest import fresh_postgres_url

    db_url = "" if request.param == "sqlite" else fresh_postgres_url()
    yield from start_gateway(init_workdir(tmp_path / "work", db_url=db_url))


def _seal_shut(gw, referred: Referred) -> None:
    """Make the case's payload and its consent's signed record undecryptable."""
    with gw.app.store.write() as session:
        session.execute(
            update(Case).where(Case.case_id == referred.case_id).values(payload_enc=UNREADABLE)
        )
        session.execute(
            update(Consent)
            .where(Consent.consent_id == referred.consent_id)
            .values(record_enc=UNREADABLE)
        )


def _sealed_reverse(gw, charity_a, person) -> str:
    """A reverse referral of ``person`` from charity A to the bureau, its payload (the person,
    the reason, the consent) then made undecryptable: its id."""
    from tests.referrals.loop import reverse_request

    made = charity_a.referrals.CreateReverseReferral(
        reverse_request(gw, person, rid="sealed-reverse", office=GOV)
    )
    with gw.app.store.write() as session:
        session.execute(
            update(ReverseReferral)
            .where(ReverseReferral.reverse_referral_id == made.reverse_referral_id)
            .values(payload_enc=UNREADABLE)
        )
    return made.reverse_referral_id


def _refused_calls(charity_b, charity_a, referred: Referred, reverse_id: str) -> dict[str, object]:
    """Each RPC that opened the case (or the consent, or the reverse referral) before its
    decision, called by an organisation the policy refuses: method name → a thunk making the
    call."""
    ref, case, consent = referred.referral_id, referred.case_id, referred.consent_id
    now = time.time_ns()
    return {
        # Only the receiving office reports an outcome; the subject was in the sealed payload.
        "ReportReverseOutcome": lambda: charity_b.referrals.ReportReverseOutcome(
            referrals_pb2.ReportReverseOutcomeRequest(
                request_id="sealed-outcome", reverse_referral_id=reverse_id, state="received"
            )
        ),
        "UpdateReferralState": lambda: charity_b.referrals.UpdateReferralState(
            referrals_pb2.UpdateReferralStateRequest(
                request_id="sealed-update",
                referral_id=ref,
                state=referrals_pb2.REFERRAL_STATE_ACCEPTED,
            )
        ),
        "RecordHelp": lambda: charity_b.referrals.RecordHelp(
            referrals_pb2.RecordHelpRequest(
                request_id="sealed-help",
                help=referrals_pb2.HelpDelivered(
                    referral_id=ref,
                    kind=common_pb2.HELP_KIND_MATERIAL,
                    value_fen=10_000,
                    delivered_at=timestamp(now - 3_600 * 10**9),
                    description="送米面油一份",
                ),
            )
        ),
        "GetReferral": lambda: charity_b.referrals.GetReferral(
            referrals_pb2.GetReferralRequest(referral_id=ref)
        ),
        # A charity does not refer: refused after the consent's checks, before the case opens.
        "CreateReferral": lambda: charity_a.referrals.CreateReferral(
            referrals_pb2.CreateReferralRequest(
                request_id="sealed-refer",
                case_id=case,
                to_org=CHARITY_A,
                consent_id=consent,
                purpose=PURPOSE,
            )
        ),
        "RecordConsent": lambda: charity_b.consents.RecordConsent(
            consents_pb2.RecordConsentRequest(
                request_id="sealed-consent",
                consent=consent_message(case, recipient=CHARITY_B, now_ns=now),
            )
        ),
        "GetConsent": lambda: charity_b.consents.GetConsent(
            consents_pb2.GetConsentRequest(consent_id=consent)
        ),
        "WithdrawConsent": lambda: charity_b.consents.WithdrawConsent(
            consents_pb2.WithdrawConsentRequest(
                request_id="sealed-withdraw", consent_id=consent, reason="不再需要"
            )
        ),
        "MarkEnteredInError": lambda: charity_b.consents.MarkEnteredInError(
            consents_pb2.MarkEnteredInErrorRequest(
                request_id="sealed-error", consent_id=consent, reason="录入错误"
            )
        ),
        "GetConsentReceipt": lambda: charity_b.consents.GetConsentReceipt(
            consents_pb2.GetConsentReceiptRequest(consent_id=consent)
        ),
        "ListConsentEvents": lambda: charity_b.consents.ListConsentEvents(
            consents_pb2.ListConsentEventsRequest(consent_id=consent)
        ),
        "GetCase": lambda: charity_b.cases.GetCase(cases_pb2.GetCaseRequest(case_id=case)),
        "MatchCharities": lambda: charity_b.resources.MatchCharities(
            resources_pb2.MatchCharitiesRequest(case_id=case)
        ),
    }


def test_a_refused_call_never_opens_the_case_in_any_service(gw):
    gov, charity_a, charity_b = gw.client(GOV), gw.client(CHARITY_A), gw.client(CHARITY_B)
    officer = gw.client(COMPLIANCE, "inspector-9")
    person = adults(1, seed=41)[0]
    referred = refer(gov, person, tag="sealed-all")
    reverse_id = _sealed_reverse(gw, charity_a, person)
    _seal_shut(gw, referred)

    calls = _refused_calls(charity_b, charity_a, referred, reverse_id)
    for method, make in calls.items():
        with pytest.raises(grpc.RpcError) as refused:
            make()  # type: ignore[operator]
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED, (
            method,
            refused.value.code(),
            refused.value.details(),
        )
    gw.app.ledger.integrate()

    entries = officer.audit.QueryLedger(
        audit_pb2.QueryLedgerRequest(subject_resident_id=person.person.resident_id)
    ).entries
    seen = {(e.org, e.method.rsplit("/", 1)[-1], e.outcome) for e in entries}
    for method in calls:
        org = CHARITY_A if method == "CreateReferral" else CHARITY_B
        assert (org, method, "PERMISSION_DENIED") in seen, method
    assert person.person.resident_id not in "".join(e.entry_json for e in entries)


def test_an_allowed_call_opens_the_case_after_its_decision(gw):
    """The other side: the call the policy allows does open the case, so the unreadable payload
    fails it (INTERNAL, nothing changed) — the refusals above were decided on columns alone."""
    gov, charity_a = gw.client(GOV), gw.client(CHARITY_A)
    referred = refer(gov, adults(1, seed=43)[0], tag="sealed-allowed")
    _seal_shut(gw, referred)
    with pytest.raises(grpc.RpcError) as unreadable:
        charity_a.referrals.UpdateReferralState(
            referrals_pb2.UpdateReferralStateRequest(
                request_id="sealed-allowed-update",
                referral_id=referred.referral_id,
                state=referrals_pb2.REFERRAL_STATE_ACCEPTED,
            )
        )
    assert unreadable.value.code() == grpc.StatusCode.INTERNAL
    with gw.app.store.read() as session:
        assert session.get(Referral, referred.referral_id).state == "requested"


def test_an_allowed_outcome_opens_the_reverse_referral_after_its_decision(gw):
    """The receiving office may report: its call opens the payload once allowed, so the
    unreadable one fails it (INTERNAL, nothing changed)."""
    person = adults(1, seed=59)[0]
    reverse_id = _sealed_reverse(gw, gw.client(CHARITY_A), person)
    with pytest.raises(grpc.RpcError) as unreadable:
        gw.client(GOV).referrals.ReportReverseOutcome(
            referrals_pb2.ReportReverseOutcomeRequest(
                request_id="sealed-allowed-outcome",
                reverse_referral_id=reverse_id,
                state="received",
            )
        )
    assert unreadable.value.code() == grpc.StatusCode.INTERNAL
    with gw.app.store.read() as session:
        assert session.get(ReverseReferral, reverse_id).state == "submitted"


def test_help_for_a_declared_relative_is_held_without_opening_the_case(gw):
    """The conflict of interest is found by the case's store index: help a charity's worker
    records for their own declared relative is held for a second approver before the case is
    opened, so it is held (not failed) with the payload unreadable, and ledgered under the
    person."""
    from aidbridge.v1 import integrity_pb2

    gov = gw.client(GOV)
    worker = gw.client(CHARITY_A, "sw-017")
    officer = gw.client(COMPLIANCE, "inspector-9")
    person = adults(1, seed=47)[0]
    referred = refer(gov, person, tag="sealed-held")
    worker.referrals.UpdateReferralState(  # taken on, before the case is sealed shut
        referrals_pb2.UpdateReferralStateRequest(
            request_id="sealed-held-accept",
            referral_id=referred.referral_id,
            state=referrals_pb2.REFERRAL_STATE_ACCEPTED,
        )
    )
    worker.integrity.DeclareRelationship(
        integrity_pb2.DeclareRelationshipRequest(
            request_id="sealed-declare",
            relative_resident_id=person.person.resident_id,
            relationship=integrity_pb2.RELATIONSHIP_SIBLING,
        )
    )
    _seal_shut(gw, referred)

    with pytest.raises(grpc.RpcError) as held:
        worker.referrals.RecordHelp(
            referrals_pb2.RecordHelpRequest(
                request_id="sealed-held-help",
                help=referrals_pb2.HelpDelivered(
                    referral_id=referred.referral_id,
                    kind=common_pb2.HELP_KIND_MATERIAL,
                    value_fen=10_000,
                    delivered_at=timestamp(time.time_ns() - 3_600 * 10**9),
                ),
            )
        )
    assert held.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "held for a second approver" in (held.value.details() or "")
    gw.app.ledger.integrate()
    entries = officer.audit.QueryLedger(
        audit_pb2.QueryLedgerRequest(subject_resident_id=person.person.resident_id)
    ).entries
    seen = {(e.org, e.method.rsplit("/", 1)[-1], e.outcome) for e in entries}
    assert (CHARITY_A, "RecordHelp", "FAILED_PRECONDITION") in seen


def test_an_attestation_by_another_charity_is_refused_without_opening_the_case(gw):
    """AttestDeletion names the person in its entry: the notification's consent and case are
    read by their columns, and another charity's attestation is refused with both sealed
    payloads unreadable."""
    from tests.e2e.flow import pull

    gov, charity_a, charity_b = gw.client(GOV), gw.client(CHARITY_A), gw.client(CHARITY_B)
    officer = gw.client(COMPLIANCE, "inspector-9")
    person = adults(1, seed=53)[0]
    referred = refer(gov, person, tag="sealed-attest")
    pull(charity_a, referred.referral_id)
    gov.consents.WithdrawConsent(
        consents_pb2.WithdrawConsentRequest(
            request_id="sealed-attest-withdraw", consent_id=referred.consent_id, reason="本人撤回"
        )
    )
    [notice] = charity_a.consents.ListNotifications(
        consents_pb2.ListNotificationsRequest()
    ).notifications
    _seal_shut(gw, referred)

    with pytest.raises(grpc.RpcError) as refused:
        charity_b.consents.AttestDeletion(
            consents_pb2.AttestDeletionRequest(
                request_id="sealed-attest",
                notification_id=notice.notification_id,
                statement="已删除",
            )
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    gw.app.ledger.integrate()
    entries = officer.audit.QueryLedger(
        audit_pb2.QueryLedgerRequest(subject_resident_id=person.person.resident_id)
    ).entries
    seen = {(e.org, e.method.rsplit("/", 1)[-1], e.outcome) for e in entries}
    assert (CHARITY_B, "AttestDeletion", "PERMISSION_DENIED") in seen
