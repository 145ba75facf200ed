"""Referrals in the store: forward referrals (government → charity), their events, help
delivered on them, and reverse referrals (charity → government).

Every function takes a SQLAlchemy ``Session`` already inside a transaction; the caller commits,
so a failure stores nothing. Every state change — by a call, by the expiry sweep, by the
consent-withdrawal cascade — goes through ``change_state`` / ``change_reverse_state``, which
ask the state machine (``gateway.referrals.states``) and append the event: rows are never moved
to a state any other way. Free text (notes, help descriptions, reverse-referral payloads) is
kept encrypted at rest (``gateway.privacy.crypto``) with the row id as associated data.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from gateway import errors
from gateway.consent.model import Evidence, Grantor, Notice
from gateway.consent.signing import canonical_json
from gateway.privacy.crypto import FieldCipher
from gateway.referrals import model, states
from gateway.referrals.states import GATEWAY, LIVE_FOR
from gateway.store.group_commit import Insert
from gateway.store.models import (
    Case,
    HelpRecord,
    Project,
    Referral,
    ReferralEvent,
    ReverseReferral,
    ReverseReferralEvent,
)

REVERSE_CONSENT_SPEC = "aidbridge.reverse-referral-consent/v1"


def new_referral_id() -> str:
    return "ref-" + uuid.uuid4().hex[:20]


# --- forward referrals ------------------------------------------------------------------------


def create_referral(
    session: Session,
    *,
    case: Case,
    from_org: str,
    to_org: str,
    consent_id: str,
    purpose: str,
    note: str,
    referral_for: model.ReferralFor,
    respond_by_ns: int,
    actor: str,
    cipher: FieldCipher,
    now_ns: int,
) -> Referral:
    row, event = new_referral(
        case_id=case.case_id,
        from_org=from_org,
        to_org=to_org,
        consent_id=consent_id,
        purpose=purpose,
        note=note,
        referral_for=referral_for,
        respond_by_ns=respond_by_ns,
        actor=actor,
        cipher=cipher,
        now_ns=now_ns,
    )
    session.add(row)
    session.add(event)
    return row


def new_referral(
    *,
    case_id: str,
    from_org: str,
    to_org: str,
    consent_id: str,
    purpose: str,
    note: str,
    referral_for: model.ReferralFor,
    respond_by_ns: int,
    actor: str,
    cipher: FieldCipher,
    now_ns: int,
) -> tuple[Referral, ReferralEvent]:
    """A new referral in the machine's initial state and its first event, not yet stored:
    ``create_referral`` adds them to a session, a prepared call inserts ``rows_of`` them."""
    referral_id = new_referral_id()
    row = Referral(
        referral_id=referral_id,
        case_id=case_id,
        from_org=from_org,
        to_org=to_org,
        consent_id=consent_id,
        purpose=purpose,
        state=states.referral_machine().initial,
        fast_track=referral_for.fast_track,
        note_enc=_seal(cipher, note, referral_id) if note else None,
        key_id=cipher.key_id,
        created_at_ns=now_ns,
        updated_at_ns=now_ns,
        respond_by_ns=respond_by_ns,
        hardship_type=referral_for.hardship_type,
        severity=referral_for.severity,
        severity_rank=referral_for.severity_rank,
        special_group=referral_for.special_group,
    )
    event = ReferralEvent(
        referral_id=referral_id,
        state=row.state,
        at_ns=now_ns,
        org=from_org,
        actor=actor,
        reason="",
        reason_code="",
    )
    return row, event


def rows_of(*objects: Any) -> list[Insert]:
    """Rows to insert (a table and its values) of ORM objects built but never added: every
    column that was set (an autoincrement id is left to the database)."""
    rows: list[Insert] = []
    for obj in objects:
        table = obj.__table__
        values = {c.key: obj.__dict__[c.key] for c in table.columns if c.key in obj.__dict__}
        rows.append((table, values))
    return rows


def get_referral(session: Session, referral_id: str, *, lock: bool = False) -> Referral:
    if not referral_id:
        raise errors.InvalidArgument("referral_id is required", field="referral_id")
    query = select(Referral).where(Referral.referral_id == referral_id)
    if lock:
        query = query.with_for_update()
    row = session.scalars(query).first()
    if row is None:
        raise errors.NotFound(f"referral {referral_id!r} not found", field="referral_id")
    return row


def queue_token(row: Referral) -> str:
    return f"{row.severity_rank}.{row.created_at_ns}.{row.referral_id}"


def list_referrals(
    session: Session, *, org: str, role: str, state: str | None, after: str, limit: int
) -> list[Referral]:
    """The caller's referrals (a charity: sent to it; an office: sent by it), most severe
    first, then longest waiting, then by id; ``after`` is the last row's ``queue_token``."""
    query = select(Referral)
    if role == states.CHARITY:
        query = query.where(Referral.to_org == org)
    else:
        query = query.where(Referral.from_org == org)
    if state:
        query = query.where(Referral.state == state)
    if after:
        rank, created, referral_id = _parse_token(after)
        # (-rank, created, id) ascending, written without negation so the index serves it.
        query = query.where(
            (Referral.severity_rank < rank)
            | (
                (Referral.severity_rank == rank)
                & (
                    tuple_(Referral.created_at_ns, Referral.referral_id)
                    > tuple_(created, referral_id)
                )
            )
        )
    query = query.order_by(
        Referral.severity_rank.desc(), Referral.created_at_ns, Referral.referral_id
    )
    return list(session.scalars(query.limit(limit)))


