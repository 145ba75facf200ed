"""Ledger export bundles, format v1 (``docs/ledger-bundle.md``): writing and verifying.

Verification follows sigstore-python's verifier: every length, count and bound is checked
before anything is hashed, keys and signatures before the leaves, and each failure is a typed
``VerificationError`` naming the check and, where one entry is to blame, its index.
"""

from __future__ import annotations

import binascii
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from aidbridge_verify.errors import (
    ConsistencyError,
    FormatError,
    InclusionError,
    KeyError_,
    LeafError,
    RollbackError,
    SequenceError,
)
from aidbridge_verify.merkle import EMPTY_ROOT, HASH_SIZE
from aidbridge_verify.note import (
    LOG_KEY_TYPE,
    WITNESS_KEY_TYPE,
    find_cosignature,
    open_checkpoint,
    parse_vkey,
)

MAGIC = b"aidbridge-ledger-bundle/v1\n"
VERSION = 1
MAX_HEADER_BYTES = 1 << 20
MAX_LINE_BYTES = 1 << 20  # one entry line: kind, index, leaf hash and the entry's JSON
MAX_TREE_SIZE = 1 << 40
MAX_WITNESSES = 32
_HEX_SIZE = 2 * HASH_SIZE
_sha256 = hashlib.sha256


@dataclass(frozen=True)
class VerifiedBundle:
    origin: str
    from_index: int
    to_index: int
    tree_size: int
    root: bytes
    log_fingerprint: str
    key_pinned: bool
    cosigned_by: tuple[str, ...]
    trusted_size: int | None


def _json_line(document: dict[str, Any]) -> bytes:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8") + b"\n"


class BundleWriter:
    """Writes a v1 bundle: the magic line, the header, then one line per leaf in index order
    (``E`` lines for the exported entries, ``H`` lines for the leaf hashes around them), then
    ``end <tree size>``. The caller supplies the leaves in order; the writer counts them."""

    def __init__(
        self,
        out: IO[bytes],
        *,
        checkpoint_note: str,
        origin: str,
        tree_size: int,
        from_index: int,
        to_index: int,
        log_vkey: str,
        witnesses: Iterable[tuple[str, str]] = (),
        exported_at_ns: int = 0,
    ) -> None:
        if not 0 <= from_index <= to_index <= tree_size:
            raise ValueError(
                f"expected 0 ≤ from ≤ to ≤ {tree_size}, found {from_index}, {to_index}"
            )
        log_key = parse_vkey(log_vkey, LOG_KEY_TYPE)
        header = {
            "format": "aidbridge-ledger-bundle",
            "version": VERSION,
            "origin": origin,
            "tree_size": tree_size,
            "from": from_index,
            "to": to_index,
            "log_vkey": log_key.vkey,
            "log_vkey_fingerprint": log_key.fingerprint,
            "witnesses": [
                {
                    "name": name,
                    "vkey": vkey,
                    "fingerprint": parse_vkey(vkey, WITNESS_KEY_TYPE).fingerprint,
                }
                for name, vkey in witnesses
            ],
            "checkpoint": checkpoint_note,
            "exported_at_ns": exported_at_ns,
        }
        self._out = out
        self._from, self._to, self._size = from_index, to_index, tree_size
        self._next = 0
        out.write(MAGIC)
        out.write(_json_line(header))

    def entry(self, leaf: bytes, entry: bytes) -> None:
        i = self._next
        if not self._from <= i < self._to:
            raise ValueError(f"leaf {i} is outside the exported range: write its hash")
        self._out.write(b"E %d %s %s\n" % (i, leaf.hex().encode("ascii"), entry))
        self._next += 1

    def hash(self, leaf: bytes) -> None:
        i = self._next
        if self._from <= i < self._to:
            raise ValueError(f"leaf {i} is inside the exported range: write its entry")
        self._out.write(b"H %d %s\n" % (i, leaf.hex().encode("ascii")))
        self._next += 1

    def finish(self) -> None:
        if self._next != self._size:
            raise ValueError(f"wrote {self._next} leaves of {self._size}")
        self._out.write(b"end %d\n" % self._size)


def _int(header: dict[str, Any], name: str, high: int) -> int:
    value = header.get(name)
    if type(value) is not int or not 0 <= value <= high:
        raise FormatError(
            f"header field {name!r}: expected an integer in [0, {high}], found {value!r}"
        )
    return value


def _str(header: dict[str, Any], name: str, limit: int = 4096) -> str:
    value = header.get(name)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise FormatError(f"header field {name!r}: expected a string of 1–{limit} characters")
    return value


class _DuplicateField(ValueError):
    pass


