"""Referrals, government → charity: the states of the HL7 FHIR Task used for referrals (Gravity
Project), plus "expired" (nobody acted in time) and "cancelled-by-withdrawal" (the consent under
it was withdrawn). Who may set which state is the policy's decision; which transitions exist is
this module's."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import errors
from gateway.privacy.crypto import FieldCipher
from gateway.store.models import Case, Referral, ReferralEvent

REQUESTED = "requested"
ACCEPTED = "accepted"
REJECTED = "rejected"
IN_PROGRESS = "in-progress"
ON_HOLD = "on-hold"
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"
EXPIRED = "expired"
CANCELLED_BY_WITHDRAWAL = "cancelled-by-withdrawal"

TRANSITIONS: dict[str, frozenset[str]] = {
    REQUESTED: frozenset({ACCEPTED, REJECTED, CANCELLED, EXPIRED, CANCELLED_BY_WITHDRAWAL}),
    ACCEPTED: frozenset(
        {IN_PROGRESS, ON_HOLD, COMPLETED, FAILED, CANCELLED, CANCELLED_BY_WITHDRAWAL}
    ),
    IN_PROGRESS: frozenset({ON_HOLD, COMPLETED, FAILED, CANCELLED, CANCELLED_BY_WITHDRAWAL}),
    ON_HOLD: frozenset({IN_PROGRESS, COMPLETED, FAILED, CANCELLED, CANCELLED_BY_WITHDRAWAL}),
}
OPEN = frozenset(TRANSITIONS)
# Case data may be released while a referral is live; contact only once the charity accepted.
LIVE_FOR = {
    "summary": frozenset({REQUESTED, ACCEPTED, IN_PROGRESS, ON_HOLD}),
    "contact": frozenset({ACCEPTED, IN_PROGRESS}),
}


def new_referral_id() -> str:
    return "ref-" + uuid.uuid4().hex[:20]


def create_referral(
    session: Session,
    *,
    case: Case,
    from_org: str,
    to_org: str,
    consent_id: str,
    purpose: str,
    note: str,
    fast_track: bool,
    respond_by_ns: int,
    actor: str,
    cipher: FieldCipher,
    now_ns: int,
) -> Referral:
    referral_id = new_referral_id()
    row = Referral(
        referral_id=referral_id,
        case_id=case.case_id,
        from_org=from_org,
        to_org=to_org,
        consent_id=consent_id,
        purpose=purpose,
        state=REQUESTED,
        fast_track=fast_track,
        note_enc=cipher.encrypt(json.dumps(note, ensure_ascii=False).encode(), referral_id.encode())
        if note
        else None,
        key_id=cipher.key_id,
        created_at_ns=now_ns,
        updated_at_ns=now_ns,
        respond_by_ns=respond_by_ns,
    )
    session.add(row)
    session.add(
        ReferralEvent(
            referral_id=referral_id, state=REQUESTED, at_ns=now_ns, org=from_org, actor=actor
        )
    )
    return row


def get_referral(session: Session, referral_id: str) -> Referral:
    if not referral_id:
        raise errors.InvalidArgument("referral_id is required", field="referral_id")
    row = session.get(Referral, referral_id)
    if row is None:
        raise errors.NotFound(f"referral {referral_id!r} not found", field="referral_id")
    return row


def list_referrals(
    session: Session, *, org: str, role: str, state: str | None, after: str, limit: int
) -> list[Referral]:
    query = select(Referral)
    if role == "charity":
        query = query.where(Referral.to_org == org)
    else:
        query = query.where(Referral.from_org == org)
    if state:
        query = query.where(Referral.state == state)
    if after:
        query = query.where(Referral.referral_id > after)
    return list(session.scalars(query.order_by(Referral.referral_id).limit(limit)))


def transition(
    session: Session,
    referral: Referral,
    state: str,
    *,
    org: str,
    actor: str,
    reason: str,
    now_ns: int,
) -> Referral:
    allowed = TRANSITIONS.get(referral.state, frozenset())
    if state not in allowed:
        raise errors.FailedPrecondition(
            f"referral {referral.referral_id} is {referral.state}; it cannot become {state}",
            field="state",
        )
    referral.state = state
    referral.updated_at_ns = now_ns
    session.add(
        ReferralEvent(
            referral_id=referral.referral_id,
            state=state,
            at_ns=now_ns,
            org=org,
            actor=actor,
            reason=reason,
        )
    )
    return referral


def require_live(referral: Referral, release: str) -> None:
    if referral.state not in LIVE_FOR[release]:
        raise errors.FailedPrecondition(
            f"referral {referral.referral_id} is {referral.state}: no {release} can be released",
            field="referral_id",
        )


def note_of(referral: Referral, cipher: FieldCipher) -> str:
    if referral.note_enc is None:
        return ""
    return str(json.loads(cipher.decrypt(referral.note_enc, referral.referral_id.encode())))


def policy_resource(referral: Referral, case: Case | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "kind": "referral",
        "id": referral.referral_id,
        "office_id": referral.from_org,
        "from_org": referral.from_org,
        "to_org": referral.to_org,
        "state": referral.state,
    }
    if case is not None:
        resource["office_id"] = case.office_id
        resource["street"] = case.street
    return resource
