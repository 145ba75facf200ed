"""AES-256-GCM at rest: the self-describing blob, binding to the row by associated data,
detection of any tampering, and decryption under older keys after a rotation."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.privacy.crypto import DecryptionError, FieldCipher

from .synthetic import KEYS, make_record, seeds

OLD_KEY = bytes([1]) * 32
NEW_KEY = bytes([2]) * 32


def test_a_record_round_trips_bound_to_its_row() -> None:
    cipher = FieldCipher.from_keyring(KEYS)
    record = make_record(7)
    plaintext = json.dumps(record, ensure_ascii=False).encode()
    blob = cipher.encrypt(plaintext, b"case-1")
    assert json.loads(cipher.decrypt(blob, b"case-1")) == record
    assert record["name"].encode() not in blob


def test_the_blob_names_its_format_and_key() -> None:
    cipher = FieldCipher("k1", NEW_KEY)
    blob = cipher.encrypt(b"hello", b"row")
    assert blob[0] == 1
    assert blob[1] == 2
    assert blob[2:4] == b"k1"
    assert len(blob) == 2 + 2 + 12 + len(b"hello") + 16
    assert cipher.key_id == "k1"


def test_each_encryption_uses_a_fresh_nonce() -> None:
    cipher = FieldCipher("k1", NEW_KEY)
    assert cipher.encrypt(b"same", b"row") != cipher.encrypt(b"same", b"row")


def test_another_rows_blob_does_not_decrypt() -> None:
    cipher = FieldCipher("k1", NEW_KEY)
    blob = cipher.encrypt(b"secret", b"case-1")
    with pytest.raises(DecryptionError, match="wrong associated data"):
        cipher.decrypt(blob, b"case-2")


@given(data=st.data())
def test_any_flipped_bit_is_detected(data: st.DataObject) -> None:
    cipher = FieldCipher("k1", NEW_KEY, older={"k0": OLD_KEY})
    blob = bytearray(cipher.encrypt(b"personal data", b"row"))
    position = data.draw(st.integers(min_value=0, max_value=len(blob) - 1))
    bit = data.draw(st.integers(min_value=0, max_value=7))
    blob[position] ^= 1 << bit
    with pytest.raises(DecryptionError):
        cipher.decrypt(bytes(blob), b"row")


def test_after_rotation_old_blobs_still_decrypt_and_new_ones_use_the_new_key() -> None:
    old = FieldCipher("k1", OLD_KEY)
    blob = old.encrypt(b"kept", b"row")
    rotated = FieldCipher("k2", NEW_KEY, older={"k1": OLD_KEY})
    assert rotated.decrypt(blob, b"row") == b"kept"
    assert rotated.encrypt(b"x", b"row")[2:4] == b"k2"


def test_a_blob_under_an_unknown_key_says_which_key() -> None:
    blob = FieldCipher("k9", OLD_KEY).encrypt(b"x", b"row")
    with pytest.raises(DecryptionError, match="found key id 'k9'"):
        FieldCipher("k1", NEW_KEY).decrypt(blob, b"row")


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"", "at least 2 header bytes"),
        (b"\x02\x02k1" + bytes(28), "expected format version 1, found 2"),
        (b"\x01\x00" + bytes(28), "key id length 0"),
        (b"\x01\x02k1" + bytes(27), "found 31 bytes"),
        (b"\x01\x02\xff\xfe" + bytes(28), "ASCII key id"),
    ],
)
def test_malformed_blobs_are_refused_before_decryption(blob: bytes, message: str) -> None:
    with pytest.raises(DecryptionError, match=message):
        FieldCipher("k1", NEW_KEY).decrypt(blob, b"row")


def test_keys_must_be_aes_256_with_an_ascii_id() -> None:
    with pytest.raises(ValueError, match="found 16 bytes"):
        FieldCipher("k1", bytes(16))
    with pytest.raises(ValueError, match="ASCII key id"):
        FieldCipher("密钥", NEW_KEY)
    with pytest.raises(ValueError, match="found 31 bytes"):
        FieldCipher("k2", NEW_KEY, older={"k1": bytes(31)})


@given(seed=seeds, aad=st.binary(max_size=40))
def test_decrypt_inverts_encrypt(seed: int, aad: bytes) -> None:
    cipher = FieldCipher.from_keyring(KEYS)
    plaintext = json.dumps(make_record(seed), ensure_ascii=False).encode()
    assert cipher.decrypt(cipher.encrypt(plaintext, aad), aad) == plaintext
