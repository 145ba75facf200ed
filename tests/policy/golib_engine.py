"""OPA's own Go engine (opa-golib-python-bindings) behind the gateway's PolicyEngine interface.

A test-only engine: the bindings (``opa_bindings.OpaEngine``, OPA v1 built as a shared library
and called through ctypes) are installed by ``./dev test`` and CI, not by the package. It lets
the tests put the bundle to the engine a stock ``opa run --server policies/`` uses, without an
``opa`` binary: the decision table runs on it (test_policy_conformance.py), the ``*_test.rego``
files run on it the way ``opa test`` runs them (every ``test_`` rule must evaluate to true), and
the differential test compares it with regopy input by input.

The bindings expose no test runner, so ``run_tests`` evaluates each ``test_`` rule found by
``gateway.policy.regotest.discover`` as a document. Like the embedded engine, ``decide`` never
raises: an engine error, an input JSON cannot carry, an undefined or malformed decision are all
denials that say what went wrong.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opa_bindings import OpaEngine, OpaError, OpaUndefinedError

__all__ = ["GolibEngine", "OpaEngine", "OpaError", "OpaUndefinedError", "canonical", "run_tests"]

from gateway.policy.bundle import BundleError, BundleSource, read_bundle
from gateway.policy.engine import Decision, MalformedDecision, deny, log, parse_decision
from gateway.policy.regotest import RegoTestResult, discover, failures

DECISION_DOCUMENT = "aidbridge.authz.decision"


def new_opa(source: BundleSource, *, with_tests: bool) -> OpaEngine:
    """An OPA engine holding the bundle's modules (and tests, if asked) and its data."""
    opa = OpaEngine()
    try:
        for name, text in source.modules.items():
            opa.add_policy(name, text)
        if with_tests:
            for name, text in source.tests.items():
                opa.add_policy(name, text)
        opa.add_data(source.data)
    except OpaError as exc:
        opa.close()
        raise BundleError(f"policy bundle {source.root} (OPA): {exc}") from exc
    return opa


def run_tests(bundle: str | Path | BundleSource) -> list[RegoTestResult]:
    """Every ``test_`` rule of the bundle's ``*_test.rego`` files, evaluated on OPA's engine.

    As with ``opa test``: a test passes only when it is true; undefined, false or an error
    fails it. A bundle that OPA does not compile fails every test with OPA's message."""
    source = bundle if isinstance(bundle, BundleSource) else read_bundle(bundle)
    tests = discover(source)
    try:
        opa = new_opa(source, with_tests=True)
    except BundleError as exc:
        return [RegoTestResult(t, False, f"does not compile: {exc}"[:1000]) for t in tests]
    results = []
    with opa:
        for test in tests:
            try:
                value = opa.eval_document(f"{test.package}.{test.name}")
            except OpaUndefinedError:
                results.append(RegoTestResult(test, False, "expected true, found undefined"))
                continue
            except OpaError as exc:
                results.append(RegoTestResult(test, False, f"error: {exc}"[:1000]))
                continue
            if value is True:
                results.append(RegoTestResult(test, True, ""))
            else:
                results.append(RegoTestResult(test, False, f"expected true, found {value!r}"))
    return results


@dataclass(frozen=True)
class _Loaded:
    revision: str
    opa: OpaEngine


class GolibEngine:
    """OPA's Go engine on a bundle directory; ``decide`` never raises.

    One engine is shared by all threads: the bindings serialise evaluations on it."""

    def __init__(self, bundle_dir: str | Path) -> None:
        self._loaded = _load(Path(bundle_dir), run_tests_first=False)
        self._reload_lock = threading.Lock()

    @property
    def revision(self) -> str:
        return self._loaded.revision

    def evaluate(self, document: str, policy_input: Any) -> tuple[bool, Any]:
        """(defined, value) of ``data.<document>`` for an input; raises OpaError on an error."""
        try:
            return True, self._loaded.opa.eval_document(document, policy_input)
        except OpaUndefinedError:
            return False, None

    def decide(self, policy_input: Mapping[str, Any]) -> Decision:
        loaded = self._loaded
        try:
            value = loaded.opa.eval_document(DECISION_DOCUMENT, dict(policy_input))
        except OpaUndefinedError:
            return deny("policy decision is undefined for this input", revision=loaded.revision)
        except (OpaError, TypeError, ValueError) as exc:
            return deny(f"policy engine error: {exc}"[:300], revision=loaded.revision)
        try:
            return parse_decision(value, decision_id=None, revision=loaded.revision)
        except MalformedDecision as exc:
            return deny(f"policy returned a malformed decision: {exc}", revision=loaded.revision)

    def reload(self, bundle_dir: str | Path) -> str:
        """Load the bundle at ``bundle_dir`` once OPA compiles it and its tests pass on OPA."""
        with self._reload_lock:
            loaded = _load(Path(bundle_dir), run_tests_first=True)
            old, self._loaded = self._loaded, loaded
        log.info("policy.reloaded", revision=loaded.revision, previous=old.revision, engine="opa")
        return loaded.revision

    def close(self) -> None:
        self._loaded.opa.close()


def _load(bundle_dir: Path, *, run_tests_first: bool) -> _Loaded:
    source = read_bundle(bundle_dir)
    if run_tests_first:
        failed = failures(run_tests(source))
        if failed:
            names = ", ".join(f"{r.test.id} ({r.detail})" for r in failed[:5])
            raise BundleError(
                f"policy bundle {bundle_dir}: {len(failed)} Rego test(s) fail: {names}"
            )
    opa = new_opa(source, with_tests=False)
    try:
        # Compile now, so a bundle OPA refuses fails here rather than on the first call.
        opa.eval_document(DECISION_DOCUMENT, {})
    except OpaUndefinedError:
        pass
    except OpaError as exc:
        opa.close()
        raise BundleError(f"policy bundle {bundle_dir} does not compile on OPA: {exc}") from exc
    return _Loaded(source.revision, opa)


def canonical(decision: Decision) -> str:
    """A decision's content (allow, reasons, flags, obligations, holds) as text, for comparisons."""
    return json.dumps(
        {
            "allow": decision.allow,
            "reasons": list(decision.reasons),
            "flags": list(decision.flags),
            "obligations": {k: dict(v) for k, v in decision.obligations.items()},
            "holds": decision.holds,
        },
        ensure_ascii=False,
        sort_keys=True,
    )
