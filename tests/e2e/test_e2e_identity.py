"""Who tried, and what changed without a call: a certificate that passes the TLS handshake but
not the identity convention (or the gateway's clock) is refused with its fingerprint, subject and
issuer in the ledger; revocation, the expiry sweep, policy reload, key creation at init and
registering an organisation each write a ledger entry of their own (gateway/ledger/system.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import time
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import select
from typer.testing import CliRunner

from aidbridge.v1 import referrals_pb2, referrals_pb2_grpc
from gateway import sweeps
from gateway.cli import app as cli
from gateway.client import secure_channel
from gateway.clock import NS_PER_DAY, FixedClock
from gateway.server import reload_policy
from gateway.store import Store
from gateway.store.models import LedgerEntry
from gateway.workdir import init_workdir
from tests.conftest import fresh_postgres_url, start_gateway
from tests.e2e.flow import CHARITY_A, GOV, adults, refer

runner = CliRunner()


def _entries(store: Store, method: str | None = None) -> list[dict]:
    with store.read() as session:
        rows = session.scalars(select(LedgerEntry.entry_json).order_by(LedgerEntry.id)).all()
    documents = [json.loads(row) for row in rows]
    return [d for d in documents if method is None or d["method"] == method]


def _forge_client(ca_dir: Path, out: Path, org: str, role: str) -> Path:
    """A client certificate signed by the deployment's CA (so TLS accepts it) for a role the
    identity convention does not know; returns the directory holding <org>.pem/.key."""
    ca_cert = x509.load_pem_x509_certificate((ca_dir / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((ca_dir / "ca.key").read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, org),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "冒名机构"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(f"urn:aidbridge:org:{org}:{role}")]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{org}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (out / f"{org}.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return out


def _call_with(gw, cert_dir: Path, org: str) -> grpc.RpcError:
    creds = grpc.ssl_channel_credentials(
        root_certificates=(gw.certs / "ca.pem").read_bytes(),
        private_key=(cert_dir / f"{org}.key").read_bytes(),
        certificate_chain=(cert_dir / f"{org}.pem").read_bytes(),
    )
    with secure_channel(gw.target, creds) as channel, pytest.raises(grpc.RpcError) as err:
        referrals_pb2_grpc.ReferralServiceStub(channel).ListReferrals(
            referrals_pb2.ListReferralsRequest(),
            metadata=(("x-aidbridge-actor", "staff-1"),),
            timeout=10,
        )
    return err.value


def _fingerprint(pem_path: Path) -> str:
    cert = x509.load_pem_x509_certificate(pem_path.read_bytes())
    return cert.fingerprint(hashes.SHA256()).hex()


# --- refused certificates ---------------------------------------------------------------------


def test_a_certificate_with_an_unknown_role_is_ledgered_with_its_fingerprint_subject_and_issuer(
    gateway, tmp_path
):
    forged = _forge_client(gateway.certs, tmp_path / "forged", "charity-rogue", "admin")
    refused = _call_with(gateway, forged, "charity-rogue")
    assert refused.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "unknown role 'admin'" in refused.details()
    [entry] = [e for e in _entries(gateway.app.store) if e["outcome"] == "UNAUTHENTICATED"]
    assert entry["org"] == "unknown"
    assert entry["cert_fingerprint"] == _fingerprint(forged / "charity-rogue.pem")
    # RFC 4514 writes the last RDN first.
    assert entry["cert_subject"] == "OU=admin,O=冒名机构,CN=charity-rogue"
    assert entry["cert_issuer"] == "CN=AidBridge development CA"
    assert entry["method"] == "aidbridge.v1.ReferralService/ListReferrals"


def test_a_certificate_expired_by_the_gateways_clock_is_ledgered_with_who_tried(work):
    # TLS checks validity against the machine's clock; the gateway against its own. A gateway
    # whose clock is past the certificate's notAfter refuses it after the handshake.
    later = FixedClock(time.time_ns() + 400 * NS_PER_DAY)
    for gw in start_gateway(dataclasses.replace(work, sweep_interval_s=86_400.0), clock=later):
        refused = _call_with(gw, gw.certs, CHARITY_A)
        assert refused.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "expired" in refused.details()
        [entry] = [e for e in _entries(gw.app.store) if e["outcome"] == "UNAUTHENTICATED"]
        assert entry["cert_fingerprint"] == _fingerprint(gw.certs / f"{CHARITY_A}.pem")
        assert entry["cert_subject"] == f"OU=charity,O=重庆阳光慈善会,CN={CHARITY_A}"
        assert entry["cert_issuer"] == "CN=AidBridge development CA"


def test_an_identified_callers_entry_carries_no_certificate_names(gateway):
    gateway.client(CHARITY_A).referrals.ListReferrals(referrals_pb2.ListReferralsRequest())
    [entry] = _entries(gateway.app.store, "aidbridge.v1.ReferralService/ListReferrals")
    assert entry["org"] == CHARITY_A and entry["outcome"] == "OK"
    assert "cert_subject" not in entry and "cert_issuer" not in entry


# --- state changes that are not calls ---------------------------------------------------------


def test_init_ledgers_the_creation_of_the_keys_naming_only_public_facts(work):
    [entry] = _entries(Store(work.database_url), "aidbridge.system/CreateKeys")
    assert (entry["org"], entry["role"], entry["outcome"]) == ("aidbridge", "gateway", "OK")
    assert entry["actor"].startswith("os:")
    consent_pub = (work.work_dir / "keys" / "consent.pub").read_bytes()
    assert hashlib.sha256(consent_pub).hexdigest() in entry["reason"]
    vkey_id = work.vkey_path.read_text(encoding="utf-8").split("+")[1]
    assert vkey_id in entry["reason"]
    assert work.master_key_path.read_bytes().hex()[:16] not in json.dumps(entry)


def test_revoking_a_certificate_ledgers_the_revocation_with_the_operator(work):
    cert = work.certs_dir / f"{CHARITY_A}.pem"
    revoked = runner.invoke(
        cli, ["certs", "revoke", str(cert), "--reason", "key lost", "--work", str(work.work_dir)]
    )
    assert revoked.exit_code == 0, revoked.output
    again = runner.invoke(cli, ["certs", "revoke", str(cert), "--work", str(work.work_dir)])
    assert again.exit_code == 0 and "already revoked" in again.output
    [entry] = _entries(Store(work.database_url), "aidbridge.system/RevokeCertificate")
    assert entry["cert_fingerprint"] == _fingerprint(cert)
    assert entry["cert_subject"] == f"OU=charity,O=重庆阳光慈善会,CN={CHARITY_A}"
    assert entry["reason"] == "certificate revoked: key lost"
    assert entry["actor"].startswith("os:")


@pytest.fixture(params=["sqlite", "postgresql"])
def parked(request, tmp_path):
    db_url = "" if request.param == "sqlite" else fresh_postgres_url()
    config = dataclasses.replace(
        init_workdir(tmp_path / "work", db_url=db_url), sweep_interval_s=86_400.0
    )
    yield from start_gateway(config, clock=FixedClock(time.time_ns()))


def test_the_sweep_ledgers_each_referral_and_consent_it_expires_once(parked):
    gov = parked.client(GOV)
    person = adults(1, seed=41)[0]
    referred = refer(gov, person, tag="sweep")
    clock = parked.app.clock
    subject = parked.app.ledger_subject(person.person.resident_id)

    clock.advance(15 * NS_PER_DAY)  # past the referral's respond-by time (14 days)
    assert sweeps.sweep(parked.app).referrals_expired == 1
    [referral] = _entries(parked.app.store, "aidbridge.system/ExpireReferral")
    assert (referral["org"], referral["actor"]) == ("aidbridge", "expiry-sweep")
    assert referral["subject"] == subject
    assert referral["consent_id"] == referred.consent_id
    assert referred.referral_id in referral["reason"]

    clock.advance(170 * NS_PER_DAY)  # past the consent's validity (180 days)
    assert sweeps.sweep(parked.app).consents_expired == 1
    assert sweeps.sweep(parked.app).consents_expired == 0  # a second sweep finds nothing new
    [consent] = _entries(parked.app.store, "aidbridge.system/ExpireConsent")
    assert consent["subject"] == subject
    assert consent["consent_id"] == referred.consent_id
    assert consent["consent_version"] == 1
    assert len(_entries(parked.app.store, "aidbridge.system/ExpireReferral")) == 1
    assert person.person.resident_id not in json.dumps(_entries(parked.app.store))


def test_a_policy_reload_is_ledgered_accepted_and_rejected(gateway):
    app = gateway.app
    revision = app.engine.revision
    reload_policy(app)
    rego = app.config.bundle_path / "aidbridge" / "authz.rego"
    rego.write_text(rego.read_text(encoding="utf-8") + "\nthis is not rego\n", encoding="utf-8")
    reload_policy(app)
    accepted, rejected = _entries(app.store, "aidbridge.system/ReloadPolicy")
    assert (accepted["outcome"], accepted["bundle_revision"]) == ("OK", revision)
    assert rejected["outcome"] == "FAILED_PRECONDITION"
    assert f"revision {revision} stays in force" in rejected["reason"]
    assert app.engine.revision == revision
