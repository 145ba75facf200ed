"""Store faults injected into a real gateway, on SQLite and PostgreSQL: one bad call never harms
the calls it shares a group-commit batch with; a call waits for the store at most its bound and
then gets UNAVAILABLE with nothing kept; and after each transient fault — a read-only database,
a lock held by another process, a terminated backend, a read-only table, a restarted cluster —
the same gateway serves again, without a restart."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from sqlalchemy import func, select, text

from aidbridge.v1 import cases_pb2, consents_pb2
from gateway.config import load_config
from gateway.services.convert import timestamp
from gateway.store.models import Case, Consent, IdempotentRequest, LedgerEntry
from gateway.synthetic import synthetic_cases
from gateway.workdir import init_workdir
from tests.conftest import fresh_postgres_url, postgres_base_url, start_gateway
from tests.e2e.flow import GOV, adults, consent_message

REPO = Path(__file__).resolve().parents[2]
HEAL_CAP_S = 5.0  # generous: healing is expected within about a second
OK = grpc.StatusCode.OK
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE


class Stream:
    """RegisterCase calls, one after another, each with its own person and request id; keeps
    every call's request id, outcome and start/end instants."""

    def __init__(self, gov, seed: int) -> None:
        self.gov = gov
        self.people = (c for s in range(100) for c in synthetic_cases(40, seed=seed * 1000 + s))
        self.calls: list[tuple[str, grpc.StatusCode, float, float]] = []

    def call(self) -> grpc.StatusCode:
        request_id = "s-" + uuid.uuid4().hex[:12]
        started = time.monotonic()
        try:
            self.gov.cases.RegisterCase(
                cases_pb2.RegisterCaseRequest(request_id=request_id, case=next(self.people)),
                timeout=30,
            )
            code = OK
        except grpc.RpcError as exc:
            code = exc.code()
        self.calls.append((request_id, code, started, time.monotonic()))
        return code

    def until_ok(self, cap_s: float = HEAL_CAP_S) -> float:
        """Call until one succeeds; how long that took (fails the test past ``cap_s``)."""
        started = time.monotonic()
        while self.call() != OK:
            assert time.monotonic() - started < cap_s, f"still failing {cap_s} s after the fault"
            time.sleep(0.05)
        return time.monotonic() - started

    def codes_between(self, start: float, end: float) -> list[grpc.StatusCode]:
        return [code for _rid, code, s, e in self.calls if s >= start and e <= end]


def _stored_request_ids(gw) -> set[str]:
    with gw.app.store.read() as session:
        return set(session.scalars(select(IdempotentRequest.request_id)))


def _count(gw, model) -> int:
    with gw.app.store.read() as session:
        return session.scalar(select(func.count()).select_from(model))


def _assert_kept_exactly_the_acknowledged(gw, stream: Stream) -> None:
    """No entry, no exchange: every OK call is stored, no refused call is."""
    stored = _stored_request_ids(gw)
    ok = {rid for rid, code, _s, _e in stream.calls if code == OK}
    refused = {rid for rid, code, _s, _e in stream.calls if code != OK}
    assert ok <= stored
    assert not refused & stored
    assert _count(gw, Case) == len(ok)


@pytest.fixture(params=["sqlite", "postgresql"])
def gw(request, tmp_path):  # type: ignore[no-untyped-def]
    yield from _gateway(tmp_path, request.param)


def _gateway(tmp_path: Path, backend: str, **settings) -> Iterator:
    db_url = "" if backend == "sqlite" else fresh_postgres_url()
    config = init_workdir(tmp_path / "work", db_url=db_url)
    yield from start_gateway(load_config(config.work_dir, **settings))


# --- One bad call among twenty good ones ---------------------------------------------------


def test_a_consent_whose_valid_until_overflows_the_store_fails_alone_and_twenty_calls_succeed(gw):
    gov = gw.client(GOV)
    case_id = gov.cases.RegisterCase(
        cases_pb2.RegisterCaseRequest(request_id="subject", case=adults(1)[0])
    ).case_id
    bad = consent_message(case_id)
    bad.valid_until.CopyFrom(timestamp(10**19))  # year 2286: past a 64-bit nanosecond count
    outcomes: dict[str, grpc.StatusCode] = {}

    def run(name: str, method, request) -> None:
        try:
            method(request, timeout=30)
            outcomes[name] = OK
        except grpc.RpcError as exc:
            outcomes[name] = exc.code()
            if name == "bad":
                outcomes["bad-details"] = exc.details()  # type: ignore[assignment]

    calls = [
        (
            "bad",
            gov.consents.RecordConsent,
            consents_pb2.RecordConsentRequest(request_id="overflow", consent=bad),
        )
    ]
    for i, person in enumerate(synthetic_cases(20, seed=41)):
        request = cases_pb2.RegisterCaseRequest(request_id=f"good-{i}", case=person)
        calls.append((f"good-{i}", gov.cases.RegisterCase, request))
    # Hold the writer so the calls queue up and share batches with the bad one.
    release = threading.Event()
    held = threading.Thread(target=gw.app.writer.submit, args=(lambda _s: release.wait(10),))
    held.start()
    threads = [threading.Thread(target=run, args=c) for c in calls]
    threads[0].start()
    _wait_for(lambda: gw.app.writer._queue.qsize() >= 1)
    for t in threads[1:]:
        t.start()
    _wait_for(lambda: gw.app.writer._queue.qsize() >= 5, cap_s=2.0)
    release.set()
    for t in [held, *threads]:
        t.join(30)

    assert outcomes.pop("bad") == grpc.StatusCode.INVALID_ARGUMENT
    details = str(outcomes.pop("bad-details"))
    assert "valid_until" in details or "out of range" in details
    assert outcomes == {f"good-{i}": OK for i in range(20)}
    assert _count(gw, Case) == 21
    assert _count(gw, Consent) == 0
    with gw.app.store.read() as session:
        refusals = session.scalars(
            select(LedgerEntry.method).where(LedgerEntry.outcome == "INVALID_ARGUMENT")
        ).all()
    assert refusals == ["aidbridge.v1.ConsentService/RecordConsent"]
    assert gov.cases.RegisterCase(
        cases_pb2.RegisterCaseRequest(request_id="after", case=synthetic_cases(1, seed=3)[0])
    ).case_id


