"""The gateway as operators run it: `aidbridge demo` end to end; `aidbridge serve` writing
JSON logs with the call's org, role, actor and method bound — and no personal data; one gateway
per working directory (a lock a killed gateway does not leave held) and per port (no
SO_REUSEPORT); `aidbridge policy reload` reaching the running gateway."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import select
from typer.testing import CliRunner

from gateway.cli import app as cli
from gateway.client import Client, credentials, secure_channel
from gateway.store import Store
from gateway.store.models import LedgerEntry
from gateway.workdir import init_workdir
from tests.e2e.flow import CHARITY_A, GOV, adults, pull, refer


def test_demo_plays_the_whole_exchange_and_verifies_the_ledger(tmp_path):
    result = CliRunner().invoke(cli, ["demo", "--work", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    assert "ledger verified" in result.output
    assert "PERMISSION_DENIED" in result.output
    assert (tmp_path / "demo" / "keys" / "master.key").stat().st_mode & 0o077 == 0


def test_serve_logs_json_with_call_context_and_no_personal_data(work):
    # The logs of the serving process are what this pins, so they are read from its stderr;
    # readiness comes from the health service, not from a log line.
    port = _free_port()
    proc = _serve(work.work_dir, port)
    person = adults(1, seed=23)[0]
    try:
        _wait_serving(proc, port, work.certs_dir)
        gov = Client.connect(f"127.0.0.1:{port}", work.certs_dir, GOV, "caseworker-7")
        charity = Client.connect(f"127.0.0.1:{port}", work.certs_dir, CHARITY_A, "volunteer-3")
        referred = refer(gov, person, tag="logs")
        pull(charity, referred.referral_id)
        gov.close()
        charity.close()
    finally:
        rest = _stop(proc)
    lines = [json.loads(x) for x in rest.splitlines() if x.startswith("{")]
    calls = [x for x in lines if x.get("event") == "call"]
    pulls = [x for x in calls if x["method"].endswith("PullCaseSummary")]
    assert pulls and pulls[0]["org"] == CHARITY_A and pulls[0]["role"] == "charity"
    assert pulls[0]["actor"] == "volunteer-3" and pulls[0]["outcome"] == "OK"
    assert proc.returncode == 0
    for secret in (person.person.resident_id, person.person.name, person.person.phone):
        assert secret not in rest


# --- one gateway per working directory, one listener per port ---------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(work_dir: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--work", str(work_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, AIDBRIDGE_LISTEN=f"127.0.0.1:{port}"),
    )


def _wait_serving(proc: subprocess.Popen[str], port: int, certs: Path) -> None:
    """Until the gateway's health service answers SERVING (over mutual TLS) or it exits."""
    deadline = time.monotonic() + 60
    with secure_channel(f"127.0.0.1:{port}", credentials(certs, GOV)) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"the gateway exited: {proc.communicate()[1][-2000:]}"
            try:
                status = health.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                if status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                time.sleep(0.2)
    raise AssertionError("the gateway did not start serving within 60 s")


def _stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    return proc.communicate(timeout=30)[1]


def test_a_second_gateway_on_the_same_working_directory_refuses_to_start(work):
    port = _free_port()
    first = _serve(work.work_dir, port)
    try:
        _wait_serving(first, port, work.certs_dir)
        second = _serve(work.work_dir, _free_port())
        _, refused = second.communicate(timeout=60)
        assert second.returncode == 1
        assert "another gateway" in refused and "already serving" in refused
        assert f"pid {first.pid}" in refused
        _wait_serving(first, port, work.certs_dir)  # the first one serves on, undisturbed
    finally:
        _stop(first)
    assert first.returncode == 0


def test_a_second_gateway_cannot_listen_on_a_port_a_gateway_already_serves(work, tmp_path):
    other = init_workdir(tmp_path / "other")
    port = _free_port()
    first = _serve(work.work_dir, port)
    try:
        _wait_serving(first, port, work.certs_dir)
        second = _serve(other.work_dir, port)  # its own working directory, the same port
        _, refused = second.communicate(timeout=60)
        assert second.returncode == 1
        assert f"could not listen on 127.0.0.1:{port}" in refused
        assert "in use" in refused
        _wait_serving(first, port, work.certs_dir)
    finally:
        _stop(first)


def test_a_lock_left_by_a_killed_gateway_does_not_block_the_next_which_hears_reload(work):
    port = _free_port()
    killed = _serve(work.work_dir, port)
    try:
        _wait_serving(killed, port, work.certs_dir)
    finally:
        killed.kill()  # SIGKILL: nothing of the gateway runs to release anything
    killed.communicate(timeout=30)
    assert (work.work_dir / "aidbridge.lock").exists()
    port = _free_port()
    gateway = _serve(work.work_dir, port)
    try:
        _wait_serving(gateway, port, work.certs_dir)
        # A bundle that does not compile: the reload is refused at once (an accepted one runs
        # the bundle's tests first, for tens of seconds on a busy machine; test_e2e_identity
        # covers it in process).
        rego = work.bundle_path / "aidbridge" / "authz.rego"
        rego.write_text(rego.read_text(encoding="utf-8") + "\nnot rego\n", encoding="utf-8")
        reload = CliRunner().invoke(cli, ["policy", "reload", "--work", str(work.work_dir)])
        assert reload.exit_code == 0, reload.output
        store = Store(work.database_url)
        deadline = time.monotonic() + 60
        while not _system_entries(store, "ReloadPolicy") and time.monotonic() < deadline:
            time.sleep(0.2)
        [requested] = _system_entries(store, "RequestPolicyReload")
        [reloaded] = _system_entries(store, "ReloadPolicy")
        store.dispose()
        assert f"pid {gateway.pid}" in requested["reason"]
        assert requested["actor"].startswith("os:")
        assert (reloaded["outcome"], reloaded["actor"]) == ("FAILED_PRECONDITION", "gateway")
        assert "stays in force" in reloaded["reason"]
    finally:
        _stop(gateway)
    assert gateway.returncode == 0
    refused = CliRunner().invoke(cli, ["policy", "reload", "--work", str(work.work_dir)])
    assert refused.exit_code == 1
    assert "no gateway is serving" in refused.output


def _system_entries(store: Store, action: str) -> list[dict]:
    with store.read() as session:
        rows = session.scalars(
            select(LedgerEntry.entry_json).where(LedgerEntry.method == f"aidbridge.system/{action}")
        ).all()
    return [json.loads(row) for row in rows]
