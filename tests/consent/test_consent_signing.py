"""The canonical consent record and its Ed25519 signature."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from gateway.consent.model import ConsentRecord, Evidence, Grantor
from gateway.consent.signing import (
    CanonicalRecordError,
    SignatureError,
    canonical_bytes,
    consent_key_id,
    key_fingerprint,
    record_from_canonical,
    sign_record,
    verify_record,
)
from gateway.keys import KeyRing

from .world import NOW, guardian, valid_draft


def unsigned_record(**changes: object) -> ConsentRecord:
    # Fixed names: Ed25519 is deterministic, so the same record always signs to the same bytes.
    draft = valid_draft(
        "case-signing",
        grantor=guardian(name="张秀英"),
        evidence=Evidence(form_sha256="ab" * 32, witness="李娜"),
    )
    record = ConsentRecord(
        consent_id="c-0123456789abcdef",
        version=1,
        case_id=draft.case_id,
        grantor=draft.grantor,
        recipient_org=draft.recipient_org,
        purpose=draft.purpose,
        categories=draft.categories,
        fields=draft.fields,
        access_mode=draft.access_mode,
        valid_from_ns=draft.valid_from_ns,
        valid_until_ns=draft.valid_until_ns,
        retention_days=draft.retention_days,
        notice=draft.notice,
        evidence=draft.evidence,
        supersedes=None,
        recorded_by_org="jb-civil-affairs",
        recorded_by_actor="caseworker-007",
        recorded_at_ns=NOW,
        signature="",
        signing_key_id=consent_key_id("k1"),
    )
    return replace(record, **changes)


def signed_record(keys: KeyRing, **changes: object) -> ConsentRecord:
    record = unsigned_record(**changes)
    return replace(record, signature=sign_record(record, keys.signing_key("consent")))


def test_canonical_record_is_sorted_compact_utf8_with_every_identity_field() -> None:
    data = canonical_bytes(unsigned_record())
    text = data.decode("utf-8")
    doc = json.loads(text)
    assert text == json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert "张秀英" in text  # UTF-8 as is, never \u escaped
    assert " " not in text.replace("张秀英", "")
    for name in ("consent_id", "version", "case_id", "recorded_at_ns", "signing_key_id"):
        assert name in doc
    assert "state" not in doc  # the state changes through events; the record does not


def test_canonical_record_round_trips_exactly() -> None:
    record = unsigned_record(supersedes="c-older")
    again = record_from_canonical(canonical_bytes(record), signature="", state=record.state)
    assert again == record


def test_non_canonical_bytes_are_refused() -> None:
    doc = json.loads(canonical_bytes(unsigned_record()))
    pretty = json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False).encode()
    with pytest.raises(CanonicalRecordError):
        record_from_canonical(pretty, signature="")
    doc["extra"] = "field"
    with pytest.raises(CanonicalRecordError):
        record_from_canonical(
            json.dumps(doc, sort_keys=True, separators=(",", ":")).encode(), signature=""
        )


def test_signature_verifies_with_the_consent_public_key(keys: KeyRing) -> None:
    verify_record(signed_record(keys), keys.public_key("consent"))


def test_signature_does_not_verify_with_another_key(keys: KeyRing) -> None:
    with pytest.raises(SignatureError):
        verify_record(signed_record(keys), keys.public_key("checkpoint"))


@pytest.mark.parametrize(
    "change",
    [
        {"consent_id": "c-other"},
        {"version": 2},
        {"case_id": "case-other"},
        {"recipient_org": "charity-harbour"},
        {"fields": ("birth_date",)},
        {"valid_until_ns": NOW + 1},
        {"recorded_at_ns": NOW + 1},
        {"grantor": Grantor(kind="guardian", name="张秀英", relationship="父亲")},
    ],
)
def test_changing_any_signed_field_breaks_the_signature(
    keys: KeyRing, change: dict[str, object]
) -> None:
    altered = replace(signed_record(keys), **change)
    with pytest.raises(SignatureError):
        verify_record(altered, keys.public_key("consent"))


@given(position=st.integers(min_value=0, max_value=87), char=st.sampled_from("AQgw+/=x"))
def test_a_non_canonical_or_altered_signature_string_is_refused(
    keys: KeyRing, position: int, char: str
) -> None:
    record = signed_record(keys)
    altered = record.signature[:position] + char + record.signature[position + 1 :]
    assume(altered != record.signature)
    with pytest.raises(SignatureError):
        verify_record(replace(record, signature=altered), keys.public_key("consent"))


def test_key_fingerprint_names_the_raw_public_key(keys: KeyRing) -> None:
    fingerprint = key_fingerprint(keys.public_key("consent"))
    assert fingerprint.startswith("sha256:") and len(fingerprint) == 7 + 64
    assert fingerprint != key_fingerprint(keys.public_key("checkpoint"))
