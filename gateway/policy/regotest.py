"""A runner for the bundle's Rego unit tests on the embedded engine (regopy).

It follows ``opa test``'s conventions (openpolicyagent.org/docs/policy-testing): every rule whose
name starts with ``test_`` in a ``*_test.rego`` module is a test, and it passes only when it
evaluates to ``true``; undefined, false or an error is a failure. All tests are compiled once,
as entrypoints of one bundle, and each is then evaluated on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import regopy

from gateway.policy.bundle import (
    BundleError,
    BundleSource,
    evaluate_entrypoint,
    first_expression,
    new_interpreter,
    read_bundle,
)

_PACKAGE = re.compile(r"^\s*package\s+([A-Za-z_][\w.]*)", re.MULTILINE)
_TEST_RULE = re.compile(r"^(test_[A-Za-z0-9_]+)\b", re.MULTILINE)


@dataclass(frozen=True)
class RegoTest:
    file: str
    package: str
    name: str

    @property
    def entrypoint(self) -> str:
        return f"{self.package.replace('.', '/')}/{self.name}"

    @property
    def id(self) -> str:
        return f"{self.package}.{self.name}"


@dataclass(frozen=True)
class RegoTestResult:
    test: RegoTest
    passed: bool
    detail: str  # "" when passed; else what was found


def discover(source: BundleSource) -> list[RegoTest]:
    """Every ``test_`` rule of every ``*_test.rego`` module, in file order, each named once."""
    found: list[RegoTest] = []
    for file, text in source.tests.items():
        match = _PACKAGE.search(text)
        if match is None:
            raise BundleError(f"policy tests: {file} has no package declaration")
        seen: set[str] = set()
        for name in _TEST_RULE.findall(text):
            if name not in seen:
                seen.add(name)
                found.append(RegoTest(file, match.group(1), name))
    return found


def run_tests(bundle: str | Path | BundleSource) -> list[RegoTestResult]:
    """Run every Rego test of the bundle; a compile failure fails every test with its message."""
    source = bundle if isinstance(bundle, BundleSource) else read_bundle(bundle)
    tests = discover(source)
    if not tests:
        return []
    try:
        interpreter = new_interpreter(source, with_tests=True)
        compiled = interpreter.build(None, [t.entrypoint for t in tests])
        compile_error = "" if compiled.ok() else _interpreter_error(interpreter)
    except (BundleError, regopy.RegoError) as exc:
        compile_error = str(exc)
    if compile_error:
        detail = f"does not compile: {compile_error}"[:1000]
        return [RegoTestResult(t, False, detail) for t in tests]
    return [_run_one(interpreter, compiled, t) for t in tests]


def failures(results: list[RegoTestResult]) -> list[RegoTestResult]:
    return [r for r in results if not r.passed]


def _run_one(
    interpreter: regopy.Interpreter, compiled: regopy.Bundle, test: RegoTest
) -> RegoTestResult:
    ok, text = evaluate_entrypoint(interpreter, compiled, test.entrypoint)
    if not ok:
        return RegoTestResult(test, False, f"error: {text}"[:1000])
    try:
        defined, value = first_expression(text)
    except ValueError:
        return RegoTestResult(test, False, f"error: unreadable result {text[:200]}")
    if not defined:
        return RegoTestResult(test, False, "expected true, found undefined")
    if value is not True:
        return RegoTestResult(test, False, f"expected true, found {value!r}")
    return RegoTestResult(test, True, "")


def _interpreter_error(interpreter: regopy.Interpreter) -> str:
    from regopy.rego_shared import rego_get_error

    return rego_get_error(interpreter._impl)
