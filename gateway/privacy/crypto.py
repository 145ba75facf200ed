"""Encryption of personal data at rest: AES-256-GCM (NIST SP 800-38D) with named keys.

A blob describes itself, so it can be read after the current key has changed:

    version (1 byte, 0x01) ‖ key-id length (1 byte) ‖ key id (ASCII) ‖ nonce (12 bytes)
    ‖ ciphertext ‖ tag (16 bytes)

The associated data (the row's id, given by the caller) binds a blob to its row: a ciphertext
copied to another row does not decrypt. Nonces are 96 random bits per encryption; SP 800-38D
§8.3 allows one key 2^32 such encryptions, far more than this store's rows and their rewrites,
and a rotation (a new key id) starts the count again.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import MappingProxyType

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.errors import AidBridgeError
from gateway.keys import KeyRing

BLOB_VERSION = 1
KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
_MAX_KEY_ID = 255


class DecryptionError(AidBridgeError):
    """A blob cannot be decrypted: unknown key id, wrong associated data or tampered, or
    malformed. The message names which, never the plaintext."""


class FieldCipher:
    """Encrypts with the current key; decrypts with whichever known key a blob names."""

    __slots__ = ("_aeads", "_current")

    def __init__(self, key_id: str, key: bytes, older: Mapping[str, bytes] | None = None) -> None:
        keys = {**(older or {}), key_id: key}
        for name, material in keys.items():
            _check_key(name, material)
        self._current = key_id
        # One AESGCM object per key: building it per call would cost on every read.
        self._aeads = MappingProxyType({name: AESGCM(material) for name, material in keys.items()})

    def __repr__(self) -> str:
        return f"FieldCipher(key_id={self._current!r}, keys={sorted(self._aeads)!r})"

    @classmethod
    def from_keyring(cls, keys: KeyRing) -> FieldCipher:
        key_id, key = keys.at_rest_key()
        return cls(key_id, key)

    @property
    def key_id(self) -> str:
        """The id of the key new blobs are encrypted with."""
        return self._current

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_SIZE)
        sealed = self._aeads[self._current].encrypt(nonce, plaintext, aad)
        name = self._current.encode("ascii")
        return bytes([BLOB_VERSION, len(name)]) + name + nonce + sealed

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        key_id, nonce, sealed = _split(blob)
        aead = self._aeads.get(key_id)
        if aead is None:
            raise DecryptionError(
                f"expected a blob under one of the keys {sorted(self._aeads)}, "
                f"found key id {key_id!r}"
            )
        try:
            return aead.decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise DecryptionError(
                f"blob under key {key_id!r} failed authentication: "
                "wrong associated data (another row's blob?) or tampered"
            ) from None


def _split(blob: bytes) -> tuple[str, bytes, bytes]:
    """Check lengths and bounds before anything is computed: (key id, nonce, sealed)."""
    if len(blob) < 2:
        raise DecryptionError(
            f"malformed blob: expected at least 2 header bytes, found {len(blob)}"
        )
    if blob[0] != BLOB_VERSION:
        raise DecryptionError(
            f"malformed blob: expected format version {BLOB_VERSION}, found {blob[0]}"
        )
    id_end = 2 + blob[1]
    if blob[1] == 0 or len(blob) < id_end + NONCE_SIZE + TAG_SIZE:
        raise DecryptionError(
            f"malformed blob: expected a key id of 1-{_MAX_KEY_ID} bytes, a {NONCE_SIZE}-byte "
            f"nonce and a {TAG_SIZE}-byte tag, found {len(blob)} bytes in all "
            f"(key id length {blob[1]})"
        )
    try:
        key_id = blob[2:id_end].decode("ascii")
    except UnicodeDecodeError:
        raise DecryptionError("malformed blob: expected an ASCII key id") from None
    return key_id, blob[id_end : id_end + NONCE_SIZE], blob[id_end + NONCE_SIZE :]


def _check_key(key_id: str, key: bytes) -> None:
    if not key_id or not key_id.isascii() or len(key_id) > _MAX_KEY_ID:
        raise ValueError(
            f"expected an ASCII key id of 1-{_MAX_KEY_ID} characters, found {key_id!r}"
        )
    if len(key) != KEY_SIZE:
        raise ValueError(
            f"expected a {KEY_SIZE}-byte AES-256 key for key id {key_id!r}, found {len(key)} bytes"
        )
