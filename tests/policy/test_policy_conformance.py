"""The decision table (decisions.yaml) on every engine.

regopy (embedded), OPA's own Go engine in process (golib), the remote engine against the local
Data-API server (OPA's engine behind OPA's HTTP API), and a real `opa run --server` when an
`opa` binary is on PATH. Each engine runs the table twice more behind the decision cache
(gateway/policy/cache.py): every row decided twice, the second time from the cache with the same
decision, and every row again at and around each instant the decision's interval is bounded by,
where the cache must give what the engine alone gives.
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

from gateway.policy.cache import DecisionCache
from gateway.policy.embedded import EmbeddedEngine
from gateway.policy.engine import PolicyEngine
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
    assert decision.revision == "2026.12.03-1"
    assert decision.decision_id


@pytest.mark.parametrize(("name", "policy_input", "expect"), ROWS, ids=IDS)
def test_opa_engine_decides_as_the_table_says(
    golib: GolibEngine, name: str, policy_input: dict[str, Any], expect: dict[str, Any]
) -> None:
    decision = golib.decide(policy_input)
    check_expectation(decision, expect)
    assert decision.revision == "2026.12.03-1"


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


# --- behind the decision cache -------------------------------------------------------------
@pytest.fixture(params=["embedded", "golib", "remote"])
def any_engine(request: pytest.FixtureRequest) -> PolicyEngine:
    if request.param == "remote":
        request.getfixturevalue("healthy_data_api")
    engine: PolicyEngine = request.getfixturevalue(request.param)
    return engine


def _reusable(policy_input: dict[str, Any], holds: tuple[int, int] | None) -> bool:
    now = policy_input.get("now_ns")
    return type(now) is int and holds is not None and holds[0] <= now < holds[1]


def test_every_row_twice_behind_the_cache_the_second_time_from_it(
    any_engine: PolicyEngine,
) -> None:
    hits = 0
    for name, policy_input, expect in ROWS:
        cache = DecisionCache(any_engine, max_entries=8)  # rows may repeat an input
        first, second = cache.decide(policy_input), cache.decide(policy_input)
        check_expectation(first, expect)
        check_expectation(second, expect)
        assert canonical(second) == canonical(first) == canonical(any_engine.decide(policy_input))
        assert not first.cached_from, name
        if _reusable(policy_input, first.holds):
            assert second.cached_from == first.decision_id, name
            assert second.decision_id != first.decision_id, name
            hits += 1
        else:
            assert not second.cached_from, name
    assert hits >= len(ROWS) - 5  # only rows without a clock or a JSON input are not reused


def _instants(policy_input: dict[str, Any]) -> list[int]:
    """The instants the decision's interval can end at, with their neighbours."""
    consent, subject = policy_input.get("consent"), policy_input.get("subject")
    marks = [
        part.get(key)
        for part, keys in (
            (consent, ("valid_from_ns", "valid_until_ns")),
            (subject, ("turns_14_ns", "turns_18_ns")),
        )
        if isinstance(part, dict)
        for key in keys
    ]
    return sorted({m + d for m in marks if type(m) is int and m > 0 for d in (-1, 0, 1)})


EDGE_ROWS = [row for row in ROWS if type(row[1].get("now_ns")) is int and _instants(row[1])]


@pytest.mark.parametrize("engine_name", ["embedded", "golib"])
def test_at_each_interval_edge_the_cache_answers_as_the_engine_alone(
    request: pytest.FixtureRequest, engine_name: str
) -> None:
    # valid_from - 1 / valid_from / + 1, valid_until - 1 / valid_until / + 1 and the same around
    # the 14th and 18th birthdays, after the row's own time: a decision cached before an edge
    # is never served past it.
    engine: PolicyEngine = request.getfixturevalue(engine_name)
    assert len(EDGE_ROWS) > 50
    served_across = 0  # answers from the cache
    for name, policy_input, _ in EDGE_ROWS:
        cache = DecisionCache(engine, max_entries=8)
        warm = cache.decide(policy_input)
        evaluated = {warm.decision_id: warm}
        for now in [policy_input["now_ns"], *_instants(policy_input)]:
            at = dict(policy_input, now_ns=now)
            got, alone = cache.decide(at), engine.decide(at)
            assert canonical(got) == canonical(alone), f"{name} at {now}"
            if got.cached_from:
                source = evaluated[got.cached_from]
                assert source.holds is not None and source.holds[0] <= now < source.holds[1]
                served_across += 1
            else:
                evaluated[got.decision_id] = got
    assert served_across > len(EDGE_ROWS)  # the cache was used, not only bypassed


def test_the_cache_does_not_serve_a_childs_decision_past_the_14th_birthday(
    any_engine: PolicyEngine,
) -> None:
    rows = {name: (policy_input, expect) for name, policy_input, expect in ROWS}
    child, allowed = rows["a child's guardian consent holds until the 14th birthday"]
    fourteen, lapsed = rows["at the 14th birthday the guardian's consent has lapsed"]
    birthday = child["subject"]["turns_14_ns"]
    cache = DecisionCache(any_engine, max_entries=8)
    check_expectation(cache.decide(child), allowed)
    last = cache.decide(dict(child, now_ns=birthday - 1))
    check_expectation(last, allowed)
    assert last.cached_from
    # The same input at the birthday: outside the interval, so the policy decides again ...
    assert not cache.decide(dict(child, now_ns=birthday)).cached_from
    # ... and as the gateway sends it from then on, 14 years old, the consent has lapsed.
    decision = cache.decide(fourteen)
    check_expectation(decision, lapsed)
    assert not decision.cached_from


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
