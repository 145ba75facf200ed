"""Revision 0012 on SQLite and PostgreSQL: reverse referrals stored before it get the person's
store index from their sealed payloads (with the master key; without it the store is left at
0011, untouched), and a gateway on the upgraded store decides and ledgers their outcomes by it."""

from __future__ import annotations

import time

import grpc
import pytest
from alembic import command
from sqlalchemy import select, text

from aidbridge.v1 import audit_pb2
from gateway.clock import FixedClock
from gateway.keys import KeyRing
from gateway.store import Store
from gateway.store.db import alembic_config
from gateway.store.models import ReverseReferral
from gateway.workdir import init_workdir
from tests.conftest import fresh_postgres_url, start_gateway
from tests.e2e.flow import CHARITY_A, CHARITY_B, COMPLIANCE, STREET_OFFICE
from tests.referrals.loop import GUANYINQIAO, S, person, reverse_request


@pytest.fixture(params=["sqlite", "postgresql"])
def config(request, tmp_path):
    db_url = "" if request.param == "sqlite" else fresh_postgres_url()
    return init_workdir(tmp_path / "work", db_url=db_url)


def _gateway(config):
    running = start_gateway(config, clock=FixedClock(time.time_ns()))
    return next(running), running


def _migrate(store: Store, direction: str, revision: str, keys=None) -> None:
    with store.engine.begin() as conn:
        cfg = alembic_config(store.url)
        cfg.attributes["connection"] = conn
        cfg.attributes["keys"] = keys
        getattr(command, direction)(cfg, revision)


def _revision(store: Store) -> str:
    with store.read() as session:
        return str(session.scalar(text("SELECT version_num FROM alembic_version")))


def test_reverse_referrals_stored_before_0012_are_indexed_by_the_upgrade(config):
    gw, running = _gateway(config)
    people = [person(61, street=GUANYINQIAO), person(62, street=GUANYINQIAO)]
    made = {
        gw.client(CHARITY_A)
        .referrals.CreateReverseReferral(
            reverse_request(gw, p, rid=f"old-{i}", office=STREET_OFFICE)
        )
        .reverse_referral_id: p.person.resident_id
        for i, p in enumerate(people)
    }
    expected = {rid: gw.app.subject_index(resident) for rid, resident in made.items()}
    running.close()

    store = Store(config.database_url)
    try:
        _migrate(store, "downgrade", "0011")
        with pytest.raises(RuntimeError, match="master key"):
            _migrate(store, "upgrade", "heads")
        assert _revision(store) == "0011"  # refused before any change

        _migrate(store, "upgrade", "heads", keys=KeyRing.load(config.master_key_path))
        assert _revision(store) == "0012"
        with store.read() as session:
            rows = session.execute(
                select(ReverseReferral.reverse_referral_id, ReverseReferral.subject_index)
            ).all()
    finally:
        store.dispose()
    assert dict(rows) == expected

    gw, running = _gateway(config)
    try:
        first, second = made
        received = gw.client(STREET_OFFICE).referrals.ReportReverseOutcome(
            S.ReportReverseOutcomeRequest(
                request_id="after-0012", reverse_referral_id=first, state="received"
            )
        )
        assert received.state == "received"
        with pytest.raises(grpc.RpcError) as refused:
            gw.client(CHARITY_B).referrals.ReportReverseOutcome(
                S.ReportReverseOutcomeRequest(
                    request_id="not-theirs", reverse_referral_id=second, state="received"
                )
            )
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        gw.app.ledger.integrate()
        entries = (
            gw.client(COMPLIANCE, "inspector-9")
            .audit.QueryLedger(audit_pb2.QueryLedgerRequest(subject_resident_id=made[second]))
            .entries
        )
        seen = {(e.org, e.method.rsplit("/", 1)[-1], e.outcome) for e in entries}
        assert (CHARITY_B, "ReportReverseOutcome", "PERMISSION_DENIED") in seen
    finally:
        running.close()


def test_an_empty_store_is_upgraded_without_the_key(db_url):
    store = Store(db_url)
    try:
        store.migrate()
        assert _revision(store) == "0012"
    finally:
        store.dispose()
