"""Consents in the store: record, read, end, and the deletion duties that follow.

Every function takes a SQLAlchemy ``Session`` already inside a transaction; the caller commits
(``Store.write()``), so a failure stores nothing. Records are immutable and events append-only
(DESIGN.md "Consent"): a consent's state is its first terminal event, else active. Nothing here
caches: each read goes to the database, so a withdrawal is effective on the very next call.
Withdrawal follows PIPL Art. 15 and 47: referrals that rested on the consent are cancelled and
every organisation that received data under it is told to delete and must attest that it did.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Table, bindparam, exists, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from gateway.clock import NS_PER_DAY, iso, to_date
from gateway.consent.model import (
    ACTIVE,
    ENTERED_IN_ERROR,
    EXPIRED,
    NOT_YET_VALID,
    NOTICE_ENTERED_IN_ERROR,
    NOTICE_EXPIRED,
    NOTICE_WITHDRAWN,
    RECORDED,
    SUPERSEDED,
    TERMINAL_STATES,
    WITHDRAWN,
    ConsentDraft,
    ConsentEventRecord,
    ConsentRecord,
    Evidence,
    Grantor,
    Notice,
    NotificationRecord,
    SubjectFacts,
    WithdrawalResult,
)
from gateway.consent.signing import (
    canonical_bytes,
    consent_key_id,
    record_from_canonical,
    sign_record,
    verify_record,
)
from gateway.consent.validate import age_years, validate_draft
from gateway.errors import (
    AidBridgeError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from gateway.keys import KeyRing
from gateway.policy.catalogue import Catalogue
from gateway.privacy.crypto import FieldCipher
from gateway.referrals import repository as referral_store
from gateway.referrals.states import CANCELLED, CANCELLED_BY_WITHDRAWAL
from gateway.store.models import (
    Case,
    Consent,
    ConsentEvent,
    DeletionAttestation,
    Notification,
    Release,
)

DEFAULT_DELETION_DEADLINE_DAYS = 30
# The sweep is the gateway itself, not a person: its events name it so.
GATEWAY_ORG = "gateway"
EXPIRY_SWEEP_ACTOR = "expiry-sweep"


PseudonymFor = Callable[[str, str], str]
"""``pseudonym_for(recipient, case_id)``: the recipient's own pseudonym of the case's subject."""


class ConsentIntegrityError(AidBridgeError):
    """The stored consent does not match its signed record: the store was altered."""

    code = "DATA_LOSS"


# --- recording ---------------------------------------------------------------------------------


def record_consent(
    session: Session,
    draft: ConsentDraft,
    *,
    org: str,
    actor: str,
    keys: KeyRing,
    cipher: FieldCipher,
    catalogue: Catalogue,
    now_ns: int,
) -> ConsentRecord:
    """Validate, sign and store a consent; supersede the one it replaces. Returns it active."""
    if not actor.strip():
        raise InvalidArgument("actor is required: who recorded the consent", field="actor")
    case = _case(session, draft.case_id)
    draft = _normalised(draft)
    validate_draft(
        draft,
        subject_birth_date=_birth_date(case),
        lacks_capacity=bool(case.lacks_capacity),
        catalogue=catalogue,
        now_ns=now_ns,
    )
    version = 1
    replaced: Consent | None = None
    if draft.supersedes is not None:
        replaced = _superseded_target(session, draft, now_ns)
        version = replaced.version + 1
    _refuse_second_live_consent(session, draft, now_ns, replacing=replaced)

    record, row = signed_consent(
        draft, version=version, org=org, actor=actor, keys=keys, cipher=cipher, now_ns=now_ns
    )
    consent_id = record.consent_id
    session.add(row)
    session.flush()
    reason = f"supersedes {draft.supersedes}" if draft.supersedes else ""
    _append_event(session, consent_id, RECORDED, now_ns, org, actor, reason)
    if replaced is not None:
        _append_event(
            session,
            replaced.consent_id,
            SUPERSEDED,
            now_ns,
            org,
            actor,
            f"superseded by {consent_id}",
        )
    session.flush()
    return record


def signed_consent(
    draft: ConsentDraft,
    *,
    version: int,
    org: str,
    actor: str,
    keys: KeyRing,
    cipher: FieldCipher,
    now_ns: int,
) -> tuple[ConsentRecord, Consent]:
    """A validated draft as a new active consent: its signed record and the row that stores it
    sealed (not yet added to a session; ``record_consent`` adds it with its events)."""
    consent_id = "c-" + uuid.uuid4().hex
    unsigned = ConsentRecord(
        consent_id=consent_id,
        version=version,
        case_id=draft.case_id,
        grantor=draft.grantor,
        recipient_org=draft.recipient_org,
        purpose=draft.purpose,
        categories=draft.categories,
        fields=draft.fields,
        access_mode=draft.access_mode,
        valid_from_ns=draft.valid_from_ns,
        valid_until_ns=draft.valid_until_ns,
        retention_days=draft.retention_days,
        notice=draft.notice,
        evidence=draft.evidence,
        supersedes=draft.supersedes,
        recorded_by_org=org,
        recorded_by_actor=actor,
        recorded_at_ns=now_ns,
        signature="",
        signing_key_id=consent_key_id(keys.version),
        state=ACTIVE,
    )
    record = replace(unsigned, signature=sign_record(unsigned, keys.signing_key("consent")))
    row = Consent(
        consent_id=consent_id,
        version=version,
        case_id=record.case_id,
        recipient_org=record.recipient_org,
        purpose=record.purpose,
        grantor_kind=record.grantor.kind,
        categories_json=json.dumps(list(record.categories)),
        fields_json=json.dumps(list(record.fields)),
        access_mode=record.access_mode,
        valid_from_ns=record.valid_from_ns,
        valid_until_ns=record.valid_until_ns,
        retention_days=record.retention_days,
        supersedes=record.supersedes,
        recorded_by_org=org,
        recorded_by_actor=actor,
        recorded_at_ns=now_ns,
        record_enc=cipher.encrypt(canonical_bytes(record), _aad(consent_id)),
        key_id=cipher.key_id,
        signature=record.signature,
        signing_key_id=record.signing_key_id,
    )
    return record, row


def _normalised(draft: ConsentDraft) -> ConsentDraft:
    """One spelling per draft: sorted, de-duplicated lists and lower-case hex digests."""
    return ConsentDraft(
        case_id=draft.case_id,
        grantor=draft.grantor,
        recipient_org=draft.recipient_org,
        purpose=draft.purpose,
        categories=tuple(sorted(set(draft.categories))),
        fields=tuple(sorted(set(draft.fields))),
        access_mode=draft.access_mode,
        valid_from_ns=draft.valid_from_ns,
        valid_until_ns=draft.valid_until_ns,
        retention_days=draft.retention_days,
        notice=Notice(version=draft.notice.version, sha256=draft.notice.sha256.lower()),
        evidence=Evidence(
            form_sha256=draft.evidence.form_sha256.lower(), witness=draft.evidence.witness
        ),
        supersedes=draft.supersedes,
    )


def _superseded_target(session: Session, draft: ConsentDraft, now_ns: int) -> Consent:
    assert draft.supersedes is not None
    row = _consent_row(session, draft.supersedes, lock=True, field="supersedes")
    if row.case_id != draft.case_id:
        raise FailedPrecondition(
            f"supersedes must name a consent of case {draft.case_id}, "
            f"got {row.consent_id} of another case",
            field="supersedes",
        )
    state = _effective_state(_stored_state(session, row.consent_id), row, now_ns)
    if state not in (ACTIVE, NOT_YET_VALID):
        raise FailedPrecondition(
            f"supersedes must name an active consent, got {row.consent_id} which is {state}",
            field="supersedes",
        )
    return row


def _refuse_second_live_consent(
    session: Session, draft: ConsentDraft, now_ns: int, *, replacing: Consent | None
) -> None:
    """One consent per subject × recipient × purpose (PIPL Art. 23): a new one must supersede."""
    rows = session.scalars(
        select(Consent).where(
            Consent.case_id == draft.case_id,
            Consent.recipient_org == draft.recipient_org,
            Consent.purpose == draft.purpose,
        )
    ).all()
    states = _stored_states(session, [row.consent_id for row in rows])
    for row in rows:
        if replacing is not None and row.consent_id == replacing.consent_id:
            continue
        if _effective_state(states[row.consent_id], row, now_ns) in (ACTIVE, NOT_YET_VALID):
            raise FailedPrecondition(
                f"supersedes must name {row.consent_id}: it is the live consent of this case for "
                f"{draft.recipient_org} and {draft.purpose}, and there is one at a time",
                field="supersedes",
            )


# --- reading ----------------------------------------------------------------------------------


def get_consent(
    session: Session,
    consent_id: str,
    *,
    cipher: FieldCipher | None,
    verify_with: Ed25519PublicKey | None = None,
) -> ConsentRecord:
    """The full record with its state from events (not the clock); NotFound if absent.
    With ``cipher=None`` the record of its columns only (nothing decrypted: what a decision
    needs before it allows the call; no grantor name, notice or evidence).

    With ``verify_with`` the gateway's signature is checked too, so an altered store is noticed.
    """
    row = _consent_row(session, consent_id)
    record = _record(row, _stored_state(session, consent_id), cipher)
    if verify_with is not None:
        verify_record(record, verify_with)
    return record


def effective_consent(
    session: Session, consent_id: str, now_ns: int, *, cipher: FieldCipher | None = None
) -> ConsentRecord:
    """The consent as enforcement must see it at ``now_ns``: its state from events, then the
    clock: an active consent at or past ``valid_until`` is expired even before the sweep ran,
    and one before ``valid_from`` is not yet valid. Read from the database on every call.

    Without ``cipher`` (the columns only) it is one Core statement: the record's columns and its
    first terminal event together (``consent_read_columns``)."""
    if cipher is not None:
        row = _consent_row(session, consent_id)
        state = _effective_state(_stored_state(session, consent_id), row, now_ns)
        return _record(row, state, cipher)
    found = session.execute(_EFFECTIVE_CONSENT, {"consent_id": consent_id}).first()
    if found is None:
        raise NotFound(f"consent {consent_id} does not exist", field="consent_id")
    return effective_consent_of(found, now_ns)


# The columns of a consent that enforcement reads (the record's policy columns, not the sealed
# record), and the SQL of its stored state: its first terminal event, NULL while it is active
# (``_stored_states`` says the same in Python).
_CONSENTS: Table = Consent.__table__  # type: ignore[assignment]
_EVENTS: Table = ConsentEvent.__table__  # type: ignore[assignment]
_READ_COLUMNS = tuple(c for c in _CONSENTS.c if c.name not in ("record_enc", "key_id"))
FIRST_TERMINAL = "first_terminal_event"


def consent_read_columns(prefix: str = "") -> list[Any]:
    """Select-list entries of a consent's read columns and its first terminal event, labelled
    ``prefix`` + column name, for a query that selects from ``consents`` (joined as it likes);
    ``effective_consent_of`` turns such a row into the record."""
    first_terminal = (
        select(_EVENTS.c.event)
        .where(
            _EVENTS.c.consent_id == _CONSENTS.c.consent_id,
            _EVENTS.c.event.in_(sorted(TERMINAL_STATES)),
        )
        .order_by(_EVENTS.c.id)
        .limit(1)
        .scalar_subquery()
    )
    return [c.label(prefix + c.name) for c in _READ_COLUMNS] + [
        first_terminal.label(prefix + FIRST_TERMINAL)
    ]


def effective_consent_of(row: Any, now_ns: int, *, prefix: str = "") -> ConsentRecord:
    """``effective_consent`` of a row read with ``consent_read_columns(prefix)``; NotFound if
    the row has no consent (an outer join found none)."""
    columns = _Columns(row._mapping, prefix)
    if columns.consent_id is None:
        raise NotFound(f"consent {row._mapping['consent_id']} does not exist", field="consent_id")
    stored = getattr(columns, FIRST_TERMINAL) or ACTIVE
    return _record_from_columns(columns, _effective_state(stored, columns, now_ns))


class _Columns:
    """Attribute access to a row's ``prefix``-labelled columns, as a ``Consent`` row has them."""

    __slots__ = ("_mapping", "_prefix")

    def __init__(self, mapping: Any, prefix: str) -> None:
        self._mapping = mapping
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        return self._mapping[self._prefix + name]


