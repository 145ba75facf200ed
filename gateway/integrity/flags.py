"""Open flags: the ledger entries whose call carried flags, and their resolutions.

Every flag of an entry has a row in ``ledger_flags`` written in the same insert as the entry
(``gateway.ledger.entry.prepared_row``), so listing flags reads that index, never the entries'
text. What a flag *is* is still read from the entry itself (its ``flags`` member), so what a
supervisor sees is what the tree commits to; beside it, ``ledger_flags.detail`` says what only
compliance is told (the other help records of a duplicate, the counts behind a spike). A
resolution is kept beside the entry, one per entry, with the supervisor's note.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway import errors
from gateway.store.models import FlagResolution, LedgerEntry, LedgerFlag

MAX_LIMIT = 500
DEFAULT_LIMIT = 100
_PREFIX = "flag-"


@dataclass(frozen=True)
class FlagView:
    flag_id: str
    index: int
    at_ns: int
    org: str
    actor: str
    method: str
    outcome: str
    flags: tuple[str, ...]
    note: str = ""
    resolved_by: str = ""
    details: dict[str, str] = field(default_factory=dict)

    @property
    def resolved(self) -> bool:
        return bool(self.resolved_by)


def list_flags(session: Session, *, open_only: bool, limit: int, flag: str = "") -> list[FlagView]:
    """Flagged entries, newest first; ``flag`` keeps only entries carrying that flag."""
    if limit < 0 or limit > MAX_LIMIT:
        raise errors.InvalidArgument(f"limit must be between 0 and {MAX_LIMIT}", field="limit")
    ids = (
        select(LedgerFlag.entry_id)
        .distinct()
        .order_by(LedgerFlag.entry_id.desc())
        .limit(limit or DEFAULT_LIMIT)
    )
    if open_only:
        ids = ids.where(LedgerFlag.resolved.is_(False))
    if flag:
        ids = ids.where(LedgerFlag.flag == flag)
    entry_ids = list(session.scalars(ids))
    if not entry_ids:
        return []
    rows = session.execute(
        select(LedgerEntry, FlagResolution)
        .outerjoin(FlagResolution, FlagResolution.entry_id == LedgerEntry.id)
        .where(LedgerEntry.id.in_(entry_ids))
        .order_by(LedgerEntry.id.desc())
    ).all()
    details: dict[int, dict[str, str]] = {}
    for row in session.scalars(select(LedgerFlag).where(LedgerFlag.entry_id.in_(entry_ids))):
        if row.detail:
            details.setdefault(row.entry_id, {})[row.flag] = row.detail
    return [_view(entry, resolution, details.get(entry.id, {})) for entry, resolution in rows]


def resolve_flag(
    session: Session, flag_id: str, *, note: str, resolved_by: str, now_ns: int
) -> FlagView:
    if not note.strip():
        raise errors.InvalidArgument("note is required: say why the flag is closed", field="note")
    entry_id = _entry_id(flag_id)
    marks = list(session.scalars(select(LedgerFlag).where(LedgerFlag.entry_id == entry_id)))
    entry = session.get(LedgerEntry, entry_id) if marks else None
    if entry is None:
        raise errors.NotFound(f"flag_id {flag_id} names no flagged entry", field="flag_id")
    if session.get(FlagResolution, entry.id) is not None:
        raise errors.FailedPrecondition(f"flag {flag_id} is already resolved", field="flag_id")
    resolution = FlagResolution(
        entry_id=entry.id, note=note, resolved_by=resolved_by, resolved_at_ns=now_ns
    )
    session.add(resolution)
    session.execute(update(LedgerFlag).where(LedgerFlag.entry_id == entry.id).values(resolved=True))
    session.flush()
    return _view(entry, resolution, {m.flag: m.detail for m in marks if m.detail})


def _entry_id(flag_id: str) -> int:
    digits = flag_id.removeprefix(_PREFIX)
    if not flag_id.startswith(_PREFIX) or not digits.isdigit() or len(digits) > 18:
        raise errors.InvalidArgument(
            f"flag_id must be 'flag-' and an entry number, found {flag_id!r}", field="flag_id"
        )
    return int(digits)


def _view(
    entry: LedgerEntry, resolution: FlagResolution | None, details: dict[str, str]
) -> FlagView:
    document = json.loads(entry.entry_json)
    return FlagView(
        flag_id=f"{_PREFIX}{entry.id}",
        index=entry.idx or 0,
        at_ns=entry.at_ns,
        org=entry.org,
        actor=entry.actor,
        method=entry.method,
        outcome=entry.outcome,
        flags=tuple(document.get("flags", ())),
        note=resolution.note if resolution else "",
        resolved_by=resolution.resolved_by if resolution else "",
        details=details,
    )
