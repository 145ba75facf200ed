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
rotation can tell old material from new without guessing.

Pseudonym keys rotate (``aidbridge keys rotate``). Version ``k1`` keeps its original info string;
a later version ``kN`` derives from ``aidbridge/pseudonym/kN/<recipient>``, a prefix no ``k1``
info can have. Which version is current, and which versions each recipient has retired, is kept
in ``key-versions.json`` beside the master key (``KeyVersions``), re-read whenever the file
changes, so a running gateway issues and resolves by the new state without a restart. The
index, at-rest, ledger and signing keys do not rotate: the index and the ledger's pseudonyms must
stay stable for lookups, and ciphertexts already name their key id.
"""

from __future__ import annotations

import json
import os
import re
import stat
import threading
from dataclasses import dataclass, field
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


class KeyVersionError(ValueError):
    """A rotation or retirement that cannot be done: unknown version, the current one, etc."""


VERSIONS_FILE = "key-versions.json"


def version_number(version: str) -> int:
    """``3`` for ``"k3"``; a clear error for anything not of the form ``k<N>``."""
    if not _VERSION_FORM.fullmatch(version):
        raise KeyVersionError(f"expected a key version like 'k1', found {version!r}")
    return int(version[1:])


@dataclass(frozen=True)
class VersionState:
    """The pseudonym key versions: the current one (every version up to it is known) and, per
    recipient, the versions it has retired, with when each event happened."""

    current: str = DEFAULT_VERSION
    retired: dict[str, tuple[str, ...]] = field(default_factory=dict)
    events: tuple[dict[str, object], ...] = ()

    def known(self, version: str) -> bool:
        try:
            return 1 <= version_number(version) <= version_number(self.current)
        except KeyVersionError:
            return False

    def is_retired(self, recipient: str, version: str) -> bool:
        return version in self.retired.get(recipient, ())


class KeyVersions:
    """The pseudonym key versions, kept in ``key-versions.json``; read again when it changes.

    Without a path (a ring built in memory) the state lives in memory only."""

    def __init__(self, path: Path | None = None, *, initial: str = DEFAULT_VERSION) -> None:
        version_number(initial)
        self._path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._state = VersionState(current=initial)

    @property
    def path(self) -> Path | None:
        return self._path

    def state(self) -> VersionState:
        if self._path is None:
            return self._state
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            return VersionState()
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            with self._lock:
                self._state = _parse_state(self._path)
                self._stamp = stamp
        return self._state

    def current(self) -> str:
        return self.state().current

    def rotate(self, at_ns: int) -> tuple[str, str]:
        """Make a new version current: (previous, new)."""
        state = self.state()
        new = f"k{version_number(state.current) + 1}"
        self._write(
            VersionState(
                current=new,
                retired=state.retired,
                events=(*state.events, {"event": "rotate", "version": new, "at_ns": at_ns}),
            )
        )
        return state.current, new

    def retire(self, recipient: str, version: str, at_ns: int) -> None:
        """Make ``recipient``'s pseudonyms of ``version`` unresolvable. Refuses the current
        version (new pseudonyms are issued in it), an unknown one, or one already retired."""
        state = self.state()
        if not state.known(version):
            raise KeyVersionError(
                f"--version: expected a key version from k1 to {state.current}, found {version!r}"
            )
        if version == state.current:
            raise KeyVersionError(
                f"--version: {version} is the current version, in which new pseudonyms are "
                "issued; rotate first (aidbridge keys rotate), then retire it"
            )
        if state.is_retired(recipient, version):
            raise KeyVersionError(f"--version: {version} is already retired for {recipient}")
        retired = dict(state.retired)
        retired[recipient] = (*retired.get(recipient, ()), version)
        event = {"event": "retire", "recipient": recipient, "version": version, "at_ns": at_ns}
        self._write(VersionState(state.current, retired, (*state.events, event)))

    def _write(self, state: VersionState) -> None:
        if self._path is None:
            self._state = state
            return
        document = {
            "current": state.current,
            "retired": {org: list(v) for org, v in sorted(state.retired.items())},
            "events": list(state.events),
        }
        # Written beside and renamed over: a reader sees the old state or the new, never half.
        tmp = self._path.with_name(self._path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=2, sort_keys=True)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self._path)


def _parse_state(path: Path) -> VersionState:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        current = str(document["current"])
        version_number(current)
        retired = {
            str(org): tuple(str(v) for v in versions)
            for org, versions in dict(document.get("retired", {})).items()
        }
        events = tuple(dict(e) for e in document.get("events", []))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # Fail closed: a damaged file must not silently bring retired pseudonyms back.
        raise KeyFileError(f"expected a valid key versions file at {path}: {exc}") from None
    return VersionState(current, retired, events)


class KeyRing:
    """The master secret and the keys derived from it, each derived once and then cached."""

    __slots__ = ("_master", "_pseudonym", "_signing", "_single", "version", "versions")

    def __init__(
        self, master: bytes, version: str = DEFAULT_VERSION, versions: KeyVersions | None = None
    ) -> None:
        if len(master) != MASTER_KEY_SIZE:
            raise ValueError(
                f"expected a {MASTER_KEY_SIZE}-byte master key, found {len(master)} bytes"
            )
        if not _VERSION_FORM.fullmatch(version):
            raise ValueError(f"expected a key version like 'k1', found {version!r}")
        self._master = bytes(master)
        self.version = version
        self.versions = versions or KeyVersions(initial=version)
        self._pseudonym: dict[tuple[str, str], bytes] = {}
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
        return cls(master, version, KeyVersions(path.with_name(VERSIONS_FILE)))

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
        return cls(master, version, KeyVersions(path.with_name(VERSIONS_FILE)))

    def pseudonym_key(self, recipient: str, version: str = DEFAULT_VERSION) -> bytes:
        """HMAC key of ``recipient``'s pseudonyms of key ``version`` (the recipient "ledger" for
        the ledger's)."""
        key = self._pseudonym.get((recipient, version))
        if key is None:
            if not recipient:
                raise ValueError("expected a recipient to derive a pseudonym key, found ''")
            if version_number(version) == 1:
                info = b"aidbridge/pseudonym/v1/" + recipient.encode()  # as first issued
            else:
                info = b"aidbridge/pseudonym/" + version.encode() + b"/" + recipient.encode()
            key = self._derive(info)
            self._pseudonym[(recipient, version)] = key
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
