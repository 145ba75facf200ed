"""Pseudonym key versions: versioned HKDF derivation (RFC 5869), the versions file a running
gateway re-reads, rotation, retirement, and resolution of a pseudonym under the version it names."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.keys import VERSIONS_FILE, KeyFileError, KeyRing, KeyVersionError
from gateway.privacy.pseudonyms import (
    PseudonymNotFound,
    ledger_pseudonym,
    pseudonym_for,
    pseudonym_version,
    resolve_pseudonym,
)

from .synthetic import TEST_MASTER

SUBJECT = "11010519491231002X"
OTHER = "510211199505267802"


def _rfc5869(master: bytes, info: bytes, salt: bytes = b"aidbridge-gateway") -> bytes:
    prk = hmac.new(salt, master, hashlib.sha256).digest()  # §2.2 extract
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()  # §2.3 expand, one block


def _ring(tmp_path: Path) -> KeyRing:
    path = tmp_path / "master.key"
    if not path.exists():
        KeyRing.generate(path)
    return KeyRing.load(path)


def test_version_k1_keeps_the_info_it_was_first_issued_under() -> None:
    keys = KeyRing(TEST_MASTER)
    expected = _rfc5869(TEST_MASTER, b"aidbridge/pseudonym/v1/charity-a")
    assert keys.pseudonym_key("charity-a") == expected
    assert keys.pseudonym_key("charity-a", "k1") == expected


def test_a_later_version_derives_from_its_own_info() -> None:
    keys = KeyRing(TEST_MASTER)
    assert keys.pseudonym_key("charity-a", "k2") == _rfc5869(
        TEST_MASTER, b"aidbridge/pseudonym/k2/charity-a"
    )
    assert keys.pseudonym_key("charity-a", "k2") != keys.pseudonym_key("charity-a", "k1")
    assert keys.pseudonym_key("charity-a", "k2") != keys.pseudonym_key("charity-a", "k3")


def test_a_malformed_version_is_refused() -> None:
    with pytest.raises(KeyVersionError, match="expected a key version like 'k1', found 'v2'"):
        KeyRing(TEST_MASTER).pseudonym_key("charity-a", "v2")


@given(st.sampled_from(["charity-a", "charity-b", "ledger"]), st.integers(2, 50))
def test_pseudonyms_of_two_versions_never_coincide(recipient: str, n: int) -> None:
    keys = KeyRing(TEST_MASTER)
    old = pseudonym_for(keys, recipient, SUBJECT, "k1")
    new = pseudonym_for(keys, recipient, SUBJECT, f"k{n}")
    assert new.startswith(f"k{n}.") and old.startswith("k1.")
    assert new.split(".")[1] != old.split(".")[1]


def test_rotation_moves_new_pseudonyms_to_the_next_version_and_persists(tmp_path: Path) -> None:
    keys = _ring(tmp_path)
    before = pseudonym_for(keys, "charity-a", SUBJECT)
    assert pseudonym_version(before) == "k1"
    assert keys.versions.rotate(at_ns=1) == ("k1", "k2")
    after = pseudonym_for(keys, "charity-a", SUBJECT)
    assert pseudonym_version(after) == "k2" and after != before
    # Another ring on the same files (another process) reads the rotation.
    again = KeyRing.load(tmp_path / "master.key")
    assert pseudonym_for(again, "charity-a", SUBJECT) == after
    assert json.loads((tmp_path / VERSIONS_FILE).read_text())["current"] == "k2"


def test_a_ring_already_loaded_sees_a_rotation_written_by_another(tmp_path: Path) -> None:
    serving = _ring(tmp_path)
    assert serving.versions.current() == "k1"
    KeyRing.load(tmp_path / "master.key").versions.rotate(at_ns=1)
    assert serving.versions.current() == "k2"


def test_the_ledger_pseudonym_never_rotates(tmp_path: Path) -> None:
    keys = _ring(tmp_path)
    before = ledger_pseudonym(keys, "ledger", SUBJECT)
    keys.versions.rotate(at_ns=1)
    assert ledger_pseudonym(keys, "ledger", SUBJECT) == before


def test_old_and_new_pseudonyms_resolve_until_retired(tmp_path: Path) -> None:
    keys = _ring(tmp_path)
    candidates = [(OTHER, "case-other"), (SUBJECT, "case-subject")]
    v1 = pseudonym_for(keys, "charity-a", SUBJECT)
    keys.versions.rotate(at_ns=1)
    v2 = pseudonym_for(keys, "charity-a", SUBJECT)
    assert resolve_pseudonym(keys, "charity-a", v1, candidates) == "case-subject"
    assert resolve_pseudonym(keys, "charity-a", v2, candidates) == "case-subject"

    keys.versions.retire("charity-a", "k1", at_ns=2)
    with pytest.raises(PseudonymNotFound, match="k1, retired for charity-a"):
        resolve_pseudonym(keys, "charity-a", v1, candidates)
    assert resolve_pseudonym(keys, "charity-a", v2, candidates) == "case-subject"
    # Another charity's k1 pseudonyms are untouched.
    b1 = pseudonym_for(keys, "charity-b", SUBJECT, "k1")
    assert resolve_pseudonym(keys, "charity-b", b1, candidates) == "case-subject"


def test_a_pseudonym_of_another_recipient_does_not_resolve() -> None:
    keys = KeyRing(TEST_MASTER)
    theirs = pseudonym_for(keys, "charity-b", SUBJECT)
    with pytest.raises(PseudonymNotFound, match="names no known subject"):
        resolve_pseudonym(keys, "charity-a", theirs, [(SUBJECT, "case")])


@pytest.mark.parametrize(
    ("pseudonym", "message"),
    [
        ("k9." + "a" * 32, "key version k9, which does not exist"),
        ("k1.short", "expected a pseudonym like"),
        ("", "expected a pseudonym like"),
        ("K1." + "a" * 32, "expected a pseudonym like"),
    ],
)
def test_malformed_or_unknown_pseudonyms_are_not_found(pseudonym: str, message: str) -> None:
    with pytest.raises(PseudonymNotFound, match=message):
        resolve_pseudonym(KeyRing(TEST_MASTER), "charity-a", pseudonym, [(SUBJECT, "case")])


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("k2", "k2 is the current version"),
        ("k3", "expected a key version from k1 to k2, found 'k3'"),
        ("two", "expected a key version from k1 to k2, found 'two'"),
    ],
)
def test_retiring_the_current_or_an_unknown_version_is_refused_and_changes_nothing(
    tmp_path: Path, version: str, message: str
) -> None:
    keys = _ring(tmp_path)
    keys.versions.rotate(at_ns=1)
    before = (tmp_path / VERSIONS_FILE).read_bytes()
    with pytest.raises(KeyVersionError, match=message):
        keys.versions.retire("charity-a", version, at_ns=2)
    assert (tmp_path / VERSIONS_FILE).read_bytes() == before


def test_retiring_twice_is_refused(tmp_path: Path) -> None:
    keys = _ring(tmp_path)
    keys.versions.rotate(at_ns=1)
    keys.versions.retire("charity-a", "k1", at_ns=2)
    with pytest.raises(KeyVersionError, match="already retired for charity-a"):
        keys.versions.retire("charity-a", "k1", at_ns=3)


def test_a_damaged_versions_file_fails_closed(tmp_path: Path) -> None:
    keys = _ring(tmp_path)
    keys.versions.rotate(at_ns=1)
    keys.versions.retire("charity-a", "k1", at_ns=2)
    (tmp_path / VERSIONS_FILE).write_text("{not json")
    with pytest.raises(KeyFileError, match="expected a valid key versions file"):
        pseudonym_for(keys, "charity-a", SUBJECT)
