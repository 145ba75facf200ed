"""Proofs from stored complete subtrees (revision 0010), on a real store (SQLite file, and
PostgreSQL with AIDBRIDGE_TEST_PG_URL): for every index and old size of trees up to 300 entries
and at random larger sizes they equal the in-memory RFC 9162 reference over all leaves and verify
against the signed roots; the reference vectors' tree served from the store gives the vectors'
proofs; the nodes agree with the leaves after a kill -9 in the middle of an integration and after
an upgrade of a store populated at revision 0009."""

from __future__ import annotations

import base64
import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic import command
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert, select, text

from gateway.clock import FixedClock
from gateway.ledger.checkpoint import open_checkpoint, sign_checkpoint
from gateway.ledger.entry import Exchange, append
from gateway.ledger.log import Ledger, LedgerStateError, verify
from gateway.ledger.nodes import (
    consistency_ranges,
    inclusion_ranges,
    nodes_of,
    range_hashes,
    subtrees,
)
from gateway.ledger.rfc9162 import (
    CompactRange,
    InclusionProofError,
    ProofRangeError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from gateway.ledger.sequencer import read_nodes
from gateway.store import Store
from gateway.store.db import alembic_config
from gateway.store.models import LedgerCheckpoint, LedgerEntry, LedgerNode

from .conftest import AUTHENTICATOR, ORIGIN, START_NS
from .vectors import load_vectors_from_file, require_vectors, vector_files

REPO = Path(__file__).resolve().parents[2]
BATCHES = (1, 2, 3, 7, 16, 31, 64, 5, 128)  # irregular, so batch edges fall everywhere


def _exchange(n: int) -> Exchange:
    return Exchange(
        at_ns=START_NS + n * 1_000_000,
        org="civil-affairs-yubei" if n % 2 else "charity-sunrise",
        role="government" if n % 2 else "charity",
        actor=f"caseworker-{n % 50:04d}",
        cert_fingerprint=hashlib.sha256(str(n).encode()).hexdigest(),
        method="/aidbridge.v1.ReferralService/PullCaseSummary",
        subject="k1:" + hashlib.sha256(f"subject{n}".encode()).hexdigest()[:32],
        outcome="OK",
        request_digest=hashlib.sha256(f"req{n}".encode()).hexdigest(),
    )


def _queue(store: Store, start: int, count: int) -> None:
    with store.write() as s:
        for n in range(start, start + count):
            append(s, _exchange(n), AUTHENTICATOR)


def _integrate_irregularly(ledger: Ledger) -> None:
    for turn in range(10_000):
        batch = ledger.integrate_batch(BATCHES[turn % len(BATCHES)])
        if batch.added + batch.rejected == 0:
            return


def _fill(store: Store, ledger: Ledger, count: int) -> list[bytes]:
    _queue(store, 0, count)
    _integrate_irregularly(ledger)
    return _leaves(store)


def _leaves(store: Store) -> list[bytes]:
    with store.read() as s:
        return list(
            s.scalars(
                select(LedgerEntry.leaf_hash)
                .where(LedgerEntry.idx.is_not(None))
                .order_by(LedgerEntry.idx)
            )
        )


def _signed_roots(store: Store, ledger: Ledger) -> dict[int, bytes]:
    """Every stored checkpoint's root, as its signature vouches for it."""
    with store.read() as s:
        notes = list(s.scalars(select(LedgerCheckpoint.note)))
    roots = {}
    for note in notes:
        checkpoint = open_checkpoint(note, ledger.vkey)
        roots[checkpoint.size] = checkpoint.root
    return roots


def _stored_nodes(store: Store) -> dict[tuple[int, int], bytes]:
    with store.read() as s:
        return {
            (r.level, r.idx): bytes(r.hash)
            for r in s.execute(select(LedgerNode.level, LedgerNode.idx, LedgerNode.hash))
        }


def _expected_nodes(leaves: list[bytes]) -> dict[tuple[int, int], bytes]:
    """Every complete subtree of level ≥ 1 over ``leaves``, from MTH's definition."""
    out = {}
    level = 1
    while (1 << level) <= len(leaves):
        width = 1 << level
        for index in range(len(leaves) // width):
            out[(level, index)] = root_from_leaf_hashes(leaves[index * width : (index + 1) * width])
        level += 1
    return out


def _referenced(size: int) -> bool:
    """Sizes whose every proof is also compared hash for hash with the in-memory reference
    (O(n) per proof); every proof of every size is verified against its root either way."""
    return size <= 100 or size in (127, 128, 129, 200, 255, 256, 257, 299, 300)


# --- the plan, without a store -----------------------------------------------------------------


def test_every_proof_range_decomposes_into_at_most_two_log_n_stored_nodes() -> None:
    for size in range(1, 301):
        bound = 2 * size.bit_length()
        for index in range(size):
            assert len(nodes_of(inclusion_ranges(index, size))) <= bound
        for old in range(1, size + 1):
            assert len(nodes_of(consistency_ranges(old, size))) <= bound
    assert subtrees(0, 6) == [(2, 0), (1, 2)]
    assert subtrees(8, 13) == [(2, 2), (0, 12)]


def test_planning_refuses_positions_outside_the_tree() -> None:
    with pytest.raises(ProofRangeError, match=r"expected a leaf index in \[0, 5\), found 5"):
        inclusion_ranges(5, 5)
    with pytest.raises(ProofRangeError, match="expected 0 < old size ≤ new size"):
        consistency_ranges(6, 5)
    with pytest.raises(ProofRangeError, match="expected 0 < old size ≤ new size"):
        consistency_ranges(0, 5)


# --- on the store ------------------------------------------------------------------------------


def test_stored_nodes_are_every_complete_subtree_of_the_leaves(
    store: Store, ledger: Ledger
) -> None:
    leaves = _fill(store, ledger, 300)
    assert len(leaves) == 300
    assert _stored_nodes(store) == _expected_nodes(leaves)


def test_inclusion_proofs_from_nodes_equal_the_reference_for_every_index_of_sizes_1_to_300(
    store: Store, ledger: Ledger
) -> None:
    leaves = _fill(store, ledger, 300)
    signed = _signed_roots(store, ledger)
    assert len(signed) >= 10  # the irregular batches signed many trees
    for size in range(1, 301):
        root = signed.get(size) or root_from_leaf_hashes(leaves[:size])
        proofs = ledger.inclusion_proofs(range(size), size)
        for index, proof in enumerate(proofs):
            if _referenced(size):
                assert proof == inclusion_proof(leaves, index, size), (index, size)
            verify_inclusion(leaves[index], index, size, proof, root)
        assert ledger.root(size) == root


def test_consistency_proofs_from_nodes_equal_the_reference_for_every_old_size(
    store: Store, ledger: Ledger
) -> None:
    leaves = _fill(store, ledger, 300)
    signed = _signed_roots(store, ledger)
    roots = [b""] + [root_from_leaf_hashes(leaves[:n]) for n in range(1, 301)]
    for new in range(1, 301):
        # Every old size in one read of the stored nodes (the sequencer's own reader), so the
        # 45,150 proofs take seconds; the sequencer's method is checked on a sample below.
        plans = {old: consistency_ranges(old, new) for old in range(1, new + 1)}
        with store.read() as s:
            stored = read_nodes(s, nodes_of(r for plan in plans.values() for r in plan))
        for old, plan in plans.items():
            proof = range_hashes(plan, stored)
            if _referenced(new):
                assert proof == consistency_proof(leaves, old, new), (old, new)
            verify_consistency(old, new, proof, roots[old], roots[new])
    rng = random.Random(9162)
    for new in [*range(1, 17), 255, 256, 257, 300]:
        for old in sorted({1, new, *(rng.randint(1, new) for _ in range(8))}):
            proof = ledger.consistency_proof(old, new)
            assert proof == consistency_proof(leaves, old, new), (old, new)
    # Between every two signed checkpoints, against the roots their signatures vouch for.
    sizes = sorted(signed)
    for i, old in enumerate(sizes):
        for new in sizes[i:]:
            proof = ledger.consistency_proof(old, new)
            verify_consistency(old, new, proof, signed[old], signed[new])


def test_proofs_at_random_larger_sizes_equal_the_reference(store: Store, ledger: Ledger) -> None:
    rng = random.Random(10)
    leaves = _fill(store, ledger, 1500)
    for size in [1500, *rng.sample(range(301, 1500), 4)]:
        root = root_from_leaf_hashes(leaves[:size])
        assert ledger.root(size) == root
        indices = [0, size - 1, *rng.sample(range(size), 25)]
        for index, proof in zip(indices, ledger.inclusion_proofs(indices, size), strict=True):
            assert proof == inclusion_proof(leaves, index, size)
            verify_inclusion(leaves[index], index, size, proof, root)
        for old in [1, size, *rng.sample(range(1, size), 25)]:
            proof = ledger.consistency_proof(old, size)
            assert proof == consistency_proof(leaves, old, size)
            verify_consistency(old, size, proof, root_from_leaf_hashes(leaves[:old]), root)


def test_proofs_outside_the_signed_tree_are_refused_as_before(store: Store, ledger: Ledger) -> None:
    _fill(store, ledger, 10)
    _queue(store, 10, 3)  # queued, not yet signed
    with pytest.raises(ProofRangeError, match=r"expected a tree size in \[1, 10\]"):
        ledger.inclusion_proof(0, 11)
    with pytest.raises(ProofRangeError, match=r"expected a leaf index in \[0, 10\), found 10"):
        ledger.inclusion_proof(10, 10)
    with pytest.raises(ProofRangeError, match=r"expected a tree size in \[1, 10\]"):
        ledger.consistency_proof(3, 13)
    with pytest.raises(ProofRangeError, match="expected 0 < old size ≤ new size"):
        ledger.consistency_proof(0, 10)
    with pytest.raises(ProofRangeError, match=r"expected a tree size in \[1, 10\]"):
        ledger.root(0)


def test_a_node_missing_or_altered_at_the_right_edge_stops_the_sequencer(
    store: Store, ledger: Ledger
) -> None:
    _fill(store, ledger, 12)  # compact range of 12: nodes (3, 0) and (2, 2)
    _queue(store, 12, 1)
    with store.write() as s:
        s.execute(
            text("UPDATE ledger_nodes SET hash = :h WHERE level = 2 AND idx = 2"),
            {"h": b"\x01" * 32},
        )
    with pytest.raises(LedgerStateError, match="stored nodes of the tree of size 12"):
        ledger.integrate()
    with store.write() as s:
        s.execute(text("DELETE FROM ledger_nodes WHERE level = 3"))
    with pytest.raises(LedgerStateError, match=r"expected stored node \(level 3, index 0\)"):
        ledger.root(12)
    ledger.inclusion_proof(0, 12)  # a proof that does not need the missing node is served


# --- the reference vectors' tree, served from the store ---------------------------------------

# The 8 leaves of RFC 6962's test data, on which transparency-dev/merkle's vectors are built.
VECTOR_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def _vector_tree(store: Store, ledger: Ledger) -> None:
    """Queue the test data as entries the gateway tagged (the sequencer checks the tag and the
    leaf hash, not the form of the text), and sequence them one batch size after another."""
    with store.write() as s:
        for n, data in enumerate(VECTOR_LEAVES):
            s.execute(
                insert(LedgerEntry),
                {
                    "at_ns": START_NS + n,
                    "org": "o",
                    "role": "government",
                    "actor": "a",
                    "method": "/m",
                    "subject": "",
                    "outcome": "OK",
                    "reason": "",
                    "entry_json": data.decode("ascii"),
                    "leaf_hash": leaf_hash(data),
                    "entry_mac": AUTHENTICATOR.entry_tag(data),
                },
            )
    for batch in (1, 2, 2, 3):
        assert ledger.integrate(batch) == batch


def test_the_vectors_tree_served_from_stored_nodes_gives_the_vectors_proofs(
    store: Store, ledger: Ledger
) -> None:
    require_vectors("rfc9162", "inclusion")
    require_vectors("rfc9162", "consistency")
    if not store.is_sqlite:
        pytest.skip("leaf 1 of the test data is a NUL byte, which PostgreSQL text cannot hold")
    _vector_tree(store, ledger)
    hashes = [leaf_hash(d) for d in VECTOR_LEAVES]
    signed = _signed_roots(store, ledger)
    assert sorted(signed) == [1, 3, 5, 8]
    happy = checked = 0
    for path in vector_files("rfc9162", "inclusion"):
        v = load_vectors_from_file(path, dict)
        index, size = v["leafIdx"], v["treeSize"]
        if not path.parent.name.isdigit() or not 0 <= index < size <= len(hashes):
            continue  # not about the test data's tree: the verifier's own tests cover them
        served = (hashes[index], ledger.inclusion_proof(index, size), ledger.root(size))
        given = (_b64(v["leafHash"]), [_b64(h) for h in v["proof"] or []], _b64(v["root"]))
        if v["wantErr"]:
            assert given != served, path  # what is altered differs from what the store serves
        else:
            assert given == served, path
            happy += 1
        verify_inclusion(served[0], index, size, served[1], served[2])
        checked += 1
    for path in vector_files("rfc9162", "consistency"):
        v = load_vectors_from_file(path, dict)
        old, new = v["size1"], v["size2"]
        if not path.parent.name.isdigit() or not 0 < old <= new <= len(hashes):
            continue
        served_c = (ledger.consistency_proof(old, new), ledger.root(old), ledger.root(new))
        given_c = ([_b64(h) for h in v["proof"] or []], _b64(v["root1"]), _b64(v["root2"]))
        if v["wantErr"]:
            assert given_c != served_c, path
        else:
            assert given_c == served_c, path
            happy += 1
        verify_consistency(old, new, *served_c)
        checked += 1
    assert happy == 10 and checked > happy
    for size, root in signed.items():
        assert ledger.root(size) == root


# --- kill -9 in the middle of an integration ---------------------------------------------------

_CHILD = """
import sys, time
from pathlib import Path
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import event
from gateway.clock import FixedClock
from gateway.ledger.log import Ledger
from gateway.store import Store
from tests.ledger.conftest import AUTHENTICATOR, ORIGIN, START_NS

url, seed, marker = sys.argv[1], bytes.fromhex(sys.argv[2]), Path(sys.argv[3])
store = Store(url)
ledger = Ledger(store, Ed25519PrivateKey.from_private_bytes(seed), ORIGIN, FixedClock(START_NS),
                AUTHENTICATOR)
assert ledger.integrate(20) == 20  # committed
hang = []

@event.listens_for(store.engine, "after_cursor_execute")
def _after(conn, cursor, statement, parameters, context, executemany):
    if hang and "ledger_nodes" in statement and statement.lstrip().upper().startswith("INSERT"):
        marker.write_text("nodes written, not committed")
        time.sleep(3600)  # killed here, inside the transaction

hang.append(True)
ledger.integrate(25)
"""


def test_kill_9_in_the_middle_of_an_integration_leaves_nodes_and_leaves_in_step(
    store: Store, tmp_path: Path
) -> None:
    seed = hashlib.sha256(b"crash test checkpoint key").digest()
    key = Ed25519PrivateKey.from_private_bytes(seed)
    ledger = Ledger(store, key, ORIGIN, FixedClock(START_NS), AUTHENTICATOR)
    _queue(store, 0, 60)
    marker = tmp_path / "marker"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "proto")]))
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, store.url, seed.hex(), str(marker)],
        cwd=REPO,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), child.stderr.read() if child.poll() is not None else "no marker"
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL

    leaves = _leaves(store)
    assert len(leaves) == 20  # the killed batch left nothing
    assert _stored_nodes(store) == _expected_nodes(leaves)
    assert ledger.drain(max_batch=25) == 40  # the sequencer carries on from where it was
    leaves = _leaves(store)
    assert _stored_nodes(store) == _expected_nodes(leaves)
    signed = _signed_roots(store, ledger)
    for size, root in signed.items():
        for index, proof in enumerate(ledger.inclusion_proofs(range(size), size)):
            verify_inclusion(leaves[index], index, size, proof, root)
    assert verify(store, ledger.vkey, AUTHENTICATOR).ok


