"""Second approval: an action the policy flags ``second-approval`` (it touches a declared
relative of the acting person) takes effect only after another actor of the same organisation
approves it.

The held call is refused FAILED_PRECONDITION and ledgered with its flags, so nothing of it is
kept but its ledger entry. Its ``action_id`` is derived from who asked and what (organisation,
actor, method, request digest): the approver names it in ``ApproveAction``, the gateway finds the
held entry in the ledger, refuses an approval by the actor who asked, and records the approval;
the same request sent again by the same actor then finds it, uses it once, and goes through.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import errors
from gateway.integrity import register
from gateway.store.models import LedgerEntry, SecondApproval

DECLARED_RELATIVE = "declared-relative"
SECOND_APPROVAL = "second-approval"
APPROVED = "approved"
REJECTED = "rejected"


@dataclass(frozen=True)
class ApprovalView:
    action_id: str
    method: str
    requested_by: str
    decided_by: str
    verdict: str
    decided_at_ns: int


def conflict_fact(session: Session, *, org: str, actor: str, relative_index: str) -> dict:
    """The policy's ``input.conflict``: is the person a declared relative of this actor."""
    relationships = register.declared_relationships(
        session, org=org, actor=actor, relative_index=relative_index
    )
    return conflict_fact_of(relationships)


def conflict_fact_of(relationships: tuple[str, ...]) -> dict:
    """``input.conflict`` of the relationships declared (none: not a declared relative)."""
    return {"declared_relative": bool(relationships), "relationships": list(relationships)}


def action_id(*, org: str, actor: str, method: str, request_digest: str) -> str:
    material = "\n".join((org, actor, method, request_digest)).encode()
    return "act-" + hashlib.sha256(material).hexdigest()[:32]


def held_message(action: str, org: str) -> str:
    return (
        f"held for a second approver: action {action} touches a declared relative of the "
        f"acting person; another actor of {org} approves it with ApproveAction, then the same "
        "request is sent again"
    )


def approval_to_use(
    session: Session, flags: tuple[str, ...], *, org: str, actor: str, method: str, digest: str
) -> str:
    """The action id whose approval lets this call through ("" when the policy holds nothing);
    raise FailedPrecondition while it is held, PermissionDenied once it was rejected."""
    if SECOND_APPROVAL not in flags:
        return ""
    action = action_id(org=org, actor=actor, method=method, request_digest=digest)
    row = session.get(SecondApproval, action)
    if row is not None and row.verdict == REJECTED:
        raise errors.PermissionDenied(
            f"action {action} was rejected by {row.decided_by}, a second approver of {org}"
        )
    if row is None or row.used_at_ns is not None:
        raise errors.FailedPrecondition(held_message(action, org), field="second_approval")
    return action


def use_approval(session: Session, action: str, now_ns: int) -> None:
    """Mark the approval used, in the write unit of the call it let through."""
    row = session.get(SecondApproval, action, with_for_update=True)
    if row is None or row.used_at_ns is not None:
        raise errors.FailedPrecondition(
            f"the approval of action {action} was used meanwhile", field="second_approval"
        )
    row.used_at_ns = now_ns
    session.flush()


def decide_action(
    session: Session, action: str, *, org: str, actor: str, verdict: str, now_ns: int
) -> ApprovalView:
    """Record another actor's verdict on a held action of the same organisation."""
    if not action:
        raise errors.InvalidArgument("action_id is required", field="action_id")
    if not actor:
        raise errors.InvalidArgument(
            "a second approver is a named person: x-aidbridge-actor is required",
            field="x-aidbridge-actor",
        )
    held = session.execute(
        select(LedgerEntry.actor, LedgerEntry.method)
        .where(
            LedgerEntry.org == org,
            LedgerEntry.outcome == "FAILED_PRECONDITION",
            LedgerEntry.reason == held_message(action, org),
        )
        .limit(1)
    ).first()
    # An action of another organisation is answered as unknown: it is not for this one.
    if held is None:
        raise errors.NotFound(
            f"action_id {action} names no action of {org} held for a second approver",
            field="action_id",
        )
    requested_by, method = held
    if requested_by == actor:
        raise errors.PermissionDenied(
            f"{actor} asked for action {action} and cannot be its second approver"
        )
    if session.get(SecondApproval, action) is not None:
        raise errors.FailedPrecondition(
            f"action {action} already has a second approver's verdict", field="action_id"
        )
    row = SecondApproval(
        action_id=action,
        org=org,
        requested_by=requested_by,
        method=method,
        decided_by=actor,
        verdict=verdict,
        decided_at_ns=now_ns,
        used_at_ns=None,
    )
    session.add(row)
    session.flush()
    return ApprovalView(action, method, requested_by, actor, verdict, now_ns)
