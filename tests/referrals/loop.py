"""Steps of the referral loop shared by its end-to-end tests: a gateway on a fixed clock, cases
referred with a chosen severity and street, help and reverse referrals as a user builds them."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from sqlalchemy import func, select

from aidbridge.v1 import cases_pb2, common_pb2, consents_pb2, referrals_pb2
from gateway.clock import NS_PER_DAY, FixedClock
from gateway.services.convert import timestamp
from gateway.store.models import LedgerEntry
from tests.conftest import fresh_postgres_url, start_gateway
from tests.e2e.flow import CHARITY_A, adults, consent_message

GUANYINQIAO = "观音桥街道"
YUZUI = "鱼嘴镇"
S = referrals_pb2


@pytest.fixture(params=["sqlite", "postgresql"])
def loop_gw(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Any]:
    from gateway.workdir import init_workdir

    db_url = "" if request.param == "sqlite" else fresh_postgres_url()
    clock = FixedClock(time.time_ns())
    for running in start_gateway(init_workdir(tmp_path / "work", db_url=db_url), clock=clock):
        running.clock = clock
        yield running


def person(seed: int, *, severity: int = 0, street: str = "") -> cases_pb2.Case:
    case = cases_pb2.Case()
    case.CopyFrom(adults(1, seed=seed)[0])
    if severity:
        case.severity = severity
    if street:
        case.person.street = street
    return case


def refer(
    gw: Any,
    gov: Any,
    case: cases_pb2.Case,
    *,
    tag: str,
    to: str = CHARITY_A,
    days: int = 0,
    **extra: Any,
) -> S.Referral:
    case_id = gov.cases.RegisterCase(
        cases_pb2.RegisterCaseRequest(request_id=f"case-{tag}", case=case)
    ).case_id
    consent = gov.consents.RecordConsent(
        consents_pb2.RecordConsentRequest(
            request_id=f"consent-{tag}",
            consent=consent_message(
                case_id, recipient=to, name=case.person.name, now_ns=gw.clock.now_ns()
            ),
        )
    ).consent
    return gov.referrals.CreateReferral(
        S.CreateReferralRequest(
            request_id=f"referral-{tag}",
            case_id=case_id,
            to_org=to,
            consent_id=consent.consent_id,
            purpose=consent.purpose,
            note=f"请尽快联系{case.person.name}",
            respond_within_days=days,
            **extra,
        )
    ).referral


def set_state(client: Any, referral_id: str, state: int, *, rid: str, **kw: Any) -> S.Referral:
    return client.referrals.UpdateReferralState(
        S.UpdateReferralStateRequest(request_id=rid, referral_id=referral_id, state=state, **kw)
    )


def help_request(
    gw: Any, referral_id: str, *, rid: str, kind: int = common_pb2.HELP_KIND_MATERIAL, **kw: Any
) -> S.RecordHelpRequest:
    fields: dict[str, Any] = {"value_fen": 50_000, "delivered_at": timestamp(gw.clock.now_ns())}
    fields.update(kw)
    return S.RecordHelpRequest(
        request_id=rid, help=S.HelpDelivered(referral_id=referral_id, kind=kind, **fields)
    )


def reverse_request(
    gw: Any, case: cases_pb2.Case, *, rid: str, office: str, consent_office: str = "", **kw: Any
) -> S.CreateReverseReferralRequest:
    now = gw.app.clock.now_ns()
    referral = S.ReverseReferral(
        to_office=office,
        subject_name=case.person.name,
        subject_resident_id=case.person.resident_id,
        subject_phone=case.person.phone,
        street=case.person.street,
        reason="家中老人失能，收入低于低保线，尚未申请",
        suspected_aid=common_pb2.HARDSHIP_TYPE_MINIMUM_LIVING,
        consent=S.ReverseReferralConsent(
            grantor=consents_pb2.Grantor(
                kind=consents_pb2.GRANTOR_KIND_SUBJECT, name=case.person.name
            ),
            notice=consents_pb2.Notice(version="rr-v1", sha256=hashlib.sha256(b"n").hexdigest()),
            evidence=consents_pb2.Evidence(
                form_sha256=hashlib.sha256(b"form").hexdigest(), witness="社工"
            ),
            recipient_office=consent_office or office,
            purpose="social_assistance_assessment",
            valid_from=timestamp(now - 60 * 10**9),
            valid_until=timestamp(now + 90 * NS_PER_DAY),
        ),
    )
    for name, value in kw.items():
        setattr(referral, name, value)
    return S.CreateReverseReferralRequest(request_id=rid, referral=referral)


def refused(method: Any, request: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as err:
        method(request)
    return err.value


def count(gw: Any, model: Any) -> int:
    with gw.app.store.read() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def ledger(gw: Any, method: str) -> list[LedgerEntry]:
    with gw.app.store.read() as session:
        return list(
            session.scalars(
                select(LedgerEntry).where(LedgerEntry.method == method).order_by(LedgerEntry.id)
            )
        )
