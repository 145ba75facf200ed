"""`aidbridge audit export` and `aidbridge audit verify BUNDLE` as an officer uses them: export
from a real work directory, verify with the pinned key and a trusted checkpoint on the bundle
alone, and a tampered bundle refused with the check and the entry named."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import app as cli
from gateway.config import Config

from .test_ledger_cli import Officer

runner = CliRunner()


@pytest.fixture
def officer(work: Config) -> Iterator[Officer]:
    o = Officer(work)
    yield o
    o.store.dispose()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(cli, list(args))
    return result.exit_code, " ".join(result.output.split())


def test_export_then_verify_the_bundle_alone(officer: Officer, tmp_path: Path) -> None:
    work = str(officer.config.work_dir)
    officer.queue(4)
    officer.ledger.integrate()
    trusted = tmp_path / "trusted.txt"
    assert _run("audit", "checkpoint", "--work", work, "--out", str(trusted))[0] == 0
    officer.queue(6)
    officer.ledger.integrate()
    bundle = tmp_path / "ledger.bundle"
    code, out = _run("audit", "export", str(bundle), "--work", work, "--from", "2", "--to", "9")
    assert code == 0, out
    assert f"entries 2–9 of the checkpoint of 11 written to {bundle}" in out

    vkey = officer.config.vkey_path
    code, out = _run(
        "audit", "verify", str(bundle), "--vkey", str(vkey), "--trusted-checkpoint", str(trusted)
    )
    assert code == 0, out
    assert "bundle verified: entries 2–9 of a tree of 11" in out
    assert "extends the trusted checkpoint of 5 entries" in out and "NOT pinned" not in out

    code, out = _run("audit", "verify", str(bundle))
    assert code == 0 and "NOT pinned" in out

    # Entry 0 is init's key creation; entry 5 is the fifth queued call.
    lines = bundle.read_bytes().split(b"\n")
    lines[2 + 5] = lines[2 + 5].replace(b"caseworker-0004", b"caseworker-0400")
    bundle.write_bytes(b"\n".join(lines))
    code, out = _run("audit", "verify", str(bundle), "--vkey", str(vkey))
    assert code == 1
    assert "bundle NOT verified: check 'leaf' failed at entry 5" in out


def test_export_outside_the_checkpoint_is_refused(officer: Officer, tmp_path: Path) -> None:
    officer.queue(3)
    officer.ledger.integrate()
    out_file = tmp_path / "x.bundle"
    code, out = _run(
        "audit", "export", str(out_file), "--work", str(officer.config.work_dir), "--to", "9"
    )
    assert code == 1 and "to_index" in out
    assert not out_file.exists()


def test_witness_without_a_bundle_is_refused(officer: Officer) -> None:
    code, out = _run("audit", "verify", "--work", str(officer.config.work_dir), "--witness", "w")
    assert code == 1 and "--witness needs a BUNDLE" in out
