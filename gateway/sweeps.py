"""Periodic housekeeping beside the calls: consents past their validity get their ``expired``
event (enforcement never waits for it: every call checks the clock), and referrals nobody acted
on by their respond-by time become ``expired``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import cases, referrals
from gateway.app import Gateway
from gateway.consent import repository as consents
from gateway.store.models import Referral

SWEEP_ACTOR = "gateway-sweep"
GATEWAY_ORG = "aidbridge"


@dataclass(frozen=True)
class SweepResult:
    consents_expired: int
    referrals_expired: int


def sweep(app: Gateway) -> SweepResult:
    now = app.clock.now_ns()
    with app.store.write() as session:

        def pseudonym(recipient: str, case_id: str) -> str:
            record = cases.load_record(cases.get_case(session, case_id), app.cipher)
            return app.pseudonym(recipient, record["resident_id"])

        expired_consents = consents.expire_due(
            session,
            now,
            pseudonym_for=pseudonym,
            deadline_days=app.config.deletion_deadline_days,
        )
        expired_referrals = _expire_referrals(session, now)
    return SweepResult(expired_consents, expired_referrals)


def _expire_referrals(session: Session, now_ns: int) -> int:
    due = session.scalars(
        select(Referral).where(
            Referral.state == referrals.REQUESTED, Referral.respond_by_ns <= now_ns
        )
    ).all()
    for row in due:
        referrals.transition(
            session,
            row,
            referrals.EXPIRED,
            org=GATEWAY_ORG,
            actor=SWEEP_ACTOR,
            reason="nobody acted before the respond-by time",
            now_ns=now_ns,
        )
    return len(due)
