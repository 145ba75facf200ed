"""The gateway's pull-summary call against a bare gRPC echo server: same client, same payload
size, same mutual TLS, measured in one run. Prints throughput, p50/p99 and the ratio.

    .venv/bin/python bench/bench_gateway.py [--seconds 10] [--concurrency 16]

Target (DESIGN.md): the whole gateway ≥ 0.5× the echo's throughput. Each server runs in a
process of its own; the client is this process, with `concurrency` threads each making calls
back to back for a fixed time (bounded: it stops by itself).

Last run: echo ~1,400 calls/s, gateway ~70 calls/s (0.05×). A pull costs about 6 ms of CPU in
the handler (policy 1–2 ms in regopy, ~1.5 ms of SQLAlchemy ORM reads, the rest Python glue) and
about 1 ms in the group-commit writer; one Python process cannot use more than one core for it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aidbridge.v1 import cases_pb2  # noqa: E402
from gateway.client import Client, credentials, secure_channel  # noqa: E402
from gateway.workdir import init_workdir  # noqa: E402
from tests.e2e.flow import CHARITY_A, GOV, PURPOSE, adults, refer  # noqa: E402


def _start(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )


def _wait_port(target: str, creds: grpc.ChannelCredentials) -> None:
    channel = secure_channel(target, creds)
    grpc.channel_ready_future(channel).result(timeout=30)
    channel.close()


def measure(call, seconds: float, concurrency: int) -> dict[str, float]:
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
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

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    flat = sorted(x for lat in latencies for x in lat)
    if not flat:
        raise SystemExit(f"no call succeeded ({sum(errors)} errors)")
    return {
        "calls": len(flat),
        "errors": sum(errors),
        "per_s": len(flat) / elapsed,
        "p50_ms": statistics.median(flat) * 1000,
        "p99_ms": flat[int(len(flat) * 0.99) - 1] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="aidbridge-bench-") as tmp:
        config = init_workdir(Path(tmp) / "work", listen="127.0.0.1:0")
        certs = config.certs_dir
        port_file = Path(tmp) / "port"
        env = dict(os.environ, AIDBRIDGE_LISTEN="127.0.0.1:0")
        gateway = _start(
            [
                sys.executable,
                str(ROOT / "bench" / "gateway_server.py"),
                str(config.work_dir),
                str(port_file),
            ],
            env,
        )
        try:
            deadline = time.time() + 60
            while not port_file.exists() and time.time() < deadline:
                time.sleep(0.1)
            target = f"127.0.0.1:{port_file.read_text().strip()}"
            _wait_port(target, credentials(certs, CHARITY_A))
            gov = Client.connect(target, certs, GOV, "bench-gov")
            referred = refer(gov, adults(1)[0], tag="bench")
            gov.close()
            charity = Client.connect(target, certs, CHARITY_A, "bench-charity")
            request = cases_pb2.PullCaseSummaryRequest(
                referral_id=referred.referral_id, purpose=PURPOSE
            )
            summary = charity.cases.PullCaseSummary(request)
            size = len(summary.SerializeToString())
            pull = charity.cases.PullCaseSummary
            measure(lambda: pull(request), 1.0, args.concurrency)  # warm up
            gw = measure(lambda: pull(request), args.seconds, args.concurrency)
            charity.close()
        finally:
            gateway.terminate()
            gateway.wait(timeout=30)

        echo = _start(
            [sys.executable, str(ROOT / "bench" / "echo_server.py"), str(certs), str(size)]
        )
        try:
            assert echo.stdout is not None
            target = f"127.0.0.1:{echo.stdout.readline().strip()}"
            channel = secure_channel(target, credentials(certs, CHARITY_A))
            echo_call = channel.unary_unary("/bench.Echo/Echo")
            payload = request.SerializeToString()
            metadata = (("x-aidbridge-actor", "bench-charity"),)
            measure(
                lambda: echo_call(payload, metadata=metadata, timeout=30), 1.0, args.concurrency
            )
            base = measure(
                lambda: echo_call(payload, metadata=metadata, timeout=30),
                args.seconds,
                args.concurrency,
            )
            channel.close()
        finally:
            echo.terminate()
            echo.wait(timeout=30)

    print(
        f"payload: {size} bytes response; {args.concurrency} concurrent callers; "
        f"{args.seconds:.0f} s each; mutual TLS both"
    )
    print(f"{'':24}{'calls/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for name, r in (("bare gRPC echo", base), ("gateway PullCaseSummary", gw)):
        print(
            f"{name:24}{r['per_s']:>10.0f}{r['p50_ms']:>10.2f}{r['p99_ms']:>10.2f}"
            f"{r['errors']:>8.0f}"
        )
    print(f"ratio gateway/echo: {gw['per_s'] / base['per_s']:.2f}x (target >= 0.5x)")


if __name__ == "__main__":
    main()
