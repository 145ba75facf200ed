"""The one place that builds a ledger entry (DESIGN.md, "The ledger").

An ``Exchange`` records one gateway call, allowed or denied: when, who, what, why, the outcome
and digests of request and response; never plain personal data (the subject is already a ledger
pseudonym). ``canonical_entry`` turns it into the exact bytes that are hashed into the Merkle
tree: JSON with sorted keys, no whitespace, UTF-8 (not ASCII-escaped), integers in decimal, and a
``"v": 1`` format version. ``append`` queues the entry in the caller's own transaction, so the
exchange and its entry commit together or not at all ("no entry, no exchange"), with the
gateway's entry tag (``authenticator``) so the sequencer can tell it from a row written behind
the gateway's back.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from gateway.errors import InvalidArgument
from gateway.ledger.authenticator import EntryAuthenticator
from gateway.ledger.rfc9162 import leaf_hash
from gateway.store.group_commit import CHILDREN
from gateway.store.models import LedgerEntry, LedgerFlag

FORMAT_VERSION = 1

# gRPC status code names (grpc.StatusCode), spelled out so domain code need not import grpc.
OUTCOMES = frozenset(
    {
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    }
)

# Widths of the plain columns of ``ledger_entries``; PostgreSQL would refuse a longer value at
# commit, so refuse it here with a message that names the field.
_COLUMN_WIDTHS = {"org": 100, "role": 20, "actor": 100, "method": 200, "subject": 80}
# The distinguished names of a refused certificate (RFC 4514 strings of organisation
# certificates: no personal data); bounded so a hostile certificate cannot bloat the ledger.
_DN_WIDTH = 1000
_FLAG_WIDTH = 100
_FLAGS_TABLE: Any = LedgerFlag.__table__
_TEXT_FIELDS = (
    "org",
    "role",
    "actor",
    "cert_fingerprint",
    "method",
    "subject",
    "purpose",
    "consent_id",
    "decision_id",
    "decision_cached_from",
    "bundle_revision",
    "outcome",
    "reason",
    "request_digest",
    "response_digest",
    "cert_subject",
    "cert_issuer",
)
_DIGEST = re.compile(r"[0-9a-f]{64}")

PLAIN_COLUMNS = ("at_ns", "org", "role", "actor", "method", "subject", "outcome", "reason")
"""Entry fields copied into columns of their own for queries; verify checks they agree."""


class LedgerEntryError(InvalidArgument):
    """An exchange cannot be written to the ledger as given."""


@dataclass(frozen=True)
class Exchange:
    at_ns: int
    org: str
    role: str
    actor: str
    cert_fingerprint: str
    method: str
    subject: str = ""  # ledger pseudonym of the subject ("" if none)
    purpose: str = ""
    consent_id: str = ""
    consent_version: int = 0
    decision_id: str = ""
    # A decision served from the decision cache: the id of the evaluation it reuses ("" for a
    # decision evaluated for this call; then absent from the entry).
    decision_cached_from: str = ""
    bundle_revision: str = ""
    fields_released: tuple[tuple[str, str], ...] = ()  # (field, transform)
    outcome: str = "OK"  # "OK" or a gRPC status name
    reason: str = ""
    request_digest: str = ""  # hex SHA-256 of the serialised request
    response_digest: str = ""  # hex SHA-256 of the serialised response
    # Subject and issuer DNs (RFC 4514) of a client certificate the gateway refused, so the
    # ledger says who tried; empty for identified callers, and then absent from the entry.
    cert_subject: str = ""
    cert_issuer: str = ""
    # The policy's flags on the call, sorted; absent from the entry when there are none.
    flags: tuple[str, ...] = ()
    # Not in the entry: what compliance is told about a flag beside it (``ledger_flags.detail``,
    # e.g. the other help records of a duplicate), by flag name.
    flag_details: tuple[tuple[str, str], ...] = ()


def _check(ex: Exchange) -> None:
    for name in ("at_ns", "consent_version"):
        value = getattr(ex, name)
        if type(value) is not int or value < 0:
            raise LedgerEntryError(
                f"expected {name} to be an integer ≥ 0, found {value!r}", field=name
            )
    for name in _TEXT_FIELDS:
        if not isinstance(getattr(ex, name), str):
            raise LedgerEntryError(
                f"expected {name} to be text, found {type(getattr(ex, name)).__name__}", field=name
            )
    for name, width in _COLUMN_WIDTHS.items():
        value = getattr(ex, name)
        if len(value) > width:
            raise LedgerEntryError(
                f"expected {name} of at most {width} characters, found {len(value)}", field=name
            )
    for name in ("cert_subject", "cert_issuer"):
        value = getattr(ex, name)
        if len(value) > _DN_WIDTH:
            raise LedgerEntryError(
                f"expected {name} of at most {_DN_WIDTH} characters, found {len(value)}",
                field=name,
            )
    # Only the method is required: a call refused before its caller is known still leaves an
    # entry, with whatever identity there was.
    if not ex.method:
        raise LedgerEntryError("expected a non-empty method", field="method")
    if ex.outcome not in OUTCOMES:
        raise LedgerEntryError(
            f"expected outcome 'OK' or a gRPC status name, found {ex.outcome!r}", field="outcome"
        )
    for name in ("request_digest", "response_digest"):
        value = getattr(ex, name)
        if value and not _DIGEST.fullmatch(value):
            raise LedgerEntryError(
                f"expected {name} to be 64 lowercase hex digits or empty, found {value!r}",
                field=name,
            )
    for pos, flag in enumerate(ex.flags):
        if not isinstance(flag, str) or not flag or len(flag) > _FLAG_WIDTH:
            raise LedgerEntryError(
                f"expected flags[{pos}] to be text of 1 to {_FLAG_WIDTH} characters, "
                f"found {flag!r}",
                field="flags",
            )
    for pos, pair in enumerate(ex.fields_released):
        if len(pair) != 2 or not all(isinstance(part, str) and part for part in pair):
            raise LedgerEntryError(
                f"expected fields_released[{pos}] to be (field, transform), found {pair!r}",
                field="fields_released",
            )


def _as_document(ex: Exchange) -> dict[str, Any]:
    document: dict[str, Any] = {
        "v": FORMAT_VERSION,
        "at_ns": ex.at_ns,
        "org": ex.org,
        "role": ex.role,
        "actor": ex.actor,
        "cert_fingerprint": ex.cert_fingerprint,
        "method": ex.method,
        "subject": ex.subject,
        "purpose": ex.purpose,
        "consent_id": ex.consent_id,
        "consent_version": ex.consent_version,
        "decision_id": ex.decision_id,
        "bundle_revision": ex.bundle_revision,
        "fields_released": [[field, transform] for field, transform in ex.fields_released],
        "outcome": ex.outcome,
        "reason": ex.reason,
        "request_digest": ex.request_digest,
        "response_digest": ex.response_digest,
    }
    # Written only when present, so entries made before these fields existed keep their bytes
    # (and their leaf hashes).
    for name in ("cert_subject", "cert_issuer", "decision_cached_from"):
        if getattr(ex, name):
            document[name] = getattr(ex, name)
    if ex.flags:
        document["flags"] = list(ex.flags)
    return document


def canonical_json(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_entry(ex: Exchange) -> bytes:
    """The entry exactly as hashed into the tree."""
    _check(ex)
    try:
        return canonical_json(_as_document(ex)).encode("utf-8")
    except (TypeError, UnicodeEncodeError) as exc:
        # A non-text value, or a lone surrogate that has no UTF-8 form.
        raise LedgerEntryError(f"expected text fields encodable as UTF-8: {exc}") from exc


def prepared_row(ex: Exchange, authenticator: EntryAuthenticator) -> dict[str, Any]:
    """The ``ledger_entries`` row that queues the exchange's entry (``idx`` NULL) with its entry
    tag: everything an append computes (canonical JSON, leaf hash, tag), ready to insert."""
    entry = canonical_entry(ex)
    row: dict[str, Any] = {
        "idx": None,
        "at_ns": ex.at_ns,
        "org": ex.org,
        "role": ex.role,
        "actor": ex.actor,
        "method": ex.method,
        "subject": ex.subject,
        "outcome": ex.outcome,
        "reason": ex.reason,
        "entry_json": entry.decode("utf-8"),
        "leaf_hash": leaf_hash(entry),
        "entry_mac": authenticator.entry_tag(entry),
    }
    if ex.flags:
        # The entry's flags, in the same insert (``ledger_flags``, what ListFlags reads).
        row[CHILDREN] = [(_FLAGS_TABLE, "entry_id", flag_rows(ex))]
    return row


def flag_rows(ex: Exchange) -> list[dict[str, Any]]:
    """The ``ledger_flags`` rows of an entry, without its id."""
    details = dict(ex.flag_details)
    return [{"flag": f, "detail": details.get(f, ""), "resolved": False} for f in ex.flags]


def append(session: Session, ex: Exchange, authenticator: EntryAuthenticator) -> None:
    """Queue the exchange's entry (``idx`` NULL) with its entry tag in the caller's transaction;
    the sequencer checks the tag and gives the entry a position later. The caller commits."""
    # A bulk INSERT rather than session.add: one statement, no unit-of-work bookkeeping, which is
    # most of an append's cost besides the commit itself.
    row = prepared_row(ex, authenticator)
    children = row.pop(CHILDREN, ())
    if not children:
        session.execute(insert(LedgerEntry), [row])
        return
    entry_id = session.execute(insert(LedgerEntry).returning(LedgerEntry.id), [row]).scalar_one()
    for table, column, rows in children:
        session.execute(insert(table), [{**r, column: entry_id} for r in rows])
