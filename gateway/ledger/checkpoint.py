"""Signed checkpoints of the ledger: C2SP tlog-checkpoint bodies in C2SP signed-note form, Ed25519.

A checkpoint body is three lines, ``<origin>\\n<tree size>\\n<base64 root>\\n`` (tlog-checkpoint;
this ledger writes no extension lines and refuses notes that carry them). The note is the body, a
blank line, then one line per signature, ``— <key name> <base64(key id ‖ signature)>`` (signed-
note), where the key id is the first 4 bytes of SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key)
and 0x01 names Ed25519. Verifier keys travel as ``<name>+<hex key id>+<base64(0x01 ‖ key)>``.
Signatures by other keys (a witness's cosignature) are ignored, as signed-note requires; the note
opens only if the expected key signed it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gateway.errors import InvalidArgument
from gateway.ledger.rfc9162 import HASH_SIZE

_ED25519 = b"\x01"
_KEY_ID_SIZE = 4
_SIGNATURE_SIZE = 64
_SIG_PREFIX = "— "  # em dash U+2014, then a space
_MAX_SIGNATURES = 100
_SIZE_PATTERN = re.compile(r"0|[1-9][0-9]*")


class CheckpointError(InvalidArgument):
    """A checkpoint note or verifier key is malformed, or the note does not verify."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes


@dataclass(frozen=True)
class _VerifierKey:
    name: str
    key_id: bytes
    public_key: Ed25519PublicKey


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _decode_base64(text: str) -> bytes:
    """Strict standard base64: one encoding per value, so a note has one spelling."""
    try:
        value = base64.b64decode(text, validate=True)
    except ValueError as exc:  # non-ASCII text raises a plain ValueError, not binascii.Error
        raise binascii.Error(str(exc)) from exc
    if base64.b64encode(value).decode("ascii") != text:
        raise binascii.Error("non-canonical base64 (stray padding bits)")
    return value


def key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """The signed-note key id: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + _ED25519 + _raw(public_key))
    return digest.digest()[:_KEY_ID_SIZE]


def _check_key_name(name: str) -> None:
    # signed-note: a name is non-empty UTF-8 without Unicode spaces or "+".
    if not name or "+" in name or any(ch.isspace() for ch in name):
        raise CheckpointError(f"expected a key name without spaces or '+', found {name!r}")


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    if not origin or "\n" in origin:
        raise CheckpointError(f"expected a one-line, non-empty origin, found {origin!r}")
    if size < 0:
        raise CheckpointError(f"expected a tree size ≥ 0, found {size}")
    if len(root) != HASH_SIZE:
        raise CheckpointError(f"expected a {HASH_SIZE}-byte root, found {len(root)} bytes")
    return f"{origin}\n{size}\n{base64.b64encode(root).decode('ascii')}\n"


def sign_checkpoint(
    origin: str,
    size: int,
    root: bytes,
    private_key: Ed25519PrivateKey,
    *,
    key_name: str | None = None,
) -> str:
    """The signed note text for (origin, size, root). The key name defaults to the origin, as a
    log's key is named after the log."""
    name = origin if key_name is None else key_name
    _check_key_name(name)
    body = checkpoint_body(origin, size, root)
    signature = private_key.sign(body.encode("utf-8"))
    blob = key_id(name, private_key.public_key()) + signature
    return f"{body}\n{_SIG_PREFIX}{name} {base64.b64encode(blob).decode('ascii')}\n"


def verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """The vkey string a verifier needs: ``<name>+<hex key id>+<base64(0x01 ‖ key)>``."""
    _check_key_name(name)
    encoded = base64.b64encode(_ED25519 + _raw(public_key)).decode("ascii")
    return f"{name}+{key_id(name, public_key).hex()}+{encoded}"


def vkey_fingerprint(vkey: str) -> str:
    """A verifier key's fingerprint, short enough to read out and write down: the hex SHA-256 of
    its canonical text (name, key id and key), so it pins the log's name as well as its key."""
    key = parse_verifier_key(vkey)
    canonical = verifier_key(key.name, key.public_key)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse_verifier_key(vkey: str) -> _VerifierKey:
    # The name and hex id hold no "+"; the base64 key may.
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        raise CheckpointError(
            f"expected a verifier key '<name>+<hex id>+<base64 key>', found {len(parts)} parts"
        )
    name, hex_id, encoded = parts
    _check_key_name(name)
    try:
        wanted_id = bytes.fromhex(hex_id)
        material = _decode_base64(encoded)
    except (ValueError, binascii.Error) as exc:
        raise CheckpointError(f"verifier key is not hex id + base64 key: {exc}") from exc
    if len(wanted_id) != _KEY_ID_SIZE:
        raise CheckpointError(
            f"expected a {_KEY_ID_SIZE}-byte key id, found {len(wanted_id)} bytes"
        )
    if len(material) != 1 + 32 or material[:1] != _ED25519:
        raise CheckpointError(
            "expected an Ed25519 verifier key (0x01 then 32 bytes), "
            f"found {len(material)} bytes starting {material[:1].hex() or 'nothing'}"
        )
    public_key = Ed25519PublicKey.from_public_bytes(material[1:])
    if key_id(name, public_key) != wanted_id:
        raise CheckpointError(
            f"verifier key id {hex_id} does not match its name and key "
            f"({key_id(name, public_key).hex()})"
        )
    return _VerifierKey(name, wanted_id, public_key)


