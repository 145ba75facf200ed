"""Revision 0011 on SQLite and PostgreSQL: every flag of an entry written before it gets its
``ledger_flags`` row (resolved where the entry's flag was resolved); after it, a flagged entry's
rows are written in the same insert as the entry, through the group commit's one multi-row insert
and through a session append alike, and an unflagged entry writes none."""

from __future__ import annotations

from dataclasses import replace

from alembic import command
from sqlalchemy import select, text

from gateway.integrity import flags
from gateway.ledger.entry import Exchange, append, prepared_row
from gateway.store import Store
from gateway.store.db import alembic_config
from gateway.store.group_commit import GroupCommitWriter
from gateway.store.models import LedgerEntry, LedgerFlag

from .conftest import AUTHENTICATOR, START_NS


def _at_revision(store: Store, revision: str, direction: str = "downgrade") -> None:
    with store.engine.begin() as conn:
        cfg = alembic_config(store.url)
        cfg.attributes["connection"] = conn
        getattr(command, direction)(cfg, revision)


def _exchange(n: int, flags: tuple[str, ...] = ()) -> Exchange:
    return Exchange(
        at_ns=START_NS + n,
        org="jb-civil-affairs",
        role="government",
        actor=f"cw-{n:03d}",
        cert_fingerprint="ab" * 32,
        method="aidbridge.v1.ReferralService/CreateReferral",
        flags=flags,
    )


def _flag_rows(store: Store) -> list[tuple[int, str, bool]]:
    with store.read() as s:
        rows = s.execute(
            select(LedgerFlag.entry_id, LedgerFlag.flag, LedgerFlag.resolved).order_by(
                LedgerFlag.entry_id, LedgerFlag.flag
            )
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_entries_written_before_0011_are_indexed_by_the_upgrade(store: Store) -> None:
    _at_revision(store, "0009")
    with store.write() as s:
        for n, marks in enumerate(
            [(), ("declared-relative", "second-approval"), (), ("outside-service-area",)]
        ):
            row = prepared_row(_exchange(n, marks), AUTHENTICATOR)
            row.pop("__children__", None)
            s.execute(LedgerEntry.__table__.insert(), [row])  # type: ignore[attr-defined]
        s.execute(
            text(
                "INSERT INTO flag_resolutions (entry_id, note, resolved_by, resolved_at_ns) "
                "VALUES (4, '已核实', 'jb-supervision/au-001', 1)"
            )
        )
    _at_revision(store, "heads", "upgrade")

    assert _flag_rows(store) == [
        (2, "declared-relative", False),
        (2, "second-approval", False),
        (4, "outside-service-area", True),
    ]
    with store.read() as s:
        listed = flags.list_flags(s, open_only=True, limit=0)
        assert [v.flag_id for v in listed] == ["flag-2"]
        every = flags.list_flags(s, open_only=False, limit=0)
        assert [(v.flag_id, v.resolved) for v in every] == [("flag-4", True), ("flag-2", False)]


def test_flag_rows_are_written_with_their_entry_on_both_write_paths(store: Store) -> None:
    writer = GroupCommitWriter(store)
    try:
        marked = replace(
            _exchange(1, ("volume-spike",)), flag_details=(("volume-spike", "41 calls"),)
        )
        table = LedgerEntry.__table__
        # Three calls' rows in one batch: the flagged one's id is its own, not a neighbour's.
        writer.submit(
            None,
            inserts=[
                (table, prepared_row(_exchange(0), AUTHENTICATOR)),  # type: ignore[list-item]
                (table, prepared_row(marked, AUTHENTICATOR)),  # type: ignore[list-item]
                (table, prepared_row(_exchange(2), AUTHENTICATOR)),  # type: ignore[list-item]
            ],
        )
    finally:
        writer.close()
    with store.write() as s:
        append(s, _exchange(3, ("duplicate-help",)), AUTHENTICATOR)
        append(s, _exchange(4), AUTHENTICATOR)

    with store.read() as s:
        by_actor = {e.actor: e.id for e in s.scalars(select(LedgerEntry))}
        details = {r.flag: r.detail for r in s.scalars(select(LedgerFlag))}
    assert _flag_rows(store) == [
        (by_actor["cw-001"], "volume-spike", False),
        (by_actor["cw-003"], "duplicate-help", False),
    ]
    assert details == {"volume-spike": "41 calls", "duplicate-help": ""}
    with store.write() as s:
        listed = flags.list_flags(s, open_only=True, limit=0, flag="volume-spike")
        assert [(v.actor, v.details) for v in listed] == [("cw-001", {"volume-spike": "41 calls"})]
        flags.resolve_flag(
            s, listed[0].flag_id, note="已核实", resolved_by="jb-supervision/au-001", now_ns=1
        )
        assert [v.actor for v in flags.list_flags(s, open_only=True, limit=0)] == ["cw-003"]
