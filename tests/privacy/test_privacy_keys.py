"""The key ring: the master key file's guards, and HKDF-SHA256 derivations (RFC 5869) checked
against an independent implementation of the RFC written here with hmac alone."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from gateway.keys import MASTER_KEY_SIZE, KeyFileError, KeyRing

from .synthetic import TEST_MASTER


def _rfc5869(master: bytes, info: bytes, salt: bytes = b"aidbridge-gateway") -> bytes:
    prk = hmac.new(salt, master, hashlib.sha256).digest()  # §2.2 extract
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()  # §2.3 expand, one block


def test_generate_writes_32_random_bytes_readable_by_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    KeyRing.generate(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_bytes()) == MASTER_KEY_SIZE
    KeyRing.generate(tmp_path / "other.key")
    assert path.read_bytes() != (tmp_path / "other.key").read_bytes()


def test_generate_refuses_to_overwrite_an_existing_key(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    KeyRing.generate(path)
    before = path.read_bytes()
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        KeyRing.generate(path)
    assert path.read_bytes() == before


def test_a_loaded_key_derives_the_same_keys_as_the_generated_one(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    made = KeyRing.generate(path)
    loaded = KeyRing.load(path)
    assert loaded.pseudonym_key("charity-a") == made.pseudonym_key("charity-a")
    assert loaded.at_rest_key() == made.at_rest_key()
    assert loaded.public_key("checkpoint").public_bytes_raw() == (
        made.public_key("checkpoint").public_bytes_raw()
    )


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o602])
def test_load_refuses_a_key_group_or_others_can_access(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "master.key"
    KeyRing.generate(path)
    os.chmod(path, mode)
    with pytest.raises(KeyFileError, match=f"found mode {mode:04o}"):
        KeyRing.load(path)


@pytest.mark.parametrize(("size", "found"), [(0, "0 bytes"), (31, "31 bytes"), (33, "more")])
def test_load_refuses_a_key_of_the_wrong_size(tmp_path: Path, size: int, found: str) -> None:
    path = tmp_path / "master.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"\x07" * size)
    os.close(fd)
    with pytest.raises(KeyFileError, match=f"exactly 32 bytes, found {found}"):
        KeyRing.load(path)


def test_load_of_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="found none"):
        KeyRing.load(tmp_path / "absent.key")


def test_derivations_follow_rfc5869_with_one_info_per_use() -> None:
    keys = KeyRing(TEST_MASTER)
    assert keys.pseudonym_key("charity-a") == _rfc5869(
        TEST_MASTER, b"aidbridge/pseudonym/v1/charity-a"
    )
    assert keys.index_key() == _rfc5869(TEST_MASTER, b"aidbridge/index/v1")
    assert keys.at_rest_key() == ("k1", _rfc5869(TEST_MASTER, b"aidbridge/at-rest/v1"))
    seed = _rfc5869(TEST_MASTER, b"aidbridge/signing/v1/consent")
    raw = keys.signing_key("consent").private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    assert raw == seed


def test_every_use_gets_a_different_key() -> None:
    keys = KeyRing(TEST_MASTER)
    derived = [
        keys.pseudonym_key("charity-a"),
        keys.pseudonym_key("charity-b"),
        keys.pseudonym_key("ledger"),
        keys.index_key(),
        keys.at_rest_key()[1],
        keys.public_key("checkpoint").public_bytes_raw(),
        keys.public_key("consent").public_bytes_raw(),
    ]
    assert len(set(derived)) == len(derived)


def test_a_signature_verifies_under_its_purpose_only() -> None:
    keys = KeyRing(TEST_MASTER)
    signature = keys.signing_key("checkpoint").sign(b"tree size 7")
    keys.public_key("checkpoint").verify(signature, b"tree size 7")
    with pytest.raises(InvalidSignature):
        keys.public_key("consent").verify(signature, b"tree size 7")


def test_an_unknown_signing_purpose_is_refused() -> None:
    with pytest.raises(ValueError, match="found 'checkpiont'"):
        KeyRing(TEST_MASTER).signing_key("checkpiont")


def test_derived_keys_are_cached_not_rederived() -> None:
    keys = KeyRing(TEST_MASTER)
    assert keys.signing_key("consent") is keys.signing_key("consent")
    assert keys.pseudonym_key("charity-a") is keys.pseudonym_key("charity-a")


def test_the_ring_never_shows_its_secret() -> None:
    keys = KeyRing(TEST_MASTER)
    assert repr(keys) == "KeyRing(version='k1')"
    assert TEST_MASTER.hex() not in repr(keys)


def test_a_ring_needs_a_32_byte_master_and_a_key_version() -> None:
    with pytest.raises(ValueError, match="found 16 bytes"):
        KeyRing(bytes(16))
    with pytest.raises(ValueError, match="like 'k1'"):
        KeyRing(TEST_MASTER, version="v1.")
    assert KeyRing(TEST_MASTER, version="k2").version == "k2"
