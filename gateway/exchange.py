"""One exchange: a call from an identified caller, decided by the policy, carried out in one
database transaction that also queues its ledger entry — so no entry, no exchange.

``run_exchange`` is the single path every RPC takes (services only say what to do inside it):

    identity (already derived) → revocation → handler [policy → privacy → store] → ledger → commit

A call that fails for any reason leaves no data behind (its transaction rolls back), and its
denial is written to the ledger in a transaction of its own before the caller hears of it. If
even that cannot be written, the caller gets UNAVAILABLE: nothing was released.
"""

from __future__ import annotations

import hashlib
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
from gateway.store import StoreUnavailable
from gateway.store.models import IdempotentRequest, RevokedCertificate

M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class Caller:
    """Who is calling: org and role from the client certificate, actor from call metadata."""

    org: str
    role: str
    actor: str
    fingerprint: str


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


@dataclass
class Call:
    app: Gateway
    caller: Caller
    method: str
    request: Message
    facts: Facts = field(default_factory=Facts)
    now_ns: int = 0

    def __post_init__(self) -> None:
        if not self.now_ns:
            self.now_ns = self.app.clock.now_ns()

    def decide(
        self,
        *,
        resource: Mapping[str, Any],
        purpose: str = "",
        release: str | None = None,
        subject: Mapping[str, Any] | None = None,
        consent: Mapping[str, Any] | None = None,
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
        if purpose:
            self.facts.purpose = purpose
        decision = self.app.engine.decide(policy_input)
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
    """Run ``handler`` inside one write transaction with the call's ledger entry; see module doc."""
    app = call.app
    try:
        with app.store.write() as session:
            _refuse_revoked(session, call.caller)
            response = handler(session, call)
            ledger_entry.append(session, _exchange(call, "OK", "", response))
        return response
    except errors.AidBridgeError as exc:
        _record_refusal(call, exc.code, exc.message)
        raise
    except StoreUnavailable as exc:
        # The transaction did not commit: nothing was changed and nothing is released.
        _record_refusal(call, "UNAVAILABLE", "store unavailable")
        raise errors.Unavailable(f"the exchange could not be recorded: {exc}") from exc


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
    content gets the same response; the same id with other content is an error."""
    if not request_id:
        raise errors.InvalidArgument("request_id is required", field="request_id")
    if len(request_id) > 100:
        raise errors.InvalidArgument("request_id is longer than 100 characters", field="request_id")
    request_digest = digest(call.request)
    seen = session.get(IdempotentRequest, (call.caller.org, request_id))
    if seen is not None:
        if seen.method != call.method or seen.request_digest != request_digest:
            raise errors.InvalidArgument(
                f"request_id {request_id!r} was already used with different content",
                field="request_id",
            )
        return response_type.FromString(seen.response)
    response = produce()
    session.add(
        IdempotentRequest(
            org=call.caller.org,
            request_id=request_id,
            method=call.method,
            request_digest=request_digest,
            response=response.SerializeToString(deterministic=True),
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
    try:
        with call.app.store.write() as session:
            ledger_entry.append(session, _exchange(call, code, reason, None))
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
        outcome=outcome,
        reason=reason,
        request_digest=digest(call.request) if call.request is not _EMPTY else "",
        response_digest=digest(response),
    )


_EMPTY: Any = object()
