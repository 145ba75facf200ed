"""integrity detectors: ledger_flags, the index of flagged ledger entries (backfilled from the
entries), and actor_call_counts, the per-actor counters of the volume-spike detector

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 07:00:00.000000
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_BACKFILL_BATCH = 1000


def upgrade() -> None:
    op.create_table(
        "ledger_flags",
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("flag", sa.String(length=100), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", "flag", name=op.f("pk_ledger_flags")),
    )
    with op.batch_alter_table("ledger_flags", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_flags_resolved_entry", ["resolved", "entry_id"])
        batch_op.create_index(
            "ix_ledger_flags_flag_resolved_entry", ["flag", "resolved", "entry_id"]
        )
    op.create_table(
        "actor_call_counts",
        sa.Column("org", sa.String(length=100), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("span", sa.String(length=1), nullable=False),
        sa.Column("start_ns", sa.BigInteger(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "org", "actor", "span", "start_ns", name=op.f("pk_actor_call_counts")
        ),
    )
    _backfill_flags()


def _backfill_flags() -> None:
    """One ``ledger_flags`` row per flag of every entry written before this revision (the
    entries' text is read once, here, in id order and in batches), resolved where the entry's
    flag was resolved."""
    conn = op.get_bind()
    entries = sa.table(
        "ledger_entries", sa.column("id", sa.BigInteger), sa.column("entry_json", sa.Text)
    )
    resolutions = sa.table("flag_resolutions", sa.column("entry_id", sa.BigInteger))
    flags = sa.table(
        "ledger_flags",
        sa.column("entry_id", sa.BigInteger),
        sa.column("flag", sa.String),
        sa.column("detail", sa.Text),
        sa.column("resolved", sa.Boolean),
    )
    resolved = set(conn.execute(sa.select(resolutions.c.entry_id)).scalars())
    after = 0
    while True:
        batch = conn.execute(
            sa.select(entries.c.id, entries.c.entry_json)
            .where(entries.c.id > after, entries.c.entry_json.like('%"flags":[%'))
            .order_by(entries.c.id)
            .limit(_BACKFILL_BATCH)
        ).all()
        if not batch:
            return
        rows = []
        for entry_id, entry_json in batch:
            for flag in sorted(set(json.loads(entry_json).get("flags", ()))):
                rows.append(
                    {
                        "entry_id": entry_id,
                        "flag": flag,
                        "detail": "",
                        "resolved": entry_id in resolved,
                    }
                )
        if rows:
            conn.execute(sa.insert(flags), rows)
        after = batch[-1][0]


def downgrade() -> None:
    op.drop_table("actor_call_counts")
    with op.batch_alter_table("ledger_flags", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_flags_flag_resolved_entry")
        batch_op.drop_index("ix_ledger_flags_resolved_entry")
    op.drop_table("ledger_flags")
