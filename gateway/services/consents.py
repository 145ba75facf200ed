"""ConsentService: record, read, withdraw consents; receipts; recipients' notifications and
deletion attestations; overdue deletions for compliance."""

from __future__ import annotations

from typing import Any

import grpc
from sqlalchemy.orm import Session

from aidbridge.v1 import consents_pb2, consents_pb2_grpc
from gateway import cases, errors
from gateway.consent import model, receipts
from gateway.consent import repository as consents
from gateway.exchange import Call, remember
from gateway.services import convert
from gateway.services.base import Servicer
from gateway.services.cases import case_resource, open_case, seal_subject, subject_attributes
from gateway.store.models import Notification

_GRANTOR = {
    consents_pb2.GRANTOR_KIND_SUBJECT: "subject",
    consents_pb2.GRANTOR_KIND_GUARDIAN: "guardian",
}
_GRANTOR_BACK = {v: k for k, v in _GRANTOR.items()}
_ACCESS = {consents_pb2.ACCESS_MODE_VIEW: "view", consents_pb2.ACCESS_MODE_STORE: "store"}
_ACCESS_BACK = {v: k for k, v in _ACCESS.items()}
_STATE_BACK = {
    model.ACTIVE: consents_pb2.CONSENT_STATE_ACTIVE,
    model.WITHDRAWN: consents_pb2.CONSENT_STATE_WITHDRAWN,
    model.EXPIRED: consents_pb2.CONSENT_STATE_EXPIRED,
    model.SUPERSEDED: consents_pb2.CONSENT_STATE_SUPERSEDED,
    model.ENTERED_IN_ERROR: consents_pb2.CONSENT_STATE_ENTERED_IN_ERROR,
    model.NOT_YET_VALID: consents_pb2.CONSENT_STATE_NOT_YET_VALID,
}
_STATE = {v: k for k, v in _STATE_BACK.items()}


def draft_from_message(message: consents_pb2.Consent) -> model.ConsentDraft:
    if message.grantor.kind not in _GRANTOR:
        raise errors.InvalidArgument("consent.grantor.kind is required", field="grantor.kind")
    if message.access_mode not in _ACCESS:
        raise errors.InvalidArgument("consent.access_mode is required", field="access_mode")
    for name in ("valid_from", "valid_until"):
        if not message.HasField(name):
            raise errors.InvalidArgument(f"consent.{name} is required", field=name)
    return model.ConsentDraft(
        case_id=message.case_id,
        grantor=model.Grantor(
            kind=_GRANTOR[message.grantor.kind],
            name=message.grantor.name,
            relationship=message.grantor.relationship,
            verification_method=message.grantor.verification_method,
        ),
        recipient_org=message.recipient_org,
        purpose=message.purpose,
        categories=tuple(message.categories),
        fields=tuple(message.fields),
        access_mode=_ACCESS[message.access_mode],
        valid_from_ns=convert.from_timestamp(message.valid_from),
        valid_until_ns=convert.from_timestamp(message.valid_until),
        retention_days=message.retention_days,
        notice=model.Notice(version=message.notice.version, sha256=message.notice.sha256),
        evidence=model.Evidence(
            form_sha256=message.evidence.form_sha256, witness=message.evidence.witness
        ),
        supersedes=message.supersedes or None,
    )


def consent_message(record: model.ConsentRecord) -> consents_pb2.Consent:
    return consents_pb2.Consent(
        consent_id=record.consent_id,
        version=record.version,
        case_id=record.case_id,
        grantor=consents_pb2.Grantor(
            kind=_GRANTOR_BACK.get(record.grantor.kind, 0),
            name=record.grantor.name,
            relationship=record.grantor.relationship,
            verification_method=record.grantor.verification_method,
        ),
        recipient_org=record.recipient_org,
        purpose=record.purpose,
        categories=list(record.categories),
        fields=list(record.fields),
        access_mode=_ACCESS_BACK.get(record.access_mode, 0),
        valid_from=convert.timestamp(record.valid_from_ns),
        valid_until=convert.timestamp(record.valid_until_ns),
        retention_days=record.retention_days,
        notice=consents_pb2.Notice(version=record.notice.version, sha256=record.notice.sha256),
        evidence=consents_pb2.Evidence(
            form_sha256=record.evidence.form_sha256, witness=record.evidence.witness
        ),
        state=_STATE_BACK.get(record.state, consents_pb2.CONSENT_STATE_UNSPECIFIED),
        supersedes=record.supersedes or "",
        recorded_by_org=record.recorded_by_org,
        recorded_by_actor=record.recorded_by_actor,
        recorded_at=convert.timestamp(record.recorded_at_ns),
        signature=record.signature,
        key_id=record.signing_key_id,
    )


