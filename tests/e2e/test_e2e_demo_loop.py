"""`aidbridge demo` shows the loop closing: capacity asked with no identifier, matching, refer →
accept → help recorded → completed (seen by the office), one reverse referral opened, and all of
it in the month's linkage report."""

from __future__ import annotations

from typer.testing import CliRunner

from gateway.cli import app as cli


def test_demo_closes_the_loop_and_shows_it_in_the_report(tmp_path):
    result = CliRunner().invoke(cli, ["demo", "--work", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    # Wrapped to any width, the words stay in order: compare with whitespace collapsed.
    said = " ".join(result.output.split())
    assert "can be taken: has-capacity" in said
    assert "Matching inside the gateway" in said
    assert "sees the outcome: requested → accepted → completed; help: material ¥680.00" in said
    assert "the office opened it as application JB-DB-2026-0001" in said
    assert "sees: opened" in said
    assert "The linkage report for" in said and "completed: <5" in said
    assert "ledger verified" in said
