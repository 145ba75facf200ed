"""The ledger entry: one canonical text per exchange, and refusals for what cannot be recorded."""

from __future__ import annotations

import hashlib
import json

import pytest
from faker import Faker
from hypothesis import given
from hypothesis import strategies as st

from gateway.ledger.entry import (
    OUTCOMES,
    Exchange,
    LedgerEntryError,
    canonical_entry,
    canonical_json,
)

fake = Faker("zh_CN")
Faker.seed(9162)


def _exchange(**overrides: object) -> Exchange:
    base: dict[str, object] = {
        "at_ns": 1_767_225_600_123_456_789,
        "org": "charity:" + fake.company(),
        "role": "charity",
        "actor": "caseworker-" + fake.numerify("####"),
        "cert_fingerprint": hashlib.sha256(b"cert").hexdigest(),
        "method": "/aidbridge.v1.ReferralService/GetSummary",
        "subject": "k1:" + fake.hexify("^" * 32),
        "purpose": "hardship_assistance",
        "consent_id": "cns_" + fake.hexify("^" * 12),
        "consent_version": 2,
        "decision_id": "dec-1",
        "bundle_revision": "rev-7",
        "fields_released": (("age_band", "generalise"), ("street", "plain")),
        "reason": fake.sentence(),
        "request_digest": hashlib.sha256(b"req").hexdigest(),
        "response_digest": hashlib.sha256(b"resp").hexdigest(),
    }
    base.update(overrides)
    return Exchange(**base)  # type: ignore[arg-type]


def test_canonical_entry_is_sorted_compact_utf8_with_a_version() -> None:
    ex = _exchange(reason="家庭困难，需要帮助")
    text = canonical_entry(ex).decode("utf-8")
    document = json.loads(text)
    assert document["v"] == 1
    assert list(document) == sorted(document)
    assert ", " not in text and ": " not in text
    assert "家庭困难，需要帮助" in text  # not \u-escaped
    assert document["fields_released"] == [["age_band", "generalise"], ["street", "plain"]]
    assert document["at_ns"] == 1_767_225_600_123_456_789


def test_equal_exchanges_give_identical_bytes_and_different_ones_do_not() -> None:
    ex = _exchange()
    assert canonical_entry(ex) == canonical_entry(Exchange(**ex.__dict__))
    assert canonical_entry(ex) != canonical_entry(_exchange(outcome="PERMISSION_DENIED"))


def test_outcome_must_be_ok_or_a_grpc_status_name() -> None:
    with pytest.raises(LedgerEntryError, match="expected outcome 'OK' or a gRPC status name"):
        canonical_entry(_exchange(outcome="denied"))


def test_a_value_wider_than_its_column_is_refused_naming_the_field() -> None:
    with pytest.raises(LedgerEntryError, match="expected actor of at most 100 characters") as err:
        canonical_entry(_exchange(actor="x" * 101))
    assert err.value.field == "actor"


def test_digests_must_be_hex_sha256() -> None:
    with pytest.raises(LedgerEntryError, match="request_digest"):
        canonical_entry(_exchange(request_digest="ABC"))


def test_negative_or_non_integer_time_is_refused() -> None:
    with pytest.raises(LedgerEntryError, match="at_ns"):
        canonical_entry(_exchange(at_ns=-1))
    with pytest.raises(LedgerEntryError, match="at_ns"):
        canonical_entry(_exchange(at_ns=1.5))


def test_text_that_has_no_utf8_form_is_refused() -> None:
    with pytest.raises(LedgerEntryError, match="UTF-8"):
        canonical_entry(_exchange(reason="\ud800"))


def test_a_denied_call_before_identity_is_known_can_still_be_recorded() -> None:
    ex = Exchange(
        at_ns=1,
        org="",
        role="",
        actor="",
        cert_fingerprint="",
        method="/x/Y",
        outcome="UNAUTHENTICATED",
    )
    assert json.loads(canonical_entry(ex))["outcome"] == "UNAUTHENTICATED"


_text = st.text(max_size=30)


@given(
    org=st.text(max_size=100),
    actor=st.text(max_size=100),
    reason=st.text(max_size=200),
    purpose=_text,
    outcome=st.sampled_from(sorted(OUTCOMES)),
    fields=st.lists(st.tuples(_text.filter(bool), _text.filter(bool)), max_size=5),
    at_ns=st.integers(0, 2**63 - 1),
)
def test_canonical_entry_round_trips_and_is_its_own_canonical_form(
    org: str,
    actor: str,
    reason: str,
    purpose: str,
    outcome: str,
    fields: list[tuple[str, str]],
    at_ns: int,
) -> None:
    ex = _exchange(
        org=org,
        actor=actor,
        reason=reason,
        purpose=purpose,
        outcome=outcome,
        fields_released=tuple(fields),
        at_ns=at_ns,
    )
    try:
        text = canonical_entry(ex).decode("utf-8")
    except LedgerEntryError:
        assert any(
            "\ud800" <= c <= "\udfff"
            for c in org + actor + reason + purpose + "".join(a + b for a, b in fields)
        )
        return
    document = json.loads(text)
    assert "\n" not in text  # one entry per line in exports
    assert canonical_json(document) == text
    assert (document["org"], document["actor"], document["reason"]) == (org, actor, reason)
    assert document["outcome"] == outcome and document["at_ns"] == at_ns
    assert [tuple(p) for p in document["fields_released"]] == fields