def notification_message(n: model.NotificationRecord) -> consents_pb2.Notification:
    return consents_pb2.Notification(
        notification_id=n.notification_id,
        kind=n.kind,
        consent_id=n.consent_id,
        subject=n.subject,
        created_at=convert.timestamp(n.created_at_ns),
        delete_by=convert.timestamp(n.delete_by_ns),
        attested=n.attested,
    )


class ConsentService(Servicer, consents_pb2_grpc.ConsentServiceServicer):
    def _pseudonym_for(self, call: Call, session: Session) -> Any:
        def pseudonym(recipient: str, case_id: str) -> str:
            record = cases.load_record(cases.get_case(session, case_id), call.app.cipher)
            return call.app.pseudonym(recipient, record["resident_id"])

        return pseudonym

    def _end(
        self, session: Session, call: Call, consent_id: str, reason: str, end: Any
    ) -> model.WithdrawalResult:
        """Withdraw or mark in error: the same cascade (referrals, notifications)."""
        result: model.WithdrawalResult = end(
            session,
            consent_id,
            org=call.caller.org,
            actor=call.caller.actor,
            reason=reason,
            now_ns=call.now_ns,
            pseudonym_for=self._pseudonym_for(call, session),
            deadline_days=call.app.config.deletion_deadline_days,
            cipher=call.app.cipher,
        )
        return result

    def _consent_and_case(self, session: Session, call: Call, consent_id: str) -> Any:
        if not consent_id:
            raise errors.InvalidArgument("consent_id is required", field="consent_id")
        # The consent's columns and the case's: what the decision needs, nothing decrypted; the
        # call's subject is the case's store index until ``_open`` (after the decision).
        record = consents.get_consent(session, consent_id, cipher=None)
        case_row = cases.get_case(session, record.case_id)
        call.facts.consent_id = record.consent_id
        call.facts.consent_version = record.version
        seal_subject(call, case_row)
        return record, case_row

    def _consent_resource(self, record: model.ConsentRecord, case_row: Any) -> dict[str, Any]:
        resource = case_resource(case_row)
        resource.update(kind="consent", id=record.consent_id, to_org=record.recipient_org)
        return resource

    async def RecordConsent(
        self, request: consents_pb2.RecordConsentRequest, context: grpc.aio.ServicerContext
    ) -> consents_pb2.RecordConsentResponse:
        return await self.run(context, request, self._record)

    def _record(self, session: Session, call: Call) -> consents_pb2.RecordConsentResponse:
        request: consents_pb2.RecordConsentRequest = call.request  # type: ignore[assignment]
        app = call.app
        draft = draft_from_message(request.consent)
        case_row = cases.get_case(session, draft.case_id)
        seal_subject(call, case_row)
        resource = case_resource(case_row)
        resource.update(kind="consent", to_org=draft.recipient_org)
        call.decide(
            resource=resource, purpose=draft.purpose, subject=subject_attributes(call, case_row)
        )
        open_case(call, case_row)

        def produce() -> consents_pb2.RecordConsentResponse:
            record = consents.record_consent(
                session,
                draft,
                org=call.caller.org,
                actor=call.caller.actor,
                keys=app.keys,
                cipher=app.cipher,
                catalogue=app.catalogue,
                now_ns=call.now_ns,
            )
            call.facts.consent_id = record.consent_id
            call.facts.consent_version = record.version
            return consents_pb2.RecordConsentResponse(consent=consent_message(record))

        return remember(
            session, call, request.request_id, consents_pb2.RecordConsentResponse, produce
        )

    async def GetConsent(
        self, request: consents_pb2.GetConsentRequest, context: grpc.aio.ServicerContext
    ) -> consents_pb2.Consent:
        return await self.run(context, request, self._get)

    def _get(self, session: Session, call: Call) -> consents_pb2.Consent:
        request: consents_pb2.GetConsentRequest = call.request  # type: ignore[assignment]
        record, case_row = self._consent_and_case(session, call, request.consent_id)
        call.decide(resource=self._consent_resource(record, case_row))
        open_case(call, case_row)
        return consent_message(
            consents.effective_consent(
                session, record.consent_id, call.now_ns, cipher=call.app.cipher
            )
        )

    async def ListConsents(
        self, request: consents_pb2.ListConsentsRequest, context: grpc.aio.ServicerContext
    ) -> consents_pb2.ListConsentsResponse:
        return await self.run(context, request, self._list)

    def _list(self, session: Session, call: Call) -> consents_pb2.ListConsentsResponse:
        request: consents_pb2.ListConsentsRequest = call.request  # type: ignore[assignment]
        case_row = cases.get_case(session, request.case_id)
        resource = case_resource(case_row)
        resource["kind"] = "consent"
        call.decide(resource=resource)
        state = _STATE.get(request.state) if request.state else None
        records = consents.list_consents(
            session, case_row.case_id, state, cipher=call.app.cipher, now_ns=call.now_ns
        )
        return consents_pb2.ListConsentsResponse(consents=[consent_message(r) for r in records])

    async def WithdrawConsent(
        self, request: consents_pb2.WithdrawConsentRequest, context: grpc.aio.ServicerContext
    ) -> consents_pb2.WithdrawConsentResponse:
        return await self.run(context, request, self._withdraw)

    def _withdraw(self, session: Session, call: Call) -> consents_pb2.WithdrawConsentResponse:
        request: consents_pb2.WithdrawConsentRequest = call.request  # type: ignore[assignment]
        record, case_row = self._consent_and_case(session, call, request.consent_id)
        call.decide(resource=self._consent_resource(record, case_row))
        open_case(call, case_row)

        def produce() -> consents_pb2.WithdrawConsentResponse:
            result = self._end(session, call, record.consent_id, request.reason, consents.withdraw)
            return consents_pb2.WithdrawConsentResponse(
                consent=consent_message(result.record),
                referrals_cancelled=result.referrals_cancelled,
                recipients_notified=result.recipients_notified,
            )

        return remember(
            session, call, request.request_id, consents_pb2.WithdrawConsentResponse, produce
        )

    async def MarkEnteredInError(
        self, request: consents_pb2.MarkEnteredInErrorRequest, context: grpc.aio.ServicerContext
    ) -> consents_pb2.Consent:
        return await self.run(context, request, self._mark_in_error)

    def _mark_in_error(self, session: Session, call: Call) -> consents_pb2.Consent:
        request: consents_pb2.MarkEnteredInErrorRequest = call.request  # type: ignore[assignment]
        record, case_row = self._consent_and_case(session, call, request.consent_id)
        call.decide(resource=self._consent_resource(record, case_row))
        open_case(call, case_row)

        def produce() -> consents_pb2.Consent:
            result = self._end(
                session, call, record.consent_id, request.reason, consents.mark_entered_in_error
            )
            return consent_message(result.record)

        return remember(session, call, request.request_id, consents_pb2.Consent, produce)

    async def GetConsentReceipt(
        self, request: consents_pb2.GetConsentReceiptRequest, context: grpc.aio.ServicerContext
    ) -> consents_pb2.ConsentReceipt:
        return await self.run(context, request, self._receipt)

    def _receipt(self, session: Session, call: Call) -> consents_pb2.ConsentReceipt:
        request: consents_pb2.GetConsentReceiptRequest = call.request  # type: ignore[assignment]
        record, case_row = self._consent_and_case(session, call, request.consent_id)
        call.decide(resource=self._consent_resource(record, case_row))
        open_case(call, case_row)
        receipt = receipts.make_receipt(
            consents.get_consent(session, record.consent_id, cipher=call.app.cipher),
            public_key=call.app.keys.public_key("consent"),
            key_id=record.signing_key_id,
        )
        return consents_pb2.ConsentReceipt(json=receipt.json, text=receipt.text)

    async def ListConsentEvents(
        self, request: consents_pb2.ListConsentEventsRequest, context: grpc.aio.ServicerContext
    ) -> consents_pb2.ListConsentEventsResponse:
        return await self.run(context, request, self._events)

    def _events(self, session: Session, call: Call) -> consents_pb2.ListConsentEventsResponse:
        request: consents_pb2.ListConsentEventsRequest = call.request  # type: ignore[assignment]
        record, case_row = self._consent_and_case(session, call, request.consent_id)
        call.decide(resource=self._consent_resource(record, case_row))
        open_case(call, case_row)
        return consents_pb2.ListConsentEventsResponse(
            events=[
                consents_pb2.ConsentEvent(
                    consent_id=e.consent_id,
                    event=e.event,
                    at=convert.timestamp(e.at_ns),
                    actor=e.actor,
                    org=e.org,
                    reason=e.reason,
                )
                for e in consents.events(session, record.consent_id)
            ]
        )

    async def ListNotifications(
        self, request: consents_pb2.ListNotificationsRequest, context: grpc.aio.ServicerContext
    ) -> consents_pb2.ListNotificationsResponse:
        return await self.run(context, request, self._notifications)

    def _notifications(
        self, session: Session, call: Call
    ) -> consents_pb2.ListNotificationsResponse:
        request: consents_pb2.ListNotificationsRequest = call.request  # type: ignore[assignment]
        call.decide(resource={"kind": "none"})  # scoped to the caller's own below
        found = consents.list_notifications(
            session, call.caller.org, include_attested=request.include_attested
        )
        return consents_pb2.ListNotificationsResponse(
            notifications=[notification_message(n) for n in found]
        )

    async def AttestDeletion(
        self, request: consents_pb2.AttestDeletionRequest, context: grpc.aio.ServicerContext
    ) -> consents_pb2.AttestDeletionResponse:
        return await self.run(context, request, self._attest)

    def _attest(self, session: Session, call: Call) -> consents_pb2.AttestDeletionResponse:
        request: consents_pb2.AttestDeletionRequest = call.request  # type: ignore[assignment]
        notification = session.get(Notification, request.notification_id)
        if notification is None:
            raise errors.NotFound(
                f"notification {request.notification_id!r} not found", field="notification_id"
            )
        # The entry names the person and the consent, so the person's access report lists it.
        _, case_row = self._consent_and_case(session, call, notification.consent_id)
        call.decide(
            resource={
                "kind": "notification",
                "id": notification.notification_id,
                "owner_org": notification.org,
            }
        )
        open_case(call, case_row)

        def produce() -> consents_pb2.AttestDeletionResponse:
            notification = consents.attest_deletion(
                session,
                request.notification_id,
                org=call.caller.org,
                actor=call.caller.actor,
                statement=request.statement,
                now_ns=call.now_ns,
            )
            return consents_pb2.AttestDeletionResponse(
                notification=notification_message(notification)
            )

        return remember(
            session, call, request.request_id, consents_pb2.AttestDeletionResponse, produce
        )

    async def ListOverdueDeletions(
        self, request: consents_pb2.ListOverdueDeletionsRequest, context: grpc.aio.ServicerContext
    ) -> consents_pb2.ListOverdueDeletionsResponse:
        return await self.run(context, request, self._overdue)

    def _overdue(self, session: Session, call: Call) -> consents_pb2.ListOverdueDeletionsResponse:
        call.decide(resource={"kind": "none"})
        return consents_pb2.ListOverdueDeletionsResponse(
            notifications=[
                notification_message(n) for n in consents.overdue_deletions(session, call.now_ns)
            ]
        )
