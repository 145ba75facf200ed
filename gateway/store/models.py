"""The gateway's tables (SQLAlchemy 2 declarative). Times are integer nanoseconds (UTC).

Personal data is held encrypted (``*_enc`` columns, AES-GCM with a key id, see
``gateway.privacy.crypto``); what stays plain is what policy and routing need and is not
identifying on its own. Append-only tables (ledger, consent and referral events) are never
updated in place.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Case(Base):
    __tablename__ = "cases"

    case_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    office_id: Mapped[str] = mapped_column(String(100), index=True)
    # HMAC of the resident id under the index key: finds a person's cases without storing the id.
    subject_index: Mapped[str] = mapped_column(String(80), index=True)
    street: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[str] = mapped_column(String(10))  # needed on every call for age rules
    lacks_capacity: Mapped[bool] = mapped_column(Boolean, default=False)
    payload_enc: Mapped[bytes] = mapped_column(LargeBinary)  # the whole case, encrypted
    key_id: Mapped[str] = mapped_column(String(40))
    created_at_ns: Mapped[int] = mapped_column(BigInteger)


class Consent(Base):
    """A consent record as signed; immutable. Its state is the latest of its events."""

    __tablename__ = "consents"

    consent_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.case_id"), index=True)
    recipient_org: Mapped[str] = mapped_column(String(100), index=True)
    purpose: Mapped[str] = mapped_column(String(100))
    grantor_kind: Mapped[str] = mapped_column(String(20))
    categories_json: Mapped[str] = mapped_column(Text)
    fields_json: Mapped[str] = mapped_column(Text)
    access_mode: Mapped[str] = mapped_column(String(10))
    valid_from_ns: Mapped[int] = mapped_column(BigInteger)
    valid_until_ns: Mapped[int] = mapped_column(BigInteger)
    retention_days: Mapped[int] = mapped_column(Integer)
    supersedes: Mapped[str | None] = mapped_column(String(40), nullable=True)
    recorded_by_org: Mapped[str] = mapped_column(String(100))
    recorded_by_actor: Mapped[str] = mapped_column(String(100))
    recorded_at_ns: Mapped[int] = mapped_column(BigInteger)
    # The canonical signed record (grantor and evidence inside it), encrypted at rest.
    record_enc: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(40))
    signature: Mapped[str] = mapped_column(String(200))
    signing_key_id: Mapped[str] = mapped_column(String(80))


class ConsentEvent(Base):
    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.consent_id"), index=True)
    event: Mapped[str] = mapped_column(String(30))
    at_ns: Mapped[int] = mapped_column(BigInteger)
    org: Mapped[str] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")


class Referral(Base):
    __tablename__ = "referrals"
    # A charity's queue: most severe first, then longest waiting (revision 0006).
    __table_args__ = (
        Index("ix_referrals_queue", "to_org", "state", "severity_rank", "created_at_ns"),
    )

    referral_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.case_id"), index=True)
    from_org: Mapped[str] = mapped_column(String(100), index=True)
    to_org: Mapped[str] = mapped_column(String(100), index=True)
    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.consent_id"), index=True)
    purpose: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(30))
    fast_track: Mapped[bool] = mapped_column(Boolean, default=False)
    note_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    key_id: Mapped[str] = mapped_column(String(40))
    created_at_ns: Mapped[int] = mapped_column(BigInteger)
    updated_at_ns: Mapped[int] = mapped_column(BigInteger)
    respond_by_ns: Mapped[int] = mapped_column(BigInteger)
    # Revision 0006: what the referral is for, so charities can order and fast-track it.
    hardship_type: Mapped[str] = mapped_column(String(40), default="")
    severity: Mapped[str] = mapped_column(String(20), default="")
    severity_rank: Mapped[int] = mapped_column(Integer, default=0)  # urgent 4 … low 1, none 0
    special_group: Mapped[str] = mapped_column(String(40), default="")


class ReferralEvent(Base):
    __tablename__ = "referral_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    referral_id: Mapped[str] = mapped_column(ForeignKey("referrals.referral_id"), index=True)
    state: Mapped[str] = mapped_column(String(30))
    at_ns: Mapped[int] = mapped_column(BigInteger)
    org: Mapped[str] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")
    # Revision 0006: a structured reason (a rejection's: no-capacity, not-eligible, …).
    reason_code: Mapped[str] = mapped_column(String(30), default="")


class Notification(Base):
    """What a recipient must act on: a withdrawal or expiry of a consent it received data under."""

    __tablename__ = "notifications"

    notification_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org: Mapped[str] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.consent_id"), index=True)
    subject: Mapped[str] = mapped_column(String(80))  # the recipient's pseudonym
    created_at_ns: Mapped[int] = mapped_column(BigInteger)
    delete_by_ns: Mapped[int] = mapped_column(BigInteger)


class DeletionAttestation(Base):
    __tablename__ = "deletion_attestations"

    notification_id: Mapped[str] = mapped_column(
        ForeignKey("notifications.notification_id"), primary_key=True
    )
    attested_at_ns: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(100))
    statement: Mapped[str] = mapped_column(Text, default="")


class Release(Base):
    """That a recipient received data under a consent (who must be told on withdrawal)."""

    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("consent_id", "org", name="uq_releases_consent_org"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.consent_id"), index=True)
    org: Mapped[str] = mapped_column(String(100))
    first_at_ns: Mapped[int] = mapped_column(BigInteger)


class IdempotentRequest(Base):
    """A mutating call's request id and its response, so a retry returns the same result."""

    __tablename__ = "idempotent_requests"

    org: Mapped[str] = mapped_column(String(100), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    method: Mapped[str] = mapped_column(String(200))
    request_digest: Mapped[str] = mapped_column(String(64))
    response: Mapped[bytes] = mapped_column(LargeBinary)
    created_at_ns: Mapped[int] = mapped_column(BigInteger)


class RevokedCertificate(Base):
    __tablename__ = "revoked_certificates"

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the DER
    revoked_at_ns: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text, default="")


