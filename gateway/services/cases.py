"""CaseService: government registers cases; charities pull consented, pseudonymised summaries."""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Any

import grpc
from sqlalchemy import select
from sqlalchemy.orm import Session

from aidbridge.v1 import cases_pb2, cases_pb2_grpc
from gateway import cases, errors, referrals
from gateway.clock import to_date
from gateway.consent import repository as consents
from gateway.consent.model import policy_view
from gateway.exchange import Call, exchange_of, remember
from gateway.ledger import entry as ledger_entry
from gateway.privacy import disclosure, release
from gateway.services import convert
from gateway.services.base import Servicer
from gateway.services.integrity import conflict_fact_of_index, hold_for_second_approval
from gateway.store.models import Case, Referral, Release

CONTACT_OUTPUT = ("name", "phone", "address")
# Rows of a stream read, decided and ledgered together (and made k-anonymous together).
PAGE_SIZE = 500
# The method of a stream's per-summary entries: the stream's call has an entry of its own (the
# page it sent), and every summary one more, under the stream's method with this suffix.
SUMMARY_ENTRY = "/summary"


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
        return _summary_message(call, referral, values, released)

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
        """Pages of the caller's live referrals, each page read, decided row by row, made
        k-anonymous and ledgered (one entry per summary, refused ones included) before it is
        sent; consent is read again for every page, so a withdrawal stops the person's next
        summaries."""
        after = ""
        while True:
            page = await self.run_read(
                context, request, functools.partial(self._stream_page, after=after)
            )
            for summary in page.summaries:
                yield summary
            if not page.last_referral_id:
                return
            after = page.last_referral_id

    def _stream_page(
        self, session: Session, call: Call, *, after: str
    ) -> cases_pb2.CaseSummaryPage:
        request: cases_pb2.StreamCaseSummariesRequest = call.request  # type: ignore[assignment]
        if not request.purpose:
            raise errors.InvalidArgument("purpose is required", field="purpose")
        if request.state and request.state not in referrals.LIVE_FOR["summary"]:
            raise errors.InvalidArgument(
                f"state {request.state!r} is not a state whose summary can be released",
                field="state",
            )
        query = (
            select(Referral, Case)
            .join(Case, Case.case_id == Referral.case_id)
            .where(
                Referral.to_org == call.caller.org,
                Referral.state.in_(
                    [request.state] if request.state else sorted(referrals.LIVE_FOR["summary"])
                ),
                Referral.updated_at_ns >= request.updated_since_ns,
                Referral.referral_id > after,
            )
            .order_by(Referral.referral_id)
            .limit(PAGE_SIZE)
        )
        if request.severity:
            # The enum's numbers are the severity ranks (low 1 … urgent 4).
            query = query.where(Referral.severity_rank == int(request.severity))
        rows = session.execute(query).all()
        # Which of the page's consents already released data to the caller: one query.
        released_to_caller = frozenset(
            session.scalars(
                select(Release.consent_id).where(
                    Release.org == call.caller.org,
                    Release.consent_id.in_({r.consent_id for r, _ in rows}),
                )
            )
        )
        call.facts.purpose = request.purpose
        entries: list[Any] = []
        decided: list[tuple[Call, Referral, dict[str, Any], tuple[tuple[str, str], ...]]] = []
        for referral, case_row in rows:
            one = Call(
                app=call.app,
                caller=call.caller,
                method=call.method,
                request=call.request,
                now_ns=call.now_ns,
                deadline=call.deadline,
            )
            try:
                values, released = _summary_release(
                    session, one, referral, case_row, request.purpose, "summary", released_to_caller
                )
            except errors.AidBridgeError as exc:
                reason = f"referral {referral.referral_id}: {exc.message}"
                entries.append(exchange_of(one, exc.code, reason, None))
                continue
            call.deferred.extend(one.deferred)
            decided.append((one, referral, values, released))
        anonymous, outcome = release.anonymise(
            [v for _, _, v, _ in decided], call.app.config.release_k
        )
        note = outcome.describe(call.app.config.release_k)
        more = len(rows) == PAGE_SIZE
        page = cases_pb2.CaseSummaryPage(last_referral_id=rows[-1][0].referral_id if more else "")
        for (one, referral, values, released), sent in zip(decided, anonymous, strict=True):
            if sent is None:
                entry = exchange_of(one, "OK", note + "; this summary suppressed", None)
                entry = replace(entry, fields_released=())
            else:
                withheld = release.withheld_fields(values, sent)
                fields = tuple(f for f in released if f[0] not in withheld)
                summary = _summary_message(call, referral, sent, fields)
                page.summaries.append(summary)
                one.facts.fields_released = fields
                entry = exchange_of(one, "OK", note, summary)
            entries.append(entry)
        call.defer(functools.partial(_append_entries, entries=entries, call=call))
        return page


