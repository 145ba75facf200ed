"""The person's access report ("who received my data") through a real gateway: it lists exactly
the releases the test made of one person's data (not another person's, not a refused pull),
the withdrawal and the deletion attestation, each line checked here against the ledger rows
and its inclusion proof in the signed checkpoint; `aidbridge audit report --html` writes a
self-contained page that parses and shows every line."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path

import grpc
import pytest
from sqlalchemy import text

from aidbridge.v1 import audit_pb2, consents_pb2
from gateway.ledger.checkpoint import open_checkpoint
from gateway.ledger.rfc9162 import leaf_hash, verify_inclusion
from gateway.workdir import init_workdir
from tests.conftest import fresh_postgres_url, start_gateway
from tests.e2e.flow import CHARITY_A, CHARITY_B, COMPLIANCE, GOV, adults, pull, refer


@pytest.fixture(params=["sqlite", "postgresql"])
def gw(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    db_url = "" if request.param == "sqlite" else fresh_postgres_url()
    config = init_workdir(tmp_path / "work", db_url=db_url)
    with contextmanager(start_gateway)(config) as running:
        yield running


def _transforms(message, fields: str = "released") -> list[list[str]]:  # type: ignore[no-untyped-def]
    from aidbridge.v1 import common_pb2

    names = {
        common_pb2.TRANSFORM_PLAIN: "TRANSFORM_PLAIN",
        common_pb2.TRANSFORM_PSEUDONYMISE: "TRANSFORM_PSEUDONYMISE",
        common_pb2.TRANSFORM_GENERALISE: "TRANSFORM_GENERALISE",
        common_pb2.TRANSFORM_MASK: "TRANSFORM_MASK",
        common_pb2.TRANSFORM_SCRUB: "TRANSFORM_SCRUB",
    }
    return [[f.field, names[f.transform]] for f in getattr(message, fields)]


class _Lines(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str]] = []
        self.tags: set[str] = set()
        self.urls: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        values = dict(attrs)
        if tag == "tr" and values.get("class") == "line":
            self.rows.append({k: v or "" for k, v in values.items()})
        for name in ("src", "href"):
            if values.get(name):
                self.urls.append(str(values[name]))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_access_report_lists_exactly_the_releases_made(gw, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gov, charity_a, charity_b = gw.client(GOV), gw.client(CHARITY_A), gw.client(CHARITY_B)
    person, other = adults(2, seed=11)
    to_a = refer(gov, person, tag="ra")
    to_b = refer(gov, person, tag="rb", recipient=CHARITY_B)
    other_ref = refer(gov, other, tag="ro")
    made = [  # (org, released fields) in the order the releases happened
        (CHARITY_A, _transforms(pull(charity_a, to_a.referral_id))),
        (CHARITY_B, _transforms(pull(charity_b, to_b.referral_id))),
        (CHARITY_A, _transforms(pull(charity_a, to_a.referral_id))),
    ]
    pull(charity_a, other_ref.referral_id)  # another person's data: not in this report
    gov.consents.WithdrawConsent(
        consents_pb2.WithdrawConsentRequest(
            request_id="wd-a", consent_id=to_a.consent_id, reason="本人撤回"
        )
    )
    with pytest.raises(grpc.RpcError) as refused:  # after withdrawal: refused, nothing released
        pull(charity_a, to_a.referral_id)
    assert refused.value.code() != grpc.StatusCode.OK
    [notice] = charity_a.consents.ListNotifications(
        consents_pb2.ListNotificationsRequest()
    ).notifications
    charity_a.consents.AttestDeletion(
        consents_pb2.AttestDeletionRequest(
            request_id="att-a", notification_id=notice.notification_id, statement="已删除"
        )
    )
    app = gw.app
    app.ledger.drain()

    compliance = gw.client(COMPLIANCE, actor="au-001")
    report = compliance.audit.GetAccessReport(
        audit_pb2.GetAccessReportRequest(resident_id=person.person.resident_id)
    )

    kinds = [line.kind for line in report.lines]
    assert kinds == ["release", "release", "release", "withdrawal", "deletion_attestation"]
    releases = [line for line in report.lines if line.kind == "release"]
    assert [(line.org, _transforms(line, "fields")) for line in releases] == made
    assert [line.consent_id for line in releases] == [
        to_a.consent_id,
        to_b.consent_id,
        to_a.consent_id,
    ]
    assert all(line.purpose == "charitable_assistance" for line in releases)
    assert releases[0].org_name == "重庆阳光慈善会"
    assert report.lines[3].consent_id == to_a.consent_id and report.lines[3].org == GOV
    assert report.lines[4].consent_id == to_a.consent_id and report.lines[4].org == CHARITY_A

    # Independently of the gateway's report code: each line is the ledger row at its index,
    # and its proof leads to the root of the checkpoint the gateway signed.
    checkpoint = open_checkpoint(report.checkpoint.note, app.vkey)
    with app.store.read() as s:
        stored = dict(
            s.execute(
                text("SELECT idx, entry_json FROM ledger_entries WHERE idx IS NOT NULL")
            ).all()
        )
    subject = report.subject
    about_person = [
        (idx, json.loads(entry))
        for idx, entry in sorted(stored.items())
        if json.loads(entry)["subject"] == subject
    ]
    pulled = [
        idx
        for idx, e in about_person
        if e["method"] == "aidbridge.v1.CaseService/PullCaseSummary" and e["outcome"] == "OK"
    ]
    assert [line.index for line in releases] == pulled
    for line in report.lines:
        assert stored[line.index] == line.entry_json
        assert line.inclusion.tree_size == checkpoint.size
        verify_inclusion(
            leaf_hash(line.entry_json.encode()),
            line.index,
            checkpoint.size,
            [base64.b64decode(h) for h in line.inclusion.hashes],
            checkpoint.root,
        )

    # The printable page, through the CLI, as a caseworker makes it.
    page, out = tmp_path / "report.html", tmp_path / "report.json"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "gateway.cli", "audit", "report"),
            *("--resident-id", person.person.resident_id, "--html", str(page)),
            *("--out", str(out), "--work", str(app.config.work_dir), "--target", gw.target),
            *("--caller", COMPLIANCE, "--actor", "au-001"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=dict(os.environ, COLUMNS="40"),
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(out.read_text(encoding="utf-8"))
    assert [line["index"] for line in document["lines"]] == [line.index for line in report.lines]
    parsed = _Lines()
    parsed.feed(page.read_text(encoding="utf-8"))
    assert [int(row["data-index"]) for row in parsed.rows] == [line.index for line in report.lines]
    assert [row["data-kind"] for row in parsed.rows] == kinds
    shown = "".join(parsed.text)
    assert "谁收到了我的数据" in shown and "重庆阳光慈善会" in shown
    assert person.person.resident_id not in page.read_text(encoding="utf-8")
    assert not parsed.urls and not {"script", "link", "img", "iframe"} & parsed.tags


def test_a_charity_cannot_ask_for_a_persons_access_report(gw) -> None:  # type: ignore[no-untyped-def]
    gov, charity = gw.client(GOV), gw.client(CHARITY_A)
    person = adults(1, seed=12)[0]
    refer(gov, person, tag="deny")
    with pytest.raises(grpc.RpcError) as refused:
        charity.audit.GetAccessReport(
            audit_pb2.GetAccessReportRequest(resident_id=person.person.resident_id)
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    compliance = gw.client(COMPLIANCE, actor="au-001")
    gw.app.ledger.drain()
    denied = compliance.audit.QueryLedger(
        audit_pb2.QueryLedgerRequest(
            method="aidbridge.v1.AuditService/GetAccessReport", outcome="PERMISSION_DENIED"
        )
    )
    assert [e.org for e in denied.entries] == [CHARITY_A]