class LedgerEntry(Base):
    """One exchange. Rows are queued with ``idx`` NULL in the call's own transaction; the
    sequencer assigns ``idx`` (the position in the Merkle tree) and signs checkpoints."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_entries_subject_at", "subject", "at_ns"),
        Index("ix_ledger_entries_org_at", "org", "at_ns"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    idx: Mapped[int | None] = mapped_column(BigInteger, unique=True, nullable=True)
    at_ns: Mapped[int] = mapped_column(BigInteger, index=True)
    org: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100))
    method: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(80), default="")
    outcome: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(Text, default="")
    entry_json: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    # HMACs by the gateway (gateway.ledger.authenticator): of the entry text, written when it is
    # queued; of (idx, leaf hash), written when it is sequenced. NULL only on rows from before
    # revision 0002, which verify reports as unauthenticated.
    entry_mac: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    position_mac: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)


class LedgerRejectedEntry(Base):
    """A queued row the sequencer refused (its authenticator did not match: not queued by this
    gateway, or altered since). Moved here, never sequenced or signed; verify reports it."""

    __tablename__ = "ledger_rejected_entries"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    entry_id: Mapped[int] = mapped_column(BigInteger)  # its id in ledger_entries
    entry_json: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary)
    entry_mac: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    rejected_at_ns: Mapped[int] = mapped_column(BigInteger)


class LedgerState(Base):
    """The sequencer's state: one row. Locked while sequencing, so one sequencer at a time."""

    __tablename__ = "ledger_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, default=0)
    compact_range_json: Mapped[str] = mapped_column(Text, default="[]")
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LedgerNode(Base):
    """A complete subtree of the ledger's Merkle tree at level ≥ 1: the hash of leaves
    [idx·2^level, (idx+1)·2^level) (level 0 is ``LedgerEntry.leaf_hash``). Written by the
    sequencer in the transaction that sequences its last leaf, never changed after; proofs are
    read from here (``gateway.ledger.nodes``). Revision 0010."""

    __tablename__ = "ledger_nodes"
    # Keyed by (level, idx) alone: on SQLite the row is stored in its primary key's B-tree.
    __table_args__ = ({"sqlite_with_rowid": False},)

    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LedgerCheckpoint(Base):
    __tablename__ = "ledger_checkpoints"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    created_at_ns: Mapped[int] = mapped_column(BigInteger)