_EFFECTIVE_CONSENT = select(*consent_read_columns()).where(
    _CONSENTS.c.consent_id == bindparam("consent_id")
)


def list_consents(
    session: Session,
    case_id: str,
    state: str | None = None,
    *,
    cipher: FieldCipher | None = None,
    now_ns: int | None = None,
) -> list[ConsentRecord]:
    """A case's consents, oldest first; filtered by state if given. With ``now_ns`` the states
    are the effective ones (clock checked), as ``effective_consent`` gives them."""
    rows = session.scalars(
        select(Consent)
        .where(Consent.case_id == case_id)
        .order_by(Consent.recorded_at_ns, Consent.consent_id)
    ).all()
    states = _stored_states(session, [row.consent_id for row in rows])
    records = []
    for row in rows:
        current = states[row.consent_id]
        if now_ns is not None:
            current = _effective_state(current, row, now_ns)
        if state is None or current == state:
            records.append(_record(row, current, cipher))
    return records


def events(session: Session, consent_id: str) -> list[ConsentEventRecord]:
    """Every transition of a consent, in the order they happened."""
    _consent_row(session, consent_id)
    rows = session.scalars(
        select(ConsentEvent).where(ConsentEvent.consent_id == consent_id).order_by(ConsentEvent.id)
    ).all()
    return [
        ConsentEventRecord(
            consent_id=row.consent_id,
            event=row.event,
            at_ns=row.at_ns,
            org=row.org,
            actor=row.actor,
            reason=row.reason,
        )
        for row in rows
    ]


