"""Who may connect and call: mutual TLS refusals, revoked certificates, the actor metadata,
health and reflection."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from aidbridge.v1 import referrals_pb2, referrals_pb2_grpc
from certs import ca
from gateway.client import secure_channel
from gateway.store.models import LedgerEntry
from tests.e2e.flow import CHARITY_A


def _list_referrals(channel: grpc.Channel, metadata=(("x-aidbridge-actor", "staff-1"),)):
    stub = referrals_pb2_grpc.ReferralServiceStub(channel)
    return stub.ListReferrals(referrals_pb2.ListReferralsRequest(), metadata=metadata, timeout=10)


def _channel(gateway, cert_dir, org, ca_dir=None):
    root = ((ca_dir or gateway.certs) / "ca.pem").read_bytes()
    creds = grpc.ssl_channel_credentials(
        root_certificates=root,
        private_key=(cert_dir / f"{org}.key").read_bytes() if org else None,
        certificate_chain=(cert_dir / f"{org}.pem").read_bytes() if org else None,
    )
    return secure_channel(gateway.target, creds)


def test_call_without_client_certificate_is_refused(gateway):
    with _channel(gateway, gateway.certs, None) as channel, pytest.raises(grpc.RpcError) as err:
        _list_referrals(channel)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


def test_certificate_from_another_ca_is_refused(gateway, tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    ca.init_ca(foreign)
    ca.issue_client(foreign, CHARITY_A, "charity", "冒名机构")
    with _channel(gateway, foreign, CHARITY_A) as channel, pytest.raises(grpc.RpcError) as err:
        _list_referrals(channel)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


def test_expired_certificate_is_refused(gateway, tmp_path):
    out = tmp_path / "expired"
    out.mkdir()
    issued = ca.issue_client(
        gateway.certs,
        CHARITY_A,
        "charity",
        "过期",
        days=1,
        not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=10),
        out=out,
    )
    assert issued.cert_path.parent == out
    with _channel(gateway, out, CHARITY_A) as channel, pytest.raises(grpc.RpcError) as err:
        _list_referrals(channel)
    assert err.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAUTHENTICATED)


def test_revoked_certificate_is_refused_and_the_refusal_ledgered(gateway):
    from gateway import identity
    from gateway.store.models import RevokedCertificate

    fingerprint = identity.identity_from_pem(
        (gateway.certs / f"{CHARITY_A}.pem").read_bytes()
    ).fingerprint
    charity = gateway.client(CHARITY_A)
    charity.referrals.ListReferrals(referrals_pb2.ListReferralsRequest())
    with gateway.app.store.write() as session:
        session.add(RevokedCertificate(fingerprint=fingerprint, revoked_at_ns=1, reason="lost"))
    with pytest.raises(grpc.RpcError) as err:
        charity.referrals.ListReferrals(referrals_pb2.ListReferralsRequest())
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "revoked" in err.value.details()
    with gateway.app.store.read() as session:
        outcomes = [(e.org, e.outcome, e.reason) for e in session.query(LedgerEntry)]
    assert (CHARITY_A, "UNAUTHENTICATED", "client certificate has been revoked") in outcomes


def test_call_without_actor_metadata_is_refused_and_ledgered(gateway):
    with (
        _channel(gateway, gateway.certs, CHARITY_A) as channel,
        pytest.raises(grpc.RpcError) as err,
    ):
        _list_referrals(channel, metadata=())
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "x-aidbridge-actor" in err.value.details()
    with gateway.app.store.read() as session:
        outcomes = [(e.org, e.outcome) for e in session.query(LedgerEntry)]
    assert (CHARITY_A, "INVALID_ARGUMENT") in outcomes


def test_health_and_reflection_answer_over_mtls(gateway):
    with _channel(gateway, gateway.certs, CHARITY_A) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=10
        )
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        answers = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10
        )
        names = {s.name for a in answers for s in a.list_services_response.service}
    assert "aidbridge.v1.CaseService" in names and "aidbridge.v1.AuditService" in names
