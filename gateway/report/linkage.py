"""The linkage report's figures for one calendar month, from the store.

A month is taken in China Standard Time (UTC+8), where the offices are. Everything is read as it
stood at the end of the month, so a month's report says the same whenever it is produced:
referrals created in the month, each in the state of its last event before the month's end;
help delivered in the month; reverse referrals submitted in the month, in their state at its
end; projects as their last revision before the month's end left them. Times to accept and to
complete are from a referral's creation to its first accepted / completed event before the end.

Every count goes through ``suppression.shown``; amounts and medians resting on fewer than 5
records are withheld. The document holds codes and counts only: no person, no case, no
referral id.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import errors
from gateway.cases import load_record
from gateway.clock import NS_PER_SECOND, from_datetime, iso
from gateway.policy.catalogue import Catalogue
from gateway.privacy.crypto import FieldCipher
from gateway.projects.repository import projects_as_of
from gateway.report.suppression import shown, withheld_unless
from gateway.store.models import (
    Case,
    HelpRecord,
    Referral,
    ReferralEvent,
    ReverseReferral,
    ReverseReferralEvent,
)

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")
_PERIOD = re.compile(r"(\d{4})-(\d{2})")
NS_PER_HOUR = 3600 * NS_PER_SECOND


@dataclass(frozen=True)
class Period:
    """One calendar month in China Standard Time: [start_ns, end_ns)."""

    name: str
    start_ns: int
    end_ns: int

    @classmethod
    def parse(cls, text: str) -> Period:
        found = _PERIOD.fullmatch(text.strip())
        if not found or not 1 <= int(found.group(2)) <= 12 or int(found.group(1)) < 1900:
            raise errors.InvalidArgument(
                f"period must be a month as YYYY-MM (e.g. 2026-11), found {text!r}",
                field="period",
            )
        year, month = int(found.group(1)), int(found.group(2))
        start = datetime(year, month, 1, tzinfo=CHINA)
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=CHINA)
        return cls(f"{year:04d}-{month:02d}", from_datetime(start), from_datetime(end))

    def holds(self, at_ns: int) -> bool:
        return self.start_ns <= at_ns < self.end_ns


@dataclass(frozen=True)
class Scope:
    """What a report covers: every street and office (None), or a government office's own."""

    streets: Collection[str] | None = None
    offices: Collection[str] | None = None


def build_linkage_report(
    session: Session,
    period: Period,
    *,
    catalogue: Catalogue,
    cipher: FieldCipher,
    scope: Scope | None = None,
    generated_at_ns: int,
) -> dict[str, Any]:
    """The report document (JSON-ready) for ``period`` within ``scope``."""
    scope = scope or Scope()
    referrals = _referrals(session, period, scope, cipher)
    help_rows = _help(session, period, scope)
    return {
        "report": "aidbridge-linkage",
        "version": 1,
        "period": period.name,
        "timezone": "Asia/Shanghai (UTC+8)",
        "from": _local(period.start_ns),
        "until": _local(period.end_ns),
        "generated_at": iso(generated_at_ns),
        "scope": {
            "streets": sorted(scope.streets) if scope.streets is not None else "district",
        },
        "suppression": 'counts from 1 to 4 are shown as "<5"; amounts and medians resting '
        "on fewer than 5 records are withheld (null)",
        "referrals": referrals.figures(catalogue),
        "help": _help_figures(help_rows),
        "reverse_referrals": _reverse(session, period, scope),
        "projects": _projects(session, period, scope, help_rows, catalogue),
    }


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2, sort_keys=False) + "\n"


# --- referrals --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ReferralRow:
    referral_id: str
    to_org: str
    street: str
    hardship_type: str
    state: str  # as of the end of the period
    rejection_reason: str  # the structured reason, when rejected by the period's end
    hours_to_accept: float | None
    hours_to_complete: float | None


