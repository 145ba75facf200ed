"""The linkage report through a real gateway, on SQLite and PostgreSQL: its numbers equal counts
computed here, independently, from the raw records; small counts are "<5"; the HTML page parses
and shows each figure; the CLI writes the same figures; a charity may not ask for it."""

from __future__ import annotations

import json
import statistics
import uuid
from collections import Counter
from datetime import datetime
from html.parser import HTMLParser
from typing import ClassVar
from zoneinfo import ZoneInfo

import grpc
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from aidbridge.v1 import cases_pb2, common_pb2, consents_pb2, referrals_pb2, reports_pb2
from aidbridge.v1 import referrals_pb2 as S
from aidbridge.v1 import resources_pb2 as R
from gateway.clock import NS_PER_DAY, FixedClock
from gateway.report.html import format_value
from gateway.services.convert import timestamp
from gateway.store.models import Case, HelpRecord, Referral, ReferralEvent
from tests.conftest import start_gateway
from tests.e2e.flow import CHARITY_A, CHARITY_B, COMPLIANCE, GOV, PURPOSE, adults, consent_message
from tests.referrals.loop import reverse_request

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _month_after(moment: datetime) -> datetime:
    return datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=SHANGHAI)


# The month reported on is the next calendar month: the gateway's clock is fixed inside it, and
# the certificates init issues (valid from now) are valid then. (Named NOV/DEC for readability.)
_PERIOD = _month_after(datetime.now(SHANGHAI))
PERIOD = f"{_PERIOD.year:04d}-{_PERIOD.month:02d}"
NOV_START = int(_PERIOD.timestamp()) * 10**9
DEC_START = int(_month_after(_PERIOD).timestamp()) * 10**9
HOUR = 3600 * 10**9
NOV_10 = NOV_START + 9 * NS_PER_DAY + 10 * HOUR


@pytest.fixture(params=["sqlite", "postgresql"])
def gw(request, tmp_path):
    from gateway.workdir import init_workdir
    from tests.conftest import fresh_postgres_url

    db_url = "" if request.param == "sqlite" else fresh_postgres_url()
    clock = FixedClock(NOV_10)
    work = init_workdir(tmp_path / "work", db_url=db_url)
    for running in start_gateway(work, clock=clock):
        running.clock = clock
        running.work = work
        yield running


def refer(gov, person, tag: str, to_org: str, now_ns: int) -> str:
    case_id = gov.cases.RegisterCase(
        cases_pb2.RegisterCaseRequest(request_id=f"case-{tag}", case=person)
    ).case_id
    consent = gov.consents.RecordConsent(
        consents_pb2.RecordConsentRequest(
            request_id=f"consent-{tag}",
            consent=consent_message(case_id, recipient=to_org, now_ns=now_ns),
        )
    ).consent
    return gov.referrals.CreateReferral(
        referrals_pb2.CreateReferralRequest(
            request_id=f"referral-{tag}",
            case_id=case_id,
            to_org=to_org,
            consent_id=consent.consent_id,
            purpose=PURPOSE,
        )
    ).referral.referral_id


def set_state(charity, referral_id: str, state: int, tag: str) -> None:
    charity.referrals.UpdateReferralState(
        referrals_pb2.UpdateReferralStateRequest(
            request_id=f"{tag}-{referral_id}", referral_id=referral_id, state=state
        )
    )


def add_help(charity, referral_id: str, kind: int, value_fen: int, minutes: int, at_ns: int,
             project_id: str = "") -> None:  # fmt: skip
    charity.referrals.RecordHelp(
        S.RecordHelpRequest(
            request_id=f"help-{uuid.uuid4().hex[:8]}",
            help=S.HelpDelivered(
                referral_id=referral_id, kind=kind, value_fen=value_fen, minutes=minutes,
                delivered_at=timestamp(at_ns), project_id=project_id, description="送米面油",
            ),
        )
    )  # fmt: skip


def add_reverse(gw, charity, office_client, person, tag: str, outcome: str) -> None:
    created = charity.referrals.CreateReverseReferral(
        reverse_request(gw, person, rid=f"rev-{tag}", office=GOV)
    )
    rid = created.reverse_referral_id
    if outcome == "opened":
        office_client.referrals.ReportReverseOutcome(S.ReportReverseOutcomeRequest(
            request_id=f"o-{tag}", reverse_referral_id=rid, state="opened",
            application_id=f"DB-{tag}",
        ))  # fmt: skip
    elif outcome == "closed":
        office_client.referrals.ReportReverseOutcome(S.ReportReverseOutcomeRequest(
            request_id=f"c-{tag}", reverse_referral_id=rid, state="closed",
            close_reason=S.REVERSE_CLOSE_REASON_NOT_ELIGIBLE,
        ))  # fmt: skip


