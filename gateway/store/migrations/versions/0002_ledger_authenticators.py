"""ledger authenticators: entry and position HMACs, and the table of rejected entries

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 23:58:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("entry_mac", sa.LargeBinary(length=32), nullable=True))
        batch_op.add_column(sa.Column("position_mac", sa.LargeBinary(length=32), nullable=True))
    op.create_table(
        "ledger_rejected_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("entry_json", sa.Text(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.Column("entry_mac", sa.LargeBinary(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("rejected_at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_rejected_entries")),
    )


def downgrade() -> None:
    op.drop_table("ledger_rejected_entries")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_column("position_mac")
        batch_op.drop_column("entry_mac")
