"""Consent receipts: issued for a signed record, verifiable by anyone with the public key, and
refused after any one-byte change."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gateway.consent.model import ConsentRecord
from gateway.consent.receipts import ReceiptError, make_receipt, verify_receipt
from gateway.consent.signing import key_fingerprint, sign_record
from gateway.keys import KeyRing

from .test_consent_signing import signed_record, unsigned_record
from .world import SUNSHINE, World, guardian, valid_draft


def receipt_json(keys: KeyRing, record: ConsentRecord | None = None) -> str:
    record = record or signed_record(keys)
    return make_receipt(
        record, public_key=keys.public_key("consent"), key_id=record.signing_key_id
    ).json


def test_receipt_verifies_and_returns_the_signed_record(keys: KeyRing) -> None:
    record = signed_record(keys)
    verified = verify_receipt(receipt_json(keys, record), keys.public_key("consent"))
    assert verified["consent_id"] == record.consent_id
    assert verified["recipient_org"] == SUNSHINE
    assert verified["grantor"]["name"] == record.grantor.name


def test_receipt_names_key_id_and_public_key_fingerprint(keys: KeyRing) -> None:
    document = json.loads(receipt_json(keys))
    assert document["key_id"] == "consent-" + keys.version
    assert document["public_key_fingerprint"] == key_fingerprint(keys.public_key("consent"))
    assert document["algorithm"] == "Ed25519"


def test_printable_receipt_is_bilingual_and_carries_the_essentials(keys: KeyRing) -> None:
    record = signed_record(keys, grantor=guardian(name="刘桂英", relationship="祖母"))
    text = make_receipt(
        record, public_key=keys.public_key("consent"), key_id=record.signing_key_id
    ).text
    for expected in (
        "同意回执",
        "Consent receipt",
        record.consent_id,
        "刘桂英",
        "祖母",
        SUNSHINE,
        "健康（敏感）",
        "180 天 days",
        "2025-06-01 10:00:00 (UTC+8)",
        record.signature,
        "verify-receipt",
    ):
        assert expected in text


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_changing_any_one_byte_of_the_receipt_is_refused(
    keys: KeyRing, data: st.DataObject
) -> None:
    original = receipt_json(keys).encode("utf-8")
    position = data.draw(st.integers(min_value=0, max_value=len(original) - 1), label="position")
    value = data.draw(st.integers(min_value=0, max_value=255), label="byte")
    assume(value != original[position])
    altered = original[:position] + bytes([value]) + original[position + 1 :]
    with pytest.raises(ReceiptError):
        verify_receipt(altered, keys.public_key("consent"))


def test_receipt_checked_with_another_key_is_refused(keys: KeyRing) -> None:
    with pytest.raises(ReceiptError, match="public_key_fingerprint"):
        verify_receipt(receipt_json(keys), keys.public_key("checkpoint"))


def test_reformatted_receipt_is_refused(keys: KeyRing) -> None:
    pretty = json.dumps(json.loads(receipt_json(keys)), indent=2, ensure_ascii=False)
    with pytest.raises(ReceiptError, match="canonical"):
        verify_receipt(pretty, keys.public_key("consent"))


def test_no_receipt_is_issued_for_a_record_that_does_not_verify(keys: KeyRing) -> None:
    forged = replace(signed_record(keys), retention_days=3650)
    with pytest.raises(ReceiptError):
        make_receipt(forged, public_key=keys.public_key("consent"), key_id=forged.signing_key_id)


def test_no_receipt_is_issued_under_another_key_id(keys: KeyRing) -> None:
    record = signed_record(keys)
    with pytest.raises(ReceiptError, match="key id"):
        make_receipt(record, public_key=keys.public_key("consent"), key_id="consent-k9")


def test_receipt_for_a_stored_consent_needs_the_full_record(sqlite_world: World) -> None:
    world = sqlite_world
    case_id = world.add_case()
    record = world.record(valid_draft(case_id))
    public_key = world.keys.public_key("consent")
    partial = world.effective(record.consent_id, record.recorded_at_ns)
    with pytest.raises(ReceiptError, match="full record"):
        make_receipt(partial, public_key=public_key, key_id=partial.signing_key_id)
    receipt = make_receipt(record, public_key=public_key, key_id=record.signing_key_id)
    assert verify_receipt(receipt.json, public_key)["case_id"] == case_id


def test_unsigned_record_gets_no_receipt(keys: KeyRing) -> None:
    record = unsigned_record()
    with pytest.raises(ReceiptError):
        make_receipt(record, public_key=keys.public_key("consent"), key_id=record.signing_key_id)
    resigned = replace(record, signature=sign_record(record, keys.signing_key("consent")))
    assert verify_receipt(receipt_json(keys, resigned), keys.public_key("consent"))
