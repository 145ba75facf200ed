"""Revision 0002 on a store that already holds ledger rows (SQLite and PostgreSQL): the upgrade
keeps them, and a row written before entries were tagged is treated as unauthenticated —
reported by verify and refused by the sequencer, never signed. (A gateway stopped gracefully
leaves no queued row to meet this.)"""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from gateway.ledger.log import Ledger, verify
from gateway.store import Store
from gateway.store.db import alembic_config

from .conftest import AUTHENTICATOR


def _at_revision(store: Store, revision: str, direction: str = "downgrade") -> None:
    with store.engine.begin() as conn:
        cfg = alembic_config(store.url)
        cfg.attributes["connection"] = conn
        getattr(command, direction)(cfg, revision)


def test_a_row_queued_before_0002_survives_the_upgrade_and_is_refused_as_unauthenticated(
    store: Store, ledger: Ledger
) -> None:
    _at_revision(store, "0001")
    with store.write() as s:
        s.execute(
            text(
                "INSERT INTO ledger_entries (idx, at_ns, org, role, actor, method, subject, "
                "outcome, reason, entry_json, leaf_hash) VALUES (NULL, 1, 'o', 'government', "
                "'a', '/m', '', 'OK', '', :e, :h)"
            ),
            {"e": '{"at_ns":1}', "h": b"\x00" * 32},
        )
    _at_revision(store, "heads", "upgrade")

    report = verify(store, ledger.vkey, AUTHENTICATOR)
    assert report.queued == 1
    assert report.problems == [
        "queued row id 1: no valid entry authenticator: not written by this gateway (the "
        "sequencer will refuse it)"
    ]
    assert ledger.integrate() == 0
    assert verify(store, ledger.vkey, AUTHENTICATOR).rejected == 1
