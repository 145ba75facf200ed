"""The caller's identity read from its client certificate: a certificate issued by the CA tooling
parses; one that breaks the convention is refused with a message saying how."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs import ca
from gateway.identity import CertIdentity, IdentityError, check_validity, identity_from_pem

NS = 1_000_000_000


@pytest.fixture()
def ca_dir(tmp_path: Path) -> Path:
    ca.init_ca(tmp_path)
    return tmp_path


def _forge(
    ca_dir: Path,
    *,
    cn: str | None = "charity-sunshine",
    ou: str | None = "charity",
    san: list[str] | None = None,
    eku: list[x509.ObjectIdentifier] | None = None,
    is_ca: bool = False,
) -> bytes:
    """A certificate signed by the real CA but shaped by the test, to break one rule at a time."""
    ca_cert = x509.load_pem_x509_certificate((ca_dir / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((ca_dir / "ca.key").read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "重庆阳光慈善会")]
    if cn is not None:
        attributes.insert(0, x509.NameAttribute(NameOID.COMMON_NAME, cn))
    if ou is not None:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attributes))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    )
    if eku is None:
        eku = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if san is None:
        san = [f"urn:aidbridge:org:{cn}:{ou}"]
    if san:
        names = [x509.UniformResourceIdentifier(uri) for uri in san]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM)


def test_certificate_issued_by_the_tooling_gives_org_role_and_fingerprint(ca_dir: Path) -> None:
    issued = ca.issue_client(ca_dir, "jb-civil-affairs", "government", "江北区民政局")
    pem = issued.cert_path.read_bytes()
    cert = x509.load_pem_x509_certificate(pem)
    assert identity_from_pem(pem) == CertIdentity(
        org="jb-civil-affairs",
        role="government",
        fingerprint=issued.fingerprint,
        not_after_ns=int(cert.not_valid_after_utc.timestamp()) * NS,
        serial=cert.serial_number,
        not_before_ns=int(cert.not_valid_before_utc.timestamp()) * NS,
    )


def test_parsing_is_cached_on_the_pem_bytes(ca_dir: Path) -> None:
    pem = ca.issue_client(ca_dir, "charity-sunshine", "charity").cert_path.read_bytes()
    assert identity_from_pem(pem) is identity_from_pem(pem)


def test_unknown_role_is_refused(ca_dir: Path) -> None:
    with pytest.raises(IdentityError, match="unknown role 'admin'"):
        identity_from_pem(_forge(ca_dir, ou="admin"))


def test_missing_ou_is_refused(ca_dir: Path) -> None:
    with pytest.raises(IdentityError, match=r"exactly one subject OU \(role\), found 0"):
        identity_from_pem(_forge(ca_dir, ou=None, san=["urn:aidbridge:org:charity-sunshine:"]))


def test_missing_cn_is_refused(ca_dir: Path) -> None:
    with pytest.raises(IdentityError, match=r"exactly one subject CN \(organisation id\), found 0"):
        identity_from_pem(_forge(ca_dir, cn=None))


def test_cn_that_is_not_an_org_id_is_refused(ca_dir: Path) -> None:
    with pytest.raises(IdentityError, match=r"organisation id matching .*'Charity Sunshine'"):
        identity_from_pem(_forge(ca_dir, cn="Charity Sunshine"))


def test_san_naming_another_org_is_refused(ca_dir: Path) -> None:
    forged = _forge(ca_dir, san=["urn:aidbridge:org:charity-harbour:charity"])
    with pytest.raises(IdentityError, match=r"SAN disagrees with the subject.*charity-harbour"):
        identity_from_pem(forged)


def test_san_naming_another_role_is_refused(ca_dir: Path) -> None:
    forged = _forge(ca_dir, san=["urn:aidbridge:org:charity-sunshine:government"])
    with pytest.raises(IdentityError, match="SAN disagrees with the subject"):
        identity_from_pem(forged)


def test_a_second_aidbridge_san_is_refused(ca_dir: Path) -> None:
    forged = _forge(
        ca_dir,
        san=[
            "urn:aidbridge:org:charity-sunshine:charity",
            "urn:aidbridge:org:jb-civil-affairs:government",
        ],
    )
    with pytest.raises(IdentityError, match="SAN disagrees with the subject"):
        identity_from_pem(forged)


def test_missing_san_is_refused(ca_dir: Path) -> None:
    with pytest.raises(IdentityError, match="found no SubjectAlternativeName"):
        identity_from_pem(_forge(ca_dir, san=[]))


def test_server_certificate_is_not_a_client_certificate(ca_dir: Path) -> None:
    pem = ca.issue_server(ca_dir).cert_path.read_bytes()
    with pytest.raises(
        IdentityError, match=r"not a client certificate: .*clientAuth, found serverAuth"
    ):
        identity_from_pem(pem)


def test_certificate_without_extended_key_usage_is_refused(ca_dir: Path) -> None:
    with pytest.raises(IdentityError, match="found no ExtendedKeyUsage"):
        identity_from_pem(_forge(ca_dir, eku=[]))


def test_ca_certificate_is_refused_as_a_caller(ca_dir: Path) -> None:
    with pytest.raises(IdentityError, match="BasicConstraints says it is a CA"):
        identity_from_pem(_forge(ca_dir, is_ca=True))


def test_text_that_is_not_a_certificate_is_refused() -> None:
    with pytest.raises(IdentityError, match=r"expected a PEM X\.509 certificate"):
        identity_from_pem(
            b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"
        )


def test_expired_certificate_is_refused_with_its_expiry(ca_dir: Path) -> None:
    start = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    issued = ca.issue_client(ca_dir, "charity-sunshine", "charity", days=1, not_before=start)
    cert = identity_from_pem(issued.cert_path.read_bytes())
    now_ns = int(dt.datetime(2025, 3, 10, tzinfo=dt.UTC).timestamp()) * NS
    with pytest.raises(IdentityError, match=r"expired at 2025-03-02T00:00:00\+00:00"):
        check_validity(cert, now_ns)


def test_certificate_not_yet_valid_is_refused(ca_dir: Path) -> None:
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    issued = ca.issue_client(ca_dir, "charity-sunshine", "charity", not_before=start)
    cert = identity_from_pem(issued.cert_path.read_bytes())
    with pytest.raises(IdentityError, match="not yet valid"):
        check_validity(cert, int(dt.datetime.now(dt.UTC).timestamp()) * NS)


def test_validity_includes_both_ends_of_the_period(ca_dir: Path) -> None:
    start = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    issued = ca.issue_client(ca_dir, "charity-sunshine", "charity", days=1, not_before=start)
    cert = identity_from_pem(issued.cert_path.read_bytes())
    check_validity(cert, cert.not_before_ns)
    check_validity(cert, cert.not_after_ns)
    with pytest.raises(IdentityError, match="expired"):
        check_validity(cert, cert.not_after_ns + 1)
    with pytest.raises(IdentityError, match="not yet valid"):
        check_validity(cert, cert.not_before_ns - 1)
