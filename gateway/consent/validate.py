"""Validation of a consent draft before the gateway signs it.

Rules from DESIGN.md "Consent" and issue #3, after PIPL: a guardian grants for a subject under 14
or an adult lacking capacity (Art. 31, Civil Code Art. 1035), and a guardian's relationship and
how it was verified are recorded; each sensitive category is named explicitly (Art. 28–29) and
minors' data counts as sensitive; exactly one recipient, a registered charity (Art. 23); a purpose
from the closed catalogue; a bounded retention (Art. 19: no longer than necessary, never
"forever"). Malformed input raises ``InvalidArgument``; input that conflicts with what the gateway
knows about the subject raises ``FailedPrecondition``. Both name the offending field.
"""

from __future__ import annotations

import re
from datetime import date

from gateway.clock import to_date
from gateway.consent.model import (
    ACCESS_MODES,
    GRANTOR_GUARDIAN,
    GRANTOR_KINDS,
    GRANTOR_SUBJECT,
    ConsentDraft,
)
from gateway.errors import FailedPrecondition, InvalidArgument
from gateway.policy.catalogue import Catalogue

GUARDIAN_AGE = 14  # PIPL Art. 31: under 14, a guardian consents
ADULT_AGE = 18  # under 18, minors' data is a sensitive category of its own
MAX_RETENTION_DAYS = 3650  # ten years: long enough for any programme, never unlimited
MINORS_DATA = "minors_data"
CHARITY_ROLE = "charity"
# A resident id never goes to a charity: DESIGN.md "Privacy transforms", direct identifiers.
NEVER_CONSENTABLE_TO_CHARITY = frozenset({"resident_id"})

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def age_years(birth_date: date, on: date) -> int:
    """Completed years of age on a date (the birthday itself counts as the new age)."""
    before_birthday = (on.month, on.day) < (birth_date.month, birth_date.day)
    return on.year - birth_date.year - (1 if before_birthday else 0)


def validate_draft(
    draft: ConsentDraft,
    *,
    subject_birth_date: date,
    lacks_capacity: bool,
    catalogue: Catalogue,
    now_ns: int,
) -> None:
    """Raise the first rule the draft breaks; return None if it may be recorded at ``now_ns``."""
    _check_required_text(draft)
    _check_validity(draft, now_ns)
    _check_retention(draft.retention_days)
    _check_hashes(draft)
    if draft.access_mode not in ACCESS_MODES:
        raise InvalidArgument(
            f"access_mode must be one of {sorted(ACCESS_MODES)}, got {draft.access_mode!r}",
            field="access_mode",
        )
    _check_recipient(draft.recipient_org, catalogue)
    _check_purpose(draft.purpose, catalogue)
    _check_data(draft, catalogue)
    # The subject's age at both moments that matter: when the consent is recorded and when it
    # starts to apply. The policy re-checks the age on every use (a guardian's consent lapses
    # at 14); here the younger of the two ages decides.
    youngest = min(
        age_years(subject_birth_date, to_date(now_ns)),
        age_years(subject_birth_date, to_date(draft.valid_from_ns)),
    )
    _check_grantor(draft, youngest=youngest, lacks_capacity=lacks_capacity)
    if youngest < ADULT_AGE and MINORS_DATA not in draft.categories:
        raise FailedPrecondition(
            f"categories must name {MINORS_DATA!r}: the subject is {youngest}, under {ADULT_AGE}",
            field="categories",
        )


def _check_required_text(draft: ConsentDraft) -> None:
    for name, value in (
        ("case_id", draft.case_id),
        ("recipient_org", draft.recipient_org),
        ("purpose", draft.purpose),
        ("grantor.name", draft.grantor.name),
        ("notice.version", draft.notice.version),
    ):
        if not value or not value.strip():
            raise InvalidArgument(f"{name} is required, got an empty value", field=name)
    if draft.supersedes is not None and not draft.supersedes.strip():
        raise InvalidArgument(
            "supersedes must be a consent id or absent, got an empty string", field="supersedes"
        )


def _check_validity(draft: ConsentDraft, now_ns: int) -> None:
    if draft.valid_from_ns <= 0:
        raise InvalidArgument(
            f"valid_from must be set, got {draft.valid_from_ns} ns", field="valid_from"
        )
    if draft.valid_until_ns <= draft.valid_from_ns:
        raise InvalidArgument(
            f"valid_until must be after valid_from, got {draft.valid_until_ns} ns "
            f"<= {draft.valid_from_ns} ns",
            field="valid_until",
        )
    if draft.valid_until_ns <= now_ns:
        raise InvalidArgument(
            f"valid_until must be in the future, got {draft.valid_until_ns} ns <= now {now_ns} ns",
            field="valid_until",
        )


