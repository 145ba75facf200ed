"""One exchange: a call from an identified caller, decided by the policy, carried out in one
database transaction that also queues its ledger entry — so no entry, no exchange.

Every RPC takes one of two paths (services only say what to do inside it):

- ``run_exchange`` for calls that change data: the handler runs as one write unit of the store's
  group commit — identity (already derived) → revocation → policy → privacy → store → ledger —
  and the caller is answered once the batch it rode in is durable.
- ``run_read_exchange`` for calls that only read (a charity pulling a summary, lists, audit
  queries): the handler runs in a read transaction, in parallel with other calls, and registers
  its few writes with ``call.defer``; those and the ledger entry then go through the group commit,
  and the response is released only after they are durable.

A call that fails for any reason leaves no data behind, and its refusal is written to the ledger
before the caller hears of it. If even that cannot be written, the caller gets UNAVAILABLE:
nothing was released. A call waits for the store at most its bound (``store_timeout_s``):
past it, it gets UNAVAILABLE and its write is cancelled, never kept (``group_commit``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from google.protobuf.message import Message
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import errors
from gateway.app import Gateway
from gateway.ledger import entry as ledger_entry
from gateway.policy.engine import Decision
from gateway.store import StoreRefused, StoreUnavailable, idempotency
from gateway.store.models import IdempotentRequest, RevokedCertificate

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
    bundle_revision: str = ""
    fields_released: tuple[tuple[str, str], ...] = ()
    # The policy's flags on the call (integrity, guardian consent, ...), written into its entry.
    flags: tuple[str, ...] = ()


@dataclass
class Call:
    app: Gateway
    caller: Caller
    method: str
    request: Message
    facts: Facts = field(default_factory=Facts)
    now_ns: int = 0
    deferred: list[Callable[[Session], object]] = field(default_factory=list)
    # The monotonic instant by which the store must have taken the call's write (its bound).
    deadline: float = 0.0

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

    def unit(session: Session) -> M:
        _refuse_revoked(session, call.caller)
        response = handler(session, call)
        _apply_deferred(session, call)
        ledger_entry.append(
            session, _exchange(call, "OK", "", response), call.app.ledger.authenticator
        )
        return response

    return _guarded(call, lambda: call.app.writer.submit(unit, deadline=call.deadline))


def run_read_exchange(call: Call, handler: Callable[[Session, Call], M]) -> M:
    """Run a reading ``handler`` in a read transaction, then its deferred writes and its ledger
    entry as one write unit; the response leaves only after that unit is durable."""

    def run() -> M:
        with call.app.store.read() as session:
            _refuse_revoked(session, call.caller)
            response = handler(session, call)

        def unit(session: Session) -> None:
            _apply_deferred(session, call)
            ledger_entry.append(
                session, _exchange(call, "OK", "", response), call.app.ledger.authenticator
            )

        call.app.writer.submit(unit, deadline=call.deadline)
        return response

    return _guarded(call, run)


def _guarded(call: Call, run: Callable[[], M]) -> M:
    try:
        return run()
    except errors.AidBridgeError as exc:
        _record_refusal(call, exc.code, exc.message)
        raise
    except StoreRefused as exc:
        # The database cannot hold a value of this call (the call's fault, not the store's).
        _record_refusal(call, "INVALID_ARGUMENT", str(exc))
        raise errors.InvalidArgument(f"the exchange could not be stored: {exc}") from exc
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
    if not request_id:
        raise errors.InvalidArgument("request_id is required", field="request_id")
    if len(request_id) > 100:
        raise errors.InvalidArgument("request_id is longer than 100 characters", field="request_id")
    request_digest = digest(call.request)
    seen = session.get(IdempotentRequest, (call.caller.org, request_id))
    if seen is not None:
        if seen.method != call.method or seen.request_digest != request_digest:
            raise errors.AlreadyExists(
                f"request_id {request_id!r} was already used with different content",
                field="request_id",
            )
        return response_type.FromString(idempotency.open_sealed(call.app.cipher, seen))
    response = produce()
    session.add(
        IdempotentRequest(
            org=call.caller.org,
            request_id=request_id,
            method=call.method,
            request_digest=request_digest,
            response=idempotency.seal(
                call.app.cipher,
                (call.caller.org, request_id, call.method),
                response.SerializeToString(deterministic=True),
            ),
            created_at_ns=call.now_ns,
        )
    )
    return response


def _refuse_revoked(session: Session, caller: Caller) -> None:
    revoked = session.scalar(
        select(RevokedCertificate.reason).where(
            RevokedCertificate.fingerprint == caller.fingerprint
        )
    )
    if revoked is not None:
        raise errors.Unauthenticated("client certificate has been revoked")


def _record_refusal(call: Call, code: str, reason: str) -> None:
    def unit(session: Session) -> None:
        ledger_entry.append(
            session, _exchange(call, code, reason, None), call.app.ledger.authenticator
        )

    # A refusal may take a little past the call's bound (a tenth of it), so that a call that
    # timed out is still answered within about its bound.
    grace = time.monotonic() + _REFUSAL_GRACE * call.app.store.timeout_s
    try:
        call.app.writer.submit(unit, deadline=max(call.deadline, grace))
    except StoreUnavailable as exc:
        raise errors.Unavailable(f"the refusal could not be recorded: {exc}") from exc


def _exchange(call: Call, outcome: str, reason: str, response: Message | None) -> Any:
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
        bundle_revision=f.bundle_revision,
        fields_released=f.fields_released if outcome == "OK" else (),
        flags=f.flags,
        outcome=outcome,
        reason=reason,
        request_digest=digest(call.request) if call.request is not _EMPTY else "",
        response_digest=digest(response),
        cert_subject=call.caller.cert_subject,
        cert_issuer=call.caller.cert_issuer,
    )


_EMPTY: Any = object()
_REFUSAL_GRACE = 0.1
