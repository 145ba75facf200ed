"""The ledger's entry and position tags (HMAC-SHA256): what they bind, and that they come from
the master key through the ledger's own HKDF derivation."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from gateway.keys import KeyRing
from gateway.ledger.authenticator import EntryAuthenticator

KEY = bytes(range(32))
ENTRY = '{"method":"/aidbridge.v1.CaseService/RegisterCase","org":"民政局","v":1}'.encode()
LEAF = hashlib.sha256(b"\x00" + ENTRY).digest()


def test_entry_tag_is_hmac_sha256_of_the_labelled_entry_bytes() -> None:
    expected = hmac.new(KEY, b"aidbridge ledger entry v1\n" + ENTRY, hashlib.sha256).digest()
    assert EntryAuthenticator(KEY).entry_tag(ENTRY) == expected


def test_position_tag_binds_the_index_and_the_leaf() -> None:
    auth = EntryAuthenticator(KEY)
    tag = auth.position_tag(7, LEAF)
    assert auth.position_ok(7, LEAF, tag)
    assert not auth.position_ok(8, LEAF, tag)
    assert not auth.position_ok(7, hashlib.sha256(b"other").digest(), tag)
    with pytest.raises(ValueError, match="index ≥ 0"):
        auth.position_tag(-1, LEAF)


def test_a_tag_for_one_use_or_under_another_key_never_checks_for_another() -> None:
    auth = EntryAuthenticator(KEY)
    assert auth.entry_ok(ENTRY, auth.entry_tag(ENTRY))
    assert not auth.entry_ok(ENTRY + b" ", auth.entry_tag(ENTRY))
    assert not auth.entry_ok(ENTRY, None)
    assert not EntryAuthenticator(bytes(32)).entry_ok(ENTRY, auth.entry_tag(ENTRY))
    # Domain labels: an entry tag over bytes that spell a position is not a position tag.
    assert auth.entry_tag((7).to_bytes(8, "big") + LEAF) != auth.position_tag(7, LEAF)


def test_the_ledger_key_is_derived_from_the_master_key_apart_from_every_other_key(
    tmp_path: Path,
) -> None:
    ring = KeyRing.generate(tmp_path / "master.key")
    again = KeyRing.load(tmp_path / "master.key")
    assert ring.ledger_key() == again.ledger_key()
    assert ring.ledger_key() not in {ring.index_key(), ring.at_rest_key()[1]}
    auth = EntryAuthenticator.from_keyring(ring)
    assert EntryAuthenticator.from_keyring(again).entry_ok(ENTRY, auth.entry_tag(ENTRY))


def test_the_authenticator_never_shows_its_key() -> None:
    shown = repr(EntryAuthenticator(KEY))
    assert KEY.hex() not in shown and str(KEY) not in shown


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        EntryAuthenticator(b"short")
