"""Write calls prepared before the store's writer (``run_prepared_exchange``), through a real
gateway over mutual TLS on SQLite and PostgreSQL: a call takes the prepared way (the gateway's
``write_paths`` count it), what the call read changing before the writer takes it sends it back
into the writer and gives the outcome the call gets there, a request sent many times at once is
made once, and every call is ledgered once."""

from __future__ import annotations

import threading

import grpc
import pytest
from sqlalchemy import func, select

from aidbridge.v1 import consents_pb2, integrity_pb2, referrals_pb2
from gateway.services import referrals as referral_service
from gateway.store.models import LedgerEntry, Referral, ReferralEvent
from gateway.workdir import init_workdir
from tests.conftest import fresh_postgres_url, start_gateway
from tests.e2e.flow import CHARITY_A, GOV, PURPOSE, adults, refer

CREATE = "aidbridge.v1.ReferralService/CreateReferral"
UPDATE = "aidbridge.v1.ReferralService/UpdateReferralState"


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


def _sent_at_once(send, times: int = 8) -> tuple[list, list[grpc.RpcError]]:
    """``send`` called from ``times`` threads at once: the answers and the errors."""
    answers: list = []
    failures: list[grpc.RpcError] = []

    def one() -> None:
        try:
            answers.append(send())
        except grpc.RpcError as exc:
            failures.append(exc)

    threads = [threading.Thread(target=one) for _ in range(times)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers, failures


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
    answers, failures = _sent_at_once(lambda: _create(gov, referred, "same-request"))

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


def test_a_created_referral_took_the_prepared_way(gw):
    gov = gw.client(GOV)
    referred = refer(gov, adults(1)[0], tag="way")
    before = gw.app.write_paths.of(CREATE)

    _create(gov, referred, "prepared-way")

    after = gw.app.write_paths.of(CREATE)
    assert after["prepared"] == before["prepared"] + 1
    assert after["stale"] == before["stale"]


# --- UpdateReferralState: a guarded update of the referral's state ---------------------------


def _update(client, referral_id: str, request_id: str, state: int, **more):
    return client.referrals.UpdateReferralState(
        referrals_pb2.UpdateReferralStateRequest(
            request_id=request_id, referral_id=referral_id, state=state, **more
        )
    )


def _events(gw, referral_id: str) -> list[str]:
    with gw.app.store.read() as session:
        return list(
            session.scalars(
                select(ReferralEvent.state)
                .where(ReferralEvent.referral_id == referral_id)
                .order_by(ReferralEvent.id)
            )
        )


def test_a_state_change_is_prepared_and_reads_back_as_it_was_answered(gw):
    gov, charity = gw.client(GOV), gw.client(CHARITY_A)
    referred = refer(gov, adults(1)[0], tag="upd")
    before = gw.app.write_paths.of(UPDATE)

    accepted = _update(
        charity, referred.referral_id, "accept", referrals_pb2.REFERRAL_STATE_ACCEPTED
    )

    assert gw.app.write_paths.of(UPDATE)["prepared"] == before["prepared"] + 1
    got = gov.referrals.GetReferral(
        referrals_pb2.GetReferralRequest(referral_id=referred.referral_id)
    )
    assert accepted.state == got.state == referrals_pb2.REFERRAL_STATE_ACCEPTED
    assert accepted.updated_at == got.updated_at
    assert _events(gw, referred.referral_id) == ["requested", "accepted"]
    retry = _update(charity, referred.referral_id, "accept", referrals_pb2.REFERRAL_STATE_ACCEPTED)
    assert retry == accepted  # the first answer, nothing moved again
    assert _events(gw, referral_id=referred.referral_id) == ["requested", "accepted"]
    with gw.app.store.read() as session:
        assert session.get(Referral, referred.referral_id).state == "accepted"


def test_a_prepared_rejection_answers_its_reason_as_a_read_does(gw):
    gov, charity = gw.client(GOV), gw.client(CHARITY_A)
    referred = refer(gov, adults(1, seed=44)[0], tag="rej")

    rejected = _update(
        charity,
        referred.referral_id,
        "reject",
        referrals_pb2.REFERRAL_STATE_REJECTED,
        reason="名额已满",
        rejection_reason=referrals_pb2.REJECTION_REASON_NO_CAPACITY,
    )

    got = gov.referrals.GetReferral(
        referrals_pb2.GetReferralRequest(referral_id=referred.referral_id)
    )
    assert rejected.rejection_reason == got.rejection_reason
    assert rejected.rejection_reason == referrals_pb2.REJECTION_REASON_NO_CAPACITY
    assert rejected.state == got.state == referrals_pb2.REFERRAL_STATE_REJECTED


def _racing_update(monkeypatch, meanwhile) -> None:
    """Make ``meanwhile`` happen once, after the next UpdateReferralState was prepared and
    before the writer takes it."""
    prepare = referral_service.ReferralService._prepare_update
    done: list[bool] = []

    def raced(self, session, call):
        prepared = prepare(self, session, call)
        if not done:
            done.append(True)
            meanwhile()
        return prepared

    monkeypatch.setattr(referral_service.ReferralService, "_prepare_update", raced)


def test_a_referral_cancelled_between_the_decision_and_the_write_is_not_accepted(gw, monkeypatch):
    gov, charity = gw.client(GOV), gw.client(CHARITY_A)
    referred = refer(gov, adults(1, seed=45)[0], tag="upd-race")
    _racing_update(
        monkeypatch,
        lambda: gw.client(GOV, "staff-002").consents.WithdrawConsent(
            consents_pb2.WithdrawConsentRequest(
                request_id="withdraw-upd", consent_id=referred.consent_id, reason="本人撤回"
            )
        ),
    )
    before = gw.app.write_paths.of(UPDATE)

    with pytest.raises(grpc.RpcError) as refused:
        _update(charity, referred.referral_id, "late-accept", referrals_pb2.REFERRAL_STATE_ACCEPTED)

    # The handler's outcome: a withdrawn consent's referral is cancelled and moves no more.
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert gw.app.write_paths.of(UPDATE)["stale"] == before["stale"] + 1
    assert _events(gw, referred.referral_id) == ["requested", "cancelled-by-withdrawal"]
    assert _count(gw, LedgerEntry, LedgerEntry.method == UPDATE, LedgerEntry.outcome == "OK") == 0
    assert _count(gw, LedgerEntry, LedgerEntry.method == UPDATE) == 1


def test_a_referral_moved_on_by_another_call_is_moved_once(gw, monkeypatch):
    gov, charity = gw.client(GOV), gw.client(CHARITY_A)
    referred = refer(gov, adults(1, seed=46)[0], tag="upd-twice")
    _racing_update(
        monkeypatch,
        lambda: _update(
            gw.client(CHARITY_A, "staff-009"),
            referred.referral_id,
            "other-accept",
            referrals_pb2.REFERRAL_STATE_ACCEPTED,
        ),
    )

    with pytest.raises(grpc.RpcError) as refused:
        _update(
            charity, referred.referral_id, "first-accept", referrals_pb2.REFERRAL_STATE_ACCEPTED
        )

    # Accepted already: the machine has no step from accepted to accepted.
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert _events(gw, referred.referral_id) == ["requested", "accepted"]


def test_a_request_id_used_meanwhile_answers_the_first_response(gw, monkeypatch):
    gov, charity = gw.client(GOV), gw.client(CHARITY_A)
    referred = refer(gov, adults(1, seed=48)[0], tag="upd-id")
    first: list[referrals_pb2.Referral] = []
    _racing_update(
        monkeypatch,
        lambda: first.append(
            _update(charity, referred.referral_id, "same-id", referrals_pb2.REFERRAL_STATE_ACCEPTED)
        ),
    )
    before = gw.app.write_paths.of(UPDATE)

    answer = _update(
        charity, referred.referral_id, "same-id", referrals_pb2.REFERRAL_STATE_ACCEPTED
    )

    assert answer == first[0]
    after = gw.app.write_paths.of(UPDATE)
    assert (after["prepared"], after["stale"]) == (before["prepared"] + 1, before["stale"] + 1)
    assert _events(gw, referred.referral_id) == ["requested", "accepted"]
    assert _count(gw, LedgerEntry, LedgerEntry.method == UPDATE) == 2


def test_the_same_state_change_sent_at_once_moves_the_referral_once(gw):
    gov, charity = gw.client(GOV), gw.client(CHARITY_A)
    referred = refer(gov, adults(1, seed=49)[0], tag="upd-dup")
    answers, failures = _sent_at_once(
        lambda: _update(charity, referred.referral_id, "dup", referrals_pb2.REFERRAL_STATE_ACCEPTED)
    )

    assert failures == []
    assert len({a.SerializeToString(deterministic=True) for a in answers}) == 1
    assert _events(gw, referred.referral_id) == ["requested", "accepted"]
    assert _count(gw, LedgerEntry, LedgerEntry.method == UPDATE) == 8
