"""`aidbridge serve --workers 2`: one command, two server processes on one port and one store
(SQLite and PostgreSQL), every guarantee holding across them — calls spread over both, a
withdrawal on one connection denies the next pull on any, a revocation by the CLI is refused
by both, the ledger one verified tree afterwards; a killed worker is replaced; SIGTERM stops
all and frees the working directory; a port taken makes the command fail."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from typer.testing import CliRunner

from aidbridge.v1 import cases_pb2, consents_pb2, referrals_pb2
from gateway.cli import app as cli
from gateway.client import ACTOR_KEY, Client, credentials
from gateway.workdir import init_workdir, serving_pid
from tests.e2e.flow import CHARITY_A, CHARITY_B, GOV, PURPOSE, adults, refer

ROOT = Path(__file__).resolve().parents[2]
CALLERS = 16


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _channel(port: int, certs: Path, org: str) -> grpc.Channel:
    """A connection of its own (gRPC would otherwise share one between channels alike), so
    each lands on whichever worker the kernel picks."""
    return grpc.secure_channel(
        f"127.0.0.1:{port}",
        credentials(certs, org),
        options=[
            ("grpc.ssl_target_name_override", "localhost"),
            ("grpc.use_local_subchannel_pool", 1),
        ],
    )


def _client(port: int, certs: Path, org: str, actor: str) -> Client:
    return Client(_channel(port, certs, org), actor)


class Serving:
    """`aidbridge serve --workers N` in a subprocess; its log (all processes') in a file."""

    def __init__(self, work_dir: Path, port: int, log: Path, workers: int = 2) -> None:
        self.work_dir, self.port, self.log_path = work_dir, port, log
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gateway.cli",
                "serve",
                "--work",
                str(work_dir),
                "--workers",
                str(workers),
            ],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            env=dict(
                os.environ,
                AIDBRIDGE_LISTEN=f"127.0.0.1:{port}",
                PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "proto")]),
            ),
        )

    def lines(self) -> list[dict]:
        text = self.log_path.read_text(encoding="utf-8")
        whole = text[: text.rfind("\n") + 1]  # not a line still being written
        return [json.loads(x) for x in whole.splitlines() if x.startswith("{")]

    def text(self) -> str:
        return self.log_path.read_text(encoding="utf-8")

    def wait_for(self, predicate, what: str, timeout: float = 120) -> dict:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [x for x in self.lines() if predicate(x)]
            if found:
                return found[-1]
            assert self.proc.poll() is None, f"the gateway exited: {self.text()[-3000:]}"
            time.sleep(0.2)
        raise AssertionError(f"no {what} within {timeout} s: {self.text()[-3000:]}")

    def wait_serving(self, certs: Path) -> None:
        self.wait_for(lambda x: x.get("event") == "workers serving", "'workers serving'")
        with _channel(self.port, certs, GOV) as channel:
            status = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=30
            )
        assert status.status == health_pb2.HealthCheckResponse.SERVING

    def worker_pids(self) -> dict[int, int]:
        """The pid now serving each slot, from the supervisor's log."""
        pids: dict[int, int] = {}
        for x in self.lines():
            if x.get("event") == "worker serving":
                pids[x["worker"]] = x["pid"]
        return pids

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self._log.close()


def _pids_of(lines: list[dict], method: str, outcome: str, actors: set[str]) -> Counter[int]:
    return Counter(
        x["pid"]
        for x in lines
        if x.get("event") == "call"
        and x.get("method", "").endswith(method)
        and x.get("outcome") == outcome
        and x.get("actor") in actors
    )


def _concurrently(n: int, work) -> list:  # type: ignore[no-untyped-def]
    results: list = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors[:3]
    return results


