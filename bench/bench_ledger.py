"""Ledger benchmark: durable appends per second and integrate latency on SQLite, side by side
with a bare SQLite insert of the same row size under the same durability settings.

Appends are made the way calls make them: one write transaction per exchange (``Store.write``
+ ``entry.append``), from several threads, while a sequencer integrates every ``--interval``
seconds. Integrate latency is the time from an entry's commit to the commit of the first signed
checkpoint that covers it. The baseline inserts the same rows with the ``sqlite3`` module alone
(WAL, ``synchronous=FULL``, ``BEGIN IMMEDIATE``, one transaction per row, same threads). Then it
times ``verify`` over the stored log and an offline ``verify_export``, per entry.

Then the same entries go through the gateway's own write path: the group commit
(``GroupCommitWriter``), each writer thread preparing its row first as a call does, with 1, 8
and 64 concurrent writers, on SQLite and — with ``--pg-url`` or ``AIDBRIDGE_TEST_PG_URL`` — on
PostgreSQL; each prints appends/s, its ratio to the bare insert, and commit → signed checkpoint
latency p50/p99 (an entry's position is looked up by its decision id afterwards).

Targets (DESIGN.md): ≥ 3,000 durable appends/s; in a signed checkpoint ≤ 1 s later.

    .venv/bin/python bench/bench_ledger.py [--threads 8] [--count 20000] [--interval 0.25] \
        [--pg-url postgresql://...]
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import os
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from faker import Faker

from gateway.clock import SystemClock
from gateway.ledger.authenticator import EntryAuthenticator
from gateway.ledger.entry import Exchange, append, canonical_entry
from gateway.ledger.log import Ledger, export_entries, verify, verify_export
from gateway.ledger.rfc9162 import leaf_hash
from gateway.store import Store
from gateway.store.db import sqlite_url

ORIGIN = "bench.aidbridge.example/ledger"


def _exchanges(count: int) -> list[Exchange]:
    fake = Faker("zh_CN")
    Faker.seed(2024)
    subjects = ["k1:" + fake.hexify("^" * 32) for _ in range(500)]
    actors = ["caseworker-" + fake.numerify("####") for _ in range(50)]
    out = []
    for n in range(count):
        out.append(
            Exchange(
                at_ns=time.time_ns(),
                org=f"charity-{n % 40}",
                role="charity",
                actor=actors[n % len(actors)],
                cert_fingerprint=hashlib.sha256(f"cert{n % 40}".encode()).hexdigest(),
                method="/aidbridge.v1.ReferralService/GetSummary",
                subject=subjects[n % len(subjects)],
                purpose="hardship_assistance",
                consent_id=f"cns_{n % 997:012d}",
                consent_version=1,
                decision_id=f"dec-{n}",
                bundle_revision="rev-1",
                fields_released=(("age_band", "generalise"), ("street", "generalise")),
                outcome="OK" if n % 10 else "PERMISSION_DENIED",
                reason="" if n % 10 else "consent does not cover the requested fields",
                request_digest=hashlib.sha256(f"req{n}".encode()).hexdigest(),
                response_digest=hashlib.sha256(f"resp{n}".encode()).hexdigest(),
            )
        )
    return out


def _split(items: list, parts: int) -> list[list]:
    return [items[i::parts] for i in range(parts)]


def bench_ledger_appends(
    workdir: Path, exchanges: list[Exchange], threads: int, interval: float
) -> tuple[float, list[float], Store, Ledger]:
    store = Store(sqlite_url(workdir / "ledger.db"))
    store.migrate()
    ledger = Ledger(
        store,
        Ed25519PrivateKey.generate(),
        ORIGIN,
        SystemClock(),
        EntryAuthenticator(os.urandom(32)),
    )
    commits: list[float] = []
    commits_lock = threading.Lock()
    checkpoints: list[tuple[float, int]] = []  # (time committed, tree size)
    stop = threading.Event()

    def appender(chunk: list[Exchange]) -> None:
        for ex in chunk:
            with store.write() as s:
                append(s, ex, ledger.authenticator)
            done = time.perf_counter()
            with commits_lock:
                commits.append(done)

    def sequencer() -> None:
        # Ledger.run's loop, recording when each checkpoint committed and what it covers.
        size = 0
        while True:
            round_started = time.perf_counter()
            added = ledger.integrate()
            if added:
                size += added
                checkpoints.append((time.perf_counter(), size))
            elif stop.is_set():
                return
            if added < 10_000:  # rounds start every interval, as Ledger.run's do
                stop.wait(max(0.0, interval - (time.perf_counter() - round_started)))

    seq = threading.Thread(target=sequencer)
    seq.start()
    workers = [threading.Thread(target=appender, args=(c,)) for c in _split(exchanges, threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    stop.set()
    seq.join()

    # SQLite serialises writers, so the k-th commit got position k (commit times are taken just
    # after each commit; the order can blur only within a few microseconds).
    commits.sort()
    done_at = [t for t, _ in checkpoints]
    sizes = [n for _, n in checkpoints]
    latencies = []
    for k, committed in enumerate(commits):
        covering = bisect.bisect_right(sizes, k)
        latencies.append(done_at[covering] - committed)
    return len(exchanges) / elapsed, latencies, store, ledger


def bench_group_commit(
    url: str, exchanges: list[Exchange], writers: int, interval: float
) -> tuple[float, list[float]]:
    """Durable appends through the gateway's own path: each writer thread prepares its entry's
    row (``prepared_row``, as a call does in its own thread) and hands it to the group commit
    (``GroupCommitWriter.submit``); returns appends/s and commit → checkpoint latencies."""
    from sqlalchemy import select

    from gateway.ledger.entry import prepared_row
    from gateway.store.group_commit import GroupCommitWriter
    from gateway.store.models import LedgerEntry

    store = Store(url)
    store.migrate()
    ledger = Ledger(
        store,
        Ed25519PrivateKey.generate(),
        ORIGIN,
        SystemClock(),
        EntryAuthenticator(os.urandom(32)),
    )
    ledger.integrate()
    with store.read() as s:
        base = s.scalar(select(LedgerEntry.idx).order_by(LedgerEntry.idx.desc()).limit(1))
    size0 = 0 if base is None else base + 1
    writer = GroupCommitWriter(store, timeout_s=60)
    table = LedgerEntry.__table__
    committed: dict[str, float] = {}
    checkpoints: list[tuple[float, int]] = []
    stop = threading.Event()

    def appender(chunk: list[Exchange]) -> None:
        for ex in chunk:
            writer.submit(None, inserts=[(table, prepared_row(ex, ledger.authenticator))])
            committed[ex.decision_id] = time.perf_counter()

    def sequencer() -> None:
        size = size0
        while True:
            round_started = time.perf_counter()
            added = ledger.integrate()
            if added:
                size += added
                checkpoints.append((time.perf_counter(), size))
            elif stop.is_set():
                return
            if added < 10_000:  # rounds start every interval, as Ledger.run's do
                stop.wait(max(0.0, interval - (time.perf_counter() - round_started)))

    seq = threading.Thread(target=sequencer)
    seq.start()
    workers = [threading.Thread(target=appender, args=(c,)) for c in _split(exchanges, writers)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    stop.set()
    seq.join()
    writer.close()
    wanted = set(committed)
    with store.read() as s:
        positions: dict[str, int] = {}
        for entry_json, idx in s.execute(
            select(LedgerEntry.entry_json, LedgerEntry.idx).where(LedgerEntry.idx >= size0)
        ):
            d = json.loads(entry_json).get("decision_id", "")
            if d in wanted:
                positions[d] = idx
    store.dispose()
    done_at = [t for t, _ in checkpoints]
    sizes = [n for _, n in checkpoints]
    latencies = [
        done_at[bisect.bisect_right(sizes, positions[d])] - committed[d] for d in positions
    ]
    return len(exchanges) / elapsed, latencies


def bench_bare_sqlite(workdir: Path, exchanges: list[Exchange], threads: int) -> float:
    path = workdir / "bare.db"
    setup = sqlite3.connect(path)
    setup.executescript(
        """
        PRAGMA journal_mode=WAL;
        CREATE TABLE rows (id INTEGER PRIMARY KEY, idx INTEGER UNIQUE, at_ns INTEGER, org TEXT,
          role TEXT, actor TEXT, method TEXT, subject TEXT, outcome TEXT, reason TEXT,
          entry_json TEXT, leaf_hash BLOB);
        CREATE INDEX ix_at ON rows(at_ns);
        CREATE INDEX ix_org_at ON rows(org, at_ns);
        CREATE INDEX ix_subject_at ON rows(subject, at_ns);
        """
    )
    setup.close()
    rows = []
    for ex in exchanges:
        entry = canonical_entry(ex)
        rows.append(
            (
                ex.at_ns,
                ex.org,
                ex.role,
                ex.actor,
                ex.method,
                ex.subject,
                ex.outcome,
                ex.reason,
                entry.decode(),
                leaf_hash(entry),
            )
        )

    def inserter(chunk: list[tuple]) -> None:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=30000")
        for row in chunk:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO rows (at_ns, org, role, actor, method, subject, outcome, reason, "
                "entry_json, leaf_hash) VALUES (?,?,?,?,?,?,?,?,?,?)",
                row,
            )
            conn.execute("COMMIT")
        conn.close()

    workers = [threading.Thread(target=inserter, args=(c,)) for c in _split(rows, threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return len(rows) / (time.perf_counter() - start)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--interval", type=float, default=0.25, help="sequencer period, s")
    parser.add_argument("--dir", type=Path, default=None, help="where the databases go")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("AIDBRIDGE_TEST_PG_URL", ""),
        help="also run the group commit on PostgreSQL (default $AIDBRIDGE_TEST_PG_URL)",
    )
    args = parser.parse_args()

    exchanges = _exchanges(args.count)
    entry_bytes = statistics.mean(len(canonical_entry(e)) for e in exchanges[:1000])
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        workdir = Path(tmp)
        print(
            f"ledger bench: {args.count} entries (~{entry_bytes:.0f} B each), "
            f"{args.threads} threads, SQLite WAL synchronous=FULL in {workdir} "
            f"({os.cpu_count()} CPUs)"
        )

        bare = bench_bare_sqlite(workdir, exchanges, args.threads)
        rate, latencies, store, ledger = bench_ledger_appends(
            workdir, exchanges, args.threads, args.interval
        )
        print(f"bare sqlite3 insert, 1 tx/row      : {bare:8.0f} rows/s")
        targets = [("sqlite", None)] + ([("postgresql", args.pg_url)] if args.pg_url else [])
        for name, url in targets:
            for writers in (1, 8, 64):
                db = url or sqlite_url(workdir / f"group-{writers}.db")
                gc_rate, gc_lat = bench_group_commit(db, exchanges, writers, args.interval)
                print(
                    f"group commit {name:10} {writers:2} writers: {gc_rate:8.0f} appends/s "
                    f"= {gc_rate / bare:.2f}x bare sqlite (target >= 3000/s); checkpoint p50 "
                    f"{_pct(gc_lat, 0.5) * 1000:.0f} ms, p99 {_pct(gc_lat, 0.99) * 1000:.0f} ms"
                )
        print(
            f"ledger append (Store.write+append) : {rate:8.0f} appends/s "
            f"= {rate / bare:.2f}x bare  (target >= 3000/s)"
        )
        print(
            f"commit -> in signed checkpoint     : p50 {_pct(latencies, 0.5) * 1000:.0f} ms, "
            f"p99 {_pct(latencies, 0.99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms "
            f"(sequencer every {args.interval * 1000:.0f} ms; target <= 1000 ms)"
        )

        start = time.perf_counter()
        report = verify(store, ledger.vkey, ledger.authenticator)
        took = time.perf_counter() - start
        assert report.ok, report.problems[:5]
        print(
            f"verify(store) of {report.tree_size} entries     : {took:.2f} s "
            f"({took / report.tree_size * 1e6:.1f} us/entry, "
            f"1M ~ {took / report.tree_size * 1e6:.0f} s)"
        )

        export = workdir / "ledger.jsonl"
        checkpoint = export_entries(store, export)
        assert checkpoint is not None
        start = time.perf_counter()
        offline = verify_export(export, checkpoint.note, ledger.vkey)
        took = time.perf_counter() - start
        assert offline.ok, offline.problems
        print(
            f"verify_export of {offline.tree_size} entries    : {took:.2f} s "
            f"({took / offline.tree_size * 1e6:.1f} us/entry, "
            f"1M ~ {took / offline.tree_size * 1e6:.0f} s; target <= 10 s)"
        )
        store.dispose()


if __name__ == "__main__":
    main()