def build_month(gw) -> dict[str, str]:
    """Referrals, help, reverse referrals and projects in and around November 2026."""
    gov, sunshine, harbour = gw.client(GOV), gw.client(CHARITY_A), gw.client(CHARITY_B)
    people = adults(10, seed=31)
    gw.clock.set(NOV_START - 3 * NS_PER_DAY)  # October: not in November's report
    october = refer(gov, people[0], "oct", CHARITY_A, gw.clock.now_ns())
    gw.clock.set(NOV_10)
    ids = [refer(gov, p, f"n{i}", CHARITY_A, NOV_10) for i, p in enumerate(people[1:7])]
    lone = refer(gov, people[7], "b", CHARITY_B, NOV_10)  # two referrals to harbour: "<5"
    turned_down = refer(gov, people[9], "b2", CHARITY_B, NOV_10)
    harbour.referrals.UpdateReferralState(referrals_pb2.UpdateReferralStateRequest(
        request_id="reject-nov", referral_id=turned_down,
        state=referrals_pb2.REFERRAL_STATE_REJECTED,
        rejection_reason=referrals_pb2.REJECTION_REASON_NO_CAPACITY,
    ))  # fmt: skip
    project = sunshine.resources.PublishProject(R.PublishProjectRequest(
        request_id="proj", project=R.Project(
            name="冬季送温暖", services=[common_pb2.HELP_KIND_MATERIAL], streets=["观音桥街道"],
            capacity=30, capacity_remaining=30, starts_at=timestamp(NOV_START),
            ends_at=timestamp(NOV_START + 120 * NS_PER_DAY),
        ),
    ))  # fmt: skip
    for i, rid in enumerate(ids):  # accepted after 2, 4, 6, 8, 10, 12 hours
        gw.clock.set(NOV_10 + 2 * (i + 1) * HOUR)
        set_state(sunshine, rid, referrals_pb2.REFERRAL_STATE_ACCEPTED, "accept")
    gw.clock.set(NOV_10 + 31 * HOUR)
    material, visits = common_pb2.HELP_KIND_MATERIAL, common_pb2.HELP_KIND_VISITS_AND_CARE
    for i, rid in enumerate(ids[:5]):
        add_help(sunshine, rid, material, 20_000 + 1_000 * i, 0, NOV_10 + 30 * HOUR,
                 project.project_id)  # fmt: skip
    add_help(sunshine, ids[0], visits, 0, 90, NOV_10 + 31 * HOUR)
    for i, rid in enumerate(ids[:5]):  # completed after 1, 2, 3, 4, 5 days
        gw.clock.set(NOV_10 + (i + 1) * NS_PER_DAY)
        set_state(sunshine, rid, referrals_pb2.REFERRAL_STATE_COMPLETED, "complete")
    gw.clock.set(NOV_10 + 6 * NS_PER_DAY)
    sunshine.resources.PublishProject(R.PublishProjectRequest(
        request_id="proj-upd", project=R.Project(
            project_id=project.project_id, name="冬季送温暖",
            services=[common_pb2.HELP_KIND_MATERIAL], streets=["观音桥街道"], capacity=30,
            capacity_remaining=24, starts_at=timestamp(NOV_START),
            ends_at=timestamp(NOV_START + 120 * NS_PER_DAY),
        ),
    ))  # fmt: skip
    add_reverse(gw, sunshine, gov, people[8], "opened", "opened")
    add_reverse(gw, harbour, gov, people[1], "closed", "closed")
    gw.clock.set(DEC_START + 2 * HOUR)  # December: after the period's end
    add_help(sunshine, ids[5], material, 50_000, 0, DEC_START + HOUR)
    set_state(sunshine, ids[5], referrals_pb2.REFERRAL_STATE_COMPLETED, "late")
    harbour.referrals.UpdateReferralState(referrals_pb2.UpdateReferralStateRequest(
        request_id="reject", referral_id=lone, state=referrals_pb2.REFERRAL_STATE_REJECTED,
        rejection_reason=referrals_pb2.REJECTION_REASON_NO_CAPACITY,
    ))  # fmt: skip
    add_reverse(gw, sunshine, gov, people[2], "december", "")
    return {"october": october, "project": project.project_id}


def shown(n: int):
    return "<5" if 0 < n < 5 else n


