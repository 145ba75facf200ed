"""A witness (C2SP tlog-witness add-checkpoint, tlog-cosignature v1) over real HTTP: it cosigns
a log's checkpoints only after checking the log's signature and a consistency proof from the
last checkpoint it cosigned, and refuses a fork, a rollback, a stale old size, an unknown log
or another key, with the statuses the spec names."""

from __future__ import annotations

import base64
import hashlib
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.ledger.checkpoint import sign_checkpoint, verifier_key
from gateway.ledger.cosignature import (
    CosignatureError,
    find_cosignature,
    parse_witness_vkey,
    signed_message,
    with_signatures,
)
from gateway.ledger.rfc9162 import consistency_proof, leaf_hash, root_from_leaf_hashes
from gateway.ledger.witness import (
    SIZE_CONTENT_TYPE,
    Witness,
    add_checkpoint_body,
    init_witness,
)
from gateway.ledger.witness_http import BackgroundWitness, post_add_checkpoint

ORIGIN = "aidbridge.test/ledger"
WITNESS = "supervision.test/witness"
TIME_S = 1_767_225_600


class Log:
    """A log of its own: leaves, signed checkpoints and proofs, as a gateway makes them."""

    def __init__(self, key: Ed25519PrivateKey, entries: list[bytes]) -> None:
        self.key = key
        self.leaves = [leaf_hash(e) for e in entries]

    @property
    def vkey(self) -> str:
        return verifier_key(ORIGIN, self.key.public_key())

    def note(self, size: int) -> str:
        return sign_checkpoint(ORIGIN, size, root_from_leaf_hashes(self.leaves[:size]), self.key)

    def request(self, old: int, size: int) -> bytes:
        proof = consistency_proof(self.leaves[:size], old, size) if 0 < old < size else []
        return add_checkpoint_body(old, proof, self.note(size))


def entries(n: int, tag: str = "") -> list[bytes]:
    return [f'{{"entry":{i},"tag":"{tag}"}}'.encode() for i in range(n)]


@pytest.fixture
def log() -> Log:
    return Log(Ed25519PrivateKey.generate(), entries(40))


@pytest.fixture
def witness(tmp_path: Path, log: Log) -> Witness:
    made = init_witness(tmp_path / "witness", WITNESS, [log.vkey])
    return Witness(made.state_dir, clock_s=lambda: TIME_S)


@pytest.fixture
def url(witness: Witness):  # type: ignore[no-untyped-def]
    with BackgroundWitness(witness) as address:
        yield address


def post(url: str, body: bytes):  # type: ignore[no-untyped-def]
    return post_add_checkpoint(url, body, timeout_s=10)


def test_witness_cosigns_the_first_checkpoint_and_then_a_consistent_one(
    url: str, witness: Witness, log: Log
) -> None:
    first = post(url, log.request(0, 10))
    assert first.status == 200, first.body
    key = parse_witness_vkey(witness.vkey)
    cosigned = with_signatures(log.note(10), first.body.strip().split("\n"))
    found = find_cosignature(cosigned, key)
    assert found is not None and found.timestamp == TIME_S

    second = post(url, log.request(10, 25))
    assert second.status == 200, second.body
    assert find_cosignature(with_signatures(log.note(25), [second.body.strip()]), key)
    held = witness.cosigned(ORIGIN)
    assert held is not None and held.size == 25


def test_witness_refuses_a_checkpoint_inconsistent_with_the_one_it_cosigned(
    url: str, witness: Witness, log: Log
) -> None:
    assert post(url, log.request(0, 10)).status == 200
    # The same log key signs a rewritten history: entry 3 changed, then the log grew.
    forked = Log(log.key, entries(40))
    forked.leaves[3] = leaf_hash(b'{"entry":3,"tag":"rewritten"}')
    refused = post(url, forked.request(10, 20))
    assert refused.status == 422
    assert "consistency proof from size 10 to 20 does not verify" in refused.body
    # Nothing changed: the witness still holds size 10, and the honest log goes on.
    held = witness.cosigned(ORIGIN)
    assert held is not None and held.size == 10
    assert post(url, log.request(10, 20)).status == 200


def test_witness_refuses_another_root_at_the_size_it_cosigned(
    url: str, witness: Witness, log: Log
) -> None:
    assert post(url, log.request(0, 10)).status == 200
    forked = Log(log.key, entries(40, tag="fork"))
    refused = post(url, forked.request(10, 10))
    assert refused.status == 409
    assert "the log forked" in refused.body


def test_witness_refuses_a_rolled_back_checkpoint(url: str, log: Log) -> None:
    assert post(url, log.request(0, 20)).status == 200
    # A smaller tree from the size it holds is below it: 400, as the spec says.
    assert post(url, add_checkpoint_body(20, [], log.note(12))).status == 400
    # From a smaller old size: 409, and the witness says which size it holds.
    stale = post(url, log.request(5, 12))
    assert stale.status == 409
    assert stale.content_type == SIZE_CONTENT_TYPE
    assert stale.body == "20\n"


