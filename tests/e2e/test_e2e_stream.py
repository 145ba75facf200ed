"""StreamCaseSummaries through a real gateway over mutual TLS: every live referral of the caller
as a single pull would give it, one ledger entry per summary, k-anonymity on the set released
together, consent read again for every page, filters and validation."""

from __future__ import annotations

import asyncio
import json
import random
import time
from datetime import date

import grpc
import pytest

from aidbridge.v1 import audit_pb2, cases_pb2, common_pb2, consents_pb2, referrals_pb2
from gateway.services import cases as case_service
from gateway.synthetic import resident_id
from tests.e2e.flow import CHARITY_A, CHARITY_B, COMPLIANCE, GOV, PURPOSE, adults, pull, refer

STREAM = "aidbridge.v1.CaseService/StreamCaseSummaries/summary"


def stream(charity, **filters) -> list[cases_pb2.CaseSummary]:
    return list(
        charity.cases.StreamCaseSummaries(
            cases_pb2.StreamCaseSummariesRequest(purpose=PURPOSE, **filters)
        )
    )


def alike(n: int, *, seed: int, ages: list[int] | None = None) -> list[cases_pb2.Case]:
    """``n`` synthetic adults sharing every quasi-identifier (sex, street, household size, no
    special group), aged ``ages`` (default: all 42)."""
    people = adults(n, seed=seed)
    first = people[0].person
    rng = random.Random(seed)
    today = date.today()
    for i, case in enumerate(people):
        age = ages[i] if ages else 42
        born = date(today.year - age - 1, today.month, 1)
        case.person.birth_date = born.isoformat()
        case.person.resident_id = resident_id(born, False, rng)
        case.person.sex = common_pb2.SEX_FEMALE
        case.person.street, case.person.community = first.street, first.community
        case.person.address = first.address
        case.household_size = 3
        del case.special_groups[:]
    return people


def entries_of(officer) -> list[dict]:
    found = officer.audit.QueryLedger(audit_pb2.QueryLedgerRequest(method=STREAM)).entries
    return [json.loads(e.entry_json) | {"_reason": e.reason} for e in found]


def test_a_large_group_streams_exactly_what_single_pulls_give(gateway):
    gov, charity = gateway.client(GOV), gateway.client(CHARITY_A)
    referred = [refer(gov, p, tag=f"big{i}") for i, p in enumerate(alike(6, seed=3))]

    streamed = stream(charity)

    assert sorted(s.referral_id for s in streamed) == sorted(r.referral_id for r in referred)
    for summary in streamed:
        single = pull(charity, summary.referral_id)
        assert summary == single
    reasons = [e["_reason"] for e in entries_of(gateway.client(COMPLIANCE))]
    assert len(reasons) == 6  # one entry per summary
    assert all(r.startswith("k-anonymity 6 ≥ 5: released as decided") for r in reasons)


def test_a_small_group_is_generalised_and_the_ledger_says_so(gateway):
    gov, charity = gateway.client(GOV), gateway.client(CHARITY_A)
    people = alike(5, seed=5, ages=[25, 33, 44, 51, 58])
    for i, p in enumerate(people):
        refer(gov, p, tag=f"gen{i}")

    streamed = stream(charity)

    assert len(streamed) == 5
    for summary in streamed:
        assert summary.age_band == "18-59"
        assert summary.area == "江北区"
        assert not summary.HasField("household_size")
        assert "household_size" not in {r.field for r in summary.released}
        assert pull(charity, summary.referral_id).HasField("household_size")
    entries = [e for e in entries_of(gateway.client(COMPLIANCE))]
    assert len(entries) == 5
    assert all("generalised to level 2, 0 suppressed, k now 5" in e["_reason"] for e in entries)


def test_rows_that_cannot_reach_k_are_suppressed(gateway):
    gov, charity = gateway.client(GOV), gateway.client(CHARITY_A)
    for i, p in enumerate(alike(2, seed=9, ages=[30, 50])):
        refer(gov, p, tag=f"few{i}")

    assert stream(charity) == []
    entries = [e for e in entries_of(gateway.client(COMPLIANCE))]
    assert len(entries) == 2
    assert all("2 suppressed" in e["_reason"] for e in entries)
    assert all(e["outcome"] == "OK" and not e.get("fields_released") for e in entries)