def expected_from_raw_records(gw) -> dict:
    """The figures, counted here from the rows, not by the report's code."""
    with gw.app.store.read() as s:
        refs = s.execute(
            select(Referral.referral_id, Referral.to_org, Referral.created_at_ns, Case.street).join(
                Case, Case.case_id == Referral.case_id
            )
        ).all()
        events = s.execute(select(ReferralEvent.referral_id, ReferralEvent.state,
                                  ReferralEvent.at_ns, ReferralEvent.id)).all()  # fmt: skip
        help_rows = s.execute(select(HelpRecord.kind, HelpRecord.amount_fen, HelpRecord.minutes,
                                     HelpRecord.delivered_at_ns)).all()  # fmt: skip
    in_nov = [r for r in refs if NOV_START <= r.created_at_ns < DEC_START]
    state_at_end, accept_h, complete_h = {}, [], []
    for r in in_nov:
        mine = sorted((e.at_ns, e.id, e.state) for e in events
                      if e.referral_id == r.referral_id and e.at_ns < DEC_START)  # fmt: skip
        state_at_end[r.referral_id] = mine[-1][2]
        for state, bucket in (("accepted", accept_h), ("completed", complete_h)):
            first = next((at for at, _, st in mine if st == state), None)
            if first is not None:
                bucket.append((first - r.created_at_ns) / HOUR)
    nov_help = [h for h in help_rows if NOV_START <= h.delivered_at_ns < DEC_START]
    material = [h for h in nov_help if h.kind == "material"]
    return {
        "total": shown(len(in_nov)),
        "by_state": {k: shown(v) for k, v in Counter(state_at_end.values()).items()},
        "by_street": {k: shown(v) for k, v in Counter(r.street for r in in_nov).items()},
        "by_charity": {k: shown(v) for k, v in Counter(r.to_org for r in in_nov).items()},
        "median_accept": round(statistics.median(accept_h), 1),
        "median_complete": round(statistics.median(complete_h), 1),
        "help_records": shown(len(nov_help)),
        "material": (shown(len(material)), sum(h.amount_fen for h in material) / 100),
        "visits": shown(len([h for h in nov_help if h.kind == "visits_and_care"])),
    }


class Figures(HTMLParser):
    """Every element marked data-figure, with its text; fails on a page that does not nest."""

    VOID: ClassVar[set[str]] = {"meta", "br", "img", "input", "link", "hr", "rect", "path"}

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, str] = {}
        self.stack: list[tuple[str, str | None]] = []
        self.text: list[str] = []
        self.svgs = 0

    def handle_starttag(self, tag, attrs):
        self.svgs += tag == "svg"
        if tag not in self.VOID:
            self.stack.append((tag, dict(attrs).get("data-figure")))
            self.text = []

    def handle_startendtag(self, tag, attrs):
        pass

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        opened, figure = self.stack.pop()
        assert opened == tag, f"</{tag}> closes <{opened}>"
        if figure:
            self.figures[figure] = "".join(self.text)

    def handle_data(self, data):
        self.text.append(data)


def test_report_numbers_equal_counts_from_the_raw_records_and_the_page_shows_them(gw):
    build_month(gw)
    response = gw.client(COMPLIANCE).reports.GetLinkageReport(
        reports_pb2.GetLinkageReportRequest(period=PERIOD)
    )
    report = json.loads(response.json)
    want = expected_from_raw_records(gw)
    referrals = report["referrals"]

    assert referrals["total"] == want["total"] == 8
    assert referrals["by_state"] == want["by_state"] == {
        "completed": 5, "accepted": "<5", "rejected": "<5", "requested": "<5"
    }  # fmt: skip
    assert referrals["by_street"] == want["by_street"]
    # One rejection in the month (the other came in December): its structured reason.
    assert referrals["rejections_by_reason"] == {"no_capacity": "<5"}
    assert {k: v["referrals"] for k, v in referrals["by_charity"].items()} == want["by_charity"]
    assert referrals["by_charity"][CHARITY_B] == {"name": "江北港湾公益基金会", "referrals": "<5"}
    assert referrals["median_hours_to_accept"] == want["median_accept"] == 7.0
    assert referrals["median_hours_to_complete"] == want["median_complete"] == 72.0
    assert report["help"]["total"]["records"] == want["help_records"] == 6
    material = report["help"]["by_kind"]["material"]
    assert (material["records"], material["amount_yuan"]) == want["material"] == (5, 1100.0)
    visits = report["help"]["by_kind"]["visits_and_care"]
    assert visits == {"records": want["visits"], "amount_yuan": None, "hours": None}
    assert report["reverse_referrals"]["total"] == "<5"
    assert report["reverse_referrals"]["by_outcome"] == {"closed:not_eligible": "<5",
                                                         "opened": "<5"}  # fmt: skip
    assert report["reverse_referrals"]["by_suspected_aid"] == {"minimum_living": "<5"}
    (project,) = report["projects"]
    assert (project["capacity_total"], project["capacity_remaining"]) == (30, 24)
    assert project["capacity_used"] == 6 and project["help_records"] == 5
    # Nothing about a person or a case is in the report.
    for needle in ("case-", "ref-", "rr-", "consent"):
        assert needle not in response.json

    page = Figures()
    page.feed(response.html)
    page.close()
    assert page.stack == [] and page.svgs >= 5
    assert "<script" not in response.html and "http://" not in response.html.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    assert "转介总数" in response.html and "江北港湾公益基金会" in response.html
    expected_figures = {
        "referrals.total": referrals["total"],
        "referrals.median_hours_to_accept": referrals["median_hours_to_accept"],
        "referrals.median_hours_to_complete": referrals["median_hours_to_complete"],
        "help.total.records": report["help"]["total"]["records"],
        "help.total.amount_yuan": report["help"]["total"]["amount_yuan"],
        "help.by_kind.material.amount_yuan": material["amount_yuan"],
        "help.by_kind.visits_and_care.hours": None,
        "reverse_referrals.total": "<5",
        f"projects.{project['project_id']}.capacity_used": 6,
        **{f"referrals.by_state.{k}": v for k, v in referrals["by_state"].items()},
        "referrals.rejections_by_reason.no_capacity": "<5",
        **{f"referrals.by_street.{k}": v for k, v in referrals["by_street"].items()},
        **{f"referrals.by_charity.{k}.referrals": v["referrals"]
           for k, v in referrals["by_charity"].items()},
    }  # fmt: skip
    for path, value in expected_figures.items():
        assert page.figures.get(path) == format_value(value), path


