"""CreateReferral prepared before the store's writer (``run_prepared_exchange``), through a real
gateway over mutual TLS on SQLite and PostgreSQL: what the call read changing before the writer
takes it gives the outcome the call gets when it runs inside the writer, a request sent many
times at once creates one referral, and every call is ledgered once."""

from __future__ import annotations

import threading

import grpc
import pytest
from sqlalchemy import func, select

from aidbridge.v1 import consents_pb2, integrity_pb2, referrals_pb2
from gateway.services import referrals as referral_service
from gateway.store.models import LedgerEntry, Referral
from gateway.workdir import init_workdir
from tests.conftest import fresh_postgres_url, start_gateway
from tests.e2e.flow import CHARITY_A, GOV, PURPOSE, adults, refer

CREATE = "aidbridge.v1.ReferralService/CreateReferral"


@pytest.fixture(params=["sqlite", "postgresql"])
def gw(request, tmp_path):
    db_url = "" if request.param == "sqlite" else fresh_postgres_url()
    yield from start_gateway(init_workdir(tmp_path / "work", db_url=db_url))


def _create(gov, referred, request_id: str) -> referrals_pb2.CreateReferralResponse:
    return gov.referrals.CreateReferral(
        referrals_pb2.CreateReferralRequest(
            request_id=request_id,
            case_id=referred.case_id,
            to_org=CHARITY_A,
            consent_id=referred.consent_id,
            purpose=PURPOSE,
            note="需要帮助",
        )
    )


def _count(gw, model, *where) -> int:
    with gw.app.store.read() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_consent_withdrawn_after_the_decision_and_before_the_write_stops_the_referral(
    gw, monkeypatch
):
    gov = gw.client(GOV)
    referred = refer(gov, adults(1)[0], tag="race")
    prepare = referral_service.ReferralService._prepare_create

    def withdrawn_meanwhile(self, session, call):
        prepared = prepare(self, session, call)
        gw.client(GOV, "staff-002").consents.WithdrawConsent(
            consents_pb2.WithdrawConsentRequest(
                request_id="withdraw-race", consent_id=referred.consent_id, reason="本人撤回"
            )
        )
        return prepared

    monkeypatch.setattr(referral_service.ReferralService, "_prepare_create", withdrawn_meanwhile)
    with pytest.raises(grpc.RpcError) as refused:
        _create(gov, referred, "second-referral")

    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # Only the first referral was made, and the withdrawal cancelled it.
    assert _count(gw, Referral, Referral.consent_id == referred.consent_id) == 1
    assert _count(gw, Referral, Referral.state == "requested") == 0
    entries = _count(gw, LedgerEntry, LedgerEntry.method == CREATE)
    assert _count(gw, LedgerEntry, LedgerEntry.method == CREATE, LedgerEntry.outcome == "OK") == 1
    assert entries == 2  # the first referral's and this refusal's


def test_a_relative_declared_after_the_decision_and_before_the_write_holds_the_referral(
    gw, monkeypatch
):
    caseworker = gw.client(GOV, "cw-007")
    person = adults(1, seed=43)[0]
    referred = refer(caseworker, person, tag="declared")
    prepare = referral_service.ReferralService._prepare_create

    def declared_meanwhile(self, session, call):
        prepared = prepare(self, session, call)
        caseworker.integrity.DeclareRelationship(
            integrity_pb2.DeclareRelationshipRequest(
                request_id="declare-meanwhile",
                relative_resident_id=person.person.resident_id,
                relationship=integrity_pb2.RELATIONSHIP_SIBLING,
            )
        )
        return prepared

    monkeypatch.setattr(referral_service.ReferralService, "_prepare_create", declared_meanwhile)
    with pytest.raises(grpc.RpcError) as held:
        _create(caseworker, referred, "declared-second")

    assert held.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "held for a second approver" in (held.value.details() or "")
    assert _count(gw, Referral, Referral.consent_id == referred.consent_id) == 1


def test_the_same_request_sent_at_once_creates_one_referral_and_one_answer(gw):
    gov = gw.client(GOV)
    referred = refer(gov, adults(1)[0], tag="dup")
    answers: list[referrals_pb2.CreateReferralResponse] = []
    failures: list[BaseException] = []

    def send() -> None:
        try:
            answers.append(_create(gov, referred, "same-request"))
        except grpc.RpcError as exc:
            failures.append(exc)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert failures == []
    assert len({a.SerializeToString(deterministic=True) for a in answers}) == 1
    assert _count(gw, Referral, Referral.consent_id == referred.consent_id) == 2
    assert _count(gw, LedgerEntry, LedgerEntry.method == CREATE) == 1 + 8


def test_a_prepared_referral_reads_back_as_it_was_answered(gw):
    gov = gw.client(GOV)
    referred = refer(gov, adults(1)[0], tag="back")
    made = _create(gov, referred, "read-back").referral

    got = gov.referrals.GetReferral(referrals_pb2.GetReferralRequest(referral_id=made.referral_id))

    assert got.referral_id == made.referral_id
    assert got.state == made.state == referrals_pb2.REFERRAL_STATE_REQUESTED
    assert got.note == made.note == "需要帮助"
    assert got.respond_by == made.respond_by
    assert _create(gov, referred, "read-back").referral == made  # a retry: the same answer
