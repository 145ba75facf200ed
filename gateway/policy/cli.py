"""``aidbridge policy …``: test, evaluate and check the Rego bundle without the gateway.

For policy authors (supervisors, the bureau's legal staff): ``test`` runs the bundle's Rego
tests on the embedded engine (and ``opa test`` too when an ``opa`` binary is on PATH), ``eval``
prints the decision for an input file, ``check`` compiles the bundle and runs its tests.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Annotated

import typer

from gateway.policy.bundle import BundleError, compile_decision_bundle, read_bundle
from gateway.policy.embedded import dumps, evaluate_raw
from gateway.policy.regotest import failures, run_tests

app = typer.Typer(help="Test, evaluate and check the Rego policy bundle.", no_args_is_help=True)

BundleOption = Annotated[Path, typer.Option("--bundle", "-b", help="The policy bundle directory.")]


@app.command()
def test(bundle: BundleOption = Path("policies"), verbose: bool = False) -> None:
    """Run the bundle's Rego tests (embedded engine; also `opa test` when opa is on PATH)."""
    raise typer.Exit(_run_tests(bundle, verbose=verbose, with_opa=True))


@app.command("eval")
def eval_(
    input_file: Annotated[Path, typer.Option("--input", "-i", help="JSON file with the input.")],
    bundle: BundleOption = Path("policies"),
) -> None:
    """Print the decision for the input in FILE."""
    try:
        policy_input = json.loads(input_file.read_text(encoding="utf-8"))
        typer.echo(dumps(evaluate_raw(bundle, policy_input)))
    except (OSError, json.JSONDecodeError, BundleError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command()
def check(bundle: BundleOption = Path("policies")) -> None:
    """Compile the bundle and run its tests: what a reload does before swapping it in."""
    try:
        source = read_bundle(bundle)
        compile_decision_bundle(source)
    except BundleError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"revision {source.revision}: compiles")
    raise typer.Exit(_run_tests(bundle, verbose=False, with_opa=False))


def _run_tests(bundle: Path, *, verbose: bool, with_opa: bool) -> int:
    try:
        results = run_tests(bundle)
    except BundleError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    for result in results:
        if verbose or not result.passed:
            status = "PASS" if result.passed else "FAIL"
            detail = f": {result.detail}" if result.detail else ""
            typer.echo(f"{status} {result.test.id} ({result.test.file}){detail}")
    failed = failures(results)
    typer.echo(f"regopy: {len(results) - len(failed)} passed, {len(failed)} failed")
    code = 1 if failed or not results else 0
    opa = shutil.which("opa")
    if with_opa and opa:
        completed = subprocess.run([opa, "test", str(bundle)], check=False)  # noqa: S603
        code = code or (1 if completed.returncode else 0)
    return code
