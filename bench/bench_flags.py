"""ListFlags benchmark: open flags of a ledger of ``--entries`` entries, one in ``--every``
flagged, read through the ``ledger_flags`` index (``gateway.integrity.flags.list_flags``) —
beside the baseline, in the same run and store: the scan it replaced, a ``LIKE`` over every
entry's text for a ``"flags":[`` member.

The ledger is filled directly (well-formed entries with their flag rows, as a call writes them);
the store is SQLite, or ``--db-url`` (e.g. a throwaway PostgreSQL). Both reads are done in the
same read transaction, alternately, and the median and p95 of each are printed with the ratio.

    .venv/bin/python bench/bench_flags.py [--entries 200000] [--every 1000] [--reads 50]

Last run (shared 2-core machine, SQLite, 200,000 entries, 200 flagged, 100 listed): indexed
p50 6.8 ms / p95 25 ms; the LIKE scan p50 145 ms / p95 263 ms (21x). PostgreSQL, same sizes:
29 ms / 90 ms against 604 ms / 1,355 ms (21x). ``--db-url`` should name an empty database.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "proto"))

from gateway.integrity import flags  # noqa: E402
from gateway.ledger.authenticator import EntryAuthenticator  # noqa: E402
from gateway.ledger.entry import Exchange, flag_rows, prepared_row  # noqa: E402
from gateway.store import Store  # noqa: E402
from gateway.store.db import sqlite_url  # noqa: E402
from gateway.store.models import FlagResolution, LedgerEntry, LedgerFlag  # noqa: E402

START_NS = 1_795_804_588_000_000_000
AUTH = EntryAuthenticator(b"\x01" * 32)
BATCH = 5000


def fill(store: Store, entries: int, every: int) -> None:
    entry_id = 0
    with store.write() as session:
        for first in range(0, entries, BATCH):
            rows, marks = [], []
            for n in range(first, min(entries, first + BATCH)):
                entry_id += 1
                flagged = n % every == every - 1
                ex = Exchange(
                    at_ns=START_NS + n,
                    org="charity-sunshine",
                    role="charity",
                    actor=f"staff-{n % 50:03d}",
                    cert_fingerprint="ab" * 32,
                    method="aidbridge.v1.CaseService/PullCaseSummary",
                    flags=("volume-spike",) if flagged else (),
                )
                row = prepared_row(ex, AUTH)
                row.pop("__children__", None)
                rows.append({**row, "id": entry_id})
                if flagged:
                    marks += [{**r, "entry_id": entry_id} for r in flag_rows(ex)]
            session.execute(insert(LedgerEntry), rows)
            if marks:
                session.execute(insert(LedgerFlag), marks)


def _like_scan(session, limit: int) -> list[int]:  # type: ignore[no-untyped-def]
    """The query ListFlags ran before the index: every entry's text scanned for flags."""
    query = (
        select(LedgerEntry.id)
        .outerjoin(FlagResolution, FlagResolution.entry_id == LedgerEntry.id)
        .where(LedgerEntry.entry_json.like('%"flags":[%'), FlagResolution.entry_id.is_(None))
        .order_by(LedgerEntry.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--every", type=int, default=1000)
    parser.add_argument("--reads", type=int, default=50)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--db-url", default="")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(args.db_url or sqlite_url(Path(tmp) / "flags.db"))
        store.migrate()
        t0 = time.perf_counter()
        fill(store, args.entries, args.every)
        print(f"filled {args.entries} entries, {args.entries // args.every} flagged, "
              f"in {time.perf_counter() - t0:.1f} s")  # fmt: skip
        index_ms, scan_ms = [], []
        with store.read() as session:
            for _ in range(args.reads):
                t = time.perf_counter()
                views = flags.list_flags(session, open_only=True, limit=args.limit)
                index_ms.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                scanned = _like_scan(session, args.limit)
                scan_ms.append((time.perf_counter() - t) * 1000)
            assert [int(v.flag_id.removeprefix("flag-")) for v in views] == scanned
        store.dispose()

    def p95(values: list[float]) -> float:
        return sorted(values)[max(0, int(len(values) * 0.95) - 1)]

    print(f"{'':34}{'p50 ms':>10}{'p95 ms':>10}")
    for name, values in (
        ("ListFlags via ledger_flags", index_ms),
        ("baseline: LIKE scan of entries", scan_ms),
    ):
        print(f"{name:34}{statistics.median(values):>10.2f}{p95(values):>10.2f}")
    ratio = statistics.median(scan_ms) / statistics.median(index_ms)
    print(f"the scan takes {ratio:.1f}x the indexed list (median; the list also loads entries)")


if __name__ == "__main__":
    main()