def test_two_workers_share_the_store_and_every_guarantee(db_url, tmp_path):
    config = init_workdir(tmp_path / "work", db_url=db_url)
    certs = config.certs_dir
    serving = Serving(config.work_dir, _free_port(), tmp_path / "serve.log")
    try:
        serving.wait_serving(certs)
        assert serving_pid(config.work_dir) == serving.proc.pid
        workers = set(serving.worker_pids().values())
        assert len(workers) == 2 and serving.proc.pid not in workers
        people = adults(CALLERS, seed=41)

        # Writes from many connections at once (both workers write the one store), then
        # pulls, each caller on a connection of its own.
        def refer_and_pull(i: int) -> str:
            gov = _client(serving.port, certs, GOV, f"caseworker-{i}")
            charity = _client(serving.port, certs, CHARITY_A, f"volunteer-{i}")
            try:
                referred = refer(gov, people[i], tag=f"w{i}")
                for _ in range(3):
                    summary = charity.cases.PullCaseSummary(
                        cases_pb2.PullCaseSummaryRequest(
                            referral_id=referred.referral_id, purpose=PURPOSE
                        )
                    )
                    assert summary.referral_id == referred.referral_id
                return referred.consent_id
            finally:
                gov.close()
                charity.close()

        consent_ids = _concurrently(CALLERS, refer_and_pull)
        lines = serving.lines()
        volunteers = {f"volunteer-{i}" for i in range(CALLERS)}
        pulls = _pids_of(lines, "PullCaseSummary", "OK", volunteers)
        assert sum(pulls.values()) == 3 * CALLERS
        assert set(pulls) == workers, pulls  # the kernel spread the connections over both
        writes = _pids_of(
            lines, "CreateReferral", "OK", {f"caseworker-{i}" for i in range(CALLERS)}
        )
        assert sum(writes.values()) == CALLERS
        assert not [x for x in lines if x.get("outcome") not in (None, "OK")]

        # One request on several connections at once (a client's retry racing its first try),
        # over both workers: one case is registered, never two, and every racer gets it.
        racer = adults(CALLERS + 2, seed=41)[-1]

        def register_same(i: int) -> str | grpc.StatusCode:
            gov = _client(serving.port, certs, GOV, f"racer-{i}")
            request = cases_pb2.RegisterCaseRequest(request_id="case-race", case=racer)
            try:
                return str(gov.cases.RegisterCase(request).case_id)
            except grpc.RpcError as exc:
                return exc.code()
            finally:
                gov.close()

        raced = _concurrently(8, register_same)
        case_ids = {x for x in raced if isinstance(x, str)}
        assert len(case_ids) == 1 and all(isinstance(x, str) for x in raced), raced
        assert register_same(99) in case_ids

        # A withdrawal on one connection: the next pull of that referral is denied on fresh
        # connections, whichever worker takes them.
        gov = _client(serving.port, certs, GOV, "caseworker-withdraw")
        referred = refer(gov, adults(CALLERS + 1, seed=41)[-1], tag="withdrawn")
        gov.consents.WithdrawConsent(
            consents_pb2.WithdrawConsentRequest(
                request_id="withdraw-1", consent_id=referred.consent_id, reason="本人要求撤回"
            )
        )
        gov.close()

        def pull_withdrawn(i: int) -> grpc.StatusCode:
            with _channel(serving.port, certs, CHARITY_A) as channel:
                try:
                    channel.unary_unary(
                        "/aidbridge.v1.CaseService/PullCaseSummary",
                        request_serializer=cases_pb2.PullCaseSummaryRequest.SerializeToString,
                        response_deserializer=cases_pb2.CaseSummary.FromString,
                    )(
                        cases_pb2.PullCaseSummaryRequest(
                            referral_id=referred.referral_id, purpose=PURPOSE
                        ),
                        metadata=((ACTOR_KEY, f"after-withdrawal-{i}"),),
                        timeout=60,
                    )
                except grpc.RpcError as exc:
                    return exc.code()
                return grpc.StatusCode.OK

        denied = _concurrently(CALLERS, pull_withdrawn)
        assert set(denied) == {grpc.StatusCode.PERMISSION_DENIED}, Counter(denied)
        refusals = _pids_of(
            serving.lines(),
            "PullCaseSummary",
            "PERMISSION_DENIED",
            {f"after-withdrawal-{i}" for i in range(CALLERS)},
        )
        assert set(refusals) == workers, refusals

        # A revocation by the CLI (another process): refused by every worker on the next call.
        revoked = subprocess.run(
            [
                sys.executable,
                "-m",
                "gateway.cli",
                "certs",
                "revoke",
                str(certs / f"{CHARITY_B}.pem"),
                "--work",
                str(config.work_dir),
            ],
            env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "proto")])),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert revoked.returncode == 0, revoked.stderr

        def call_revoked(i: int) -> grpc.StatusCode:
            charity = _client(serving.port, certs, CHARITY_B, f"revoked-{i}")
            try:
                charity.referrals.ListReferrals(referrals_pb2.ListReferralsRequest())
            except grpc.RpcError as exc:
                assert "revoked" in (exc.details() or "")
                return exc.code()
            finally:
                charity.close()
            return grpc.StatusCode.OK

        refused = _concurrently(CALLERS, call_revoked)
        assert set(refused) == {grpc.StatusCode.UNAUTHENTICATED}, Counter(refused)
        assert (
            set(
                _pids_of(
                    serving.lines(),
                    "ListReferrals",
                    "UNAUTHENTICATED",
                    {f"revoked-{i}" for i in range(CALLERS)},
                )
            )
            == workers
        )
        assert len(set(consent_ids)) == CALLERS
    finally:
        status = serving.stop()
    assert status == 0, serving.text()[-3000:]
    assert serving_pid(config.work_dir) is None  # the working directory is free again
    stopped = [x for x in serving.lines() if x.get("event") == "stopped"]
    assert {x["pid"] for x in stopped} == workers

    verified = CliRunner().invoke(cli, ["audit", "verify", "--work", str(config.work_dir)])
    words = " ".join(verified.output.split())
    assert verified.exit_code == 0, words
    assert ", 0 queued (not yet sequenced)" in words
    # Every call above is one entry of the one tree: 16 × (case, consent, referral, 3 pulls),
    # the withdrawn flow's 4 and the 32 refusals, at least.
    assert int(words.split("ledger verified: ")[1].split(" ")[0]) >= 16 * 6 + 4 + 32


