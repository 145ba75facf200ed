"""Compliance query benchmark: a query by subject (the officer gives a resident id, the gateway
derives the ledger pseudonym) over a ledger of ``--entries`` entries, through the server —
mutual TLS, identity, policy, the query on the ``(subject, id)`` index, and the query's own
ledger entry made durable before the answer leaves.

Baseline, in the same run and server: ``GetCheckpoint``, the cheapest audited read (same TLS,
policy and durable ledger entry, no query). The ratio says what the subject query adds.

The ledger is filled directly (properly formed, authenticated and sequenced entries, their
stored nodes, a signed checkpoint of them all), since a million calls would take the better
part of an hour here: ``--people`` synthetic residents, their entries spread evenly and in
random order.

Target (DESIGN.md): p95 ≤ 50 ms over 1,000,000 entries.

    .venv/bin/python bench/bench_audit_query.py [--entries 1000000] [--queries 300]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from sqlalchemy import insert, text

from aidbridge.v1 import audit_pb2
from gateway.client import Client, credentials
from gateway.keys import KeyRing
from gateway.ledger.authenticator import EntryAuthenticator
from gateway.ledger.checkpoint import sign_checkpoint
from gateway.ledger.entry import canonical_json
from gateway.ledger.rfc9162 import CompactRange, leaf_hash
from gateway.ledger.sequencer import STATE_ID
from gateway.privacy.pseudonyms import pseudonym_for
from gateway.store import Store
from gateway.store.models import LedgerCheckpoint, LedgerEntry, LedgerNode, LedgerState
from gateway.synthetic import resident_id
from gateway.workdir import init_workdir

ROOT = Path(__file__).resolve().parent.parent
COMPLIANCE = "jb-supervision"
START_NS = 1_795_804_588_000_000_000
METHODS = (
    "aidbridge.v1.CaseService/PullCaseSummary",
    "aidbridge.v1.ReferralService/CreateReferral",
    "aidbridge.v1.ConsentService/RecordConsent",
    "aidbridge.v1.CaseService/GetCase",
)
ORGS = ("charity-sunshine", "charity-harbour", "jb-civil-affairs", "jb-guanyinqiao-office")


def fill(config, entries: int, people: int, seed: int) -> list[str]:  # type: ignore[no-untyped-def]
    """Write ``entries`` sequenced entries about ``people`` residents; returns their ids."""
    rng = random.Random(seed)
    keys = KeyRing.load(config.master_key_path)
    authenticator = EntryAuthenticator.from_keyring(keys)
    residents = [
        resident_id(
            date(1950 + rng.randrange(60), 1 + rng.randrange(12), 1 + rng.randrange(28)),
            rng.random() < 0.5,
            rng,
        )
        for _ in range(people)
    ]
    subjects = [pseudonym_for(keys, "ledger", r) for r in residents]
    store = Store(config.database_url)
    store.migrate()
    compact = CompactRange()
    batch: list[dict[str, object]] = []
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
                "subject": subjects[rng.randrange(people)],
                "purpose": "charitable_assistance",
                "consent_id": "",
                "consent_version": 0,
                "decision_id": "",
                "bundle_revision": "bench",
                "fields_released": [],
                "outcome": "OK",
                "reason": "",
                "request_digest": "",
                "response_digest": "",
            }
            entry = canonical_json(document).encode("utf-8")
            leaf = leaf_hash(entry)
            for level, index, node in compact.append_nodes(leaf):
                nodes.append({"level": level, "idx": index, "hash": node})
            batch.append(
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
                    "entry_mac": authenticator.entry_tag(entry),
                    "position_mac": authenticator.position_tag(idx, leaf),
                }
            )
            if len(batch) == 20_000:
                s.execute(insert(LedgerEntry), batch)
                s.execute(insert(LedgerNode), nodes)
                batch.clear()
                nodes.clear()
        if batch:
            s.execute(insert(LedgerEntry), batch)
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
                note=sign_checkpoint(
                    config.ledger_origin, compact.size, root, keys.signing_key("checkpoint")
                ),
                created_at_ns=START_NS,
            )
        )
    with store.read() as s:
        if s.get_bind().dialect.name == "sqlite":
            plan = s.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT * FROM ledger_entries WHERE subject = :s "
                    "ORDER BY id LIMIT 51"
                ),
                {"s": subjects[0]},
            ).all()
            print("query plan:", "; ".join(str(row[-1]) for row in plan))
    store.dispose()
    return residents


def _percentiles(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100)
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "mean": statistics.fmean(samples)}


def _time(call, count: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for n in range(count):
        started = time.perf_counter()
        call(n)
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=0, help="default: entries / 20")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--db-url", default="", help="PostgreSQL URL (default: SQLite)")
    args = parser.parse_args()
    people = args.people or max(args.entries // 20, 1)

    with tempfile.TemporaryDirectory(prefix="aidbridge-bench-") as tmp:
        config = init_workdir(Path(tmp) / "work", listen="127.0.0.1:0", db_url=args.db_url)
        started = time.perf_counter()
        residents = fill(config, args.entries, people, args.seed)
        print(
            f"filled {args.entries} entries about {people} people in "
            f"{time.perf_counter() - started:.1f} s"
        )
        port_file = Path(tmp) / "port"
        server = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "gateway_server.py"),
                str(config.work_dir),
                str(port_file),
            ],
            env=dict(os.environ, AIDBRIDGE_LISTEN="127.0.0.1:0"),
        )
        try:
            deadline = time.time() + 120
            while not port_file.exists() and time.time() < deadline:
                time.sleep(0.1)
            target = f"127.0.0.1:{port_file.read_text().strip()}"
            credentials(config.certs_dir, COMPLIANCE)
            client = Client.connect(target, config.certs_dir, COMPLIANCE, "bench-officer")
            audit = client.audit
            rng = random.Random(args.seed + 1)
            chosen = [rng.choice(residents) for _ in range(args.queries)]
            sizes: list[int] = []

            def subject_query(n: int) -> None:
                response = audit.QueryLedger(
                    audit_pb2.QueryLedgerRequest(subject_resident_id=chosen[n]), timeout=30
                )
                sizes.append(len(response.entries))

            def checkpoint(_n: int) -> None:
                audit.GetCheckpoint(audit_pb2.GetCheckpointRequest(), timeout=30)

            _time(subject_query, 20)  # warm up: connection, caches
            _time(checkpoint, 20)
            query_ms = _percentiles(_time(subject_query, args.queries))
            base_ms = _percentiles(_time(checkpoint, args.queries))
            client.close()
        finally:
            server.terminate()
            server.wait(timeout=60)

    print(
        f"subject query over {args.entries} entries ({args.queries} queries, "
        f"{statistics.fmean(sizes):.1f} entries per answer):"
    )
    for name in ("p50", "p95", "p99", "mean"):
        ratio = query_ms[name] / base_ms[name]
        print(
            f"  {name}: query {query_ms[name]:7.2f} ms   GetCheckpoint {base_ms[name]:7.2f} ms"
            f"   ratio {ratio:5.2f}x"
        )
    verdict = "meets" if query_ms["p95"] <= 50 else "MISSES"
    print(f"target p95 <= 50 ms: {verdict} ({query_ms['p95']:.2f} ms)")


if __name__ == "__main__":
    main()