def test_a_street_office_sees_its_streets_and_a_charity_is_refused(gw):
    build_month(gw)
    office = gw.client("jb-guanyinqiao-office").reports.GetLinkageReport(
        reports_pb2.GetLinkageReportRequest(period=PERIOD)
    )
    report = json.loads(office.json)
    assert list(office.streets) == ["观音桥街道"]
    assert set(report["referrals"]["by_street"]) <= {"观音桥街道"}
    assert report["reverse_referrals"]["total"] == 0  # none was sent to this office
    for org, period, code in (
        (CHARITY_A, PERIOD, grpc.StatusCode.PERMISSION_DENIED),
        (COMPLIANCE, "2026-13", grpc.StatusCode.INVALID_ARGUMENT),
        (COMPLIANCE, "November", grpc.StatusCode.INVALID_ARGUMENT),
    ):
        with pytest.raises(grpc.RpcError) as info:
            gw.client(org).reports.GetLinkageReport(
                reports_pb2.GetLinkageReportRequest(period=period)
            )
        assert info.value.code() == code


def test_the_cli_writes_the_same_figures_and_ledgers_the_run(gw, tmp_path):
    from gateway.cli import app
    from gateway.store.models import LedgerEntry

    build_month(gw)
    result = CliRunner().invoke(
        app, ["report", "--work", str(gw.work.work_dir), "--period", PERIOD,
              "--out", str(tmp_path / "out")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    written = json.loads((tmp_path / "out" / f"linkage-{PERIOD}.json").read_text(encoding="utf-8"))
    rpc = json.loads(gw.client(COMPLIANCE).reports.GetLinkageReport(
        reports_pb2.GetLinkageReportRequest(period=PERIOD)).json)  # fmt: skip
    for key in ("referrals", "help", "reverse_referrals", "projects"):
        assert written[key] == rpc[key], key
    page = (tmp_path / "out" / f"linkage-{PERIOD}.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and 'charset="utf-8"' in page
    with gw.app.store.read() as s:
        methods = s.scalars(select(LedgerEntry.method)).all()
    assert "aidbridge.system/ProduceLinkageReport" in methods
    bad = CliRunner().invoke(app, ["report", "--work", str(gw.work.work_dir), "--period", "11"])
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output
    office = CliRunner().invoke(
        app, ["report", "--work", str(gw.work.work_dir), "--period", PERIOD,
              "--out", str(tmp_path / "out"), "--office", "jb-guanyinqiao-office"],
    )  # fmt: skip
    assert office.exit_code == 0, office.output
    scoped = json.loads(
        (tmp_path / "out" / f"linkage-{PERIOD}-jb-guanyinqiao-office.json").read_text("utf-8")
    )
    assert scoped["scope"]["streets"] == ["观音桥街道"]
    assert scoped["reverse_referrals"]["total"] == 0
    wrong = CliRunner().invoke(
        app, ["report", "--work", str(gw.work.work_dir), "--period", PERIOD,
              "--office", "charity-sunshine"],
    )  # fmt: skip
    assert wrong.exit_code == 2 and "not a government office" in wrong.output
