"""Nothing plain at rest: after a whole referral flow through a real gateway — cases registered,
consents recorded and withdrawn, referrals created and accepted, each with notes naming the
person — no byte of the SQLite file or of a PostgreSQL dump holds any of the people's resident
ids, phones, names or addresses. Idempotency responses are sealed, and a retry still gets its
answer."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from aidbridge.v1 import cases_pb2, consents_pb2, referrals_pb2
from gateway.app import Gateway
from gateway.store.models import IdempotentRequest
from tests.conftest import fresh_postgres_url, postgres_base_url, start_gateway
from tests.e2e.flow import CHARITY_A, GOV, adults, refer

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _identifiers(people: list[cases_pb2.Case]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for case in people:
        p = case.person
        for label, value in (
            ("resident id", p.resident_id),
            ("phone", p.phone),
            ("name", p.name),
            ("address", p.address),
            *((f"relative {r.relationship}", r.name) for r in case.relatives),
        ):
            if value:
                found[f"{label} {value}"] = value.encode("utf-8")
    return found


def _flow(gw) -> list[cases_pb2.Case]:
    gov, charity = gw.client(GOV), gw.client(CHARITY_A)
    people = adults(4, seed=31)
    referred = [refer(gov, person, tag=f"rest-{n}") for n, person in enumerate(people)]
    charity.referrals.UpdateReferralState(
        referrals_pb2.UpdateReferralStateRequest(
            request_id="accept-0",
            referral_id=referred[0].referral_id,
            state=referrals_pb2.REFERRAL_STATE_ACCEPTED,
        )
    )
    gov.consents.WithdrawConsent(
        consents_pb2.WithdrawConsentRequest(
            request_id="withdraw-1",
            consent_id=referred[1].consent_id,
            reason="本人撤回同意",
        )
    )
    # A retry is answered from the sealed response, identical to the first answer.
    again = gov.cases.RegisterCase(
        cases_pb2.RegisterCaseRequest(request_id="case-rest-2", case=people[2])
    )
    assert again.case_id == referred[2].case_id
    return people


def _leaks(blob: bytes, identifiers: dict[str, bytes]) -> list[str]:
    return sorted(label for label, value in identifiers.items() if value in blob)


def test_no_identifier_is_stored_plain_in_the_sqlite_file(tmp_path: Path) -> None:
    from gateway.workdir import init_workdir

    config = init_workdir(tmp_path / "work")
    running = start_gateway(config)
    gw = next(running)
    try:
        people = _flow(gw)
    finally:
        running.close()
    identifiers = _identifiers(people)
    assert len(identifiers) >= 16
    db = Path(config.database_url.removeprefix("sqlite:///"))
    blob = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    assert len(blob) > 10_000  # the store was written
    assert _leaks(blob, identifiers) == []


def test_no_identifier_is_stored_plain_in_a_postgresql_dump(tmp_path: Path) -> None:
    from gateway.workdir import init_workdir

    base = postgres_base_url()
    pg_dump = shutil.which("pg_dump") or str(PG_BIN / "pg_dump")
    if not os.path.exists(pg_dump):
        pytest.fail("pg_dump is needed to dump the PostgreSQL store")
    url = fresh_postgres_url()
    config = init_workdir(tmp_path / "work", db_url=url)
    running = start_gateway(config)
    gw = next(running)
    try:
        people = _flow(gw)
    finally:
        running.close()
    schema = url.rsplit("search_path%3D", 1)[1]
    dump = subprocess.run(
        [pg_dump, "--data-only", "--schema", schema, base],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    assert b"ledger_entries" in dump and len(dump) > 10_000
    identifiers = _identifiers(people)
    # bytea is dumped as hex: look for both the text and its hex form.
    hexed = {label: value.hex().encode() for label, value in identifiers.items()}
    assert _leaks(dump, identifiers) == []
    assert _leaks(dump, hexed) == []


def test_a_response_kept_plain_by_an_older_store_is_sealed_at_start(tmp_path: Path) -> None:
    from gateway.workdir import init_workdir

    config = init_workdir(tmp_path / "work")
    running = start_gateway(config)
    gw = next(running)
    try:
        gov = gw.client(GOV)
        person = adults(1, seed=5)[0]
        first = gov.cases.RegisterCase(
            cases_pb2.RegisterCaseRequest(request_id="case-old", case=person)
        )
        app: Gateway = gw.app  # type: ignore[assignment]
        # What an older gateway kept: the plain response bytes.
        with app.store.write() as s:
            row = s.get(IdempotentRequest, (GOV, "case-old"))
            assert row is not None and row.response[0] == 1  # sealed today
            row.response = first.SerializeToString(deterministic=True)
    finally:
        running.close()
    reopened = Gateway.open(config)
    try:
        with reopened.store.read() as s:
            row = s.get(IdempotentRequest, (GOV, "case-old"))
            assert row is not None
            assert row.response[0] == 1
            assert first.case_id.encode() not in row.response
    finally:
        reopened.close()
    running = start_gateway(config)
    gw = next(running)
    try:
        again = gw.client(GOV).cases.RegisterCase(
            cases_pb2.RegisterCaseRequest(request_id="case-old", case=person)
        )
        assert again.case_id == first.case_id
    finally:
        running.close()
