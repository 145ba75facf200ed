"""The consent domain's values: what a caseworker submits, what is signed, what happens to it.

The record follows DESIGN.md "Consent": one consent per subject × recipient × purpose (PIPL
Art. 23), granted by the person or a verified guardian (Art. 31), naming each sensitive category
(Art. 28–29), with validity, retention, the notice shown and the evidence; shaped after India's
Account Aggregator consent artefact. Records are immutable; their state is derived from
append-only events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Stored states (proto ConsentState). All but ACTIVE are terminal.
ACTIVE = "active"
WITHDRAWN = "withdrawn"
EXPIRED = "expired"
SUPERSEDED = "superseded"
ENTERED_IN_ERROR = "entered-in-error"
TERMINAL_STATES = frozenset({WITHDRAWN, EXPIRED, SUPERSEDED, ENTERED_IN_ERROR})

# Computed only by ``effective_consent``, never stored: active but its validity has not begun.
# It is not "active", so a policy that requires state == "active" denies it (fail closed).
NOT_YET_VALID = "not-yet-valid"

# Event names: "recorded" opens a consent, each terminal state is also the event that enters it.
RECORDED = "recorded"
EVENT_NAMES = frozenset({RECORDED, *TERMINAL_STATES})

GRANTOR_SUBJECT = "subject"
GRANTOR_GUARDIAN = "guardian"
GRANTOR_KINDS = frozenset({GRANTOR_SUBJECT, GRANTOR_GUARDIAN})

ACCESS_VIEW = "view"
ACCESS_STORE = "store"
ACCESS_MODES = frozenset({ACCESS_VIEW, ACCESS_STORE})

# Notification kinds a recipient sees when a consent it received data under ends.
NOTICE_WITHDRAWN = "consent-withdrawn"
NOTICE_EXPIRED = "consent-expired"
NOTICE_ENTERED_IN_ERROR = "consent-entered-in-error"


@dataclass(frozen=True)
class Grantor:
    """Who gave the consent: the person, or a guardian with relationship and verification."""

    kind: str
    name: str
    relationship: str = ""
    verification_method: str = ""


@dataclass(frozen=True)
class Notice:
    """The privacy notice shown to the person: its version and hex SHA-256 of its text."""

    version: str
    sha256: str


@dataclass(frozen=True)
class Evidence:
    """Proof the person agreed: hex SHA-256 of the signed form or e-signature, and the witness."""

    form_sha256: str
    witness: str = ""


@dataclass(frozen=True)
class ConsentDraft:
    """What a caseworker submits. The gateway validates it and turns it into a signed record."""

    case_id: str
    grantor: Grantor
    recipient_org: str
    purpose: str
    categories: tuple[str, ...]
    fields: tuple[str, ...]
    access_mode: str
    valid_from_ns: int
    valid_until_ns: int
    retention_days: int
    notice: Notice
    evidence: Evidence
    supersedes: str | None = None


@dataclass(frozen=True)
class ConsentRecord:
    """A recorded consent: the draft as signed, plus its identity, provenance and current state.

    ``complete`` is False when the record was built from the store's plain columns without the
    cipher: grantor name, relationship, verification, notice and evidence are then empty strings
    (they live only in the encrypted signed record). Everything policy needs is always present.
    """

    consent_id: str
    version: int
    case_id: str
    grantor: Grantor
    recipient_org: str
    purpose: str
    categories: tuple[str, ...]
    fields: tuple[str, ...]
    access_mode: str
    valid_from_ns: int
    valid_until_ns: int
    retention_days: int
    notice: Notice
    evidence: Evidence
    supersedes: str | None
    recorded_by_org: str
    recorded_by_actor: str
    recorded_at_ns: int
    signature: str
    signing_key_id: str
    state: str = ACTIVE
    complete: bool = True

    @property
    def draft(self) -> ConsentDraft:
        return ConsentDraft(
            case_id=self.case_id,
            grantor=self.grantor,
            recipient_org=self.recipient_org,
            purpose=self.purpose,
            categories=self.categories,
            fields=self.fields,
            access_mode=self.access_mode,
            valid_from_ns=self.valid_from_ns,
            valid_until_ns=self.valid_until_ns,
            retention_days=self.retention_days,
            notice=self.notice,
            evidence=self.evidence,
            supersedes=self.supersedes,
        )


@dataclass(frozen=True)
class ConsentEventRecord:
    """One transition of a consent: when, by whom, why. Kept forever."""

    consent_id: str
    event: str
    at_ns: int
    org: str
    actor: str
    reason: str = ""


@dataclass(frozen=True)
class NotificationRecord:
    """What a recipient must act on: delete what it received under a consent that ended."""

    notification_id: str
    org: str
    kind: str
    consent_id: str
    subject: str  # the recipient's own pseudonym of the person
    created_at_ns: int
    delete_by_ns: int
    attested: bool = False
    attested_at_ns: int | None = None


@dataclass(frozen=True)
class WithdrawalResult:
    """What ending a consent did: the record in its new state, referrals cancelled, orgs told."""

    record: ConsentRecord
    referrals_cancelled: int
    recipients_notified: int
    notifications: tuple[NotificationRecord, ...] = field(default=())


@dataclass(frozen=True)
class SubjectFacts:
    """What the policy needs to know about the person for guardian rules (input.subject)."""

    age_years: int
    lacks_capacity: bool

    def as_policy_input(self) -> dict[str, Any]:
        return {"age_years": self.age_years, "lacks_capacity": self.lacks_capacity}


def policy_view(record: ConsentRecord) -> dict[str, Any]:
    """The consent as the policy input's ``consent`` object wants it (see policies/README)."""
    return {
        "consent_id": record.consent_id,
        "version": record.version,
        "state": record.state,
        "recipient_org": record.recipient_org,
        "purpose": record.purpose,
        "categories": list(record.categories),
        "fields": list(record.fields),
        "valid_from_ns": record.valid_from_ns,
        "valid_until_ns": record.valid_until_ns,
        "grantor_kind": record.grantor.kind,
        "access_mode": record.access_mode,
    }