def subject_facts(session: Session, case_id: str, now_ns: int) -> SubjectFacts:
    """The subject's age today (China time) and capacity, for the policy's guardian rules."""
    case = _case(session, case_id)
    return SubjectFacts(
        age_years=age_years(_birth_date(case), to_date(now_ns)),
        lacks_capacity=bool(case.lacks_capacity),
    )


# --- ending -----------------------------------------------------------------------------------


def withdraw(
    session: Session,
    consent_id: str,
    *,
    org: str,
    actor: str,
    reason: str,
    now_ns: int,
    pseudonym_for: PseudonymFor,
    deadline_days: int = DEFAULT_DELETION_DEADLINE_DAYS,
    cipher: FieldCipher | None = None,
) -> WithdrawalResult:
    """Withdraw on the person's word (PIPL Art. 15): open referrals resting on the consent are
    cancelled, and each org that received data under it is told to delete by the deadline."""
    return _end(
        session,
        consent_id,
        event=WITHDRAWN,
        notice_kind=NOTICE_WITHDRAWN,
        referral_state=CANCELLED_BY_WITHDRAWAL,
        org=org,
        actor=actor,
        reason=reason,
        now_ns=now_ns,
        pseudonym_for=pseudonym_for,
        deadline_days=deadline_days,
        cipher=cipher,
    )


