"""Consents in a real store: recording, superseding, withdrawal and its duties, expiry by the
clock and by the sweep, guardians' consents as the child grows up, deletion attestations."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import func, select, update

from gateway.clock import NS_PER_DAY, FixedClock
from gateway.consent import repository
from gateway.consent.model import (
    ACTIVE,
    ENTERED_IN_ERROR,
    EXPIRED,
    NOT_YET_VALID,
    SUPERSEDED,
    WITHDRAWN,
    policy_view,
)
from gateway.consent.signing import SignatureError, verify_record
from gateway.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from gateway.store.models import Consent, Notification, Referral, ReferralEvent, Release

from .world import (
    CASEWORKER,
    GOV,
    HARBOUR,
    NOW,
    SUNSHINE,
    World,
    china_ns,
    guardian,
    valid_draft,
)

# --- recording and reading ---------------------------------------------------------------------


def test_recorded_consent_is_active_signed_and_reads_back_whole(world: World) -> None:
    case_id = world.add_case()
    record = world.record(valid_draft(case_id))
    assert record.state == ACTIVE
    assert record.version == 1
    assert record.recorded_by_org == GOV and record.recorded_by_actor == CASEWORKER
    verify_record(record, world.keys.public_key("consent"))
    with world.store.read() as session:
        stored = repository.get_consent(
            session,
            record.consent_id,
            cipher=world.cipher,
            verify_with=world.keys.public_key("consent"),
        )
        assert stored == record
        assert [e.event for e in repository.events(session, record.consent_id)] == ["recorded"]


def test_lists_are_normalised_before_signing(world: World) -> None:
    case_id = world.add_case()
    draft = valid_draft(
        case_id,
        categories=("health", "demographics", "health"),
        fields=("sex", "health_condition", "sex"),
    )
    record = world.record(draft)
    assert record.categories == ("demographics", "health")
    assert record.fields == ("health_condition", "sex")


def test_record_without_cipher_carries_what_policy_needs_and_says_it_is_partial(
    world: World,
) -> None:
    case_id = world.add_case()
    record = world.record(valid_draft(case_id))
    partial = world.effective(record.consent_id, NOW)
    assert not partial.complete
    assert partial.grantor.name == ""  # personal data stays encrypted
    assert policy_view(partial) == policy_view(record)
    assert policy_view(partial) == {
        "consent_id": record.consent_id,
        "version": 1,
        "state": "active",
        "recipient_org": SUNSHINE,
        "purpose": "charitable_assistance",
        "categories": ["demographics", "hardship", "health"],
        "fields": ["birth_date", "hardship_types", "health_condition", "sex", "street"],
        "valid_from_ns": NOW,
        "valid_until_ns": NOW + 365 * NS_PER_DAY,
        "grantor_kind": "subject",
        "access_mode": "view",
    }


def test_altered_plain_columns_are_detected_against_the_signed_record(world: World) -> None:
    case_id = world.add_case()
    record = world.record(valid_draft(case_id))
    with world.write() as session:
        session.execute(
            update(Consent)
            .where(Consent.consent_id == record.consent_id)
            .values(fields_json='["birth_date","monthly_income"]')
        )
    with world.store.read() as session, pytest.raises(repository.ConsentIntegrityError):
        repository.get_consent(session, record.consent_id, cipher=world.cipher)


def test_altered_signature_is_detected_when_verifying(world: World) -> None:
    case_id = world.add_case()
    record = world.record(valid_draft(case_id))
    other = world.record(valid_draft(case_id, purpose="medical_aid"))
    with world.write() as session:
        session.execute(
            update(Consent)
            .where(Consent.consent_id == record.consent_id)
            .values(signature=other.signature)
        )
    with world.store.read() as session, pytest.raises(SignatureError):
        repository.get_consent(
            session,
            record.consent_id,
            cipher=world.cipher,
            verify_with=world.keys.public_key("consent"),
        )


def test_unknown_consent_is_not_found(world: World) -> None:
    with world.store.read() as session, pytest.raises(NotFound) as caught:
        repository.effective_consent(session, "c-missing", NOW)
    assert caught.value.field == "consent_id"


def test_list_consents_filters_by_stored_or_effective_state(world: World) -> None:
    case_id = world.add_case()
    first = world.record(valid_draft(case_id, valid_until_ns=NOW + NS_PER_DAY))
    second = world.record(valid_draft(case_id, purpose="medical_aid"), now_ns=NOW + 1)
    world.withdraw(second.consent_id, NOW + 2)
    later = NOW + 2 * NS_PER_DAY
    with world.store.read() as session:
        assert [r.consent_id for r in repository.list_consents(session, case_id)] == [
            first.consent_id,
            second.consent_id,
        ]
        stored_active = repository.list_consents(session, case_id, ACTIVE)
        assert [r.consent_id for r in stored_active] == [first.consent_id]
        assert repository.list_consents(session, case_id, ACTIVE, now_ns=later) == []
        expired = repository.list_consents(session, case_id, EXPIRED, now_ns=later)
        assert [r.consent_id for r in expired] == [first.consent_id]
        assert all(
            r.complete for r in repository.list_consents(session, case_id, cipher=world.cipher)
        )


# --- one consent per subject × recipient × purpose, superseding --------------------------------


def test_second_live_consent_for_same_recipient_and_purpose_must_supersede(world: World) -> None:
    case_id = world.add_case()
    first = world.record(valid_draft(case_id))
    with pytest.raises(FailedPrecondition) as caught:
        world.record(valid_draft(case_id, fields=("sex",), categories=("demographics",)))
    assert caught.value.field == "supersedes"
    assert first.consent_id in caught.value.message
    # Another purpose or another recipient is a separate consent (PIPL Art. 23).
    world.record(valid_draft(case_id, purpose="medical_aid"))
    world.record(valid_draft(case_id, recipient_org=HARBOUR))


def test_superseding_ends_the_old_consent_and_versions_the_new(world: World) -> None:
    case_id = world.add_case()
    old = world.record(valid_draft(case_id))
    narrower = valid_draft(
        case_id, categories=("demographics",), fields=("sex",), supersedes=old.consent_id
    )
    new = world.record(narrower, now_ns=NOW + 10)
    assert new.version == 2 and new.supersedes == old.consent_id
    assert world.effective(old.consent_id, NOW + 11).state == SUPERSEDED
    assert world.effective(new.consent_id, NOW + 11).state == ACTIVE
    with world.store.read() as session:
        old_events = repository.events(session, old.consent_id)
    assert [e.event for e in old_events] == ["recorded", "superseded"]
    assert old_events[-1].reason == f"superseded by {new.consent_id}"
    assert old_events[-1].at_ns == NOW + 10


def test_a_change_of_recipient_is_a_new_consent_superseding_the_old(world: World) -> None:
    case_id = world.add_case()
    old = world.record(valid_draft(case_id))
    new = world.record(valid_draft(case_id, recipient_org=HARBOUR, supersedes=old.consent_id))
    assert new.consent_id != old.consent_id and new.recipient_org == HARBOUR
    assert world.effective(old.consent_id, NOW).state == SUPERSEDED


def test_only_an_active_consent_can_be_superseded(world: World) -> None:
    case_id = world.add_case()
    old = world.record(valid_draft(case_id))
    world.withdraw(old.consent_id, NOW + 1)
    with pytest.raises(FailedPrecondition) as caught:
        world.record(valid_draft(case_id, supersedes=old.consent_id), now_ns=NOW + 2)
    assert caught.value.field == "supersedes"
    assert "withdrawn" in caught.value.message


def test_a_consent_past_its_expiry_cannot_be_superseded_even_before_the_sweep(
    world: World,
) -> None:
    case_id = world.add_case()
    old = world.record(valid_draft(case_id, valid_until_ns=NOW + NS_PER_DAY))
    draft = valid_draft(case_id, supersedes=old.consent_id, valid_from_ns=NOW + 2 * NS_PER_DAY)
    with pytest.raises(FailedPrecondition) as caught:
        world.record(draft, now_ns=NOW + 2 * NS_PER_DAY)
    assert "expired" in caught.value.message


def test_superseding_a_consent_of_another_case_is_refused_and_stores_nothing(
    world: World,
) -> None:
    mine, theirs = world.add_case(), world.add_case()
    other = world.record(valid_draft(theirs))
    with pytest.raises(FailedPrecondition) as caught:
        world.record(valid_draft(mine, supersedes=other.consent_id))
    assert caught.value.field == "supersedes"
    assert world.effective(other.consent_id, NOW).state == ACTIVE
    with world.store.read() as session:
        assert session.scalar(select(func.count()).select_from(Consent)) == 1


def test_superseding_an_unknown_consent_is_not_found(world: World) -> None:
    case_id = world.add_case()
    with pytest.raises(NotFound) as caught:
        world.record(valid_draft(case_id, supersedes="c-missing"))
    assert caught.value.field == "supersedes"


# --- withdrawal (PIPL Art. 15, 47) -------------------------------------------------------------


def test_withdrawal_is_effective_on_the_very_next_read(world: World) -> None:
    case_id = world.add_case()
    record = world.record(valid_draft(case_id))
    assert world.effective(record.consent_id, NOW + 1).state == ACTIVE
    result = world.withdraw(record.consent_id, NOW + 2)
    assert result.record.state == WITHDRAWN
    after = world.effective(record.consent_id, NOW + 2)
    assert after.state == WITHDRAWN
    assert policy_view(after)["state"] == "withdrawn"


def test_withdrawal_cancels_open_referrals_and_leaves_closed_ones(world: World) -> None:
    case_id = world.add_case()
    record = world.record(valid_draft(case_id))
    requested = world.add_referral(record, "requested")
    in_progress = world.add_referral(record, "in-progress")
    completed = world.add_referral(record, "completed")
    result = world.withdraw(record.consent_id, NOW + 5, reason="本人口头撤回")
    assert result.referrals_cancelled == 2
    with world.store.read() as session:
        states = dict(session.execute(select(Referral.referral_id, Referral.state)).all())
        assert states == {
            requested: "cancelled-by-withdrawal",
            in_progress: "cancelled-by-withdrawal",
            completed: "completed",
        }
        last = session.scalars(
            select(ReferralEvent)
            .where(ReferralEvent.referral_id == requested)
            .order_by(ReferralEvent.id.desc())
        ).first()
        assert last is not None
        assert (last.state, last.at_ns, last.actor) == (
            "cancelled-by-withdrawal",
            NOW + 5,
            CASEWORKER,
        )
        assert "本人口头撤回" in last.reason


def test_withdrawal_notifies_each_org_that_received_data(world: World) -> None:
    case_id = world.add_case()
    record = world.record(valid_draft(case_id, access_mode="store"))
    world.release(record.consent_id, SUNSHINE)
    world.release(record.consent_id, "peer-gateway-yubei")  # e.g. a federated recipient
    result = world.withdraw(record.consent_id, NOW + 7)
    assert result.recipients_notified == 2
    with world.store.read() as session:
        notices = repository.list_notifications(session, SUNSHINE)
    assert len(notices) == 1
    notice = notices[0]
    assert notice.kind == "consent-withdrawn"
    assert notice.consent_id == record.consent_id
    assert notice.subject == world.pseudonym(SUNSHINE, case_id)
    assert notice.subject != world.pseudonym("peer-gateway-yubei", case_id)
    assert notice.delete_by_ns == NOW + 7 + 30 * NS_PER_DAY
    assert not notice.attested


def test_withdrawal_without_releases_notifies_nobody(world: World) -> None:
    case_id = world.add_case()
    record = world.record(valid_draft(case_id))
    result = world.withdraw(record.consent_id, NOW + 1)
    assert (result.referrals_cancelled, result.recipients_notified) == (0, 0)


def test_deletion_deadline_is_configurable(world: World) -> None:
    case_id = world.add_case()
    record = world.record(valid_draft(case_id))
    world.release(record.consent_id, SUNSHINE)
    with world.write() as session:
        result = repository.withdraw(
            session,
            record.consent_id,
            org=GOV,
            actor=CASEWORKER,
            reason="",
            now_ns=NOW,
            pseudonym_for=world.pseudonym,
            deadline_days=7,
        )
    assert result.notifications[0].delete_by_ns == NOW + 7 * NS_PER_DAY


def test_withdrawing_twice_is_refused(world: World) -> None:
    case_id = world.add_case()
    record = world.record(valid_draft(case_id))
    world.withdraw(record.consent_id, NOW + 1)
    with pytest.raises(FailedPrecondition) as caught:
        world.withdraw(record.consent_id, NOW + 2)
    assert "withdrawn" in caught.value.message
    with world.store.read() as session:
        assert [e.event for e in repository.events(session, record.consent_id)] == [
            "recorded",
            "withdrawn",
        ]


def test_entered_in_error_needs_a_reason_and_ends_like_a_withdrawal(world: World) -> None:
    case_id = world.add_case()
    record = world.record(valid_draft(case_id))
    referral = world.add_referral(record, "accepted")
    world.release(record.consent_id, SUNSHINE)

    def mark(reason: str) -> repository.WithdrawalResult:
        with world.write() as session:
            return repository.mark_entered_in_error(
                session,
                record.consent_id,
                org=GOV,
                actor=CASEWORKER,
                reason=reason,
                now_ns=NOW + 3,
                pseudonym_for=world.pseudonym,
            )

    with pytest.raises(InvalidArgument) as caught:
        mark(" ")
    assert caught.value.field == "reason"
    result = mark("录入了错误的个案编号")
    assert result.record.state == ENTERED_IN_ERROR
    assert (result.referrals_cancelled, result.recipients_notified) == (1, 1)
    assert world.effective(record.consent_id, NOW + 3).state == ENTERED_IN_ERROR
    with world.store.read() as session:
        assert session.get(Referral, referral).state == "cancelled"  # type: ignore[union-attr]
        assert repository.list_notifications(session, SUNSHINE)[0].kind == (
            "consent-entered-in-error"
        )


# --- validity by the clock, and the sweep ------------------------------------------------------


def test_expiry_boundary_one_nanosecond_before_and_at_valid_until(world: World) -> None:
    case_id = world.add_case()
    until = NOW + 90 * NS_PER_DAY
    record = world.record(valid_draft(case_id, valid_until_ns=until))
    clock = FixedClock(until - 1)
    assert world.effective(record.consent_id, clock.now_ns()).state == ACTIVE
    clock.advance(1)
    # Expired at valid_until exactly, before any sweep recorded it: validity is [from, until).
    assert world.effective(record.consent_id, clock.now_ns()).state == EXPIRED
    clock.advance(1)
    assert world.effective(record.consent_id, clock.now_ns()).state == EXPIRED
    with world.store.read() as session:
        assert [e.event for e in repository.events(session, record.consent_id)] == ["recorded"]


def test_validity_start_boundary_one_nanosecond_before_and_at_valid_from(world: World) -> None:
    case_id = world.add_case()
    start = NOW + 10 * NS_PER_DAY
    record = world.record(valid_draft(case_id, valid_from_ns=start))
    clock = FixedClock(start - 1)
    assert world.effective(record.consent_id, clock.now_ns()).state == NOT_YET_VALID
    clock.advance(1)
    assert world.effective(record.consent_id, clock.now_ns()).state == ACTIVE


def test_sweep_records_expiry_once_and_notifies_recipients(world: World) -> None:
    case_id = world.add_case()
    until = NOW + NS_PER_DAY
    due = world.record(valid_draft(case_id, valid_until_ns=until))
    not_due = world.record(valid_draft(case_id, purpose="medical_aid"))
    withdrawn = world.record(valid_draft(case_id, purpose="elderly_care", valid_until_ns=until))
    world.withdraw(withdrawn.consent_id, NOW + 1)
    world.release(due.consent_id, SUNSHINE)

    def sweep(now_ns: int) -> int:
        with world.write() as session:
            return repository.expire_due(session, now_ns, pseudonym_for=world.pseudonym)

    assert sweep(until - 1) == 0
    assert sweep(until) == 1
    assert sweep(until + 1) == 0
    with world.store.read() as session:
        events = repository.events(session, due.consent_id)
        assert [e.event for e in events] == ["recorded", "expired"]
        assert (events[-1].org, events[-1].actor) == ("gateway", "expiry-sweep")
        notices = repository.list_notifications(session, SUNSHINE)
        assert [(n.kind, n.consent_id) for n in notices] == [("consent-expired", due.consent_id)]
    assert world.effective(not_due.consent_id, until).state == ACTIVE
    assert world.effective(withdrawn.consent_id, until).state == WITHDRAWN


def test_guardian_consent_for_a_13_year_old_stays_valid_and_age_is_exposed_at_14(
    world: World,
) -> None:
    # 13 on NOW (2025-06-01); 14 on 2025-09-01, China time.
    case_id = world.add_case(birth_date=date(2011, 9, 1))
    draft = valid_draft(
        case_id,
        grantor=guardian(),
        categories=("demographics", "hardship", "minors_data"),
        fields=("sex", "hardship_types"),
    )
    record = world.record(draft)
    assert record.grantor.kind == "guardian"
    day_before, birthday = china_ns(2025, 8, 31, 23), china_ns(2025, 9, 1, 0)
    with world.store.read() as session:
        assert repository.subject_facts(session, case_id, day_before).age_years == 13
        assert repository.subject_facts(session, case_id, birthday).age_years == 14
    # The consent itself does not lapse; the policy denies a guardian's consent from 14.
    assert world.effective(record.consent_id, day_before).state == ACTIVE
    assert world.effective(record.consent_id, birthday).state == ACTIVE
    assert policy_view(world.effective(record.consent_id, birthday))["grantor_kind"] == "guardian"


def test_subject_facts_report_capacity(world: World) -> None:
    case_id = world.add_case(lacks_capacity=True)
    with world.store.read() as session:
        facts = repository.subject_facts(session, case_id, NOW)
    assert facts.as_policy_input() == {"age_years": 45, "lacks_capacity": True}


# --- releases, notifications, attestations -----------------------------------------------------


def test_record_release_is_idempotent(world: World) -> None:
    case_id = world.add_case()
    record = world.record(valid_draft(case_id))
    assert world.release(record.consent_id, SUNSHINE, NOW) is True
    assert world.release(record.consent_id, SUNSHINE, NOW + 5) is False
    with world.store.read() as session:
        rows = session.scalars(select(Release)).all()
    assert [(r.org, r.first_at_ns) for r in rows] == [(SUNSHINE, NOW)]


def _withdrawn_with_notice(world: World) -> str:
    case_id = world.add_case()
    record = world.record(valid_draft(case_id))
    world.release(record.consent_id, SUNSHINE)
    return world.withdraw(record.consent_id, NOW).notifications[0].notification_id


def test_only_the_notified_org_can_attest_deletion_and_only_once(world: World) -> None:
    notification_id = _withdrawn_with_notice(world)

    def attest(org: str) -> object:
        with world.write() as session:
            return repository.attest_deletion(
                session,
                notification_id,
                org=org,
                actor="staff-017",
                statement="已从本机构系统删除",
                now_ns=NOW + NS_PER_DAY,
            )

    with pytest.raises(PermissionDenied):
        attest(HARBOUR)
    attested = attest(SUNSHINE)
    assert attested.attested and attested.attested_at_ns == NOW + NS_PER_DAY  # type: ignore[attr-defined]
    with pytest.raises(FailedPrecondition):
        attest(SUNSHINE)
    with world.store.read() as session:
        assert repository.list_notifications(session, SUNSHINE) == []
        shown = repository.list_notifications(session, SUNSHINE, include_attested=True)
        assert [n.attested for n in shown] == [True]


def test_attesting_an_unknown_notification_is_not_found(world: World) -> None:
    with world.write() as session, pytest.raises(NotFound):
        repository.attest_deletion(
            session, "n-missing", org=SUNSHINE, actor="staff-017", statement="", now_ns=NOW
        )


def test_unattested_deletions_become_overdue_after_the_deadline(world: World) -> None:
    notification_id = _withdrawn_with_notice(world)
    with world.store.read() as session:
        delete_by = session.get(Notification, notification_id).delete_by_ns  # type: ignore[union-attr]
        assert repository.overdue_deletions(session, delete_by) == []
        overdue = repository.overdue_deletions(session, delete_by + 1)
    assert [n.notification_id for n in overdue] == [notification_id]
    with world.write() as session:
        repository.attest_deletion(
            session, notification_id, org=SUNSHINE, actor="s", statement="", now_ns=delete_by + 2
        )
    with world.store.read() as session:
        assert repository.overdue_deletions(session, delete_by + 3) == []


def test_withdraw_requires_an_actor(world: World) -> None:
    case_id = world.add_case()
    record = world.record(valid_draft(case_id))
    with world.write() as session, pytest.raises(InvalidArgument) as caught:
        repository.withdraw(
            session,
            record.consent_id,
            org=GOV,
            actor="",
            reason="",
            now_ns=NOW,
            pseudonym_for=world.pseudonym,
        )
    assert caught.value.field == "actor"


def test_record_is_immutable_across_its_lifecycle(world: World) -> None:
    case_id = world.add_case()
    record = world.record(valid_draft(case_id))
    world.release(record.consent_id, SUNSHINE)
    world.withdraw(record.consent_id, NOW + 1)
    with world.store.read() as session:
        after = repository.get_consent(session, record.consent_id, cipher=world.cipher)
    assert replace(after, state=ACTIVE) == record
