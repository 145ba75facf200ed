"""The bundle's own Rego tests, each a pytest case, on regopy and on OPA's own engine.

On OPA's engine they run as `opa test` runs them (golib_engine.run_tests); `opa test` itself
runs too when an opa binary is on PATH.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
import regopy

from gateway.policy.bundle import read_bundle
from gateway.policy.regotest import RegoTestResult, discover, run_tests

from . import golib_engine
from .table import BUNDLE

_SOURCE = read_bundle(BUNDLE)
_TESTS = discover(_SOURCE)
_results: dict[str, RegoTestResult] = {}
_opa_results: dict[str, RegoTestResult] = {}


def _result(test_id: str) -> RegoTestResult:
    if not _results:  # compile all tests once, then report each
        _results.update({r.test.id: r for r in run_tests(_SOURCE)})
    return _results[test_id]


def _opa_result(test_id: str) -> RegoTestResult:
    if not _opa_results:
        _opa_results.update({r.test.id: r for r in golib_engine.run_tests(_SOURCE)})
    return _opa_results[test_id]


def test_every_policy_module_has_tests_beside_it() -> None:
    for module in _SOURCE.modules:
        assert module.replace(".rego", "_test.rego") in _SOURCE.tests, module


@pytest.mark.parametrize("test_id", [t.id for t in _TESTS])
def test_rego(test_id: str) -> None:
    result = _result(test_id)
    assert result.passed, f"{test_id} ({result.test.file}): {result.detail}"


@pytest.mark.parametrize("test_id", [t.id for t in _TESTS])
def test_rego_on_opa(test_id: str) -> None:
    result = _opa_result(test_id)
    assert result.passed, f"{test_id} ({result.test.file}) on OPA's engine: {result.detail}"


@pytest.mark.parametrize("runner", [run_tests, golib_engine.run_tests], ids=["regopy", "opa"])
def test_runner_reports_a_false_test_as_failing(bundle_copy, runner) -> None:
    extra = bundle_copy / "aidbridge" / "zz_test.rego"
    extra.write_text(
        "package aidbridge.zz_test\n\nimport rego.v1\n\n"
        "test_true if true\n\ntest_false if 1 == 2\n\ntest_number := 3\n",
        encoding="utf-8",
    )
    results = {r.test.name: r for r in runner(bundle_copy) if r.test.package.endswith("zz_test")}
    assert results["test_true"].passed
    assert not results["test_false"].passed
    assert results["test_false"].detail == "expected true, found undefined"
    assert not results["test_number"].passed


def test_opa_runner_fails_every_test_of_a_bundle_opa_does_not_compile(bundle_copy) -> None:
    (bundle_copy / "aidbridge" / "zz_test.rego").write_text(
        "package aidbridge.zz_test\n\nimport rego.v1\n\ntest_x if {{{\n", encoding="utf-8"
    )
    results = golib_engine.run_tests(bundle_copy)
    assert results and all(not r.passed for r in results)
    assert results[0].detail.startswith("does not compile")


# The construct the bundle avoids, pinned on both engines: `not f(x)` with x undefined is true
# on regopy and undefined on OPA (policies/README.md, "Writing Rego that both engines accept").
_NOT_OF_UNDEFINED = (
    'package probe\n\nimport rego.v1\n\nnegated_membership if not input.missing in {"a"}\n'
)


def test_not_of_an_undefined_argument_differs_between_the_engines() -> None:
    opa = golib_engine.OpaEngine()
    opa.add_policy("probe.rego", _NOT_OF_UNDEFINED)
    with pytest.raises(golib_engine.OpaUndefinedError):
        opa.eval_document("probe.negated_membership", {})
    opa.close()
    interpreter = regopy.Interpreter()
    interpreter.add_module("probe.rego", _NOT_OF_UNDEFINED)
    interpreter.set_input(regopy.Input({}))
    assert str(interpreter.query("x := data.probe.negated_membership")).startswith(
        '{"expressions":[true]'
    )


def test_regopy_rfc3339_parsing_is_still_broken() -> None:
    # Why the policy takes integer ns: regopy 1.5.2 answers undefined here, where OPA gives
    # 1795737600000000000. If this starts failing, regopy was fixed: the policy may then parse
    # times, and this pin should go.
    output = regopy.Interpreter().query('x := time.parse_rfc3339_ns("2026-11-27T00:00:00Z")')
    assert str(output) == "undefined"


def test_opa_test_passes_on_the_bundle() -> None:
    opa = shutil.which("opa")
    if opa is None:
        pytest.skip("no opa binary on PATH: Rego tests ran on regopy and OPA's engine (golib)")
    completed = subprocess.run(
        [opa, "test", str(BUNDLE), "-v"], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
