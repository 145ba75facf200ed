"""ReferralService: the closed loop between government and charities."""

from __future__ import annotations

from typing import Any

import grpc
from sqlalchemy.orm import Session

from aidbridge.v1 import referrals_pb2, referrals_pb2_grpc
from gateway import cases, errors, referrals
from gateway.clock import NS_PER_DAY
from gateway.consent import repository as consents
from gateway.consent.model import policy_view
from gateway.exchange import Call, remember
from gateway.privacy.scrub import scrub_narrative
from gateway.privacy.transform import known_values
from gateway.services import convert
from gateway.services.base import Servicer
from gateway.services.cases import subject_attributes
from gateway.store.models import Referral

_STATE_PREFIX = "REFERRAL_STATE_"
FAST_TRACK_SEVERITIES = {"high", "urgent"}


def state_name(value: int) -> str:
    if value == referrals_pb2.REFERRAL_STATE_UNSPECIFIED:
        return ""
    return referrals_pb2.ReferralState.Name(value)[len(_STATE_PREFIX) :].lower().replace("_", "-")


def state_value(name: str) -> int:
    return int(referrals_pb2.ReferralState.Value(_STATE_PREFIX + name.upper().replace("-", "_")))


class ReferralService(Servicer, referrals_pb2_grpc.ReferralServiceServicer):
    def _message(self, call: Call, session: Session, row: Referral) -> referrals_pb2.Referral:
        app = call.app
        case_row = cases.get_case(session, row.case_id)
        record = cases.load_record(case_row, app.cipher)
        note = referrals.note_of(row, app.cipher)
        message = referrals_pb2.Referral(
            referral_id=row.referral_id,
            from_org=row.from_org,
            to_org=row.to_org,
            consent_id=row.consent_id,
            purpose=row.purpose,
            fast_track=row.fast_track,
            state=state_value(row.state),
            created_at=convert.timestamp(row.created_at_ns),
            updated_at=convert.timestamp(row.updated_at_ns),
            respond_by=convert.timestamp(row.respond_by_ns),
        )
        summary = convert.summary_values({"hardship_types": record.get("hardship_types", [])})
        message.hardship_types.extend(summary["hardship_types"])
        if record.get("severity"):
            message.severity = convert.summary_values({"severity": record["severity"]})["severity"]
        if call.caller.role == "charity":
            message.subject = app.pseudonym(call.caller.org, record["resident_id"])
            message.note = scrub_narrative(note, known_values(record)) if note else ""
        else:
            message.case_id = row.case_id
            message.note = note
        return message

    async def CreateReferral(
        self, request: referrals_pb2.CreateReferralRequest, context: grpc.aio.ServicerContext
    ) -> referrals_pb2.CreateReferralResponse:
        return await self.run(context, request, self._create)

    def _create(self, session: Session, call: Call) -> referrals_pb2.CreateReferralResponse:
        request: referrals_pb2.CreateReferralRequest = call.request  # type: ignore[assignment]
        app = call.app
        for name in ("case_id", "to_org", "consent_id", "purpose"):
            if not getattr(request, name):
                raise errors.InvalidArgument(f"{name} is required", field=name)
        if not 0 <= request.respond_within_days <= 90:
            raise errors.InvalidArgument(
                "respond_within_days must be between 0 and 90", field="respond_within_days"
            )
        case_row = cases.get_case(session, request.case_id)
        record = cases.load_record(case_row, app.cipher)
        call.facts.subject = app.ledger_subject(record["resident_id"])
        consent = consents.effective_consent(session, request.consent_id, call.now_ns)
        if consent.case_id != case_row.case_id:
            raise errors.FailedPrecondition(
                f"consent {consent.consent_id} is not for case {case_row.case_id}",
                field="consent_id",
            )
        if consent.recipient_org != request.to_org:
            raise errors.FailedPrecondition(
                f"consent {consent.consent_id} does not name {request.to_org} as recipient",
                field="to_org",
            )
        if consent.purpose != request.purpose:
            raise errors.FailedPrecondition(
                f"consent {consent.consent_id} is for purpose {consent.purpose}, "
                f"not {request.purpose}",
                field="purpose",
            )
        call.decide(
            resource={
                "kind": "referral",
                "office_id": case_row.office_id,
                "street": case_row.street,
                "from_org": call.caller.org,
                "to_org": request.to_org,
                "state": "",
            },
            purpose=request.purpose,
            subject=subject_attributes(call, case_row),
            consent=policy_view(consent),
        )

        def produce() -> referrals_pb2.CreateReferralResponse:
            days = request.respond_within_days or app.config.referral_respond_days
            row = referrals.create_referral(
                session,
                case=case_row,
                from_org=call.caller.org,
                to_org=request.to_org,
                consent_id=consent.consent_id,
                purpose=request.purpose,
                note=request.note,
                fast_track=record.get("severity", "") in FAST_TRACK_SEVERITIES,
                respond_by_ns=call.now_ns + days * NS_PER_DAY,
                actor=call.caller.actor,
                cipher=app.cipher,
                now_ns=call.now_ns,
            )
            session.flush()
            return referrals_pb2.CreateReferralResponse(referral=self._message(call, session, row))

        return remember(
            session, call, request.request_id, referrals_pb2.CreateReferralResponse, produce
        )

    async def ListReferrals(
        self, request: referrals_pb2.ListReferralsRequest, context: grpc.aio.ServicerContext
    ) -> referrals_pb2.ListReferralsResponse:
        return await self.run_read(context, request, self._list)

    def _list(self, session: Session, call: Call) -> referrals_pb2.ListReferralsResponse:
        request: referrals_pb2.ListReferralsRequest = call.request  # type: ignore[assignment]
        size = request.page.page_size or 50
        if not 0 < size <= 500:
            raise errors.InvalidArgument("page.page_size must be between 1 and 500", field="page")
        # No resource is named: the list is scoped to the caller's own referrals below.
        call.decide(resource={"kind": "none"})
        rows = referrals.list_referrals(
            session,
            org=call.caller.org,
            role=call.caller.role,
            state=state_name(request.state) or None,
            after=request.page.page_token,
            limit=size + 1,
        )
        response = referrals_pb2.ListReferralsResponse(
            referrals=[self._message(call, session, r) for r in rows[:size]]
        )
        if len(rows) > size:
            response.next_page_token = rows[size - 1].referral_id
        return response

    async def GetReferral(
        self, request: referrals_pb2.GetReferralRequest, context: grpc.aio.ServicerContext
    ) -> referrals_pb2.Referral:
        return await self.run_read(context, request, self._get)

    def _get(self, session: Session, call: Call) -> referrals_pb2.Referral:
        request: referrals_pb2.GetReferralRequest = call.request  # type: ignore[assignment]
        row = referrals.get_referral(session, request.referral_id)
        # With the case's street: the sending office must still hold jurisdiction over it.
        call.decide(resource=referrals.policy_resource(row, cases.get_case(session, row.case_id)))
        return self._message(call, session, row)

    async def UpdateReferralState(
        self, request: referrals_pb2.UpdateReferralStateRequest, context: grpc.aio.ServicerContext
    ) -> referrals_pb2.Referral:
        return await self.run(context, request, self._update)

    def _update(self, session: Session, call: Call) -> referrals_pb2.Referral:
        request: referrals_pb2.UpdateReferralStateRequest = call.request  # type: ignore[assignment]
        target = state_name(request.state)
        if not target:
            raise errors.InvalidArgument("state is required", field="state")
        row = referrals.get_referral(session, request.referral_id)
        resource = referrals.policy_resource(row, cases.get_case(session, row.case_id))
        resource["target_state"] = target
        call.decide(resource=resource)

        def produce() -> referrals_pb2.Referral:
            referrals.transition(
                session,
                row,
                target,
                org=call.caller.org,
                actor=call.caller.actor,
                reason=request.reason,
                now_ns=call.now_ns,
            )
            return self._message(call, session, row)

        return remember(session, call, request.request_id, referrals_pb2.Referral, produce)

    async def RecordHelp(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self.unimplemented(context, request)

    async def CreateReverseReferral(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self.unimplemented(context, request)

    async def ListReverseReferrals(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self.unimplemented(context, request)

    async def ReportReverseOutcome(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self.unimplemented(context, request)
