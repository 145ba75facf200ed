"""Consent receipts: a document the person keeps, which anyone can verify with the gateway's key.

The JSON receipt holds the signed canonical record as an exact string (so its bytes are the ones
signed), the base64 Ed25519 signature, the signing key id and the SHA-256 fingerprint of the public
key. The receipt itself is canonical JSON (sorted keys, no whitespace, UTF-8), so verification can
insist on it byte for byte: a change to ANY byte — in the record, the signature or the envelope —
is refused. The text rendering is a printable bilingual (Chinese/English) summary; it is a
convenience, the JSON is the proof. After the Kantara Consent Receipt idea: the person holds
their own copy of what they agreed to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.clock import NS_PER_SECOND
from gateway.consent.model import ACCESS_STORE, ACCESS_VIEW, GRANTOR_GUARDIAN, ConsentRecord
from gateway.consent.signing import (
    CanonicalRecordError,
    SignatureError,
    canonical_bytes,
    canonical_json,
    key_fingerprint,
    record_from_canonical,
    verify_bytes,
)

RECEIPT_SPEC = "aidbridge.consent-receipt/v1"
ALGORITHM = "Ed25519"
_FIELDS = frozenset(
    {"receipt", "algorithm", "key_id", "public_key_fingerprint", "record", "signature"}
)
_CHINA = timezone(timedelta(hours=8), "UTC+8")

_CATEGORY_LABELS = {
    "identity": "身份",
    "contact": "联系方式",
    "demographics": "基本情况",
    "hardship": "困难情况",
    "narrative": "情况说明",
    "finances": "收入财产（敏感）",
    "health": "健康（敏感）",
    "disability": "残疾（敏感）",
    "assistance_status": "救助状态（敏感）",
    "minors_data": "未成年人信息（敏感）",
}
_ACCESS_LABELS = {ACCESS_VIEW: "仅查看 view only", ACCESS_STORE: "可保存 may store"}


class ReceiptError(Exception):
    """A receipt is malformed, altered, or not signed by the given key."""


@dataclass(frozen=True)
class Receipt:
    json: str
    text: str


def make_receipt(record: ConsentRecord, *, public_key: Ed25519PublicKey, key_id: str) -> Receipt:
    """The receipt of a complete, correctly signed record. Refuses to issue one that would not
    verify, so a receipt in a person's hands always proves what the gateway recorded."""
    if not record.complete:
        raise ReceiptError(
            "expected the full record (read with the cipher) to issue a receipt, found only "
            "its plain columns"
        )
    if key_id != record.signing_key_id:
        raise ReceiptError(
            f"expected key id {record.signing_key_id!r} (the record's), found {key_id!r}"
        )
    signed = canonical_bytes(record)
    try:
        verify_bytes(signed, record.signature, public_key)
    except SignatureError as exc:
        raise ReceiptError(f"record {record.consent_id} does not verify: {exc}") from exc
    document = {
        "receipt": RECEIPT_SPEC,
        "algorithm": ALGORITHM,
        "key_id": key_id,
        "public_key_fingerprint": key_fingerprint(public_key),
        "record": signed.decode("utf-8"),
        "signature": record.signature,
    }
    return Receipt(
        json=canonical_json(document).decode("utf-8"),
        text=_render_text(record, key_fingerprint(public_key)),
    )


