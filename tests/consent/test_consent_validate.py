"""Each rule a consent draft must meet, one test per rule, each naming the field it blames."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from gateway.clock import NS_PER_DAY
from gateway.consent.model import ConsentDraft, Evidence, Grantor, Notice
from gateway.consent.validate import MAX_RETENTION_DAYS, age_years, validate_draft
from gateway.errors import AidBridgeError, FailedPrecondition, InvalidArgument, NotFound
from gateway.policy.catalogue import Catalogue
from gateway.store.models import Consent, ConsentEvent

from .world import ADULT_BIRTH, NOW, SUNSHINE, World, guardian, valid_draft

CASE = "case-under-test"
MINOR_FIELDS: dict[str, object] = {
    "categories": ("demographics", "hardship", "minors_data"),
    "fields": ("birth_date", "sex", "hardship_types"),
}


def check(
    catalogue: Catalogue,
    draft: ConsentDraft,
    *,
    birth: date = ADULT_BIRTH,
    lacks_capacity: bool = False,
    now_ns: int = NOW,
) -> None:
    validate_draft(
        draft,
        subject_birth_date=birth,
        lacks_capacity=lacks_capacity,
        catalogue=catalogue,
        now_ns=now_ns,
    )


def refused(
    catalogue: Catalogue, draft: ConsentDraft, error: type[AidBridgeError], **subject: object
) -> AidBridgeError:
    with pytest.raises(error) as caught:
        check(catalogue, draft, **subject)  # type: ignore[arg-type]
    return caught.value


def born_years_before_now(years: int, days_later: int = 0) -> date:
    """A birth date so the subject is ``years`` old at NOW (2025-06-01 China time)."""
    return date.fromordinal(date(2025 - years, 6, 1).toordinal() + days_later)


def minor_draft(**changes: object) -> ConsentDraft:
    return valid_draft(CASE, **{"grantor": guardian(), **MINOR_FIELDS, **changes})


def test_valid_adult_draft_is_accepted(catalogue: Catalogue) -> None:
    check(catalogue, valid_draft(CASE))


# --- guardians (PIPL Art. 31) -----------------------------------------------------------------


def test_subject_under_14_without_guardian_is_refused_naming_grantor_kind(
    catalogue: Catalogue,
) -> None:
    draft = replace(minor_draft(), grantor=Grantor(kind="subject", name="小明"))
    error = refused(catalogue, draft, FailedPrecondition, birth=born_years_before_now(13))
    assert error.field == "grantor.kind"
    assert "under 14" in error.message


def test_subject_under_14_with_verified_guardian_is_accepted(catalogue: Catalogue) -> None:
    check(catalogue, minor_draft(), birth=born_years_before_now(13))


def test_guardian_without_relationship_is_refused(catalogue: Catalogue) -> None:
    draft = minor_draft(grantor=guardian(relationship=" "))
    error = refused(catalogue, draft, InvalidArgument, birth=born_years_before_now(10))
    assert error.field == "grantor.relationship"


def test_guardian_without_verification_method_is_refused(catalogue: Catalogue) -> None:
    draft = minor_draft(grantor=guardian(verification_method=""))
    error = refused(catalogue, draft, InvalidArgument, birth=born_years_before_now(10))
    assert error.field == "grantor.verification_method"


def test_adult_lacking_capacity_needs_a_guardian(catalogue: Catalogue) -> None:
    error = refused(catalogue, valid_draft(CASE), FailedPrecondition, lacks_capacity=True)
    assert error.field == "grantor.kind"
    assert "lacks capacity" in error.message
    check(catalogue, valid_draft(CASE, grantor=guardian(relationship="配偶")), lacks_capacity=True)


def test_guardian_cannot_consent_for_a_capable_subject_of_14_or_more(catalogue: Catalogue) -> None:
    draft = valid_draft(CASE, grantor=guardian(), **MINOR_FIELDS)
    error = refused(catalogue, draft, FailedPrecondition, birth=born_years_before_now(15))
    assert error.field == "grantor.kind"


def test_guardian_needed_when_subject_is_under_14_at_valid_from(catalogue: Catalogue) -> None:
    # 14 today, but the consent is back-dated to a day when they were 13.
    draft = valid_draft(CASE, valid_from_ns=NOW - 30 * NS_PER_DAY, **MINOR_FIELDS)
    error = refused(catalogue, draft, FailedPrecondition, birth=born_years_before_now(14, -10))
    assert error.field == "grantor.kind"


def test_guardian_needed_when_subject_is_under_14_at_recording(catalogue: Catalogue) -> None:
    # 13 today; the consent starts after the 14th birthday, but the person cannot consent today.
    draft = valid_draft(
        CASE,
        valid_from_ns=NOW + 30 * NS_PER_DAY,
        valid_until_ns=NOW + 400 * NS_PER_DAY,
        **MINOR_FIELDS,
    )
    error = refused(catalogue, draft, FailedPrecondition, birth=born_years_before_now(14, 10))
    assert error.field == "grantor.kind"


def test_unknown_grantor_kind_is_refused(catalogue: Catalogue) -> None:
    draft = valid_draft(CASE, grantor=Grantor(kind="neighbour", name="王芳"))
    assert refused(catalogue, draft, InvalidArgument).field == "grantor.kind"


def test_grantor_name_is_required(catalogue: Catalogue) -> None:
    draft = valid_draft(CASE, grantor=Grantor(kind="subject", name=""))
    assert refused(catalogue, draft, InvalidArgument).field == "grantor.name"


# --- minors' data (PIPL Art. 28, 31) ------------------------------------------------------------


def test_subject_under_18_needs_minors_data_named(catalogue: Catalogue) -> None:
    error = refused(
        catalogue, valid_draft(CASE), FailedPrecondition, birth=born_years_before_now(16)
    )
    assert error.field == "categories"
    assert "minors_data" in error.message
    check(catalogue, valid_draft(CASE, **MINOR_FIELDS), birth=born_years_before_now(16))


def test_adult_does_not_need_minors_data(catalogue: Catalogue) -> None:
    check(catalogue, valid_draft(CASE), birth=born_years_before_now(18))


# --- validity and retention --------------------------------------------------------------------


def test_expiry_before_start_is_refused(catalogue: Catalogue) -> None:
    draft = valid_draft(CASE, valid_until_ns=NOW - 1)
    error = refused(catalogue, draft, InvalidArgument)
    assert error.field == "valid_until"
    assert "after valid_from" in error.message


def test_expiry_equal_to_start_is_refused(catalogue: Catalogue) -> None:
    draft = valid_draft(CASE, valid_from_ns=NOW + NS_PER_DAY, valid_until_ns=NOW + NS_PER_DAY)
    assert refused(catalogue, draft, InvalidArgument).field == "valid_until"


def test_consent_already_expired_at_recording_is_refused(catalogue: Catalogue) -> None:
    draft = valid_draft(CASE, valid_from_ns=NOW - 10 * NS_PER_DAY, valid_until_ns=NOW)
    error = refused(catalogue, draft, InvalidArgument)
    assert error.field == "valid_until"
    assert "future" in error.message


@pytest.mark.parametrize("days", [0, -1, MAX_RETENTION_DAYS + 1, 10**9])
def test_retention_must_be_positive_and_bounded(catalogue: Catalogue, days: int) -> None:
    error = refused(catalogue, valid_draft(CASE, retention_days=days), InvalidArgument)
    assert error.field == "retention_days"
    assert "never unlimited" in error.message


@given(days=st.integers(min_value=-(2**31), max_value=2**31))
def test_retention_is_accepted_exactly_within_one_to_the_maximum(
    catalogue: Catalogue, days: int
) -> None:
    draft = valid_draft(CASE, retention_days=days)
    if 1 <= days <= MAX_RETENTION_DAYS:
        check(catalogue, draft)
    else:
        with pytest.raises(InvalidArgument):
            check(catalogue, draft)


# --- purpose, categories, fields ---------------------------------------------------------------


def test_unknown_purpose_is_refused(catalogue: Catalogue) -> None:
    error = refused(catalogue, valid_draft(CASE, purpose="marketing"), InvalidArgument)
    assert error.field == "purpose"
    assert "marketing" in error.message


def test_unknown_category_is_refused(catalogue: Catalogue) -> None:
    draft = valid_draft(CASE, categories=("demographics", "hardship", "health", "religion"))
    error = refused(catalogue, draft, InvalidArgument)
    assert error.field == "categories"
    assert "religion" in error.message


def test_unknown_field_is_refused(catalogue: Catalogue) -> None:
    draft = valid_draft(CASE, fields=("birth_date", "blood_type"))
    error = refused(catalogue, draft, InvalidArgument)
    assert error.field == "fields"
    assert "blood_type" in error.message


def test_field_whose_category_is_not_listed_is_refused(catalogue: Catalogue) -> None:
    draft = valid_draft(CASE, fields=("birth_date", "phone"))
    error = refused(catalogue, draft, InvalidArgument)
    assert error.field == "fields"
    assert "'contact'" in error.message


@pytest.mark.parametrize(
    ("field", "category"),
    [
        ("monthly_income", "finances"),
        ("health_condition", "health"),
        ("disability", "disability"),
        ("assistance_status", "assistance_status"),
    ],
)
def test_sensitive_field_requires_its_category_named_explicitly(
    catalogue: Catalogue, field: str, category: str
) -> None:
    draft = valid_draft(CASE, categories=("demographics", "hardship"), fields=("sex", field))
    error = refused(catalogue, draft, InvalidArgument)
    assert error.field == "categories"
    assert f"sensitive category {category!r}" in error.message
    check(catalogue, replace(draft, categories=("demographics", "hardship", category)))


def test_category_outside_the_purpose_is_refused(catalogue: Catalogue) -> None:
    # Education aid has no use for health data.
    draft = valid_draft(CASE, purpose="education_aid")
    error = refused(catalogue, draft, InvalidArgument)
    assert error.field == "categories"
    assert "'health' is not allowed for purpose 'education_aid'" in error.message


def test_empty_categories_or_fields_are_refused(catalogue: Catalogue) -> None:
    assert refused(catalogue, valid_draft(CASE, categories=()), InvalidArgument).field == (
        "categories"
    )
    assert refused(catalogue, valid_draft(CASE, fields=()), InvalidArgument).field == "fields"


def test_resident_id_is_never_consentable_to_a_charity(catalogue: Catalogue) -> None:
    draft = valid_draft(CASE, categories=("identity", "demographics"), fields=("resident_id",))
    error = refused(catalogue, draft, InvalidArgument)
    assert error.field == "fields"
    assert "resident_id" in error.message
    check(catalogue, replace(draft, fields=("name",)))


# --- recipient, access, notice and evidence ----------------------------------------------------


def test_recipient_must_be_a_registered_organisation(catalogue: Catalogue) -> None:
    error = refused(catalogue, valid_draft(CASE, recipient_org="charity-unknown"), InvalidArgument)
    assert error.field == "recipient_org"
    assert "registered" in error.message


@pytest.mark.parametrize("org", ["jb-civil-affairs", "jb-supervision"])
def test_recipient_must_be_a_charity(catalogue: Catalogue, org: str) -> None:
    error = refused(catalogue, valid_draft(CASE, recipient_org=org), InvalidArgument)
    assert error.field == "recipient_org"
    assert "charity" in error.message


def test_access_mode_must_be_view_or_store(catalogue: Catalogue) -> None:
    error = refused(catalogue, valid_draft(CASE, access_mode="forever"), InvalidArgument)
    assert error.field == "access_mode"
    check(catalogue, valid_draft(CASE, access_mode="store"))


@pytest.mark.parametrize("digest", ["", "abc", "g" * 64, "a" * 63, "a" * 65])
def test_notice_hash_must_be_64_hex_characters(catalogue: Catalogue, digest: str) -> None:
    draft = valid_draft(CASE, notice=Notice(version="notice-2025-01", sha256=digest))
    assert refused(catalogue, draft, InvalidArgument).field == "notice.sha256"


@pytest.mark.parametrize("digest", ["", "0" * 32, "z" * 64])
def test_evidence_hash_must_be_64_hex_characters(catalogue: Catalogue, digest: str) -> None:
    draft = valid_draft(CASE, evidence=Evidence(form_sha256=digest, witness="李娜"))
    assert refused(catalogue, draft, InvalidArgument).field == "evidence.form_sha256"


def test_notice_version_is_required(catalogue: Catalogue) -> None:
    draft = valid_draft(CASE, notice=Notice(version="", sha256="a" * 64))
    assert refused(catalogue, draft, InvalidArgument).field == "notice.version"


# --- ages ---------------------------------------------------------------------------------------


def test_age_turns_on_the_birthday_itself() -> None:
    born = date(2011, 9, 1)
    assert age_years(born, date(2025, 8, 31)) == 13
    assert age_years(born, date(2025, 9, 1)) == 14


def test_leap_day_birthday_ages_on_the_first_of_march_in_common_years() -> None:
    born = date(2012, 2, 29)
    assert age_years(born, date(2026, 2, 28)) == 13
    assert age_years(born, date(2026, 3, 1)) == 14


# --- through the store: bad input stores nothing -----------------------------------------------


def test_refused_draft_stores_nothing(world: World) -> None:
    case_id = world.add_case()
    with pytest.raises(InvalidArgument):
        world.record(valid_draft(case_id, purpose="marketing"))
    with world.store.read() as session:
        assert session.scalar(select(func.count()).select_from(Consent)) == 0
        assert session.scalar(select(func.count()).select_from(ConsentEvent)) == 0


def test_consent_for_an_unknown_case_is_not_found(world: World) -> None:
    with pytest.raises(NotFound) as caught:
        world.record(valid_draft("case-missing"))
    assert caught.value.field == "case_id"


def test_minor_case_without_guardian_is_refused_by_record_consent(world: World) -> None:
    case_id = world.add_case(birth_date=born_years_before_now(9))
    draft = valid_draft(case_id, categories=("demographics", "minors_data"), fields=("sex",))
    with pytest.raises(FailedPrecondition) as caught:
        world.record(draft)
    assert caught.value.field == "grantor.kind"
    assert world.record(replace(draft, grantor=guardian())).recipient_org == SUNSHINE