def test_witness_refuses_an_unknown_log_and_another_key(url: str, log: Log) -> None:
    other_origin = sign_checkpoint(
        "elsewhere.test/log", 3, root_from_leaf_hashes(log.leaves[:3]), log.key
    )
    assert post(url, add_checkpoint_body(0, [], other_origin)).status == 404
    impostor = Log(Ed25519PrivateKey.generate(), entries(40))
    assert post(url, impostor.request(0, 10)).status == 403


def test_witness_refuses_malformed_requests(url: str, log: Log) -> None:
    assert post(url, b"old ten\n\n" + log.note(10).encode()).status == 400
    assert post(url, b"old 0\nnot-base64!\n\n" + log.note(10).encode()).status == 400
    too_many = add_checkpoint_body(1, [b"\x00" * 32] * 64, log.note(10))
    assert post(url, too_many).status == 400
    # A proof from size 0 proves nothing and must be empty.
    assert post(url, add_checkpoint_body(0, [b"\x00" * 32], log.note(10))).status == 422


def test_witness_state_survives_a_restart(tmp_path: Path, witness: Witness, log: Log) -> None:
    witness.add_checkpoint(log.request(0, 15))
    again = Witness(witness.state_dir)
    held = again.cosigned(ORIGIN)
    assert held is not None and held.size == 15
    with pytest.raises(Exception, match="not the size this witness last cosigned"):
        again.add_checkpoint(log.request(0, 20))


def test_cosignature_layout_follows_the_spec_example() -> None:
    # tlog-cosignature's example line: key id, then the u64 timestamp 1679315147, then 64 bytes.
    example = (
        "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZ"
        "qhf5nNo0xUe+mbIUBkBIfZ+qnA=="
    )
    blob = base64.b64decode(example)
    assert len(blob) == 4 + 8 + 64
    assert struct.unpack(">Q", blob[4:12])[0] == 1679315147
    body = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    assert signed_message(body, 1679315147) == (
        b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
        b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    )


def test_witness_key_ids_use_the_cosignature_algorithm_byte(witness: Witness) -> None:
    key = parse_witness_vkey(witness.vkey)
    name, hex_id, encoded = witness.vkey.split("+", 2)
    material = base64.b64decode(encoded)
    assert material[0] == 0x04
    wanted = hashlib.sha256(name.encode() + b"\n" + b"\x04" + material[1:]).digest()[:4]
    assert bytes.fromhex(hex_id) == wanted == key.key_id


def test_a_tampered_cosignature_is_an_error_not_ignored(witness: Witness, log: Log) -> None:
    line = witness.add_checkpoint(log.request(0, 10)).strip()
    name, encoded = line[2:].split(" ")
    blob = bytearray(base64.b64decode(encoded))
    blob[-1] ^= 1
    tampered = f"— {name} {base64.b64encode(bytes(blob)).decode()}"
    key = parse_witness_vkey(witness.vkey)
    with pytest.raises(CosignatureError, match="does not verify"):
        find_cosignature(with_signatures(log.note(10), [tampered]), key)


def test_the_cosignature_vector_verifies_and_a_changed_body_does_not() -> None:
    import json

    vector = json.loads(
        (Path(__file__).parent / "vectors" / "cosignature_v1.json").read_text(encoding="utf-8")
    )
    from gateway.ledger.checkpoint import open_checkpoint

    note = vector["cosigned_note"]
    assert open_checkpoint(note, vector["log_vkey"]).size == 1000
    key = parse_witness_vkey(vector["witness_vkey"])
    found = find_cosignature(note, key)
    assert found is not None and found.timestamp == vector["witness_timestamp"]
    assert (
        signed_message(note.split("\n\n")[0] + "\n", found.timestamp).decode()
        == (vector["signed_message"])
    )
    with pytest.raises(CosignatureError, match="does not verify"):
        find_cosignature(note.replace("\n1000\n", "\n1001\n", 1), key)


def test_witness_cli_init_add_log_and_vkey(tmp_path: Path, log: Log) -> None:
    from typer.testing import CliRunner

    from gateway.cli import app

    runner = CliRunner()
    state = str(tmp_path / "w")
    made = runner.invoke(app, ["witness", "init", "--state", state, "--name", WITNESS])
    assert made.exit_code == 0, made.output
    vkey = runner.invoke(app, ["witness", "vkey", "--state", state]).output.strip()
    assert parse_witness_vkey(vkey).name == WITNESS
    assert f"witness verifying key: {vkey}" in made.output
    again = runner.invoke(app, ["witness", "init", "--state", state, "--name", WITNESS])
    assert again.exit_code == 1 and "refusing to replace it" in again.output
    bad = runner.invoke(app, ["witness", "add-log", "--state", state, "not-a-vkey"])
    assert bad.exit_code == 1 and "expected a verifier key" in bad.output
    added = runner.invoke(app, ["witness", "add-log", "--state", state, log.vkey])
    assert added.exit_code == 0, added.output
    assert Witness(Path(state)).origins == [ORIGIN]
    missing = runner.invoke(app, ["witness", "serve", "--state", str(tmp_path / "none")])
    assert missing.exit_code == 1 and "aidbridge witness init" in missing.output
