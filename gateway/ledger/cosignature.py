"""Witness cosignatures on checkpoints: C2SP tlog-cosignature v1, the Ed25519 type.

A cosignature is a signed-note signature line on a checkpoint, ``— <name> base64(key id ‖
timestamp ‖ signature)``, where the key id is SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[:4]
(tlog-cosignature, "Format"), the timestamp is a big-endian u64 of POSIX seconds, and the
Ed25519 signature is over ``cosignature/v1\\ntime <timestamp>\\n`` followed by the whole
checkpoint body (tlog-cosignature, "Ed25519 signed message"). Witness keys travel as vkeys
``<name>+<hex key id>+<base64(0x04 ‖ key)>``. A cosignature says that, at its time, the
checkpoint was the largest consistent tree the witness had seen for that origin.

Lines by other keys are ignored, as signed-note requires; a line that claims a trusted key's
name and id but does not verify is an error, never silently skipped.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gateway.ledger.checkpoint import (
    _SIG_PREFIX,
    CheckpointError,
    _check_key_name,
    _decode_base64,
    _split_note,
)

COSIGNATURE_V1_ED25519 = b"\x04"
_KEY_ID_SIZE = 4
_TIMESTAMP_SIZE = 8
_SIGNATURE_SIZE = 64
_BLOB_SIZE = _KEY_ID_SIZE + _TIMESTAMP_SIZE + _SIGNATURE_SIZE
_MAX_TIMESTAMP = 2**63 - 1  # tlog-cosignature: the timestamp MUST NOT exceed 2^63 - 1
_HEADER = "cosignature/v1\n"


class CosignatureError(CheckpointError):
    """A witness key or cosignature is malformed, or a cosignature does not verify."""


@dataclass(frozen=True)
class WitnessKey:
    name: str
    key_id: bytes
    public_key: Ed25519PublicKey

    @property
    def vkey(self) -> str:
        return witness_vkey(self.name, self.public_key)


@dataclass(frozen=True)
class Cosignature:
    """One verified cosignature: who, when (POSIX seconds), and its signature line."""

    name: str
    key_id: bytes
    timestamp: int
    line: str  # "— <name> <base64>" without the newline


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def witness_key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[:4] (tlog-cosignature, "Format")."""
    material = name.encode("utf-8") + b"\n" + COSIGNATURE_V1_ED25519 + _raw(public_key)
    return hashlib.sha256(material).digest()[:_KEY_ID_SIZE]


def witness_vkey(name: str, public_key: Ed25519PublicKey) -> str:
    """The witness's vkey: ``<name>+<hex key id>+<base64(0x04 ‖ key)>``."""
    _check_key_name(name)
    encoded = base64.b64encode(COSIGNATURE_V1_ED25519 + _raw(public_key)).decode("ascii")
    return f"{name}+{witness_key_id(name, public_key).hex()}+{encoded}"


def parse_witness_vkey(vkey: str) -> WitnessKey:
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        raise CosignatureError(
            f"expected a witness key '<name>+<hex id>+<base64 key>', found {len(parts)} parts"
        )
    name, hex_id, encoded = parts
    _check_key_name(name)
    try:
        wanted_id = bytes.fromhex(hex_id)
        material = _decode_base64(encoded)
    except (ValueError, binascii.Error) as exc:
        raise CosignatureError(f"witness key is not hex id + base64 key: {exc}") from exc
    if len(wanted_id) != _KEY_ID_SIZE:
        raise CosignatureError(
            f"expected a {_KEY_ID_SIZE}-byte key id, found {len(wanted_id)} bytes"
        )
    if len(material) != 1 + 32 or material[:1] != COSIGNATURE_V1_ED25519:
        raise CosignatureError(
            "expected a cosignature/v1 Ed25519 witness key (0x04 then 32 bytes), "
            f"found {len(material)} bytes starting {material[:1].hex() or 'nothing'}"
        )
    public_key = Ed25519PublicKey.from_public_bytes(material[1:])
    if witness_key_id(name, public_key) != wanted_id:
        raise CosignatureError(
            f"witness key id {hex_id} does not match its name and key "
            f"({witness_key_id(name, public_key).hex()})"
        )
    return WitnessKey(name, wanted_id, public_key)


