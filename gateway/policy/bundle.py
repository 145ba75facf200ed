"""Reading and compiling the Rego policy bundle in ``policies/``.

The layout follows OPA's bundle format (openpolicyagent.org/docs/management-bundles): a
``.manifest`` with ``revision`` and ``roots``, ``*.rego`` modules, and ``data.json`` files whose
directory inside the bundle is their path under ``data`` (``aidbridge/data.json`` is
``data.aidbridge``). ``*_test.rego`` modules hold the policy's own tests; they are compiled for
``regotest`` and ``opa test`` but not into the decision bundle.

regopy 1.5.2 notes, found while building this: a failed query's output must not be rendered
(``Output.__str__`` segfaults; the message is on the interpreter), and a value that holds an
evaluation error is rendered as non-JSON, so callers parse defensively.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regopy
from regopy.rego_shared import (
    rego_bundle_query_entrypoint,
    rego_free_output,
    rego_get_error,
    rego_output_ok,
    rego_output_string,
)

DECISION_ENTRYPOINT = "aidbridge/authz/decision"
DECISION_PATH = "aidbridge/authz/decision"

_PACKAGE = re.compile(r"^\s*package\s+([A-Za-z_][\w.]*)", re.MULTILINE)


class BundleError(Exception):
    """The bundle cannot be read, does not compile, or its tests fail; nothing was swapped in."""


@dataclass(frozen=True)
class BundleSource:
    """The text of a bundle as read from disk, before compilation."""

    root: Path
    revision: str
    roots: tuple[str, ...]
    modules: dict[str, str] = field(default_factory=dict)  # relative path -> Rego source
    tests: dict[str, str] = field(default_factory=dict)  # relative path -> Rego test source
    data: dict[str, Any] = field(default_factory=dict)  # merged base document


def read_bundle(bundle_dir: str | Path) -> BundleSource:
    """Read the manifest, modules and data of a bundle directory; check packages fit its roots."""
    root = Path(bundle_dir)
    if not root.is_dir():
        raise BundleError(f"policy bundle: expected a directory, found nothing at {root}")
    revision, roots = _read_manifest(root)
    modules: dict[str, str] = {}
    tests: dict[str, str] = {}
    for path in sorted(root.rglob("*.rego")):
        rel = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        _check_package_in_roots(rel, text, roots)
        (tests if path.name.endswith("_test.rego") else modules)[rel] = text
    if not modules:
        raise BundleError(f"policy bundle {root}: expected at least one .rego module, found none")
    data: dict[str, Any] = {}
    for path in sorted(root.rglob("data.json")):
        rel_dir = path.parent.relative_to(root).parts
        _check_data_in_roots(path.relative_to(root).as_posix(), rel_dir, roots)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise BundleError(f"policy bundle: {path} is not valid JSON: {exc}") from exc
        _merge_at(data, rel_dir, document, path)
    return BundleSource(root, revision, roots, modules, tests, data)


def new_interpreter(source: BundleSource, *, with_tests: bool) -> regopy.Interpreter:
    """An interpreter holding the bundle's modules (and tests, if asked) and data."""
    interpreter = regopy.Interpreter()
    try:
        for name, text in source.modules.items():
            interpreter.add_module(name, text)
        if with_tests:
            for name, text in source.tests.items():
                interpreter.add_module(name, text)
        interpreter.add_data_json(json.dumps(source.data, ensure_ascii=False))
    except regopy.RegoError as exc:
        raise BundleError(f"policy bundle {source.root}: {exc}") from exc
    return interpreter


def compile_decision_bundle(source: BundleSource) -> regopy.Bundle:
    """Compile the decision entrypoint once; per-call evaluation then skips parsing."""
    interpreter = new_interpreter(source, with_tests=False)
    try:
        compiled = interpreter.build(None, [DECISION_ENTRYPOINT])
    except regopy.RegoError as exc:
        raise BundleError(f"policy bundle {source.root} does not compile: {exc}") from exc
    if not compiled.ok():
        message = rego_get_error(interpreter._impl)
        raise BundleError(f"policy bundle {source.root} does not compile: {message}")
    return compiled