def _parse_token(token: str) -> tuple[int, int, str]:
    parts = token.split(".", 2)
    try:
        rank, created, referral_id = int(parts[0]), int(parts[1]), parts[2]
    except (IndexError, ValueError):
        raise errors.InvalidArgument(
            "page.page_token is not a token this list returned", field="page"
        ) from None
    if not (0 <= rank <= 9 and 0 <= created < 2**63):
        raise errors.InvalidArgument(
            "page.page_token is not a token this list returned", field="page"
        )
    return rank, created, referral_id


def change_state(
    session: Session,
    referral: Referral,
    change: model.StateChange,
    *,
    role: str,
    org: str,
    actor: str,
    now_ns: int,
) -> Referral:
    """The one way a referral changes state: the machine must allow ``role`` this step from
    the current state, and completion needs help recorded. Appends the event."""
    event = check_state_change(
        session, referral, change, role=role, org=org, actor=actor, now_ns=now_ns
    )
    referral.state = change.target
    referral.updated_at_ns = now_ns
    session.add(event)
    return referral


def check_state_change(
    session: Session,
    referral: Referral,
    change: model.StateChange,
    *,
    role: str,
    org: str,
    actor: str,
    now_ns: int,
) -> ReferralEvent:
    """What ``change_state`` checks, and the event it appends, not yet stored (a prepared call
    inserts it, and moves the referral by a guarded update)."""
    machine = states.referral_machine()
    machine.check(f"referral {referral.referral_id}", referral.state, change.target, role)
    if change.target == states.COMPLETED and help_count(session, referral.referral_id) == 0:
        raise errors.FailedPrecondition(
            f"referral {referral.referral_id} has no help recorded: record the help delivered "
            "(RecordHelp) before completing it",
            field="state",
        )
    return ReferralEvent(
        referral_id=referral.referral_id,
        state=change.target,
        at_ns=now_ns,
        org=org,
        actor=actor,
        reason=change.reason,
        reason_code=change.reason_code,
    )


def cancel_resting_on(
    session: Session,
    consent_id: str,
    *,
    target: str,
    org: str,
    actor: str,
    reason: str,
    now_ns: int,
) -> list[Referral]:
    """The consent-withdrawal cascade: every open referral resting on ``consent_id`` becomes
    ``target`` (cancelled-by-withdrawal, or cancelled for a consent entered in error)."""
    machine = states.referral_machine()
    rows = session.scalars(
        select(Referral)
        .where(Referral.consent_id == consent_id, Referral.state.in_(sorted(machine.open_states)))
        .order_by(Referral.referral_id)
        .with_for_update()
    ).all()
    for row in rows:
        change_state(
            session,
            row,
            model.StateChange(target=target, reason=reason),
            role=GATEWAY,
            org=org,
            actor=actor,
            now_ns=now_ns,
        )
    return list(rows)


def expire_due(session: Session, now_ns: int, *, org: str, actor: str) -> list[Referral]:
    """The sweep: every referral still ``requested`` at its respond-by time becomes expired."""
    rows = session.scalars(
        select(Referral)
        .where(
            Referral.state == states.referral_machine().initial,
            Referral.respond_by_ns <= now_ns,
        )
        .order_by(Referral.referral_id)
        .with_for_update()
    ).all()
    for row in rows:
        change_state(
            session,
            row,
            model.StateChange(
                target=states.EXPIRED, reason="nobody acted before the respond-by time"
            ),
            role=GATEWAY,
            org=org,
            actor=actor,
            now_ns=now_ns,
        )
    return list(rows)


