"""Proof benchmark: inclusion and consistency proofs, and roots of earlier trees, over a ledger of
``--entries`` entries (default 1,000,000), through the sequencer's stored-node path
(``Ledger.inclusion_proof`` / ``consistency_proof`` / ``root``: one read transaction, the latest
checkpoint and at most 2·log₂ n stored nodes in one query, then O(log n) hashes).

Baselines, in the same run on the same store:
- the cheapest read of the ledger (``Ledger.latest_checkpoint``: one read transaction, one row),
  the floor under any proof;
- the path before revision 0010 (load every leaf hash below the tree size, then the in-memory
  RFC 9162 proof over them), at the full size, a few samples (each is O(n));
- the in-memory reference proof over leaves already in memory (no database at all), also O(n).

The ledger is filled directly, as the sequencer would leave it (authenticated entries with their
positions, every complete subtree in ``ledger_nodes``, a signed checkpoint), since a million
calls would take the better part of an hour here. Every proof timed is also verified against the
signed root once, outside the timing.

    .venv/bin/python bench/bench_proofs.py [--entries 1000000] [--proofs 2000] [--db-url URL]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, insert, select

from gateway.clock import FixedClock
from gateway.ledger.authenticator import EntryAuthenticator
from gateway.ledger.checkpoint import open_checkpoint, sign_checkpoint
from gateway.ledger.entry import canonical_json
from gateway.ledger.rfc9162 import (
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from gateway.ledger.sequencer import STATE_ID, Ledger
from gateway.store import Store
from gateway.store.db import sqlite_url
from gateway.store.models import LedgerCheckpoint, LedgerEntry, LedgerNode, LedgerState

ORIGIN = "bench.aidbridge.example/ledger"
START_NS = 1_795_804_588_000_000_000
METHODS = (
    "aidbridge.v1.CaseService/PullCaseSummary",
    "aidbridge.v1.ReferralService/CreateReferral",
    "aidbridge.v1.ConsentService/RecordConsent",
)
ORGS = ("charity-sunshine", "charity-harbour", "jb-civil-affairs", "jb-guanyinqiao-office")
_BATCH = 20_000


def fill(store: Store, key: Ed25519PrivateKey, auth: EntryAuthenticator, entries: int) -> None:
    """``entries`` sequenced entries with their nodes and one signed checkpoint of them all."""
    compact = CompactRange()
    rows: list[dict[str, object]] = []
    nodes: list[dict[str, object]] = []
    with store.write() as s:
        for idx in range(entries):
            org = ORGS[idx % len(ORGS)]
            document = {
                "v": 1,
                "at_ns": START_NS + idx * 1_000_000,
                "org": org,
                "role": "charity" if org.startswith("charity") else "government",
                "actor": f"staff-{idx % 97:03d}",
                "cert_fingerprint": "0" * 64,
                "method": METHODS[idx % len(METHODS)],
                "subject": "k1:" + hashlib.sha256(b"%d" % (idx % 50_000)).hexdigest()[:32],
                "purpose": "charitable_assistance",
                "outcome": "OK",
                "reason": "",
            }
            entry = canonical_json(document).encode("utf-8")
            leaf = leaf_hash(entry)
            for level, index, node in compact.append_nodes(leaf):
                nodes.append({"level": level, "idx": index, "hash": node})
            rows.append(
                {
                    "idx": idx,
                    "at_ns": document["at_ns"],
                    "org": org,
                    "role": document["role"],
                    "actor": document["actor"],
                    "method": document["method"],
                    "subject": document["subject"],
                    "outcome": "OK",
                    "reason": "",
                    "entry_json": entry.decode("utf-8"),
                    "leaf_hash": leaf,
                    "entry_mac": auth.entry_tag(entry),
                    "position_mac": auth.position_tag(idx, leaf),
                }
            )
            if len(rows) == _BATCH:
                s.execute(insert(LedgerEntry), rows)
                s.execute(insert(LedgerNode), nodes)
                rows.clear()
                nodes.clear()
        if rows:
            s.execute(insert(LedgerEntry), rows)
        if nodes:
            s.execute(insert(LedgerNode), nodes)
        root = compact.root()
        s.merge(
            LedgerState(
                id=STATE_ID,
                tree_size=compact.size,
                compact_range_json=compact.to_json(),
                root_hash=root,
            )
        )
        s.add(
            LedgerCheckpoint(
                tree_size=compact.size,
                root_hash=root,
                note=sign_checkpoint(ORIGIN, compact.size, root, key),
                created_at_ns=START_NS,
            )
        )


def _old_path_leaves(store: Store, size: int) -> list[bytes]:
    """What every proof read before revision 0010: all leaf hashes below ``size``."""
    with store.read() as s:
        return list(
            s.scalars(
                select(LedgerEntry.leaf_hash)
                .where(LedgerEntry.idx.is_not(None), LedgerEntry.idx < size)
                .order_by(LedgerEntry.idx)
            )
        )


def _ms(call: Callable[[int], object], count: int) -> list[float]:
    out = []
    for n in range(count):
        started = time.perf_counter()
        call(n)
        out.append((time.perf_counter() - started) * 1000)
    return out


def _cuts(samples: list[float]) -> dict[str, float]:
    if len(samples) < 2:
        return {"p50": samples[0], "p99": samples[0], "mean": samples[0]}
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": cuts[49], "p99": cuts[98], "mean": statistics.fmean(samples)}


def _line(name: str, cuts: dict[str, float], floor: dict[str, float], count: int) -> str:
    return (
        f"  {name:<42} p50 {cuts['p50']:9.3f} ms  p99 {cuts['p99']:9.3f} ms"
        f"  ({cuts['p50'] / floor['p50']:7.1f}x / {cuts['p99'] / floor['p99']:7.1f}x the floor,"
        f" {count} samples)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=2000, help="samples per stored-node kind")
    parser.add_argument("--slow", type=int, default=3, help="samples of each O(n) baseline")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--db-url", default="", help="an empty PostgreSQL database (default: SQLite)"
    )
    args = parser.parse_args()
    n = args.entries
    rng = random.Random(args.seed)
    key = Ed25519PrivateKey.generate()
    auth = EntryAuthenticator(hashlib.sha256(b"bench proofs").digest())

    with tempfile.TemporaryDirectory(prefix="aidbridge-bench-") as tmp:
        store = Store(args.db_url or sqlite_url(Path(tmp) / "ledger.db"))
        store.migrate()
        started = time.perf_counter()
        fill(store, key, auth, n)
        with store.read() as s:
            stored_nodes = s.execute(select(func.count()).select_from(LedgerNode)).scalar_one()
        print(
            f"filled {n} entries and {stored_nodes} stored nodes in "
            f"{time.perf_counter() - started:.1f} s ({store.engine.dialect.name})"
        )
        if store.is_sqlite:
            # The fill's one transaction leaves a write-ahead log the size of the database; a
            # gateway's small transactions are checkpointed into the file as they go.
            with store.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        ledger = Ledger(store, key, ORIGIN, FixedClock(START_NS), auth)
        signed = ledger.latest_checkpoint()
        assert signed is not None and signed.size == n
        root = open_checkpoint(signed.note, ledger.vkey).root

        indices = [rng.randrange(n) for _ in range(args.proofs)]
        olds = [rng.randint(1, n) for _ in range(args.proofs)]
        sizes = [rng.randint(1, n) for _ in range(args.proofs)]
        leaves = _old_path_leaves(store, n)  # for checking, and the in-memory baseline

        # Correctness first, outside the timing: each kind verifies against the signed root.
        for index in indices[:200]:
            verify_inclusion(leaves[index], index, n, ledger.inclusion_proof(index, n), root)
        for old in olds[:50]:
            proof = ledger.consistency_proof(old, n)
            verify_consistency(old, n, proof, ledger.root(old), root)
        assert ledger.inclusion_proof(indices[0], n) == inclusion_proof(leaves, indices[0], n)
        assert ledger.consistency_proof(olds[0], n) == consistency_proof(leaves, olds[0], n)

        # Warm-up, then the runs.
        _ms(lambda i: ledger.inclusion_proof(indices[i], n), 50)
        _ms(lambda i: ledger.latest_checkpoint(), 50)
        floor = _cuts(_ms(lambda i: ledger.latest_checkpoint(), args.proofs))
        incl = _cuts(_ms(lambda i: ledger.inclusion_proof(indices[i], n), args.proofs))
        cons = _cuts(_ms(lambda i: ledger.consistency_proof(olds[i], n), args.proofs))
        roots = _cuts(_ms(lambda i: ledger.root(sizes[i]), args.proofs))
        old_incl = _cuts(
            _ms(
                lambda i: inclusion_proof(_old_path_leaves(store, n), indices[i], n),
                args.slow,
            )
        )
        old_cons = _cuts(
            _ms(
                lambda i: consistency_proof(_old_path_leaves(store, n), olds[i], n),
                args.slow,
            )
        )
        mem_incl = _cuts(_ms(lambda i: inclusion_proof(leaves, indices[i], n), args.slow))
        store.dispose()

    print(f"proofs in the tree of {n} entries (ratios: to the cheapest ledger read):")
    print(_line("latest checkpoint (floor)", floor, floor, args.proofs))
    print(_line("inclusion proof, stored nodes", incl, floor, args.proofs))
    print(_line("consistency proof, stored nodes", cons, floor, args.proofs))
    print(_line("root of an earlier tree, stored nodes", roots, floor, args.proofs))
    print(_line("inclusion proof, all leaves (before 0010)", old_incl, floor, args.slow))
    print(_line("consistency proof, all leaves (before 0010)", old_cons, floor, args.slow))
    print(_line("inclusion proof, leaves in memory", mem_incl, floor, args.slow))
    print(
        f"stored nodes vs all leaves: inclusion {old_incl['p50'] / incl['p50']:,.0f}x faster "
        f"at p50, consistency {old_cons['p50'] / cons['p50']:,.0f}x; vs leaves already in "
        f"memory {mem_incl['p50'] / incl['p50']:,.0f}x"
    )


if __name__ == "__main__":
    main()