@dataclass(frozen=True)
class _Referrals:
    rows: list[_ReferralRow]

    def figures(self, catalogue: Catalogue) -> dict[str, Any]:
        accepted = [r.hours_to_accept for r in self.rows if r.hours_to_accept is not None]
        completed = [r.hours_to_complete for r in self.rows if r.hours_to_complete is not None]
        charities = Counter(r.to_org for r in self.rows)
        return {
            "total": shown(len(self.rows)),
            "by_state": _counts(r.state for r in self.rows),
            "by_hardship_type": _counts(r.hardship_type for r in self.rows),
            "by_street": _counts(r.street for r in self.rows),
            "rejections_by_reason": _counts(
                r.rejection_reason for r in self.rows if r.state == "rejected"
            ),
            "by_charity": {
                org: {"name": _org_name(catalogue, org), "referrals": shown(n)}
                for org, n in sorted(charities.items(), key=lambda kv: (-kv[1], kv[0]))
            },
            "accepted": shown(len(accepted)),
            "median_hours_to_accept": _median(accepted),
            "completed": shown(len(completed)),
            "median_hours_to_complete": _median(completed),
        }


def _referrals(session: Session, period: Period, scope: Scope, cipher: FieldCipher) -> _Referrals:
    query = (
        select(Referral, Case)
        .join(Case, Case.case_id == Referral.case_id)
        .where(Referral.created_at_ns >= period.start_ns, Referral.created_at_ns < period.end_ns)
        .order_by(Referral.referral_id)
    )
    if scope.streets is not None:
        query = query.where(Case.street.in_(list(scope.streets)))
    found = session.execute(query).all()
    events: dict[str, list[tuple[int, int, str, str]]] = {}
    ids = [referral.referral_id for referral, _ in found]
    for chunk in _chunks(ids, 500):
        for referral_id, event_id, at_ns, state, code in session.execute(
            select(
                ReferralEvent.referral_id,
                ReferralEvent.id,
                ReferralEvent.at_ns,
                ReferralEvent.state,
                ReferralEvent.reason_code,
            ).where(ReferralEvent.referral_id.in_(chunk), ReferralEvent.at_ns < period.end_ns)
        ):
            events.setdefault(referral_id, []).append((at_ns, event_id, state, code or ""))
    rows = []
    for referral, case in found:
        history = sorted(events.get(referral.referral_id, []))
        state = history[-1][2] if history else referral.state
        hardship = referral.hardship_type or _first_hardship(case, cipher)
        rows.append(
            _ReferralRow(
                referral_id=referral.referral_id,
                to_org=referral.to_org,
                street=case.street,
                hardship_type=hardship,
                state=state,
                rejection_reason=(history[-1][3] or "unspecified") if state == "rejected" else "",
                hours_to_accept=_hours_to(history, "accepted", referral.created_at_ns),
                hours_to_complete=_hours_to(history, "completed", referral.created_at_ns),
            )
        )
    return _Referrals(rows)


def _first_hardship(case: Case, cipher: FieldCipher) -> str:
    # Referrals made before revision 0006 carry no hardship type: the case's first is theirs.
    types = load_record(case, cipher).get("hardship_types") or [""]
    return str(types[0])


def _hours_to(
    history: list[tuple[int, int, str, str]], state: str, created_ns: int
) -> float | None:
    for at_ns, _, s, _ in history:
        if s == state:
            return (at_ns - created_ns) / NS_PER_HOUR
    return None


# --- help delivered --------------------------------------------------------------------------


@dataclass(frozen=True)
class _HelpRow:
    kind: str
    amount_fen: int
    minutes: int
    project_id: str


def _help(session: Session, period: Period, scope: Scope) -> list[_HelpRow]:
    """Help delivered in the period on referrals about cases within the scope, whenever those
    were made (help on an October referral delivered in November is November's help)."""
    query = (
        select(HelpRecord.kind, HelpRecord.amount_fen, HelpRecord.minutes, HelpRecord.project_id)
        .join(Referral, Referral.referral_id == HelpRecord.referral_id)
        .join(Case, Case.case_id == Referral.case_id)
        .where(
            HelpRecord.delivered_at_ns >= period.start_ns,
            HelpRecord.delivered_at_ns < period.end_ns,
        )
        .order_by(HelpRecord.help_id)
    )
    if scope.streets is not None:
        query = query.where(Case.street.in_(list(scope.streets)))
    return [
        _HelpRow(kind, int(amount or 0), int(minutes or 0), project_id or "")
        for kind, amount, minutes, project_id in session.execute(query)
    ]


def _help_figures(rows: list[_HelpRow]) -> dict[str, Any]:
    by_kind: dict[str, dict[str, Any]] = {}
    for kind in sorted({r.kind for r in rows}):
        of_kind = [r for r in rows if r.kind == kind]
        by_kind[kind] = _help_cell(of_kind)
    return {"total": _help_cell(rows), "by_kind": by_kind}


