"""reverse referrals: the person's store index (subject_index), backfilled from each stored
row's sealed payload, so an outcome is decided before anything of the referral is decrypted

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from gateway.keys import KeyRing
from gateway.privacy.crypto import FieldCipher
from gateway.privacy.pseudonyms import subject_index
from gateway.referrals.repository import reverse_subject

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_BACKFILL_BATCH = 500


def upgrade() -> None:
    # Refused before anything changes, so the store stays at 0011 for a run with the key.
    stored = op.get_bind().scalar(sa.text("SELECT count(*) FROM reverse_referrals"))
    keys: KeyRing | None = context.config.attributes.get("keys")
    if stored and keys is None:
        raise RuntimeError(
            "revision 0012 indexes the stored reverse referrals by their sealed payloads: "
            "migrate this store with its master key (aidbridge serve does)"
        )
    with op.batch_alter_table("reverse_referrals", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("subject_index", sa.String(length=80), nullable=False, server_default="")
        )
    if keys is not None and stored:
        _backfill_subject_index(keys)


def _backfill_subject_index(keys: KeyRing) -> None:
    """Each stored reverse referral's ``subject_index``: the resident id in its sealed payload,
    indexed as ``Gateway.subject_index`` does. Opening the payloads needs the master key
    (``Store.migrate(keys)``); a store holding reverse referrals is not migrated without it."""
    conn = op.get_bind()
    reverse = sa.table(
        "reverse_referrals",
        sa.column("reverse_referral_id", sa.String),
        sa.column("payload_enc", sa.LargeBinary),
        sa.column("subject_index", sa.String),
    )
    cipher = FieldCipher.from_keyring(keys)
    after = ""
    while True:
        batch = conn.execute(
            sa.select(reverse.c.reverse_referral_id, reverse.c.payload_enc)
            .where(reverse.c.reverse_referral_id > after)
            .order_by(reverse.c.reverse_referral_id)
            .limit(_BACKFILL_BATCH)
        ).all()
        if not batch:
            return
        for row in batch:
            conn.execute(
                sa.update(reverse)
                .where(reverse.c.reverse_referral_id == row.reverse_referral_id)
                .values(subject_index=subject_index(keys, reverse_subject(row, cipher)))
            )
        after = batch[-1].reverse_referral_id


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN in place (SQLite ≥ 3.35): a copied table could not be dropped
    # while its events refer to it.
    with op.batch_alter_table("reverse_referrals", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("subject_index")
