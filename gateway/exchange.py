"""One exchange: a call from an identified caller, decided by the policy, carried out in one
database transaction that also queues its ledger entry — so no entry, no exchange.

Every RPC takes one of two paths (services only say what to do inside it):

- ``run_exchange`` for calls that change data: revocation is checked first, from memory
  (``identity.RevocationList``), then the handler runs as one write unit of the store's group
  commit — policy → privacy → store → ledger — and the caller is answered once the batch it rode
  in is durable. Its ledger row joins the batch's one multi-row insert.
- ``run_read_exchange`` for calls that only read (a charity pulling a summary, lists, audit
  queries): the handler runs in a read transaction, in parallel with other calls, and registers
  its few writes with ``call.defer``; its ledger row is computed in the caller's thread, so the
  writer only runs those writes and inserts the row with the batch's others; the response is
  released only after they are durable. A refusal's entry is prepared the same way.

A call that fails for any reason leaves no data behind, and its refusal is written to the ledger
before the caller hears of it. If even that cannot be written, the caller gets UNAVAILABLE:
nothing was released. A call waits for the store at most its bound (``store_timeout_s``):
past it, it gets UNAVAILABLE and its write is cancelled, never kept (``group_commit``).
"""

from __future__ import annotations

import hashlib
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from google.protobuf.message import Message
from sqlalchemy import Table, bindparam, event, select, update
from sqlalchemy.orm import Session

from gateway import errors, identity
from gateway.app import PREPARED, STALE, UNPREPARED, Gateway
from gateway.ledger import entry as ledger_entry
from gateway.policy.engine import Decision
from gateway.privacy.disclosure import error_message
from gateway.store import Store, StoreRefused, StoreUnavailable, idempotency
from gateway.store.group_commit import Insert
from gateway.store.models import IdempotentRequest, LedgerEntry, RevokedCertificate

M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class Caller:
    """Who is calling: org and role from the client certificate, actor from call metadata."""

    org: str
    role: str
    actor: str
    fingerprint: str
    # The DNs of a client certificate that was refused (so the ledger says who tried).
    cert_subject: str = ""
    cert_issuer: str = ""


@dataclass
class Facts:
    """What a call learned on its way, for its ledger entry."""

    subject: str = ""
    purpose: str = ""
    consent_id: str = ""
    consent_version: int = 0
    decision_id: str = ""
    # The evaluated decision a cached one reuses (gateway.policy.cache); "" if evaluated.
    decision_cached_from: str = ""
    bundle_revision: str = ""
    fields_released: tuple[tuple[str, str], ...] = ()
    # The policy's flags on the call (integrity, guardian consent, ...), written into its entry.
    flags: tuple[str, ...] = ()
    # What an allowed call did, in words, as its entry's reason (e.g. the range an export wrote).
    note: str = ""
    # What compliance is told about a flag beside the entry (``ledger_flags.detail``), by flag.
    flag_details: dict[str, str] = field(default_factory=dict)

    def flag(self, name: str, detail: str = "") -> None:
        """Add a flag found by the gateway itself (a detector needing history)."""
        self.flags = tuple(sorted({*self.flags, name}))
        if detail:
            self.flag_details[name] = detail


