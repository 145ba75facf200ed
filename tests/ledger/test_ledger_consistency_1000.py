"""Two checkpoints the sequencer signed 1,000 entries apart on a real store (SQLite; PostgreSQL
when AIDBRIDGE_TEST_PG_URL is set): the consistency proof the ledger serves from its stored nodes
verifies in the standalone verifier between the two signed roots, a witness that cosigned the
first cosigns the second on that proof, and refuses it with any one hash of the proof changed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from aidbridge_verify import merkle
from aidbridge_verify.errors import VerificationError
from gateway.ledger.checkpoint import open_checkpoint
from gateway.ledger.cosignature import find_cosignature, parse_witness_vkey, with_signatures
from gateway.ledger.entry import Exchange, append
from gateway.ledger.log import Ledger
from gateway.ledger.witness import Witness, add_checkpoint_body, init_witness
from gateway.ledger.witness_http import BackgroundWitness, post_add_checkpoint
from gateway.store import Store

from .conftest import AUTHENTICATOR, ORIGIN, START_NS

FIRST = 37
APART = 1_000
WITNESS = "supervision.test/witness"
TIME_S = 1_767_225_600


def _queue(store: Store, start: int, count: int) -> None:
    with store.write() as s:
        for n in range(start, start + count):
            append(
                s,
                Exchange(
                    at_ns=START_NS + n,
                    org="jb-civil-affairs",
                    role="government",
                    actor=f"caseworker-{n % 7}",
                    cert_fingerprint=hashlib.sha256(b"cert").hexdigest(),
                    method="/aidbridge.v1.CaseService/RegisterCase",
                    outcome="OK",
                    request_digest=hashlib.sha256(str(n).encode()).hexdigest(),
                ),
                AUTHENTICATOR,
            )


def test_checkpoints_1000_entries_apart_are_consistent_for_the_verifier_and_a_witness(
    store: Store, ledger: Ledger, tmp_path: Path
) -> None:
    _queue(store, 0, FIRST)
    assert ledger.integrate() == FIRST
    first = ledger.latest_checkpoint()
    _queue(store, FIRST, APART)
    assert ledger.integrate() == APART
    second = ledger.latest_checkpoint()
    assert first is not None and second is not None
    assert (first.size, second.size) == (FIRST, FIRST + APART)
    old = open_checkpoint(first.note, ledger.vkey)
    new = open_checkpoint(second.note, ledger.vkey)

    proof = ledger.consistency_proof(old.size, new.size)
    merkle.verify_consistency(old.size, new.size, proof, old.root, new.root)
    with pytest.raises(VerificationError):
        merkle.verify_consistency(old.size, new.size, proof, new.root, old.root)

    made = init_witness(tmp_path / "witness", WITNESS, [ledger.vkey])
    witness = Witness(made.state_dir, clock_s=lambda: TIME_S)
    key = parse_witness_vkey(witness.vkey)
    with BackgroundWitness(witness) as url:
        opened = post_add_checkpoint(url, add_checkpoint_body(0, [], first.note), timeout_s=10)
        assert opened.status == 200, opened.body
        for i in range(len(proof)):  # any one hash changed: the witness refuses and keeps FIRST
            bad = list(proof)
            bad[i] = bytes(b ^ 1 for b in bad[i])
            refused = post_add_checkpoint(
                url, add_checkpoint_body(FIRST, bad, second.note), timeout_s=10
            )
            assert refused.status == 422, (i, refused.status, refused.body)
        held = witness.cosigned(ORIGIN)
        assert held is not None and held.size == FIRST

        cosigned = post_add_checkpoint(
            url, add_checkpoint_body(FIRST, proof, second.note), timeout_s=10
        )
        assert cosigned.status == 200, cosigned.body
    note = with_signatures(second.note, [cosigned.body.strip()])
    assert find_cosignature(note, key) is not None
    held = witness.cosigned(ORIGIN)
    assert held is not None and held.size == FIRST + APART