def events_of(session: Session, referral_id: str) -> list[model.EventView]:
    rows = session.scalars(
        select(ReferralEvent)
        .where(ReferralEvent.referral_id == referral_id)
        .order_by(ReferralEvent.id)
    )
    return [_event_view(r) for r in rows]


def event_feed(
    session: Session,
    *,
    org: str,
    role: str,
    after_event_id: int,
    referral_id: str,
    limit: int,
) -> list[model.EventView]:
    """State changes of the caller's referrals (an office: sent by it; a charity: sent to it)
    after ``after_event_id``, in the order they happened."""
    party = Referral.to_org if role == states.CHARITY else Referral.from_org
    query = (
        select(ReferralEvent)
        .join(Referral, Referral.referral_id == ReferralEvent.referral_id)
        .where(party == org, ReferralEvent.id > after_event_id)
    )
    if referral_id:
        query = query.where(ReferralEvent.referral_id == referral_id)
    return [_event_view(r) for r in session.scalars(query.order_by(ReferralEvent.id).limit(limit))]


def _event_view(row: ReferralEvent) -> model.EventView:
    return model.EventView(
        event_id=int(row.id),
        referral_id=row.referral_id,
        state=row.state,
        at_ns=row.at_ns,
        org=row.org,
        actor=row.actor,
        reason=row.reason or "",
        reason_code=row.reason_code or "",
    )


def latest_reason_code(session: Session, referral: Referral) -> str:
    if referral.state != states.REJECTED:
        return ""
    code = session.scalar(
        select(ReferralEvent.reason_code)
        .where(
            ReferralEvent.referral_id == referral.referral_id,
            ReferralEvent.state == states.REJECTED,
        )
        .order_by(ReferralEvent.id.desc())
        .limit(1)
    )
    return code or ""


def require_live(referral: Referral, release: str) -> None:
    if referral.state not in LIVE_FOR[release]:
        raise errors.FailedPrecondition(
            f"referral {referral.referral_id} is {referral.state}: no {release} can be released",
            field="referral_id",
        )


def note_of(referral: Referral, cipher: FieldCipher) -> str:
    if referral.note_enc is None:
        return ""
    return _open(cipher, referral.note_enc, referral.referral_id)


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


# --- help delivered ----------------------------------------------------------------------------


def record_help(
    session: Session,
    referral: Referral,
    draft: model.HelpDraft,
    *,
    org: str,
    actor: str,
    cipher: FieldCipher,
    now_ns: int,
) -> model.HelpRecordView:
    if referral.state not in states.HELP_STATES:
        raise errors.FailedPrecondition(
            f"referral {referral.referral_id} is {referral.state}: help can be recorded only on "
            "a referral taken on",
            field="help.referral_id",
        )
    if draft.project_id:
        project = session.get(Project, draft.project_id)
        if project is None:
            raise errors.NotFound(
                f"help.project_id: project {draft.project_id!r} not found", field="help.project_id"
            )
        if project.org_id != org:
            raise errors.FailedPrecondition(
                f"help.project_id: project {draft.project_id} is not a project of {org}",
                field="help.project_id",
            )
    help_id = "help-" + uuid.uuid4().hex[:20]
    row = HelpRecord(
        help_id=help_id,
        referral_id=referral.referral_id,
        org=org,
        kind=draft.kind,
        amount_fen=draft.amount_fen,
        minutes=draft.minutes,
        delivered_at_ns=draft.delivered_at_ns,
        project_id=draft.project_id,
        description_enc=_seal(cipher, draft.description, help_id) if draft.description else None,
        key_id=cipher.key_id,
        actor=actor,
        recorded_at_ns=now_ns,
    )
    session.add(row)
    session.flush()
    return _help_view(row, cipher)


def help_count(session: Session, referral_id: str) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(HelpRecord)
            .where(HelpRecord.referral_id == referral_id)
        )
        or 0
    )


def help_of(session: Session, referral_id: str, cipher: FieldCipher) -> list[model.HelpRecordView]:
    rows = session.scalars(
        select(HelpRecord)
        .where(HelpRecord.referral_id == referral_id)
        .order_by(HelpRecord.recorded_at_ns, HelpRecord.help_id)
    )
    return [_help_view(r, cipher) for r in rows]


def _help_view(row: HelpRecord, cipher: FieldCipher) -> model.HelpRecordView:
    return model.HelpRecordView(
        help_id=row.help_id,
        referral_id=row.referral_id,
        org=row.org,
        kind=row.kind,
        amount_fen=int(row.amount_fen),
        minutes=int(row.minutes),
        delivered_at_ns=int(row.delivered_at_ns),
        project_id=row.project_id or "",
        description=_open(cipher, row.description_enc, row.help_id) if row.description_enc else "",
        recorded_at_ns=int(row.recorded_at_ns),
    )