@dataclass
class Call:
    app: Gateway
    caller: Caller
    method: str
    request: Message
    facts: Facts = field(default_factory=Facts)
    now_ns: int = 0
    deferred: list[Callable[[Session], object]] = field(default_factory=list)
    # Rows computed by the handler to insert with the call's ledger entry (counters: see
    # ``group_commit.Counter``); kept only if the call succeeds.
    inserts: list[Insert] = field(default_factory=list)
    # The monotonic instant by which the store must have taken the call's write (its bound).
    deadline: float = 0.0
    # The policy's last decision on the call, whose obligations say what may leave with it
    # (``gateway.privacy.disclosure``), and the known values of the records it touched, which
    # its error messages must not repeat either.
    decision: Decision | None = None
    known: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.now_ns:
            self.now_ns = self.app.clock.now_ns()
        if not self.deadline:
            self.deadline = time.monotonic() + self.app.store.timeout_s

    def defer(self, write: Callable[[Session], object]) -> None:
        """Register a write to make with the call's ledger entry (read path)."""
        self.deferred.append(write)

    def decide(
        self,
        *,
        resource: Mapping[str, Any],
        purpose: str = "",
        release: str | None = None,
        subject: Mapping[str, Any] | None = None,
        consent: Mapping[str, Any] | None = None,
        conflict: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Ask the policy; raise unless it allows. The decision is recorded for the ledger."""
        policy_input: dict[str, Any] = {
            "now_ns": self.now_ns,
            "caller": {
                "org": self.caller.org,
                "role": self.caller.role,
                "actor": self.caller.actor,
            },
            "method": self.method,
            "purpose": purpose,
            "resource": dict(resource),
        }
        if release is not None:
            policy_input["release"] = release
        if subject is not None:
            policy_input["subject"] = dict(subject)
        if consent is not None:
            policy_input["consent"] = dict(consent)
            self.facts.consent_id = str(consent.get("consent_id", ""))
            self.facts.consent_version = int(consent.get("version", 0))
        if conflict is not None:
            policy_input["conflict"] = dict(conflict)
        if purpose:
            self.facts.purpose = purpose
        decision = self.app.engine.decide(policy_input)
        self.facts.flags = tuple(sorted(set(self.facts.flags) | set(decision.flags)))
        self.facts.decision_id = decision.decision_id
        self.facts.decision_cached_from = decision.cached_from
        self.decision = decision
        self.facts.bundle_revision = decision.revision
        if decision.unavailable:
            raise errors.Unavailable("policy engine unavailable: " + "; ".join(decision.reasons))
        if not decision.allow:
            reasons = "; ".join(decision.reasons) or "denied by policy"
            raise errors.PermissionDenied(reasons)
        return decision


def digest(message: Message | None) -> str:
    if message is None:
        return ""
    return hashlib.sha256(message.SerializeToString(deterministic=True)).hexdigest()


def run_exchange(call: Call, handler: Callable[[Session, Call], M]) -> M:
    """Run ``handler`` as one write unit with the call's ledger entry; see module doc."""

    def run() -> M:
        _refuse_revoked(call)
        return _in_writer(call, handler)

    return _guarded(call, run)


def _in_writer(call: Call, handler: Callable[[Session, Call], M]) -> M:
    inserts: list[Insert] = []

    def unit(session: Session) -> M:
        # A unit run again (its batch failed) starts from scratch: what the handler registered
        # the first time must not be applied twice.
        call.deferred.clear()
        call.inserts.clear()
        response = handler(session, call)
        _apply_deferred(session, call)
        inserts.append(_ledger_row(call, exchange_of(call, "OK", "", response)))
        inserts.extend(call.inserts)
        return response

    return call.app.writer.submit(unit, inserts=inserts, deadline=call.deadline)


@dataclass(frozen=True)
class GuardedUpdate:
    """A change a prepared call makes to one stored row, run in the writer as one UPDATE whose
    WHERE carries, beside the row's key, the values the call read (``expected``): the check and
    the write are one statement, and a row that moved on meanwhile matches nothing, so the call
    is stale. ``entity`` is the mapped class: the writer's session, whose units may hold the row
    already, sees the new values too."""

    entity: type
    key: Mapping[str, Any]
    expected: Mapping[str, Any]
    values: Mapping[str, Any]

    def apply(self, session: Session) -> bool:
        """Make the change; False (nothing changed) when the row is no longer as expected."""
        columns = {**self.key, **self.expected}
        statement = (
            update(self.entity)
            .where(*(getattr(self.entity, name) == value for name, value in columns.items()))
            .values(dict(self.values))
            .execution_options(synchronize_session="evaluate")
        )
        return int(session.execute(statement).rowcount) == 1  # type: ignore[attr-defined]


@dataclass
class Prepared:
    """A write call worked out in a read transaction, outside the writer: its response, the rows
    it stores (in insertion order: a row after the rows it refers to), its changes to stored rows
    (``updates``) and, run in the writer just before them, ``still_holds``: whether what the
    call read (a consent's state, an idempotency key, ...) is still so. A replay of an answered
    request has no rows and no changes."""

    response: Message
    rows: list[Insert]
    still_holds: Callable[[Session], bool]
    updates: list[GuardedUpdate] = field(default_factory=list)


class _Stale(Exception):
    """What a prepared call rested on changed before the writer took it."""


def run_prepared_exchange(
    call: Call,
    prepare: Callable[[Session, Call], Prepared | None],
    handler: Callable[[Session, Call], M],
) -> M:
    """A write call whose policy decision, crypto and messages are computed before the writer
    (``prepare``, in a read transaction, in the caller's thread), so the writer only checks
    ``still_holds``, makes the guarded updates and inserts the rows with its batch's others.
    ``prepare`` makes the same checks, in the same order, as ``handler`` and raises the same
    errors. When it cannot prepare the call (None: e.g. the policy holds it for a second
    approval, which writes) or what it read changed before the writer took it, the call runs as
    ``run_exchange`` runs it, from scratch — so the outcome is always the one the handler in the
    writer gives. ``call.app.write_paths`` counts which way each call went."""

    def run() -> M:
        _refuse_revoked(call)
        with call.app.store.read() as session:
            prepared = prepare(session, call)
        if prepared is None:
            call.app.write_paths.add(call.method, UNPREPARED)
        else:
            response: M = prepared.response  # type: ignore[assignment]
            inserts = [
                *prepared.rows,
                _ledger_row(call, exchange_of(call, "OK", "", response)),
                *call.inserts,
            ]
            updates = prepared.updates

            def unit(session: Session) -> None:
                if not prepared.still_holds(session):
                    raise _Stale
                for change in updates:
                    if not change.apply(session):
                        raise _Stale

            try:
                # No SAVEPOINT while the unit writes at most one statement, its last: a stale
                # unit has then written nothing.
                call.app.writer.submit(
                    unit, inserts=inserts, deadline=call.deadline, read_only=len(updates) <= 1
                )
                call.app.write_paths.add(call.method, PREPARED)
                return response
            except _Stale:
                call.app.write_paths.add(call.method, STALE)
        call.facts = Facts()
        call.deferred = []
        call.inserts = []
        return _in_writer(call, handler)

    return _guarded(call, run)


def run_read_exchange(call: Call, handler: Callable[[Session, Call], M]) -> M:
    """Run a reading ``handler`` in a read transaction, then its deferred writes and its ledger
    entry as one write unit; the response leaves only after that unit is durable."""

    def run() -> M:
        _refuse_revoked(call)
        with call.app.store.read() as session:
            response = handler(session, call)
        row = _ledger_row(call, exchange_of(call, "OK", "", response))
        deferred = call.deferred
        unit = (lambda session: _apply_deferred(session, call)) if deferred else None
        call.app.writer.submit(unit, inserts=[row, *call.inserts], deadline=call.deadline)
        return response

    return _guarded(call, run)


def _guarded(call: Call, run: Callable[[], M]) -> M:
    try:
        return run()
    except errors.AidBridgeError as exc:
        # The message the ledger keeps and the caller receives, through the disclosure path.
        exc.message = error_message(exc.message, call.known)
        _record_refusal(call, exc.code, exc.message)
        raise
    except StoreRefused as exc:
        # The database cannot hold a value of this call (the call's fault, not the store's).
        message = error_message(str(exc), call.known)
        _record_refusal(call, "INVALID_ARGUMENT", message)
        raise errors.InvalidArgument(f"the exchange could not be stored: {message}") from exc
    except StoreUnavailable as exc:
        # Nothing of the call was committed and nothing is released.
        _record_refusal(call, "UNAVAILABLE", "store unavailable")
        raise errors.Unavailable(f"the exchange could not be recorded: {exc}") from exc


def _apply_deferred(session: Session, call: Call) -> None:
    for write in call.deferred:
        write(session)


def record_refusal(app: Gateway, caller: Caller, method: str, code: str, reason: str) -> None:
    """Ledger a call refused before any handler ran (identity, metadata)."""
    call = Call(app=app, caller=caller, method=method, request=_EMPTY)
    _record_refusal(call, code, reason)


def remember(
    session: Session,
    call: Call,
    request_id: str,
    response_type: type[M],
    produce: Callable[[], M],
) -> M:
    """Idempotency: the first call with ``request_id`` runs ``produce``; a retry with the same
    content gets the same response; the same id with other content is ALREADY_EXISTS. The kept
    response is sealed at rest (``gateway.store.idempotency``)."""
    request_digest = digest(call.request)
    replayed = _replayed(session, call, request_id, request_digest, response_type)
    if replayed is not None:
        return replayed
    response = produce()
    session.add(IdempotentRequest(**_remembered(call, request_id, request_digest, response)))
    return response


def remember_prepared(
    session: Session,
    call: Call,
    request_id: str,
    response_type: type[M],
    produce: Callable[[], Prepared],
) -> Prepared:
    """``remember`` for a prepared call (``run_prepared_exchange``): ``produce`` gives the
    prepared call; the kept response joins its rows, and the request id must still be unused
    when the writer takes them."""
    request_digest = digest(call.request)
    replayed = _replayed(session, call, request_id, request_digest, response_type)
    if replayed is not None:
        return Prepared(response=replayed, rows=[], still_holds=holds_always)
    prepared = produce()
    key = (call.caller.org, request_id)
    still_holds = prepared.still_holds

    def unused_and_still_holds(session: Session) -> bool:
        used = session.execute(_IDEMPOTENCY_USED, {"org": key[0], "request_id": key[1]}).first()
        return used is None and still_holds(session)

    remembered = (
        _IDEMPOTENCY_TABLE,
        _remembered(call, request_id, request_digest, prepared.response),
    )
    return replace(prepared, rows=[*prepared.rows, remembered], still_holds=unused_and_still_holds)


def holds_always(_session: Session) -> bool:
    """``Prepared.still_holds`` of a call whose guarded updates are all it rests on."""
    return True


def _replayed(
    session: Session, call: Call, request_id: str, request_digest: str, response_type: type[M]
) -> M | None:
    """The kept response of ``request_id`` (None when it is new); refuses a bad or reused id."""
    if not request_id:
        raise errors.InvalidArgument("request_id is required", field="request_id")
    if len(request_id) > 100:
        raise errors.InvalidArgument("request_id is longer than 100 characters", field="request_id")
    seen = session.get(IdempotentRequest, (call.caller.org, request_id))
    if seen is None:
        return None
    if seen.method != call.method or seen.request_digest != request_digest:
        raise errors.AlreadyExists(
            f"request_id {request_id!r} was already used with different content",
            field="request_id",
        )
    return response_type.FromString(idempotency.open_sealed(call.app.cipher, seen))


def _remembered(call: Call, request_id: str, request_digest: str, response: Message) -> dict:
    return {
        "org": call.caller.org,
        "request_id": request_id,
        "method": call.method,
        "request_digest": request_digest,
        "response": idempotency.seal(
            call.app.cipher,
            (call.caller.org, request_id, call.method),
            response.SerializeToString(deterministic=True),
        ),
        "created_at_ns": call.now_ns,
    }


def _refuse_revoked(call: Call) -> None:
    if _revocations(call.app.store, call.app.config.work_dir).is_revoked(call.caller.fingerprint):
        raise errors.Unauthenticated("client certificate has been revoked")


_REVOCATION_LISTS: weakref.WeakKeyDictionary[Store, identity.RevocationList] = (
    weakref.WeakKeyDictionary()
)
_REVOCATION_LISTS_LOCK = threading.Lock()


def _revocations(store: Store, work_dir: Path) -> identity.RevocationList:
    """The store's revocation list, created on first use."""
    found = _REVOCATION_LISTS.get(store)
    if found is None:
        with _REVOCATION_LISTS_LOCK:
            found = _REVOCATION_LISTS.get(store)
            if found is None:

                def load() -> set[str]:
                    with store.read() as session:
                        return set(session.scalars(select(RevokedCertificate.fingerprint)))

                found = identity.RevocationList(load, work_dir / identity.REVOCATION_SIGNAL)
                _REVOCATION_LISTS[store] = found
    return found


@event.listens_for(Session, "after_flush")
def _note_revocation(session: Session, _context: Any) -> None:
    if any(isinstance(o, RevokedCertificate) for o in (*session.new, *session.deleted)):
        session.info["revocations_changed"] = True


@event.listens_for(Session, "after_commit")
def _revocation_committed(session: Session) -> None:
    if session.info.pop("revocations_changed", False):
        identity.revocations_changed()


def _record_refusal(call: Call, code: str, reason: str) -> None:
    row = _ledger_row(call, exchange_of(call, code, reason, None))
    # A refusal may take a little past the call's bound (a tenth of it), so that a call that
    # timed out is still answered within about its bound.
    grace = time.monotonic() + _REFUSAL_GRACE * call.app.store.timeout_s
    try:
        call.app.writer.submit(None, inserts=[row], deadline=max(call.deadline, grace))
    except StoreUnavailable as exc:
        raise errors.Unavailable(f"the refusal could not be recorded: {exc}") from exc


_LEDGER_TABLE: Table = LedgerEntry.__table__  # type: ignore[assignment]
_IDEMPOTENCY_TABLE: Table = IdempotentRequest.__table__  # type: ignore[assignment]
_IDEMPOTENCY_USED = select(_IDEMPOTENCY_TABLE.c.org).where(
    _IDEMPOTENCY_TABLE.c.org == bindparam("org"),
    _IDEMPOTENCY_TABLE.c.request_id == bindparam("request_id"),
)


def _ledger_row(call: Call, ex: ledger_entry.Exchange) -> Insert:
    return (_LEDGER_TABLE, ledger_entry.prepared_row(ex, call.app.ledger.authenticator))


def exchange_of(call: Call, outcome: str, reason: str, response: Message | None) -> Any:
    """The ledger exchange of ``call`` with its outcome (also one per summary of a stream)."""
    f = call.facts
    return ledger_entry.Exchange(
        at_ns=call.now_ns,
        org=call.caller.org,
        role=call.caller.role,
        actor=call.caller.actor,
        cert_fingerprint=call.caller.fingerprint,
        method=call.method,
        subject=f.subject,
        purpose=f.purpose,
        consent_id=f.consent_id,
        consent_version=f.consent_version,
        decision_id=f.decision_id,
        decision_cached_from=f.decision_cached_from,
        bundle_revision=f.bundle_revision,
        fields_released=f.fields_released if outcome == "OK" else (),
        flags=f.flags,
        flag_details=tuple(sorted((k, v) for k, v in f.flag_details.items() if k in f.flags)),
        outcome=outcome,
        reason=reason or (f.note if outcome == "OK" else ""),
        request_digest=digest(call.request) if call.request is not _EMPTY else "",
        response_digest=digest(response),
        cert_subject=call.caller.cert_subject,
        cert_issuer=call.caller.cert_issuer,
    )


_EMPTY: Any = object()
_REFUSAL_GRACE = 0.1