def _unsequenced(gw) -> int:
    with gw.app.store.read() as session:
        return session.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.idx.is_(None))
        )


def _wait_for(condition, cap_s: float = 5.0) -> None:
    deadline = time.monotonic() + cap_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


# --- SQLite: the database read-only for a few seconds ----------------------------------------


@contextlib.contextmanager
def _unprivileged(directory: Path) -> Iterator[None]:
    """File permissions bind only an unprivileged process: as root, own ``directory`` by
    `nobody` and act as `nobody` (effective ids; the real ones stay root to switch back)."""
    if os.geteuid() != 0:
        yield
        return
    nobody = 65534
    for path in [directory, *directory.iterdir()]:
        os.chown(path, nobody, nobody)
    os.setegid(nobody)
    os.seteuid(nobody)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def test_sqlite_read_only_for_four_seconds_refuses_calls_then_serves_again_within_a_second(
    tmp_path,
):
    db_dir = Path(tempfile.mkdtemp(prefix="aidbridge-ro-", dir="/tmp"))
    db_dir.chmod(0o755)
    db = db_dir / "aidbridge.db"
    try:
        config = init_workdir(tmp_path / "work", db_url=f"sqlite:///{db}")
        for gw in start_gateway(config):
            stream = Stream(gw.client(GOV), seed=11)
            assert stream.call() == OK
            with _unprivileged(db_dir):
                files = [db, *map(Path, glob.glob(f"{db}-*"))]
                for path in files:
                    path.chmod(0o444)
                db_dir.chmod(0o555)
                # Connections opened before the fault keep their writable descriptors: empty
                # the pool, as a gateway opening connections during the fault would meet it.
                gw.app.store.engine.dispose()
                fault_start = time.monotonic()
                while time.monotonic() - fault_start < 4.0:
                    stream.call()
                    time.sleep(0.1)
                db_dir.chmod(0o755)
                for path in files:
                    path.chmod(0o644)
                fault_end = time.monotonic()
                healed_in = stream.until_ok()
                after = [stream.call() for _ in range(10)]
        during = stream.codes_between(fault_start, fault_end)
        assert during and set(during) == {UNAVAILABLE}
        assert healed_in < HEAL_CAP_S
        assert after == [OK] * 10
        _assert_kept_exactly_the_acknowledged(gw, stream)
        # The sequencer heals too: every entry queued gets its position.
        _wait_for(lambda: _unsequenced(gw) == 0, cap_s=HEAL_CAP_S)
        assert _unsequenced(gw) == 0
    finally:
        shutil.rmtree(db_dir, ignore_errors=True)


# --- SQLite: another process holds the database lock -----------------------------------------


def test_sqlite_lock_held_past_the_bound_gives_unavailable_within_the_bound_then_serves(tmp_path):
    for gw in _gateway(tmp_path, "sqlite", store_timeout_s=1.0):
        stream = Stream(gw.client(GOV), seed=12)
        assert stream.call() == OK
        db = gw.app.config.work_dir / "aidbridge.db"
        other = sqlite3.connect(db, isolation_level=None, timeout=10)
        other.execute("BEGIN EXCLUSIVE")
        try:
            # Answered while the lock is still held: it waits its bound (1 s), not the lock.
            code = stream.call()
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert code == UNAVAILABLE
        _rid, _code, started, ended = stream.calls[-1]
        assert ended - started < 4.0  # about the bound plus the refusal's grace, far below 30 s
        assert stream.until_ok() < HEAL_CAP_S
        _assert_kept_exactly_the_acknowledged(gw, stream)


# --- A read-only table (a trigger that raises), then dropped ---------------------------------


