"""Malformed requests, each case seen in the field, through the real mTLS gateway on SQLite and
PostgreSQL: every one is answered INVALID_ARGUMENT naming the field, stores nothing, and leaves a
ledger entry with outcome INVALID_ARGUMENT."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import func, select

from aidbridge.v1 import audit_pb2, cases_pb2, common_pb2, consents_pb2, referrals_pb2
from gateway.client import ACTOR_KEY
from gateway.store.models import (
    Case,
    Consent,
    ConsentEvent,
    IdempotentRequest,
    LedgerEntry,
    Notification,
    Referral,
    ReferralEvent,
)
from gateway.workdir import init_workdir
from tests.conftest import RunningGateway, fresh_postgres_url, start_gateway
from tests.e2e.flow import CHARITY_A, COMPLIANCE, GOV, Referred, adults, refer

STORED = (Case, Consent, ConsentEvent, Referral, ReferralEvent, Notification, IdempotentRequest)
YEAR_1_SECONDS = -62_135_596_800  # 0001-01-01T00:00:00Z


@dataclass
class World:
    gateway: RunningGateway
    referred: Referred
    clients: dict[str, Any]

    def client(self, org: str) -> Any:
        if org not in self.clients:
            self.clients[org] = self.gateway.client(org)
        return self.clients[org]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    db_url = "" if request.param == "sqlite" else fresh_postgres_url()
    config = init_workdir(tmp_path_factory.mktemp("validation") / "work", db_url=db_url)
    for running in start_gateway(config):
        referred = refer(running.client(GOV), adults(1)[0], tag="seed")
        yield World(running, referred, {})


def _stored(gateway: RunningGateway) -> dict[str, int]:
    with gateway.app.store.read() as session:  # type: ignore[attr-defined]
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in STORED
        }


def _last_entry(gateway: RunningGateway, method: str) -> LedgerEntry:
    with gateway.app.store.read() as session:  # type: ignore[attr-defined]
        row = session.scalars(
            select(LedgerEntry).where(LedgerEntry.method == method).order_by(LedgerEntry.id.desc())
        ).first()
    assert row is not None, f"no ledger entry for {method}"
    return row


def _ts(seconds: int, nanos: int = 0) -> Timestamp:
    return Timestamp(seconds=seconds, nanos=nanos)


def _case(world: World, **changes: Any) -> cases_pb2.RegisterCaseRequest:
    case = cases_pb2.Case()
    case.CopyFrom(adults(2)[1])
    for name, value in changes.items():
        field = getattr(case, name)
        if isinstance(value, list):
            del field[:]
            field.extend(value)
        elif isinstance(value, Message):
            field.CopyFrom(value)
        else:
            setattr(case, name, value)
    return cases_pb2.RegisterCaseRequest(request_id="malformed-case", case=case)


def _referrals(world: World, **kw: Any) -> referrals_pb2.UpdateReferralStateRequest:
    return referrals_pb2.UpdateReferralStateRequest(
        request_id="malformed-update", referral_id=world.referred.referral_id, **kw
    )


def _withdraw(world: World, reason: str) -> consents_pb2.WithdrawConsentRequest:
    return consents_pb2.WithdrawConsentRequest(
        request_id="malformed-withdraw", consent_id=world.referred.consent_id, reason=reason
    )


@dataclass(frozen=True)
class Malformed:
    org: str
    method: str
    build: Callable[[World], Message]
    field: str


CASES = {
    "undefined severity": Malformed(
        GOV, "CaseService/RegisterCase", lambda w: _case(w, severity=99), "case.severity"
    ),
    "undefined hardship type": Malformed(
        GOV,
        "CaseService/RegisterCase",
        lambda w: _case(w, hardship_types=[1, 42]),
        "case.hardship_types[1]",
    ),
    "undefined special group": Malformed(
        GOV,
        "CaseService/RegisterCase",
        lambda w: _case(w, special_groups=[-1]),
        "case.special_groups[0]",
    ),
    "undefined need": Malformed(
        GOV, "CaseService/RegisterCase", lambda w: _case(w, needs=[2**31 - 1]), "case.needs[0]"
    ),
    "largest int32 as referral state filter": Malformed(
        GOV,
        "ReferralService/ListReferrals",
        lambda w: referrals_pb2.ListReferralsRequest(state=2147483647),
        "state",
    ),
    "negative referral state": Malformed(
        CHARITY_A, "ReferralService/UpdateReferralState", lambda w: _referrals(w, state=-5), "state"
    ),
    "since 2**62 seconds": Malformed(
        COMPLIANCE,
        "AuditService/QueryLedger",
        lambda w: audit_pb2.QueryLedgerRequest(since=_ts(2**62)),
        "since",
    ),
    "until before year 1": Malformed(
        COMPLIANCE,
        "AuditService/QueryLedger",
        lambda w: audit_pb2.QueryLedgerRequest(until=_ts(YEAR_1_SECONDS - 86_400)),
        "until",
    ),
    "negative nanos": Malformed(
        COMPLIANCE,
        "AuditService/QueryLedger",
        lambda w: audit_pb2.QueryLedgerRequest(since=_ts(1_700_000_000, -1)),
        "since.nanos",
    ),
    "blank resident id": Malformed(
        COMPLIANCE,
        "AuditService/QueryLedger",
        lambda w: audit_pb2.QueryLedgerRequest(subject_resident_id=" "),
        "subject_resident_id",
    ),
    "whitespace resident id": Malformed(
        COMPLIANCE,
        "AuditService/QueryLedger",
        lambda w: audit_pb2.QueryLedgerRequest(subject_resident_id="\t\n "),
        "subject_resident_id",
    ),
    "ledger page token beyond a BIGINT": Malformed(
        COMPLIANCE,
        "AuditService/QueryLedger",
        lambda w: audit_pb2.QueryLedgerRequest(page=common_pb2.PageRequest(page_token=str(2**63))),
        "page.page_token",
    ),
    "reverse-referral page token beyond a BIGINT": Malformed(
        GOV,
        "ReferralService/ListReverseReferrals",
        lambda w: referrals_pb2.ListReverseReferralsRequest(
            page=common_pb2.PageRequest(page_token=f"{2**63}.rr_x")
        ),
        "page.page_token",
    ),
    "reverse-referral page token without an id": Malformed(
        CHARITY_A,
        "ReferralService/ListReverseReferrals",
        lambda w: referrals_pb2.ListReverseReferralsRequest(
            page=common_pb2.PageRequest(page_token="9223372036854775807")
        ),
        "page.page_token",
    ),
    "negative referral page token": Malformed(
        CHARITY_A,
        "ReferralService/ListReferrals",
        lambda w: referrals_pb2.ListReferralsRequest(
            page=common_pb2.PageRequest(page_token="1.-1.ref_x")
        ),
        "page.page_token",
    ),
    "3.5 MB withdrawal reason": Malformed(
        GOV,
        "ConsentService/WithdrawConsent",
        lambda w: _withdraw(w, "撤回" * (3_500_000 // 6)),
        "reason",
    ),
    "consent valid until beyond int64 nanoseconds": Malformed(
        GOV,
        "ConsentService/RecordConsent",
        lambda w: consents_pb2.RecordConsentRequest(
            request_id="malformed-consent",
            consent=consents_pb2.Consent(case_id=w.referred.case_id, valid_until=_ts(2**40)),
        ),
        "consent.valid_until",
    ),
    "control character in a name": Malformed(
        GOV,
        "CaseService/RegisterCase",
        lambda w: _case(w, person=cases_pb2.Person(name="张\x00三")),
        "case.person.name",
    ),
}


def _call(world: World, org: str, method: str, payload: bytes) -> grpc.RpcError:
    stub = world.client(org).channel.unary_unary(
        f"/aidbridge.v1.{method}", request_serializer=None, response_deserializer=None
    )
    with pytest.raises(grpc.RpcError) as err:
        stub(payload, metadata=((ACTOR_KEY, "staff-001"),), timeout=30)
    return err.value


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_malformed_request_is_invalid_argument_naming_the_field_stores_nothing_and_is_ledgered(
    world: World, case: Malformed
) -> None:
    before = _stored(world.gateway)
    message = case.build(world)
    error = _call(world, case.org, case.method, message.SerializeToString())
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith(case.field + " "), error.details()[:200]
    assert len(error.details()) < 300  # says what was found without echoing the value
    assert _stored(world.gateway) == before
    entry = _last_entry(world.gateway, f"aidbridge.v1.{case.method}")
    assert entry.outcome == "INVALID_ARGUMENT"
    assert entry.reason == error.details()
    assert entry.org == case.org


def test_a_rejected_withdrawal_leaves_the_consent_active(world: World) -> None:
    _call(
        world,
        GOV,
        "ConsentService/WithdrawConsent",
        _withdraw(world, "x" * 2001).SerializeToString(),
    )
    consent = world.client(GOV).consents.GetConsent(
        consents_pb2.GetConsentRequest(consent_id=world.referred.consent_id)
    )
    assert consent.state == consents_pb2.CONSENT_STATE_ACTIVE


@pytest.mark.parametrize(
    ("method", "message_type"),
    [
        ("CaseService/RegisterCase", "aidbridge.v1.RegisterCaseRequest"),
        ("AuditService/QueryLedger", "aidbridge.v1.QueryLedgerRequest"),
        ("CaseService/StreamCaseSummaries", "aidbridge.v1.StreamCaseSummariesRequest"),
    ],
)
def test_bytes_that_do_not_decode_are_invalid_argument_and_ledgered_for_the_caller(
    world: World, method: str, message_type: str
) -> None:
    before = _stored(world.gateway)
    # Field 1 as a length-delimited string of 5 bytes, but only 2 follow: a truncated message.
    garbage = b"\x0a\x05ab"
    channel = world.client(COMPLIANCE).channel
    path = f"/aidbridge.v1.{method}"
    metadata = ((ACTOR_KEY, "staff-001"),)
    with pytest.raises(grpc.RpcError) as err:
        if method.endswith("StreamCaseSummaries"):
            list(channel.unary_stream(path)(garbage, metadata=metadata, timeout=30))
        else:
            channel.unary_unary(path)(garbage, metadata=metadata, timeout=30)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details() == f"the request is not a valid {message_type}"
    assert _stored(world.gateway) == before
    entry = _last_entry(world.gateway, f"aidbridge.v1.{method}")
    assert entry.outcome == "INVALID_ARGUMENT"
    assert entry.org == COMPLIANCE
    assert entry.actor == "staff-001"


def test_a_defect_in_a_handler_is_answered_internal_ledgered_and_logged_without_its_message(
    gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    from structlog.testing import capture_logs

    from gateway import cases

    secret = "张三 110105194912310029"

    def broken(_session: Any, _case_id: str) -> Any:
        raise RuntimeError(f"defect while reading {secret}")

    monkeypatch.setattr(cases, "read_case", broken)
    gov = gateway.client(GOV)
    with capture_logs() as logs, pytest.raises(grpc.RpcError) as err:
        gov.cases.GetCase(cases_pb2.GetCaseRequest(case_id="case-1"))
    assert err.value.code() == grpc.StatusCode.INTERNAL
    assert secret not in err.value.details()
    entry = _last_entry(gateway, "aidbridge.v1.CaseService/GetCase")
    assert entry.outcome == "INTERNAL"
    assert secret not in entry.reason
    defects = [e for e in logs if e.get("error") == "RuntimeError"]
    assert defects, logs
    assert all(secret not in str(e) for e in logs)
