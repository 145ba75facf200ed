"""C2SP tlog-checkpoint notes signed with Ed25519 (signed-note format): what a holder of the
verifier key accepts and what it refuses."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    open_checkpoint,
    sign_checkpoint,
    verifier_key,
)

ORIGIN = "aidbridge.example/district-ledger"
ROOT = hashlib.sha256(b"some tree").digest()
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
VKEY = verifier_key(ORIGIN, KEY.public_key())


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def test_signed_checkpoint_opens_with_its_verifier_key() -> None:
    note = sign_checkpoint(ORIGIN, 42, ROOT, KEY)
    assert open_checkpoint(note, VKEY) == Checkpoint(origin=ORIGIN, size=42, root=ROOT)


def test_note_has_the_c2sp_layout() -> None:
    note = sign_checkpoint(ORIGIN, 42, ROOT, KEY)
    body, signatures = note.split("\n\n")
    assert body == f"{ORIGIN}\n42\n{base64.b64encode(ROOT).decode()}"
    assert signatures.startswith(f"\u2014 {ORIGIN} ") and signatures.endswith("\n")
    blob = base64.b64decode(signatures.split(" ")[2])
    key_id = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + _raw_public(KEY)).digest()[:4]
    assert blob[:4] == key_id
    KEY.public_key().verify(blob[4:], (body + "\n").encode())


def test_verifier_key_is_name_plus_hex_id_plus_base64_key() -> None:
    name, hex_id, encoded = VKEY.split("+", 2)
    assert name == ORIGIN
    assert (
        bytes.fromhex(hex_id)
        == hashlib.sha256(ORIGIN.encode() + b"\n\x01" + _raw_public(KEY)).digest()[:4]
    )
    assert base64.b64decode(encoded) == b"\x01" + _raw_public(KEY)


def test_note_signed_by_another_key_is_refused() -> None:
    other = Ed25519PrivateKey.generate()
    note = sign_checkpoint(ORIGIN, 42, ROOT, other)
    with pytest.raises(CheckpointError, match="expected a signature by key"):
        open_checkpoint(note, VKEY)


def test_note_for_another_origin_is_refused_even_if_the_key_signed_it() -> None:
    note = sign_checkpoint("elsewhere.example/log", 42, ROOT, KEY, key_name=ORIGIN)
    with pytest.raises(CheckpointError, match="expected origin"):
        open_checkpoint(note, VKEY)


def test_a_witness_cosignature_is_ignored_but_ours_is_still_required() -> None:
    note = sign_checkpoint(ORIGIN, 7, ROOT, KEY)
    witness = Ed25519PrivateKey.generate()
    cosigned = (
        note
        + sign_checkpoint(ORIGIN, 7, ROOT, witness, key_name="witness.example").split("\n\n")[1]
    )
    assert open_checkpoint(cosigned, VKEY).size == 7
    only_witness = note.split("\n\n")[0] + "\n\n" + cosigned.split("\n\n")[1].split("\n")[1] + "\n"
    with pytest.raises(CheckpointError, match="expected a signature by key"):
        open_checkpoint(only_witness, VKEY)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda n: n.replace("\n42\n", "\n43\n"), "does not verify"),
        (lambda n: n.replace("\n\n", "\n"), "expected a blank line"),
        (lambda n: n.replace("\u2014", "-"), "expected '— <name> <base64>'"),
        (lambda n: n[:-1], "end with a newline"),
        (lambda n: n + "\u2014 x not-base64!\n", "not base64"),
    ],
    ids=["size-changed", "no-blank-line", "hyphen-not-em-dash", "no-final-newline", "bad-sig"],
)
def test_malformed_or_altered_note_is_refused(mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    note = sign_checkpoint(ORIGIN, 42, ROOT, KEY)
    with pytest.raises(CheckpointError, match=message):
        open_checkpoint(mutate(note), VKEY)


def test_body_with_an_extra_line_is_refused_even_when_signed() -> None:
    body = f"{ORIGIN}\n42\n{base64.b64encode(ROOT).decode()}\nextension line\n"
    key_id = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + _raw_public(KEY)).digest()[:4]
    sig = base64.b64encode(key_id + KEY.sign(body.encode())).decode()
    with pytest.raises(CheckpointError, match="expected a checkpoint body of 3 lines"):
        open_checkpoint(f"{body}\n\u2014 {ORIGIN} {sig}\n", VKEY)


@pytest.mark.parametrize(
    ("size_line", "message"),
    [("042", "decimal tree size"), ("-1", "decimal tree size"), ("4 2", "decimal tree size")],
)
def test_signed_body_with_a_malformed_size_is_refused(size_line: str, message: str) -> None:
    body = f"{ORIGIN}\n{size_line}\n{base64.b64encode(ROOT).decode()}\n"
    key_id = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + _raw_public(KEY)).digest()[:4]
    sig = base64.b64encode(key_id + KEY.sign(body.encode())).decode()
    with pytest.raises(CheckpointError, match=message):
        open_checkpoint(f"{body}\n\u2014 {ORIGIN} {sig}\n", VKEY)


def test_verifier_key_whose_id_does_not_match_its_key_is_refused() -> None:
    name, _, encoded = VKEY.split("+", 2)
    with pytest.raises(CheckpointError, match="does not match its name and key"):
        open_checkpoint(sign_checkpoint(ORIGIN, 1, ROOT, KEY), f"{name}+00000000+{encoded}")


def test_key_name_with_a_plus_or_space_is_refused() -> None:
    with pytest.raises(CheckpointError, match="without spaces or"):
        verifier_key("bad+name", KEY.public_key())
    with pytest.raises(CheckpointError, match="without spaces or"):
        sign_checkpoint("bad name", 1, ROOT, KEY)


@settings(max_examples=300)
@given(st.integers(0, 2**63), st.data())
def test_any_single_character_change_to_a_note_is_refused(size: int, data: st.DataObject) -> None:
    note = sign_checkpoint(ORIGIN, size, ROOT, KEY)
    pos = data.draw(st.integers(0, len(note) - 1))
    replacement = data.draw(st.characters(codec="utf-8").filter(lambda c: c != note[pos]))
    changed = note[:pos] + replacement + note[pos + 1 :]
    with pytest.raises(CheckpointError):
        open_checkpoint(changed, VKEY)
