"""Group commit: the write units of many concurrent calls share one transaction, so one
durable commit (one fsync on SQLite) serves a whole batch.

What each caller can rely on:

- A unit's caller is answered only after the batch it rode in has committed, so "written"
  always means durable.
- Each unit runs inside a SAVEPOINT of its own: a unit that fails is rolled back alone and its
  caller gets its exception; the others commit.
- If the batch's transaction itself fails (a unit broke it, the connection was lost, the commit
  failed), its connection is thrown away, the pool is emptied and every unit is run again alone,
  from scratch, in a fresh transaction: the innocent commit and only the guilty hear an error.
  A unit is never committed twice: a batch is retried only when it surely kept nothing — on
  PostgreSQL a commit whose connection was lost is looked up by transaction id
  (``txid_status``) first, and if that cannot be known its callers hear so.
- On PostgreSQL, a unit whose row collides (IntegrityError) with one that another process
  committed while the unit ran is run once more, in a fresh SAVEPOINT: it now reads that row,
  so a request raced over two server processes is answered as its retry would be.
- A caller waits at most the store's bound (``store_timeout_s``) for its unit to start. A unit
  not started by then is cancelled — the writer skips it, so nothing of it is ever kept — and
  its caller gets StoreUnavailable. A unit already started is waited for until its batch ends;
  the database's own timeouts (set from the same bound) keep a batch from hanging.

What runs in the writer is kept to the statements: a unit may bring its rows ready to insert
(``inserts``: a table and a row, all computed by its caller — canonical JSON, hashes, tags), and
a unit with no ``work`` is nothing else. After every unit of a batch has run, the rows of the
units that succeeded are inserted table by table, each table's rows in one executemany
statement (a counter table's as one upsert, ``Counter``; a row carrying ``CHILDREN`` has its
generated key returned for them), then the batch commits. A unit that failed inside its
SAVEPOINT thus leaves no row, and a failing insert fails the batch's transaction, which is then
retried unit by unit as above.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Table, insert, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import (
    IntegrityError,
    OperationalError,
    ResourceClosedError,
    SQLAlchemyError,
)
from sqlalchemy.orm import Session

from gateway.logging import get_logger
from gateway.store.db import (
    Store,
    StoreUnavailable,
    as_store_error,
    discard,
    is_database_error,
)

T = TypeVar("T")

log = get_logger("aidbridge.store")

_STOP = object()
_RESOLVE_POLL_S = 0.1


@dataclass(frozen=True, eq=False)
class Counter:
    """A table of counters, for ``Insert``: a row whose primary key exists already adds its
    ``column`` to that row's (an upsert); the rows of a batch with the same key are summed
    first, so each key is one row of the statement."""

    table: Table
    column: str


# A row to insert with a batch: the table (or a counter table), and the row's values by column.
Insert = tuple[Table | Counter, dict[str, Any]]
# A row may carry, under this key, rows that need its generated primary key: a list of
# (table, column, rows); each of those rows is inserted after it with that key in ``column``
# (a ledger entry's flags in ``ledger_flags``). The key itself is not a column.
CHILDREN = "__children__"


@dataclass(eq=False)
class _Unit:
    work: Callable[[Session], Any] | None
    inserts: list[Insert] = field(default_factory=list)
    future: Future[Any] = field(default_factory=Future)
    started: bool = False
    # ``work`` only reads (a check before prepared rows go in): it needs no SAVEPOINT.
    read_only: bool = False
    prepared: int = -1  # how many of ``inserts`` the caller brought (the rest ``work`` adds)

    def __post_init__(self) -> None:
        self.prepared = len(self.inserts)

    def claim(self) -> bool:
        """Mark the unit as running; False if its caller has already given up on it."""
        if not self.started:
            if not self.future.set_running_or_notify_cancel():
                return False
            self.started = True
        return True


class _TransactionFailed(Exception):
    """A batch's transaction failed as a whole: nothing of it was kept (``committed`` False)
    or, for a commit whose connection was lost, that is not known (``committed`` None)."""

    def __init__(self, error: BaseException, *, stage: str, committed: bool | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.stage = stage
        self.committed = committed


class GroupCommitWriter:
    def __init__(
        self, store: Store, *, max_batch: int = 256, timeout_s: float | None = None
    ) -> None:
        self.store = store
        self.max_batch = max_batch
        self.timeout_s = store.timeout_s if timeout_s is None else timeout_s
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="group-commit", daemon=True)
        self._thread.start()

    def submit(
        self,
        work: Callable[[Session], T] | None,
        *,
        inserts: list[Insert] | None = None,
        deadline: float | None = None,
        read_only: bool = False,
    ) -> T:
        """Run ``work`` in the next batch and insert the rows of ``inserts`` with it; block until
        that batch is durable; return the result of ``work`` (None without it) or raise its
        exception. ``work`` may append to ``inserts`` (the same list) while it runs; a
        ``read_only`` work only reads (it writes nothing, so it runs without a SAVEPOINT; if it
        raises, its rows are not inserted).
        StoreUnavailable if the store did not take it by ``deadline``
        (a ``time.monotonic()`` instant; default: the bound from now) — and then nothing of it
        was, or ever will be, kept."""
        if not self._thread.is_alive():
            raise StoreUnavailable("the store's writer has stopped")
        if deadline is None:
            deadline = time.monotonic() + self.timeout_s
        unit = _Unit(work, inserts if inserts is not None else [], read_only=read_only)
        self._queue.put(unit)
        try:
            return unit.future.result(timeout=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            if unit.future.done():
                raise  # the unit's own TimeoutError
            if unit.future.cancel():
                raise StoreUnavailable(
                    f"the store did not take the write within {self.timeout_s:g} s"
                ) from None
        # Started inside a batch: its outcome is the batch's, so wait for that.
        return unit.future.result()

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                    break
                batch.append(more)
            try:
                self._commit(batch)
            except BaseException as exc:  # the writer must outlive any batch
                log.error("store.writer_failed", error=type(exc).__name__)
                for unit in batch:
                    _fail(unit, StoreUnavailable("the store's writer failed"))
            if stop:
                return

    def _commit(self, batch: list[_Unit]) -> None:
        live = [u for u in batch if not u.future.cancelled()]
        if not live:
            return
        started = time.monotonic()
        try:
            self._deliver(self._transaction(live))
            return
        except _TransactionFailed as failed:
            first = failed
        self.store.reset()
        if first.stage == "begin":
            # Nothing ran. A stale connection fails at once, so try once more on fresh ones —
            # unless this attempt already waited out the bound (the store is locked or gone).
            if time.monotonic() - started < self.timeout_s / 2:
                try:
                    self._deliver(self._transaction(live))
                    return
                except _TransactionFailed as again:
                    self.store.reset()
                    first = again
            if first.stage == "begin":
                for unit in live:
                    _fail(unit, first.error)
                return
        if first.committed is None:
            # The commit may or may not have been kept: never run these units again.
            unknown = StoreUnavailable(
                "the store's connection was lost while committing; whether the write was "
                "kept is not known"
            )
            log.error("store.commit_outcome_unknown", units=sum(u.started for u in live))
            for unit in live:
                if unit.started:
                    _fail(unit, unknown)
            live = [u for u in live if not u.started]
        log.warning("store.batch_retried_alone", units=len(live), stage=first.stage)
        for i, unit in enumerate(live):
            down = self._alone(unit)
            if down is not None:
                # The store itself is down (it refused even to begin): the rest would only
                # wait for it in turn, so they hear it now.
                for rest in live[i + 1 :]:
                    _fail(rest, down)
                return

    def _alone(self, unit: _Unit) -> BaseException | None:
        """Run ``unit`` in a transaction of its own; the store's error if it could not even
        begin one."""
        if unit.future.cancelled():
            return None
        try:
            self._deliver(self._transaction([unit]))
        except _TransactionFailed as failed:
            self.store.reset()
            if failed.committed is None:
                failed.error = StoreUnavailable(
                    "the store's connection was lost while committing; whether the write was "
                    "kept is not known"
                )
            _fail(unit, failed.error)
            if failed.stage == "begin":
                return failed.error
        return None

    def _transaction(self, units: list[_Unit]) -> list[tuple[_Unit, bool, Any]]:
        """Run ``units`` in one transaction, each in a SAVEPOINT; return their outcomes once
        committed, or raise _TransactionFailed."""
        with self.store.writer_turn():
            return self._transaction_in_turn(units)

    def _transaction_in_turn(self, units: list[_Unit]) -> list[tuple[_Unit, bool, Any]]:
        try:
            conn = self.store.connect("IMMEDIATE")
        except StoreUnavailable as exc:
            raise _TransactionFailed(exc, stage="begin", committed=False) from exc
        session = Session(bind=conn, expire_on_commit=False)
        outcomes: list[tuple[_Unit, bool, Any]] = []
        stage = "begin"
        xid: int | None = None
        saw_error = False
        try:
            session.begin()
            session.connection()  # BEGIN (IMMEDIATE) now: units start only inside it
            if not self.store.is_sqlite:
                # Bound every statement of the batch, and learn its transaction id now, so a
                # commit whose connection is lost can be looked up afterwards.
                xid = int(
                    session.scalar(
                        text(
                            "SELECT txid_current() FROM set_config('statement_timeout', :ms, true)"
                        ),
                        {"ms": str(max(1, int(self.timeout_s * 1000)))},
                    )
                )
            stage = "units"
            for unit in units:
                if not unit.claim():
                    continue
                outcome = self._run_unit(session, unit)
                outcomes.append(outcome)
                saw_error = saw_error or (
                    not outcome[1] and isinstance(outcome[2], StoreUnavailable)
                )
            stage = "inserts"
            _insert_rows(session, [unit for unit, ok, _ in outcomes if ok])
            stage = "commit"
            session.commit()
            if saw_error:
                discard(conn)  # it saw a database error: never hand it out again
        except _UnitBrokeTransaction as broke:
            discard(conn)
            raise _TransactionFailed(broke.error, stage=stage, committed=False) from broke.error
        except BaseException as exc:
            discard(conn)
            committed: bool | None = False
            if stage == "commit" and xid is not None:
                committed = self._resolve(xid)
                if committed:
                    return outcomes
            raise _TransactionFailed(
                as_store_error(exc) if is_database_error(exc) else exc,
                stage=stage,
                committed=committed,
            ) from exc
        finally:
            session.close()
            conn.close()
        return outcomes

    def _run_unit(
        self, session: Session, unit: _Unit, *, again: bool = False
    ) -> tuple[_Unit, bool, Any]:
        if unit.work is None:
            return (unit, True, None)  # only rows to insert, with the batch's
        del unit.inserts[unit.prepared :]  # a unit run again adds its rows again
        if unit.read_only:
            try:
                return (unit, True, unit.work(session))
            except BaseException as exc:
                if is_database_error(exc):
                    # No SAVEPOINT to roll back to: the batch is retried unit by unit.
                    raise _UnitBrokeTransaction(as_store_error(exc)) from exc
                return (unit, False, exc)
        savepoint = session.begin_nested()
        try:
            result = unit.work(session)
            savepoint.commit()  # flushes: a value the database refuses fails here
            return (unit, True, result)
        except BaseException as exc:
            error = as_store_error(exc) if is_database_error(exc) else exc
            try:
                # Also when a failed flush has already deactivated it: a SAVEPOINT left
                # un-rolled-back is what made every later unit raise PendingRollbackError.
                savepoint.rollback()
            except ResourceClosedError:
                pass  # the unit closed its savepoint itself
            except SQLAlchemyError as rollback_error:
                raise _UnitBrokeTransaction(error) from rollback_error
            current = session.get_transaction()
            if current is None or not current.is_active or session.in_nested_transaction():
                raise _UnitBrokeTransaction(error) from exc
            if isinstance(exc, OperationalError):
                # The store's fault, not the unit's (read-only, I/O, connection): its batch
                # mates would meet it too, so the batch is retried on fresh connections.
                raise _UnitBrokeTransaction(error) from exc
            if isinstance(exc, IntegrityError) and not self.store.is_sqlite and not again:
                # On PostgreSQL another process (a worker of `serve --workers N`) may have
                # committed a row with this unit's key while the unit ran — a request raced on
                # two connections. Run it once more: its reads now see that row (READ
                # COMMITTED), so it answers as a retry would, not with an error.
                return self._run_unit(session, unit, again=True)
            return (unit, False, error)

    def _resolve(self, xid: int) -> bool | None:
        """Did PostgreSQL transaction ``xid`` commit? None if that cannot be learned within
        the bound."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                with self.store.engine.connect() as conn:
                    status = conn.scalar(text("SELECT txid_status(:xid)"), {"xid": xid})
                if status == "committed":
                    return True
                if status == "aborted":
                    return False
            except SQLAlchemyError:
                pass
            if time.monotonic() >= deadline:
                return None
            time.sleep(_RESOLVE_POLL_S)

    @staticmethod
    def _deliver(outcomes: list[tuple[_Unit, bool, Any]]) -> None:
        for unit, ok, value in outcomes:
            if ok:
                unit.future.set_result(value)
            else:
                unit.future.set_exception(value)


