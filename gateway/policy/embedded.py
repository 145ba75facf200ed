"""The embedded policy engine: the Rego bundle evaluated in process with regopy.

The bundle is compiled once (``Interpreter.build(None, [entrypoint])``) and each call only sets
the input (built by ``rego_input.build_input``, under half of ``regopy.Input``'s cost) and runs
``query_bundle_entrypoint``. Calls come from the gRPC thread pool: each thread
keeps its own interpreter (the input lives on the interpreter) and all share the compiled bundle,
which evaluation only reads; ``bench/bench_policy.py`` measures this against one locked
interpreter. A reload builds and tests the new bundle aside, then swaps one reference.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regopy
from regopy.rego_shared import rego_set_input

from gateway.policy.bundle import (
    DECISION_ENTRYPOINT,
    BundleError,
    compile_decision_bundle,
    evaluate_entrypoint,
    first_expression,
    read_bundle,
)
from gateway.policy.engine import Decision, MalformedDecision, deny, log, parse_decision
from gateway.policy.rego_input import build_input
from gateway.policy.regotest import failures, run_tests


@dataclass(frozen=True)
class _Loaded:
    revision: str
    compiled: regopy.Bundle
    bundle_dir: Path


class EmbeddedEngine:
    """regopy on a bundle directory; ``decide`` never raises."""

    def __init__(self, bundle_dir: str | Path, *, run_tests_first: bool = False) -> None:
        self._loaded = _load(Path(bundle_dir), run_tests_first=run_tests_first)
        self._local = threading.local()
        self._reload_lock = threading.Lock()

    @property
    def revision(self) -> str:
        return self._loaded.revision

    def decide(self, policy_input: Mapping[str, Any]) -> Decision:
        loaded = self._loaded  # one read: a concurrent reload cannot mix two bundles
        try:
            interpreter = self._interpreter()
            # Built through the C API directly (rego_input.py): regopy.Input costs more than
            # the policy. It also refuses what JSON cannot carry, as the remote engine would.
            with build_input(policy_input) as document:
                rego_set_input(interpreter._impl, document.handle)
            ok, text = evaluate_entrypoint(interpreter, loaded.compiled, DECISION_ENTRYPOINT)
        except (regopy.RegoError, ValueError, TypeError) as exc:
            return deny(f"policy engine error: {exc}", revision=loaded.revision)
        if not ok:
            return deny(f"policy engine error: {text}", revision=loaded.revision)
        try:
            defined, result = first_expression(text)
        except ValueError:
            return deny(
                "policy engine returned an unreadable decision (an evaluation error inside it)",
                revision=loaded.revision,
            )
        if not defined:
            return deny("policy decision is undefined for this input", revision=loaded.revision)
        try:
            return parse_decision(result, decision_id=None, revision=loaded.revision)
        except MalformedDecision as exc:
            return deny(f"policy returned a malformed decision: {exc}", revision=loaded.revision)

    def reload(self, bundle_dir: str | Path) -> str:
        """Compile and test the bundle at ``bundle_dir``; swap it in only if both succeed."""
        with self._reload_lock:
            loaded = _load(Path(bundle_dir), run_tests_first=True)
            old = self._loaded.revision
            self._loaded = loaded
        log.info("policy.reloaded", revision=loaded.revision, previous=old)
        return loaded.revision

    def _interpreter(self) -> regopy.Interpreter:
        interpreter = getattr(self._local, "interpreter", None)
        if interpreter is None:
            interpreter = regopy.Interpreter()
            self._local.interpreter = interpreter
        return interpreter


def _load(bundle_dir: Path, *, run_tests_first: bool) -> _Loaded:
    source = read_bundle(bundle_dir)
    compiled = compile_decision_bundle(source)
    if run_tests_first:
        failed = failures(run_tests(source))
        if failed:
            names = ", ".join(f"{r.test.id} ({r.detail})" for r in failed[:5])
            raise BundleError(
                f"policy bundle {bundle_dir}: {len(failed)} Rego test(s) fail: {names}"[:2000]
            )
    return _Loaded(source.revision, compiled, bundle_dir)


def evaluate_raw(bundle_dir: str | Path, policy_input: Mapping[str, Any]) -> Any:
    """The raw decision value for an input (for the CLI and test servers); None if undefined."""
    source = read_bundle(bundle_dir)
    compiled = compile_decision_bundle(source)
    interpreter = regopy.Interpreter()
    interpreter.set_input(regopy.Input(policy_input))
    ok, text = evaluate_entrypoint(interpreter, compiled, DECISION_ENTRYPOINT)
    if not ok:
        raise BundleError(f"policy engine error: {text}")
    defined, value = first_expression(text)
    return value if defined else None


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)