def mark_entered_in_error(
    session: Session,
    consent_id: str,
    *,
    org: str,
    actor: str,
    reason: str,
    now_ns: int,
    pseudonym_for: PseudonymFor,
    deadline_days: int = DEFAULT_DELETION_DEADLINE_DAYS,
    cipher: FieldCipher | None = None,
) -> WithdrawalResult:
    """Record that the consent should never have been recorded. Whatever was released under it
    was released without a valid consent, so it ends exactly as a withdrawal does."""
    if not reason.strip():
        raise InvalidArgument(
            "reason is required: say why the consent was entered in error", field="reason"
        )
    return _end(
        session,
        consent_id,
        event=ENTERED_IN_ERROR,
        notice_kind=NOTICE_ENTERED_IN_ERROR,
        referral_state=CANCELLED,
        org=org,
        actor=actor,
        reason=reason,
        now_ns=now_ns,
        pseudonym_for=pseudonym_for,
        deadline_days=deadline_days,
        cipher=cipher,
    )


def expire_due(
    session: Session,
    now_ns: int,
    *,
    pseudonym_for: PseudonymFor,
    deadline_days: int = DEFAULT_DELETION_DEADLINE_DAYS,
) -> int:
    """The periodic sweep: record ``expired`` for every active consent whose validity ended at or
    before ``now_ns`` and notify the orgs that received data under it. Returns how many expired.
    Enforcement does not wait for it (``effective_consent`` checks the clock)."""
    deletion_deadline_ns = _deadline_ns(deadline_days)
    ended = exists().where(
        ConsentEvent.consent_id == Consent.consent_id,
        ConsentEvent.event.in_(sorted(TERMINAL_STATES)),
    )
    due = session.scalars(
        select(Consent.consent_id)
        .where(Consent.valid_until_ns <= now_ns, ~ended)
        .order_by(Consent.valid_until_ns, Consent.consent_id)
    ).all()
    for consent_id in due:
        row = _consent_row(session, consent_id, lock=True)
        _append_event(
            session,
            consent_id,
            EXPIRED,
            now_ns,
            GATEWAY_ORG,
            EXPIRY_SWEEP_ACTOR,
            f"validity ended at {iso(row.valid_until_ns)}",
        )
        _notify_recipients(
            session, row, NOTICE_EXPIRED, now_ns, pseudonym_for, deletion_deadline_ns
        )
    session.flush()
    return len(due)


