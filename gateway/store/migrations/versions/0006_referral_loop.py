"""referral loop: what a referral is for, structured reasons, help delivered, reverse referrals

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-02 06:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("hardship_type", sa.String(length=40), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("severity", sa.String(length=20), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("severity_rank", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("special_group", sa.String(length=40), nullable=False, server_default="")
        )
        batch_op.create_index(
            "ix_referrals_queue",
            ["to_org", "state", "severity_rank", "created_at_ns"],
            unique=False,
        )
    with op.batch_alter_table("referral_events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reason_code", sa.String(length=30), nullable=False, server_default="")
        )
    with op.batch_alter_table("reverse_referrals", schema=None) as batch_op:
        for name, length in (
            ("purpose", 100),
            ("suspected_aid", 40),
            ("consent_signature", 200),
            ("close_reason", 30),
            ("application_id", 100),
        ):
            batch_op.add_column(
                sa.Column(name, sa.String(length=length), nullable=False, server_default="")
            )
        batch_op.add_column(
            sa.Column("consent_valid_until_ns", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.create_table(
        "help_records",
        sa.Column("help_id", sa.String(length=40), nullable=False),
        sa.Column("referral_id", sa.String(length=40), nullable=False),
        sa.Column("org", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("delivered_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("description_enc", sa.LargeBinary(), nullable=True),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("recorded_at_ns", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.referral_id"],
            name=op.f("fk_help_records_referral_id_referrals"),
        ),
        sa.PrimaryKeyConstraint("help_id", name=op.f("pk_help_records")),
    )
    with op.batch_alter_table("help_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_help_records_org"), ["org"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_help_records_referral_id"), ["referral_id"], unique=False
        )
    op.create_table(
        "reverse_referral_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("reverse_referral_id", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=30), nullable=False),
        sa.Column("at_ns", sa.BigInteger(), nullable=False),
        sa.Column("org", sa.String(length=100), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("reason_code", sa.String(length=30), nullable=False),
        sa.ForeignKeyConstraint(
            ["reverse_referral_id"],
            ["reverse_referrals.reverse_referral_id"],
            name=op.f("fk_reverse_referral_events_reverse_referral_id_reverse_referrals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reverse_referral_events")),
    )
    with op.batch_alter_table("reverse_referral_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reverse_referral_events_reverse_referral_id"),
            ["reverse_referral_id"],
            unique=False,
        )


def downgrade() -> None:
    op.drop_table("reverse_referral_events")
    op.drop_table("help_records")
    with op.batch_alter_table("reverse_referrals", schema=None) as batch_op:
        for name in (
            "consent_valid_until_ns",
            "application_id",
            "close_reason",
            "consent_signature",
            "suspected_aid",
            "purpose",
        ):
            batch_op.drop_column(name)
    with op.batch_alter_table("referral_events", schema=None) as batch_op:
        batch_op.drop_column("reason_code")
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_index("ix_referrals_queue")
        for name in ("special_group", "severity_rank", "severity", "hardship_type"):
            batch_op.drop_column(name)
