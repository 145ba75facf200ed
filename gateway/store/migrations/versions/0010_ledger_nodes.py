"""ledger nodes: the hash of every complete subtree (level ≥ 1) of the ledger's Merkle tree,
so proofs are a handful of reads; backfilled from the sequenced entries already stored

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 06:50:00.000000

The backfill runs in the upgrade's transaction, so a store is never at 0010 with its nodes
behind its leaves. It reads the stored leaf hashes in index order (what proofs were served from
until now), in chunks, and stops at the first gap in the indices: nodes past a gap would belong
to no tree the sequencer could sign, and verify names the gap.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_CHUNK = 20_000

_entries = sa.table(
    "ledger_entries",
    sa.column("idx", sa.BigInteger()),
    sa.column("leaf_hash", sa.LargeBinary()),
)
_nodes = sa.table(
    "ledger_nodes",
    sa.column("level", sa.Integer()),
    sa.column("idx", sa.BigInteger()),
    sa.column("hash", sa.LargeBinary()),
)


def upgrade() -> None:
    op.create_table(
        "ledger_nodes",
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_ledger_nodes")),
        sqlite_with_rowid=False,
    )
    _backfill(op.get_bind())


def _backfill(conn: sa.Connection) -> None:
    """Append the stored leaves to a compact range, recording each merge as a node."""
    stack: list[bytes] = []
    size = 0
    while True:
        rows = conn.execute(
            sa.select(_entries.c.idx, _entries.c.leaf_hash)
            .where(_entries.c.idx >= size, _entries.c.idx < size + _CHUNK)
            .order_by(_entries.c.idx)
        ).all()
        completed: list[dict[str, object]] = []
        for idx, leaf in rows:
            if idx != size:
                break  # a gap: stop here
            stack.append(bytes(leaf))
            level, rest = 0, size
            while rest & 1:
                right = stack.pop()
                stack[-1] = hashlib.sha256(b"\x01" + stack[-1] + right).digest()
                rest >>= 1
                level += 1
                completed.append({"level": level, "idx": size >> level, "hash": stack[-1]})
            size += 1
        if completed:
            conn.execute(sa.insert(_nodes), completed)
        if len(rows) < _CHUNK or size % _CHUNK:
            return


def downgrade() -> None:
    op.drop_table("ledger_nodes")