def _unique_fields(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose every name appears once: parsers disagree on which of two wins."""
    found: dict[str, Any] = {}
    for name, value in pairs:
        if name in found:
            raise _DuplicateField(f"the field {name!r} appears twice")
        found[name] = value
    return found


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259)")


def read_header(source: IO[bytes]) -> dict[str, Any]:
    magic = source.readline(len(MAGIC) + 1)
    if magic != MAGIC:
        raise FormatError(
            f"expected the first line {MAGIC.decode().strip()!r}, found {magic[:40]!r}"
        )
    raw = source.readline(MAX_HEADER_BYTES + 1)
    if len(raw) > MAX_HEADER_BYTES or not raw.endswith(b"\n"):
        raise FormatError(f"expected a header line of at most {MAX_HEADER_BYTES} bytes")
    try:
        header = json.loads(
            raw.decode("utf-8"), object_pairs_hook=_unique_fields, parse_constant=_no_constant
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormatError(f"header: not JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise FormatError("header: expected a JSON object")
    if header.get("format") != "aidbridge-ledger-bundle" or header.get("version") != VERSION:
        raise FormatError(
            f"header: expected format 'aidbridge-ledger-bundle' version {VERSION}, "
            f"found {header.get('format')!r} version {header.get('version')!r}"
        )
    size = _int(header, "tree_size", MAX_TREE_SIZE)
    to_index = _int(header, "to", size)
    _int(header, "from", to_index)
    _int(header, "exported_at_ns", 2**63 - 1)
    for name in ("origin", "log_vkey", "log_vkey_fingerprint"):
        _str(header, name)
    _str(header, "checkpoint", 1 << 16)
    witnesses = header.get("witnesses")
    if not isinstance(witnesses, list) or len(witnesses) > MAX_WITNESSES:
        raise FormatError(f"header field 'witnesses': expected a list of at most {MAX_WITNESSES}")
    return header


def verify_bundle(
    path: Path | str,
    *,
    vkey: str | None = None,
    trusted_checkpoint: str | None = None,
    witnesses: Iterable[str] = (),
) -> VerifiedBundle:
    """Verify a v1 bundle; raise the first failure as a VerificationError.

    ``vkey`` pins the log's key (without it the bundle's own key is used, and the result says it
    was not pinned); ``trusted_checkpoint`` is a note kept earlier that the bundle's tree must
    extend; each of ``witnesses`` (witness vkeys) must have cosigned the bundle's checkpoint."""
    with open(path, "rb") as source:
        return verify_stream(
            source, vkey=vkey, trusted_checkpoint=trusted_checkpoint, witnesses=witnesses
        )


def verify_stream(
    source: IO[bytes],
    *,
    vkey: str | None = None,
    trusted_checkpoint: str | None = None,
    witnesses: Iterable[str] = (),
) -> VerifiedBundle:
    header = read_header(source)
    size, from_index, to_index = header["tree_size"], header["from"], header["to"]
    # Keys, then signatures: cheap, and nothing is hashed for a bundle signed by a stranger.
    bundle_key = parse_vkey(header["log_vkey"], LOG_KEY_TYPE)
    if bundle_key.fingerprint != header["log_vkey_fingerprint"]:
        raise FormatError("header: log_vkey_fingerprint is not the fingerprint of log_vkey")
    key = parse_vkey(vkey, LOG_KEY_TYPE) if vkey is not None else bundle_key
    required = [parse_vkey(w, WITNESS_KEY_TYPE) for w in witnesses]
    checkpoint = open_checkpoint(header["checkpoint"], key)
    if key.vkey != bundle_key.vkey:
        raise KeyError_(
            f"the bundle names log key {bundle_key.fingerprint}, "
            f"the pinned key is {key.fingerprint}"
        )
    if checkpoint.origin != header["origin"]:
        raise FormatError(f"header origin {header['origin']!r} is not the checkpoint's")
    if checkpoint.size != size:
        raise FormatError(f"header tree_size {size} is not the checkpoint's size {checkpoint.size}")
    cosigned_by = tuple(find_cosignature(checkpoint, w).witness for w in required)
    trusted_size: int | None = None
    trusted_root = b""
    if trusted_checkpoint is not None:
        trusted = open_checkpoint(trusted_checkpoint, key)
        if trusted.size > size:
            raise RollbackError(
                f"the trusted checkpoint has {trusted.size} entries, the bundle's tree only {size}"
            )
        trusted_size, trusted_root = trusted.size, trusted.root
        if trusted.size == 0 and trusted.root != hashlib.sha256(b"").digest():
            raise ConsistencyError("the trusted checkpoint of size 0 has a non-empty root")
    root = _recompute(source, size, from_index, to_index, trusted_size, trusted_root)
    if root != checkpoint.root:
        raise InclusionError(
            f"the {size} leaves give root {root.hex()}, the checkpoint signs "
            f"{checkpoint.root.hex()}: an entry or leaf hash was changed consistently"
        )
    return VerifiedBundle(
        origin=checkpoint.origin,
        from_index=from_index,
        to_index=to_index,
        tree_size=size,
        root=root,
        log_fingerprint=key.fingerprint,
        key_pinned=vkey is not None,
        cosigned_by=cosigned_by,
        trusted_size=trusted_size,
    )


