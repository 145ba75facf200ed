"""ReferralService: the closed loop between government and charities (issue 11).

Translates protobuf ↔ the domain of ``gateway.referrals`` and nothing more: forward referrals
and their states, the event feed, help delivered, reverse referrals and their outcomes. Every
call is one exchange (``gateway.exchange``): decided by the policy and ledgered, allowed or
refused. Writes are idempotent by request id (``remember``).

What of a referral leaves for the caller — its notes, reasons and help descriptions, the case
id or the person's pseudonym, a reverse referral's subject — is what the call's obligations say,
carried out by ``gateway.privacy.disclosure``; this module holds no rule of its own about who
sees what. The integrity checks hook in at ``integrity_check``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import grpc
from sqlalchemy import select
from sqlalchemy.orm import Session

from aidbridge.v1 import common_pb2, consents_pb2, referrals_pb2, referrals_pb2_grpc
from gateway import cases, errors
from gateway.clock import NS_PER_DAY
from gateway.consent import repository as consents
from gateway.consent.model import Evidence, Grantor, Notice, policy_view
from gateway.consent.signing import consent_key_id
from gateway.exchange import (
    Call,
    GuardedUpdate,
    Prepared,
    holds_always,
    remember,
    remember_prepared,
)
from gateway.integrity import approvals, detectors
from gateway.privacy.disclosure import Disclosure, disclosure
from gateway.privacy.pseudonyms import PseudonymNotFound, pseudonym_version, resolve_pseudonym
from gateway.referrals import model, reads, states, validate
from gateway.referrals import repository as store
from gateway.services import convert
from gateway.services.base import Servicer
from gateway.services.cases import open_case, seal_subject, subject_attributes
from gateway.services.integrity import (
    conflict_fact,
    conflict_fact_of_index,
    hold_for_second_approval,
)
from gateway.store.models import Case, Referral

_STATE_PREFIX = "REFERRAL_STATE_"
_GRANTOR = {
    consents_pb2.GRANTOR_KIND_SUBJECT: "subject",
    consents_pb2.GRANTOR_KIND_GUARDIAN: "guardian",
}
_GRANTOR_BACK = {v: k for k, v in _GRANTOR.items()}


def state_name(value: int) -> str:
    if value == referrals_pb2.REFERRAL_STATE_UNSPECIFIED:
        return ""
    return referrals_pb2.ReferralState.Name(value)[len(_STATE_PREFIX) :].lower().replace("_", "-")


def state_value(name: str) -> int:
    return int(referrals_pb2.ReferralState.Value(_STATE_PREFIX + name.upper().replace("-", "_")))


def _name(enum: Any, value: int) -> str:
    return convert.enum_name(enum, value) if value else ""


def _value(enum: Any, name: str) -> int:
    return convert.enum_value(enum, name) if name else 0


def integrity_check(session: Session, call: Call, action: str, facts: Mapping[str, Any]) -> None:
    """Where the integrity checks that need history run as help or a reverse referral is
    stored (the conflict of interest is the policy's, before); ``action`` is "record-help" or
    "create-reverse-referral" and ``facts`` what the check needs. A check that refuses raises a
    domain error; one that only flags records its flag on the call. Run inside the write, so a
    retry of a request already made is not checked again."""
    if action == "record-help":
        detectors.check_duplicate_help(
            session,
            call,
            subject_index=facts["subject_index"],
            hardship_type=facts["hardship_type"],
            kind=facts["kind"],
            delivered_at_ns=facts["delivered_at_ns"],
        )


def _new_referral(
    call: Call, case_id: str, consent_id: str, referral_for: model.ReferralFor
) -> tuple[Any, Any]:
    """The referral a CreateReferral makes and its first event, not yet stored: both of its
    paths (in the writer, and prepared before it) store these."""
    request: referrals_pb2.CreateReferralRequest = call.request  # type: ignore[assignment]
    days = request.respond_within_days or call.app.config.referral_respond_days
    return store.new_referral(
        case_id=case_id,
        from_org=call.caller.org,
        to_org=request.to_org,
        consent_id=consent_id,
        purpose=request.purpose,
        note=request.note,
        referral_for=referral_for,
        respond_by_ns=call.now_ns + days * NS_PER_DAY,
        actor=call.caller.actor,
        cipher=call.app.cipher,
        now_ns=call.now_ns,
    )


class ReferralService(Servicer, referrals_pb2_grpc.ReferralServiceServicer):
    # --- messages --------------------------------------------------------------------------

    def _message(
        self,
        call: Call,
        session: Session,
        row: Referral,
        *,
        detail: bool = False,
        rejection_reason: str | None = None,
    ) -> referrals_pb2.Referral:
        """``rejection_reason``: the reason of a rejection not stored yet (a prepared call's);
        by default the latest stored one of a rejected referral."""
        app = call.app
        case_row = cases.get_case(session, row.case_id)
        record = cases.load_record(case_row, app.cipher)
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
            hardship_type=_value(common_pb2.HardshipType, row.hardship_type),
            special_group=_value(common_pb2.SpecialGroup, row.special_group),
            rejection_reason=_value(
                referrals_pb2.RejectionReason,
                store.latest_reason_code(session, row)
                if rejection_reason is None or row.state != states.REJECTED
                else rejection_reason,
            ),
        )
        summary = convert.summary_values({"hardship_types": record.get("hardship_types", [])})
        message.hardship_types.extend(summary["hardship_types"])
        severity = row.severity or record.get("severity", "")
        if severity:
            message.severity = convert.summary_values({"severity": severity})["severity"]
        shown = disclosure(call, record)
        message.subject = shown.subject(record["resident_id"])
        if shown.shows("case_id"):
            message.case_id = row.case_id
        message.note = shown.text("referral_note", store.note_of(row, app.cipher))
        if detail:
            message.events.extend(
                self._event(shown, e) for e in store.events_of(session, row.referral_id)
            )
            message.help.extend(
                _help_message(h, shown) for h in store.help_of(session, row.referral_id, app.cipher)
            )
        return message

    def _event(self, shown: Disclosure, event: model.EventView) -> referrals_pb2.ReferralEvent:
        return referrals_pb2.ReferralEvent(
            event_id=event.event_id,
            referral_id=event.referral_id,
            state=state_value(event.state),
            at=convert.timestamp(event.at_ns),
            org=event.org,
            actor=event.actor,
            reason=shown.text("event_reason", event.reason),
            rejection_reason=_value(referrals_pb2.RejectionReason, event.reason_code),
        )

    # --- government → charity --------------------------------------------------------------

    async def CreateReferral(
        self, request: referrals_pb2.CreateReferralRequest, context: grpc.aio.ServicerContext
    ) -> referrals_pb2.CreateReferralResponse:
        return await self.run_prepared(context, request, self._prepare_create, self._create)

    def _create(self, session: Session, call: Call) -> referrals_pb2.CreateReferralResponse:
        """CreateReferral inside the writer: when it cannot be prepared (``_prepare_create``)."""
        request: referrals_pb2.CreateReferralRequest = call.request  # type: ignore[assignment]
        case_row, referral_for, consent, _conflict = self._create_checks(session, call)
        hold_for_second_approval(session, call)

        def produce() -> referrals_pb2.CreateReferralResponse:
            row, event = _new_referral(call, case_row.case_id, consent.consent_id, referral_for)
            session.add_all([row, event])
            session.flush()
            detectors.count_call(session, call)
            return referrals_pb2.CreateReferralResponse(referral=self._message(call, session, row))

        return remember(
            session, call, request.request_id, referrals_pb2.CreateReferralResponse, produce
        )

    def _prepare_create(self, session: Session, call: Call) -> Prepared | None:
        """CreateReferral before the writer: the same checks and decision as ``_create``, the
        referral, its event and the response built here; the writer inserts them if the
        consent's state is still what the decision saw and no declaration names the person
        (else the call runs as ``_create``). A call touching a declared relative is not
        prepared (the policy may hold it for a second approval, which writes)."""
        request: referrals_pb2.CreateReferralRequest = call.request  # type: ignore[assignment]
        app = call.app
        case_row, referral_for, consent, conflict = self._create_checks(session, call)
        if approvals.SECOND_APPROVAL in call.facts.flags or conflict["declared_relative"]:
            return None
        relative_index = app.current_index(case_row.subject_index)

        def still_holds(writer_session: Session) -> bool:
            # One statement: the consent's state now, and no declaration made meanwhile.
            now, declared = reads.consent_and_declaration(
                writer_session,
                consent.consent_id,
                call.now_ns,
                org=call.caller.org,
                actor=call.caller.actor,
                relative_index=relative_index,
            )
            return now.state == consent.state and not declared

        def produce() -> Prepared:
            row, event = _new_referral(call, case_row.case_id, consent.consent_id, referral_for)
            response = referrals_pb2.CreateReferralResponse(
                referral=self._message(call, session, row)
            )
            detectors.count_call(session, call)  # its counts join the rows (call.inserts)
            return Prepared(response, store.rows_of(row, event), still_holds)

        return remember_prepared(
            session, call, request.request_id, referrals_pb2.CreateReferralResponse, produce
        )

    def _create_checks(self, session: Session, call: Call) -> tuple[Any, Any, Any, dict]:
        """What CreateReferral checks and decides, in order, for both of its paths: returns the
        case, what the referral is for, the consent and the conflict fact decided on (with the
        the case is decrypted only once the policy allowed the call; until then the call's subject
        is the case's store index and the conflict is found by it)."""
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
        seal_subject(call, case_row)
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
        conflict = conflict_fact_of_index(session, call, app.current_index(case_row.subject_index))
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
            conflict=conflict,
        )
        record = open_case(call, case_row)
        referral_for = validate.referral_for(
            record,
            hardship_type=_name(common_pb2.HardshipType, request.hardship_type),
            special_group=_name(common_pb2.SpecialGroup, request.special_group),
            severity=_name(common_pb2.Severity, request.severity),
        )
        return case_row, referral_for, consent, conflict

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
        rows = store.list_referrals(
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
            response.next_page_token = store.queue_token(rows[size - 1])
        return response

    async def GetReferral(
        self, request: referrals_pb2.GetReferralRequest, context: grpc.aio.ServicerContext
    ) -> referrals_pb2.Referral:
        return await self.run_read(context, request, self._get)

    def _get(self, session: Session, call: Call) -> referrals_pb2.Referral:
        request: referrals_pb2.GetReferralRequest = call.request  # type: ignore[assignment]
        row = store.get_referral(session, request.referral_id)
        case_row = cases.get_case(session, row.case_id)
        seal_subject(call, case_row)
        # With the case's street: the sending office must still hold jurisdiction over it.
        call.decide(resource=store.policy_resource(row, case_row))
        return self._message(call, session, row, detail=True)

    async def UpdateReferralState(
        self, request: referrals_pb2.UpdateReferralStateRequest, context: grpc.aio.ServicerContext
    ) -> referrals_pb2.Referral:
        return await self.run_prepared(context, request, self._prepare_update, self._update)

    def _update(self, session: Session, call: Call) -> referrals_pb2.Referral:
        """UpdateReferralState inside the writer: when its prepared form went stale."""
        request: referrals_pb2.UpdateReferralStateRequest = call.request  # type: ignore[assignment]
        row, change = self._update_checks(session, call, lock=True)

        def produce() -> referrals_pb2.Referral:
            store.change_state(
                session,
                row,
                change,
                role=call.caller.role,
                org=call.caller.org,
                actor=call.caller.actor,
                now_ns=call.now_ns,
            )
            return self._message(call, session, row)

        return remember(session, call, request.request_id, referrals_pb2.Referral, produce)

    def _prepare_update(self, session: Session, call: Call) -> Prepared:
        """UpdateReferralState before the writer: the same checks and decision as ``_update``,
        the step the machine allows, its event and the response worked out here; in the writer
        the referral moves only if it is still in the state the decision saw (one guarded
        UPDATE), else the call runs as ``_update``."""
        request: referrals_pb2.UpdateReferralStateRequest = call.request  # type: ignore[assignment]
        row, change = self._update_checks(session, call, lock=False)

        def produce() -> Prepared:
            before = row.state
            event = store.check_state_change(
                session,
                row,
                change,
                role=call.caller.role,
                org=call.caller.org,
                actor=call.caller.actor,
                now_ns=call.now_ns,
            )
            # The response shows the referral as the writer will leave it; the read session,
            # which commits, must not write it.
            session.expunge(row)
            row.state, row.updated_at_ns = change.target, call.now_ns
            response = self._message(call, session, row, rejection_reason=change.reason_code)
            moved = GuardedUpdate(
                Referral,
                key={"referral_id": row.referral_id},
                expected={"state": before},
                values={"state": change.target, "updated_at_ns": call.now_ns},
            )
            return Prepared(response, store.rows_of(event), holds_always, [moved])

        return remember_prepared(session, call, request.request_id, referrals_pb2.Referral, produce)

    def _update_checks(
        self, session: Session, call: Call, *, lock: bool
    ) -> tuple[Referral, model.StateChange]:
        """What UpdateReferralState checks and decides, in order, for both of its paths; the case
        is opened only once the policy allowed the call."""
        request: referrals_pb2.UpdateReferralStateRequest = call.request  # type: ignore[assignment]
        target = state_name(request.state)
        if not target:
            raise errors.InvalidArgument("state is required", field="state")
        change = model.StateChange(
            target=target,
            reason=request.reason,
            reason_code=_name(referrals_pb2.RejectionReason, request.rejection_reason),
        )
        validate.state_change(change)
        row = store.get_referral(session, request.referral_id, lock=lock)
        case_row = cases.get_case(session, row.case_id)
        seal_subject(call, case_row)
        call.facts.consent_id = row.consent_id
        resource = store.policy_resource(row, case_row)
        resource["target_state"] = target
        call.decide(resource=resource, purpose=row.purpose)
        open_case(call, case_row)
        return row, change

    async def ListReferralEvents(
        self, request: referrals_pb2.ListReferralEventsRequest, context: grpc.aio.ServicerContext
    ) -> referrals_pb2.ListReferralEventsResponse:
        return await self.run_read(context, request, self._events)

    def _events(self, session: Session, call: Call) -> referrals_pb2.ListReferralEventsResponse:
        request: referrals_pb2.ListReferralEventsRequest = call.request  # type: ignore[assignment]
        size = request.page_size or 100
        if not 0 < size <= 500:
            raise errors.InvalidArgument("page_size must be between 1 and 500", field="page_size")
        if request.after_event_id < 0:
            raise errors.InvalidArgument(
                "after_event_id must not be negative", field="after_event_id"
            )
        # Scoped to the caller's own referrals below (a referral of another is simply absent).
        call.decide(resource={"kind": "none"})
        found = store.event_feed(
            session,
            org=call.caller.org,
            role=call.caller.role,
            after_event_id=request.after_event_id,
            referral_id=request.referral_id,
            limit=size,
        )
        shown: dict[str, Disclosure] = {}
        response = referrals_pb2.ListReferralEventsResponse()
        for event in found:
            if event.referral_id not in shown:
                referral = store.get_referral(session, event.referral_id)
                shown[event.referral_id] = disclosure(
                    call,
                    cases.load_record(cases.get_case(session, referral.case_id), call.app.cipher),
                )
            response.events.append(self._event(shown[event.referral_id], event))
        response.last_event_id = found[-1].event_id if found else request.after_event_id
        return response

    # --- help delivered --------------------------------------------------------------------

    async def RecordHelp(
        self, request: referrals_pb2.RecordHelpRequest, context: grpc.aio.ServicerContext
    ) -> referrals_pb2.HelpDelivered:
        return await self.run(context, request, self._record_help)

    def _record_help(self, session: Session, call: Call) -> referrals_pb2.HelpDelivered:
        request: referrals_pb2.RecordHelpRequest = call.request  # type: ignore[assignment]
        app = call.app
        help_in = request.help
        for name in ("help_id", "org"):
            if getattr(help_in, name):
                raise errors.InvalidArgument(
                    f"help.{name} is set by the gateway; leave it empty", field=f"help.{name}"
                )
        if help_in.HasField("recorded_at"):
            raise errors.InvalidArgument(
                "help.recorded_at is set by the gateway; leave it empty", field="help.recorded_at"
            )
        draft = model.HelpDraft(
            referral_id=help_in.referral_id,
            kind=_name(common_pb2.HelpKind, help_in.kind),
            amount_fen=help_in.value_fen,
            minutes=help_in.minutes,
            delivered_at_ns=convert.from_timestamp(help_in.delivered_at)
            if help_in.HasField("delivered_at")
            else 0,
            project_id=help_in.project_id,
            description=help_in.description,
        )
        if not draft.referral_id:
            raise errors.InvalidArgument("help.referral_id is required", field="help.referral_id")
        row = store.get_referral(session, draft.referral_id, lock=True)
        case_row = cases.get_case(session, row.case_id)
        seal_subject(call, case_row)
        call.facts.consent_id = row.consent_id
        call.decide(
            resource=store.policy_resource(row, case_row),
            purpose=row.purpose,
            conflict=conflict_fact_of_index(
                session, call, app.current_index(case_row.subject_index)
            ),
        )
        hold_for_second_approval(session, call)
        record = open_case(call, case_row)
        validate.help_draft(draft, now_ns=call.now_ns, referral_created_ns=row.created_at_ns)

        def produce() -> referrals_pb2.HelpDelivered:
            integrity_check(
                session,
                call,
                "record-help",
                {
                    "referral_id": row.referral_id,
                    "kind": draft.kind,
                    "amount_fen": draft.amount_fen,
                    "delivered_at_ns": draft.delivered_at_ns,
                    "subject_index": case_row.subject_index,
                    "hardship_type": row.hardship_type,
                },
            )
            view = store.record_help(
                session,
                row,
                draft,
                org=call.caller.org,
                actor=call.caller.actor,
                cipher=app.cipher,
                now_ns=call.now_ns,
            )
            return _help_message(view, disclosure(call, record))

        return remember(session, call, request.request_id, referrals_pb2.HelpDelivered, produce)

    # --- charity → government --------------------------------------------------------------

    def _reverse_message(
        self, call: Call, session: Session, view: model.ReverseView
    ) -> referrals_pb2.ReverseReferral:
        d = view.draft
        c = d.consent
        shown = disclosure(call, _person_known(session, call, d))
        # The person and who consented for them leave only where the obligations name them.
        subject = shown.shows("reverse_subject")
        return referrals_pb2.ReverseReferral(
            reverse_referral_id=view.reverse_referral_id,
            from_org=view.from_org,
            to_office=view.to_office,
            subject_name=d.subject_name if subject else "",
            subject_resident_id=d.subject_resident_id if subject else "",
            subject_phone=d.subject_phone if subject else "",
            reason=shown.text("reverse_reason", d.reason),
            state=view.state,
            outcome_note=shown.text("outcome_note", view.outcome_note),
            created_at=convert.timestamp(view.created_at_ns),
            consent=referrals_pb2.ReverseReferralConsent(
                grantor=consents_pb2.Grantor(
                    kind=_GRANTOR_BACK[c.grantor.kind],
                    name=c.grantor.name if subject else "",
                    relationship=c.grantor.relationship,
                    verification_method=c.grantor.verification_method,
                ),
                notice=consents_pb2.Notice(version=c.notice.version, sha256=c.notice.sha256),
                evidence=consents_pb2.Evidence(
                    form_sha256=c.evidence.form_sha256, witness=c.evidence.witness
                ),
                recipient_office=c.recipient_office,
                purpose=c.purpose,
                valid_from=convert.timestamp(c.valid_from_ns),
                valid_until=convert.timestamp(c.valid_until_ns),
                signature=view.consent_signature,
                signing_key_id=view.signing_key_id,
            ),
            purpose=d.purpose,
            suspected_aid=_value(common_pb2.HardshipType, d.suspected_aid),
            street=d.street,
            close_reason=_value(referrals_pb2.ReverseCloseReason, view.close_reason),
            application_id=view.application_id,
            updated_at=convert.timestamp(view.updated_at_ns),
            events=[
                referrals_pb2.ReverseReferralEvent(
                    state=e.state,
                    at=convert.timestamp(e.at_ns),
                    org=e.org,
                    actor=e.actor,
                    reason_code=e.reason_code,
                )
                for e in view.events
            ],
        )

    async def CreateReverseReferral(
        self,
        request: referrals_pb2.CreateReverseReferralRequest,
        context: grpc.aio.ServicerContext,
    ) -> referrals_pb2.ReverseReferral:
        return await self.run(context, request, self._create_reverse)

    def _create_reverse(self, session: Session, call: Call) -> referrals_pb2.ReverseReferral:
        request: referrals_pb2.CreateReverseReferralRequest = call.request  # type: ignore[assignment]
        app = call.app
        draft = _reverse_draft(request.referral)
        resident_id = validate.reverse_draft(
            draft, catalogue=app.catalogue, streets=app.catalogue.streets, now_ns=call.now_ns
        )
        draft = replace(draft, subject_resident_id=resident_id)  # normalised
        call.facts.subject = app.ledger_subject(resident_id)
        call.facts.purpose = draft.purpose
        call.decide(
            resource={
                "kind": "reverse_referral",
                "from_org": call.caller.org,
                "to_org": draft.to_office,
                "street": draft.street,
                "state": "",
            },
            purpose=draft.purpose,
            conflict=conflict_fact(session, call, resident_id),
        )
        hold_for_second_approval(session, call)
        integrity_check(
            session,
            call,
            "create-reverse-referral",
            {"to_office": draft.to_office, "subject": call.facts.subject},
        )

        def produce() -> referrals_pb2.ReverseReferral:
            key = app.keys.signing_key("consent")
            view = store.create_reverse(
                session,
                draft,
                from_org=call.caller.org,
                actor=call.caller.actor,
                sign=lambda data: _b64(key.sign(data)),
                signing_key_id=consent_key_id(app.keys.version),
                subject_index=app.subject_index(resident_id),
                cipher=app.cipher,
                now_ns=call.now_ns,
            )
            return self._reverse_message(call, session, view)

        return remember(session, call, request.request_id, referrals_pb2.ReverseReferral, produce)

    async def ListReverseReferrals(
        self, request: referrals_pb2.ListReverseReferralsRequest, context: grpc.aio.ServicerContext
    ) -> referrals_pb2.ListReverseReferralsResponse:
        return await self.run_read(context, request, self._list_reverse)

    def _list_reverse(
        self, session: Session, call: Call
    ) -> referrals_pb2.ListReverseReferralsResponse:
        request: referrals_pb2.ListReverseReferralsRequest = call.request  # type: ignore[assignment]
        size = request.page.page_size or 50
        if not 0 < size <= 500:
            raise errors.InvalidArgument("page.page_size must be between 1 and 500", field="page")
        if request.state and request.state not in states.reverse_machine().states:
            raise errors.InvalidArgument(
                f"state must be one of {', '.join(states.reverse_machine().states)}",
                field="state",
            )
        call.decide(resource={"kind": "none"})
        rows = store.list_reverse(
            session,
            org=call.caller.org,
            role=call.caller.role,
            state=request.state,
            after=request.page.page_token,
            limit=size + 1,
        )
        response = referrals_pb2.ListReverseReferralsResponse(
            referrals=[
                self._reverse_message(
                    call, session, store.reverse_view(session, r, call.app.cipher)
                )
                for r in rows[:size]
            ]
        )
        if len(rows) > size:
            response.next_page_token = store.reverse_token(rows[size - 1])
        return response

    async def ResolvePseudonym(
        self, request: referrals_pb2.ResolvePseudonymRequest, context: grpc.aio.ServicerContext
    ) -> referrals_pb2.ResolvePseudonymResponse:
        return await self.run_read(context, request, _resolve)

    async def ReportReverseOutcome(
        self, request: referrals_pb2.ReportReverseOutcomeRequest, context: grpc.aio.ServicerContext
    ) -> referrals_pb2.ReverseReferral:
        return await self.run(context, request, self._report_outcome)

    def _report_outcome(self, session: Session, call: Call) -> referrals_pb2.ReverseReferral:
        request: referrals_pb2.ReportReverseOutcomeRequest = call.request  # type: ignore[assignment]
        app = call.app
        if not request.state:
            raise errors.InvalidArgument(
                "state is required: received, opened or closed", field="state"
            )
        outcome = model.ReverseOutcome(
            target=request.state,
            close_reason=_name(referrals_pb2.ReverseCloseReason, request.close_reason),
            application_id=request.application_id,
            note=request.outcome_note,
        )
        validate.reverse_outcome(outcome)
        row = store.get_reverse(session, request.reverse_referral_id, lock=True)
        # Named by the person's store index until the decision allows the call (as a case is).
        call.facts.subject = app.ledger_subject_of_index(row.subject_index)
        resource = store.reverse_policy_resource(row)
        resource["target_state"] = outcome.target
        call.decide(resource=resource, purpose=row.purpose)
        call.facts.subject = app.ledger_subject(store.reverse_subject(row, app.cipher))

        def produce() -> referrals_pb2.ReverseReferral:
            store.change_reverse_state(
                session,
                row,
                outcome,
                role=call.caller.role,
                org=call.caller.org,
                actor=call.caller.actor,
                cipher=app.cipher,
                now_ns=call.now_ns,
            )
            return self._reverse_message(
                call, session, store.reverse_view(session, row, app.cipher)
            )

        return remember(session, call, request.request_id, referrals_pb2.ReverseReferral, produce)


def _resolve(session: Session, call: Call) -> referrals_pb2.ResolvePseudonymResponse:
    """The caller's referrals to ``recipient_org`` of the person it knows by ``pseudonym``."""
    request: referrals_pb2.ResolvePseudonymRequest = call.request  # type: ignore[assignment]
    if not request.recipient_org:
        raise errors.InvalidArgument("recipient_org is required", field="recipient_org")
    if not request.pseudonym:
        raise errors.InvalidArgument("pseudonym is required", field="pseudonym")
    # No resource is named: candidates are the caller's own referrals to that recipient.
    call.decide(resource={"kind": "none"})
    app = call.app
    rows = session.scalars(
        select(Referral)
        .where(Referral.from_org == call.caller.org, Referral.to_org == request.recipient_org)
        .order_by(Referral.referral_id)
    ).all()
    by_person: dict[str, list[Referral]] = {}
    for row in rows:
        resident_id = str(
            cases.load_record(cases.get_case(session, row.case_id), app.cipher)["resident_id"]
        )
        by_person.setdefault(resident_id, []).append(row)
    try:
        found = resolve_pseudonym(
            app.keys,
            request.recipient_org,
            request.pseudonym,
            ((rid, (rid, referrals)) for rid, referrals in by_person.items()),
        )
    except PseudonymNotFound as exc:
        raise errors.NotFound(str(exc), field="pseudonym") from None
    resident_id, referrals = found
    call.facts.subject = app.ledger_subject(resident_id)
    return referrals_pb2.ResolvePseudonymResponse(
        referral_ids=[r.referral_id for r in referrals],
        case_ids=sorted({r.case_id for r in referrals}),
        key_version=pseudonym_version(request.pseudonym),
    )


def _person_known(session: Session, call: Call, draft: model.ReverseDraft) -> dict[str, Any]:
    """What is known of a reverse referral's subject: what the charity gave and, when the
    office holds a case of the same person, that case's record (relatives, address, ...), so
    that texts about them are scrubbed of every known value."""
    known: dict[str, Any] = {}
    row = session.scalars(
        select(Case)
        .where(Case.subject_index == call.app.subject_index(draft.subject_resident_id))
        .order_by(Case.created_at_ns.desc())
        .limit(1)
    ).first()
    if row is not None:
        known.update(cases.load_record(row, call.app.cipher))
    known.update(name=draft.subject_name or known.get("name", ""))
    known.update(resident_id=draft.subject_resident_id)
    if draft.subject_phone:
        known["phone"] = draft.subject_phone
    return known


def _help_message(view: model.HelpRecordView, shown: Disclosure) -> referrals_pb2.HelpDelivered:
    return referrals_pb2.HelpDelivered(
        help_id=view.help_id,
        referral_id=view.referral_id,
        kind=_value(common_pb2.HelpKind, view.kind),
        value_fen=view.amount_fen,
        minutes=view.minutes,
        description=shown.text("help_description", view.description),
        delivered_at=convert.timestamp(view.delivered_at_ns),
        project_id=view.project_id,
        org=view.org,
        recorded_at=convert.timestamp(view.recorded_at_ns),
    )


def _reverse_draft(message: referrals_pb2.ReverseReferral) -> model.ReverseDraft:
    for name in ("reverse_referral_id", "state", "outcome_note", "application_id"):
        if getattr(message, name):
            raise errors.InvalidArgument(
                f"referral.{name} is set by the gateway; leave it empty", field=f"referral.{name}"
            )
    for name in ("created_at", "updated_at"):
        if message.HasField(name):
            raise errors.InvalidArgument(
                f"referral.{name} is set by the gateway; leave it empty", field=f"referral.{name}"
            )
    if message.close_reason:
        raise errors.InvalidArgument(
            "referral.close_reason is set by the office; leave it empty",
            field="referral.close_reason",
        )
    if not message.HasField("consent"):
        raise errors.InvalidArgument(
            "referral.consent is required: the person's consent naming the receiving office",
            field="referral.consent",
        )
    c = message.consent
    if c.signature or c.signing_key_id:
        raise errors.InvalidArgument(
            "referral.consent.signature is set by the gateway; leave it empty",
            field="referral.consent.signature",
        )
    for name in ("valid_from", "valid_until"):
        if not c.HasField(name):
            raise errors.InvalidArgument(
                f"referral.consent.{name} is required", field=f"referral.consent.{name}"
            )
    return model.ReverseDraft(
        to_office=message.to_office,
        subject_name=message.subject_name.strip(),
        subject_resident_id=message.subject_resident_id,
        subject_phone=message.subject_phone.strip(),
        street=message.street,
        reason=message.reason,
        suspected_aid=_name(common_pb2.HardshipType, message.suspected_aid),
        purpose=message.purpose or model.REVERSE_PURPOSE,
        consent=model.ReverseConsent(
            grantor=Grantor(
                kind=_GRANTOR.get(c.grantor.kind, ""),
                name=c.grantor.name.strip(),
                relationship=c.grantor.relationship.strip(),
                verification_method=c.grantor.verification_method.strip(),
            ),
            notice=Notice(version=c.notice.version.strip(), sha256=c.notice.sha256.lower()),
            evidence=Evidence(
                form_sha256=c.evidence.form_sha256.lower(), witness=c.evidence.witness
            ),
            recipient_office=c.recipient_office,
            purpose=c.purpose or model.REVERSE_PURPOSE,
            valid_from_ns=convert.from_timestamp(c.valid_from),
            valid_until_ns=convert.from_timestamp(c.valid_until),
        ),
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
