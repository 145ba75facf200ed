"""The caller's identity, read from its client certificate.

The gateway knows each organisation by the X.509 client certificate the deployment's CA issued it
(DESIGN.md, "Identity and transport"); it never trusts an organisation id or role that the client
fills in. The convention, which ``certs/ca.py`` issues and this module enforces:

- Subject ``CN=<org id>, O=<display name>, OU=<role>``, role one of ``ROLES``;
- a SAN URI ``urn:aidbridge:org:<org id>:<role>`` that agrees with the subject;
- ExtendedKeyUsage clientAuth (RFC 5280 §4.2.1.12), BasicConstraints CA=false.

The TLS handshake has already checked the chain to the CA; this module checks what the chain does
not: that the certificate says who the caller is in the form the gateway relies on. It does not
import grpc: the server hands it the PEM from ``auth_context()["x509_pem_cert"]``.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROLES: frozenset[str] = frozenset({"government", "charity", "compliance", "peer"})
ORG_ID = re.compile(r"[a-z0-9][a-z0-9-]{1,62}")
SAN_PREFIX = "urn:aidbridge:org:"

_EKU_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
}


class IdentityError(Exception):
    """A certificate that does not identify a caller: malformed, not a client certificate,
    inconsistent with the identity convention, or outside its validity."""


@dataclass(frozen=True)
class CertIdentity:
    """Who a client certificate says the caller is, and the facts the gateway records about it."""

    org: str
    role: str
    fingerprint: str  # hex SHA-256 of the certificate's DER, as revocation and the ledger use it
    not_after_ns: int
    serial: int
    not_before_ns: int = 0


@dataclass(frozen=True)
class PresentedCertificate:
    """What a certificate shows of itself, whether or not it identifies a caller: recorded in
    the ledger entry of a refusal, so the ledger says who tried."""

    fingerprint: str  # hex SHA-256 of the DER; of the bytes received if they are not a certificate
    subject: str  # RFC 4514 distinguished name, "" if unparseable
    issuer: str


def presented_certificate(pem: bytes) -> PresentedCertificate:
    """Describe a client certificate the gateway may be about to refuse. Never raises: a
    certificate that cannot even be parsed is named by the SHA-256 of its bytes."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        return PresentedCertificate(hashlib.sha256(pem).hexdigest(), "", "")
    return PresentedCertificate(
        fingerprint=fingerprint_of(cert),
        subject=_dn(cert.subject),
        issuer=_dn(cert.issuer),
    )


def _dn(name: x509.Name) -> str:
    try:
        return name.rfc4514_string()
    except ValueError:  # an attribute that has no RFC 4514 form
        return repr(name)[:1000]


def san_uri(org: str, role: str) -> str:
    """The SAN URI that names ``org`` acting as ``role``."""
    return f"{SAN_PREFIX}{org}:{role}"


def fingerprint_of(cert: x509.Certificate) -> str:
    """Hex SHA-256 of the certificate's DER encoding."""
    return cert.fingerprint(hashes.SHA256()).hex()


@functools.lru_cache(maxsize=1024)
def identity_from_pem(pem: bytes) -> CertIdentity:
    """Parse a PEM client certificate and check it against the identity convention.

    Cached on the bytes because it runs on every call; a refusal is not cached (lru_cache does not
    keep exceptions), so it is re-examined, and logged, each time. Validity in time is not checked
    here, since the answer changes with the clock: call ``check_validity``.
    """
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise IdentityError(f"expected a PEM X.509 certificate, could not parse it: {exc}") from exc
    _require_client_certificate(cert)
    org = _single_subject_value(cert, NameOID.COMMON_NAME, "CN (organisation id)")
    role = _single_subject_value(cert, NameOID.ORGANIZATIONAL_UNIT_NAME, "OU (role)")
    if not ORG_ID.fullmatch(org):
        raise IdentityError(
            f"subject CN must be an organisation id matching {ORG_ID.pattern}, found {org!r}"
        )
    if role not in ROLES:
        raise IdentityError(
            f"subject OU must be a role in {sorted(ROLES)}, found unknown role {role!r}"
        )
    _require_matching_san(cert, org, role)
    return CertIdentity(
        org=org,
        role=role,
        fingerprint=fingerprint_of(cert),
        not_after_ns=_ns(cert.not_valid_after_utc),
        serial=cert.serial_number,
        not_before_ns=_ns(cert.not_valid_before_utc),
    )


def check_validity(identity: CertIdentity, now_ns: int) -> None:
    """Raise IdentityError if the certificate is expired or not yet valid at ``now_ns``.

    RFC 5280 §4.1.2.5: the validity period includes both notBefore and notAfter.
    """
    if now_ns > identity.not_after_ns:
        raise IdentityError(
            f"certificate of {identity.org!r} expired at {_iso(identity.not_after_ns)}, "
            f"now is {_iso(now_ns)}"
        )
    if now_ns < identity.not_before_ns:
        raise IdentityError(
            f"certificate of {identity.org!r} is not yet valid: valid from "
            f"{_iso(identity.not_before_ns)}, now is {_iso(now_ns)}"
        )


