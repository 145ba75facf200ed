"""The conflict-of-interest register: who among an organisation's staff has declared whom.

A declaration names its relative by resident id on the way in; the register keeps only the
gateway's keyed index of it (``gateway.privacy.pseudonyms.subject_index``), the same index the
cases are found by, so "is this case's person a declared relative of this actor" is one lookup
and no declaration can be read back as a resident id. Declarations are never deleted: a
withdrawn one keeps when it was withdrawn, so a supervisor can see what stood at any time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Exists, exists, select
from sqlalchemy.orm import Session
from stdnum.cn import ric

from gateway import errors
from gateway.store.models import ConflictDeclaration

RELATIONSHIPS = frozenset(
    {
        "spouse",
        "parent",
        "child",
        "sibling",
        "other_relative",
        "close_friend",
        "other_close",
    }
)


@dataclass(frozen=True)
class DeclarationView:
    declaration_id: str
    org: str
    actor: str
    relationship: str
    declared_at_ns: int
    withdrawn_at_ns: int  # 0 while it stands


def normalised_resident_id(value: str, *, field: str) -> str:
    """The resident id upper-cased, or InvalidArgument naming ``field``."""
    rid = value.strip().upper()
    if not rid:
        raise errors.InvalidArgument(f"{field} is required", field=field)
    try:
        valid = ric.is_valid(rid)
    except (KeyError, ValueError):  # stdnum raises for some region codes instead of answering
        valid = False
    if not valid:
        raise errors.InvalidArgument(
            f"{field} is not a valid 18-digit resident id (check digit or date)", field=field
        )
    return rid


def declare(
    session: Session,
    *,
    org: str,
    actor: str,
    relative_index: str,
    relationship: str,
    now_ns: int,
) -> DeclarationView:
    """Record that ``actor`` of ``org`` is related to the person of ``relative_index``."""
    if not actor:
        raise errors.InvalidArgument(
            "a declaration is made by a named person: x-aidbridge-actor is required",
            field="x-aidbridge-actor",
        )
    if relationship not in RELATIONSHIPS:
        raise errors.InvalidArgument(
            f"relationship must be one of {sorted(RELATIONSHIPS)}, found {relationship!r}",
            field="relationship",
        )
    row = ConflictDeclaration(
        declaration_id="decl-" + uuid.uuid4().hex[:20],
        org=org,
        actor=actor,
        relative_index=relative_index,
        relationship=relationship,
        declared_at_ns=now_ns,
        withdrawn_at_ns=None,
    )
    session.add(row)
    session.flush()
    return _view(row)


def withdraw(
    session: Session, declaration_id: str, *, org: str, actor: str, now_ns: int
) -> DeclarationView:
    """Withdraw a standing declaration; only the person who made it may."""
    if not declaration_id:
        raise errors.InvalidArgument("declaration_id is required", field="declaration_id")
    row = session.get(ConflictDeclaration, declaration_id, with_for_update=True)
    # Another person's declaration is answered as unknown: its existence is not for them.
    if row is None or row.org != org or row.actor != actor:
        raise errors.NotFound(
            f"declaration_id {declaration_id} names no declaration of yours",
            field="declaration_id",
        )
    if row.withdrawn_at_ns is not None:
        raise errors.FailedPrecondition(
            f"declaration {declaration_id} was already withdrawn", field="declaration_id"
        )
    row.withdrawn_at_ns = now_ns
    session.flush()
    return _view(row)


def declared_relationships(
    session: Session, *, org: str, actor: str, relative_index: str
) -> tuple[str, ...]:
    """The relationships ``actor`` of ``org`` has declared, and not withdrawn, with the person
    of ``relative_index`` (empty when none)."""
    if not actor or not relative_index:
        return ()
    rows = session.scalars(
        select(ConflictDeclaration.relationship).where(
            *_standing(org=org, actor=actor, relative_index=relative_index)
        )
    ).all()
    return tuple(sorted(set(rows)))


def any_declared(*, org: Any, actor: Any, relative_index: Any) -> Exists:
    """SQL: does a standing declaration of ``actor`` of ``org`` name ``relative_index`` (values
    or SQL expressions: a bind parameter, a case's ``subject_index`` column)? For a read that
    joins it in; when true, ``declared_relationships`` reads which relationships."""
    return exists().where(*_standing(org=org, actor=actor, relative_index=relative_index))


def _standing(*, org: Any, actor: Any, relative_index: Any) -> tuple[Any, ...]:
    return (
        ConflictDeclaration.relative_index == relative_index,
        ConflictDeclaration.org == org,
        ConflictDeclaration.actor == actor,
        ConflictDeclaration.withdrawn_at_ns.is_(None),
    )


def _view(row: ConflictDeclaration) -> DeclarationView:
    return DeclarationView(
        declaration_id=row.declaration_id,
        org=row.org,
        actor=row.actor,
        relationship=row.relationship,
        declared_at_ns=row.declared_at_ns,
        withdrawn_at_ns=row.withdrawn_at_ns or 0,
    )
