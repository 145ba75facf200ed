"""The values of the referral loop (notice sections 2–4, issue 11): what a referral is for, why a
charity rejects one, help delivered on it, and a reverse referral with the person's consent.

Names are the domain's (``minimum_living``, ``visits_and_care``, ``no_capacity``): the service
layer maps protobuf enums to them. Times are integer nanoseconds (``gateway.clock``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.consent.model import Evidence, Grantor, Notice

SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3, "urgent": 4}
FAST_TRACK_SEVERITIES = frozenset({"high", "urgent"})

REJECTION_REASONS = frozenset({"no_capacity", "not_eligible", "cannot_reach", "duplicate", "other"})
OTHER = "other"

# The seed's kinds of help (notice section 4), plus the medical and education help the
# HelpKind enum also names.
HELP_KINDS = frozenset(
    {
        "material",
        "cash",
        "visits_and_care",
        "psychological",
        "rehabilitation",
        "capacity_building",
        "insurance",
        "medical",
        "education",
    }
)

# Reverse referrals: the one purpose a charity may refer a person to an office for, and why an
# office may close one without opening an application.
REVERSE_PURPOSE = "social_assistance_assessment"
CLOSE_REASONS = frozenset(
    {
        "not_eligible",
        "already_receiving",
        "cannot_reach",
        "duplicate",
        "declined_by_person",
        "other",
    }
)


@dataclass(frozen=True)
class ReferralFor:
    """What a referral addresses: one of the case's hardship types and special groups, and the
    severity the office gives it."""

    hardship_type: str
    severity: str
    special_group: str = ""

    @property
    def severity_rank(self) -> int:
        return SEVERITY_RANK.get(self.severity, 0)

    @property
    def fast_track(self) -> bool:
        return self.severity in FAST_TRACK_SEVERITIES


@dataclass(frozen=True)
class StateChange:
    """A requested state change: the target, and for a rejection its structured reason."""

    target: str
    reason: str = ""
    reason_code: str = ""


@dataclass(frozen=True)
class HelpDraft:
    """Help a charity says it delivered."""

    referral_id: str
    kind: str
    amount_fen: int
    minutes: int
    delivered_at_ns: int
    project_id: str = ""
    description: str = ""


@dataclass(frozen=True)
class HelpRecordView:
    help_id: str
    referral_id: str
    org: str
    kind: str
    amount_fen: int
    minutes: int
    delivered_at_ns: int
    project_id: str
    description: str
    recorded_at_ns: int


@dataclass(frozen=True)
class EventView:
    event_id: int
    referral_id: str
    state: str
    at_ns: int
    org: str
    actor: str
    reason: str
    reason_code: str


@dataclass(frozen=True)
class ReverseConsent:
    """The person's consent to be referred to a government office: the consent model of
    ``gateway.consent`` (grantor, notice, evidence, validity), naming the office and purpose."""

    grantor: Grantor
    notice: Notice
    evidence: Evidence
    recipient_office: str
    purpose: str
    valid_from_ns: int
    valid_until_ns: int


@dataclass(frozen=True)
class ReverseDraft:
    """What a charity submits about a person who may qualify for government aid."""

    to_office: str
    subject_name: str
    subject_resident_id: str
    subject_phone: str
    street: str
    reason: str
    suspected_aid: str
    purpose: str
    consent: ReverseConsent


@dataclass(frozen=True)
class ReverseOutcome:
    """An office's answer: received, opened (with its application id) or closed (with a
    reason)."""

    target: str
    close_reason: str = ""
    application_id: str = ""
    note: str = ""


@dataclass(frozen=True)
class ReverseView:
    reverse_referral_id: str
    from_org: str
    to_office: str
    state: str
    draft: ReverseDraft
    consent_signature: str
    signing_key_id: str
    close_reason: str
    application_id: str
    outcome_note: str
    created_at_ns: int
    updated_at_ns: int
    events: tuple[EventView, ...] = field(default=())
