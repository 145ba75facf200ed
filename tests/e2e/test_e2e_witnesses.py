"""Witnesses end to end: three `aidbridge witness serve` processes, a gateway that needs 2 of
them to cosign a checkpoint before it publishes it. Exchanges go on while witnesses are down;
GetCheckpoint returns the cosigned note once the quorum cosigned, and its cosignatures verify
with the witnesses' own keys (C2SP tlog-cosignature v1)."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest

from aidbridge.v1 import audit_pb2
from gateway.config import WitnessEndpoint, load_config, write_config
from gateway.ledger.checkpoint import open_checkpoint
from gateway.ledger.cosignature import find_cosignature, parse_witness_vkey
from gateway.ledger.witness import Witness
from gateway.ledger.witness_publishing import cosigned_note
from gateway.workdir import init_workdir
from tests.conftest import fresh_postgres_url, start_gateway
from tests.e2e.flow import COMPLIANCE, GOV, adults, refer

NAMES = ("supervision.test/witness", "federation.test/witness", "peer.test/witness")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ, COLUMNS="300"),
    )


class WitnessProcess:
    def __init__(self, state: Path, port: int) -> None:
        self.state, self.port = state, port
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "gateway.cli", "witness", "serve"),
                *("--state", str(self.state), "--listen", f"127.0.0.1:{self.port}"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.communicate()[1][-2000:]
            try:
                urllib.request.urlopen(self.url + "/", timeout=1)
            except urllib.error.HTTPError:
                return  # it answers (404 for GET /): serving
            except OSError:
                time.sleep(0.1)
        raise AssertionError("the witness did not start within 60 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.communicate(timeout=30)
            assert self.proc.returncode == 0


@pytest.fixture(params=["sqlite", "postgresql"])
def setup(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    db_url = "" if request.param == "sqlite" else fresh_postgres_url()
    config = init_workdir(tmp_path / "work", db_url=db_url)
    witnesses, endpoints = [], []
    for number, name in enumerate(NAMES):
        state = tmp_path / f"witness-{number}"
        made = _cli(
            "witness", "init", "--state", str(state), "--name", name, "--log", str(config.vkey_path)
        )
        assert made.returncode == 0, made.stderr
        vkey = _cli("witness", "vkey", "--state", str(state)).stdout.strip()
        process = WitnessProcess(state, _free_port())
        witnesses.append(process)
        endpoints.append(WitnessEndpoint(name=name, vkey=vkey, url=process.url))
    config = dataclasses.replace(
        config,
        witnesses=tuple(endpoints),
        witness_quorum=2,
        witness_interval_s=0.05,
        sequencer_interval_s=0.05,
    )
    write_config(config)  # the witnesses as an operator writes them, in aidbridge.toml
    assert load_config(config.work_dir).witnesses == tuple(endpoints)
    try:
        yield config, witnesses, endpoints
    finally:
        for process in witnesses:
            process.stop()


def _published(audit) -> audit_pb2.Checkpoint:  # type: ignore[no-untyped-def]
    return audit.GetCheckpoint(audit_pb2.GetCheckpointRequest())


def _wait_for_cosigned(audit, at_least: int) -> audit_pb2.Checkpoint:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            checkpoint = _published(audit)
            if checkpoint.tree_size >= at_least:
                return checkpoint
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION, exc.details()
        time.sleep(0.05)
    raise AssertionError(f"no checkpoint of ≥ {at_least} entries was cosigned within 60 s")


def test_a_checkpoint_is_published_only_once_two_of_three_witnesses_cosigned_it(setup) -> None:  # type: ignore[no-untyped-def]
    config, witnesses, endpoints = setup
    witnesses[0].start()  # one witness up, two down
    with contextmanager(start_gateway)(config) as running:
        gov = running.client(GOV)
        audit = running.client(COMPLIANCE, actor="au-001").audit
        # Witness downtime never blocks an exchange: the calls are answered and ledgered.
        for number, person in enumerate(adults(3)):
            refer(gov, person, tag=f"w{number}")
        app = running.app
        deadline = time.monotonic() + 30
        signed = app.ledger.latest_checkpoint()
        while (signed is None or signed.size < 9) and time.monotonic() < deadline:
            time.sleep(0.05)
            signed = app.ledger.latest_checkpoint()
        assert signed is not None and signed.size >= 9
        # Only one witness could cosign: nothing is published.
        with pytest.raises(grpc.RpcError) as refused:
            _published(audit)
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "cosigned by 2 of the 3 witnesses" in (refused.value.details() or "")

        witnesses[1].start()
        checkpoint = _wait_for_cosigned(audit, signed.size)
        assert len(checkpoint.cosigned_by) >= 2
        assert set(checkpoint.cosigned_by) <= {NAMES[0], NAMES[1]}
        # The note verifies with the gateway's key and carries each witness's cosignature.
        opened = open_checkpoint(checkpoint.note, app.vkey)
        assert opened.size == checkpoint.tree_size
        for endpoint in endpoints[:2]:
            found = find_cosignature(checkpoint.note, parse_witness_vkey(endpoint.vkey))
            assert found is not None, endpoint.name
        assert find_cosignature(checkpoint.note, parse_witness_vkey(endpoints[2].vkey)) is None
        # The exported form of that checkpoint is the same cosigned note.
        with app.store.read() as s:
            assert cosigned_note(s, checkpoint.tree_size) == checkpoint.note
        # The checkpoint an officer keeps carries the cosignatures, and verify accepts it.
        kept = _cli("audit", "checkpoint", "--work", str(config.work_dir))
        assert kept.returncode == 0, kept.stderr
        for endpoint in endpoints[:2]:
            assert find_cosignature(kept.stdout, parse_witness_vkey(endpoint.vkey)) is not None
        status = _cli("audit", "witnesses", "--work", str(config.work_dir))
        assert status.returncode == 0, status.stderr
        assert "quorum 2 of 3" in status.stdout
        assert f"{NAMES[2]} at {endpoints[2].url}: cosigned 0" in status.stdout
        # Each witness that cosigned keeps, on disk, the checkpoint it cosigned.
        for process in witnesses[:2]:
            held = Witness(process.state).cosigned(config.ledger_origin)
            assert held is not None and held.size >= checkpoint.tree_size
        assert Witness(witnesses[2].state).cosigned(config.ledger_origin) is None
