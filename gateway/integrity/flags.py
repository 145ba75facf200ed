"""Open flags: the ledger entries whose policy decision carried flags, and their resolutions.

A flag is read from the entry itself (its ``flags`` member, written by
``gateway.ledger.entry``), so what a supervisor sees is what the tree commits to; a resolution is
kept beside it, one per entry, with the supervisor's note.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import errors
from gateway.store.models import FlagResolution, LedgerEntry

MAX_LIMIT = 500
DEFAULT_LIMIT = 100
_PREFIX = "flag-"
# Entries carry "flags" only when there are some (canonical JSON, sorted keys, no spaces).
_MARK = '%"flags":[%'


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

    @property
    def resolved(self) -> bool:
        return bool(self.resolved_by)


def list_flags(session: Session, *, open_only: bool, limit: int) -> list[FlagView]:
    """Flagged entries, newest first."""
    if limit < 0 or limit > MAX_LIMIT:
        raise errors.InvalidArgument(f"limit must be between 0 and {MAX_LIMIT}", field="limit")
    query = (
        select(LedgerEntry, FlagResolution)
        .outerjoin(FlagResolution, FlagResolution.entry_id == LedgerEntry.id)
        .where(LedgerEntry.entry_json.like(_MARK))
        .order_by(LedgerEntry.id.desc())
        .limit(limit or DEFAULT_LIMIT)
    )
    if open_only:
        query = query.where(FlagResolution.entry_id.is_(None))
    return [_view(entry, resolution) for entry, resolution in session.execute(query).all()]


def resolve_flag(
    session: Session, flag_id: str, *, note: str, resolved_by: str, now_ns: int
) -> FlagView:
    if not note.strip():
        raise errors.InvalidArgument("note is required: say why the flag is closed", field="note")
    entry = session.get(LedgerEntry, _entry_id(flag_id))
    if entry is None or '"flags":[' not in entry.entry_json:
        raise errors.NotFound(f"flag_id {flag_id} names no flagged entry", field="flag_id")
    if session.get(FlagResolution, entry.id) is not None:
        raise errors.FailedPrecondition(f"flag {flag_id} is already resolved", field="flag_id")
    resolution = FlagResolution(
        entry_id=entry.id, note=note, resolved_by=resolved_by, resolved_at_ns=now_ns
    )
    session.add(resolution)
    session.flush()
    return _view(entry, resolution)


def _entry_id(flag_id: str) -> int:
    digits = flag_id.removeprefix(_PREFIX)
    if not flag_id.startswith(_PREFIX) or not digits.isdigit() or len(digits) > 18:
        raise errors.InvalidArgument(
            f"flag_id must be 'flag-' and an entry number, found {flag_id!r}", field="flag_id"
        )
    return int(digits)


def _view(entry: LedgerEntry, resolution: FlagResolution | None) -> FlagView:
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
    )
