"""projects: period and capacity in columns, the current revision, and every revision kept

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("starts_at_ns", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("ends_at_ns", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("capacity_total", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("capacity_remaining", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("updated_at_ns", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("revision", sa.Integer(), nullable=True))
    op.create_table(
        "project_revisions",
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("body_json", sa.Text(), nullable=False),
        sa.Column("at_ns", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.project_id"],
            name=op.f("fk_project_revisions_project_id_projects"),
        ),
        sa.PrimaryKeyConstraint("project_id", "revision", name=op.f("pk_project_revisions")),
    )
    with op.batch_alter_table("project_revisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_project_revisions_at_ns"), ["at_ns"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("project_revisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_project_revisions_at_ns"))
    op.drop_table("project_revisions")
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("revision")
        batch_op.drop_column("updated_at_ns")
        batch_op.drop_column("capacity_remaining")
        batch_op.drop_column("capacity_total")
        batch_op.drop_column("ends_at_ns")
        batch_op.drop_column("starts_at_ns")
