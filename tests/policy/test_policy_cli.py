"""`aidbridge policy test | eval | check` as a policy author uses them."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from gateway.policy.cli import app

from .table import BUNDLE, load_table

runner = CliRunner()


def test_check_compiles_and_runs_the_tests() -> None:
    result = runner.invoke(app, ["check", "--bundle", str(BUNDLE)])
    assert result.exit_code == 0, result.output
    assert "revision 2026.12.03-1: compiles" in result.output
    assert "0 failed" in result.output


def test_eval_prints_the_decision(tmp_path: Path) -> None:
    row = next(r for r in load_table() if r[0] == "contact details before acceptance")
    input_file = tmp_path / "input.json"
    input_file.write_text(json.dumps(row[1], ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(app, ["eval", "--input", str(input_file), "--bundle", str(BUNDLE)])
    assert result.exit_code == 0, result.output
    decision = json.loads(result.output)
    assert decision["allow"] is False
    assert decision["reasons"] == row[2]["reasons_exact"]


def test_check_fails_on_a_broken_bundle(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", "--bundle", str(tmp_path)])
    assert result.exit_code == 2
    assert "expected a .manifest" in result.output


def test_test_fails_when_a_rego_test_fails(bundle_copy: Path) -> None:
    (bundle_copy / "aidbridge" / "zz_test.rego").write_text(
        "package aidbridge.zz_test\n\nimport rego.v1\n\ntest_broken if 1 == 2\n", encoding="utf-8"
    )
    result = runner.invoke(app, ["test", "--bundle", str(bundle_copy)])
    assert result.exit_code == 1
    assert "FAIL aidbridge.zz_test.test_broken" in result.output
