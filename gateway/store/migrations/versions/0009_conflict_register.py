"""conflict-of-interest register: declared relatives of staff, by the gateway's keyed index;
second approvals of held actions

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-02 20:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conflict_declarations",
        sa.Column("declaration_id", sa.String(length=40), nullable=False),
        sa.Column("org", sa.String(length=100), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("relative_index", sa.String(length=80), nullable=False),
        sa.Column("relationship", sa.String(length=30), nullable=False),
        sa.Column("declared_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("withdrawn_at_ns", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("declaration_id", name=op.f("pk_conflict_declarations")),
    )
    with op.batch_alter_table("conflict_declarations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_conflict_declarations_relative_org", ["relative_index", "org"], unique=False
        )
        batch_op.create_index("ix_conflict_declarations_org_actor", ["org", "actor"], unique=False)

    op.create_table(
        "second_approvals",
        sa.Column("action_id", sa.String(length=80), nullable=False),
        sa.Column("org", sa.String(length=100), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("method", sa.String(length=200), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=False),
        sa.Column("verdict", sa.String(length=20), nullable=False),
        sa.Column("decided_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("used_at_ns", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("action_id", name=op.f("pk_second_approvals")),
    )

    op.create_table(
        "flag_resolutions",
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("resolved_by", sa.String(length=200), nullable=False),
        sa.Column("resolved_at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_flag_resolutions")),
    )


def downgrade() -> None:
    op.drop_table("flag_resolutions")
    op.drop_table("second_approvals")
    with op.batch_alter_table("conflict_declarations", schema=None) as batch_op:
        batch_op.drop_index("ix_conflict_declarations_org_actor")
        batch_op.drop_index("ix_conflict_declarations_relative_org")
    op.drop_table("conflict_declarations")