def verify_receipt(receipt_json: str | bytes, public_key: Ed25519PublicKey) -> dict[str, Any]:
    """Check a receipt against the gateway's public key; return the signed record as a dict.

    Raises ``ReceiptError`` for anything other than the exact receipt the gateway issued.
    """
    try:
        text = receipt_json.decode("utf-8") if isinstance(receipt_json, bytes) else receipt_json
        document = json.loads(text)
        if not isinstance(document, dict):
            raise ReceiptError(f"expected a JSON object, found {type(document).__name__}")
        if set(document) != _FIELDS:
            raise ReceiptError(
                f"expected fields {sorted(_FIELDS)}, found {sorted(map(str, document))}"
            )
        if canonical_json(document).decode("utf-8") != text:
            raise ReceiptError("expected the receipt in canonical JSON form, found another")
        record_text = document["record"]
        if not isinstance(record_text, str):
            raise ReceiptError("expected 'record' to be the canonical record as a string")
        record_bytes = record_text.encode("utf-8")
    except (ValueError, UnicodeError) as exc:
        raise ReceiptError(f"expected a UTF-8 JSON receipt, found: {exc}") from exc
    _expect(document, "receipt", RECEIPT_SPEC)
    _expect(document, "algorithm", ALGORITHM)
    _expect(document, "public_key_fingerprint", key_fingerprint(public_key))
    signature = document["signature"]
    if not isinstance(signature, str):
        raise ReceiptError("expected 'signature' to be a base64 string")
    try:
        verify_bytes(record_bytes, signature, public_key)
        record = record_from_canonical(record_bytes, signature=signature)
    except (SignatureError, CanonicalRecordError) as exc:
        raise ReceiptError(f"receipt does not verify: {exc}") from exc
    _expect(document, "key_id", record.signing_key_id)
    verified: dict[str, Any] = json.loads(record_bytes)
    return verified


def _expect(document: dict[str, Any], key: str, expected: str) -> None:
    if document[key] != expected:
        raise ReceiptError(f"expected {key} {expected!r}, found {document[key]!r}")


def _render_text(record: ConsentRecord, fingerprint: str) -> str:
    grantor = record.grantor
    if grantor.kind == GRANTOR_GUARDIAN:
        who = (
            f"{grantor.name}（监护人 guardian；关系 relationship: {grantor.relationship}；"
            f"核验方式 verified by: {grantor.verification_method}）"
        )
    else:
        who = f"{grantor.name}（本人 the person）"
    categories = "、".join(
        f"{_CATEGORY_LABELS.get(c, c)} {c}" if c in _CATEGORY_LABELS else c
        for c in record.categories
    )
    lines = [
        "个人信息共享同意回执 / Consent receipt",
        "=" * 40,
        f"同意编号 Consent ID:        {record.consent_id}（第 {record.version} 版 version）",
        f"个案 Case:                  {record.case_id}",
        f"同意人 Granted by:          {who}",
        f"接收机构 Recipient:         {record.recipient_org}",
        f"用途 Purpose:               {record.purpose}",
        f"信息类别 Categories:        {categories}",
        f"具体字段 Fields:            {', '.join(record.fields)}",
        f"使用方式 Access:            {_ACCESS_LABELS.get(record.access_mode, record.access_mode)}",
        f"有效期 Valid from:          {_china_time(record.valid_from_ns)}",
        f"        Valid until:        {_china_time(record.valid_until_ns)}",
        f"保存期限 Retention:         {record.retention_days} 天 days",
        f"告知书 Notice:              {record.notice.version}  sha256 {record.notice.sha256}",
        f"签署凭证 Evidence:          sha256 {record.evidence.form_sha256}",
        f"见证人 Witness:             {record.evidence.witness or '—'}",
    ]
    if record.supersedes:
        lines.append(f"取代 Supersedes:            {record.supersedes}")
    lines += [
        f"登记 Recorded by:           {record.recorded_by_org} / {record.recorded_by_actor}",
        f"登记时间 Recorded at:       {_china_time(record.recorded_at_ns)}",
        "",
        "您可以随时撤回同意；撤回后接收机构须删除已获得的信息。",
        "You may withdraw this consent at any time; the recipient must then delete what it "
        "received.",
        "",
        f"签名 Signature (Ed25519):   {record.signature}",
        f"密钥 Key:                   {record.signing_key_id}  {fingerprint}",
        "核验 Verify:                 aidbridge consent verify-receipt <receipt.json>",
    ]
    return "\n".join(lines) + "\n"


def _china_time(ns: int) -> str:
    moment = datetime.fromtimestamp(ns // NS_PER_SECOND, tz=UTC).astimezone(_CHINA)
    return moment.strftime("%Y-%m-%d %H:%M:%S") + " (UTC+8)"