def _insert_rows(session: Session, units: list[_Unit]) -> None:
    """Insert the rows of ``units``, each table's in one statement, in the units' order (so the
    ledger's queued entries keep the order in which their calls were taken)."""
    by_table: dict[Table | Counter, list[dict[str, Any]]] = {}
    for unit in units:
        for table, row in unit.inserts:
            by_table.setdefault(table, []).append(row)
    if not by_table:
        return
    conn = session.connection()
    children: dict[Table, list[dict[str, Any]]] = {}
    for table, rows in by_table.items():
        if isinstance(table, Counter):
            _add_counts(conn, table, rows)
            continue
        if not any(CHILDREN in row for row in rows):
            conn.execute(insert(table), rows)
            continue
        # Rows with children (rare: a flagged entry): one statement still, returning the keys
        # in the rows' order. The rows are left as they are, for a batch run again.
        (key,) = table.primary_key.columns
        plain = [{k: v for k, v in row.items() if k != CHILDREN} for row in rows]
        statement = insert(table).returning(key, sort_by_parameter_order=True)
        keys = conn.execute(statement, plain).scalars().all()
        for row, value in zip(rows, keys, strict=True):
            for child_table, column, child_rows in row.get(CHILDREN, ()):
                children.setdefault(child_table, []).extend(
                    {**child, column: value} for child in child_rows
                )
    for table, rows in children.items():
        conn.execute(insert(table), rows)


def _add_counts(conn: Any, counter: Counter, rows: list[dict[str, Any]]) -> None:
    table = counter.table
    keys = [c.name for c in table.primary_key.columns]
    summed: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[k] for k in keys)
        if key in summed:
            summed[key] = {
                **summed[key],
                counter.column: summed[key][counter.column] + row[counter.column],
            }
        else:
            summed[key] = row
    upsert: Any = sqlite_insert(table) if conn.dialect.name == "sqlite" else pg_insert(table)
    statement = upsert.on_conflict_do_update(
        index_elements=keys,
        set_={counter.column: table.c[counter.column] + upsert.excluded[counter.column]},
    )
    conn.execute(statement, list(summed.values()))


class _UnitBrokeTransaction(Exception):
    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _fail(unit: _Unit, error: BaseException) -> None:
    if unit.future.done() or not unit.claim():
        return
    unit.future.set_exception(error)
