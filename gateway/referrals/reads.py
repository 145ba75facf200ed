"""The read side of releasing a referral's case data to its charity, as one Core statement.

A pull (and every row of a stream) needs the referral, its case, its consent as enforcement sees
it (the record's columns and its first terminal event), whether the caller already received data
under that consent, and whether the acting person declared the case's subject a relative. They
are read together in one ``SELECT`` — a row per referral, nothing built through the ORM — and the
row is handed to the same functions the ORM rows go to: ``consent.repository``'s
``effective_consent_of`` decides the consent's state, ``referrals.repository.require_live`` the
referral's, ``integrity.register`` the declaration. So the rules stay in one place each; only the
reading is joined.

A row (``ReleaseRead``) has the referral's columns under their own names (``referral_id``,
``state``, ``consent_id``, ``purpose``, ``from_org``, ``to_org``, ``case_id``), the case's
(``office_id``, ``street``, ``birth_date``, ``lacks_capacity``, ``payload_enc``,
``subject_index``; ``case_row_id`` NULL when the case is missing), the consent's with the prefix
``consent_``, and ``released`` / ``declared`` as booleans.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Select, Table, bindparam, exists, select
from sqlalchemy.orm import Session

from gateway import errors
from gateway.consent import repository as consents
from gateway.integrity import register
from gateway.store.models import Case, Consent, Referral, Release

CONSENT_PREFIX = "consent_"

_REFERRALS: Table = Referral.__table__  # type: ignore[assignment]
_CASES: Table = Case.__table__  # type: ignore[assignment]
_CONSENTS: Table = Consent.__table__  # type: ignore[assignment]
_RELEASES: Table = Release.__table__  # type: ignore[assignment]

# A row of the statement: attribute access by the labels in the module docstring.
ReleaseRead = Any


def _columns() -> list[Any]:
    r, c = _REFERRALS.c, _CASES.c
    released = exists().where(
        _RELEASES.c.consent_id == r.consent_id, _RELEASES.c.org == bindparam("org")
    )
    declared = register.any_declared(
        org=bindparam("org"), actor=bindparam("actor"), relative_index=c.subject_index
    )
    return [
        r.referral_id,
        r.case_id,
        r.from_org,
        r.to_org,
        r.consent_id,
        r.purpose,
        r.state,
        c.case_id.label("case_row_id"),
        c.office_id,
        c.street,
        c.birth_date,
        c.lacks_capacity,
        c.payload_enc,
        c.subject_index,
        *consents.consent_read_columns(CONSENT_PREFIX),
        released.label("released"),
        declared.label("declared"),
    ]


def _from(*, case_required: bool) -> Any:
    cases_join = _CASES.c.case_id == _REFERRALS.c.case_id
    joined = (
        _REFERRALS.join(_CASES, cases_join)
        if case_required
        else _REFERRALS.outerjoin(_CASES, cases_join)
    )
    return joined.outerjoin(_CONSENTS, _CONSENTS.c.consent_id == _REFERRALS.c.consent_id)


_ONE = (
    select(*_columns())
    .select_from(_from(case_required=False))
    .where(_REFERRALS.c.referral_id == bindparam("referral_id"))
)


def one_referral(session: Session, referral_id: str, *, org: str, actor: str) -> ReleaseRead:
    """The release row of ``referral_id`` for ``org``'s ``actor``; the same NotFound errors as
    reading the referral and then its case (``get_referral``, ``get_case``)."""
    if not referral_id:
        raise errors.InvalidArgument("referral_id is required", field="referral_id")
    row = session.execute(_ONE, {"referral_id": referral_id, "org": org, "actor": actor}).first()
    if row is None:
        raise errors.NotFound(f"referral {referral_id!r} not found", field="referral_id")
    if row.case_row_id is None:
        raise errors.NotFound(f"case {row.case_id!r} not found", field="case_id")
    return row


def page(
    session: Session,
    *,
    org: str,
    actor: str,
    states: Iterable[str],
    updated_since_ns: int,
    after: str,
    severity_rank: int | None,
    limit: int,
) -> Sequence[ReleaseRead]:
    """The release rows of ``org``'s referrals in ``states`` updated since
    ``updated_since_ns``, after the referral id ``after``, in referral id order: a stream's page
    (referrals whose case is missing are not listed, as the join of the stream always did)."""
    r = _REFERRALS.c
    query: Select[Any] = (
        select(*_columns())
        .select_from(_from(case_required=True))
        .where(
            r.to_org == bindparam("org"),
            r.state.in_(sorted(states)),
            r.updated_at_ns >= updated_since_ns,
            r.referral_id > after,
        )
        .order_by(r.referral_id)
        .limit(limit)
    )
    if severity_rank is not None:
        query = query.where(r.severity_rank == severity_rank)
    return session.execute(query, {"org": org, "actor": actor}).all()


def effective_consent(row: ReleaseRead, now_ns: int) -> Any:
    """The row's consent as enforcement sees it at ``now_ns`` (``effective_consent_of``)."""
    return consents.effective_consent_of(row, now_ns, prefix=CONSENT_PREFIX)


def declared_relationships(session: Session, row: ReleaseRead, *, org: str, actor: str) -> tuple:
    """The relationships ``actor`` declared with the row's subject; read only when the row says
    there is one, so the common case costs nothing more."""
    if not row.declared:
        return ()
    return register.declared_relationships(
        session, org=org, actor=actor, relative_index=row.subject_index
    )


_CONSENT_AND_DECLARATION = select(
    *consents.consent_read_columns(),
    register.any_declared(
        org=bindparam("org"), actor=bindparam("actor"), relative_index=bindparam("relative_index")
    ).label("declared"),
).where(_CONSENTS.c.consent_id == bindparam("consent_id"))


def consent_and_declaration(
    session: Session, consent_id: str, now_ns: int, *, org: str, actor: str, relative_index: str
) -> tuple[Any, bool]:
    """In one statement: the consent as enforcement sees it at ``now_ns`` (NotFound if absent)
    and whether ``actor`` of ``org`` has a standing declaration naming ``relative_index`` — what
    a prepared referral checks again in the writer."""
    row = session.execute(
        _CONSENT_AND_DECLARATION,
        {"consent_id": consent_id, "org": org, "actor": actor, "relative_index": relative_index},
    ).first()
    if row is None:
        raise errors.NotFound(f"consent {consent_id} does not exist", field="consent_id")
    return consents.effective_consent_of(row, now_ns), bool(row.declared)