def signed_message(body: str, timestamp: int) -> bytes:
    """What a cosigner signs: the header line, the time line, then the whole note body."""
    return f"{_HEADER}time {timestamp}\n{body}".encode()


def note_body(note: str) -> str:
    """The text of a signed note (up to and including its last newline before the blank line)."""
    return _split_note(note)[0]


def cosign(body: str, name: str, private_key: Ed25519PrivateKey, timestamp: int) -> str:
    """A cosignature line (no newline) over the checkpoint ``body`` at ``timestamp``."""
    _check_key_name(name)
    if not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise CosignatureError(f"expected a timestamp in [0, 2^63-1], found {timestamp}")
    signature = private_key.sign(signed_message(body, timestamp))
    blob = witness_key_id(name, private_key.public_key()) + struct.pack(">Q", timestamp)
    encoded = base64.b64encode(blob + signature).decode("ascii")
    return f"{_SIG_PREFIX}{name} {encoded}"


def find_cosignature(note: str, key: WitnessKey) -> Cosignature | None:
    """The verified cosignature by ``key`` on ``note``; None if the note carries none. Raises
    CosignatureError if a line names this key but is malformed or does not verify."""
    body, lines = _split_note(note)
    return _find(body, lines, key)


def verify_cosignature_lines(body: str, lines: list[str], key: WitnessKey) -> Cosignature:
    """Check that ``lines`` (a witness's response) hold a valid cosignature by ``key`` on the
    checkpoint ``body``, and return it."""
    found = _find(body, lines, key)
    if found is None:
        raise CosignatureError(f"expected a cosignature by witness {key.name!r}, found none")
    return found


def _find(body: str, lines: list[str], key: WitnessKey) -> Cosignature | None:
    found: Cosignature | None = None
    for number, line in enumerate(lines, start=1):
        if not line.startswith(_SIG_PREFIX):
            raise CosignatureError(f"signature line {number}: expected '— <name> <base64>'")
        fields = line[len(_SIG_PREFIX) :].split(" ")
        if len(fields) != 2 or not fields[0]:
            raise CosignatureError(f"signature line {number}: expected a key name and a signature")
        name, encoded = fields
        try:
            blob = _decode_base64(encoded)
        except binascii.Error as exc:
            raise CosignatureError(f"signature line {number}: not base64: {exc}") from exc
        if name != key.name or blob[:_KEY_ID_SIZE] != key.key_id:
            continue  # the log's own signature, or another witness's
        if len(blob) != _BLOB_SIZE:
            raise CosignatureError(
                f"signature line {number}: expected a {_BLOB_SIZE}-byte cosignature "
                f"(key id, timestamp, Ed25519 signature), found {len(blob)} bytes"
            )
        (timestamp,) = struct.unpack(">Q", blob[_KEY_ID_SIZE : _KEY_ID_SIZE + _TIMESTAMP_SIZE])
        if timestamp > _MAX_TIMESTAMP:
            raise CosignatureError(f"signature line {number}: timestamp {timestamp} > 2^63-1")
        try:
            key.public_key.verify(
                blob[_KEY_ID_SIZE + _TIMESTAMP_SIZE :], signed_message(body, timestamp)
            )
        except InvalidSignature as exc:
            raise CosignatureError(
                f"signature line {number}: the cosignature by witness {key.name!r} does not verify"
            ) from exc
        if found is None or timestamp > found.timestamp:
            found = Cosignature(key.name, key.key_id, timestamp, line)
    return found


def with_signatures(note: str, lines: list[str]) -> str:
    """``note`` with the signature ``lines`` appended after its own, skipping any it has."""
    body, existing = _split_note(note)
    merged = list(existing)
    for line in lines:
        if line not in merged:
            merged.append(line)
    return body + "\n" + "".join(line + "\n" for line in merged)