def _end(
    session: Session,
    consent_id: str,
    *,
    event: str,
    notice_kind: str,
    referral_state: str,
    org: str,
    actor: str,
    reason: str,
    now_ns: int,
    pseudonym_for: PseudonymFor,
    deadline_days: int,
    cipher: FieldCipher | None,
) -> WithdrawalResult:
    if not actor.strip():
        raise InvalidArgument("actor is required: who ended the consent", field="actor")
    deletion_deadline_ns = _deadline_ns(deadline_days)
    # Locked so two concurrent ends cannot both see it active (PostgreSQL; SQLite writers are
    # already serialised by BEGIN IMMEDIATE).
    row = _consent_row(session, consent_id, lock=True)
    state = _stored_state(session, consent_id)
    if state != ACTIVE:
        raise FailedPrecondition(
            f"consent {consent_id} must be active to be {event}, but it is {state}",
            field="consent_id",
        )
    # A withdrawal is never refused for the record's sake: even a record that fails its
    # signature check must stop being used, so it is not verified here.
    record = _record(row, event, cipher)
    _append_event(session, consent_id, event, now_ns, org, actor, reason)
    cancelled = _cancel_open_referrals(
        session, consent_id, referral_state, now_ns, org, actor, f"consent {event}: {reason}"
    )
    notices = _notify_recipients(
        session, row, notice_kind, now_ns, pseudonym_for, deletion_deadline_ns
    )
    session.flush()
    return WithdrawalResult(
        record=record,
        referrals_cancelled=cancelled,
        recipients_notified=len(notices),
        notifications=tuple(notices),
    )


def _cancel_open_referrals(
    session: Session,
    consent_id: str,
    state: str,
    now_ns: int,
    org: str,
    actor: str,
    reason: str,
) -> int:
    # Through the referral state machine, as every referral state change is.
    cancelled = referral_store.cancel_resting_on(
        session, consent_id, target=state, org=org, actor=actor, reason=reason, now_ns=now_ns
    )
    return len(cancelled)


def _notify_recipients(
    session: Session,
    consent: Consent,
    kind: str,
    now_ns: int,
    pseudonym_for: PseudonymFor,
    deletion_deadline_ns: int,
) -> list[NotificationRecord]:
    orgs = session.scalars(
        select(Release.org).where(Release.consent_id == consent.consent_id).order_by(Release.org)
    ).all()
    notices = []
    for org in orgs:
        notice = NotificationRecord(
            notification_id="n-" + uuid.uuid4().hex,
            org=org,
            kind=kind,
            consent_id=consent.consent_id,
            subject=pseudonym_for(org, consent.case_id),
            created_at_ns=now_ns,
            delete_by_ns=now_ns + deletion_deadline_ns,
        )
        session.add(
            Notification(
                notification_id=notice.notification_id,
                org=notice.org,
                kind=notice.kind,
                consent_id=notice.consent_id,
                subject=notice.subject,
                created_at_ns=notice.created_at_ns,
                delete_by_ns=notice.delete_by_ns,
            )
        )
        notices.append(notice)
    return notices


# --- releases and deletion duties --------------------------------------------------------------


