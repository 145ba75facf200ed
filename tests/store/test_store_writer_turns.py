"""Writers of one SQLite file in several processes take turns (``<database>-writer.lock``) before
``BEGIN IMMEDIATE``: a write waits while another holds the turn and commits once it is free; a
turn not given within the store's bound is not needed (SQLite's own lock still guards)."""

from __future__ import annotations

import fcntl
import os
import threading

from sqlalchemy import func, select

from gateway.store import Store
from gateway.store.group_commit import GroupCommitWriter
from gateway.store.models import RevokedCertificate


def _revoke(fingerprint: str):  # type: ignore[no-untyped-def]
    def unit(session):  # type: ignore[no-untyped-def]
        session.add(RevokedCertificate(fingerprint=fingerprint, reason="", revoked_at_ns=1))

    return unit


def _count(store: Store) -> int:
    with store.read() as session:
        return int(session.scalar(select(func.count()).select_from(RevokedCertificate)))


def _hold_turn(database) -> int:  # type: ignore[no-untyped-def]
    # Another open file description: as another process would hold it.
    fd = os.open(f"{database}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def test_a_group_commit_waits_for_the_turn_then_commits(tmp_path):
    database = tmp_path / "store.db"
    store = Store(f"sqlite:///{database}", timeout_s=60)
    store.migrate()
    writer = GroupCommitWriter(store)
    held = _hold_turn(database)
    done = threading.Event()

    def write() -> None:
        writer.submit(_revoke("a" * 64))
        done.set()

    thread = threading.Thread(target=write)
    thread.start()
    try:
        assert not done.wait(0.5)  # the turn is another's: nothing committed yet
        assert _count(store) == 0
    finally:
        os.close(held)  # the other writer's commit is done: the turn passes
    thread.join(timeout=60)
    assert done.is_set() and _count(store) == 1
    writer.close()
    store.dispose()


def test_a_turn_not_given_within_the_bound_is_not_needed(tmp_path):
    database = tmp_path / "store.db"
    store = Store(f"sqlite:///{database}", timeout_s=0.3)
    store.migrate()
    held = _hold_turn(database)
    try:
        with store.write() as session:
            _revoke("b" * 64)(session)
        assert _count(store) == 1
    finally:
        os.close(held)
        store.dispose()
