"""The development CA: what it issues follows the identity convention, validates as a chain under
RFC 5280 (cryptography's verifier, the same rules a TLS peer applies), keeps private keys 0600 and
never overwrites."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import stat
import tempfile
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certs import ca
from gateway import identity


@pytest.fixture()
def ca_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "certs"
    ca.init_ca(directory)
    return directory


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _verify_client(ca_dir: Path, leaf: x509.Certificate, at: dt.datetime | None = None) -> None:
    store = verification.Store([_cert(ca_dir / "ca.pem")])
    builder = verification.PolicyBuilder().store(store).time(at or dt.datetime.now(dt.UTC))
    builder.build_client_verifier().verify(leaf, [])


def test_init_ca_writes_a_p256_ca_that_may_sign_only_leaf_certificates(ca_dir: Path) -> None:
    cert = _cert(ca_dir / "ca.pem")
    assert cert.subject.rfc4514_string() == "CN=AidBridge development CA"
    assert cert.issuer == cert.subject
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    assert _mode(ca_dir / "ca.key") == 0o600


def test_init_ca_refuses_to_overwrite_an_existing_ca(ca_dir: Path) -> None:
    before = (ca_dir / "ca.pem").read_bytes(), (ca_dir / "ca.key").read_bytes()
    with pytest.raises(ca.CAExistsError, match=r"refusing to overwrite a CA: .*ca\.pem"):
        ca.init_ca(ca_dir)
    assert ((ca_dir / "ca.pem").read_bytes(), (ca_dir / "ca.key").read_bytes()) == before


def test_client_certificate_carries_org_and_role_in_subject_and_san(ca_dir: Path) -> None:
    issued = ca.issue_client(ca_dir, "charity-sunshine", "charity", "重庆阳光慈善会")
    cert = _cert(issued.cert_path)
    assert issued.cert_path == ca_dir / "charity-sunshine.pem"
    assert issued.key_path == ca_dir / "charity-sunshine.key"
    subject = {a.oid: a.value for a in cert.subject}
    assert subject == {
        NameOID.COMMON_NAME: "charity-sunshine",
        NameOID.ORGANIZATION_NAME: "重庆阳光慈善会",
        NameOID.ORGANIZATIONAL_UNIT_NAME: "charity",
    }
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [
        "urn:aidbridge:org:charity-sunshine:charity"
    ]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_client_certificate_validates_as_a_chain_to_the_ca(ca_dir: Path) -> None:
    issued = ca.issue_client(ca_dir, "jb-civil-affairs", "government", "江北区民政局")
    _verify_client(ca_dir, _cert(issued.cert_path))


def test_client_certificate_from_another_ca_does_not_validate(ca_dir: Path, tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    ca.init_ca(foreign)
    issued = ca.issue_client(foreign, "charity-sunshine", "charity")
    with pytest.raises(verification.VerificationError):
        _verify_client(ca_dir, _cert(issued.cert_path))


def test_client_key_is_0600_and_matches_the_certificate(ca_dir: Path) -> None:
    issued = ca.issue_client(ca_dir, "charity-harbour", "charity")
    assert _mode(issued.key_path) == 0o600
    key = serialization.load_pem_private_key(issued.key_path.read_bytes(), password=None)
    assert key.public_key() == _cert(issued.cert_path).public_key()


def test_private_keys_are_0600_even_under_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        ca.init_ca(tmp_path)
        issued = ca.issue_client(tmp_path, "peer-yubei", "peer")
        server = ca.issue_server(tmp_path)
    finally:
        os.umask(old)
    assert [_mode(p) for p in (tmp_path / "ca.key", issued.key_path, server.key_path)] == [
        0o600
    ] * 3


def test_fingerprint_is_the_sha256_of_the_certificate_der(ca_dir: Path) -> None:
    issued = ca.issue_client(ca_dir, "jb-supervision", "compliance")
    der = _cert(issued.cert_path).public_bytes(serialization.Encoding.DER)
    assert issued.fingerprint == hashlib.sha256(der).hexdigest()


def test_display_name_defaults_to_the_org_id(ca_dir: Path) -> None:
    cert = _cert(ca.issue_client(ca_dir, "charity-harbour", "charity").cert_path)
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == (
        "charity-harbour"
    )


@pytest.mark.parametrize(
    "org_id",
    ["", "a", "Charity", "charity_a", "-charity", "慈善会", "a" * 64, "charity a", "x\n"],
)
def test_issue_client_refuses_an_org_id_outside_the_pattern(ca_dir: Path, org_id: str) -> None:
    with pytest.raises(ca.CertificateRequestError, match="organisation id must match"):
        ca.issue_client(ca_dir, org_id, "charity")
    assert sorted(p.name for p in ca_dir.iterdir()) == ["ca.key", "ca.pem"]


@pytest.mark.parametrize("role", ["admin", "Charity", "", "government "])
def test_issue_client_refuses_an_unknown_role(ca_dir: Path, role: str) -> None:
    with pytest.raises(ca.CertificateRequestError, match=f"role must be one of .*got {role!r}"):
        ca.issue_client(ca_dir, "charity-sunshine", role)


def test_validation_errors_are_value_errors_for_the_cli(ca_dir: Path) -> None:
    with pytest.raises(ValueError):
        ca.issue_client(ca_dir, "charity-sunshine", "admin")


def test_issue_client_without_a_ca_says_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ca.CANotFoundError, match="aidbridge certs init"):
        ca.issue_client(tmp_path, "charity-sunshine", "charity")
    assert list(tmp_path.iterdir()) == []


def test_issue_client_refuses_to_overwrite_an_existing_certificate(ca_dir: Path) -> None:
    first = ca.issue_client(ca_dir, "charity-sunshine", "charity")
    key = first.key_path.read_bytes()
    with pytest.raises(FileExistsError, match="charity-sunshine"):
        ca.issue_client(ca_dir, "charity-sunshine", "charity")
    assert first.key_path.read_bytes() == key


def test_issue_client_writes_to_out_when_given(ca_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "elsewhere"
    issued = ca.issue_client(ca_dir, "charity-sunshine", "charity", out=out)
    assert (issued.cert_path, issued.key_path) == (
        out / "charity-sunshine.pem",
        out / "charity-sunshine.key",
    )
    assert not (ca_dir / "charity-sunshine.pem").exists()
    _verify_client(ca_dir, _cert(issued.cert_path))


def test_not_before_and_days_set_the_validity_so_an_expired_one_can_be_made(ca_dir: Path) -> None:
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    cert = _cert(
        ca.issue_client(ca_dir, "charity-old", "charity", days=1, not_before=start).cert_path
    )
    assert cert.not_valid_before_utc == start
    assert cert.not_valid_after_utc == start + dt.timedelta(days=1)
    with pytest.raises(verification.VerificationError):
        _verify_client(ca_dir, cert)


def test_client_validity_is_capped_at_the_cas(tmp_path: Path) -> None:
    ca.init_ca(tmp_path, days=30)
    ca_end = _cert(tmp_path / "ca.pem").not_valid_after_utc
    cert = _cert(ca.issue_client(tmp_path, "charity-sunshine", "charity", days=397).cert_path)
    assert cert.not_valid_after_utc == ca_end


def test_naive_not_before_and_non_positive_days_are_refused(ca_dir: Path) -> None:
    with pytest.raises(ca.CertificateRequestError, match="timezone-aware"):
        ca.issue_client(ca_dir, "charity-a", "charity", not_before=dt.datetime(2026, 1, 1))
    with pytest.raises(ca.CertificateRequestError, match="at least 1 day, got 0"):
        ca.issue_client(ca_dir, "charity-a", "charity", days=0)
    with pytest.raises(ca.CertificateRequestError, match="at least 1 day, got -5"):
        ca.init_ca(ca_dir / "other", days=-5)


def test_server_certificate_names_localhost_loopback_and_given_hosts(ca_dir: Path) -> None:
    issued = ca.issue_server(ca_dir, ("gw.jiangbei.example", "10.0.0.7"))
    cert = _cert(issued.cert_path)
    assert issued.cert_path == ca_dir / "server.pem"
    assert cert.subject.rfc4514_string() == "CN=gw.jiangbei.example"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["gw.jiangbei.example", "localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("10.0.0.7"),
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert _mode(issued.key_path) == 0o600


@pytest.mark.parametrize(
    "name",
    [verification.DNSName("localhost"), verification.IPAddress(ipaddress.ip_address("::1"))],
)
def test_server_certificate_validates_for_localhost_and_loopback(
    ca_dir: Path, name: verification.Subject
) -> None:
    cert = _cert(ca.issue_server(ca_dir).cert_path)
    store = verification.Store([_cert(ca_dir / "ca.pem")])
    verifier = verification.PolicyBuilder().store(store).build_server_verifier(name)
    verifier.verify(cert, [])


def test_server_certificate_is_not_a_client_certificate(ca_dir: Path) -> None:
    cert = _cert(ca.issue_server(ca_dir).cert_path)
    with pytest.raises(verification.VerificationError):
        _verify_client(ca_dir, cert)


def test_server_hostnames_must_be_a_non_empty_sequence(ca_dir: Path) -> None:
    for hostnames in ((), "localhost", ("",)):
        with pytest.raises(ca.CertificateRequestError):
            ca.issue_server(ca_dir, hostnames)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    org_id=st.from_regex(r"\A[a-z0-9][a-z0-9-]{1,62}\Z"),
    role=st.sampled_from(sorted(identity.ROLES)),
)
def test_every_valid_org_and_role_round_trips_through_the_gateways_parser(
    ca_dir: Path, org_id: str, role: str
) -> None:
    out = Path(tempfile.mkdtemp(dir=ca_dir))
    issued = ca.issue_client(ca_dir, org_id, role, out=out)
    parsed = identity.identity_from_pem(issued.cert_path.read_bytes())
    assert (parsed.org, parsed.role, parsed.fingerprint) == (org_id, role, issued.fingerprint)


def test_a_ca_key_that_is_not_the_certificates_is_refused(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    ca.init_ca(first)
    ca.init_ca(second)
    (first / "ca.key").unlink()
    (first / "ca.key").write_bytes((second / "ca.key").read_bytes())
    with pytest.raises(ca.CertificateRequestError, match=r"ca\.key is not the key of"):
        ca.issue_client(first, "charity-sunshine", "charity")
