"""The lines of a person's access report, read from the ledger by the person's ledger pseudonym.

A line is a ledger entry about the subject whose outcome is OK and that is one of:

- a release: the entry lists fields released (a summary or contact details pulled by a
  charity), with the consent and purpose it was released under;
- a withdrawal: ``ConsentService/WithdrawConsent`` of one of the person's consents;
- a deletion attestation: ``ConsentService/AttestDeletion`` by a recipient, for a consent of
  the person's.

Everything comes from the entry text itself (the bytes the tree commits to), so each line can
be checked against its inclusion proof without trusting the gateway's other tables. The query
walks the ``(subject, id)`` index: it reads only this person's rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store.models import LedgerEntry

RELEASE = "release"
WITHDRAWAL = "withdrawal"
DELETION_ATTESTATION = "deletion_attestation"
KINDS = (RELEASE, WITHDRAWAL, DELETION_ATTESTATION)

WITHDRAW_METHOD = "aidbridge.v1.ConsentService/WithdrawConsent"
ATTEST_METHOD = "aidbridge.v1.ConsentService/AttestDeletion"
_READ_BATCH = 1000


@dataclass(frozen=True)
class ReportLine:
    kind: str
    index: int  # ledger index; -1 while not yet sequenced
    at_ns: int
    org: str
    actor: str
    method: str
    fields: tuple[tuple[str, str], ...]  # (field, transform)
    consent_id: str
    consent_version: int
    purpose: str
    entry_json: str
    proof: tuple[bytes, ...] | None = None  # inclusion proof in the report's checkpoint
    proof_size: int = 0  # the tree size the proof is for


def kind_of(entry: dict[str, object]) -> str | None:
    """Which kind of report line an entry is, or None if it is not one."""
    if entry.get("outcome") != "OK":
        return None
    if entry.get("fields_released"):
        return RELEASE
    if entry.get("method") == WITHDRAW_METHOD:
        return WITHDRAWAL
    if entry.get("method") == ATTEST_METHOD:
        return DELETION_ATTESTATION
    return None


def report_lines(
    session: Session,
    subject: str,
    *,
    tree_size: int = 0,
    prove: Callable[[int, int], list[bytes]] | None = None,
) -> list[ReportLine]:
    """The report's lines for ``subject`` (a ledger pseudonym), oldest first. With ``prove``,
    each line already in the tree of ``tree_size`` carries ``prove(index, tree_size)``."""
    if not subject:
        return []
    found = []
    for index, entry_json in _entries(session, subject):
        entry = json.loads(entry_json)
        kind = kind_of(entry)
        if kind is None:
            continue
        position = -1 if index is None else index
        proof = None
        if prove is not None and 0 <= position < tree_size:
            proof = tuple(prove(position, tree_size))
        found.append(
            ReportLine(
                kind=kind,
                index=position,
                at_ns=int(entry.get("at_ns", 0)),
                org=str(entry.get("org", "")),
                actor=str(entry.get("actor", "")),
                method=str(entry.get("method", "")),
                fields=tuple((str(f), str(t)) for f, t in entry.get("fields_released", [])),
                consent_id=str(entry.get("consent_id", "")),
                consent_version=int(entry.get("consent_version", 0)),
                purpose=str(entry.get("purpose", "")),
                entry_json=entry_json,
                proof=proof,
                proof_size=tree_size if proof is not None else 0,
            )
        )
    return found


def _entries(session: Session, subject: str) -> Iterator[tuple[int | None, str]]:
    rows = session.execute(
        select(LedgerEntry.idx, LedgerEntry.entry_json)
        .where(LedgerEntry.subject == subject, LedgerEntry.outcome == "OK")
        .order_by(LedgerEntry.id)
        .execution_options(yield_per=_READ_BATCH)
    )
    yield from ((idx, entry_json) for idx, entry_json in rows)
