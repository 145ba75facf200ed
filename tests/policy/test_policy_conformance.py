"""The decision table (decisions.yaml) on every engine.

regopy (embedded), OPA's own Go engine in process (golib), the remote engine against the local
Data-API server (OPA's engine behind OPA's HTTP API), and a real `opa run --server` when an
`opa` binary is on PATH.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.policy.embedded import EmbeddedEngine
from gateway.policy.remote import RemoteEngine

from .golib_engine import GolibEngine, canonical
from .table import BUNDLE, check_expectation, load_table

ROWS = load_table()
IDS = [row[0] for row in ROWS]


def test_table_covers_every_rpc_of_the_protos() -> None:
    proto_dir = BUNDLE.parent / "proto" / "aidbridge" / "v1"
    methods = set()
    for proto in proto_dir.glob("*.proto"):
        service = None
        for line in proto.read_text(encoding="utf-8").splitlines():
            words = line.split()
            if words[:1] == ["service"]:
                service = words[1]
            elif words[:1] == ["rpc"] and service:
                methods.add(f"aidbridge.v1.{service}/{words[1].split('(')[0]}")
    covered = {row[1].get("method") for row in ROWS}
    assert methods, "found no rpc in the protos"
    assert methods - covered == set()


@pytest.mark.parametrize(("name", "policy_input", "expect"), ROWS, ids=IDS)
def test_embedded_engine_decides_as_the_table_says(
    embedded: EmbeddedEngine, name: str, policy_input: dict[str, Any], expect: dict[str, Any]
) -> None:
    decision = embedded.decide(policy_input)
    check_expectation(decision, expect)
    assert decision.revision == "2026.11.27-1"
    assert decision.decision_id


@pytest.mark.parametrize(("name", "policy_input", "expect"), ROWS, ids=IDS)
def test_opa_engine_decides_as_the_table_says(
    golib: GolibEngine, name: str, policy_input: dict[str, Any], expect: dict[str, Any]
) -> None:
    decision = golib.decide(policy_input)
    check_expectation(decision, expect)
    assert decision.revision == "2026.11.27-1"


@pytest.mark.parametrize(("name", "policy_input", "expect"), ROWS, ids=IDS)
def test_remote_engine_decides_as_the_table_says(
    remote: RemoteEngine,
    healthy_data_api: Any,
    name: str,
    policy_input: dict[str, Any],
    expect: dict[str, Any],
) -> None:
    check_expectation(remote.decide(policy_input), expect)


def test_every_engine_gives_identical_decisions_on_every_row(
    embedded: EmbeddedEngine, golib: GolibEngine, remote: RemoteEngine, healthy_data_api: Any
) -> None:
    for name, policy_input, _ in ROWS:
        a = canonical(embedded.decide(policy_input))
        assert canonical(golib.decide(policy_input)) == a, f"OPA's engine: {name}"
        assert canonical(remote.decide(policy_input)) == a, f"remote: {name}"


def test_remote_engine_keeps_the_servers_decision_id(
    remote: RemoteEngine, healthy_data_api: Any
) -> None:
    first = remote.decide(ROWS[0][1])
    second = remote.decide(ROWS[0][1])
    assert first.decision_id and second.decision_id and first.decision_id != second.decision_id


# --- a real OPA, when there is one ---------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def real_opa() -> Iterator[str]:
    opa = shutil.which("opa")
    if opa is None:
        pytest.skip("no opa binary on PATH: the table ran on regopy and OPA's engine (golib) only")
    port = _free_port()
    process = subprocess.Popen(
        [opa, "run", "--server", f"--addr=127.0.0.1:{port}", "--bundle", str(BUNDLE)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}/health", timeout=0.5)
                break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize(("name", "policy_input", "expect"), ROWS, ids=IDS)
def test_real_opa_decides_as_the_table_says(
    real_opa: str, name: str, policy_input: dict[str, Any], expect: dict[str, Any]
) -> None:
    engine = RemoteEngine(real_opa, bundle_dir=BUNDLE, timeout_s=2.0)
    check_expectation(engine.decide(policy_input), expect)


def test_policy_input_example_is_valid_json(tmp_path: Path) -> None:
    # The rows are what a service sends; they must survive JSON as the remote engine sends it.
    for _, policy_input, _ in ROWS:
        assert json.loads(json.dumps(policy_input, ensure_ascii=False)) == policy_input
