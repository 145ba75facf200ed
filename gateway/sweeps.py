"""Periodic housekeeping beside the calls: consents past their validity get their ``expired``
event (enforcement never waits for it: every call checks the clock), referrals nobody acted
on by their respond-by time become ``expired``, and the volume-spike detector's short buckets
that no window reaches any more are dropped.

Each expiry writes its own ledger entry (``gateway.ledger.system``) in the sweep's transaction:
one per consent (``aidbridge.system/ExpireConsent``) and one per referral
(``aidbridge.system/ExpireReferral``), each with the subject's ledger pseudonym and the consent,
so a query by subject or consent finds them beside the calls that made them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway import cases
from gateway.app import Gateway
from gateway.consent import repository as consents
from gateway.consent.model import EXPIRED
from gateway.integrity import detectors
from gateway.ledger import system
from gateway.ledger.entry import append
from gateway.referrals import repository as referral_store
from gateway.store.models import Consent, ConsentEvent, Referral

SWEEP_ACTOR = "gateway-sweep"
GATEWAY_ORG = "aidbridge"


@dataclass(frozen=True)
class SweepResult:
    consents_expired: int
    referrals_expired: int


def sweep(app: Gateway) -> SweepResult:
    now = app.clock.now_ns()
    with app.store.write() as session:

        def resident_of(case_id: str) -> str:
            record = cases.load_record(cases.get_case(session, case_id), app.cipher)
            return str(record["resident_id"])

        def pseudonym(recipient: str, case_id: str) -> str:
            return app.pseudonym(recipient, resident_of(case_id))

        events_before = session.scalar(select(func.max(ConsentEvent.id))) or 0
        expired_consents = consents.expire_due(
            session,
            now,
            pseudonym_for=pseudonym,
            deadline_days=app.config.deletion_deadline_days,
        )
        for consent in _expired_since(session, events_before):
            append(
                session,
                system.system_exchange(
                    system.EXPIRE_CONSENT,
                    at_ns=now,
                    actor=system.SWEEP_ACTOR,
                    subject=app.ledger_subject(resident_of(consent.case_id)),
                    consent_id=consent.consent_id,
                    consent_version=consent.version,
                    purpose=consent.purpose,
                    reason=f"consent {consent.consent_id} expired: its validity ended",
                ),
                app.ledger.authenticator,
            )
        expired_referrals = _expire_referrals(session, now)
        for referral in expired_referrals:
            append(
                session,
                system.system_exchange(
                    system.EXPIRE_REFERRAL,
                    at_ns=now,
                    actor=system.SWEEP_ACTOR,
                    subject=app.ledger_subject(resident_of(referral.case_id)),
                    consent_id=referral.consent_id,
                    purpose=referral.purpose,
                    reason=(
                        f"referral {referral.referral_id} to {referral.to_org} expired: "
                        "nobody acted before the respond-by time"
                    ),
                ),
                app.ledger.authenticator,
            )
        detectors.purge_buckets(session, now, app.config.volume_window_s)
    return SweepResult(expired_consents, len(expired_referrals))


def _expired_since(session: Session, last_event_id: int) -> list[Consent]:
    # expire_due reports a count; the consents it expired are those with an ``expired`` event
    # newer than the last event before it ran (the sweep holds the write transaction).
    ids = session.scalars(
        select(ConsentEvent.consent_id).where(
            ConsentEvent.id > last_event_id, ConsentEvent.event == EXPIRED
        )
    ).all()
    if not ids:
        return []
    return list(
        session.scalars(
            select(Consent).where(Consent.consent_id.in_(ids)).order_by(Consent.consent_id)
        )
    )


def _expire_referrals(session: Session, now_ns: int) -> list[Referral]:
    # Through the referral state machine, as every referral state change is.
    return referral_store.expire_due(session, now_ns, org=GATEWAY_ORG, actor=SWEEP_ACTOR)