def test_a_killed_worker_is_replaced_and_the_directory_stays_locked(tmp_path):
    config = init_workdir(tmp_path / "work")
    serving = Serving(config.work_dir, _free_port(), tmp_path / "serve.log")
    try:
        serving.wait_serving(config.certs_dir)
        before = serving.worker_pids()
        os.kill(before[1], signal.SIGKILL)
        serving.wait_for(
            lambda x: x.get("event") == "worker exited: restarting it" and x["pid"] == before[1],
            "the supervisor noticing the killed worker",
        )
        replaced = serving.wait_for(
            lambda x: (
                x.get("event") == "worker serving" and x["worker"] == 1 and x["pid"] != before[1]
            ),
            "a replacement worker",
        )
        assert serving.worker_pids() == {0: before[0], 1: replaced["pid"]}

        # Still one gateway per working directory: a second serve is refused.
        second = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "serve", "--work", str(config.work_dir)],
            env=dict(os.environ, AIDBRIDGE_LISTEN=f"127.0.0.1:{_free_port()}"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 1
        assert f"pid {serving.proc.pid}" in second.stderr and "already serving" in second.stderr

        # Another gateway with workers cannot share this one's port.
        other = init_workdir(tmp_path / "other")
        rival = Serving(other.work_dir, serving.port, tmp_path / "rival.log")
        assert rival.proc.wait(timeout=120) == 1
        rival.stop()
        assert "another AidBridge gateway with workers serves port" in rival.text()

        # `aidbridge policy reload` signals the supervisor, which forwards it to each worker:
        # a bundle that does not compile is rejected by both (and ledgered by both).
        rego = config.bundle_path / "aidbridge" / "authz.rego"
        rego.write_text(rego.read_text(encoding="utf-8") + "\nnot rego\n", encoding="utf-8")
        reload = CliRunner().invoke(cli, ["policy", "reload", "--work", str(config.work_dir)])
        assert reload.exit_code == 0, reload.output
        deadline = time.monotonic() + 120
        rejected: set[int] = set()
        while len(rejected) < 2 and time.monotonic() < deadline:
            rejected = {
                x["pid"]
                for x in serving.lines()
                if x.get("event") == "policy reload rejected; the old bundle stays in force"
            }
            time.sleep(0.2)
        assert rejected == set(serving.worker_pids().values())

        people = adults(4, seed=43)

        def refer_one(i: int) -> str:
            gov = _client(serving.port, config.certs_dir, GOV, f"after-restart-{i}")
            try:
                return refer(gov, people[i], tag=f"r{i}").referral_id
            finally:
                gov.close()

        assert all(_concurrently(4, refer_one))
    finally:
        status = serving.stop()
    assert status == 0, serving.text()[-3000:]
    assert serving_pid(config.work_dir) is None


def test_workers_that_cannot_listen_make_the_command_fail(tmp_path):
    config = init_workdir(tmp_path / "work")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        serving = Serving(config.work_dir, port, tmp_path / "serve.log")
        status = serving.proc.wait(timeout=120)
        serving.stop()
    assert status == 1
    assert f"could not listen on 127.0.0.1:{port}" in serving.text()
    assert serving_pid(config.work_dir) is None


@pytest.mark.parametrize("value", ["0", "-2"])
def test_workers_must_be_at_least_one(value, work):
    result = CliRunner().invoke(cli, ["serve", "--work", str(work.work_dir), "--workers", value])
    assert result.exit_code == 1
    assert "--workers: expected 1 or more" in " ".join(result.output.split())


def test_workers_stop_when_their_supervisor_is_killed(tmp_path):
    config = init_workdir(tmp_path / "work")
    serving = Serving(config.work_dir, _free_port(), tmp_path / "serve.log")
    try:
        serving.wait_serving(config.certs_dir)
        workers = set(serving.worker_pids().values())
        serving.proc.kill()  # SIGKILL: the supervisor runs nothing more
        serving.proc.wait(timeout=30)
        deadline = time.monotonic() + 60
        stopped: set[int] = set()
        while stopped != workers and time.monotonic() < deadline:
            stopped = {x["pid"] for x in serving.lines() if x.get("event") == "stopped"}
            time.sleep(0.2)
        assert stopped == workers
        gone = [x for x in serving.lines() if x.get("event") == "supervisor gone: stopping"]
        assert {x["pid"] for x in gone} == workers
        # The workers held the lock until they had stopped; then it is free.
        while serving_pid(config.work_dir) is not None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert serving_pid(config.work_dir) is None
    finally:
        serving.stop()


def test_workers_need_a_tcp_listen_address(work):
    result = CliRunner().invoke(
        cli,
        ["serve", "--work", str(work.work_dir), "--workers", "2", "--listen", "unix:/tmp/gw"],
    )
    assert result.exit_code == 1
    assert "--workers needs a listen address HOST:PORT" in " ".join(result.output.split())
    assert serving_pid(work.work_dir) is None
