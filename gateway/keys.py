"""The gateway's keys: one 32-byte master secret on disk, every working key derived from it.

Derivation is HKDF-SHA256 (RFC 5869) with a distinct ``info`` per use, so no two uses ever share
key material and destroying one derived key (a recipient's pseudonym key) touches nothing else:

* ``aidbridge/pseudonym/v1/<recipient>``: HMAC key of one recipient's pseudonyms;
* ``aidbridge/index/v1``: HMAC key that finds a resident id in the store without storing it;
* ``aidbridge/at-rest/v1``: AES-256-GCM key for personal data at rest;
* ``aidbridge/ledger/v1``: HMAC key that authenticates ledger entries the gateway queued and the
  positions its sequencer gave them (``gateway.ledger.authenticator``);
* ``aidbridge/signing/v1/<purpose>``: Ed25519 seed (RFC 8032 §5.1.5) for checkpoints or consents.

The ring carries a key version ("k1"): pseudonyms, index entries and ciphertexts name it, so a
future rotation can tell old material from new without guessing.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MASTER_KEY_SIZE = 32
DEFAULT_VERSION = "k1"
SIGNING_PURPOSES = frozenset({"checkpoint", "consent"})

_DERIVED_KEY_SIZE = 32
_VERSION_FORM = re.compile(r"k[1-9][0-9]{0,5}")
# Fixed salt: the master key is uniformly random already (RFC 5869 §3.1 allows no salt); a
# constant one names the application so the same secret used elsewhere would derive other keys.
_SALT = b"aidbridge-gateway"


class KeyFileError(Exception):
    """The master key file is missing, malformed, too widely readable, or would be overwritten."""


class KeyRing:
    """The master secret and the keys derived from it, each derived once and then cached."""

    __slots__ = ("_master", "_pseudonym", "_signing", "_single", "version")

    def __init__(self, master: bytes, version: str = DEFAULT_VERSION) -> None:
        if len(master) != MASTER_KEY_SIZE:
            raise ValueError(
                f"expected a {MASTER_KEY_SIZE}-byte master key, found {len(master)} bytes"
            )
        if not _VERSION_FORM.fullmatch(version):
            raise ValueError(f"expected a key version like 'k1', found {version!r}")
        self._master = bytes(master)
        self.version = version
        self._pseudonym: dict[str, bytes] = {}
        self._signing: dict[str, Ed25519PrivateKey] = {}
        self._single: dict[bytes, bytes] = {}

    def __repr__(self) -> str:
        # Never the secret: rings end up in logs and tracebacks.
        return f"KeyRing(version={self.version!r})"

    @classmethod
    def generate(cls, path: Path, version: str = DEFAULT_VERSION) -> KeyRing:
        """Create a new master key at ``path`` (mode 0600). Refuses to overwrite a file."""
        master = os.urandom(MASTER_KEY_SIZE)
        try:
            # O_EXCL: an existing key is never replaced, since that would orphan every pseudonym
            # and ciphertext made with it. The mode is set at creation, never after a window.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise KeyFileError(
                f"expected no file at {path} to create a master key, found one; "
                "refusing to overwrite an existing key"
            ) from None
        with os.fdopen(fd, "wb") as out:
            out.write(master)
            out.flush()
            os.fsync(out.fileno())
        return cls(master, version)

    @classmethod
    def load(cls, path: Path, version: str = DEFAULT_VERSION) -> KeyRing:
        """Read the master key at ``path``; it must be 32 bytes, readable by its owner only."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            raise KeyFileError(f"expected a master key file at {path}, found none") from None
        with os.fdopen(fd, "rb") as source:
            mode = stat.S_IMODE(os.fstat(source.fileno()).st_mode)
            if mode & 0o077:
                raise KeyFileError(
                    f"expected master key {path} to be accessible by its owner only (0600), "
                    f"found mode {mode:04o}"
                )
            master = source.read(MASTER_KEY_SIZE + 1)
        if len(master) != MASTER_KEY_SIZE:
            found = f"{len(master)} bytes" if len(master) <= MASTER_KEY_SIZE else "more"
            raise KeyFileError(
                f"expected master key {path} to hold exactly {MASTER_KEY_SIZE} bytes, found {found}"
            )
        return cls(master, version)

    def pseudonym_key(self, recipient: str) -> bytes:
        """HMAC key of ``recipient``'s pseudonyms (the recipient "ledger" for the ledger's)."""
        key = self._pseudonym.get(recipient)
        if key is None:
            if not recipient:
                raise ValueError("expected a recipient to derive a pseudonym key, found ''")
            key = self._derive(b"aidbridge/pseudonym/v1/" + recipient.encode())
            self._pseudonym[recipient] = key
        return key

    def index_key(self) -> bytes:
        """HMAC key of the store's resident-id index."""
        return self._derive_once(b"aidbridge/index/v1")

    def ledger_key(self) -> bytes:
        """HMAC key of the ledger's entry and position authenticators."""
        return self._derive_once(b"aidbridge/ledger/v1")

    def at_rest_key(self) -> tuple[str, bytes]:
        """(key id, AES-256 key) for personal data at rest; the id is the ring's version."""
        return self.version, self._derive_once(b"aidbridge/at-rest/v1")

    def signing_key(self, purpose: str) -> Ed25519PrivateKey:
        """Ed25519 key for ``purpose`` ("checkpoint" or "consent")."""
        key = self._signing.get(purpose)
        if key is None:
            if purpose not in SIGNING_PURPOSES:
                # A typo must not silently mint a key nobody can verify against.
                raise ValueError(
                    f"expected a signing purpose in {sorted(SIGNING_PURPOSES)}, found {purpose!r}"
                )
            seed = self._derive(b"aidbridge/signing/v1/" + purpose.encode())
            key = Ed25519PrivateKey.from_private_bytes(seed)
            self._signing[purpose] = key
        return key

    def public_key(self, purpose: str) -> Ed25519PublicKey:
        return self.signing_key(purpose).public_key()

    def _derive_once(self, info: bytes) -> bytes:
        key = self._single.get(info)
        if key is None:
            key = self._derive(info)
            self._single[info] = key
        return key

    def _derive(self, info: bytes) -> bytes:
        return HKDF(
            algorithm=hashes.SHA256(), length=_DERIVED_KEY_SIZE, salt=_SALT, info=info
        ).derive(self._master)