def _append_entries(session: Session, *, entries: list[Any], call: Call) -> None:
    method = call.method + SUMMARY_ENTRY
    for entry in entries:
        ledger_entry.append(session, replace(entry, method=method), call.app.ledger.authenticator)


def _release(
    session: Session, call: Call, referral_id: str, purpose: str, release_kind: str
) -> tuple[dict[str, Any], tuple[tuple[str, str], ...], Any]:
    """Case data of one referral for a charity (see ``_summary_release``). Returns (values,
    released fields, referral)."""
    if not purpose:
        raise errors.InvalidArgument("purpose is required", field="purpose")
    referral = referrals.get_referral(session, referral_id)
    row = cases.get_case(session, referral.case_id)
    values, released = _summary_release(session, call, referral, row, purpose, release_kind)
    return values, released, referral


def _summary_release(
    session: Session,
    call: Call,
    referral: Referral,
    row: Case,
    purpose: str,
    release_kind: str,
    released_to_caller: frozenset[str] | None = None,
) -> tuple[dict[str, Any], tuple[tuple[str, str], ...]]:
    """The one path of case data to a charity, for a single pull and for every row of a
    stream: the referral must be live and its consent effective now; the policy decides which
    fields leave and how. The case is decrypted only once the policy allowed the release."""
    app = call.app
    consent = consents.effective_consent(session, referral.consent_id, call.now_ns)
    try:
        call.decide(
            resource=referrals.policy_resource(referral, row),
            purpose=purpose,
            release=release_kind,
            subject=subject_attributes(call, row),
            consent=policy_view(consent),
            conflict=conflict_fact_of_index(session, call, row.subject_index),
        )
        hold_for_second_approval(session, call, deferred=True)
        referrals.require_live(referral, release_kind)
    except errors.AidBridgeError:
        # Refused: the case stays sealed; the refusal's entry names its subject by the case's
        # store index (``ledger_subject_of_index``), and nothing of it leaves.
        call.facts.subject = app.ledger_subject_of_index(row.subject_index)
        raise
    record = cases.load_record(row, app.cipher)
    call.facts.subject = app.ledger_subject(record["resident_id"])
    released, _ = disclosure.release_case(call, record, today=to_date(call.now_ns))
    if not released.fields:
        raise errors.PermissionDenied("the policy releases no field of this case to you")
    if released_to_caller is not None:
        known = referral.consent_id in released_to_caller
    else:
        known = consents.released_before(session, referral.consent_id, call.caller.org)
    if not known:
        call.defer(
            lambda s: consents.record_release(s, referral.consent_id, call.caller.org, call.now_ns)
        )
    call.facts.fields_released = released.fields
    values = dict(released.values)
    values["_resident_id"] = record["resident_id"]
    return values, released.fields


def _summary_message(
    call: Call, referral: Referral, values: dict[str, Any], released: tuple[tuple[str, str], ...]
) -> cases_pb2.CaseSummary:
    shown = {k: v for k, v in values.items() if k != "_resident_id"}
    return cases_pb2.CaseSummary(
        subject=call.app.pseudonym(call.caller.org, values["_resident_id"]),
        referral_id=referral.referral_id,
        released=convert.released_fields(released),
        consent_id=referral.consent_id,
        purpose=referral.purpose,
        **convert.summary_values(shown),
    )
