"""The canonical consent record and the gateway's Ed25519 signature over it.

Canonical form: JSON with sorted keys, no insignificant whitespace, UTF-8 (non-ASCII kept as is,
never ``\\u`` escaped), integers for every time (ns since the Unix epoch, UTC) — the same
discipline as RFC 8785 for the value types a record holds (strings, integers, lists, objects,
null; never floats). Every field of the record is signed, including its id, version, case and
recording time; the state is not, because it changes through events. Signatures are Ed25519
(RFC 8032) over the canonical bytes, carried as standard base64.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gateway.consent.model import ACTIVE, ConsentRecord, Evidence, Grantor, Notice

RECORD_SPEC = "aidbridge.consent/v1"
_SIGNATURE_BYTES = 64


class SignatureError(Exception):
    """A consent record's signature is malformed or does not verify."""


class CanonicalRecordError(ValueError):
    """Bytes that should hold a canonical consent record do not."""


def consent_key_id(key_version: str) -> str:
    """The id a consent signature names: which derived key of which key-ring version."""
    return f"consent-{key_version}"


def key_fingerprint(public_key: Ed25519PublicKey) -> str:
    """``sha256:`` + hex SHA-256 of the raw 32-byte public key."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def canonical_record(record: ConsentRecord) -> dict[str, Any]:
    """Every signed field of the record, as the JSON object that is signed."""
    return {
        "spec": RECORD_SPEC,
        "consent_id": record.consent_id,
        "version": record.version,
        "case_id": record.case_id,
        "grantor": {
            "kind": record.grantor.kind,
            "name": record.grantor.name,
            "relationship": record.grantor.relationship,
            "verification_method": record.grantor.verification_method,
        },
        "recipient_org": record.recipient_org,
        "purpose": record.purpose,
        "categories": list(record.categories),
        "fields": list(record.fields),
        "access_mode": record.access_mode,
        "valid_from_ns": record.valid_from_ns,
        "valid_until_ns": record.valid_until_ns,
        "retention_days": record.retention_days,
        "notice": {"version": record.notice.version, "sha256": record.notice.sha256},
        "evidence": {
            "form_sha256": record.evidence.form_sha256,
            "witness": record.evidence.witness,
        },
        "supersedes": record.supersedes,
        "recorded_by_org": record.recorded_by_org,
        "recorded_by_actor": record.recorded_by_actor,
        "recorded_at_ns": record.recorded_at_ns,
        "signing_key_id": record.signing_key_id,
    }


def canonical_bytes(record: ConsentRecord) -> bytes:
    return canonical_json(canonical_record(record))


def record_from_canonical(data: bytes, *, signature: str, state: str = ACTIVE) -> ConsentRecord:
    """Parse canonical record bytes back into a record; refuse anything not exactly canonical."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CanonicalRecordError(f"expected canonical record JSON, found: {exc}") from exc
    if not isinstance(doc, dict):
        raise CanonicalRecordError(f"expected a JSON object, found {type(doc).__name__}")
    if doc.get("spec") != RECORD_SPEC:
        raise CanonicalRecordError(f"expected spec {RECORD_SPEC!r}, found {doc.get('spec')!r}")
    try:
        record = ConsentRecord(
            consent_id=_text(doc, "consent_id"),
            version=_integer(doc, "version"),
            case_id=_text(doc, "case_id"),
            grantor=Grantor(
                kind=_text(_object(doc, "grantor"), "kind"),
                name=_text(_object(doc, "grantor"), "name"),
                relationship=_text(_object(doc, "grantor"), "relationship"),
                verification_method=_text(_object(doc, "grantor"), "verification_method"),
            ),
            recipient_org=_text(doc, "recipient_org"),
            purpose=_text(doc, "purpose"),
            categories=_texts(doc, "categories"),
            fields=_texts(doc, "fields"),
            access_mode=_text(doc, "access_mode"),
            valid_from_ns=_integer(doc, "valid_from_ns"),
            valid_until_ns=_integer(doc, "valid_until_ns"),
            retention_days=_integer(doc, "retention_days"),
            notice=Notice(
                version=_text(_object(doc, "notice"), "version"),
                sha256=_text(_object(doc, "notice"), "sha256"),
            ),
            evidence=Evidence(
                form_sha256=_text(_object(doc, "evidence"), "form_sha256"),
                witness=_text(_object(doc, "evidence"), "witness"),
            ),
            supersedes=_optional_text(doc, "supersedes"),
            recorded_by_org=_text(doc, "recorded_by_org"),
            recorded_by_actor=_text(doc, "recorded_by_actor"),
            recorded_at_ns=_integer(doc, "recorded_at_ns"),
            signature=signature,
            signing_key_id=_text(doc, "signing_key_id"),
            state=state,
        )
    except KeyError as exc:
        raise CanonicalRecordError(f"expected field {exc.args[0]!r}, found it missing") from exc
    # Exactly canonical: no extra fields, no other spelling of the same values.
    if canonical_bytes(record) != data:
        raise CanonicalRecordError("expected the canonical form of the record, found another")
    return record


def sign_record(record: ConsentRecord, private_key: Ed25519PrivateKey) -> str:
    """Base64 Ed25519 signature over the record's canonical bytes."""
    return base64.b64encode(private_key.sign(canonical_bytes(record))).decode("ascii")


def verify_record(record: ConsentRecord, public_key: Ed25519PublicKey) -> None:
    """Raise ``SignatureError`` unless ``record.signature`` signs exactly this record."""
    verify_bytes(canonical_bytes(record), record.signature, public_key)


def verify_bytes(data: bytes, signature: str, public_key: Ed25519PublicKey) -> None:
    raw = decode_signature(signature)
    try:
        public_key.verify(raw, data)
    except InvalidSignature as exc:
        raise SignatureError("signature does not verify over the canonical record") from exc


def decode_signature(signature: str) -> bytes:
    """Strict base64: only the canonical encoding of exactly 64 bytes is accepted."""
    try:
        raw = base64.b64decode(signature.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise SignatureError(f"expected base64 signature, found: {exc}") from exc
    if len(raw) != _SIGNATURE_BYTES:
        raise SignatureError(f"expected a {_SIGNATURE_BYTES}-byte signature, found {len(raw)}")
    # b64decode ignores the unused low bits of the last character; a re-encoding must match.
    if base64.b64encode(raw).decode("ascii") != signature:
        raise SignatureError("expected the canonical base64 encoding of the signature")
    return raw


def _object(doc: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = doc[key]
    if not isinstance(value, dict):
        raise CanonicalRecordError(f"expected {key!r} to be an object, found {value!r}")
    return value


def _text(doc: Mapping[str, Any], key: str) -> str:
    value = doc[key]
    if not isinstance(value, str):
        raise CanonicalRecordError(f"expected {key!r} to be a string, found {value!r}")
    return value


def _optional_text(doc: Mapping[str, Any], key: str) -> str | None:
    value = doc[key]
    return None if value is None else _text(doc, key)


def _integer(doc: Mapping[str, Any], key: str) -> int:
    value = doc[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise CanonicalRecordError(f"expected {key!r} to be an integer, found {value!r}")
    return value


def _texts(doc: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = doc[key]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise CanonicalRecordError(f"expected {key!r} to be a list of strings, found {value!r}")
    return tuple(value)