def _check_retention(retention_days: int) -> None:
    if not 0 < retention_days <= MAX_RETENTION_DAYS:
        raise InvalidArgument(
            f"retention_days must be between 1 and {MAX_RETENTION_DAYS} (never unlimited), "
            f"got {retention_days}",
            field="retention_days",
        )


def _check_hashes(draft: ConsentDraft) -> None:
    for name, value in (
        ("notice.sha256", draft.notice.sha256),
        ("evidence.form_sha256", draft.evidence.form_sha256),
    ):
        if not _SHA256_HEX.fullmatch(value.lower()):
            raise InvalidArgument(
                f"{name} must be 64 hex characters (SHA-256), got {len(value)} characters",
                field=name,
            )


def _check_recipient(recipient_org: str, catalogue: Catalogue) -> None:
    org = catalogue.org(recipient_org)
    if org is None:
        raise InvalidArgument(
            f"recipient_org must be a registered organisation, got unknown {recipient_org!r}",
            field="recipient_org",
        )
    if org.role != CHARITY_ROLE:
        raise InvalidArgument(
            f"recipient_org must be a registered charity, got {recipient_org!r} "
            f"with role {org.role!r}",
            field="recipient_org",
        )


def _check_purpose(purpose: str, catalogue: Catalogue) -> None:
    if purpose not in catalogue.purposes:
        raise InvalidArgument(
            f"purpose must be one of {sorted(catalogue.purposes)}, got {purpose!r}",
            field="purpose",
        )


def _check_data(draft: ConsentDraft, catalogue: Catalogue) -> None:
    if not draft.categories:
        raise InvalidArgument("categories must name at least one category", field="categories")
    if not draft.fields:
        raise InvalidArgument("fields must name at least one field", field="fields")
    for category in draft.categories:
        if category not in catalogue.categories:
            raise InvalidArgument(
                f"categories: unknown category {category!r}; known: {sorted(catalogue.categories)}",
                field="categories",
            )
    allowed = purpose_categories(catalogue, draft.purpose)
    for category in draft.categories:
        if category not in allowed:
            raise InvalidArgument(
                f"categories: {category!r} is not allowed for purpose {draft.purpose!r}; "
                f"allowed: {sorted(allowed)}",
                field="categories",
            )
    sensitive = set(catalogue.sensitive_categories)
    for name in draft.fields:
        if name in NEVER_CONSENTABLE_TO_CHARITY:
            raise InvalidArgument(
                f"fields: {name!r} is never released to a charity, so it cannot be consented",
                field="fields",
            )
        home = catalogue.category_of(name)
        if home is None:
            raise InvalidArgument(f"fields: unknown field {name!r}", field="fields")
        if home in draft.categories:
            continue
        if home in sensitive:
            raise InvalidArgument(
                f"categories: field {name!r} is in the sensitive category {home!r}, "
                f"which must be named explicitly (PIPL Art. 29); categories were "
                f"{sorted(draft.categories)}",
                field="categories",
            )
        raise InvalidArgument(
            f"fields: {name!r} belongs to category {home!r}, which the consent does not name; "
            f"categories were {sorted(draft.categories)}",
            field="fields",
        )


def _check_grantor(draft: ConsentDraft, *, youngest: int, lacks_capacity: bool) -> None:
    grantor = draft.grantor
    if grantor.kind not in GRANTOR_KINDS:
        raise InvalidArgument(
            f"grantor.kind must be one of {sorted(GRANTOR_KINDS)}, got {grantor.kind!r}",
            field="grantor.kind",
        )
    needs_guardian = youngest < GUARDIAN_AGE or lacks_capacity
    if needs_guardian and grantor.kind != GRANTOR_GUARDIAN:
        why = "lacks capacity" if lacks_capacity else f"is {youngest}, under {GUARDIAN_AGE}"
        raise FailedPrecondition(
            f"grantor.kind must be {GRANTOR_GUARDIAN!r}: the subject {why}", field="grantor.kind"
        )
    if grantor.kind == GRANTOR_GUARDIAN:
        if not needs_guardian:
            # PIPL Art. 31 gives the guardian's consent only below 14; from 14 a person with
            # capacity consents themself, and the policy denies a guardian's consent then.
            raise FailedPrecondition(
                f"grantor.kind must be {GRANTOR_SUBJECT!r}: the subject is {youngest} and has "
                "capacity, so a guardian cannot consent for them",
                field="grantor.kind",
            )
        for name, value in (
            ("grantor.relationship", grantor.relationship),
            ("grantor.verification_method", grantor.verification_method),
        ):
            if not value.strip():
                raise InvalidArgument(f"{name} is required for a guardian, got nothing", field=name)


def purpose_categories(catalogue: Catalogue, purpose: str) -> frozenset[str]:
    """The categories a purpose may use, as the bundle's purpose catalogue lists them."""
    return frozenset(catalogue.purposes[purpose].categories)
