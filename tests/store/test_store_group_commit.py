"""The store on SQLite and PostgreSQL: migrations, transactions that leave nothing half-written,
and the group commit that lets many calls share one durable commit."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, inspect, select, text

from gateway.store import Store, StoreRefused, StoreUnavailable
from gateway.store.group_commit import GroupCommitWriter
from gateway.store.models import RevokedCertificate


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    s.migrate()
    yield s
    s.dispose()


@pytest.fixture
def pg_store():
    from tests.conftest import fresh_postgres_url

    s = Store(fresh_postgres_url())
    s.migrate()
    yield s
    s.dispose()


def _count(store: Store) -> int:
    with store.read() as session:
        return session.scalar(select(func.count()).select_from(RevokedCertificate))


def _revoke(fingerprint: str):
    def unit(session):
        session.add(RevokedCertificate(fingerprint=fingerprint, revoked_at_ns=1, reason="t"))
        session.flush()
        return fingerprint

    return unit


def test_migrations_create_every_table_and_run_twice(store):
    store.migrate()
    tables = set(inspect(store.engine).get_table_names())
    assert {
        "cases",
        "consents",
        "consent_events",
        "referrals",
        "ledger_entries",
        "ledger_checkpoints",
        "idempotent_requests",
        "revoked_certificates",
    } <= tables


def test_a_failing_transaction_leaves_nothing_behind(store):
    with pytest.raises(RuntimeError), store.write() as session:
        session.add(RevokedCertificate(fingerprint="a" * 64, revoked_at_ns=1))
        session.flush()
        raise RuntimeError("fault after the write")
    assert _count(store) == 0


def test_group_commit_answers_each_caller_with_its_own_result(store):
    writer = GroupCommitWriter(store)
    results: list[str] = []
    errors: list[BaseException] = []

    def call(i: int) -> None:
        try:
            results.append(writer.submit(_revoke(f"{i:064x}")))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    assert errors == []
    assert sorted(results) == sorted(f"{i:064x}" for i in range(64))
    assert _count(store) == 64


def test_a_failing_unit_is_rolled_back_alone(store):
    writer = GroupCommitWriter(store)
    writer.submit(_revoke("b" * 64))
    with pytest.raises(StoreUnavailable):
        writer.submit(_revoke("b" * 64))  # duplicate primary key: this unit fails
    writer.submit(_revoke("c" * 64))

    def half_then_fail(session):
        session.add(RevokedCertificate(fingerprint="d" * 64, revoked_at_ns=1))
        session.flush()
        raise ValueError("domain error after a write")

    with pytest.raises(ValueError):
        writer.submit(half_then_fail)
    writer.close()
    with store.read() as session:
        kept = set(session.scalars(select(RevokedCertificate.fingerprint)))
    assert kept == {"b" * 64, "c" * 64}


def test_when_the_commit_fails_every_caller_hears_it_and_nothing_is_kept(tmp_path):
    path = tmp_path / "ro.db"
    Store(f"sqlite:///{path}").migrate()
    store = Store(f"sqlite:///file:{path}?mode=ro&uri=true")
    writer = GroupCommitWriter(store)
    with pytest.raises(StoreUnavailable):
        writer.submit(_revoke("e" * 64))
    writer.close()
    with store.read() as session:
        assert session.execute(text("SELECT count(*) FROM revoked_certificates")).scalar() == 0


# --- Isolation: one bad unit never harms the others; the bound cancels what has not started ---


class _HeldWriter:
    """Holds the writer inside a unit of its own so the next units all queue up and ride in
    one batch together."""

    def __init__(self, writer: GroupCommitWriter) -> None:
        self.writer = writer
        self.release = threading.Event()
        self.entered = threading.Event()
        self.thread = threading.Thread(target=writer.submit, args=(self._hold,))
        self.thread.start()
        assert self.entered.wait(10)

    def _hold(self, _session) -> None:
        self.entered.set()
        self.release.wait(10)

    def queued(self) -> int:
        return self.writer._queue.qsize()

    def let_go(self) -> None:
        self.release.set()
        self.thread.join(10)


def _one_batch(writer: GroupCommitWriter, units) -> list[object]:
    """Submit ``units`` concurrently so they share one batch; each outcome (result or error)."""
    outcomes: list[object] = [None] * len(units)

    def call(i: int) -> None:
        try:
            outcomes[i] = writer.submit(units[i])
        except BaseException as exc:
            outcomes[i] = exc

    held = _HeldWriter(writer)
    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(units))]
    for t in threads:
        t.start()
    while held.queued() < len(units):
        threading.Event().wait(0.01)
    held.let_go()
    for t in threads:
        t.join(30)
    return outcomes


def _overflowing(flush: bool):
    def unit(session):
        session.add(RevokedCertificate(fingerprint="f" * 64, revoked_at_ns=2**70, reason="t"))
        if flush:
            session.flush()
        return "never"

    return unit


@pytest.mark.parametrize("flush", [False, True], ids=["flushed-at-release", "flushed-in-unit"])
def test_a_unit_whose_integer_overflows_fails_alone_and_its_twenty_batch_mates_commit(store, flush):
    writer = GroupCommitWriter(store)
    units = [_revoke(f"{i:064x}") for i in range(20)]
    units.insert(7, _overflowing(flush))
    outcomes = _one_batch(writer, units)
    writer.close()
    bad = outcomes.pop(7)
    assert isinstance(bad, StoreRefused)
    assert "out of range" in str(bad)
    assert outcomes == [f"{i:064x}" for i in range(20)]
    assert _count(store) == 20


def _with_deferred_parent_check(store: Store) -> None:
    deferred = "REFERENCES t_parent(id) DEFERRABLE INITIALLY DEFERRED"
    with store.write() as session:
        session.execute(text("CREATE TABLE t_parent (id INTEGER PRIMARY KEY)"))
        session.execute(text(f"CREATE TABLE t_child (id INTEGER PRIMARY KEY {deferred})"))


def test_a_unit_that_makes_the_commit_fail_is_retried_alone_so_only_it_fails(store):
    _with_deferred_parent_check(store)
    writer = GroupCommitWriter(store)
    runs: list[str] = []

    def orphan(session):
        runs.append("orphan")
        session.execute(text("INSERT INTO t_child (id) VALUES (99)"))  # checked at COMMIT
        return "orphan"

    def counted(i: int):
        inner = _revoke(f"{i:064x}")

        def unit(session):
            runs.append(f"{i}")
            return inner(session)

        return unit

    units = [counted(i) for i in range(20)]
    units.insert(3, orphan)
    outcomes = _one_batch(writer, units)
    writer.close()
    guilty = outcomes.pop(3)
    assert isinstance(guilty, StoreUnavailable)
    assert outcomes == [f"{i:064x}" for i in range(20)]
    assert _count(store) == 20  # each innocent committed exactly once (unique key)
    # Every unit ran in the failed batch and once more alone: never more.
    assert sorted(set(runs)) == sorted({"orphan", *map(str, range(20))})
    assert {r: runs.count(r) for r in set(runs)} == {r: 2 for r in set(runs)}


def test_a_unit_not_started_within_the_bound_is_cancelled_and_never_kept(store):
    writer = GroupCommitWriter(store, timeout_s=0.3)
    held = _HeldWriter(writer)  # started: its caller waits for it beyond the bound
    late = _revoke("9" * 64)
    with pytest.raises(StoreUnavailable, match=r"did not take the write within 0\.3 s"):
        writer.submit(late)
    held.let_go()
    writer.submit(_revoke("8" * 64))  # the writer goes on with later units
    writer.close()
    with store.read() as session:
        kept = set(session.scalars(select(RevokedCertificate.fingerprint)))
    assert kept == {"8" * 64}


def test_a_started_unit_is_answered_by_its_batch_even_past_the_bound(store):
    writer = GroupCommitWriter(store, timeout_s=0.2)
    gate = threading.Event()

    def slow(session):
        gate.wait(1.0)  # longer than the bound, but already inside the batch
        return _revoke("7" * 64)(session)

    threading.Timer(0.5, gate.set).start()
    assert writer.submit(slow) == "7" * 64
    writer.close()
    assert _count(store) == 1


def test_a_postgresql_statement_that_outlasts_the_bound_is_cancelled_and_fails_its_unit(
    pg_store,
):
    store = pg_store
    writer = GroupCommitWriter(store, timeout_s=0.5)

    def sleeper(session):
        session.execute(text("SELECT pg_sleep(30)"))

    with pytest.raises(StoreUnavailable, match="statement timeout"):
        writer.submit(sleeper)
    assert writer.submit(_revoke("6" * 64)) == "6" * 64
    writer.close()


def test_a_unit_whose_postgresql_backend_is_terminated_fails_alone_and_the_batch_is_retried(
    pg_store,
):
    store = pg_store
    writer = GroupCommitWriter(store)
    runs: list[str] = []

    def terminated(session):
        runs.append("terminated")
        pid = session.scalar(text("SELECT pg_backend_pid()"))
        with store.engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            other.commit()
        session.execute(text("SELECT 1"))  # the connection is gone

    units = [_revoke(f"{i:064x}") for i in range(20)]
    units.insert(11, terminated)
    outcomes = _one_batch(writer, units)
    writer.close()
    guilty = outcomes.pop(11)
    assert isinstance(guilty, StoreUnavailable)
    assert outcomes == [f"{i:064x}" for i in range(20)]
    assert _count(store) == 20
    assert runs == ["terminated", "terminated"]  # in the batch, then once alone


def _revocation_row(fingerprint: str):
    return (RevokedCertificate.__table__, {"fingerprint": fingerprint, "revoked_at_ns": 1})


def _batched(store: Store, submissions: list) -> tuple[list, list[str]]:
    """Run ``submissions`` ((work, inserts[, read_only]) tuples) from threads in one batch —
    the writer is held by a first unit until all are queued — and return each outcome and the
    INSERT statements the batch sent for revoked_certificates, as the number of rows of each."""
    from sqlalchemy import event

    writer = GroupCommitWriter(store)
    release = threading.Event()
    statements: list[int] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO REVOKED_CERTIFICATES"):
            statements.append(len(parameters) if executemany else 1)

    holding = threading.Event()

    def hold(session):
        holding.set()
        return release.wait(30)

    blocker = threading.Thread(target=writer.submit, args=(hold,))
    blocker.start()
    assert holding.wait(30)
    outcomes: list = [None] * len(submissions)

    def one(i: int, work, inserts, read_only=False) -> None:
        try:
            outcomes[i] = writer.submit(work, inserts=inserts, read_only=read_only)
        except Exception as exc:  # the caller's own error
            outcomes[i] = exc

    threads = [
        threading.Thread(target=one, args=(i, *submission))
        for i, submission in enumerate(submissions)
    ]
    for t in threads:
        t.start()
    for _ in range(3000):
        if writer._queue.qsize() >= len(submissions):
            break
        threading.Event().wait(0.01)
    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        release.set()
        for t in [*threads, blocker]:
            t.join(30)
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
        writer.close()
    return outcomes, statements


def test_prepared_rows_of_a_batch_are_inserted_in_one_statement(store):
    outcomes, statements = _batched(
        store, [(None, [_revocation_row(f"{i:064x}")]) for i in range(20)]
    )
    assert outcomes == [None] * 20
    assert _count(store) == 20
    assert statements == [20]


def test_a_read_only_check_that_refuses_keeps_its_rows_out_and_its_batch_mates_commit(store):
    class Changed(Exception):
        pass

    def refuses(session):
        session.execute(select(func.count()).select_from(RevokedCertificate)).scalar()
        raise Changed

    def holds(session):
        return session.execute(select(func.count()).select_from(RevokedCertificate)).scalar()

    submissions = [
        (refuses, [_revocation_row("a" * 64)], True),
        (holds, [_revocation_row("b" * 64)], True),
        (None, [_revocation_row("c" * 64)]),
    ]
    outcomes, statements = _batched(store, submissions)
    assert isinstance(outcomes[0], Changed)
    assert outcomes[1] == 0 and outcomes[2] is None
    with store.read() as session:
        kept = set(session.scalars(select(RevokedCertificate.fingerprint)))
    assert kept == {"b" * 64, "c" * 64}
    assert statements == [2]


def test_a_read_only_check_the_database_fails_fails_alone_after_its_batch_is_retried(store):
    def broken(session):
        session.execute(text("SELECT no_such_column FROM revoked_certificates"))

    submissions = [
        (broken, [_revocation_row("a" * 64)], True),
        (None, [_revocation_row("b" * 64)]),
    ]
    outcomes, _statements = _batched(store, submissions)
    assert isinstance(outcomes[0], StoreUnavailable)
    assert outcomes[1] is None
    with store.read() as session:
        assert set(session.scalars(select(RevokedCertificate.fingerprint))) == {"b" * 64}


def test_a_failing_unit_leaves_none_of_its_rows_and_its_batch_mates_commit(store):
    def fails(session):
        session.add(RevokedCertificate(fingerprint="e" * 64, revoked_at_ns=1))
        session.flush()
        raise ValueError("the unit's own error")

    def adds_its_row(fingerprint: str, inserts: list):
        def work(session):
            inserts.append(_revocation_row(fingerprint))
            return fingerprint

        return work

    late: list = []
    submissions = [(None, [_revocation_row("a" * 64)]), (fails, [_revocation_row("b" * 64)])]
    submissions.append((adds_its_row("c" * 64, late), late))
    outcomes, statements = _batched(store, submissions)
    assert outcomes[0] is None and outcomes[2] == "c" * 64
    assert isinstance(outcomes[1], ValueError)
    with store.read() as session:
        kept = set(session.scalars(select(RevokedCertificate.fingerprint)))
    assert kept == {"a" * 64, "c" * 64}
    assert statements == [1, 2]  # the failing unit's own flush, then the batch's rows


def test_counter_rows_of_a_batch_add_to_the_stored_counts_once_each(store):
    from gateway.store.group_commit import Counter
    from gateway.store.models import ActorCallCount

    counts = Counter(ActorCallCount.__table__, "calls")

    def row(actor: str, calls: int) -> tuple:
        key = {"org": "charity-sunshine", "actor": actor, "span": "d", "start_ns": 86_400}
        return (counts, {**key, "calls": calls})

    with store.write() as session:
        session.add(
            ActorCallCount(org="charity-sunshine", actor="s-1", span="d", start_ns=86_400, calls=5)
        )

    def fails(session):
        raise ValueError("the unit's own error")

    # Two rows of one key in one batch (summed into one row of the statement), a new key, and
    # a failing unit whose count is never added.
    outcomes, _ = _batched(
        store,
        [
            (None, [row("s-1", 1)]),
            (None, [row("s-1", 2), row("s-2", 1)]),
            (fails, [row("s-1", 100)]),
        ],
    )
    assert isinstance(outcomes[2], ValueError)
    with store.read() as session:
        kept = {r.actor: r.calls for r in session.scalars(select(ActorCallCount))}
    assert kept == {"s-1": 8, "s-2": 1}
