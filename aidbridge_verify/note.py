"""C2SP signed notes: checkpoints (tlog-checkpoint) signed by the log's Ed25519 key and
cosigned by witnesses (tlog-cosignature v1). Needs only ``cryptography``'s Ed25519.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from aidbridge_verify.errors import CosignatureError, KeyError_, SignatureError
from aidbridge_verify.merkle import HASH_SIZE

SIG_PREFIX = "— "  # U+2014 then a space
LOG_KEY_TYPE = b"\x01"  # signed-note Ed25519
WITNESS_KEY_TYPE = b"\x04"  # tlog-cosignature v1 Ed25519
MAX_NOTE_BYTES = 1 << 16
MAX_SIGNATURES = 100
_KEY_ID_SIZE = 4
_SIGNATURE_SIZE = 64
_COSIG_BLOB = _KEY_ID_SIZE + 8 + _SIGNATURE_SIZE
_SIZE = re.compile(r"0|[1-9][0-9]{0,18}")


@dataclass(frozen=True)
class Key:
    name: str
    key_id: bytes
    public_key: Ed25519PublicKey
    kind: bytes  # LOG_KEY_TYPE or WITNESS_KEY_TYPE
    vkey: str

    @property
    def fingerprint(self) -> str:
        """Hex SHA-256 of the key's canonical vkey text (AidBridge's fingerprint)."""
        return hashlib.sha256(self.vkey.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    body: str
    signature_lines: tuple[str, ...]


@dataclass(frozen=True)
class Cosignature:
    witness: str
    timestamp: int


def b64decode(text: str, what: str, error: type[Exception]) -> bytes:
    """Strict, canonical standard base64."""
    try:
        value = base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise error(f"{what}: not base64: {exc}") from exc
    if base64.b64encode(value).decode("ascii") != text:
        raise error(f"{what}: non-canonical base64")
    return value


def _key_id(name: str, kind: bytes, raw: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + kind + raw).digest()[:_KEY_ID_SIZE]


def parse_vkey(vkey: str, kind: bytes = LOG_KEY_TYPE) -> Key:
    """``<name>+<hex key id>+<base64(type ‖ 32-byte Ed25519 key)>``; the id must match."""
    text = vkey.strip()
    what = "log key" if kind == LOG_KEY_TYPE else "witness key"
    if len(text) > 1024:
        raise KeyError_(f"{what}: expected at most 1024 characters, found {len(text)}")
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise KeyError_(
            f"{what}: expected '<name>+<hex id>+<base64 key>', found {len(parts)} parts"
        )
    name, hex_id, encoded = parts
    if not name or any(ch.isspace() for ch in name):
        raise KeyError_(f"{what}: expected a name without spaces, found {name!r}")
    try:
        wanted = bytes.fromhex(hex_id)
    except ValueError as exc:
        raise KeyError_(f"{what}: key id is not hex") from exc
    material = b64decode(encoded, what, KeyError_)
    if len(wanted) != _KEY_ID_SIZE:
        raise KeyError_(f"{what}: expected a 4-byte key id, found {len(wanted)} bytes")
    if len(material) != 33 or material[:1] != kind:
        raise KeyError_(
            f"{what}: expected type 0x{kind.hex()} then 32 bytes, found {len(material)} bytes "
            f"starting {material[:1].hex() or 'nothing'}"
        )
    if _key_id(name, kind, material[1:]) != wanted:
        raise KeyError_(f"{what}: key id {hex_id} does not match its name and key")
    canonical = f"{name}+{hex_id.lower()}+{encoded}"
    return Key(name, wanted, Ed25519PublicKey.from_public_bytes(material[1:]), kind, canonical)


def split_note(note: str) -> tuple[str, list[str]]:
    if len(note.encode("utf-8")) > MAX_NOTE_BYTES:
        raise SignatureError(f"expected a note of at most {MAX_NOTE_BYTES} bytes")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise SignatureError("expected a blank line between the note text and its signatures")
    body, block = note[: cut + 1], note[cut + 2 :]
    if not block.endswith("\n"):
        raise SignatureError("expected the signature block to end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise SignatureError(f"expected at most {MAX_SIGNATURES} signatures, found {len(lines)}")
    for number, line in enumerate(lines, start=1):
        fields = line[len(SIG_PREFIX) :].split(" ") if line.startswith(SIG_PREFIX) else []
        if len(fields) != 2 or not fields[0]:
            raise SignatureError(f"signature line {number}: expected '— <name> <base64>'")
    return body, lines


def _lines_of(key: Key, lines: list[str]) -> list[tuple[int, bytes]]:
    found = []
    for number, line in enumerate(lines, start=1):
        name, encoded = line[len(SIG_PREFIX) :].split(" ")
        if name != key.name:
            continue
        blob = b64decode(encoded, f"signature line {number}", SignatureError)
        if blob[:_KEY_ID_SIZE] == key.key_id:
            found.append((number, blob))
    return found


def open_checkpoint(note: str, key: Key) -> Checkpoint:
    """Verify the log's signature on ``note`` and parse its body (origin = the key's name)."""
    body, lines = split_note(note)
    mine = _lines_of(key, lines)
    if not mine:
        raise SignatureError(f"expected a signature by the log key {key.name!r}, found none")
    for number, blob in mine:
        if len(blob) != _KEY_ID_SIZE + _SIGNATURE_SIZE:
            raise SignatureError(f"signature line {number}: expected 68 bytes, found {len(blob)}")
        try:
            key.public_key.verify(blob[_KEY_ID_SIZE:], body.encode("utf-8"))
        except InvalidSignature as exc:
            raise SignatureError(
                f"signature line {number}: the signature by {key.name!r} does not verify"
            ) from exc
    parts = body[:-1].split("\n")
    if len(parts) < 3:
        raise SignatureError(f"expected origin, size and root lines, found {len(parts)} lines")
    origin, size_text, root_text = parts[:3]
    if origin != key.name:
        raise SignatureError(f"expected origin {key.name!r}, found {origin!r}")
    if not _SIZE.fullmatch(size_text):
        raise SignatureError(f"expected a decimal tree size, found {size_text[:40]!r}")
    root = b64decode(root_text, "root", SignatureError)
    if len(root) != HASH_SIZE:
        raise SignatureError(f"expected a {HASH_SIZE}-byte root, found {len(root)} bytes")
    return Checkpoint(origin, int(size_text), root, body, tuple(lines))


def find_cosignature(checkpoint: Checkpoint, witness: Key) -> Cosignature:
    """The valid cosignature of ``witness`` on the checkpoint; CosignatureError if none."""
    best: Cosignature | None = None
    for number, blob in _lines_of(witness, list(checkpoint.signature_lines)):
        if len(blob) != _COSIG_BLOB:
            raise CosignatureError(
                f"signature line {number}: expected a {_COSIG_BLOB}-byte cosignature, "
                f"found {len(blob)} bytes"
            )
        (timestamp,) = struct.unpack(">Q", blob[_KEY_ID_SIZE : _KEY_ID_SIZE + 8])
        if timestamp > 2**63 - 1:
            raise CosignatureError(f"signature line {number}: timestamp above 2^63-1")
        message = f"cosignature/v1\ntime {timestamp}\n{checkpoint.body}".encode()
        try:
            witness.public_key.verify(blob[_KEY_ID_SIZE + 8 :], message)
        except InvalidSignature as exc:
            raise CosignatureError(
                f"signature line {number}: the cosignature by {witness.name!r} does not verify"
            ) from exc
        if best is None or timestamp > best.timestamp:
            best = Cosignature(witness.name, timestamp)
    if best is None:
        raise CosignatureError(f"expected a cosignature by witness {witness.name!r}, found none")
    return best
