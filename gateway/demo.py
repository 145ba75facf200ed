"""The scripted demonstration: the closed loop between government and charity, end to end.

Charity A publishes a project; a government office asks, with no identifier, whether it has
capacity, registers a synthetic person in hardship and lets the gateway match the case to
projects inside itself; records the person's consent naming charity A and refers the case;
charity A lists its referrals and pulls the summary; charity B tries the same case and is
refused; charity A accepts, records the help it gave and completes the referral, and the
office sees the outcome; charity A refers another person back to the government, which opens
it as an application; a compliance officer reads the month's linkage report, then queries the
ledger and verifies it. Everything runs for real: mutual TLS, the Rego policy, pseudonyms, the
ledger.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from datetime import date
from pathlib import Path

import grpc
from google.protobuf.json_format import MessageToDict
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from aidbridge.v1 import (
    audit_pb2,
    cases_pb2,
    common_pb2,
    consents_pb2,
    referrals_pb2,
    reports_pb2,
    resources_pb2,
)
from gateway.app import Gateway
from gateway.cases import age_on
from gateway.client import Client
from gateway.clock import NS_PER_DAY, SystemClock, to_date
from gateway.config import load_config
from gateway.ledger import log as ledger_log
from gateway.server import BackgroundServer
from gateway.services import convert
from gateway.synthetic import synthetic_cases
from gateway.workdir import init_workdir

GOVERNMENT = "jb-civil-affairs"
CHARITY_A = "charity-sunshine"
CHARITY_B = "charity-harbour"
COMPLIANCE = "jb-supervision"
PURPOSE = "charitable_assistance"
CONSENTED_FIELDS = (
    "birth_date",
    "sex",
    "street",
    "household_size",
    "hardship_types",
    "special_groups",
    "severity",
    "needs",
    "health_condition",
    "narrative",
)
CONSENTED_CATEGORIES = ("demographics", "hardship", "health", "narrative")
NOTICE_TEXT = "江北区社会救助与慈善帮扶衔接 个人信息处理告知书 v1"


def pick_adult(seed: int) -> cases_pb2.Case:
    today = date.today()
    for case in synthetic_cases(50, seed=seed):
        age = age_on(case.person.birth_date, today)
        if 18 <= age < 80 and not case.lacks_capacity and case.health_condition:
            return case
    raise RuntimeError("no suitable synthetic adult in the first 50 people")


def run_demo(
    work_dir: Path | None = None, *, seed: int = 2026, console: Console | None = None
) -> int:
    console = console or Console()
    tmp = None
    if work_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="aidbridge-demo-")
        work_dir = Path(tmp.name)
    try:
        return _run(work_dir, seed, console)
    finally:
        if tmp is not None:
            tmp.cleanup()


def _run(work_dir: Path, seed: int, console: Console) -> int:
    console.rule("[bold]AidBridge demo")
    if not (work_dir / "keys" / "master.key").exists():
        init_workdir(work_dir)
        console.print(
            f"Working directory [cyan]{escape(str(work_dir))}[/]: development CA, certificates for "
            "5 organisations, master key, policy bundle, SQLite database."
        )
    app = Gateway.open(load_config(work_dir), clock=SystemClock())
    certs = app.config.certs_dir
    with BackgroundServer(app) as port:
        target = f"127.0.0.1:{port}"
        console.print(
            f"Gateway serving over mutual TLS on {target} "
            f"(policy revision {app.engine.revision}).\n"
        )
        gov = Client.connect(target, certs, GOVERNMENT, "caseworker-017")
        charity_a = Client.connect(target, certs, CHARITY_A, "volunteer-a03")
        charity_b = Client.connect(target, certs, CHARITY_B, "volunteer-b11")
        officer = Client.connect(target, certs, COMPLIANCE, "inspector-002")
        try:
            person = pick_adult(seed)
            now = time.time_ns()
            project = _publish_project(charity_a, person, now)
            _ask_capacity(console, gov, person, project)
            registered = gov.cases.RegisterCase(
                cases_pb2.RegisterCaseRequest(request_id="demo-case-1", case=person)
            )
            _match(console, gov, registered.case_id)
            consent = gov.consents.RecordConsent(
                consents_pb2.RecordConsentRequest(
                    request_id="demo-consent-1",
                    consent=consents_pb2.Consent(
                        case_id=registered.case_id,
                        grantor=consents_pb2.Grantor(
                            kind=consents_pb2.GRANTOR_KIND_SUBJECT, name=person.person.name
                        ),
                        recipient_org=CHARITY_A,
                        purpose=PURPOSE,
                        categories=list(CONSENTED_CATEGORIES),
                        fields=list(CONSENTED_FIELDS),
                        access_mode=consents_pb2.ACCESS_MODE_VIEW,
                        valid_from=convert.timestamp(now - 60 * 10**9),
                        valid_until=convert.timestamp(now + 180 * NS_PER_DAY),
                        retention_days=90,
                        notice=consents_pb2.Notice(
                            version="v1", sha256=hashlib.sha256(NOTICE_TEXT.encode()).hexdigest()
                        ),
                        evidence=consents_pb2.Evidence(
                            form_sha256=hashlib.sha256(b"signed-form-demo").hexdigest(),
                            witness="社区工作人员 王老师",
                        ),
                    ),
                )
            ).consent
            referral = gov.referrals.CreateReferral(
                referrals_pb2.CreateReferralRequest(
                    request_id="demo-referral-1",
                    case_id=registered.case_id,
                    to_org=CHARITY_A,
                    consent_id=consent.consent_id,
                    purpose=PURPOSE,
                    note=f"{person.person.name}家中困难，请尽快联系，电话{person.person.phone}。",
                )
            ).referral
            console.print(
                f"1. {GOVERNMENT} registered case {registered.case_id}, recorded consent "
                f"{consent.consent_id} naming {CHARITY_A} for {PURPOSE}, and referred it "
                f"({referral.referral_id})."
            )
            listed = charity_a.referrals.ListReferrals(referrals_pb2.ListReferralsRequest())
            console.print(
                f"2. {CHARITY_A} lists its referrals: {len(listed.referrals)} "
                + escape(
                    f"(subject {listed.referrals[0].subject}, note: {listed.referrals[0].note})"
                )
            )
            summary = charity_a.cases.PullCaseSummary(
                cases_pb2.PullCaseSummaryRequest(referral_id=referral.referral_id, purpose=PURPOSE)
            )
            console.print(f"3. {CHARITY_A} pulled the case summary.\n")
            _show_side_by_side(
                console,
                gov.cases.GetCase(cases_pb2.GetCaseRequest(case_id=registered.case_id)),
                summary,
            )
            try:
                charity_b.cases.PullCaseSummary(
                    cases_pb2.PullCaseSummaryRequest(
                        referral_id=referral.referral_id, purpose=PURPOSE
                    )
                )
                console.print("[red]charity B was NOT refused: this is a defect[/]")
                return 1
            except grpc.RpcError as err:
                console.print(
                    Panel(
                        escape(f"{err.code().name}: {err.details()}"),
                        title=f"4. {CHARITY_B} tries the same case: refused",
                        border_style="red",
                    )
                )
            _close_the_loop(console, gov, charity_a, referral.referral_id, project, now)
            _refer_back(console, gov, charity_a, seed, now)
            if not _show_report(console, officer, now):
                return 1
            app.ledger.integrate()
            entries = officer.audit.QueryLedger(
                audit_pb2.QueryLedgerRequest(subject_resident_id=person.person.resident_id)
            ).entries
            _show_ledger(console, entries)
            verified = officer.audit.VerifyLedger(audit_pb2.VerifyLedgerRequest())
            offline = ledger_log.verify(app.store, app.vkey, app.ledger.authenticator)
            if not (verified.ok and offline.ok):
                console.print(
                    "[red]ledger verification failed:[/] "
                    + escape(f"{list(verified.problems)} {offline.problems}")
                )
                return 1
            console.print(
                f"\n9. {COMPLIANCE} verified the ledger: {verified.tree_size} entries, "
                f"root {verified.root_hash}"
            )
            console.print("[bold green]ledger verified[/]")
        finally:
            for client in (gov, charity_a, charity_b, officer):
                client.close()
    app.close()
    console.print("Gateway stopped.")
    return 0


def _publish_project(charity: Client, person: cases_pb2.Case, now: int) -> resources_pb2.Project:
    needs = list(person.needs) or [common_pb2.HELP_KIND_MATERIAL]
    return charity.resources.PublishProject(
        resources_pb2.PublishProjectRequest(
            request_id="demo-project-1",
            project=resources_pb2.Project(
                name="冬季送温暖·困难家庭帮扶",
                description="米面油、棉被和入户探访",
                services=[*needs, common_pb2.HELP_KIND_VISITS_AND_CARE],
                streets=[person.person.street],
                capacity=30,
                capacity_remaining=30,
                starts_at=convert.timestamp(now - NS_PER_DAY),
                ends_at=convert.timestamp(now + 120 * NS_PER_DAY),
            ),
        )
    )


def _ask_capacity(
    console: Console, gov: Client, person: cases_pb2.Case, project: resources_pb2.Project
) -> None:
    answer = gov.resources.QueryCapacity(
        resources_pb2.QueryCapacityRequest(
            services=list(project.services[:1]), street=person.person.street
        )
    )
    status = resources_pb2.CapacityStatus.Name(answer.status).removeprefix("CAPACITY_STATUS_")
    console.print(
        f"0. {CHARITY_A} published project {project.project_id} ({escape(project.name)}, "
        f"{project.capacity_remaining} places on {project.streets[0]}). {GOVERNMENT} asks, with "
        f"no identifier, whether a case of that kind on that street can be taken: "
        f"[bold]{status.lower().replace('_', '-')}[/]."
    )


def _match(console: Console, gov: Client, case_id: str) -> None:
    matches = gov.resources.MatchCharities(resources_pb2.MatchCharitiesRequest(case_id=case_id))
    table = Table(title="Matching inside the gateway: projects and reasons only, no personal data")
    for column in ("rank", "charity", "project", "score", "reasons"):
        table.add_column(column, overflow="fold")
    for m in matches.matches:
        table.add_row(str(m.rank), m.org_id, m.project_name, f"{m.score:.0f}", "; ".join(m.reasons))
    console.print(table)


def _close_the_loop(
    console: Console,
    gov: Client,
    charity: Client,
    referral_id: str,
    project: resources_pb2.Project,
    now: int,
) -> None:
    def move(state: int, tag: str) -> None:
        charity.referrals.UpdateReferralState(
            referrals_pb2.UpdateReferralStateRequest(
                request_id=f"demo-{tag}", referral_id=referral_id, state=state
            )
        )

    move(referrals_pb2.REFERRAL_STATE_ACCEPTED, "accept")
    time.sleep(1.1)  # help is delivered after the referral was made, and not in the future
    for tag, kind, fen, minutes in (
        ("goods", common_pb2.HELP_KIND_MATERIAL, 68_000, 0),
        ("visit", common_pb2.HELP_KIND_VISITS_AND_CARE, 0, 120),
    ):
        charity.referrals.RecordHelp(
            referrals_pb2.RecordHelpRequest(
                request_id=f"demo-help-{tag}",
                help=referrals_pb2.HelpDelivered(
                    referral_id=referral_id,
                    kind=kind,
                    value_fen=fen,
                    minutes=minutes,
                    delivered_at=convert.timestamp(time.time_ns() - 10**9),
                    project_id=project.project_id,
                    description="入户送去米面油和棉被" if fen else "入户探访，了解近况",
                ),
            )
        )
    move(referrals_pb2.REFERRAL_STATE_COMPLETED, "complete")
    taken = resources_pb2.Project()
    taken.CopyFrom(project)
    taken.capacity_remaining = project.capacity_remaining - 1  # the place this case took
    taken.ClearField("updated_at")
    charity.resources.PublishProject(
        resources_pb2.PublishProjectRequest(request_id="demo-project-place", project=taken)
    )
    seen = gov.referrals.GetReferral(referrals_pb2.GetReferralRequest(referral_id=referral_id))
    states = " → ".join(
        referrals_pb2.ReferralState.Name(e.state).removeprefix("REFERRAL_STATE_").lower()
        for e in seen.events
    )
    help_given = ", ".join(
        common_pb2.HelpKind.Name(h.kind).removeprefix("HELP_KIND_").lower()
        + (f" ¥{h.value_fen / 100:.2f}" if h.value_fen else f" {h.minutes} min")
        for h in seen.help
    )
    console.print(
        f"\n5. {CHARITY_A} accepted, recorded the help it gave and completed the referral; "
        f"{GOVERNMENT} sees the outcome: {states}; help: {help_given}."
    )


def _refer_back(console: Console, gov: Client, charity: Client, seed: int, now: int) -> None:
    person = next(
        c for c in synthetic_cases(80, seed=seed + 1) if not c.lacks_capacity and c.person.name
    )
    created = charity.referrals.CreateReverseReferral(
        referrals_pb2.CreateReverseReferralRequest(
            request_id="demo-reverse-1",
            referral=referrals_pb2.ReverseReferral(
                to_office=GOVERNMENT,
                subject_name=person.person.name,
                subject_resident_id=person.person.resident_id,
                subject_phone=person.person.phone,
                street=person.person.street,
                reason="走访中发现家中老人失能、收入低于低保线，尚未申请救助",
                suspected_aid=common_pb2.HARDSHIP_TYPE_MINIMUM_LIVING,
                consent=referrals_pb2.ReverseReferralConsent(
                    grantor=consents_pb2.Grantor(
                        kind=consents_pb2.GRANTOR_KIND_SUBJECT, name=person.person.name
                    ),
                    notice=consents_pb2.Notice(
                        version="rr-v1", sha256=hashlib.sha256(NOTICE_TEXT.encode()).hexdigest()
                    ),
                    evidence=consents_pb2.Evidence(
                        form_sha256=hashlib.sha256(b"reverse-form-demo").hexdigest(),
                        witness="社工 李老师",
                    ),
                    recipient_office=GOVERNMENT,
                    purpose="social_assistance_assessment",
                    valid_from=convert.timestamp(now - 60 * 10**9),
                    valid_until=convert.timestamp(now + 90 * NS_PER_DAY),
                ),
            ),
        )
    )
    gov.referrals.ReportReverseOutcome(
        referrals_pb2.ReportReverseOutcomeRequest(
            request_id="demo-reverse-open",
            reverse_referral_id=created.reverse_referral_id,
            state="opened",
            application_id="JB-DB-2026-0001",
        )
    )
    mine = charity.referrals.ListReverseReferrals(referrals_pb2.ListReverseReferralsRequest())
    outcome = next(
        r for r in mine.referrals if r.reverse_referral_id == created.reverse_referral_id
    )
    console.print(
        f"6. {CHARITY_A} referred a person back to {GOVERNMENT} (may qualify for minimum-living "
        f"aid, with the person's consent naming the office); the office opened it as "
        f"application {outcome.application_id}, and {CHARITY_A} sees: {outcome.state}."
    )


def _show_report(console: Console, officer: Client, now: int) -> bool:
    period = to_date(now).strftime("%Y-%m")
    answer = officer.reports.GetLinkageReport(reports_pb2.GetLinkageReportRequest(period=period))
    report = json.loads(answer.json)
    referrals, help_ = report["referrals"], report["help"]
    table = Table(title=f"7. The linkage report for {period} (counts from 1 to 4 shown as <5)")
    table.add_column("figure")
    table.add_column("value")
    table.add_row("referrals", str(referrals["total"]))
    table.add_row("by state", _pairs(referrals["by_state"]))
    table.add_row(
        "by charity", _pairs({k: v["referrals"] for k, v in referrals["by_charity"].items()})
    )
    table.add_row(
        "help records by kind", _pairs({k: v["records"] for k, v in help_["by_kind"].items()})
    )
    table.add_row("reverse referrals", _pairs(report["reverse_referrals"]["by_state"]))
    table.add_row(
        "projects' capacity used",
        _pairs({p["name"]: p["capacity_used"] for p in report["projects"]}),
    )
    console.print(table)
    ok = (
        "completed" in referrals["by_state"] and "opened" in report["reverse_referrals"]["by_state"]
    )
    console.print(
        f"   The report also comes as a self-contained HTML page ({len(answer.html):,} characters, "
        "inline SVG charts); `aidbridge report --period " + period + "` writes both files."
    )
    if not ok:
        console.print("[red]the completed referral or the reverse referral is not in the report[/]")
    return ok


def _pairs(values: dict[str, object]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in values.items()) or "none"


def _show_side_by_side(
    console: Console, case: cases_pb2.Case, summary: cases_pb2.CaseSummary
) -> None:
    held = MessageToDict(case, preserving_proto_field_name=True)
    person = held.pop("person", {})
    held.pop("registered_at", None)
    gov = Table(title="What the government holds (never leaves the gateway as such)")
    gov.add_column("field", style="yellow")
    gov.add_column("value", overflow="fold")
    for key, value in [*(("person." + k, v) for k, v in person.items()), *held.items()]:
        gov.add_row(key, _pretty(value))
    console.print(gov)

    received = MessageToDict(summary, preserving_proto_field_name=True)
    transforms = {
        r["field"]: r["transform"].removeprefix("TRANSFORM_").lower()
        for r in received.pop("released", [])
    }
    charity = Table(title="What charity A received")
    charity.add_column("field", style="green")
    charity.add_column("value", overflow="fold")
    charity.add_column("released from · transform", style="dim")
    sources = {
        "age_band": "birth_date",
        "area": "street",
        "income_band": "monthly_income",
        "health_category": "health_condition",
        "disability_category": "disability",
    }
    for key, value in received.items():
        source = sources.get(key, key)
        how = f"{source} · {transforms[source]}" if source in transforms else ""
        if key == "subject":
            how = "resident id · pseudonymise (HMAC, this charity's own key)"
        charity.add_row(key, _pretty(value), how)
    console.print(charity)
    absent = ("name", "resident_id", "phone", "address", "monthly_income", "assistance_status")
    console.print(
        "Not in the consent or never released to a charity, so absent (not blank): "
        + ", ".join(absent)
        + "\n"
    )


def _show_ledger(console: Console, entries: list[audit_pb2.LedgerEntry]) -> None:
    table = Table(title="8. The compliance officer's ledger query for this person")
    for column in ("index", "org", "actor", "method", "outcome"):
        table.add_column(column)
    for e in entries:
        table.add_row(str(e.index), e.org, e.actor, e.method.split("/")[-1], e.outcome)
    console.print(table)
    for e in entries:
        if e.outcome != "OK":
            console.print(escape(f"   entry {e.index}: {e.outcome}: {e.reason}"))


_ENUM_PREFIXES = ("HARDSHIP_TYPE_", "SPECIAL_GROUP_", "SEVERITY_", "HELP_KIND_", "SEX_")


def _pretty(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(_pretty(v) for v in value)
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items())
    text = str(value)
    for prefix in _ENUM_PREFIXES:
        if text.startswith(prefix):
            return text.removeprefix(prefix).lower().replace("_", " ")
    return text


def _short(value: object, width: int = 48) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"
