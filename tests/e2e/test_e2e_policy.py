"""The policy as the gateway enforces it: both engines give the same answers end to end, every
ledger entry names its decision and bundle revision, a failing remote engine fails closed, and a
running gateway reloads its bundle on SIGHUP only when the new one compiles and passes its tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from sqlalchemy import select

from aidbridge.v1 import referrals_pb2
from gateway.client import Client
from gateway.config import load_config
from gateway.store.models import LedgerEntry
from gateway.workdir import init_workdir
from tests.conftest import start_gateway
from tests.e2e.flow import CHARITY_A, GOV, adults, pull, refer
from tests.policy.opa_data_api import OpaDataApiServer


@pytest.fixture
def data_api(work):
    server = OpaDataApiServer(work.bundle_path).start()
    yield server
    server.stop()


@pytest.fixture
def remote_gateway(work, data_api):
    yield from start_gateway(load_config(work.work_dir, opa_url=data_api.url, opa_timeout_s=0.5))


def _entries(gw) -> list[dict]:
    with gw.app.store.read() as session:
        rows = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id))
        return [json.loads(r.entry_json) for r in rows]


def test_remote_opa_engine_gives_the_same_release_as_the_embedded_one(remote_gateway, tmp_path):
    person = adults(1)[0]
    remote = refer(remote_gateway.client(GOV), person, tag="remote")
    remote_summary = pull(remote_gateway.client(CHARITY_A), remote.referral_id)

    for embedded_gw in start_gateway(init_workdir(tmp_path / "embedded")):
        embedded = refer(embedded_gw.client(GOV), person, tag="embedded")
        embedded_summary = pull(embedded_gw.client(CHARITY_A), embedded.referral_id)

    assert [(r.field, r.transform) for r in remote_summary.released] == [
        (r.field, r.transform) for r in embedded_summary.released
    ]
    assert remote_summary.age_band == embedded_summary.age_band
    assert remote_summary.health_category == embedded_summary.health_category


def test_every_ledger_entry_names_its_decision_and_bundle_revision(gateway):
    refer(gateway.client(GOV), adults(1)[0], tag="rev")
    revision = gateway.app.engine.revision
    calls = [e for e in _entries(gateway) if not e["method"].startswith("aidbridge.system/")]
    decided = [e for e in calls if e["outcome"] == "OK"]
    assert len(decided) == 3
    assert {e["bundle_revision"] for e in decided} == {revision}
    assert len({e["decision_id"] for e in decided}) == 3


@pytest.mark.parametrize(
    ("fault", "codes"),
    [
        ("malformed-json", {grpc.StatusCode.PERMISSION_DENIED}),
        ("http-500", {grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAVAILABLE}),
        ("undefined", {grpc.StatusCode.PERMISSION_DENIED}),
        ("bad-shape", {grpc.StatusCode.PERMISSION_DENIED}),
        ("slow", {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.PERMISSION_DENIED}),
    ],
)
def test_a_misbehaving_remote_engine_fails_closed(remote_gateway, data_api, fault, codes):
    referred = refer(remote_gateway.client(GOV), adults(1)[0], tag=fault)
    charity = remote_gateway.client(CHARITY_A)
    data_api.fault = fault
    with pytest.raises(grpc.RpcError) as refused:
        pull(charity, referred.referral_id)
    assert refused.value.code() in codes
    last = _entries(remote_gateway)[-1]
    assert last["method"].endswith("PullCaseSummary")
    assert last["outcome"] == refused.value.code().name
    assert last["fields_released"] == []


def test_remote_engine_killed_mid_run_makes_calls_unavailable(remote_gateway, data_api):
    referred = refer(remote_gateway.client(GOV), adults(1)[0], tag="killed")
    charity = remote_gateway.client(CHARITY_A)
    pull(charity, referred.referral_id)
    data_api.stop()
    with pytest.raises(grpc.RpcError) as refused:
        pull(charity, referred.referral_id)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def _serve(work: Path) -> tuple[subprocess.Popen[str], int]:
    env = dict(os.environ, AIDBRIDGE_LISTEN="127.0.0.1:0")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--work", str(work)],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    deadline = time.time() + 60
    while time.time() < deadline:
        line = proc.stderr.readline()
        if '"serving"' in line:
            return proc, int(json.loads(line)["port"])
    proc.kill()
    raise AssertionError("gateway did not start")


def _wait_for(proc: subprocess.Popen[str], event: str) -> dict:
    assert proc.stderr is not None
    deadline = time.time() + 120
    while time.time() < deadline:
        line = proc.stderr.readline()
        if f'"{event}"' in line:
            return json.loads(line)
    raise AssertionError(f"no {event!r} log line")


def test_sighup_rejects_a_broken_bundle_and_swaps_in_a_good_one(work):
    proc, port = _serve(work.work_dir)
    try:
        charity = Client.connect(f"127.0.0.1:{port}", work.certs_dir, CHARITY_A, "staff-1")
        charity.referrals.ListReferrals(referrals_pb2.ListReferralsRequest())
        authz = work.bundle_path / "aidbridge" / "authz.rego"
        good = authz.read_text(encoding="utf-8")

        authz.write_text("package aidbridge.authz\n\ndecision := {{{\n", encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        rejected = _wait_for(proc, "policy reload rejected; the old bundle stays in force")
        assert "detail" in rejected
        charity.referrals.ListReferrals(referrals_pb2.ListReferralsRequest())  # still allowed

        authz.write_text(good, encoding="utf-8")
        manifest = work.bundle_path / ".manifest"
        manifest.write_text(json.dumps({"revision": "reloaded-2", "roots": ["aidbridge"]}))
        proc.send_signal(signal.SIGHUP)
        assert _wait_for(proc, "policy reloaded")["revision"] == "reloaded-2"
        charity.referrals.ListReferrals(referrals_pb2.ListReferralsRequest())
        charity.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    store_entries = []
    from gateway.store import Store

    store = Store(work.database_url)
    with store.read() as session:
        store_entries = [json.loads(r.entry_json) for r in session.scalars(select(LedgerEntry))]
    store.dispose()
    revisions = [e["bundle_revision"] for e in store_entries if e["outcome"] == "OK"]
    assert revisions[0] != "reloaded-2" and revisions[-1] == "reloaded-2"
