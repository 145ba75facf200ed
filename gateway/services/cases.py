"""CaseService: government registers cases; charities pull consented, pseudonymised summaries."""

from __future__ import annotations

from typing import Any

import grpc
from sqlalchemy.orm import Session

from aidbridge.v1 import cases_pb2, cases_pb2_grpc
from gateway import cases, errors, referrals
from gateway.clock import to_date
from gateway.consent import repository as consents
from gateway.consent.model import policy_view
from gateway.exchange import Call, remember
from gateway.privacy.transform import apply_obligations
from gateway.services import convert
from gateway.services.base import Servicer
from gateway.services.integrity import conflict_fact, hold_for_second_approval
from gateway.store.models import Case

CONTACT_OUTPUT = ("name", "phone", "address")


def subject_attributes(call: Call, row: Case) -> dict[str, Any]:
    return {
        "age_years": cases.age_on(row.birth_date, to_date(call.now_ns)),
        "lacks_capacity": bool(row.lacks_capacity),
    }


def case_resource(row: Case) -> dict[str, Any]:
    return {"kind": "case", "id": row.case_id, "office_id": row.office_id, "street": row.street}


class CaseService(Servicer, cases_pb2_grpc.CaseServiceServicer):
    async def RegisterCase(
        self, request: cases_pb2.RegisterCaseRequest, context: grpc.aio.ServicerContext
    ) -> cases_pb2.RegisterCaseResponse:
        return await self.run(context, request, self._register)

    def _register(self, session: Session, call: Call) -> cases_pb2.RegisterCaseResponse:
        request: cases_pb2.RegisterCaseRequest = call.request  # type: ignore[assignment]
        app = call.app
        record = convert.case_to_record(request.case)
        call.decide(
            resource={"kind": "case", "office_id": call.caller.org, "street": record["street"]}
        )
        record = cases.validate_record(record, streets=app.catalogue.streets)
        call.facts.subject = app.ledger_subject(record["resident_id"])

        def produce() -> cases_pb2.RegisterCaseResponse:
            case_id = cases.new_case_id()
            cases.store_case(
                session,
                record,
                case_id=case_id,
                office_id=call.caller.org,
                subject_index=app.subject_index(record["resident_id"]),
                cipher=app.cipher,
                now_ns=call.now_ns,
            )
            return cases_pb2.RegisterCaseResponse(case_id=case_id)

        return remember(session, call, request.request_id, cases_pb2.RegisterCaseResponse, produce)

    async def GetCase(
        self, request: cases_pb2.GetCaseRequest, context: grpc.aio.ServicerContext
    ) -> cases_pb2.Case:
        return await self.run_read(context, request, self._get)

    def _get(self, session: Session, call: Call) -> cases_pb2.Case:
        request: cases_pb2.GetCaseRequest = call.request  # type: ignore[assignment]
        row = cases.get_case(session, request.case_id)
        call.decide(resource=case_resource(row))
        record = cases.load_record(row, call.app.cipher)
        call.facts.subject = call.app.ledger_subject(record["resident_id"])
        return convert.record_to_case(
            record, case_id=row.case_id, office_id=row.office_id, at_ns=row.created_at_ns
        )

    async def PullCaseSummary(
        self, request: cases_pb2.PullCaseSummaryRequest, context: grpc.aio.ServicerContext
    ) -> cases_pb2.CaseSummary:
        return await self.run_read(context, request, self._pull)

    def _pull(self, session: Session, call: Call) -> cases_pb2.CaseSummary:
        request: cases_pb2.PullCaseSummaryRequest = call.request  # type: ignore[assignment]
        values, released, referral = _release(
            session, call, request.referral_id, request.purpose, "summary"
        )
        return cases_pb2.CaseSummary(
            subject=call.app.pseudonym(call.caller.org, values.pop("_resident_id")),
            referral_id=referral.referral_id,
            released=convert.released_fields(released),
            consent_id=referral.consent_id,
            purpose=referral.purpose,
            **convert.summary_values(values),
        )

    async def GetContactDetails(
        self, request: cases_pb2.GetContactDetailsRequest, context: grpc.aio.ServicerContext
    ) -> cases_pb2.ContactDetails:
        return await self.run_read(context, request, self._contact)

    def _contact(self, session: Session, call: Call) -> cases_pb2.ContactDetails:
        request: cases_pb2.GetContactDetailsRequest = call.request  # type: ignore[assignment]
        values, released, referral = _release(
            session, call, request.referral_id, request.purpose, "contact"
        )
        return cases_pb2.ContactDetails(
            subject=call.app.pseudonym(call.caller.org, values.pop("_resident_id")),
            referral_id=referral.referral_id,
            released=convert.released_fields(released),
            **{k: v for k, v in values.items() if k in CONTACT_OUTPUT},
        )

    async def StreamCaseSummaries(
        self, request: cases_pb2.StreamCaseSummariesRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        await self.unimplemented(context, request)
        yield cases_pb2.CaseSummary()  # pragma: no cover - unimplemented aborts first


def _release(
    session: Session, call: Call, referral_id: str, purpose: str, release: str
) -> tuple[dict[str, Any], tuple[tuple[str, str], ...], Any]:
    """Case data for a charity: the referral must be live and its consent effective now; the
    policy decides which fields leave and how. Returns (values, released fields, referral)."""
    app = call.app
    if not purpose:
        raise errors.InvalidArgument("purpose is required", field="purpose")
    referral = referrals.get_referral(session, referral_id)
    row = cases.get_case(session, referral.case_id)
    record = cases.load_record(row, app.cipher)
    call.facts.subject = app.ledger_subject(record["resident_id"])
    consent = consents.effective_consent(session, referral.consent_id, call.now_ns)
    decision = call.decide(
        resource=referrals.policy_resource(referral, row),
        purpose=purpose,
        release=release,
        subject=subject_attributes(call, row),
        consent=policy_view(consent),
        conflict=conflict_fact(session, call, record["resident_id"]),
    )
    hold_for_second_approval(session, call, deferred=True)
    referrals.require_live(referral, release)
    released = apply_obligations(
        record,
        decision.obligations,
        keys=app.keys,
        recipient=call.caller.org,
        today=to_date(call.now_ns),
    )
    if not released.fields:
        raise errors.PermissionDenied("the policy releases no field of this case to you")
    if not consents.released_before(session, referral.consent_id, call.caller.org):
        call.defer(
            lambda s: consents.record_release(s, referral.consent_id, call.caller.org, call.now_ns)
        )
    call.facts.fields_released = released.fields
    values = dict(released.values)
    values["_resident_id"] = record["resident_id"]
    return values, released.fields, referral