# --- reverse referrals -------------------------------------------------------------------------


def create_reverse(
    session: Session,
    draft: model.ReverseDraft,
    *,
    from_org: str,
    actor: str,
    sign: Any,
    signing_key_id: str,
    subject_index: str,
    cipher: FieldCipher,
    now_ns: int,
) -> model.ReverseView:
    """Store a reverse referral with its consent signed by the gateway (``sign``: bytes →
    base64 signature, the consent key), the person's store index, and its first event."""
    reverse_id = "rev-" + uuid.uuid4().hex[:20]
    initial = states.reverse_machine().initial
    signed = canonical_json(
        {
            "spec": REVERSE_CONSENT_SPEC,
            "reverse_referral_id": reverse_id,
            "from_org": from_org,
            "subject_resident_id": draft.subject_resident_id,
            "consent": _consent_doc(draft.consent),
            "recorded_at_ns": now_ns,
        }
    )
    signature = str(sign(signed))
    payload = {"draft": _draft_doc(draft), "signing_key_id": signing_key_id, "outcome_note": ""}
    row = ReverseReferral(
        reverse_referral_id=reverse_id,
        from_org=from_org,
        to_office=draft.to_office,
        state=initial,
        payload_enc=_seal(cipher, payload, reverse_id),
        key_id=cipher.key_id,
        created_at_ns=now_ns,
        updated_at_ns=now_ns,
        purpose=draft.purpose,
        suspected_aid=draft.suspected_aid,
        consent_signature=signature,
        consent_valid_until_ns=draft.consent.valid_until_ns,
        close_reason="",
        application_id="",
        subject_index=subject_index,
    )
    session.add(row)
    session.add(
        ReverseReferralEvent(
            reverse_referral_id=reverse_id,
            state=initial,
            at_ns=now_ns,
            org=from_org,
            actor=actor,
            reason_code="",
        )
    )
    session.flush()
    return reverse_view(session, row, cipher)


def get_reverse(session: Session, reverse_id: str, *, lock: bool = False) -> ReverseReferral:
    if not reverse_id:
        raise errors.InvalidArgument("reverse_referral_id is required", field="reverse_referral_id")
    query = select(ReverseReferral).where(ReverseReferral.reverse_referral_id == reverse_id)
    if lock:
        query = query.with_for_update()
    row = session.scalars(query).first()
    if row is None:
        raise errors.NotFound(
            f"reverse referral {reverse_id!r} not found", field="reverse_referral_id"
        )
    return row


def list_reverse(
    session: Session, *, org: str, role: str, state: str, after: str, limit: int
) -> list[ReverseReferral]:
    """An office's received reverse referrals, or a charity's sent ones; newest first."""
    query = select(ReverseReferral)
    if role == states.CHARITY:
        query = query.where(ReverseReferral.from_org == org)
    else:
        query = query.where(ReverseReferral.to_office == org)
    if state:
        query = query.where(ReverseReferral.state == state)
    if after:
        created_ns, reverse_id = _parse_reverse_token(after)
        query = query.where(
            tuple_(ReverseReferral.created_at_ns, ReverseReferral.reverse_referral_id)
            < tuple_(created_ns, reverse_id)
        )
    query = query.order_by(
        ReverseReferral.created_at_ns.desc(), ReverseReferral.reverse_referral_id.desc()
    )
    return list(session.scalars(query.limit(limit)))


def _parse_reverse_token(token: str) -> tuple[int, str]:
    """``created_at_ns.reverse_referral_id`` as reverse_token writes it; anything else, a number
    a BIGINT cannot hold included, is the caller's error and never reaches the database."""
    created, dot, reverse_id = token.partition(".")
    try:
        created_ns = int(created)
    except ValueError:
        created_ns = -1
    if not (dot and reverse_id and 0 <= created_ns < 2**63):
        raise errors.InvalidArgument(
            "page.page_token is not a token this list returned", field="page"
        )
    return created_ns, reverse_id


def reverse_token(row: ReverseReferral) -> str:
    return f"{row.created_at_ns}.{row.reverse_referral_id}"