# --- upgrade of a store populated at 0009 -------------------------------------------------------


def _to_revision(store: Store, revision: str, direction: str) -> None:
    with store.engine.begin() as conn:
        cfg = alembic_config(store.url)
        cfg.attributes["connection"] = conn
        getattr(command, direction)(cfg, revision)


def test_a_store_populated_at_0009_gets_every_node_on_upgrade_and_proofs_are_right(
    store: Store, ledger: Ledger, signing_key: Ed25519PrivateKey
) -> None:
    _to_revision(store, "0009", "downgrade")  # a store as the previous release left it
    with store.read() as s:
        tables = s.execute(text("SELECT * FROM ledger_entries WHERE 1 = 0")).keys()
        assert "idx" in tables
    # Fill it as the previous sequencer did: leaves, state, checkpoints — no nodes.
    leaves = [leaf_hash(f"0009 entry {i}".encode()) for i in range(137)]
    _populate_without_nodes(store, signing_key, leaves, sizes=(5, 64, 100, 137))
    _queue(store, 1000, 3)  # and calls still queued when it was stopped

    _to_revision(store, "heads", "upgrade")

    assert _stored_nodes(store) == _expected_nodes(leaves)
    signed = _signed_roots(store, ledger)
    assert sorted(signed) == [5, 64, 100, 137]
    for size, root in signed.items():
        assert ledger.root(size) == root
        for index, proof in enumerate(ledger.inclusion_proofs(range(size), size)):
            assert proof == inclusion_proof(leaves, index, size)
            verify_inclusion(leaves[index], index, size, proof, root)
        for old in signed:
            if old <= size:
                verify_consistency(
                    old, size, ledger.consistency_proof(old, size), signed[old], root
                )
    assert ledger.integrate() == 3  # the queued calls, on top of the backfilled nodes
    assert _stored_nodes(store) == _expected_nodes(_leaves(store))


