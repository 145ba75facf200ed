"""Fail closed: every way an engine can fail is a denial that says why, never an allow."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from gateway.policy import BundleError, load_engine
from gateway.policy.embedded import EmbeddedEngine
from gateway.policy.remote import RemoteEngine

from .opa_data_api import OpaDataApiServer
from .table import BUNDLE, load_table

ALLOWED = next(row[1] for row in load_table() if row[2]["allow"] and "release" in row[1])


def test_the_probe_input_is_allowed_when_all_is_well(embedded: EmbeddedEngine) -> None:
    assert embedded.decide(ALLOWED).allow


@pytest.mark.parametrize(
    ("fault", "reason_starts", "unavailable"),
    [
        ("malformed-json", "policy engine returned unreadable JSON", False),
        ("http-500", "policy engine error: HTTP 500", False),
        ("undefined", "policy decision is undefined", False),
        ("bad-shape", "policy returned a malformed decision", False),
        ("slow", "policy engine unreachable", True),
    ],
)
def test_remote_fault_is_a_denial(
    healthy_data_api: OpaDataApiServer, fault: str, reason_starts: str, unavailable: bool
) -> None:
    engine = RemoteEngine(healthy_data_api.url, bundle_dir=BUNDLE, timeout_s=0.2)
    healthy_data_api.slow_s = 0.6
    healthy_data_api.fault = fault
    decision = engine.decide(ALLOWED)
    assert decision.allow is False
    assert decision.reasons[0].startswith(reason_starts), decision.reasons
    assert decision.unavailable is unavailable
    assert dict(decision.obligations) == {}
    assert decision.decision_id and decision.revision == "2026.12.03-1"


def test_remote_server_shut_down_mid_run_is_unavailable() -> None:
    server = OpaDataApiServer(BUNDLE).start()
    engine = RemoteEngine(server.url, bundle_dir=BUNDLE, timeout_s=0.5)
    before = engine.decide(ALLOWED)
    server.stop()
    after = engine.decide(ALLOWED)
    assert before.allow
    assert after.allow is False and after.unavailable
    assert after.reasons[0].startswith(f"policy engine unreachable at {server.url}")


def test_remote_engine_times_out_at_its_default_200ms(healthy_data_api: OpaDataApiServer) -> None:
    engine = load_engine(BUNDLE, opa_url=healthy_data_api.url)
    assert isinstance(engine, RemoteEngine) and engine.timeout_s == 0.2
    healthy_data_api.slow_s = 0.6
    healthy_data_api.fault = "slow"
    decision = engine.decide(ALLOWED)
    assert decision.unavailable and not decision.allow


def test_remote_engine_refuses_a_url_it_cannot_use() -> None:
    with pytest.raises(ValueError, match="expected http"):
        RemoteEngine("opa:8181")


@pytest.mark.parametrize(
    "bad_input",
    [{"now_ns": object()}, {"caller": {"org": b"charity-sunshine"}}, {"consent": {1.5j}}],
    ids=["object", "bytes", "set-of-complex"],
)
def test_embedded_input_it_cannot_read_is_a_denial(
    embedded: EmbeddedEngine, bad_input: Any
) -> None:
    decision = embedded.decide({**ALLOWED, **bad_input})
    assert decision.allow is False
    assert decision.reasons[0].startswith("policy engine error")


def _write_policy(bundle: Path, body: str, revision: str) -> None:
    (bundle / ".manifest").write_text(
        f'{{"revision": "{revision}", "roots": ["aidbridge"]}}', encoding="utf-8"
    )
    (bundle / "aidbridge" / "authz.rego").write_text(body, encoding="utf-8")
    for test in (bundle / "aidbridge").glob("authz_test.rego"):
        test.unlink()


def test_undefined_decision_is_a_denial(bundle_copy: Path) -> None:
    _write_policy(
        bundle_copy,
        "package aidbridge.authz\n\nimport rego.v1\n\ndecision := 1 if false\n",
        "undefined-1",
    )
    decision = EmbeddedEngine(bundle_copy).decide(ALLOWED)
    assert not decision.allow
    assert decision.reasons == ("policy decision is undefined for this input",)


def test_malformed_decision_is_a_denial(bundle_copy: Path) -> None:
    _write_policy(
        bundle_copy,
        'package aidbridge.authz\n\nimport rego.v1\n\ndecision := {"allow": true}\n',
        "malformed-1",
    )
    decision = EmbeddedEngine(bundle_copy).decide(ALLOWED)
    assert not decision.allow
    assert decision.reasons[0].startswith("policy returned a malformed decision: decision lacks")


def test_allow_with_an_unknown_action_is_a_denial(bundle_copy: Path) -> None:
    _write_policy(
        bundle_copy,
        'package aidbridge.authz\n\nimport rego.v1\n\ndecision := {"allow": true, "reasons": [],'
        ' "flags": [], "obligations": {"name": {"action": "publish"}}}\n',
        "bad-action-1",
    )
    decision = EmbeddedEngine(bundle_copy).decide(ALLOWED)
    assert not decision.allow


def test_reload_of_a_bundle_that_does_not_compile_keeps_the_old_one(bundle_copy: Path) -> None:
    engine = EmbeddedEngine(bundle_copy)
    before = engine.decide(ALLOWED)
    (bundle_copy / "aidbridge" / "authz.rego").write_text(
        "package aidbridge.authz\n\nimport rego.v1\n\ndecision := {{{\n", encoding="utf-8"
    )
    with pytest.raises(BundleError):
        engine.reload(bundle_copy)
    after = engine.decide(ALLOWED)
    assert engine.revision == "2026.12.03-1"
    assert (after.allow, dict(after.obligations)) == (before.allow, dict(before.obligations))


def test_reload_of_a_bundle_whose_tests_fail_keeps_the_old_one(bundle_copy: Path) -> None:
    engine = EmbeddedEngine(bundle_copy)
    # A policy change that compiles but breaks a rule its tests pin: adults need guardians.
    authz = bundle_copy / "aidbridge" / "consent.rego"
    authz.write_text(
        authz.read_text(encoding="utf-8").replace("guardian_age := 14", "guardian_age := 99"),
        encoding="utf-8",
    )
    (bundle_copy / ".manifest").write_text(
        '{"revision": "broken-2", "roots": ["aidbridge"]}', encoding="utf-8"
    )
    with pytest.raises(BundleError, match="Rego test"):
        engine.reload(bundle_copy)
    assert engine.revision == "2026.12.03-1"
    assert engine.decide(ALLOWED).allow


def test_reload_of_a_good_bundle_swaps_the_revision(bundle_copy: Path) -> None:
    engine = EmbeddedEngine(BUNDLE)
    (bundle_copy / ".manifest").write_text(
        '{"revision": "2026.12.01-1", "roots": ["aidbridge"]}', encoding="utf-8"
    )
    assert engine.reload(bundle_copy) == "2026.12.01-1"
    decision = engine.decide(ALLOWED)
    assert decision.allow and decision.revision == "2026.12.01-1"


def test_bundle_with_a_package_outside_its_roots_is_refused(bundle_copy: Path) -> None:
    (bundle_copy / "aidbridge" / "extra.rego").write_text(
        "package other\n\nimport rego.v1\n\nx := 1\n", encoding="utf-8"
    )
    with pytest.raises(BundleError, match="outside the roots"):
        EmbeddedEngine(bundle_copy)


def test_decisions_from_many_threads_equal_serial_ones(embedded: EmbeddedEngine) -> None:
    rows = load_table()
    expected = [embedded.decide(row[1]) for row in rows]
    errors: list[str] = []

    def worker(offset: int) -> None:
        for i in range(len(rows)):
            k = (i + offset) % len(rows)
            got = embedded.decide(rows[k][1])
            if (got.allow, got.reasons, dict(got.obligations)) != (
                expected[k].allow,
                expected[k].reasons,
                dict(expected[k].obligations),
            ):
                errors.append(rows[k][0])

    threads = [threading.Thread(target=worker, args=(n * 7,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