def record_release(session: Session, consent_id: str, org: str, now_ns: int) -> bool:
    """Remember that ``org`` received data under the consent, so it is told if the consent ends.
    Idempotent: returns True the first time for this consent and org, False after."""
    _consent_row(session, consent_id)
    values = {"consent_id": consent_id, "org": org, "first_at_ns": now_ns}
    # ON CONFLICT DO NOTHING: two replicas releasing at once cannot fail the call. The store
    # runs on SQLite or PostgreSQL only; both spell it the same.
    dialect_insert = (
        postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    )
    statement = (
        dialect_insert(Release)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["consent_id", "org"])
        .returning(Release.id)
    )
    # RETURNING yields the new row's id, or nothing when the row was already there.
    return session.execute(statement).scalar_one_or_none() is not None


def list_notifications(
    session: Session, org: str, include_attested: bool = False
) -> list[NotificationRecord]:
    """What ``org`` must act on, oldest first; attested ones only if asked."""
    query = (
        select(Notification, DeletionAttestation)
        .outerjoin(
            DeletionAttestation,
            DeletionAttestation.notification_id == Notification.notification_id,
        )
        .where(Notification.org == org)
        .order_by(Notification.created_at_ns, Notification.notification_id)
    )
    if not include_attested:
        query = query.where(DeletionAttestation.notification_id.is_(None))
    return [_notification(n, a) for n, a in session.execute(query).all()]


def attest_deletion(
    session: Session,
    notification_id: str,
    *,
    org: str,
    actor: str,
    statement: str,
    now_ns: int,
) -> NotificationRecord:
    """The notified org attests it deleted what it received. Only that org, and only once."""
    notification = session.get(Notification, notification_id)
    if notification is None:
        raise NotFound(f"notification {notification_id} does not exist", field="notification_id")
    if notification.org != org:
        raise PermissionDenied(
            f"only {notification.org} can attest deletion for notification {notification_id}, "
            f"not {org}",
            field="notification_id",
        )
    if not actor.strip():
        raise InvalidArgument("actor is required: who attests the deletion", field="actor")
    if session.get(DeletionAttestation, notification_id) is not None:
        raise FailedPrecondition(
            f"notification {notification_id} is already attested", field="notification_id"
        )
    attestation = DeletionAttestation(
        notification_id=notification_id, attested_at_ns=now_ns, actor=actor, statement=statement
    )
    session.add(attestation)
    session.flush()
    return _notification(notification, attestation)


def overdue_deletions(session: Session, now_ns: int) -> list[NotificationRecord]:
    """Notifications past their delete-by time with no attestation: for compliance officers."""
    attested = exists().where(DeletionAttestation.notification_id == Notification.notification_id)
    rows = session.scalars(
        select(Notification)
        .where(Notification.delete_by_ns < now_ns, ~attested)
        .order_by(Notification.delete_by_ns, Notification.notification_id)
    ).all()
    return [_notification(row, None) for row in rows]


# --- helpers ----------------------------------------------------------------------------------


def _deadline_ns(deadline_days: int) -> int:
    if deadline_days <= 0:
        raise InvalidArgument(
            f"deletion deadline must be at least one day, got {deadline_days} days",
            field="deadline_days",
        )
    return deadline_days * NS_PER_DAY


def _aad(consent_id: str) -> bytes:
    # Binds the ciphertext to its table and row: a record copied to another row will not decrypt.
    return b"consents/" + consent_id.encode("utf-8")


def _case(session: Session, case_id: str) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"case {case_id} does not exist", field="case_id")
    return case


def _birth_date(case: Case) -> date:
    try:
        return date.fromisoformat(case.birth_date)
    except ValueError as exc:
        raise FailedPrecondition(
            f"case {case.case_id} must have a birth date YYYY-MM-DD, found {case.birth_date!r}",
            field="case_id",
        ) from exc


def _consent_row(
    session: Session, consent_id: str, *, lock: bool = False, field: str = "consent_id"
) -> Consent:
    query = select(Consent).where(Consent.consent_id == consent_id)
    if lock:
        query = query.with_for_update()
    row = session.scalars(query).one_or_none()
    if row is None:
        raise NotFound(f"consent {consent_id} does not exist", field=field)
    return row


def _stored_state(session: Session, consent_id: str) -> str:
    return _stored_states(session, [consent_id])[consent_id]