def _populate_without_nodes(
    store: Store, key: Ed25519PrivateKey, leaves: list[bytes], sizes: tuple[int, ...]
) -> None:
    compact = CompactRange()
    with store.write() as s:
        for idx, leaf in enumerate(leaves):
            s.execute(
                text(
                    "INSERT INTO ledger_entries (idx, at_ns, org, role, actor, method, subject, "
                    "outcome, reason, entry_json, leaf_hash, entry_mac, position_mac) VALUES "
                    "(:i, :i, 'o', 'government', 'a', '/m', '', 'OK', '', :e, :h, :em, :pm)"
                ),
                {
                    "i": idx,
                    "e": f"0009 entry {idx}",
                    "h": leaf,
                    "em": AUTHENTICATOR.entry_tag(f"0009 entry {idx}".encode()),
                    "pm": AUTHENTICATOR.position_tag(idx, leaf),
                },
            )
            compact.append(leaf)
            if compact.size in sizes:
                s.execute(
                    text(
                        "INSERT INTO ledger_checkpoints (tree_size, root_hash, note, "
                        "created_at_ns) VALUES (:n, :r, :note, 0)"
                    ),
                    {
                        "n": compact.size,
                        "r": compact.root(),
                        "note": sign_checkpoint(ORIGIN, compact.size, compact.root(), key),
                    },
                )
        s.execute(
            text(
                "INSERT INTO ledger_state (id, tree_size, compact_range_json, root_hash) "
                "VALUES (1, :n, :c, :r)"
            ),
            {"n": compact.size, "c": compact.to_json(), "r": compact.root()},
        )