class Project(Base):
    """A charity's project as it stands now (``gateway.projects``): the whole record in
    ``body_json``, and in columns what lists and the capacity check select on. Revision 0007."""

    __tablename__ = "projects"

    project_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(100), index=True)
    body_json: Mapped[str] = mapped_column(Text)
    created_at_ns: Mapped[int] = mapped_column(BigInteger)
    starts_at_ns: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ends_at_ns: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    capacity_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    capacity_remaining: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at_ns: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    revision: Mapped[int | None] = mapped_column(Integer, nullable=True)


class ReverseReferral(Base):
    __tablename__ = "reverse_referrals"

    reverse_referral_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    from_org: Mapped[str] = mapped_column(String(100), index=True)
    to_office: Mapped[str] = mapped_column(String(100), index=True)
    state: Mapped[str] = mapped_column(String(30))
    payload_enc: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(40))
    created_at_ns: Mapped[int] = mapped_column(BigInteger)
    updated_at_ns: Mapped[int] = mapped_column(BigInteger)
    # Revision 0006: the consent the person gave for the receiving office (signed, inside
    # payload_enc), what aid is suspected, and how the office closed it.
    purpose: Mapped[str] = mapped_column(String(100), default="")
    suspected_aid: Mapped[str] = mapped_column(String(40), default="")
    consent_signature: Mapped[str] = mapped_column(String(200), default="")
    consent_valid_until_ns: Mapped[int] = mapped_column(BigInteger, default=0)
    close_reason: Mapped[str] = mapped_column(String(30), default="")
    application_id: Mapped[str] = mapped_column(String(100), default="")
    # Revision 0012: the person's store index (``Gateway.subject_index`` of the resident id in
    # payload_enc), so an outcome is decided, and its refusal ledgered under the person
    # (``Gateway.ledger_subject_of_index``), before anything is decrypted.
    subject_index: Mapped[str] = mapped_column(String(80))


# --- referrals: help delivered and reverse-referral events (revision 0006) ---------------------


class HelpRecord(Base):
    """Help a charity delivered on a referral: one row per delivery; never updated."""

    __tablename__ = "help_records"

    help_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    referral_id: Mapped[str] = mapped_column(ForeignKey("referrals.referral_id"), index=True)
    org: Mapped[str] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    minutes: Mapped[int] = mapped_column(Integer, default=0)
    delivered_at_ns: Mapped[int] = mapped_column(BigInteger)
    project_id: Mapped[str] = mapped_column(String(40), default="")
    description_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    key_id: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(100))
    recorded_at_ns: Mapped[int] = mapped_column(BigInteger)


class ReverseReferralEvent(Base):
    """One state change of a reverse referral (append-only, like ``referral_events``)."""

    __tablename__ = "reverse_referral_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    reverse_referral_id: Mapped[str] = mapped_column(
        ForeignKey("reverse_referrals.reverse_referral_id"), index=True
    )
    state: Mapped[str] = mapped_column(String(30))
    at_ns: Mapped[int] = mapped_column(BigInteger)
    org: Mapped[str] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(100))
    reason_code: Mapped[str] = mapped_column(String(30), default="")


# --- witnesses and compliance queries (revision 0004) ----------------------------------------


class LedgerCosignature(Base):
    """A witness's cosignature (C2SP tlog-cosignature v1) on the checkpoint of ``tree_size``,
    verified when it arrived; the latest per witness tells the next request its old size."""

    __tablename__ = "ledger_cosignatures"
    __table_args__ = (Index("ix_ledger_cosignatures_witness_size", "witness", "tree_size"),)

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    witness: Mapped[str] = mapped_column(String(200), primary_key=True)  # the witness's key name
    key_id: Mapped[str] = mapped_column(String(8))  # hex
    timestamp_s: Mapped[int] = mapped_column(BigInteger)  # the witness's time, POSIX seconds
    line: Mapped[str] = mapped_column(Text)  # the signature line, "— <name> <base64>"
    received_at_ns: Mapped[int] = mapped_column(BigInteger)