def open_checkpoint(note: str, vkey: str, *, origin: str | None = None) -> Checkpoint:
    """Verify ``note`` with ``vkey`` and return the checkpoint it carries. The origin must be
    ``origin`` if given, otherwise the key's name. Raises CheckpointError on any mismatch."""
    key = parse_verifier_key(vkey)
    body, signature_lines = _split_note(note)
    if not _signed_by(key, body, signature_lines):
        raise CheckpointError(f"expected a signature by key {key.name!r}, found none")
    checkpoint = _parse_body(body)
    expected_origin = key.name if origin is None else origin
    if checkpoint.origin != expected_origin:
        raise CheckpointError(f"expected origin {expected_origin!r}, found {checkpoint.origin!r}")
    return checkpoint


def _split_note(note: str) -> tuple[str, list[str]]:
    # signed-note: the text ends in a newline; a blank line separates it from the signatures.
    cut = note.rfind("\n\n")
    if cut < 0:
        raise CheckpointError("expected a blank line between the note text and its signatures")
    body, signatures = note[: cut + 1], note[cut + 2 :]
    if not signatures.endswith("\n"):
        raise CheckpointError("expected the signature block to end with a newline")
    lines = signatures[:-1].split("\n")
    if len(lines) > _MAX_SIGNATURES:
        raise CheckpointError(f"expected at most {_MAX_SIGNATURES} signatures, found {len(lines)}")
    return body, lines


def _signed_by(key: _VerifierKey, body: str, lines: list[str]) -> bool:
    found = False
    for number, line in enumerate(lines, start=1):
        if not line.startswith(_SIG_PREFIX):
            raise CheckpointError(f"signature line {number}: expected '— <name> <base64>'")
        fields = line[len(_SIG_PREFIX) :].split(" ")
        if len(fields) != 2 or not fields[0]:
            raise CheckpointError(f"signature line {number}: expected a key name and a signature")
        name, encoded = fields
        try:
            blob = _decode_base64(encoded)
        except binascii.Error as exc:
            raise CheckpointError(f"signature line {number}: not base64: {exc}") from exc
        if len(blob) < _KEY_ID_SIZE + 1:
            raise CheckpointError(f"signature line {number}: too short ({len(blob)} bytes)")
        if name != key.name or blob[:_KEY_ID_SIZE] != key.key_id:
            continue  # another signer (e.g. a witness): not ours to judge
        signature = blob[_KEY_ID_SIZE:]
        if len(signature) != _SIGNATURE_SIZE:
            raise CheckpointError(
                f"signature line {number}: expected a {_SIGNATURE_SIZE}-byte Ed25519 "
                f"signature, found {len(signature)} bytes"
            )
        try:
            key.public_key.verify(signature, body.encode("utf-8"))
        except InvalidSignature as exc:
            raise CheckpointError(
                f"signature line {number}: the signature by {key.name!r} does not verify"
            ) from exc
        found = True
    return found


def _parse_body(body: str) -> Checkpoint:
    lines = body[:-1].split("\n")
    if len(lines) != 3:
        raise CheckpointError(
            f"expected a checkpoint body of 3 lines (origin, size, root), found {len(lines)}"
        )
    origin, size_text, root_text = lines
    if not origin:
        raise CheckpointError("expected a non-empty origin line")
    if not _SIZE_PATTERN.fullmatch(size_text):
        raise CheckpointError(f"expected a decimal tree size, found {size_text!r}")
    try:
        root = _decode_base64(root_text)
    except binascii.Error as exc:
        raise CheckpointError(f"expected a base64 root hash: {exc}") from exc
    if len(root) != HASH_SIZE:
        raise CheckpointError(f"expected a {HASH_SIZE}-byte root, found {len(root)} bytes")
    return Checkpoint(origin=origin, size=int(size_text), root=root)