def _stored_states(session: Session, consent_ids: Sequence[str]) -> dict[str, str]:
    """Each consent's state from its events: its first terminal event, else active. Terminal
    states are final, so the first one is the one that took effect."""
    states = dict.fromkeys(consent_ids, ACTIVE)
    if not consent_ids:
        return states
    rows = session.execute(
        select(ConsentEvent.consent_id, ConsentEvent.event)
        .where(
            ConsentEvent.consent_id.in_(consent_ids),
            ConsentEvent.event.in_(sorted(TERMINAL_STATES)),
        )
        .order_by(ConsentEvent.id)
    ).all()
    for consent_id, event in rows:
        if states[consent_id] == ACTIVE:
            states[consent_id] = event
    return states


def _effective_state(stored: str, row: Any, now_ns: int) -> str:
    if stored != ACTIVE:
        return stored
    if now_ns >= row.valid_until_ns:  # validity is [valid_from, valid_until)
        return EXPIRED
    if now_ns < row.valid_from_ns:
        return NOT_YET_VALID
    return ACTIVE


def _record(row: Consent, state: str, cipher: FieldCipher | None) -> ConsentRecord:
    if cipher is None:
        return _record_from_columns(row, state)
    data = cipher.decrypt(row.record_enc, _aad(row.consent_id))
    record = record_from_canonical(data, signature=row.signature, state=state)
    if _policy_columns(_record_from_columns(row, state)) != _policy_columns(record):
        raise ConsentIntegrityError(
            f"consent {row.consent_id}: the stored columns differ from the signed record"
        )
    return record


def _record_from_columns(row: Any, state: str) -> ConsentRecord:
    """The record from its columns: a ``Consent`` row, or ``_Columns`` of a Core row."""
    return ConsentRecord(
        consent_id=row.consent_id,
        version=row.version,
        case_id=row.case_id,
        grantor=Grantor(kind=row.grantor_kind, name=""),
        recipient_org=row.recipient_org,
        purpose=row.purpose,
        categories=tuple(json.loads(row.categories_json)),
        fields=tuple(json.loads(row.fields_json)),
        access_mode=row.access_mode,
        valid_from_ns=row.valid_from_ns,
        valid_until_ns=row.valid_until_ns,
        retention_days=row.retention_days,
        notice=Notice(version="", sha256=""),
        evidence=Evidence(form_sha256=""),
        supersedes=row.supersedes,
        recorded_by_org=row.recorded_by_org,
        recorded_by_actor=row.recorded_by_actor,
        recorded_at_ns=row.recorded_at_ns,
        signature=row.signature,
        signing_key_id=row.signing_key_id,
        state=state,
        complete=False,
    )


def _policy_columns(record: ConsentRecord) -> tuple[object, ...]:
    return (
        record.consent_id,
        record.version,
        record.case_id,
        record.grantor.kind,
        record.recipient_org,
        record.purpose,
        record.categories,
        record.fields,
        record.access_mode,
        record.valid_from_ns,
        record.valid_until_ns,
        record.retention_days,
        record.supersedes,
        record.recorded_by_org,
        record.recorded_by_actor,
        record.recorded_at_ns,
        record.signing_key_id,
    )


def _append_event(
    session: Session, consent_id: str, event: str, at_ns: int, org: str, actor: str, reason: str
) -> None:
    session.add(
        ConsentEvent(
            consent_id=consent_id, event=event, at_ns=at_ns, org=org, actor=actor, reason=reason
        )
    )


def _notification(
    notification: Notification, attestation: DeletionAttestation | None
) -> NotificationRecord:
    return NotificationRecord(
        notification_id=notification.notification_id,
        org=notification.org,
        kind=notification.kind,
        consent_id=notification.consent_id,
        subject=notification.subject,
        created_at_ns=notification.created_at_ns,
        delete_by_ns=notification.delete_by_ns,
        attested=attestation is not None,
        attested_at_ns=attestation.attested_at_ns if attestation is not None else None,
    )


def released_before(session: Session, consent_id: str, org: str) -> bool:
    """Whether ``org`` already received data under the consent (so nothing new to remember)."""
    found = session.scalar(
        select(Release.id).where(Release.consent_id == consent_id, Release.org == org).limit(1)
    )
    return found is not None
