"""Entries for the gateway's own state changes (gateway/ledger/system.py), and the two optional
fields that name a refused certificate: absent from the entry when empty, so every entry written
before them keeps its bytes and its leaf hash."""

from __future__ import annotations

import json

import pytest

from gateway.ledger import system
from gateway.ledger.entry import Exchange, LedgerEntryError, canonical_entry

CALL = Exchange(
    at_ns=1_780_000_000_000_000_000,
    org="charity-sunshine",
    role="charity",
    actor="volunteer-3",
    cert_fingerprint="ab" * 32,
    method="aidbridge.v1.ReferralService/ListReferrals",
)


def test_an_entry_without_certificate_names_has_the_same_bytes_as_before_the_fields_existed():
    document = json.loads(canonical_entry(CALL))
    assert "cert_subject" not in document and "cert_issuer" not in document
    # The v1 entry's keys, exactly as entries written before these fields were added.
    assert sorted(document) == sorted(
        [
            "v", "at_ns", "org", "role", "actor", "cert_fingerprint", "method", "subject",
            "purpose", "consent_id", "consent_version", "decision_id", "bundle_revision",
            "fields_released", "outcome", "reason", "request_digest", "response_digest",
        ]
    )  # fmt: skip


def test_a_refused_certificates_subject_and_issuer_are_written_into_the_entry():
    refused = Exchange(
        **{
            **CALL.__dict__,
            "org": "unknown",
            "role": "",
            "outcome": "UNAUTHENTICATED",
            "cert_subject": "CN=charity-rogue,O=冒名机构,OU=admin",
            "cert_issuer": "CN=AidBridge development CA",
        }
    )
    document = json.loads(canonical_entry(refused))
    assert document["cert_subject"] == "CN=charity-rogue,O=冒名机构,OU=admin"
    assert document["cert_issuer"] == "CN=AidBridge development CA"


@pytest.mark.parametrize("name", ["cert_subject", "cert_issuer"])
def test_certificate_names_are_checked_like_the_other_text_fields(name):
    with pytest.raises(LedgerEntryError, match=name) as err:
        canonical_entry(Exchange(**{**CALL.__dict__, name: "CN=" + "x" * 2000}))
    assert err.value.field == name
    with pytest.raises(LedgerEntryError, match=name):
        canonical_entry(Exchange(**{**CALL.__dict__, name: 42}))


def test_a_system_entry_names_the_gateway_its_action_and_who_acted():
    entry = system.system_exchange(
        system.REVOKE_CERTIFICATE,
        at_ns=5,
        actor=system.os_actor(),
        cert_fingerprint="cd" * 32,
        reason="certificate revoked: key lost",
    )
    document = json.loads(canonical_entry(entry))
    assert (document["org"], document["role"]) == ("aidbridge", "gateway")
    assert document["method"] == "aidbridge.system/RevokeCertificate"
    assert document["actor"].startswith("os:") and len(document["actor"]) > 3
    assert document["cert_fingerprint"] == "cd" * 32


def test_a_system_entry_cannot_pose_as_a_call():
    with pytest.raises(ValueError, match=r"aidbridge\.system/"):
        system.system_exchange("aidbridge.v1.CaseService/RegisterCase", at_ns=1, actor="x")