def _recompute(
    source: IO[bytes],
    size: int,
    from_index: int,
    to_index: int,
    trusted_size: int | None,
    trusted_root: bytes,
) -> bytes:
    """Read the ``size`` leaf lines and ``end``; return the root they make.

    A well-formed line takes the fast path: one split, the index compared as text, the entry's
    leaf hash computed and compared as lower-case hex (which also proves the hex canonical), the
    leaf folded into the compact range inline. Anything unexpected goes to ``_check_line``,
    which makes the checks one by one in the documented order and raises the first failure."""
    stack: list[bytes] = []  # the compact range: perfect subtree roots, largest first
    push, pop = stack.append, stack.pop
    readline = source.readline
    unhexlify = binascii.unhexlify
    sha256 = _sha256
    limit = MAX_LINE_BYTES  # a longer line comes back cut, without its newline
    for i in range(size):
        if i == trusted_size:
            _check_trusted(stack, i, trusted_root)
        line = readline(limit)
        parts = line.split(b" ", 3)
        kind = parts[0]
        leaf = b""
        if from_index <= i < to_index:
            if kind == b"E" and len(parts) == 4 and parts[1] == b"%d" % i:
                digest = sha256(b"\x00" + parts[3][:-1]).digest()
                if digest.hex().encode() == parts[2] and line[-1:] == b"\n":
                    leaf = digest
        elif kind == b"H" and len(parts) == 3 and parts[1] == b"%d" % i:
            hex_leaf = parts[2][:-1]
            if len(hex_leaf) == _HEX_SIZE and hex_leaf.lower() == hex_leaf and line[-1:] == b"\n":
                try:
                    leaf = unhexlify(hex_leaf)
                except binascii.Error:
                    leaf = b""
        if not leaf:
            _check_line(line, i, size, from_index <= i < to_index)
        n = i
        while n & 1:
            leaf = sha256(b"\x01" + pop() + leaf).digest()
            n >>= 1
        push(leaf)
    if trusted_size == size:
        _check_trusted(stack, size, trusted_root)
    end = readline(64)
    if end != b"end %d\n" % size:
        raise SequenceError(f"expected 'end {size}' after {size} leaves, found {end[:40]!r}")
    if readline(1):
        raise SequenceError(f"lines after 'end {size}': the bundle holds more than its tree")
    return _stack_root(stack)


def _check_line(line: bytes, i: int, size: int, inside: bool) -> None:
    """The checks of leaf line ``i``, in order; raises the first that fails."""
    if not line or line.startswith(b"end "):
        raise SequenceError(f"the bundle ends after {i} of {size} leaves", index=i)
    if line[-1:] != b"\n":
        if len(line) >= MAX_LINE_BYTES:
            raise FormatError(f"line longer than {MAX_LINE_BYTES} bytes", index=i)
        raise FormatError("line is not terminated", index=i)
    parts = line[:-1].split(b" ", 3)
    kind = parts[0]
    if len(parts) < 3:
        raise FormatError("expected '<E|H> <index> <leaf hash> …'", index=i)
    if parts[1] != b"%d" % i:
        _out_of_sequence(i, parts[1])
    hex_leaf = parts[2]
    if len(hex_leaf) != _HEX_SIZE:
        raise FormatError(f"expected a {_HEX_SIZE}-digit hex leaf hash", index=i)
    try:
        leaf = binascii.unhexlify(hex_leaf)
    except binascii.Error as exc:
        raise FormatError("leaf hash is not hex", index=i) from exc
    if hex_leaf.lower() != hex_leaf:
        raise FormatError("leaf hash: expected lower-case hex digits", index=i)
    if kind == b"E" and len(parts) == 4 and inside:
        if _sha256(b"\x00" + parts[3]).digest() != leaf:
            raise LeafError(
                "its leaf hash is not SHA-256(0x00 ‖ entry): the entry was altered", index=i
            )
        return  # pragma: no cover - a line that passes every check takes the fast path
    if kind == b"H" and len(parts) == 3 and not inside:
        return  # pragma: no cover - likewise
    if inside:
        raise SequenceError("expected the entry (an E line): it is missing", index=i)
    raise FormatError("expected a leaf hash (an H line) outside the range", index=i)


def _stack_root(stack: list[bytes]) -> bytes:
    if not stack:
        return EMPTY_ROOT
    node = stack[-1]
    for left in reversed(stack[:-1]):
        node = _sha256(b"\x01" + left + node).digest()
    return node


def _check_trusted(stack: list[bytes], size: int, trusted_root: bytes) -> None:
    root = _stack_root(stack)
    if root != trusted_root:
        raise ConsistencyError(
            f"the first {size} leaves give root {root.hex()}, the trusted checkpoint "
            f"signs {trusted_root.hex()}: the log was rewritten (a fork)"
        )


def _out_of_sequence(i: int, found: bytes) -> None:
    try:
        j = int(found)
    except ValueError:
        raise FormatError(f"expected index {i}, found {found[:20]!r}", index=i) from None
    if j > i:
        raise SequenceError(
            f"found index {j} where {i} was due: entries {i}–{j - 1} are missing", index=i
        )
    raise SequenceError(
        f"found index {j} where {i} was due: repeated, reordered or inserted", index=i
    )