def test_filters_and_other_charities(gateway):
    gov, charity = gateway.client(GOV), gateway.client(CHARITY_A)
    referred = [refer(gov, p, tag=f"f{i}") for i, p in enumerate(alike(5, seed=13))]
    for i, p in enumerate(alike(5, seed=17)):
        refer(gov, p, tag=f"b{i}", recipient=CHARITY_B)
    charity.referrals.UpdateReferralState(
        referrals_pb2.UpdateReferralStateRequest(
            request_id="accept-0",
            referral_id=referred[0].referral_id,
            state=referrals_pb2.REFERRAL_STATE_ACCEPTED,
        )
    )

    assert len(stream(charity)) == 5  # charity B's referrals never appear
    # A single accepted referral alone is below k: suppressed, not leaked.
    assert stream(charity, state="accepted") == []
    requested = stream(charity, state="requested")
    assert len(requested) == 0  # four alike are below k = 5 as well
    assert stream(charity, updated_since_ns=time.time_ns() + 10**12) == []
    assert len(stream(gateway.client(CHARITY_B))) == 5


def test_withdrawal_mid_stream_stops_that_persons_next_summary(gateway, monkeypatch):
    """The consent is withdrawn (a real call, committed) after the stream's first page left and
    before its second is read: the person's summary in the second page is not sent."""
    monkeypatch.setattr(case_service, "PAGE_SIZE", 5)
    gov, charity = gateway.client(GOV), gateway.client(CHARITY_A)
    referred = [refer(gov, p, tag=f"w{i}") for i, p in enumerate(alike(10, seed=21))]
    last = max(referred, key=lambda r: r.referral_id)
    run_read = case_service.CaseService.run_read
    pages = []

    async def withdraw_before_the_second_page(self, context, request, handler):
        pages.append(handler)
        if len(pages) == 2:
            await asyncio.to_thread(
                gov.consents.WithdrawConsent,
                consents_pb2.WithdrawConsentRequest(
                    request_id="withdraw-last", consent_id=last.consent_id, reason="本人撤回"
                ),
            )
        return await run_read(self, context, request, handler)

    monkeypatch.setattr(case_service.CaseService, "run_read", withdraw_before_the_second_page)
    received = [s.referral_id for s in stream(charity)]

    assert len(pages) >= 2
    assert last.referral_id not in received
    # The first page (5 alike) was sent whole; the second page's 4 left are below k = 5.
    assert len(received) == 5


def test_a_bad_request_is_refused_naming_the_field(gateway):
    charity = gateway.client(CHARITY_A)
    with pytest.raises(grpc.RpcError) as missing:
        list(charity.cases.StreamCaseSummaries(cases_pb2.StreamCaseSummariesRequest()))
    assert missing.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "purpose" in missing.value.details()
    with pytest.raises(grpc.RpcError) as state:
        stream(charity, state="completed")
    assert state.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "state" in state.value.details()
    # A stream holds only referrals made to the caller: the office that made them gets none.
    gov = gateway.client(GOV)
    for i, p in enumerate(alike(5, seed=25)):
        refer(gov, p, tag=f"g{i}")
    assert stream(gov) == []
    assert len(stream(charity)) == 5


@pytest.fixture(params=["sqlite", "postgresql"])
def on_store(request, tmp_path):
    from gateway.workdir import init_workdir
    from tests.conftest import fresh_postgres_url, start_gateway

    db_url = "" if request.param == "sqlite" else fresh_postgres_url()
    yield from start_gateway(init_workdir(tmp_path / "work", db_url=db_url))


def test_on_either_store_a_stream_is_the_single_pulls_and_records_its_releases(on_store):
    gov, charity = on_store.client(GOV), on_store.client(CHARITY_A)
    referred = [refer(gov, p, tag=f"st{i}") for i, p in enumerate(alike(6, seed=31))]

    streamed = stream(charity)

    assert sorted(s.referral_id for s in streamed) == sorted(r.referral_id for r in referred)
    for summary in streamed:
        assert summary == pull(charity, summary.referral_id)
    # The stream remembered that the charity received data under each consent: a withdrawal
    # tells it to delete.
    withdrawn = gov.consents.WithdrawConsent(
        consents_pb2.WithdrawConsentRequest(
            request_id="withdraw-st0", consent_id=referred[0].consent_id, reason="本人撤回"
        )
    )
    assert withdrawn.recipients_notified == 1
    again = stream(charity)
    assert referred[0].referral_id not in {s.referral_id for s in again}
    assert len(again) == 5
    with pytest.raises(grpc.RpcError) as refused:
        pull(charity, referred[0].referral_id)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