def change_reverse_state(
    session: Session,
    row: ReverseReferral,
    outcome: model.ReverseOutcome,
    *,
    role: str,
    org: str,
    actor: str,
    cipher: FieldCipher,
    now_ns: int,
) -> ReverseReferral:
    """The one way a reverse referral changes state; appends the event, keeps the note sealed."""
    machine = states.reverse_machine()
    machine.check(f"reverse referral {row.reverse_referral_id}", row.state, outcome.target, role)
    row.state = outcome.target
    row.updated_at_ns = now_ns
    if outcome.close_reason:
        row.close_reason = outcome.close_reason
    if outcome.application_id:
        row.application_id = outcome.application_id
    if outcome.note:
        payload = _open_json(cipher, row.payload_enc, row.reverse_referral_id)
        payload["outcome_note"] = outcome.note
        row.payload_enc = _seal(cipher, payload, row.reverse_referral_id)
        row.key_id = cipher.key_id
    session.add(
        ReverseReferralEvent(
            reverse_referral_id=row.reverse_referral_id,
            state=outcome.target,
            at_ns=now_ns,
            org=org,
            actor=actor,
            reason_code=outcome.close_reason,
        )
    )
    session.flush()
    return row


def reverse_view(session: Session, row: ReverseReferral, cipher: FieldCipher) -> model.ReverseView:
    payload = _open_json(cipher, row.payload_enc, row.reverse_referral_id)
    events = session.scalars(
        select(ReverseReferralEvent)
        .where(ReverseReferralEvent.reverse_referral_id == row.reverse_referral_id)
        .order_by(ReverseReferralEvent.id)
    )
    return model.ReverseView(
        reverse_referral_id=row.reverse_referral_id,
        from_org=row.from_org,
        to_office=row.to_office,
        state=row.state,
        draft=_draft_from(payload["draft"]),
        consent_signature=row.consent_signature,
        signing_key_id=str(payload.get("signing_key_id", "")),
        close_reason=row.close_reason or "",
        application_id=row.application_id or "",
        outcome_note=str(payload.get("outcome_note", "")),
        created_at_ns=row.created_at_ns,
        updated_at_ns=row.updated_at_ns,
        events=tuple(
            model.EventView(
                event_id=int(e.id),
                referral_id=e.reverse_referral_id,
                state=e.state,
                at_ns=e.at_ns,
                org=e.org,
                actor=e.actor,
                reason="",
                reason_code=e.reason_code or "",
            )
            for e in events
        ),
    )


def reverse_policy_resource(row: ReverseReferral) -> dict[str, Any]:
    return {
        "kind": "reverse_referral",
        "id": row.reverse_referral_id,
        "from_org": row.from_org,
        "to_org": row.to_office,
        "state": row.state,
    }


def reverse_subject(row: Any, cipher: FieldCipher) -> str:
    """The person's resident id, from the sealed payload of ``row`` (an ORM row or a Core one
    with its id and payload): what revision 0012 indexes the stored rows by."""
    payload = _open_json(cipher, row.payload_enc, row.reverse_referral_id)
    return str(payload["draft"]["subject_resident_id"])


def _consent_doc(c: model.ReverseConsent) -> dict[str, Any]:
    return {
        "grantor": asdict(c.grantor),
        "notice": asdict(c.notice),
        "evidence": asdict(c.evidence),
        "recipient_office": c.recipient_office,
        "purpose": c.purpose,
        "valid_from_ns": c.valid_from_ns,
        "valid_until_ns": c.valid_until_ns,
    }


def _draft_doc(d: model.ReverseDraft) -> dict[str, Any]:
    doc = asdict(d)
    doc["consent"] = _consent_doc(d.consent)
    return doc


def _draft_from(doc: dict[str, Any]) -> model.ReverseDraft:
    c = doc["consent"]
    consent = model.ReverseConsent(
        grantor=Grantor(**c["grantor"]),
        notice=Notice(**c["notice"]),
        evidence=Evidence(**c["evidence"]),
        recipient_office=c["recipient_office"],
        purpose=c["purpose"],
        valid_from_ns=int(c["valid_from_ns"]),
        valid_until_ns=int(c["valid_until_ns"]),
    )
    return model.ReverseDraft(**{**doc, "consent": consent})


def _seal(cipher: FieldCipher, value: Any, row_id: str) -> bytes:
    return cipher.encrypt(json.dumps(value, ensure_ascii=False).encode(), row_id.encode())


def _open_json(cipher: FieldCipher, blob: bytes, row_id: str) -> Any:
    return json.loads(cipher.decrypt(blob, row_id.encode()))


def _open(cipher: FieldCipher, blob: bytes, row_id: str) -> str:
    return str(_open_json(cipher, blob, row_id))
