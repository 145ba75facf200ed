"""The store on SQLite and PostgreSQL: migrations, transactions that leave nothing half-written,
and the group commit that lets many calls share one durable commit."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, inspect, select, text

from gateway.store import Store, StoreUnavailable
from gateway.store.group_commit import GroupCommitWriter
from gateway.store.models import RevokedCertificate


@pytest.fixture
def store(db_url):
    s = Store(db_url)
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