def evaluate_entrypoint(
    interpreter: regopy.Interpreter, compiled: regopy.Bundle, entrypoint: str
) -> tuple[bool, str]:
    """Evaluate a compiled entrypoint with the interpreter's current input.

    Returns (ok, text): the raw output text when ok, else the engine's error message. Uses the
    C API directly because regopy's ``Output`` crashes on a failed query and parses eagerly.
    """
    impl = rego_bundle_query_entrypoint(interpreter._impl, compiled._impl, entrypoint)
    try:
        if not rego_output_ok(impl):
            return False, rego_get_error(interpreter._impl)
        return True, rego_output_string(impl)
    finally:
        rego_free_output(impl)


def query_text(interpreter: regopy.Interpreter, query: str) -> tuple[bool, str]:
    """Run an ad-hoc query (compiling the modules); (ok, output text or error message)."""
    try:
        output = interpreter.query(query)
    except regopy.RegoError as exc:
        return False, str(exc)
    if not output.ok():
        return False, rego_get_error(interpreter._impl)
    return True, str(output)


def first_expression(text: str) -> tuple[bool, Any]:
    """The value of the first expression of an output text; (False, None) when undefined."""
    if text.strip() == "undefined":
        return False, None
    document = json.loads(text)
    if isinstance(document, list):
        document = document[0] if document else {}
    expressions = document.get("expressions") if isinstance(document, dict) else None
    if not expressions:
        return False, None
    return True, expressions[0]


def _read_manifest(root: Path) -> tuple[str, tuple[str, ...]]:
    path = root / ".manifest"
    if not path.is_file():
        raise BundleError(f"policy bundle {root}: expected a .manifest, found none")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BundleError(f"policy bundle: {path} is not valid JSON: {exc}") from exc
    revision = manifest.get("revision")
    roots = manifest.get("roots", [""])
    if not isinstance(revision, str) or not revision:
        raise BundleError(
            f"policy bundle: {path} must give a non-empty revision, found {revision!r}"
        )
    if not isinstance(roots, list) or not all(isinstance(r, str) for r in roots):
        raise BundleError(f"policy bundle: {path} roots must be a list of strings, found {roots!r}")
    return revision, tuple(roots)


def _under_roots(path: str, roots: tuple[str, ...]) -> bool:
    return any(r == "" or path == r or path.startswith(r + "/") for r in roots)


def _check_package_in_roots(rel: str, text: str, roots: tuple[str, ...]) -> None:
    match = _PACKAGE.search(text)
    if match is None:
        raise BundleError(f"policy bundle: {rel} has no package declaration")
    package_path = match.group(1).replace(".", "/")
    if not _under_roots(package_path, roots):
        raise BundleError(
            f"policy bundle: {rel} declares package {match.group(1)}, "
            f"outside the roots {list(roots)}"
        )


def _check_data_in_roots(rel: str, parts: tuple[str, ...], roots: tuple[str, ...]) -> None:
    # Data at the bundle root would claim every top-level key; only allow it for root "".
    if not _under_roots("/".join(parts), roots) and "" not in roots:
        raise BundleError(f"policy bundle: {rel} lies outside the roots {list(roots)}")


def _merge_at(data: dict[str, Any], parts: tuple[str, ...], document: Any, path: Path) -> None:
    node = data
    for part in parts:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise BundleError(f"policy bundle: {path} collides with data already at {part}")
    if not isinstance(document, dict):
        raise BundleError(
            f"policy bundle: {path} must hold a JSON object, found {type(document).__name__}"
        )
    for key, value in document.items():
        if key in node:
            raise BundleError(f"policy bundle: {path} redefines data key {key}")
        node[key] = value