# --- verify recomputes the stored nodes --------------------------------------------------------


def test_verify_names_a_stored_node_altered_or_deleted_behind_the_gateways_back(
    store: Store, ledger: Ledger
) -> None:
    leaves = _fill(store, ledger, 40)
    assert verify(store, ledger.vkey, AUTHENTICATOR).ok
    with store.write() as s:
        s.execute(
            text("UPDATE ledger_nodes SET hash = :h WHERE level = 1 AND idx = 3"),
            {"h": b"\x02" * 32},
        )
        s.execute(text("DELETE FROM ledger_nodes WHERE level = 2 AND idx = 5"))
    report = verify(store, ledger.vkey, AUTHENTICATOR)
    assert report.problems == [
        "stored node (level 1, index 3) over entries 6..7: does not match the entries; proofs "
        "served from it would not verify",
        "stored node (level 2, index 5) over entries 20..23: missing; proofs served from it "
        "would not verify",
    ]
    # What a reader would have met: a proof through the altered node fails against the root.
    [root] = [r for size, r in _signed_roots(store, ledger).items() if size == 40]
    with pytest.raises(InclusionProofError):
        verify_inclusion(leaves[4], 4, 40, ledger.inclusion_proof(4, 40), root)


def test_verify_names_an_altered_entry_once_not_again_for_every_node_above_it(
    store: Store, ledger: Ledger
) -> None:
    _fill(store, ledger, 40)
    with store.write() as s:
        row = s.execute(select(LedgerEntry.entry_json).where(LedgerEntry.idx == 9)).scalar_one()
        forged = row.replace("caseworker-0009", "caseworker-0666")
        s.execute(
            text("UPDATE ledger_entries SET entry_json = :e, leaf_hash = :h WHERE idx = 9"),
            {"e": forged, "h": leaf_hash(forged.encode())},
        )
    problems = verify(store, ledger.vkey, AUTHENTICATOR).problems
    assert problems[0].startswith("entry 9: entry_json does not match its authenticator")
    assert not [p for p in problems if p.startswith("stored node")]