# A subject's entries in id order: the compliance query by subject and the access report page
# through this index, so they read only that person's rows.
Index("ix_ledger_entries_subject_id", LedgerEntry.subject, LedgerEntry.id)

# --- projects (issue 11, revision 0007) ------------------------------------------------------


class ProjectRevision(Base):
    """Every published state of a project, append-only: what the linkage report reads as the
    state at the end of a period."""

    __tablename__ = "project_revisions"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.project_id"), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    body_json: Mapped[str] = mapped_column(Text)
    at_ns: Mapped[int] = mapped_column(BigInteger, index=True)
    actor: Mapped[str] = mapped_column(String(100))


# --- the conflict-of-interest register (issue 10, revision 0009) -----------------------------


class ConflictDeclaration(Base):
    """A member of staff's declared relative or close relation. The relative is held only as the
    gateway's keyed index of the resident id (``subject_index``), never the id itself; a
    withdrawn declaration is kept, with when it was withdrawn."""

    __tablename__ = "conflict_declarations"
    __table_args__ = (
        Index("ix_conflict_declarations_relative_org", "relative_index", "org"),
        Index("ix_conflict_declarations_org_actor", "org", "actor"),
    )

    declaration_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org: Mapped[str] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(100))
    relative_index: Mapped[str] = mapped_column(String(80))
    relationship: Mapped[str] = mapped_column(String(30))
    declared_at_ns: Mapped[int] = mapped_column(BigInteger)
    withdrawn_at_ns: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class SecondApproval(Base):
    """Another actor of the same organisation approved (or rejected) an action the policy held
    for a second approver. ``action_id`` is derived from who asked and what (organisation, actor,
    method, request digest), so the same request sent again finds its approval; an approval is
    used once."""

    __tablename__ = "second_approvals"

    action_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    org: Mapped[str] = mapped_column(String(100))
    requested_by: Mapped[str] = mapped_column(String(100))
    method: Mapped[str] = mapped_column(String(200))
    decided_by: Mapped[str] = mapped_column(String(100))
    verdict: Mapped[str] = mapped_column(String(20))  # "approved" or "rejected"
    decided_at_ns: Mapped[int] = mapped_column(BigInteger)
    used_at_ns: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class FlagResolution(Base):
    """A supervisor closed the flag on a ledger entry, with a note; one resolution per entry."""

    __tablename__ = "flag_resolutions"

    entry_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # ledger_entries.id
    note: Mapped[str] = mapped_column(Text)
    resolved_by: Mapped[str] = mapped_column(String(200))
    resolved_at_ns: Mapped[int] = mapped_column(BigInteger)


# --- integrity detectors (issue 10, revision 0011) -------------------------------------------


class LedgerFlag(Base):
    """One flag of a ledger entry, written in the same insert as the entry (so ListFlags reads
    this index, never the entries' text). ``detail`` is for compliance only (e.g. the other
    help records of a duplicate); ``resolved`` mirrors the entry's ``flag_resolutions`` row."""

    __tablename__ = "ledger_flags"
    __table_args__ = (
        Index("ix_ledger_flags_resolved_entry", "resolved", "entry_id"),
        Index("ix_ledger_flags_flag_resolved_entry", "flag", "resolved", "entry_id"),
    )

    entry_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # ledger_entries.id
    flag: Mapped[str] = mapped_column(String(100), primary_key=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)


class ActorCallCount(Base):
    """How many releases and referrals an actor made in a span of time: ``span`` "b" is a short
    bucket (``volume_bucket_s``) for the recent window, "d" a day for the actor's history. The
    volume-spike detector reads a handful of these rows by primary key, never the ledger."""

    __tablename__ = "actor_call_counts"

    org: Mapped[str] = mapped_column(String(100), primary_key=True)
    actor: Mapped[str] = mapped_column(String(100), primary_key=True)
    span: Mapped[str] = mapped_column(String(1), primary_key=True)
    start_ns: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    calls: Mapped[int] = mapped_column(Integer, default=0)
