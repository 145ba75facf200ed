"""CaseService: government registers cases; charities pull consented, pseudonymised summaries."""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Any

import grpc
from sqlalchemy import Table
from sqlalchemy.orm import Session

from aidbridge.v1 import cases_pb2, cases_pb2_grpc
from gateway import cases, errors, referrals
from gateway.clock import to_date
from gateway.consent import repository as consents
from gateway.consent.model import policy_view
from gateway.exchange import Call, exchange_of, remember
from gateway.integrity import detectors
from gateway.integrity.approvals import conflict_fact_of
from gateway.ledger import entry as ledger_entry
from gateway.privacy import disclosure, release
from gateway.referrals import reads
from gateway.services import convert
from gateway.services.base import Servicer
from gateway.services.integrity import hold_for_second_approval
from gateway.store.models import LedgerEntry

CONTACT_OUTPUT = ("name", "phone", "address")
# Rows of a stream read, decided and ledgered together (and made k-anonymous together).
PAGE_SIZE = 500
# The method of a stream's per-summary entries: the stream's call has an entry of its own (the
# page it sent), and every summary one more, under the stream's method with this suffix.
SUMMARY_ENTRY = "/summary"
_LEDGER_TABLE: Table = LedgerEntry.__table__  # type: ignore[assignment]


def subject_attributes(call: Call, row: Any) -> dict[str, Any]:
    """input.subject of a case (an ORM ``Case`` or a Core row of one): the age today (China
    time) and capacity, for the guardian and minors' rules, and the instants the age crosses 14
    and 18, which bound the interval in which the decision holds (policies/aidbridge/holds.rego)."""
    return {
        "age_years": cases.age_on(row.birth_date, to_date(call.now_ns)),
        "lacks_capacity": bool(row.lacks_capacity),
        "turns_14_ns": cases.birthday_ns(row.birth_date, 14),
        "turns_18_ns": cases.birthday_ns(row.birth_date, 18),
    }


def seal_subject(call: Call, row: Any) -> None:
    """Before the decision: the call's subject named by the case's store index, so a refusal is
    ledgered under the person (a compliance query by resident id finds it) while the case stays
    sealed."""
    call.facts.subject = call.app.ledger_subject_of_index(row.subject_index)


def open_case(call: Call, row: Any) -> dict[str, Any]:
    """Once the decision allowed the call: the case decrypted, and the call's subject named by
    the resident id in place of the store index."""
    record = cases.load_record(row, call.app.cipher)
    call.facts.subject = call.app.ledger_subject(record["resident_id"])
    return record


def case_resource(row: Any) -> dict[str, Any]:
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
        row = cases.read_case(session, request.case_id)
        seal_subject(call, row)
        call.decide(resource=case_resource(row))
        record = open_case(call, row)
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
        detectors.count_call(session, call)
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
        detectors.count_call(session, call)
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
        # The page in one statement: each referral with its case, its consent and whether the
        # caller already received data under it (``gateway.referrals.reads``).
        rows = reads.page(
            session,
            org=call.caller.org,
            actor=call.caller.actor,
            states=[request.state] if request.state else referrals.LIVE_FOR["summary"],
            updated_since_ns=request.updated_since_ns,
            after=after,
            # The enum's numbers are the severity ranks (low 1 … urgent 4).
            severity_rank=int(request.severity) if request.severity else None,
            limit=PAGE_SIZE,
        )
        call.facts.purpose = request.purpose
        entries: list[Any] = []
        decided: list[tuple[Call, Any, dict[str, Any], tuple[tuple[str, str], ...]]] = []
        for referral in rows:
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
                    session, one, referral, referral, request.purpose, "summary"
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
        page = cases_pb2.CaseSummaryPage(last_referral_id=rows[-1].referral_id if more else "")
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
        # The page's entry carries a spike its summaries make (they are counted as releases).
        detectors.count_call(session, call, len(page.summaries))
        # Each summary's own entry, computed here (canonical JSON, leaf hash, tag) and inserted
        # with the page's entry in the batch's one multi-row insert: the writer runs no
        # statement per summary. Kept only if the page's exchange is.
        method = call.method + SUMMARY_ENTRY
        authenticator = call.app.ledger.authenticator
        call.inserts.extend(
            (_LEDGER_TABLE, ledger_entry.prepared_row(replace(e, method=method), authenticator))
            for e in entries
        )
        return page


def _release(
    session: Session, call: Call, referral_id: str, purpose: str, release_kind: str
) -> tuple[dict[str, Any], tuple[tuple[str, str], ...], Any]:
    """Case data of one referral for a charity (see ``_summary_release``). Returns (values,
    released fields, referral). The referral, its case and its consent are read in one
    statement (``gateway.referrals.reads``)."""
    if not purpose:
        raise errors.InvalidArgument("purpose is required", field="purpose")
    read = reads.one_referral(session, referral_id, org=call.caller.org, actor=call.caller.actor)
    values, released = _summary_release(session, call, read, read, purpose, release_kind)
    return values, released, read


def _summary_release(
    session: Session,
    call: Call,
    referral: reads.ReleaseRead,
    row: reads.ReleaseRead,
    purpose: str,
    release_kind: str,
) -> tuple[dict[str, Any], tuple[tuple[str, str], ...]]:
    """The one path of case data to a charity, for a single pull and for every row of a
    stream: the referral must be live and its consent effective now; the policy decides which
    fields leave and how. The case is decrypted only once the policy allowed the release.
    ``referral`` and ``row`` are rows of ``gateway.referrals.reads`` (the same row)."""
    app = call.app
    consent = reads.effective_consent(referral, call.now_ns)
    try:
        call.decide(
            resource=referrals.policy_resource(referral, row),
            purpose=purpose,
            release=release_kind,
            subject=subject_attributes(call, row),
            consent=policy_view(consent),
            conflict=conflict_fact_of(
                reads.declared_relationships(
                    session, row, org=call.caller.org, actor=call.caller.actor
                )
            ),
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
    if not referral.released:
        call.defer(
            lambda s: consents.record_release(s, referral.consent_id, call.caller.org, call.now_ns)
        )
    call.facts.fields_released = released.fields
    values = dict(released.values)
    values["_resident_id"] = record["resident_id"]
    return values, released.fields


def _summary_message(
    call: Call,
    referral: reads.ReleaseRead,
    values: dict[str, Any],
    released: tuple[tuple[str, str], ...],
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
