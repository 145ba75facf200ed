"""PullCaseSummary throughput of `aidbridge serve --workers 1` beside `--workers 2`, same store,
same client, same mutual TLS, measured in one run. Prints calls/s, p50/p99, server CPU per call
and the ratio.

    .venv/bin/python bench/bench_workers.py [--db postgresql|sqlite] [--seconds 10]
        [--concurrency 16] [--workers 2] [--call pull|register]

PostgreSQL comes from AIDBRIDGE_TEST_PG_URL (a schema of its own per run) or, without it, a
throwaway cluster (scripts/throwaway-postgres). Each caller has a connection of its own, so the
kernel spreads them over the workers (SO_REUSEPORT). Every pull is also a durable ledger
append, so on SQLite this is the several-processes-writing-one-file case too: errors are
counted and printed. ``--call register`` measures RegisterCase instead (a new case per call:
a write through both workers' group commits, the contended case on SQLite). The client runs on
the same machine and takes its share of the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "proto"))

from aidbridge.v1 import cases_pb2  # noqa: E402
from gateway.client import ACTOR_KEY, Client, credentials  # noqa: E402
from gateway.workdir import init_workdir  # noqa: E402
from tests.e2e.flow import CHARITY_A, GOV, PURPOSE, adults, refer  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def _channel(target: str, certs: Path, org: str) -> grpc.Channel:
    return grpc.secure_channel(
        target,
        credentials(certs, org),
        options=[
            ("grpc.ssl_target_name_override", "localhost"),
            ("grpc.use_local_subchannel_pool", 1),  # a connection per caller
        ],
    )


def _cpu_s(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(
    work: Path, workers: int, port: int, log: Path
) -> tuple[subprocess.Popen[bytes], list[int]]:
    out = log.open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "serve",
            "--work",
            str(work),
            "--workers",
            str(workers),
        ],
        stdout=subprocess.DEVNULL,
        stderr=out,
        env=dict(
            os.environ,
            AIDBRIDGE_LISTEN=f"127.0.0.1:{port}",
            PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "proto")]),
        ),
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the gateway exited: {log.read_text()[-2000:]}")
        text = log.read_text()
        whole = text[: text.rfind("\n") + 1]  # not a line still being written
        lines = [json.loads(x) for x in whole.splitlines() if x.startswith("{")]
        if workers == 1 and any(x.get("event") == "serving" for x in lines):
            return proc, [proc.pid]
        serving = [x for x in lines if x.get("event") == "workers serving"]
        if serving:
            return proc, list(serving[0]["pids"])
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("the gateway did not start within 180 s")


def measure(calls: list, seconds: float) -> dict[str, float]:
    latencies: list[list[float]] = [[] for _ in calls]
    errors: list[dict[str, int]] = [{} for _ in calls]
    deadline = time.perf_counter() + seconds

    def worker(i: int) -> None:
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            try:
                calls[i]()
            except grpc.RpcError as exc:
                errors[i][exc.code().name] = errors[i].get(exc.code().name, 0) + 1
                continue
            latencies[i].append(time.perf_counter() - t)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    flat = sorted(x for lat in latencies for x in lat)
    if not flat:
        raise SystemExit(f"no call succeeded ({errors})")
    merged: dict[str, int] = {}
    for e in errors:
        for k, v in e.items():
            merged[k] = merged.get(k, 0) + v
    return {
        "calls": len(flat),
        "errors": merged,  # type: ignore[dict-item]
        "per_s": len(flat) / elapsed,
        "p50_ms": statistics.median(flat) * 1000,
        "p99_ms": flat[max(int(len(flat) * 0.99) - 1, 0)] * 1000,
    }


def run(db_url: str, workers: int, args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    config = init_workdir(tmp / f"work-{workers}", db_url=db_url)
    port = _free_port()
    target = f"127.0.0.1:{port}"
    proc, pids = _serve(config.work_dir, workers, port, tmp / f"serve-{workers}.log")
    try:
        gov = Client(_channel(target, config.certs_dir, GOV), "bench-gov")
        people = adults(args.concurrency, seed=97)
        referrals = [refer(gov, p, tag=f"b{i}").referral_id for i, p in enumerate(people)]
        gov.close()
        caller = GOV if args.call == "register" else CHARITY_A
        channels = [_channel(target, config.certs_dir, caller) for _ in referrals]
        calls = []
        if args.call == "register":
            cases = adults(40, seed=98)
            counter = iter(range(10**9))
            for i, channel in enumerate(channels):
                stub = channel.unary_unary(
                    "/aidbridge.v1.CaseService/RegisterCase",
                    request_serializer=cases_pb2.RegisterCaseRequest.SerializeToString,
                    response_deserializer=cases_pb2.RegisterCaseResponse.FromString,
                )
                metadata = ((ACTOR_KEY, f"bench-{i}"),)

                def register(stub=stub, metadata=metadata) -> None:  # type: ignore[no-untyped-def]
                    n = next(counter)
                    request = cases_pb2.RegisterCaseRequest(
                        request_id=f"bench-{n}", case=cases[n % len(cases)]
                    )
                    stub(request, metadata=metadata, timeout=30)

                calls.append(register)
        for i, (channel, referral_id) in enumerate(zip(channels, referrals, strict=True)):
            if args.call == "register":
                break
            stub = channel.unary_unary(
                "/aidbridge.v1.CaseService/PullCaseSummary",
                request_serializer=cases_pb2.PullCaseSummaryRequest.SerializeToString,
                response_deserializer=cases_pb2.CaseSummary.FromString,
            )
            request = cases_pb2.PullCaseSummaryRequest(referral_id=referral_id, purpose=PURPOSE)
            metadata = ((ACTOR_KEY, f"bench-{i}"),)
            calls.append(
                lambda stub=stub, request=request, metadata=metadata: stub(
                    request, metadata=metadata, timeout=30
                )
            )
        measure(calls, 1.0)  # warm up: every connection made, every worker busy once
        before = _cpu_s(pids)
        result = measure(calls, args.seconds)
        result["cpu_ms_per_call"] = (_cpu_s(pids) - before) * 1000 / result["calls"]
        for channel in channels:
            channel.close()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--call", choices=("pull", "register"), default="pull")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="aidbridge-bench-workers-") as tmp_text:
        tmp = Path(tmp_text)
        cluster = None
        if args.db == "postgresql":
            base = os.environ.get("AIDBRIDGE_TEST_PG_URL", "")
            if not base:
                cluster = tmp / "pg"
                if os.getuid() == 0:
                    tmp.chmod(0o755)
                started = subprocess.run(
                    [str(ROOT / "scripts" / "throwaway-postgres"), "start", str(cluster)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                base = started.stdout.strip().splitlines()[-1]
        try:
            results = {}
            for workers in (1, args.workers):
                if args.db == "sqlite":
                    url = f"sqlite:///{tmp / f'store-{workers}.db'}"
                else:
                    import psycopg

                    schema = "bench_" + uuid.uuid4().hex[:10]
                    with psycopg.connect(base, autocommit=True) as conn:
                        conn.execute(f"CREATE SCHEMA {schema}")
                    sep = "&" if "?" in base else "?"
                    url = f"{base}{sep}options=-csearch_path%3D{schema}"
                results[workers] = run(url, workers, args, tmp)
        finally:
            if cluster is not None:
                subprocess.run(
                    [str(ROOT / "scripts" / "throwaway-postgres"), "stop", str(cluster)],
                    check=False,
                )
                shutil.rmtree(cluster, ignore_errors=True)

    method = "RegisterCase" if args.call == "register" else "PullCaseSummary"
    print(
        f"{method} on {args.db}; {args.concurrency} callers, a connection each; "
        f"{args.seconds:.0f} s each; mutual TLS; {os.cpu_count()} cores (client included)"
    )
    print(f"{'':14}{'calls/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'CPU ms/call':>13}  errors")
    for workers, r in results.items():
        print(
            f"{f'--workers {workers}':14}{r['per_s']:>10.0f}{r['p50_ms']:>10.2f}"
            f"{r['p99_ms']:>10.2f}{r['cpu_ms_per_call']:>13.2f}  {r['errors'] or 0}"
        )
    one, many = results[1], results[args.workers]
    print(f"ratio --workers {args.workers} / --workers 1: {many['per_s'] / one['per_s']:.2f}x")


if __name__ == "__main__":
    main()