def _require_client_certificate(cert: x509.Certificate) -> None:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        raise IdentityError(
            "not a client certificate: expected ExtendedKeyUsage clientAuth, found no "
            "ExtendedKeyUsage extension"
        ) from None
    if ExtendedKeyUsageOID.CLIENT_AUTH not in eku:
        found = ", ".join(_EKU_NAMES.get(oid, oid.dotted_string) for oid in eku) or "none"
        raise IdentityError(
            f"not a client certificate: expected ExtendedKeyUsage clientAuth, found {found}"
        )
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return
    if constraints.ca:
        raise IdentityError("not a client certificate: BasicConstraints says it is a CA")


def _single_subject_value(cert: x509.Certificate, oid: x509.ObjectIdentifier, label: str) -> str:
    values = cert.subject.get_attributes_for_oid(oid)
    if len(values) != 1:
        raise IdentityError(
            f"expected exactly one subject {label}, found {len(values)} "
            f"in {cert.subject.rfc4514_string()!r}"
        )
    value = values[0].value
    return value.decode() if isinstance(value, bytes) else value


def _require_matching_san(cert: x509.Certificate, org: str, role: str) -> None:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise IdentityError(
            f"expected a SAN URI {san_uri(org, role)!r}, found no SubjectAlternativeName"
        ) from None
    ours = [
        uri
        for uri in san.get_values_for_type(x509.UniformResourceIdentifier)
        if uri.startswith(SAN_PREFIX)
    ]
    if ours != [san_uri(org, role)]:
        raise IdentityError(
            f"SAN disagrees with the subject: expected exactly {san_uri(org, role)!r}, "
            f"found {ours or 'no aidbridge URI'}"
        )


def _ns(moment: datetime) -> int:
    # Whole seconds in X.509 (RFC 5280 UTCTime/GeneralizedTime), so integer arithmetic is exact.
    return int(moment.timestamp()) * 1_000_000_000


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).isoformat(timespec="seconds")


# Revocation, checked from memory. The set of revoked fingerprints is loaded from the store and
# loaded again before the next check whenever it may have changed: a revocation committed in this
# process (``revocations_changed``), a revocation by the CLI in another (``signal_revocation``
# replaces the work directory's signal file, whose identity the check compares — one ``stat``),
# or ``REVOCATIONS_REFRESH_S`` since the last load (a revocation written by other means).
REVOCATION_SIGNAL = "revocations.generation"
REVOCATIONS_REFRESH_S = 1.0

_generation = 0
_generation_lock = threading.Lock()


def revocations_changed() -> None:
    """Say that a revocation was committed in this process: the next check reloads."""
    global _generation
    with _generation_lock:
        _generation += 1


def signal_revocation(work_dir: Path) -> None:
    """Tell a gateway serving ``work_dir`` (another process) that a revocation was committed:
    its next check reloads. A new file replaces the old, so its identity surely changes."""
    target = work_dir / REVOCATION_SIGNAL
    fresh = target.with_name(f".{REVOCATION_SIGNAL}.{os.getpid()}")
    fresh.write_text(f"{time.time_ns()}\n", encoding="ascii")
    os.replace(fresh, target)


def _signal_stamp(path: Path | None) -> tuple[int, int, int] | None:
    if path is None:
        return None
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    except OSError:
        # The directory cannot be read (a store fault): a stamp never seen, so the list reloads
        # and the store's own error decides.
        return (-1, time.monotonic_ns(), -1)
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class RevocationList:
    """The revoked certificate fingerprints, held in memory (see above). ``load`` reads them
    from the store; its error propagates, so a list that cannot be refreshed refuses (fails
    closed) rather than answer from a stale set."""

    def __init__(self, load: Callable[[], set[str]], signal: Path | None = None) -> None:
        self._load = load
        self._signal = signal
        self._lock = threading.Lock()
        self._revoked: frozenset[str] = frozenset()
        self._seen: tuple[int, tuple[int, int, int] | None] | None = None
        self._loaded_at = 0.0

    def is_revoked(self, fingerprint: str) -> bool:
        seen = (_generation, _signal_stamp(self._signal))
        if seen != self._seen or time.monotonic() - self._loaded_at >= REVOCATIONS_REFRESH_S:
            with self._lock:
                # Take the stamp before reading, so a change during the read reloads again.
                seen = (_generation, _signal_stamp(self._signal))
                started = time.monotonic()
                self._revoked = frozenset(self._load())
                self._seen, self._loaded_at = seen, started
        return fingerprint in self._revoked
