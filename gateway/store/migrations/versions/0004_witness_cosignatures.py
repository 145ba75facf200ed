"""witness cosignatures on checkpoints, and the subject index of the compliance queries

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-02 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_cosignatures",
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("witness", sa.String(length=200), nullable=False),
        sa.Column("key_id", sa.String(length=8), nullable=False),
        sa.Column("timestamp_s", sa.BigInteger(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("received_at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", "witness", name=op.f("pk_ledger_cosignatures")),
    )
    op.create_index(
        "ix_ledger_cosignatures_witness_size",
        "ledger_cosignatures",
        ["witness", "tree_size"],
        unique=False,
    )
    op.create_index(
        "ix_ledger_entries_subject_id", "ledger_entries", ["subject", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_ledger_entries_subject_id", table_name="ledger_entries")
    op.drop_index("ix_ledger_cosignatures_witness_size", table_name="ledger_cosignatures")
    op.drop_table("ledger_cosignatures")
