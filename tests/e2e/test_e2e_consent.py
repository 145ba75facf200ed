"""Every consent rule of issue #3, each through the real gateway (grpc.aio over mutual TLS, real
store): withdrawal and its duties, guardians and the 14th birthday, the expiry boundary to the
nanosecond, superseding, receipts, bad input, the ledger naming each pull's consent, and a
property test that no sequence of consent changes ever lets a pull through uncovered.

The gateway runs on a ``FixedClock`` started at the real time (client certificates are checked
against the same clock, so it stays within their validity) and with its periodic sweep parked, so
every state seen here comes from enforcement on the call itself, never from the sweep.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
import time
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from typer.testing import CliRunner

from aidbridge.v1 import cases_pb2, consents_pb2, referrals_pb2
from gateway.clock import NS_PER_DAY, NS_PER_SECOND, FixedClock, from_datetime, to_date
from gateway.config import Config
from gateway.consent.cli import app as consent_cli
from gateway.store.models import Consent, ConsentEvent, LedgerEntry
from gateway.synthetic import resident_id
from gateway.workdir import init_workdir
from tests.conftest import fresh_postgres_url, start_gateway
from tests.e2e.flow import (
    CATEGORIES,
    CHARITY_A,
    CHARITY_B,
    COMPLIANCE,
    GOV,
    PURPOSE,
    adults,
    consent_message,
    pull,
)

CHINA = timezone(timedelta(hours=8))
HOUR_NS = 3600 * NS_PER_SECOND
DENIED = grpc.StatusCode.PERMISSION_DENIED
runner = CliRunner()


def _parked_sweep(work_dir: Path, db_url: str = "") -> Config:
    return dataclasses.replace(init_workdir(work_dir, db_url=db_url), sweep_interval_s=86_400.0)


@pytest.fixture(params=["sqlite", "postgresql"])
def gw(request, tmp_path):
    db_url = "" if request.param == "sqlite" else fresh_postgres_url()
    config = _parked_sweep(tmp_path / "work", db_url)
    yield from start_gateway(config, clock=FixedClock(time.time_ns()))


# --- steps --------------------------------------------------------------------------------------


def _now(gw) -> int:
    return gw.app.clock.now_ns()


def _register(gov, person: cases_pb2.Case, tag: str) -> str:
    return gov.cases.RegisterCase(
        cases_pb2.RegisterCaseRequest(request_id=f"case-{tag}", case=person)
    ).case_id


def _consent(gw, case_id: str, **changes) -> consents_pb2.Consent:
    """flow's consent (valid from 10 min ago for 180 days) at the gateway's time, then changes."""
    message = consent_message(case_id, now_ns=_now(gw))
    for name, value in changes.items():
        if name in ("categories", "fields"):
            del getattr(message, name)[:]
            getattr(message, name).extend(value)
        elif name in ("valid_from", "valid_until"):
            getattr(message, name).FromNanoseconds(value)
        elif name == "grantor":
            message.grantor.CopyFrom(value)
        else:
            setattr(message, name, value)
    return message


def _record(gov, message: consents_pb2.Consent, tag: str) -> consents_pb2.Consent:
    return gov.consents.RecordConsent(
        consents_pb2.RecordConsentRequest(request_id=f"consent-{tag}", consent=message)
    ).consent


def _refer(gov, case_id: str, consent_id: str, tag: str, to_org: str = CHARITY_A) -> str:
    return gov.referrals.CreateReferral(
        referrals_pb2.CreateReferralRequest(
            request_id=f"referral-{tag}",
            case_id=case_id,
            to_org=to_org,
            consent_id=consent_id,
            purpose=PURPOSE,
        )
    ).referral.referral_id


def _withdraw(gov, consent_id: str, tag: str) -> consents_pb2.WithdrawConsentResponse:
    return gov.consents.WithdrawConsent(
        consents_pb2.WithdrawConsentRequest(
            request_id=f"withdraw-{tag}", consent_id=consent_id, reason="本人要求撤回"
        )
    )


def _refused(call, *args) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as refused:
        call(*args)
    return refused.value


def _state(gov, consent_id: str) -> int:
    return gov.consents.GetConsent(consents_pb2.GetConsentRequest(consent_id=consent_id)).state


def _referral_state(client, referral_id: str) -> int:
    return client.referrals.GetReferral(
        referrals_pb2.GetReferralRequest(referral_id=referral_id)
    ).state


def _count(gw, model) -> int:
    with gw.app.store.read() as session:
        return session.scalar(select(func.count()).select_from(model))


def _pull_entries(gw) -> list[dict]:
    with gw.app.store.read() as session:
        rows = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id))
        entries = [json.loads(r.entry_json) for r in rows]
    return [e for e in entries if e["method"].endswith("/PullCaseSummary")]


def _china_midnight_ns(day: date) -> int:
    return from_datetime(datetime(day.year, day.month, day.day, tzinfo=CHINA))


def _person_born(born: date, seed: int) -> cases_pb2.Case:
    """A synthetic person re-born on ``born``: a resident id that says so, the rest as drawn."""
    person = adults(1, seed=seed)[0]
    male = int(person.person.resident_id[16]) % 2 == 1
    person.person.resident_id = resident_id(born, male, random.Random(seed))
    person.person.birth_date = ""  # the gateway fills it from the resident id
    return person


def _guardian() -> consents_pb2.Grantor:
    return consents_pb2.Grantor(
        kind=consents_pb2.GRANTOR_KIND_GUARDIAN,
        name="王芳",
        relationship="母亲",
        verification_method="户口簿核验",
    )


# --- withdrawal ---------------------------------------------------------------------------------


def test_withdrawal_denies_the_very_next_pull_at_the_same_instant(gw):
    gov, charity = gw.client(GOV), gw.client(CHARITY_A)
    case_id = _register(gov, adults(1)[0], "w")
    consent = _record(gov, _consent(gw, case_id), "w")
    referral_id = _refer(gov, case_id, consent.consent_id, "w")
    pull(charity, referral_id)  # allowed, and anything a cache could keep is now warm
    at = _now(gw)

    _withdraw(gov, consent.consent_id, "w")
    refused = _refused(pull, charity, referral_id)

    assert _now(gw) == at  # not a nanosecond passed: nothing can have timed out
    assert refused.code() == DENIED
    assert f"consent {consent.consent_id} is withdrawn" in refused.details()


def _pull_entries(gw) -> list[dict]:
    with gw.app.store.read() as session:
        rows = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id))
        entries = [json.loads(r.entry_json) for r in rows]
    return [e for e in entries if e["method"] == "aidbridge.v1.CaseService/PullCaseSummary"]


def test_a_repeated_pull_is_decided_from_the_cache_and_withdrawal_still_denies_the_next(gw):
    gov, charity = gw.client(GOV), gw.client(CHARITY_A)
    case_id = _register(gov, adults(1)[0], "cw")
    consent = _record(gov, _consent(gw, case_id), "cw")
    referral_id = _refer(gov, case_id, consent.consent_id, "cw")
    first = pull(charity, referral_id)
    gw.app.clock.advance(1)
    assert pull(charity, referral_id) == first  # the cached decision releases the same

    _withdraw(gov, consent.consent_id, "cw")
    gw.app.clock.advance(1)  # the next nanosecond: inside the cached decision's interval
    refused = _refused(pull, charity, referral_id)

    assert refused.code() == DENIED
    assert f"consent {consent.consent_id} is withdrawn" in refused.details()
    evaluated, cached, denied = _pull_entries(gw)
    assert "decision_cached_from" not in evaluated
    assert cached["decision_cached_from"] == evaluated["decision_id"]
    assert cached["decision_id"] != evaluated["decision_id"]
    assert cached["outcome"] == "OK" and cached["fields_released"] == evaluated["fields_released"]
    assert denied["outcome"] == "PERMISSION_DENIED" and "decision_cached_from" not in denied
    assert len({e["decision_id"] for e in (evaluated, cached, denied)}) == 3


def test_with_the_cache_off_every_pull_is_evaluated(tmp_path):
    config = dataclasses.replace(_parked_sweep(tmp_path / "work"), decision_cache_entries=0)
    for gw in start_gateway(config, clock=FixedClock(time.time_ns())):
        gov, charity = gw.client(GOV), gw.client(CHARITY_A)
        case_id = _register(gov, adults(1)[0], "off")
        consent = _record(gov, _consent(gw, case_id), "off")
        referral_id = _refer(gov, case_id, consent.consent_id, "off")
        assert pull(charity, referral_id) == pull(charity, referral_id)
        assert [e.get("decision_cached_from") for e in _pull_entries(gw)] == [None, None]


def test_withdrawal_cancels_the_open_referrals_resting_on_it_and_no_other(gw):
    gov, charity_a, charity_b = gw.client(GOV), gw.client(CHARITY_A), gw.client(CHARITY_B)
    case_id = _register(gov, adults(1)[0], "c")
    to_a = _record(gov, _consent(gw, case_id), "a")
    to_b = _record(gov, _consent(gw, case_id, recipient_org=CHARITY_B), "b")
    accepted = _refer(gov, case_id, to_a.consent_id, "accepted")
    requested = _refer(gov, case_id, to_a.consent_id, "requested")
    other = _refer(gov, case_id, to_b.consent_id, "other", to_org=CHARITY_B)
    charity_a.referrals.UpdateReferralState(
        referrals_pb2.UpdateReferralStateRequest(
            request_id="accept",
            referral_id=accepted,
            state=referrals_pb2.REFERRAL_STATE_ACCEPTED,
        )
    )

    withdrawn = _withdraw(gov, to_a.consent_id, "c")

    assert withdrawn.referrals_cancelled == 2
    assert withdrawn.consent.state == consents_pb2.CONSENT_STATE_WITHDRAWN
    for referral_id in (accepted, requested):
        for client in (gov, charity_a):
            assert (
                _referral_state(client, referral_id)
                == referrals_pb2.REFERRAL_STATE_CANCELLED_BY_WITHDRAWAL
            )
    assert _referral_state(charity_b, other) == referrals_pb2.REFERRAL_STATE_REQUESTED
    pull(charity_b, other)  # the other charity's consent is untouched


def test_the_charity_that_received_data_is_notified_under_its_own_pseudonym(gw):
    gov, charity_a, charity_b = gw.client(GOV), gw.client(CHARITY_A), gw.client(CHARITY_B)
    case_id = _register(gov, adults(1)[0], "n")
    consent = _record(gov, _consent(gw, case_id), "n")
    summary = pull(charity_a, _refer(gov, case_id, consent.consent_id, "n"))

    withdrawn = _withdraw(gov, consent.consent_id, "n")

    assert withdrawn.recipients_notified == 1
    [notice] = charity_a.consents.ListNotifications(
        consents_pb2.ListNotificationsRequest()
    ).notifications
    assert notice.kind == "consent-withdrawn"
    assert notice.consent_id == consent.consent_id
    assert notice.subject == summary.subject  # the charity's own pseudonym, nothing plainer
    assert notice.delete_by.ToNanoseconds() == _now(gw) + 30 * NS_PER_DAY
    assert not notice.attested
    assert (
        list(
            charity_b.consents.ListNotifications(
                consents_pb2.ListNotificationsRequest()
            ).notifications
        )
        == []
    )


def test_a_charity_that_never_received_data_is_not_told_to_delete(gw):
    gov, charity_a = gw.client(GOV), gw.client(CHARITY_A)
    case_id = _register(gov, adults(1)[0], "never")
    consent = _record(gov, _consent(gw, case_id), "never")
    _refer(gov, case_id, consent.consent_id, "never")  # referred, never pulled

    assert _withdraw(gov, consent.consent_id, "never").recipients_notified == 0
    listed = charity_a.consents.ListNotifications(consents_pb2.ListNotificationsRequest())
    assert list(listed.notifications) == []


def test_deletion_is_attested_once_and_only_by_the_notified_charity(gw):
    gov, charity_a, charity_b = gw.client(GOV), gw.client(CHARITY_A), gw.client(CHARITY_B)
    case_id = _register(gov, adults(1)[0], "att")
    consent = _record(gov, _consent(gw, case_id), "att")
    pull(charity_a, _refer(gov, case_id, consent.consent_id, "att"))
    _withdraw(gov, consent.consent_id, "att")
    [notice] = charity_a.consents.ListNotifications(
        consents_pb2.ListNotificationsRequest()
    ).notifications

    def attest(client, request_id: str) -> consents_pb2.AttestDeletionResponse:
        return client.consents.AttestDeletion(
            consents_pb2.AttestDeletionRequest(
                request_id=request_id,
                notification_id=notice.notification_id,
                statement="已从本机构系统删除",
            )
        )

    by_other = _refused(attest, charity_b, "b-1")
    assert by_other.code() == DENIED
    attested = attest(charity_a, "a-1").notification
    assert attested.attested and attested.notification_id == notice.notification_id
    again = _refused(attest, charity_a, "a-2")
    assert again.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "already attested" in again.details()

    open_ones = charity_a.consents.ListNotifications(consents_pb2.ListNotificationsRequest())
    assert list(open_ones.notifications) == []
    all_ones = charity_a.consents.ListNotifications(
        consents_pb2.ListNotificationsRequest(include_attested=True)
    )
    assert [(n.notification_id, n.attested) for n in all_ones.notifications] == [
        (notice.notification_id, True)
    ]


def test_an_unattested_deletion_past_its_deadline_shows_for_compliance(gw):
    gov, charity_a = gw.client(GOV), gw.client(CHARITY_A)
    officer = gw.client(COMPLIANCE, "inspector-7")
    consent_of = {}
    for tag, person in zip(("kept", "deleted"), adults(2), strict=True):
        case_id = _register(gov, person, tag)
        consent_of[tag] = _record(gov, _consent(gw, case_id), tag).consent_id
        pull(charity_a, _refer(gov, case_id, consent_of[tag], tag))
        _withdraw(gov, consent_of[tag], tag)
    notices = charity_a.consents.ListNotifications(consents_pb2.ListNotificationsRequest())
    notice_of = {n.consent_id: n for n in notices.notifications}
    kept, deleted = notice_of[consent_of["kept"]], notice_of[consent_of["deleted"]]
    charity_a.consents.AttestDeletion(
        consents_pb2.AttestDeletionRequest(
            request_id="attest", notification_id=deleted.notification_id, statement="已删除"
        )
    )

    def overdue() -> list[str]:
        found = officer.consents.ListOverdueDeletions(consents_pb2.ListOverdueDeletionsRequest())
        return [n.notification_id for n in found.notifications]

    assert overdue() == []
    gw.app.clock.set(kept.delete_by.ToNanoseconds())
    assert overdue() == []  # due at the deadline, overdue only after it
    gw.app.clock.advance(1)
    assert overdue() == [kept.notification_id]
    refused = _refused(
        charity_a.consents.ListOverdueDeletions, consents_pb2.ListOverdueDeletionsRequest()
    )
    assert refused.code() == DENIED


# --- guardians ----------------------------------------------------------------------------------


def test_a_minors_consent_without_a_guardian_is_refused_naming_the_field(gw):
    gov = gw.client(GOV)
    today = to_date(_now(gw))
    case_id = _register(gov, _person_born(today.replace(year=today.year - 10), 21), "minor")
    message = _consent(gw, case_id, categories=[*CATEGORIES, "minors_data"])

    refused = _refused(_record, gov, message, "minor")

    # The subject's age is what the gateway knows, not what the request says: FAILED_PRECONDITION.
    assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "grantor.kind must be 'guardian'" in refused.details()
    assert "under 14" in refused.details()
    assert _count(gw, Consent) == 0 and _count(gw, ConsentEvent) == 0


def test_a_guardian_must_say_how_they_are_related_and_how_that_was_verified(gw):
    gov = gw.client(GOV)
    today = to_date(_now(gw))
    case_id = _register(gov, _person_born(today.replace(year=today.year - 10), 22), "g")
    grantor = _guardian()
    grantor.relationship = ""
    message = _consent(gw, case_id, categories=[*CATEGORIES, "minors_data"], grantor=grantor)

    refused = _refused(_record, gov, message, "g")

    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "grantor.relationship" in refused.details()
    assert _count(gw, Consent) == 0


def test_a_minors_consent_given_by_a_verified_guardian_is_recorded(gw):
    gov = gw.client(GOV)
    today = to_date(_now(gw))
    case_id = _register(gov, _person_born(today.replace(year=today.year - 10), 23), "ok")
    message = _consent(gw, case_id, categories=[*CATEGORIES, "minors_data"], grantor=_guardian())

    recorded = _record(gov, message, "ok")

    shown = gov.consents.GetConsent(consents_pb2.GetConsentRequest(consent_id=recorded.consent_id))
    assert shown.state == consents_pb2.CONSENT_STATE_ACTIVE
    assert shown.grantor == _guardian()
    assert "minors_data" in shown.categories


def test_a_guardians_consent_is_rechecked_at_each_use_and_lapses_on_the_14th_birthday(gw):
    gov, charity = gw.client(GOV), gw.client(CHARITY_A)
    today = to_date(_now(gw))
    fourteenth = today + timedelta(days=3)
    if (fourteenth.month, fourteenth.day) == (2, 29):
        fourteenth += timedelta(days=1)
    case_id = _register(
        gov, _person_born(fourteenth.replace(year=fourteenth.year - 14), 24), "teen"
    )
    message = _consent(gw, case_id, categories=[*CATEGORIES, "minors_data"], grantor=_guardian())
    consent = _record(gov, message, "teen")  # recorded at 13, by the guardian
    referral_id = _refer(gov, case_id, consent.consent_id, "teen")
    pull(charity, referral_id)

    gw.app.clock.set(_china_midnight_ns(fourteenth) - 12 * HOUR_NS)  # the day before, at noon
    assert pull(charity, referral_id).consent_id == consent.consent_id
    gw.app.clock.set(_china_midnight_ns(fourteenth))  # the 14th birthday, China time
    refused = _refused(pull, charity, referral_id)

    assert refused.code() == DENIED
    assert "guardian consent lapsed" in refused.details()


def test_the_birthday_boundary_is_exact_to_the_nanosecond(gw):
    gov, charity = gw.client(GOV), gw.client(CHARITY_A)
    fourteenth = to_date(_now(gw)) + timedelta(days=3)
    if (fourteenth.month, fourteenth.day) == (2, 29):
        fourteenth += timedelta(days=1)
    case_id = _register(gov, _person_born(fourteenth.replace(year=fourteenth.year - 14), 25), "ns")
    message = _consent(gw, case_id, categories=[*CATEGORIES, "minors_data"], grantor=_guardian())
    referral_id = _refer(gov, case_id, _record(gov, message, "ns").consent_id, "ns")

    gw.app.clock.set(_china_midnight_ns(fourteenth) - 1)  # the last instant of being 13
    pull(charity, referral_id)


# --- expiry and superseding ---------------------------------------------------------------------


def test_a_pull_is_allowed_one_nanosecond_before_expiry_and_denied_at_and_after_it(gw):
    gov, charity = gw.client(GOV), gw.client(CHARITY_A)
    case_id = _register(gov, adults(1)[0], "exp")
    until = _now(gw) + 2 * HOUR_NS + 123_456_789  # not on a second: nanoseconds must count
    consent = _record(gov, _consent(gw, case_id, valid_until=until), "exp")
    assert consent.valid_until.ToNanoseconds() == until
    referral_id = _refer(gov, case_id, consent.consent_id, "exp")

    gw.app.clock.set(until - 1)
    assert pull(charity, referral_id).consent_id == consent.consent_id
    assert _state(gov, consent.consent_id) == consents_pb2.CONSENT_STATE_ACTIVE
    for at in (until, until + 1):
        gw.app.clock.set(at)
        refused = _refused(pull, charity, referral_id)
        assert refused.code() == DENIED, at - until
        assert "expired" in refused.details()
        assert _state(gov, consent.consent_id) == consents_pb2.CONSENT_STATE_EXPIRED


def test_a_new_consent_naming_the_old_one_supersedes_it_and_the_old_one_no_longer_serves(gw):
    gov, charity = gw.client(GOV), gw.client(CHARITY_A)
    case_id = _register(gov, adults(1)[0], "sup")
    old = _record(gov, _consent(gw, case_id), "old")
    old_referral = _refer(gov, case_id, old.consent_id, "old")
    assert pull(charity, old_referral).HasField("health_category")

    narrower = [c for c in CATEGORIES if c != "health"]
    fields = [f for f in old.fields if f != "health_condition"]
    new = _record(
        gov,
        _consent(gw, case_id, categories=narrower, fields=fields, supersedes=old.consent_id),
        "new",
    )

    assert (new.version, new.supersedes) == (2, old.consent_id)
    assert _state(gov, old.consent_id) == consents_pb2.CONSENT_STATE_SUPERSEDED
    history = gov.consents.ListConsentEvents(
        consents_pb2.ListConsentEventsRequest(consent_id=old.consent_id)
    ).events
    assert [(e.event, e.reason) for e in history] == [
        ("recorded", ""),
        ("superseded", f"superseded by {new.consent_id}"),
    ]
    refused = _refused(pull, charity, old_referral)
    assert refused.code() == DENIED
    assert "superseded" in refused.details()
    summary = pull(charity, _refer(gov, case_id, new.consent_id, "new"))
    assert summary.consent_id == new.consent_id
    assert not summary.HasField("health_category")  # the new consent's data, not the old


# --- receipts -----------------------------------------------------------------------------------


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def test_a_receipt_verifies_offline_and_fails_after_any_one_byte_changes(gw, tmp_path):
    gov = gw.client(GOV)
    case_id = _register(gov, adults(1)[0], "rec")
    consent = _record(gov, _consent(gw, case_id), "rec")
    got = gov.consents.GetConsentReceipt(
        consents_pb2.GetConsentReceiptRequest(consent_id=consent.consent_id)
    )
    assert consent.consent_id in got.text
    receipt = got.json.encode("utf-8")
    path = tmp_path / "receipt.json"
    path.write_bytes(receipt)
    work = ["--work", str(gw.app.config.work_dir)]

    verified = runner.invoke(consent_cli, ["verify-receipt", str(path), *work])
    assert verified.exit_code == 0, verified.output
    assert f"receipt verifies: consent {consent.consent_id} version 1" in verified.stdout

    record_start = receipt.index(b'"record":"') + len(b'"record":"')
    positions = {
        "first byte": 0,
        "last byte": len(receipt) - 1,
        "inside the signature": receipt.index(consent.signature.encode()) + 10,
        "signature's last character": receipt.index(consent.signature.encode())
        + len(consent.signature)
        - 1,
        "record: consent id": receipt.index(consent.consent_id.encode(), record_start) + 5,
        "record: valid_until digit": receipt.index(b'valid_until_ns\\":', record_start) + 18,
        "record: grantor name (UTF-8)": receipt.index(consent.grantor.name.encode(), record_start),
        "record: recipient": receipt.index(CHARITY_A.encode(), record_start) + 2,
        "key fingerprint": receipt.index(b"sha256:") + 12,
        "key id": receipt.index(b'"key_id":"') + 11,
        "envelope key": receipt.index(b'"algorithm"') + 2,
    }
    for where, at in positions.items():
        path.write_bytes(_flip(receipt, at))
        failed = runner.invoke(consent_cli, ["verify-receipt", str(path), *work])
        assert failed.exit_code == 1, f"{where}: {failed.output}"
        assert "receipt does not verify" in failed.stderr, where


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "code", "named"),
    [
        pytest.param(
            lambda now: {"valid_from": now, "valid_until": now - NS_PER_SECOND},
            grpc.StatusCode.INVALID_ARGUMENT,
            "valid_until",
            id="expiry-before-start",
        ),
        pytest.param(
            lambda now: {"purpose": "marketing"},
            grpc.StatusCode.INVALID_ARGUMENT,
            "purpose",
            id="unknown-purpose",
        ),
        pytest.param(
            lambda now: {"categories": [*CATEGORIES, "religion"]},
            grpc.StatusCode.INVALID_ARGUMENT,
            "categories: unknown category 'religion'",
            id="unknown-category",
        ),
        pytest.param(
            lambda now: {"categories": [c for c in CATEGORIES if c != "health"]},
            grpc.StatusCode.INVALID_ARGUMENT,
            "categories: field 'health_condition' is in the sensitive category 'health'",
            id="sensitive-field-category-not-named",
        ),
        pytest.param(
            lambda now: {"recipient_org": COMPLIANCE},
            grpc.StatusCode.INVALID_ARGUMENT,
            "recipient_org must be a registered charity",
            id="recipient-not-a-charity",
        ),
        pytest.param(
            lambda now: {"recipient_org": "charity-unregistered"},
            grpc.StatusCode.INVALID_ARGUMENT,
            "recipient_org must be a registered organisation",
            id="recipient-not-registered",
        ),
        pytest.param(
            lambda now: {"retention_days": 0},
            grpc.StatusCode.INVALID_ARGUMENT,
            "retention_days",
            id="unlimited-retention",
        ),
    ],
)
def test_bad_consent_is_refused_naming_the_field_and_nothing_is_stored(gw, change, code, named):
    gov = gw.client(GOV)
    case_id = _register(gov, adults(1)[0], "bad")

    refused = _refused(_record, gov, _consent(gw, case_id, **change(_now(gw))), "bad")

    assert refused.code() == code
    assert named in refused.details()
    assert _count(gw, Consent) == 0 and _count(gw, ConsentEvent) == 0


def test_a_duplicate_request_id_with_different_content_is_refused_and_stores_nothing_new(gw):
    gov = gw.client(GOV)
    case_id = _register(gov, adults(1)[0], "dup")
    first = _record(gov, _consent(gw, case_id), "dup")
    assert _record(gov, _consent(gw, case_id), "dup") == first  # a true retry: same answer

    refused = _refused(_record, gov, _consent(gw, case_id, retention_days=30), "dup")

    assert refused.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "request_id" in refused.details()
    assert _count(gw, Consent) == 1 and _count(gw, ConsentEvent) == 1


def test_a_second_live_consent_for_the_same_recipient_and_purpose_must_supersede(gw):
    gov = gw.client(GOV)
    case_id = _register(gov, adults(1)[0], "two")
    first = _record(gov, _consent(gw, case_id), "one")

    refused = _refused(_record, gov, _consent(gw, case_id, retention_days=30), "two")

    assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert f"supersedes must name {first.consent_id}" in refused.details()
    assert _count(gw, Consent) == 1


# --- the ledger ---------------------------------------------------------------------------------


def test_every_pull_ledger_entry_names_the_consent_and_version_it_relied_on(gw):
    gov, charity = gw.client(GOV), gw.client(CHARITY_A)
    case_id = _register(gov, adults(1)[0], "led")
    old = _record(gov, _consent(gw, case_id), "v1")
    old_referral = _refer(gov, case_id, old.consent_id, "v1")
    pull(charity, old_referral)
    new = _record(gov, _consent(gw, case_id, supersedes=old.consent_id), "v2")
    new_referral = _refer(gov, case_id, new.consent_id, "v2")
    pull(charity, new_referral)
    _refused(pull, charity, old_referral)

    pulls = [(e["consent_id"], e["consent_version"], e["outcome"]) for e in _pull_entries(gw)]

    assert pulls == [
        (old.consent_id, 1, "OK"),
        (new.consent_id, 2, "OK"),
        (old.consent_id, 1, "PERMISSION_DENIED"),
    ]


# --- the invariant ------------------------------------------------------------------------------

_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("record"), st.integers(1, 48)),  # valid for this many hours
        st.tuples(st.just("supersede"), st.integers(1, 48)),
        st.tuples(st.just("withdraw"), st.just(0)),
        st.tuples(st.just("advance"), st.integers(1, 12 * 60)),  # minutes
        st.tuples(st.just("to-expiry"), st.sampled_from([-1, 0, 1])),  # ns around valid_until
    ),
    min_size=2,
    max_size=8,
)


@dataclasses.dataclass
class _Modelled:
    consent_id: str
    valid_until_ns: int
    state: str = "active"  # the stored state: active, withdrawn or superseded

    def covers(self, now_ns: int) -> bool:
        # valid_from is ten minutes before recording and the clock never goes back.
        return self.state == "active" and now_ns < self.valid_until_ns

    def shown_state(self, now_ns: int) -> int:
        if self.state == "active" and now_ns >= self.valid_until_ns:
            return consents_pb2.CONSENT_STATE_EXPIRED
        return {
            "active": consents_pb2.CONSENT_STATE_ACTIVE,
            "withdrawn": consents_pb2.CONSENT_STATE_WITHDRAWN,
            "superseded": consents_pb2.CONSENT_STATE_SUPERSEDED,
        }[self.state]


def test_no_sequence_of_consent_changes_lets_a_pull_through_without_a_covering_consent(tmp_path):
    people = itertools.cycle(adults(30, seed=99))  # each example registers a new case
    clock = FixedClock(time.time_ns())
    with contextmanager(start_gateway)(_parked_sweep(tmp_path / "work"), clock=clock) as gw:
        gov, charity = gw.client(GOV), gw.client(CHARITY_A)

        @settings(
            max_examples=15,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(first=st.integers(1, 48), ops=_OPS)
        def run(first: int, ops: list[tuple[str, int]]) -> None:
            tag = f"p{time.time_ns()}"
            case_id = _register(gov, next(people), tag)
            consents: list[_Modelled] = []
            referrals: list[tuple[str, _Modelled]] = []

            def record(hours: int, supersedes: _Modelled | None, step: int) -> None:
                message = _consent(
                    gw,
                    case_id,
                    valid_until=clock.now_ns() + hours * HOUR_NS,
                    supersedes=supersedes.consent_id if supersedes else "",
                )
                expect_ok = (
                    supersedes.covers(clock.now_ns())
                    if supersedes is not None
                    else not any(c.covers(clock.now_ns()) for c in consents)
                )
                try:
                    recorded = _record(gov, message, f"{tag}-{step}")
                except grpc.RpcError as exc:
                    assert not expect_ok, exc.details()
                    assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION, exc.details()
                    return
                assert expect_ok, "recorded a second live consent or superseded a dead one"
                if supersedes is not None:
                    supersedes.state = "superseded"
                modelled = _Modelled(recorded.consent_id, message.valid_until.ToNanoseconds())
                consents.append(modelled)
                referral = _refer(gov, case_id, recorded.consent_id, f"{tag}-{step}")
                referrals.append((referral, modelled))

            # Every sequence starts from a consent, so the steps after it have something to change.
            for step, (op, value) in enumerate([("record", first), *ops]):
                latest = consents[-1] if consents else None
                if op == "record":
                    record(value, None, step)
                elif op == "supersede" and latest is not None:
                    record(value, latest, step)
                elif op == "withdraw" and latest is not None:
                    try:
                        _withdraw(gov, latest.consent_id, f"{tag}-{step}")
                    except grpc.RpcError as exc:
                        assert latest.state != "active", exc.details()
                        assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION
                    else:
                        assert latest.state == "active"
                        latest.state = "withdrawn"
                elif op == "advance":
                    clock.advance(value * 60 * NS_PER_SECOND)
                elif op == "to-expiry" and latest is not None:
                    clock.set(max(clock.now_ns(), latest.valid_until_ns + value))

                now = clock.now_ns()
                for referral_id, consent in referrals:
                    try:
                        summary = pull(charity, referral_id)
                    except grpc.RpcError as exc:
                        assert not consent.covers(now), f"{op}: refused {exc.details()}"
                        assert exc.code() == DENIED, exc.details()
                    else:
                        assert consent.covers(now), f"{op}: a pull got through uncovered"
                        assert summary.consent_id == consent.consent_id
                listed = gov.consents.ListConsents(
                    consents_pb2.ListConsentsRequest(case_id=case_id)
                ).consents
                assert {c.consent_id: c.state for c in listed} == {
                    c.consent_id: c.shown_state(now) for c in consents
                }

        run()
