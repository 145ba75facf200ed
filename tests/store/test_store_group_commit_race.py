"""Two processes' group commits on one PostgreSQL store (``serve --workers N``): a unit whose row
collides with one another writer committed while the unit ran is run once more and sees that
row, so a request raced on two connections is answered as its retry would be."""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from gateway.store import Store
from gateway.store.group_commit import GroupCommitWriter
from gateway.store.models import RevokedCertificate
from tests.conftest import fresh_postgres_url

FINGERPRINT = "f" * 64


def _add_unless_there(session) -> str:  # type: ignore[no-untyped-def]
    if session.get(RevokedCertificate, FINGERPRINT) is not None:
        return "already there"
    session.add(RevokedCertificate(fingerprint=FINGERPRINT, reason="b", revoked_at_ns=2))
    return "added"


def test_a_unit_colliding_with_another_writers_commit_runs_again_and_sees_it():
    url = fresh_postgres_url()
    ours, theirs = Store(url, timeout_s=60), Store(url, timeout_s=60)
    ours.migrate()
    writer = GroupCommitWriter(ours)
    outcome: list[object] = []
    try:
        with theirs.engine.connect() as other:
            other.execute(
                text(
                    "INSERT INTO revoked_certificates (fingerprint, reason, revoked_at_ns) "
                    "VALUES (:f, 'a', 1)"
                ),
                {"f": FINGERPRINT},
            )  # not committed yet: our unit does not see it, and its insert waits for it

            def submit() -> None:
                try:
                    outcome.append(writer.submit(_add_unless_there))
                except Exception as exc:
                    outcome.append(exc)

            thread = threading.Thread(target=submit)
            thread.start()
            deadline = time.monotonic() + 60
            with theirs.engine.connect() as watch:
                while time.monotonic() < deadline:
                    waiting = watch.scalar(
                        text(
                            "SELECT count(*) FROM pg_stat_activity "
                            "WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid() "
                            "AND query LIKE '%revoked_certificates%'"
                        )
                    )
                    if waiting:
                        break
                    time.sleep(0.05)
            assert waiting, "our unit never waited for the other writer's row"
            other.commit()
        thread.join(timeout=60)
        assert outcome == ["already there"]
        with ours.read() as session:
            assert session.get(RevokedCertificate, FINGERPRINT).reason == "a"
    finally:
        writer.close()
        ours.dispose()
        theirs.dispose()
