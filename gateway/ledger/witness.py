"""A witness: an independent party that cosigns the gateway's checkpoints (C2SP tlog-witness,
``add-checkpoint``; cosignatures per ``gateway.ledger.cosignature``).

The supervision office, a charity federation or a peer gateway each run one, with a key of its
own, in a state directory of its own::

    witness.toml      name = "<witness name>", then one [[logs]] (origin, vkey) per log it witnesses
    witness.key       its Ed25519 private key (raw 32 bytes, mode 0600)
    logs/<sha256(origin)>.json   per log: the latest checkpoint it cosigned (size, root, note)

``Witness.add_checkpoint`` takes an add-checkpoint request body (``old <size>``, up to 63 base64
consistency-proof lines, a blank line, a signed checkpoint) and either returns cosignature
lines or refuses with the HTTP status tlog-witness names: 404 unknown origin, 403 no trusted
signature, 400 malformed or old size above the checkpoint's, 409 old size not the one it
cosigned last (with that size as the body, ``text/x.tlog.size``) or same size with another
root, 422 a consistency proof that does not verify. Checking the old size and persisting the
new checkpoint happen under one lock, and the state is durable (fsync, atomic rename) before
the cosignature leaves, so a witness never cosigns a rollback or a fork of what it cosigned.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from gateway.ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    _parse_body,
    _split_note,
    open_checkpoint,
    parse_verifier_key,
)
from gateway.ledger.cosignature import cosign, witness_vkey
from gateway.ledger.rfc9162 import EMPTY_ROOT, HASH_SIZE, ConsistencyProofError, verify_consistency

log = structlog.get_logger(__name__)

CONFIG_FILE = "witness.toml"
KEY_FILE = "witness.key"
MAX_PROOF_LINES = 63  # tlog-witness: a client MUST NOT send more
MAX_REQUEST_BYTES = 64 * 1024
SIZE_CONTENT_TYPE = "text/x.tlog.size"
_SIZE = re.compile(r"0|[1-9][0-9]*")


class WitnessSetupError(Exception):
    """The witness's state directory is missing or malformed."""


