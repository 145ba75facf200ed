"""A development certificate authority and the certificates it issues, on ``cryptography``.

Follows the identity convention of DESIGN.md "Identity and transport", enforced on the gateway's
side by ``gateway.identity``:

- CA: ``CN=AidBridge development CA``, BasicConstraints CA=true pathlen 0, KeyUsage keyCertSign
  and cRLSign (RFC 5280 §4.2.1.3, §4.2.1.9).
- Client: ``CN=<org id>, O=<display name>, OU=<role>``, SAN URI ``urn:aidbridge:org:<org>:<role>``,
  ExtendedKeyUsage clientAuth, BasicConstraints CA=false.
- Server: ``CN=<first hostname>``, SAN DNS localhost and the given names, IP 127.0.0.1 and ::1,
  ExtendedKeyUsage serverAuth.

Keys are ECDSA P-256 (cheap TLS handshakes). Private keys are created with mode 0600 in the same
``open`` that creates the file, so they are never readable by others, even for a moment, and no
existing file is ever overwritten.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.identity import ORG_ID, ROLES, fingerprint_of, san_uri

CA_CERT = "ca.pem"
CA_KEY = "ca.key"
SERVER_NAME = "server"
DEFAULT_CA_NAME = "AidBridge development CA"
# Issued "now" would be refused by a peer whose clock runs a little behind.
_CLOCK_SKEW = timedelta(minutes=5)


class CertificateRequestError(ValueError):
    """An organisation id, role, hostname or validity that the convention does not allow."""


class CAExistsError(FileExistsError):
    """The directory already holds a CA (or a certificate being issued); nothing was written."""


class CANotFoundError(FileNotFoundError):
    """No CA in the directory to sign with."""


@dataclass
class IssuedCert:
    cert_path: Path
    key_path: Path
    fingerprint: str  # hex SHA-256 of the certificate's DER


def init_ca(directory: Path, *, name: str = DEFAULT_CA_NAME, days: int = 3650) -> Path:
    """Create a CA in ``directory`` (ca.pem, and ca.key with mode 0600); return ca.pem's path.

    Refuses to overwrite an existing CA: every certificate it issued would be orphaned.
    """
    _require_days(days)
    if not name.strip():
        raise CertificateRequestError("CA name must not be empty")
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / CA_CERT, directory / CA_KEY
    _require_absent(cert_path, key_path, what="a CA")
    key = _new_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    not_before = _now() - _CLOCK_SKEW
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(key_path, key)
    _write_cert(cert_path, cert)
    return cert_path


def issue_client(
    directory: Path,
    org_id: str,
    role: str,
    org_name: str = "",
    *,
    days: int = 397,
    not_before: datetime | None = None,
    out: Path | None = None,
) -> IssuedCert:
    """Issue ``<org_id>.pem`` and ``<org_id>.key`` (0600), signed by the CA in ``directory``.

    They are written to ``out`` if given, else beside the CA. ``not_before`` (default: a few
    minutes ago) and ``days`` set the validity, so a test can make an expired certificate.
    """
    if not ORG_ID.fullmatch(org_id):
        raise CertificateRequestError(
            f"organisation id must match {ORG_ID.pattern} (lower-case letters, digits and "
            f"hyphens, 2-63 long), got {org_id!r}"
        )
    if role not in ROLES:
        raise CertificateRequestError(f"role must be one of {sorted(ROLES)}, got {role!r}")
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, org_id),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org_name.strip() or org_id),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role),
        ]
    )
    return _issue_leaf(
        directory,
        out or directory,
        org_id,
        subject,
        san=[x509.UniformResourceIdentifier(san_uri(org_id, role))],
        usage=ExtendedKeyUsageOID.CLIENT_AUTH,
        days=days,
        not_before=not_before,
    )


def issue_server(
    directory: Path, hostnames: Sequence[str] = ("localhost",), *, days: int = 397
) -> IssuedCert:
    """Issue server.pem and server.key (0600) for ``hostnames``, signed by the CA in
    ``directory``. localhost, 127.0.0.1 and ::1 are always included; a hostname that is an IP
    address goes in the SAN as one."""
    if isinstance(hostnames, str) or not hostnames:
        raise CertificateRequestError(
            f"hostnames must be a non-empty sequence of names, got {hostnames!r}"
        )
    names: list[x509.GeneralName] = []
    for host in (*hostnames, "localhost", "127.0.0.1", "::1"):
        entry = _san_entry(host)
        if entry not in names:
            names.append(entry)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0].strip())])
    return _issue_leaf(
        directory,
        directory,
        SERVER_NAME,
        subject,
        san=names,
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        days=days,
        not_before=None,
    )


def _issue_leaf(
    ca_dir: Path,
    out_dir: Path,
    stem: str,
    subject: x509.Name,
    *,
    san: list[x509.GeneralName],
    usage: x509.ObjectIdentifier,
    days: int,
    not_before: datetime | None,
) -> IssuedCert:
    _require_days(days)
    ca_cert, ca_key = _load_ca(ca_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = out_dir / f"{stem}.pem", out_dir / f"{stem}.key"
    _require_absent(cert_path, key_path, what="a certificate")
    start = _utc(not_before) if not_before is not None else _now() - _CLOCK_SKEW
    # A certificate cannot usefully outlive the CA that vouches for it.
    end = min(start + timedelta(days=days), ca_cert.not_valid_after_utc)
    key = _new_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(key_path, key)
    _write_cert(cert_path, cert)
    return IssuedCert(cert_path=cert_path, key_path=key_path, fingerprint=fingerprint_of(cert))


def _load_ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_path, key_path = directory / CA_CERT, directory / CA_KEY
    if not cert_path.is_file() or not key_path.is_file():
        raise CANotFoundError(
            f"expected a CA ({CA_CERT} and {CA_KEY}) in {directory}, found none; "
            "run `aidbridge certs init` first"
        )
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertificateRequestError(
            f"expected an ECDSA CA key in {key_path}, found {type(key).__name__}"
        )
    if key.public_key() != cert.public_key():
        raise CertificateRequestError(f"{key_path} is not the key of {cert_path}")
    return cert, key


def _san_entry(host: str) -> x509.GeneralName:
    host = host.strip()
    if not host:
        raise CertificateRequestError("a server hostname must not be empty")
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _require_days(days: int) -> None:
    if days < 1:
        raise CertificateRequestError(f"validity must be at least 1 day, got {days}")


def _require_absent(*paths: Path, what: str) -> None:
    present = [str(p) for p in paths if p.exists()]
    if present:
        raise CAExistsError(
            f"refusing to overwrite {what}: {', '.join(present)} already exists; "
            "remove it first to re-issue"
        )


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # O_EXCL: never follow or replace a file someone put there; 0o600 from the first byte.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))


def _now() -> datetime:
    # Whole seconds: X.509 times carry no fractions, and tests compare them.
    return datetime.now(UTC).replace(microsecond=0)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise CertificateRequestError(
            f"not_before must be timezone-aware (UTC), got naive {moment.isoformat()}"
        )
    return moment.astimezone(UTC)
