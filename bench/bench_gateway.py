"""The gateway's hot calls against a bare gRPC echo server: same client, same payload size, same
mutual TLS, measured in one run. Prints, for PullCaseSummary, GetCase and CreateReferral at 1, 16
and 64 concurrent callers: throughput, p50/p99 latency, the server's CPU per call (from
``/proc/<pid>/stat`` of the server process before and after) and the ratio to the echo.

    .venv/bin/python bench/bench_gateway.py [--seconds 5] [--callers 1,16,64]
    .venv/bin/python bench/bench_gateway.py --profile [--callers 16]

Target (DESIGN.md): the whole gateway ≥ 0.5× the echo's throughput (PullCaseSummary). Each
server runs in a process of its own; the client is this process, with ``callers`` threads each
making calls back to back for a fixed time (bounded: it stops by itself). The echo answers with
the size of a pull's summary to a request of a pull's size.

``--profile`` runs the gateway under ``bench/stage_profile.py`` (a sampler of each thread's CPU
clock and stack) and prints, per call, where the server's CPU went by stage; its figures are
taken while sampling, so they read a little lower than without it. The same breakdown with
py-spy, if installed: ``py-spy record --idle=false -r 500 -p <server pid> -f raw -o out.txt``.

Last run (shared 2-core machine, noisy: the echo itself ranged 1,600–3,700 calls/s between
runs): PullCaseSummary 150–210 calls/s at 3.7–4.3 ms server CPU per call (0.05–0.12×), GetCase
230–345 at 2.4–2.6 ms, CreateReferral 125–165 at 4.6–5.7 ms; the echo 0.20–0.33 ms per call.
Before the Core reads, PullCaseSummary was 117–181 calls/s at 4.8–5.9 ms.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import stage_profile  # noqa: E402

from aidbridge.v1 import cases_pb2, referrals_pb2  # noqa: E402
from gateway.client import Client, credentials, secure_channel  # noqa: E402
from gateway.workdir import init_workdir  # noqa: E402
from tests.e2e.flow import CHARITY_A, GOV, PURPOSE, adults, refer  # noqa: E402

TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def _start(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )


def _wait_port(target: str, creds: grpc.ChannelCredentials) -> None:
    channel = secure_channel(target, creds)
    grpc.channel_ready_future(channel).result(timeout=30)
    channel.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the whole process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S


def measure(call: Callable[[], object], seconds: float, callers: int, pid: int) -> dict[str, float]:
    latencies: list[list[float]] = [[] for _ in range(callers)]
    errors = [0] * callers
    deadline = time.perf_counter() + seconds

    def worker(i: int) -> None:
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            try:
                call()
            except grpc.RpcError:
                errors[i] += 1
                continue
            latencies[i].append(time.perf_counter() - t)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(callers)]
    cpu_before = cpu_seconds(pid)
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu_before
    flat = sorted(x for lat in latencies for x in lat)
    if not flat:
        raise SystemExit(f"no call succeeded ({sum(errors)} errors)")
    return {
        "calls": len(flat),
        "errors": sum(errors),
        "per_s": len(flat) / elapsed,
        "p50_ms": statistics.median(flat) * 1000,
        "p99_ms": flat[max(0, int(len(flat) * 0.99) - 1)] * 1000,
        "cpu_ms": cpu / len(flat) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--callers", default=None, help="comma-separated, default 1,16,64")
    parser.add_argument("--profile", action="store_true", help="CPU by stage (see docstring)")
    parser.add_argument("--py-spy", default=None, help="py-spy binary (default: on PATH)")
    args = parser.parse_args()
    levels = [int(n) for n in (args.callers or ("16" if args.profile else "1,16,64")).split(",")]

    with tempfile.TemporaryDirectory(prefix="aidbridge-bench-") as tmp:
        config = init_workdir(Path(tmp) / "work", listen="127.0.0.1:0")
        certs = config.certs_dir
        port_file = Path(tmp) / "port"
        profile_file = Path(tmp) / "profile.json"
        env = dict(os.environ, AIDBRIDGE_LISTEN="127.0.0.1:0")
        cmd = [sys.executable, str(ROOT / "bench" / "gateway_server.py"), str(config.work_dir)]
        cmd.append(str(port_file))
        if args.profile:
            cmd.append(str(profile_file))
        gateway = _start(cmd, env)
        echo: subprocess.Popen[str] | None = None
        results: dict[tuple[str, int], dict[str, float]] = {}
        profiles: dict[str, dict[str, float]] = {}
        activities: dict[str, dict[str, float]] = {}
        spied: dict[str, dict[str, float]] = {}
        spied_activity: dict[str, dict[str, float]] = {}
        spy_file = Path(tmp) / "py-spy.txt"
        py_spy = args.py_spy or shutil.which("py-spy")
        try:
            deadline = time.time() + 60
            while not port_file.exists() and time.time() < deadline:
                time.sleep(0.1)
            target = f"127.0.0.1:{port_file.read_text().strip()}"
            _wait_port(target, credentials(certs, CHARITY_A))
            gov = Client.connect(target, certs, GOV, "bench-gov")
            referred = refer(gov, adults(1)[0], tag="bench")
            charity = Client.connect(target, certs, CHARITY_A, "bench-charity")
            pull_request = cases_pb2.PullCaseSummaryRequest(
                referral_id=referred.referral_id, purpose=PURPOSE
            )
            summary = charity.cases.PullCaseSummary(pull_request)
            size = len(summary.SerializeToString())
            get_request = cases_pb2.GetCaseRequest(case_id=referred.case_id)
            numbers = itertools.count()

            def create() -> object:
                return gov.referrals.CreateReferral(
                    referrals_pb2.CreateReferralRequest(
                        request_id=f"bench-referral-{next(numbers)}",
                        case_id=referred.case_id,
                        to_org=CHARITY_A,
                        consent_id=referred.consent_id,
                        purpose=PURPOSE,
                        note="需要帮助",
                    )
                )

            pull = charity.cases.PullCaseSummary
            get_case = gov.cases.GetCase
            ops: list[tuple[str, Callable[[], object]]] = [
                ("PullCaseSummary", lambda: pull(pull_request)),
                ("GetCase", lambda: get_case(get_request)),
                ("CreateReferral", create),
            ]

            echo = _start(
                [sys.executable, str(ROOT / "bench" / "echo_server.py"), str(certs), str(size)]
            )
            assert echo.stdout is not None
            echo_target = f"127.0.0.1:{echo.stdout.readline().strip()}"
            channel = secure_channel(echo_target, credentials(certs, CHARITY_A))
            echo_rpc = channel.unary_unary("/bench.Echo/Echo")
            payload = pull_request.SerializeToString()
            metadata = (("x-aidbridge-actor", "bench-charity"),)

            def echo_call() -> object:
                return echo_rpc(payload, metadata=metadata, timeout=30)

            for callers in levels:
                measure(echo_call, 1.0, callers, echo.pid)  # warm up
                results[("bare gRPC echo", callers)] = measure(
                    echo_call, args.seconds, callers, echo.pid
                )
                for name, op in ops:
                    measure(op, 1.0, callers, gateway.pid)
                    spy = None
                    if args.profile:
                        gateway.send_signal(signal.SIGUSR1)
                        if py_spy:
                            spy_file.unlink(missing_ok=True)
                            spy = subprocess.Popen(
                                [
                                    *(py_spy, "record", "--gil", "--nonblocking", "-r", "250"),
                                    *("-d", str(max(1, int(args.seconds) - 1)), "-f", "raw"),
                                    *("-o", str(spy_file), "-p", str(gateway.pid)),
                                ],
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL,
                                env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
                            )
                    results[(name, callers)] = measure(op, args.seconds, callers, gateway.pid)
                    if spy is not None:
                        spy.wait(timeout=60)
                        if spy_file.exists():
                            stages, acts = stage_profile.read_py_spy(spy_file.read_text())
                            spied[name] = {**stages, "_calls": results[(name, callers)]["calls"]}
                            spied_activity[name] = {
                                **acts,
                                "_calls": results[(name, callers)]["calls"],
                            }
                    if args.profile:
                        profile_file.unlink(missing_ok=True)
                        gateway.send_signal(signal.SIGUSR2)
                        while not profile_file.exists():
                            time.sleep(0.05)
                        time.sleep(0.1)
                        figures = json.loads(profile_file.read_text())
                        calls = results[(name, callers)]["calls"]
                        profiles[name] = {**figures["cpu_s"], "_calls": calls}
                        activities[name] = {**figures["activity_s"], "_calls": calls}
            channel.close()
            gov.close()
            charity.close()
        finally:
            for process in (gateway, echo):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=30)

    print(
        f"payload: {size} bytes response (echo); {args.seconds:.0f} s per row; mutual TLS both;"
        f" server CPU = the server process's user+system CPU per call"
        + ("; measured while sampling (--profile)" if args.profile else "")
    )
    print(
        f"{'':18}{'callers':>8}{'calls/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'CPU ms/call':>13}{'errors':>8}{'vs echo':>9}"
    )
    for callers in levels:
        base = results[("bare gRPC echo", callers)]
        for name in ("bare gRPC echo", *(n for n, _ in ops)):
            r = results[(name, callers)]
            print(
                f"{name:18}{callers:>8}{r['per_s']:>10.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
                f"{r['cpu_ms']:>13.2f}{r['errors']:>8.0f}{r['per_s'] / base['per_s']:>8.2f}x"
            )
    print("target: PullCaseSummary >= 0.5x the echo's calls/s")
    names = [n for n, _ in ops]
    for title, table in (("stage", profiles), ("activity", activities)):
        if table:
            print(f"\nserver CPU per call by {title} (ms), {levels[-1]} callers (sampler):")
            _print_breakdown(title, table, names, per=1.0)
    for title, table in (("stage", spied), ("activity", spied_activity)):
        if table:
            print(
                f"\nGIL held per call by {title} (ms), {levels[-1]} callers "
                "(py-spy --gil; C work without the GIL, e.g. regopy's, is not in it):"
            )
            _print_breakdown(title, table, names, per=1 / 250)


def _print_breakdown(
    title: str, table: dict[str, dict[str, float]], names: list[str], *, per: float
) -> None:
    """Rows of ``table`` (seconds, or samples of ``per`` seconds each) per call and as shares."""
    rows = sorted(
        {s for p in table.values() for s in p if s != "_calls"},
        key=lambda s: -sum(p.get(s, 0) / p["_calls"] for p in table.values()),
    )
    print(f"{title:46}" + "".join(f"{n:>17}" for n in names))
    for row in rows:
        cells = []
        for n in names:
            p = table[n]
            total = sum(v for k, v in p.items() if k != "_calls")
            ms = p.get(row, 0.0) * per / p["_calls"] * 1000
            cells.append(f"{ms:>9.3f} ({p.get(row, 0.0) / total:>4.0%})")
        print(f"{row:46}" + "".join(f"{c:>17}" for c in cells))


if __name__ == "__main__":
    main()