class WitnessRefusal(Exception):
    """The witness will not cosign: an HTTP status, a message, and the response body."""

    def __init__(
        self, status: int, message: str, *, body: str = "", content_type: str = "text/plain"
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.body = body or message + "\n"
        self.content_type = content_type


@dataclass(frozen=True)
class AddCheckpoint:
    """A parsed add-checkpoint request."""

    old_size: int
    proof: list[bytes]
    note: str


@dataclass(frozen=True)
class Cosigned:
    """What a witness holds for one log: the latest checkpoint it cosigned."""

    origin: str
    size: int
    root: bytes
    note: str


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """Parse a request body (tlog-witness, add-checkpoint); 400 if malformed."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WitnessRefusal(400, "the request is not UTF-8") from exc
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise WitnessRefusal(400, "expected an old size line, proof lines, then a blank line")
    lines = head.split("\n")
    old_line, proof_lines = lines[0], lines[1:]
    if not old_line.startswith("old ") or not _SIZE.fullmatch(old_line[4:]):
        raise WitnessRefusal(400, f"expected 'old <size>' as the first line, found {old_line!r}")
    if len(proof_lines) > MAX_PROOF_LINES:
        raise WitnessRefusal(
            400, f"expected at most {MAX_PROOF_LINES} proof lines, found {len(proof_lines)}"
        )
    proof: list[bytes] = []
    for number, line in enumerate(proof_lines, start=1):
        try:
            value = base64.b64decode(line, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise WitnessRefusal(400, f"proof line {number} is not base64") from exc
        if len(value) != HASH_SIZE:
            raise WitnessRefusal(
                400, f"proof line {number}: expected a {HASH_SIZE}-byte hash, found {len(value)}"
            )
        proof.append(value)
    return AddCheckpoint(int(old_line[4:]), proof, note)


def add_checkpoint_body(old_size: int, proof: list[bytes], note: str) -> bytes:
    """The request body a log sends (tlog-witness, add-checkpoint)."""
    lines = [f"old {old_size}", *(base64.b64encode(h).decode("ascii") for h in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode("utf-8")


class Witness:
    """The witness of a state directory (see module doc). Thread-safe."""

    def __init__(
        self,
        state_dir: Path,
        *,
        clock_s: Callable[[], int] = lambda: int(time.time()),
    ) -> None:
        self.state_dir = Path(state_dir)
        self._clock_s = clock_s
        config_path = self.state_dir / CONFIG_FILE
        try:
            config = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise WitnessSetupError(
                f"no witness in {self.state_dir} ({config_path} is missing): "
                f"create one with: aidbridge witness init --state {self.state_dir}"
            ) from exc
        except tomllib.TOMLDecodeError as exc:
            raise WitnessSetupError(f"{config_path}: not valid TOML: {exc}") from exc
        self.name = str(config.get("name", ""))
        self._logs: dict[str, str] = {}
        for number, entry in enumerate(config.get("logs", []), start=1):
            vkey = str(entry.get("vkey", ""))
            try:
                key = parse_verifier_key(vkey)
            except CheckpointError as exc:
                raise WitnessSetupError(f"{config_path}: logs[{number}]: {exc.message}") from exc
            origin = str(entry.get("origin", "") or key.name)
            self._logs[origin] = vkey
        self._key = _load_key(self.state_dir / KEY_FILE)
        self.vkey = witness_vkey(self.name, self._key.public_key())
        self._lock = threading.Lock()
        (self.state_dir / "logs").mkdir(exist_ok=True)

    @property
    def origins(self) -> list[str]:
        return sorted(self._logs)

    def cosigned(self, origin: str) -> Cosigned | None:
        """The latest checkpoint this witness cosigned for ``origin`` (None: never)."""
        path = self._state_path(origin)
        if not path.exists():
            return None
        stored = json.loads(path.read_text(encoding="utf-8"))
        return Cosigned(
            origin=stored["origin"],
            size=int(stored["size"]),
            root=base64.b64decode(stored["root"]),
            note=stored["note"],
        )

    def add_checkpoint(self, body: bytes) -> str:
        """Check an add-checkpoint request and cosign it: returns the response body (signature
        lines, each ending in a newline). Raises WitnessRefusal with the spec's status."""
        request = parse_add_checkpoint(body)
        checkpoint = self._verified(request.note)
        if request.old_size > checkpoint.size:
            raise self._refuse(
                checkpoint,
                400,
                f"old size {request.old_size} is above the checkpoint's size {checkpoint.size}",
            )
        with self._lock:
            held = self.cosigned(checkpoint.origin)
            held_size, held_root = (held.size, held.root) if held else (0, EMPTY_ROOT)
            if request.old_size != held_size:
                raise self._refuse(
                    checkpoint,
                    409,
                    f"old size {request.old_size} is not the size this witness last cosigned "
                    f"({held_size})",
                    body=f"{held_size}\n",
                    content_type=SIZE_CONTENT_TYPE,
                )
            self._check_consistency(request, checkpoint, held_size, held_root)
            self._persist(checkpoint, request.note)
            line = cosign(
                _split_note(request.note)[0], self.name, self._key, max(self._clock_s(), 0)
            )
        log.info("witness.cosigned", origin=checkpoint.origin, size=checkpoint.size)
        return line + "\n"

    def _verified(self, note: str) -> Checkpoint:
        try:
            body, _ = _split_note(note)
            claimed = _parse_body(body)
        except CheckpointError as exc:
            raise WitnessRefusal(400, f"not a checkpoint: {exc.message}") from exc
        vkey = self._logs.get(claimed.origin)
        if vkey is None:
            raise WitnessRefusal(404, f"unknown log origin {claimed.origin!r}")
        try:
            return open_checkpoint(note, vkey, origin=claimed.origin)
        except CheckpointError as exc:
            raise self._refuse(
                claimed, 403, f"no signature by the log's trusted key verifies: {exc.message}"
            ) from exc

    def _check_consistency(
        self, request: AddCheckpoint, checkpoint: Checkpoint, held_size: int, held_root: bytes
    ) -> None:
        if held_size == 0:
            if request.proof:
                raise self._refuse(checkpoint, 422, "expected no proof from size 0")
            return
        if held_size == checkpoint.size:
            if request.proof:
                raise self._refuse(checkpoint, 422, "expected no proof between equal sizes")
            if checkpoint.root != held_root:
                raise self._refuse(
                    checkpoint,
                    409,
                    f"the checkpoint of size {checkpoint.size} has another root than the one "
                    "this witness cosigned: the log forked",
                )
            return
        try:
            verify_consistency(
                held_size, checkpoint.size, request.proof, held_root, checkpoint.root
            )
        except ConsistencyProofError as exc:
            raise self._refuse(
                checkpoint,
                422,
                f"the consistency proof from size {held_size} to {checkpoint.size} does not "
                f"verify: {exc.message}",
            ) from exc

    def _refuse(
        self,
        checkpoint: Checkpoint,
        status: int,
        message: str,
        *,
        body: str = "",
        content_type: str = "text/plain",
    ) -> WitnessRefusal:
        # A correctly signed checkpoint that fails may be evidence of a misbehaving log: log it.
        log.warning(
            "witness.refused",
            origin=checkpoint.origin,
            size=checkpoint.size,
            status=status,
            reason=message,
        )
        return WitnessRefusal(status, message, body=body, content_type=content_type)

    def _state_path(self, origin: str) -> Path:
        name = hashlib.sha256(origin.encode("utf-8")).hexdigest()
        return self.state_dir / "logs" / f"{name}.json"

    def _persist(self, checkpoint: Checkpoint, note: str) -> None:
        path = self._state_path(checkpoint.origin)
        document = {
            "origin": checkpoint.origin,
            "size": checkpoint.size,
            "root": base64.b64encode(checkpoint.root).decode("ascii"),
            "note": note,
        }
        _write_durably(path, json.dumps(document, sort_keys=True, ensure_ascii=False))


def _write_durably(path: Path, text: str) -> None:
    temporary = path.with_suffix(".tmp")
    with open(temporary, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _load_key(path: Path) -> Ed25519PrivateKey:
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise WitnessSetupError(f"the witness key {path} is missing") from exc
    if len(raw) != 32:
        raise WitnessSetupError(f"{path}: expected a 32-byte Ed25519 key, found {len(raw)} bytes")
    return Ed25519PrivateKey.from_private_bytes(raw)


def init_witness(state_dir: Path, name: str, log_vkeys: list[str]) -> Witness:
    """Create a witness's state directory: a new key, and the logs it witnesses."""
    state_dir = Path(state_dir)
    if (state_dir / KEY_FILE).exists():
        raise WitnessSetupError(f"{state_dir} already holds a witness key; refusing to replace it")
    witness_vkey(name, Ed25519PrivateKey.generate().public_key())  # checks the name
    logs = []
    for vkey in log_vkeys:
        try:
            key = parse_verifier_key(vkey)
        except CheckpointError as exc:
            raise WitnessSetupError(f"--log {vkey!r}: {exc.message}") from exc
        logs.append((key.name, vkey.strip()))
    state_dir.mkdir(parents=True, exist_ok=True)
    key_path = state_dir / KEY_FILE
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        new_key = Ed25519PrivateKey.generate()
        out.write(new_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))
    write_witness_config(state_dir, name, logs)
    return Witness(state_dir)


def write_witness_config(state_dir: Path, name: str, logs: list[tuple[str, str]]) -> None:
    lines = ["# AidBridge witness (gateway/ledger/witness.py)", f"name = {json.dumps(name)}"]
    for origin, vkey in logs:
        lines += ["", "[[logs]]", f"origin = {json.dumps(origin)}", f"vkey = {json.dumps(vkey)}"]
    (Path(state_dir) / CONFIG_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")


def add_log(state_dir: Path, vkey: str) -> str:
    """Trust one more log (by its vkey) in a witness's state directory; returns its origin."""
    witness = Witness(state_dir)
    try:
        key = parse_verifier_key(vkey)
    except CheckpointError as exc:
        raise WitnessSetupError(f"{vkey!r}: {exc.message}") from exc
    logs = dict(witness._logs)
    logs[key.name] = vkey.strip()
    write_witness_config(state_dir, witness.name, sorted(logs.items()))
    return key.name
