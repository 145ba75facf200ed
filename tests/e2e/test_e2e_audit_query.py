"""`aidbridge audit query` against a real gateway: filters by person (resident id → ledger
pseudonym), organisation and method, pages followed to the end, JSON lines, inclusion proofs
that verify against the signed checkpoint, a table that does not depend on the terminal's
width, and clear errors for bad options."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.ledger.checkpoint import open_checkpoint
from gateway.ledger.rfc9162 import leaf_hash, verify_inclusion
from gateway.store.models import LedgerEntry
from gateway.workdir import init_workdir
from tests.conftest import fresh_postgres_url, start_gateway
from tests.e2e.flow import CHARITY_A, COMPLIANCE, GOV, adults, pull, refer

PULL = "aidbridge.v1.CaseService/PullCaseSummary"


@pytest.fixture(params=["sqlite", "postgresql"])
def gw(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    db_url = "" if request.param == "sqlite" else fresh_postgres_url()
    config = init_workdir(tmp_path / "work", db_url=db_url)
    with contextmanager(start_gateway)(config) as running:
        yield running


def _query(gw, *args: str, columns: str = "300") -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run(
        [
            *(sys.executable, "-m", "gateway.cli", "audit", "query"),
            *("--work", str(gw.app.config.work_dir), "--target", gw.target),
            *("--caller", COMPLIANCE, "--actor", "au-001", *args),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=dict(os.environ, COLUMNS=columns),
    )


def _json_lines(done: subprocess.CompletedProcess[str]) -> list[dict]:  # type: ignore[type-arg]
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_audit_query_by_person_organisation_and_method(gw) -> None:  # type: ignore[no-untyped-def]
    gov, charity = gw.client(GOV), gw.client(CHARITY_A)
    person, other = adults(2, seed=21)
    mine = refer(gov, person, tag="qa")
    theirs = refer(gov, other, tag="qb")
    pull(charity, mine.referral_id)
    pull(charity, mine.referral_id)
    pull(charity, theirs.referral_id)
    app = gw.app
    app.ledger.drain()
    subject = app.ledger_subject(person.person.resident_id)
    with app.store.read() as s:
        expected = s.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.subject == subject)
        )

    about = _json_lines(_query(gw, "--resident-id", person.person.resident_id, "--json"))
    assert len(about) == expected == 5  # case, consent, referral, two pulls
    assert {row["subject"] for row in about} == {subject}
    assert [row["method"] for row in about].count(PULL) == 2

    paged = _json_lines(
        _query(gw, "--org", CHARITY_A, "--method", PULL, "--page-size", "1", "--all", "--json")
    )
    assert len(paged) == 3 and {row["org"] for row in paged} == {CHARITY_A}
    first_page = _query(gw, "--org", CHARITY_A, "--method", PULL, "--page-size", "1", "--json")
    assert len(_json_lines(first_page)) == 1
    assert "next page: --page-token" in first_page.stderr

    proved = _json_lines(
        _query(gw, "--resident-id", person.person.resident_id, "--proofs", "--json")
    )
    for row in proved:
        inclusion = row["inclusion"]
        checkpoint = open_checkpoint(inclusion["checkpoint"], app.vkey)
        assert inclusion["tree_size"] == checkpoint.size
        verify_inclusion(
            leaf_hash(row["entry_json"].encode()),
            row["index"],
            checkpoint.size,
            [base64.b64decode(h) for h in inclusion["hashes"]],
            checkpoint.root,
        )

    # The tree grows with every query (each is ledgered), so compare the table without proofs.
    narrow = _query(gw, "--resident-id", person.person.resident_id, columns="20")
    wide = _query(gw, "--resident-id", person.person.resident_id, columns="300")
    assert narrow.returncode == wide.returncode == 0, narrow.stderr
    assert narrow.stdout == wide.stdout
    header, *table = narrow.stdout.splitlines()
    assert header.split() == ["INDEX", "AT", "ORG", "ACTOR", "METHOD", "OUTCOME", "SUBJECT"]
    assert len(table) == 5
    with_proofs = _query(gw, "--resident-id", person.person.resident_id, "--proofs")
    header, *table = with_proofs.stdout.splitlines()
    assert header.split()[-1] == "PROOF"
    assert all(" hashes to size " in line for line in table)
    assert "5 entries" in narrow.stderr


def test_audit_query_refuses_bad_options_naming_them(gw) -> None:  # type: ignore[no-untyped-def]
    since = _query(gw, "--since", "yesterday")
    assert since.returncode == 1 and "--since" in since.stderr
    outcome = _query(gw, "--outcome", "bogus status")
    assert outcome.returncode == 1
    assert "INVALID_ARGUMENT" in outcome.stderr and "outcome" in outcome.stderr
    size = _query(gw, "--page-size", "501")
    assert size.returncode == 1 and "page_size" in size.stderr
    proofs = _query(gw, "--page-size", "101", "--proofs")
    assert proofs.returncode == 1 and "at most 100 with with_proofs" in proofs.stderr
