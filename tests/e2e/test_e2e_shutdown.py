"""Stopping a real `aidbridge serve` under load (SQLite and PostgreSQL): SIGTERM refuses new
calls, drains the ones in flight, sequences and signs everything queued and exits 0, so
`audit verify` afterwards finds every entry in the tree and none waiting. A second SIGTERM while
draining is logged and does not kill the process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
from sqlalchemy import text
from typer.testing import CliRunner

from aidbridge.v1 import cases_pb2
from gateway.cli import app as cli
from gateway.client import Client
from gateway.config import Config
from gateway.store import Store
from gateway.workdir import init_workdir
from tests.e2e.flow import GOV, adults

CALLERS = 6
STOPPING_CODES = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}


class Serving:
    """An `aidbridge serve` process and the JSON log lines it has written so far."""

    def __init__(self, config: Config) -> None:
        env = dict(os.environ, AIDBRIDGE_LISTEN="127.0.0.1:0", COLUMNS="200")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve", "--work", str(config.work_dir)],
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.events: list[dict[str, object]] = []
        self._seen = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        serving = self.wait_for("serving")
        self.port = int(str(serving["port"]))

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if line.startswith("{"):
                with self._seen:
                    self.events.append(json.loads(line))
                    self._seen.notify_all()

    def wait_for(self, event: str, timeout: float = 60) -> dict[str, object]:
        with self._seen:
            found = self._seen.wait_for(
                lambda: next((e for e in self.events if e.get("event") == event), None),
                timeout=timeout,
            )
        assert found, f"the gateway never logged {event!r}; it logged {self.events[-5:]}"
        return found


def _load(target: str, certs: Path, halt: threading.Event, codes: Counter[str]) -> None:
    """One caller registering cases back to back until halted; counts every status it gets."""
    client = Client.connect(target, certs, GOV, f"caseworker-{threading.get_ident() % 10000}")
    case = adults(1, seed=31)[0]
    n = 0
    try:
        while not halt.is_set():
            n += 1
            request = cases_pb2.RegisterCaseRequest(
                request_id=f"shutdown-{threading.get_ident()}-{n}", case=case
            )
            try:
                client.cases.RegisterCase(request, timeout=30)
                codes["OK"] += 1
            except grpc.RpcError as exc:
                codes[exc.code().name] += 1
                if exc.code() in STOPPING_CODES:
                    return
    finally:
        client.close()


@contextmanager
def _writes_held(store: Store) -> Iterator[None]:
    """Hold the ledger's table against writes, so calls in flight wait inside the gateway."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store.write() as s:  # BEGIN IMMEDIATE on SQLite: the whole database
            if not store.is_sqlite:
                s.execute(text("LOCK TABLE ledger_entries IN EXCLUSIVE MODE"))
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(30)
    try:
        yield
    finally:
        release.set()
        holder.join()


def test_sigterm_under_load_drains_signs_everything_and_a_second_sigterm_does_not_kill(
    tmp_path: Path, db_url: str
) -> None:
    config = init_workdir(tmp_path / "work", db_url=db_url)
    serving = Serving(config)
    target = f"127.0.0.1:{serving.port}"
    codes: Counter[str] = Counter()
    halt = threading.Event()
    callers = [
        threading.Thread(target=_load, args=(target, config.certs_dir, halt, codes))
        for _ in range(CALLERS)
    ]
    store = Store(config.database_url)
    try:
        for t in callers:
            t.start()
        deadline = time.monotonic() + 60
        while codes["OK"] < 30 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert codes["OK"] >= 30, codes
        with _writes_held(store):
            time.sleep(0.3)  # the callers' next calls are now in flight, waiting on the store
            serving.proc.send_signal(signal.SIGTERM)
            serving.wait_for("stopping")
            serving.proc.send_signal(signal.SIGTERM)
            serving.wait_for("signal while stopping: the drain continues")
            assert serving.proc.poll() is None, "the second SIGTERM killed the gateway"
        halt.set()
        assert serving.proc.wait(timeout=60) == 0
    finally:
        halt.set()
        if serving.proc.poll() is None:
            serving.proc.kill()
        for t in callers:
            t.join(timeout=60)
        store.dispose()
    assert set(codes) <= {"OK"} | {c.name for c in STOPPING_CODES}, codes
    serving.wait_for("ledger sequenced at stop")

    result = CliRunner().invoke(cli, ["audit", "verify", "--work", str(config.work_dir)])
    words = " ".join(result.output.split())
    assert result.exit_code == 0, words
    assert "ledger verified:" in words and ", 0 queued (not yet sequenced)" in words
    sequenced = int(words.split("ledger verified: ")[1].split(" ")[0])
    assert sequenced >= codes["OK"]  # every acknowledged call is in the signed tree
