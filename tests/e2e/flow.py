"""Steps of the referral flow, shared by the end-to-end tests."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import date

from aidbridge.v1 import cases_pb2, consents_pb2, referrals_pb2
from gateway.cases import age_on
from gateway.clock import NS_PER_DAY
from gateway.services.convert import timestamp
from gateway.synthetic import synthetic_cases

GOV = "jb-civil-affairs"
STREET_OFFICE = "jb-guanyinqiao-office"
CHARITY_A = "charity-sunshine"
CHARITY_B = "charity-harbour"
COMPLIANCE = "jb-supervision"
PURPOSE = "charitable_assistance"
FIELDS = (
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
CATEGORIES = ("demographics", "hardship", "health", "narrative")


def adults(n: int = 5, seed: int = 7) -> list[cases_pb2.Case]:
    found = []
    for case in synthetic_cases(200, seed=seed):
        age = age_on(case.person.birth_date, date.today())
        if 18 <= age < 75 and not case.lacks_capacity and case.health_condition:
            found.append(case)
        if len(found) == n:
            return found
    raise AssertionError("not enough synthetic adults")


def consent_message(
    case_id: str,
    *,
    recipient: str = CHARITY_A,
    fields=FIELDS,
    categories=CATEGORIES,
    now_ns: int | None = None,
    valid_days: int = 180,
    name: str = "本人",
) -> consents_pb2.Consent:
    now = now_ns if now_ns is not None else time.time_ns()
    return consents_pb2.Consent(
        case_id=case_id,
        grantor=consents_pb2.Grantor(kind=consents_pb2.GRANTOR_KIND_SUBJECT, name=name),
        recipient_org=recipient,
        purpose=PURPOSE,
        categories=list(categories),
        fields=list(fields),
        access_mode=consents_pb2.ACCESS_MODE_VIEW,
        valid_from=timestamp(now - 60 * 10**9),
        valid_until=timestamp(now + valid_days * NS_PER_DAY),
        retention_days=90,
        notice=consents_pb2.Notice(version="v1", sha256=hashlib.sha256(b"notice v1").hexdigest()),
        evidence=consents_pb2.Evidence(
            form_sha256=hashlib.sha256(b"form").hexdigest(), witness="社区工作人员"
        ),
    )


@dataclass
class Referred:
    person: cases_pb2.Case
    case_id: str
    consent_id: str
    referral_id: str


def refer(
    gov,
    person: cases_pb2.Case,
    *,
    tag: str,
    recipient: str = CHARITY_A,
    fields=FIELDS,
    categories=CATEGORIES,
) -> Referred:
    case_id = gov.cases.RegisterCase(
        cases_pb2.RegisterCaseRequest(request_id=f"case-{tag}", case=person)
    ).case_id
    consent = gov.consents.RecordConsent(
        consents_pb2.RecordConsentRequest(
            request_id=f"consent-{tag}",
            consent=consent_message(
                case_id,
                recipient=recipient,
                fields=fields,
                categories=categories,
                name=person.person.name,
            ),
        )
    ).consent
    referral = gov.referrals.CreateReferral(
        referrals_pb2.CreateReferralRequest(
            request_id=f"referral-{tag}",
            case_id=case_id,
            to_org=recipient,
            consent_id=consent.consent_id,
            purpose=PURPOSE,
            note=f"{person.person.name}需要帮助，电话{person.person.phone}",
        )
    ).referral
    return Referred(person, case_id, consent.consent_id, referral.referral_id)


def pull(charity, referral_id: str) -> cases_pb2.CaseSummary:
    return charity.cases.PullCaseSummary(
        cases_pb2.PullCaseSummaryRequest(referral_id=referral_id, purpose=PURPOSE)
    )