def _help_cell(rows: list[_HelpRow]) -> dict[str, Any]:
    return {
        "records": shown(len(rows)),
        "amount_yuan": withheld_unless(len(rows), sum(r.amount_fen for r in rows) / 100),
        "hours": withheld_unless(len(rows), round(sum(r.minutes for r in rows) / 60, 1)),
    }


# --- reverse referrals ------------------------------------------------------------------------


def _reverse(session: Session, period: Period, scope: Scope) -> dict[str, Any]:
    query = select(
        ReverseReferral.reverse_referral_id,
        ReverseReferral.state,
        ReverseReferral.suspected_aid,
        ReverseReferral.close_reason,
    ).where(
        ReverseReferral.created_at_ns >= period.start_ns,
        ReverseReferral.created_at_ns < period.end_ns,
    )
    if scope.offices is not None:
        query = query.where(ReverseReferral.to_office.in_(list(scope.offices)))
    found = session.execute(query.order_by(ReverseReferral.reverse_referral_id)).all()
    last: dict[str, tuple[int, int, str, str]] = {}
    for chunk in _chunks([r[0] for r in found], 500):
        for rid, event_id, at_ns, state, code in session.execute(
            select(
                ReverseReferralEvent.reverse_referral_id,
                ReverseReferralEvent.id,
                ReverseReferralEvent.at_ns,
                ReverseReferralEvent.state,
                ReverseReferralEvent.reason_code,
            ).where(
                ReverseReferralEvent.reverse_referral_id.in_(chunk),
                ReverseReferralEvent.at_ns < period.end_ns,
            )
        ):
            if rid not in last or (at_ns, event_id) > last[rid][:2]:
                last[rid] = (at_ns, event_id, state, code or "")
    states, outcomes, aid = [], [], []
    for rid, state, suspected, close_reason in found:
        if rid in last:
            state, close_reason = last[rid][2], last[rid][3] or close_reason
        states.append(state)
        aid.append(suspected or "")
        if state == "opened":
            outcomes.append("opened")
        elif state == "closed":
            outcomes.append("closed:" + (close_reason or "unspecified"))
    return {
        "total": shown(len(found)),
        "by_state": _counts(states),
        "by_outcome": _counts(outcomes),
        "by_suspected_aid": _counts(aid),
    }


# --- projects ---------------------------------------------------------------------------------


def _projects(
    session: Session,
    period: Period,
    scope: Scope,
    help_rows: list[_HelpRow],
    catalogue: Catalogue,
) -> list[dict[str, Any]]:
    help_by_project = Counter(r.project_id for r in help_rows if r.project_id)
    out = []
    for p in projects_as_of(session, period.end_ns):
        if p.ends_at_ns <= period.start_ns or p.starts_at_ns >= period.end_ns:
            continue  # not running in the period
        if scope.streets is not None and not set(p.streets) & set(scope.streets):
            continue
        out.append(
            {
                "project_id": p.project_id,
                "org_id": p.org_id,
                "org_name": _org_name(catalogue, p.org_id),
                "name": p.name,
                "kinds": list(p.kinds),
                "capacity_total": p.capacity_total,
                "capacity_remaining": p.capacity_remaining,
                "capacity_used": shown(p.capacity_used),
                "help_records": shown(help_by_project.get(p.project_id, 0)),
            }
        )
    return out


# --- helpers ----------------------------------------------------------------------------------


def _counts(values: Iterable[str]) -> dict[str, int | str]:
    counted = Counter(values)
    return {k: shown(n) for k, n in sorted(counted.items(), key=lambda kv: (-kv[1], kv[0]))}


def _median(hours: list[float]) -> float | None:
    value = withheld_unless(len(hours), statistics.median(hours) if hours else 0.0)
    return None if value is None else round(float(value), 1)


def _org_name(catalogue: Catalogue, org_id: str) -> str:
    org = catalogue.org(org_id)
    return org.name if org is not None else org_id


def _local(ns: int) -> str:
    seconds = ns // NS_PER_SECOND
    return datetime.fromtimestamp(seconds, tz=UTC).astimezone(CHINA).isoformat()


def _chunks(values: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]
