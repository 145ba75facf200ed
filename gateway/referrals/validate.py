"""The rules a referral-loop request must meet before anything is stored: each raises an
``errors`` exception naming the field (the request's field path), never echoing personal data.

What a referral is for must be among what its case records; a rejection carries a structured
reason (``other`` with a text); help has a kind, a non-negative amount or time, and a delivery
date that is not in the future nor before the referral; a reverse referral names a registered
office, a street of the district, a valid resident id, and carries a consent (the consent
model of ``gateway.consent``) that names that office and purpose and is in force now.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from stdnum.cn import ric

from gateway import errors
from gateway.consent.model import GRANTOR_GUARDIAN, GRANTOR_KINDS
from gateway.policy.catalogue import Catalogue
from gateway.referrals import model, states

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
MAX_AMOUNT_FEN = 10**12
MAX_MINUTES = 60 * 24 * 366


def referral_for(
    record: Mapping[str, Any], *, hardship_type: str, special_group: str, severity: str
) -> model.ReferralFor:
    """What a new referral addresses; unspecified parts come from the case."""
    case_types = list(record.get("hardship_types", []))
    case_groups = list(record.get("special_groups", []))
    chosen_type = hardship_type or (case_types[0] if case_types else "")
    if hardship_type and hardship_type not in case_types:
        raise errors.FailedPrecondition(
            f"hardship_type {hardship_type} is not one of the case's hardship types",
            field="hardship_type",
        )
    chosen_group = special_group or (case_groups[0] if case_groups else "")
    if special_group and special_group not in case_groups:
        raise errors.FailedPrecondition(
            f"special_group {special_group} is not one of the case's special groups",
            field="special_group",
        )
    chosen_severity = severity or str(record.get("severity", ""))
    if chosen_severity and chosen_severity not in model.SEVERITY_RANK:
        raise errors.InvalidArgument(f"severity {chosen_severity!r} is unknown", field="severity")
    return model.ReferralFor(
        hardship_type=chosen_type, severity=chosen_severity, special_group=chosen_group
    )


def state_change(change: model.StateChange) -> None:
    """A rejection needs a structured reason (``other`` also a text); nothing else takes one."""
    if change.target == states.REJECTED:
        if not change.reason_code:
            raise errors.InvalidArgument(
                "rejection_reason is required to reject a referral "
                "(no capacity, not eligible, cannot reach, duplicate, other)",
                field="rejection_reason",
            )
        if change.reason_code not in model.REJECTION_REASONS:
            raise errors.InvalidArgument(
                f"rejection_reason {change.reason_code!r} is unknown", field="rejection_reason"
            )
        if change.reason_code == model.OTHER and not change.reason.strip():
            raise errors.InvalidArgument(
                "reason is required with rejection_reason other: say why", field="reason"
            )
    elif change.reason_code:
        raise errors.InvalidArgument(
            f"rejection_reason is only for rejecting, not for {change.target}",
            field="rejection_reason",
        )


def help_draft(draft: model.HelpDraft, *, now_ns: int, referral_created_ns: int) -> None:
    if not draft.referral_id:
        raise errors.InvalidArgument("help.referral_id is required", field="help.referral_id")
    if not draft.kind:
        raise errors.InvalidArgument(
            "help.kind is required: material, cash, visits and care, psychological, "
            "rehabilitation, capacity building, insurance, medical or education",
            field="help.kind",
        )
    if draft.kind not in model.HELP_KINDS:
        raise errors.InvalidArgument(f"help.kind {draft.kind!r} is unknown", field="help.kind")
    if draft.amount_fen < 0:
        raise errors.InvalidArgument(
            f"help.value_fen must not be negative, got {draft.amount_fen}", field="help.value_fen"
        )
    if draft.amount_fen > MAX_AMOUNT_FEN:
        raise errors.InvalidArgument(
            f"help.value_fen must be at most {MAX_AMOUNT_FEN}", field="help.value_fen"
        )
    if draft.minutes < 0:
        raise errors.InvalidArgument(
            f"help.minutes must not be negative, got {draft.minutes}", field="help.minutes"
        )
    if draft.minutes > MAX_MINUTES:
        raise errors.InvalidArgument(
            f"help.minutes must be at most {MAX_MINUTES} (a year)", field="help.minutes"
        )
    if draft.amount_fen == 0 and draft.minutes == 0:
        raise errors.InvalidArgument(
            "help needs an amount (help.value_fen) or a time (help.minutes) above zero",
            field="help.value_fen",
        )
    if draft.delivered_at_ns <= 0:
        raise errors.InvalidArgument("help.delivered_at is required", field="help.delivered_at")
    if draft.delivered_at_ns > now_ns:
        raise errors.InvalidArgument(
            "help.delivered_at is in the future: record help once it is delivered",
            field="help.delivered_at",
        )
    if draft.delivered_at_ns < referral_created_ns:
        raise errors.InvalidArgument(
            "help.delivered_at is before the referral was made", field="help.delivered_at"
        )


def reverse_draft(
    draft: model.ReverseDraft, *, catalogue: Catalogue, streets: Collection[str], now_ns: int
) -> str:
    """Check a reverse referral; returns the normalised resident id."""
    office = catalogue.org(draft.to_office) if draft.to_office else None
    if not draft.to_office:
        raise errors.InvalidArgument("referral.to_office is required", field="referral.to_office")
    if office is None or office.role != states.GOVERNMENT:
        raise errors.InvalidArgument(
            f"referral.to_office {draft.to_office!r} is not a registered government office",
            field="referral.to_office",
        )
    if not draft.subject_name.strip():
        raise errors.InvalidArgument(
            "referral.subject_name is required", field="referral.subject_name"
        )
    rid = draft.subject_resident_id.replace(" ", "").upper()
    try:
        valid = bool(rid) and ric.is_valid(rid)
    except (KeyError, ValueError):
        valid = False
    if not valid:
        raise errors.InvalidArgument(
            "referral.subject_resident_id is not a valid 18-digit resident id",
            field="referral.subject_resident_id",
        )
    if draft.street not in streets:
        raise errors.InvalidArgument(
            "referral.street is not a street of this district", field="referral.street"
        )
    if draft.street not in office.streets:
        raise errors.FailedPrecondition(
            f"referral.street: {draft.to_office} has no jurisdiction over street {draft.street}; "
            "refer the person to the office of their street",
            field="referral.street",
        )
    if not draft.reason.strip():
        raise errors.InvalidArgument(
            "referral.reason is required: why the person may qualify", field="referral.reason"
        )
    if not draft.suspected_aid:
        raise errors.InvalidArgument(
            "referral.suspected_aid is required: the kind of aid the person may qualify for",
            field="referral.suspected_aid",
        )
    if draft.purpose != model.REVERSE_PURPOSE:
        raise errors.InvalidArgument(
            f"referral.purpose must be {model.REVERSE_PURPOSE}", field="referral.purpose"
        )
    _reverse_consent(draft, now_ns)
    return rid


def _reverse_consent(draft: model.ReverseDraft, now_ns: int) -> None:
    c = draft.consent
    prefix = "referral.consent."
    if c.grantor.kind not in GRANTOR_KINDS:
        raise errors.InvalidArgument(
            f"{prefix}grantor.kind is required: subject or guardian", field=prefix + "grantor.kind"
        )
    if not c.grantor.name.strip():
        raise errors.InvalidArgument(
            f"{prefix}grantor.name is required", field=prefix + "grantor.name"
        )
    if c.grantor.kind == GRANTOR_GUARDIAN and not c.grantor.relationship.strip():
        raise errors.InvalidArgument(
            f"{prefix}grantor.relationship is required for a guardian",
            field=prefix + "grantor.relationship",
        )
    if not c.notice.version.strip():
        raise errors.InvalidArgument(
            f"{prefix}notice.version is required", field=prefix + "notice.version"
        )
    for name, value in (
        ("notice.sha256", c.notice.sha256),
        ("evidence.form_sha256", c.evidence.form_sha256),
    ):
        if not _SHA256_HEX.fullmatch(value.lower()):
            raise errors.InvalidArgument(
                f"{prefix}{name} must be 64 hex characters (SHA-256)", field=prefix + name
            )
    if c.recipient_office != draft.to_office:
        raise errors.FailedPrecondition(
            f"{prefix}recipient_office must name the receiving office {draft.to_office}",
            field=prefix + "recipient_office",
        )
    if c.purpose != draft.purpose:
        raise errors.FailedPrecondition(
            f"{prefix}purpose must be the referral's purpose {draft.purpose}",
            field=prefix + "purpose",
        )
    if c.valid_from_ns <= 0 or c.valid_from_ns > now_ns:
        raise errors.FailedPrecondition(
            f"{prefix}valid_from must be set and not in the future", field=prefix + "valid_from"
        )
    if c.valid_until_ns <= now_ns:
        raise errors.FailedPrecondition(
            f"{prefix}valid_until has passed: the consent is not in force",
            field=prefix + "valid_until",
        )


def reverse_outcome(outcome: model.ReverseOutcome) -> None:
    known = states.reverse_machine().states
    if outcome.target not in known:
        raise errors.InvalidArgument(
            f"state must be one of {', '.join(known)}, got {outcome.target!r}", field="state"
        )
    if outcome.target == states.CLOSED:
        if not outcome.close_reason:
            raise errors.InvalidArgument(
                "close_reason is required to close a reverse referral", field="close_reason"
            )
        if outcome.close_reason not in model.CLOSE_REASONS:
            raise errors.InvalidArgument(
                f"close_reason {outcome.close_reason!r} is unknown", field="close_reason"
            )
        if outcome.close_reason == model.OTHER and not outcome.note.strip():
            raise errors.InvalidArgument(
                "outcome_note is required with close_reason other: say why", field="outcome_note"
            )
    elif outcome.close_reason:
        raise errors.InvalidArgument(
            f"close_reason is only for closing, not for {outcome.target}", field="close_reason"
        )
    if outcome.target == states.OPENED and not outcome.application_id.strip():
        raise errors.InvalidArgument(
            "application_id is required to open a reverse referral as an application",
            field="application_id",
        )
    if outcome.target != states.OPENED and outcome.application_id:
        raise errors.InvalidArgument(
            f"application_id is only for opening, not for {outcome.target}",
            field="application_id",
        )
