"""The walking skeleton's flow through a real gateway over mutual TLS: a consented referral from
government to charity A, charity B refused, a compliance officer's ledger query and verification."""

from __future__ import annotations

import time
from datetime import date

import grpc
import pytest

from aidbridge.v1 import audit_pb2, cases_pb2, consents_pb2, referrals_pb2
from gateway.cases import age_on
from gateway.clock import to_date
from gateway.privacy.generalise import age_band
from tests.conftest import start_gateway
from tests.e2e.flow import (
    CHARITY_A,
    CHARITY_B,
    COMPLIANCE,
    GOV,
    PURPOSE,
    adults,
    consent_message,
    pull,
    refer,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def gw(request, tmp_path):
    from gateway.workdir import init_workdir
    from tests.conftest import fresh_postgres_url

    db_url = "" if request.param == "sqlite" else fresh_postgres_url()
    yield from start_gateway(init_workdir(tmp_path / "work", db_url=db_url))


def test_charity_receives_only_consented_fields_under_its_own_pseudonym(gw):
    gov, charity_a = gw.client(GOV), gw.client(CHARITY_A)
    person = adults(1)[0]
    referred = refer(gov, person, tag="happy")

    listed = charity_a.referrals.ListReferrals(referrals_pb2.ListReferralsRequest())
    assert [r.referral_id for r in listed.referrals] == [referred.referral_id]
    summary = pull(charity_a, referred.referral_id)

    assert summary.subject.startswith("k1.")
    assert summary.subject == listed.referrals[0].subject
    assert person.person.resident_id not in summary.subject
    born = date.fromisoformat(person.person.birth_date)
    assert summary.age_band == age_band(born, to_date(time.time_ns()), 10)
    assert summary.HasField("area") and summary.area == person.person.street
    assert summary.HasField("health_category")
    assert list(summary.hardship_types) == list(person.hardship_types)
    # Not consented: absent, not blank.
    for absent in ("income_band", "assistance_status", "disability_category"):
        assert not summary.HasField(absent), absent
    released = {r.field for r in summary.released}
    assert "monthly_income" not in released and "name" not in released
    assert summary.consent_id == referred.consent_id and summary.purpose == PURPOSE


def test_no_response_to_a_charity_carries_a_direct_identifier(gw):
    gov, charity_a = gw.client(GOV), gw.client(CHARITY_A)
    person = adults(1, seed=11)[0]
    referred = refer(gov, person, tag="ids")
    responses = [
        charity_a.referrals.ListReferrals(referrals_pb2.ListReferralsRequest()),
        charity_a.referrals.GetReferral(
            referrals_pb2.GetReferralRequest(referral_id=referred.referral_id)
        ),
        pull(charity_a, referred.referral_id),
    ]
    secrets = [
        person.person.resident_id,
        person.person.name,
        person.person.phone,
        person.person.address,
        str(person.monthly_income_fen),
    ]
    for response in responses:
        wire = response.SerializeToString().decode("utf-8", errors="replace")
        for secret in secrets:
            assert secret not in wire, f"{type(response).__name__} leaked {secret!r}"


def test_charity_b_is_refused_the_case_referred_to_charity_a(gw):
    gov, charity_b = gw.client(GOV), gw.client(CHARITY_B)
    referred = refer(gov, adults(1)[0], tag="b")
    with pytest.raises(grpc.RpcError) as refused:
        pull(charity_b, referred.referral_id)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert refused.value.details()
    listed = charity_b.referrals.ListReferrals(referrals_pb2.ListReferralsRequest())
    assert list(listed.referrals) == []


def test_ledger_holds_allowed_and_denied_calls_and_verifies(gw):
    gov, charity_a, charity_b = gw.client(GOV), gw.client(CHARITY_A), gw.client(CHARITY_B)
    officer = gw.client(COMPLIANCE, "inspector-9")
    person = adults(1)[0]
    referred = refer(gov, person, tag="ledger")
    pull(charity_a, referred.referral_id)
    with pytest.raises(grpc.RpcError):
        pull(charity_b, referred.referral_id)
    gw.app.ledger.integrate()

    entries = officer.audit.QueryLedger(
        audit_pb2.QueryLedgerRequest(subject_resident_id=person.person.resident_id)
    ).entries
    seen = {(e.org, e.method.rsplit("/", 1)[-1], e.outcome) for e in entries}
    assert (CHARITY_A, "PullCaseSummary", "OK") in seen
    assert (CHARITY_B, "PullCaseSummary", "PERMISSION_DENIED") in seen
    assert (GOV, "RegisterCase", "OK") in seen
    assert all(e.index >= 0 for e in entries)
    assert person.person.resident_id not in "".join(e.entry_json for e in entries)
    assert person.person.name not in "".join(e.entry_json for e in entries)

    verified = officer.audit.VerifyLedger(audit_pb2.VerifyLedgerRequest())
    assert verified.ok, list(verified.problems)
    assert verified.tree_size >= len(entries)


def test_a_charity_cannot_register_cases_or_read_the_ledger(gw):
    charity_a = gw.client(CHARITY_A)
    person = adults(1)[0]
    with pytest.raises(grpc.RpcError) as refused:
        charity_a.cases.RegisterCase(cases_pb2.RegisterCaseRequest(request_id="x", case=person))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as refused:
        charity_a.audit.QueryLedger(audit_pb2.QueryLedgerRequest())
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_refused_pull_never_opens_the_case(gw):
    """The case is decrypted only once the policy allowed the release: with its sealed payload
    made unreadable, the other charity's pull is still refused as not permitted (an attempt to
    open it would fail the call), and the refusal is found by the person's resident id."""
    from sqlalchemy import update

    from gateway.store.models import Case

    gov, charity_b = gw.client(GOV), gw.client(CHARITY_B)
    officer = gw.client(COMPLIANCE, "inspector-9")
    person = adults(1, seed=23)[0]
    referred = refer(gov, person, tag="sealed")
    with gw.app.store.write() as session:
        session.execute(
            update(Case).where(Case.case_id == referred.case_id).values(payload_enc=b"\0" * 64)
        )

    with pytest.raises(grpc.RpcError) as refused:
        pull(charity_b, referred.referral_id)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as unreadable:
        pull(gw.client(CHARITY_A), referred.referral_id)
    assert unreadable.value.code() == grpc.StatusCode.INTERNAL
    gw.app.ledger.integrate()

    entries = officer.audit.QueryLedger(
        audit_pb2.QueryLedgerRequest(subject_resident_id=person.person.resident_id)
    ).entries
    seen = {(e.org, e.method.rsplit("/", 1)[-1], e.outcome) for e in entries}
    assert (CHARITY_B, "PullCaseSummary", "PERMISSION_DENIED") in seen


def test_a_referral_note_loses_what_the_release_withholds(gw):
    """The issue's note: name, exact age, income and illness, none of which a summary releases
    plain, reach the charity as tags; the sending office reads its note as written."""
    gov, charity_a = gw.client(GOV), gw.client(CHARITY_A)
    person = adults(1, seed=31)[0]
    p = person.person
    age = age_on(p.birth_date, to_date(gw.app.clock.now_ns()))
    note = (
        f"{p.name}，{age}岁，月收入约{person.monthly_income_fen // 100}元，"
        f"患{person.health_condition}，住{p.community}，"
        f"电话 {p.phone[:3]} {p.phone[3:7]} {p.phone[7:]}"
    )
    case_id = gov.cases.RegisterCase(
        cases_pb2.RegisterCaseRequest(request_id="note-case", case=person)
    ).case_id
    consent = gov.consents.RecordConsent(
        consents_pb2.RecordConsentRequest(
            request_id="note-consent", consent=consent_message(case_id, name=p.name)
        )
    ).consent
    referral = gov.referrals.CreateReferral(
        referrals_pb2.CreateReferralRequest(
            request_id="note-referral",
            case_id=case_id,
            to_org=CHARITY_A,
            consent_id=consent.consent_id,
            purpose=PURPOSE,
            note=note,
        )
    ).referral
    assert referral.note == note and referral.case_id == case_id  # the office's own view

    listed = charity_a.referrals.ListReferrals(referrals_pb2.ListReferralsRequest()).referrals
    seen = next(r for r in listed if r.referral_id == referral.referral_id)
    assert seen.note == "[申请人]，[年龄]，月收入约[收入]元，患[健康状况]，住[社区]，电话 [手机号]"
    assert not seen.case_id and seen.subject.startswith("k1.")
    detail = charity_a.referrals.GetReferral(
        referrals_pb2.GetReferralRequest(referral_id=referral.referral_id)
    )
    assert detail.note == seen.note