def _make_cases_read_only(gw) -> None:
    with gw.app.store.write() as session:
        if gw.app.store.is_sqlite:
            session.execute(
                text(
                    "CREATE TRIGGER cases_read_only BEFORE INSERT ON cases "
                    "BEGIN SELECT RAISE(ABORT, 'cases are read-only'); END"
                )
            )
        else:
            session.execute(
                text(
                    "CREATE FUNCTION cases_read_only() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'cases are read-only'; END $$ LANGUAGE plpgsql"
                )
            )
            session.execute(
                text(
                    "CREATE TRIGGER cases_read_only BEFORE INSERT OR UPDATE OR DELETE ON cases "
                    "FOR EACH ROW EXECUTE FUNCTION cases_read_only()"
                )
            )


def test_a_read_only_table_refuses_writes_with_unavailable_and_they_succeed_once_it_is_lifted(gw):
    stream = Stream(gw.client(GOV), seed=13)
    assert stream.call() == OK
    _make_cases_read_only(gw)
    assert [stream.call() for _ in range(3)] == [UNAVAILABLE] * 3
    with gw.app.store.write() as session:
        session.execute(
            text("DROP TRIGGER cases_read_only" + ("" if gw.app.store.is_sqlite else " ON cases"))
        )
    assert stream.call() == OK  # at once: nothing of the fault outlived it
    _assert_kept_exactly_the_acknowledged(gw, stream)
    with gw.app.store.read() as session:
        refused = session.scalar(select(func.count()).where(LedgerEntry.outcome == "UNAVAILABLE"))
    assert refused == 3  # each refusal is in the ledger


# --- PostgreSQL: the gateway's backends terminated -------------------------------------------


def test_postgresql_backends_terminated_are_replaced_and_calls_succeed(tmp_path):
    base = fresh_postgres_url()
    app_name = "aidbridge_" + uuid.uuid4().hex[:8]
    config = init_workdir(tmp_path / "work", db_url=f"{base}&application_name={app_name}")
    for gw in start_gateway(config):
        stream = Stream(gw.client(GOV), seed=14)
        for _ in range(3):
            assert stream.call() == OK
        terminated = _terminate_backends(app_name)
        assert terminated >= 1
        healed_in = stream.until_ok()
        assert [stream.call() for _ in range(5)] == [OK] * 5
        assert healed_in < HEAL_CAP_S
        _assert_kept_exactly_the_acknowledged(gw, stream)


def _terminate_backends(app_name: str) -> int:
    import psycopg

    with psycopg.connect(postgres_base_url(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (app_name,),
        ).fetchall()
    return sum(1 for (ok,) in rows if ok)


# --- PostgreSQL: the cluster restarted -------------------------------------------------------


class ThrowawayCluster:
    """A PostgreSQL cluster of this test's own (scripts/throwaway-postgres), so stopping it
    touches no other test."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="aidbridge-pg-restart-", dir="/tmp"))
        self.dir.chmod(0o755)
        self.cluster = self.dir / "cluster"
        script = REPO / "scripts" / "throwaway-postgres"
        done = subprocess.run(
            [str(script), "start", str(self.cluster)], capture_output=True, text=True, timeout=120
        )
        if done.returncode != 0:
            shutil.rmtree(self.dir, ignore_errors=True)
            if os.environ.get("AIDBRIDGE_REQUIRE_PG"):
                pytest.fail(f"could not start a throwaway PostgreSQL: {done.stderr}")
            pytest.skip(f"PostgreSQL server binaries not available: {done.stderr.strip()}")
        self.url = done.stdout.strip()
        self.script = script
        port = self.url.rsplit(":", 1)[1].split("/", 1)[0]
        # The options scripts/throwaway-postgres starts it with, to start it again alike.
        self.options = (
            f"-p {port} -k {self.cluster} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200"
        )

    def pg_ctl(self, *args: str) -> None:
        bindir = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        pg_ctl = bindir[-1] if bindir else shutil.which("pg_ctl") or "pg_ctl"
        command = [pg_ctl, "-D", str(self.cluster / "data"), "-w", "-t", "60", *args]
        if os.geteuid() == 0:
            command = ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(map(_quote, command))]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def close(self) -> None:
        subprocess.run([str(self.script), "stop", str(self.cluster)], timeout=120)
        shutil.rmtree(self.dir, ignore_errors=True)


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"


def test_postgresql_cluster_restart_refuses_calls_while_down_then_serves_again(tmp_path):
    postgres_base_url()  # skips, or fails under AIDBRIDGE_REQUIRE_PG, without PostgreSQL
    cluster = ThrowawayCluster()
    try:
        config = init_workdir(tmp_path / "work", db_url=cluster.url)
        for gw in start_gateway(load_config(config.work_dir, store_timeout_s=2.0)):
            stream = Stream(gw.client(GOV), seed=15)
            assert stream.call() == OK
            cluster.pg_ctl("-m", "fast", "stop")
            down = [stream.call() for _ in range(2)]
            # Started again with the options it was stopped with (port, socket directory).
            cluster.pg_ctl(
                "start", "-l", str(cluster.cluster / "server.log"), "-o", cluster.options
            )
            healed_in = stream.until_ok()
            after = [stream.call() for _ in range(5)]
        assert down == [UNAVAILABLE] * 2
        assert healed_in < HEAL_CAP_S
        assert after == [OK] * 5
    finally:
        cluster.close()
