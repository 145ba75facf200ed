"""AuditService: compliance officers query and verify the ledger. Their own queries are
exchanges too, and are ledgered like any other call."""

from __future__ import annotations

import base64
from typing import Any

import grpc
from sqlalchemy import select
from sqlalchemy.orm import Session

from aidbridge.v1 import audit_pb2, audit_pb2_grpc
from gateway import errors
from gateway.access_report.lines import ReportLine, report_lines
from gateway.exchange import Call
from gateway.ledger import log as ledger_log
from gateway.ledger.witness_publishing import PublishedCheckpoint
from gateway.services import convert
from gateway.services.base import Servicer
from gateway.store.models import Case, LedgerEntry

LEDGER = {"kind": "ledger"}
MAX_ROW_ID = 2**63 - 1  # page tokens are ledger row ids: BIGINT
MAX_PROOFS_PER_PAGE = 100  # a proof per entry: a page with proofs is kept smaller


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def entry_message(row: LedgerEntry) -> audit_pb2.LedgerEntry:
    return audit_pb2.LedgerEntry(
        index=row.idx if row.idx is not None else -1,
        entry_json=row.entry_json,
        leaf_hash=_b64(row.leaf_hash),
        at=convert.timestamp(row.at_ns),
        org=row.org,
        role=row.role,
        actor=row.actor,
        method=row.method,
        subject=row.subject,
        outcome=row.outcome,
        reason=row.reason,
    )


class AuditService(Servicer, audit_pb2_grpc.AuditServiceServicer):
    async def QueryLedger(
        self, request: audit_pb2.QueryLedgerRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.QueryLedgerResponse:
        return await self.run_read(context, request, self._query)

    def _query(self, session: Session, call: Call) -> audit_pb2.QueryLedgerResponse:
        request: audit_pb2.QueryLedgerRequest = call.request  # type: ignore[assignment]
        call.decide(resource=LEDGER)
        size = request.page.page_size or 50
        if not 0 < size <= 500:
            raise errors.InvalidArgument("page.page_size must be between 1 and 500", field="page")
        if request.with_proofs and size > MAX_PROOFS_PER_PAGE:
            raise errors.InvalidArgument(
                f"page.page_size must be at most {MAX_PROOFS_PER_PAGE} with with_proofs "
                f"(each entry carries a proof), found {size}",
                field="page.page_size",
            )
        query = select(LedgerEntry)
        if request.org:
            query = query.where(LedgerEntry.org == request.org)
        if request.actor:
            query = query.where(LedgerEntry.actor == request.actor)
        if request.subject_resident_id:
            query = query.where(
                LedgerEntry.subject.in_(call.app.ledger_subjects(request.subject_resident_id))
            )
        if request.method:
            query = query.where(LedgerEntry.method == request.method)
        if request.outcome:
            query = query.where(LedgerEntry.outcome == request.outcome)
        if request.HasField("since"):
            query = query.where(LedgerEntry.at_ns >= convert.from_timestamp(request.since))
        if request.HasField("until"):
            query = query.where(LedgerEntry.at_ns < convert.from_timestamp(request.until))
        if request.page.page_token:
            try:
                after = int(request.page.page_token)
            except ValueError as exc:
                raise errors.InvalidArgument("page.page_token is not valid", field="page") from exc
            if not 0 <= after <= MAX_ROW_ID:  # beyond a BIGINT the database cannot compare it
                raise errors.InvalidArgument(
                    "page.page_token is not valid", field="page.page_token"
                )
            query = query.where(LedgerEntry.id > after)
        rows = list(session.scalars(query.order_by(LedgerEntry.id).limit(size + 1)))
        response = audit_pb2.QueryLedgerResponse(entries=[entry_message(r) for r in rows[:size]])
        if len(rows) > size:
            response.next_page_token = str(rows[size - 1].id)
        if request.with_proofs:
            published = call.app.publisher.published(session)
            if published is not None:
                response.checkpoint.CopyFrom(_checkpoint_message(published))
                for entry in response.entries:
                    if 0 <= entry.index < published.size:
                        entry.inclusion.CopyFrom(_inclusion(call, entry.index, published.size))
        return response

    async def GetCheckpoint(
        self, request: audit_pb2.GetCheckpointRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.Checkpoint:
        return await self.run_read(context, request, self._checkpoint)

    def _checkpoint(self, session: Session, call: Call) -> audit_pb2.Checkpoint:
        call.decide(resource=LEDGER)
        return _checkpoint_message(_require_published(session, call))

    async def GetInclusionProof(
        self, request: audit_pb2.GetInclusionProofRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.InclusionProof:
        return await self.run_read(context, request, self._inclusion)

    def _inclusion(self, session: Session, call: Call) -> audit_pb2.InclusionProof:
        request: audit_pb2.GetInclusionProofRequest = call.request  # type: ignore[assignment]
        call.decide(resource=LEDGER)
        try:
            proof = call.app.ledger.inclusion_proof(request.index, request.tree_size)
        except ValueError as exc:
            raise errors.InvalidArgument(str(exc), field="index") from exc
        return audit_pb2.InclusionProof(
            index=request.index, tree_size=request.tree_size, hashes=[_b64(h) for h in proof]
        )

    async def GetConsistencyProof(
        self, request: audit_pb2.GetConsistencyProofRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.ConsistencyProof:
        return await self.run_read(context, request, self._consistency)

    def _consistency(self, session: Session, call: Call) -> audit_pb2.ConsistencyProof:
        request: audit_pb2.GetConsistencyProofRequest = call.request  # type: ignore[assignment]
        call.decide(resource=LEDGER)
        try:
            proof = call.app.ledger.consistency_proof(request.from_size, request.to_size)
        except ValueError as exc:
            raise errors.InvalidArgument(str(exc), field="from_size") from exc
        return audit_pb2.ConsistencyProof(
            from_size=request.from_size, to_size=request.to_size, hashes=[_b64(h) for h in proof]
        )

    async def VerifyLedger(
        self, request: audit_pb2.VerifyLedgerRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.VerifyLedgerResponse:
        return await self.run_read(context, request, self._verify)

    def _verify(self, session: Session, call: Call) -> audit_pb2.VerifyLedgerResponse:
        call.decide(resource=LEDGER)
        report = ledger_log.verify(call.app.store, call.app.vkey, call.app.ledger.authenticator)
        return audit_pb2.VerifyLedgerResponse(
            ok=report.ok,
            tree_size=report.tree_size,
            root_hash=_b64(report.root),
            problems=list(report.problems),
        )

    async def GetAccessReport(
        self, request: audit_pb2.GetAccessReportRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.AccessReport:
        return await self.run_read(context, request, self._access_report)

    def _access_report(self, session: Session, call: Call) -> audit_pb2.AccessReport:
        request: audit_pb2.GetAccessReportRequest = call.request  # type: ignore[assignment]
        if not request.resident_id:
            raise errors.InvalidArgument("resident_id is required", field="resident_id")
        app = call.app
        subject = app.ledger_subject(request.resident_id)
        call.facts.subject = subject
        call.decide(resource=_person_resource(session, call, request.resident_id))
        published = app.publisher.published(session)
        size = published.size if published else 0
        lines = report_lines(session, subject, tree_size=size, prove=app.ledger.inclusion_proof)
        report = audit_pb2.AccessReport(
            subject=subject,
            generated_at=convert.timestamp(call.now_ns),
            lines=[_report_line(call, line) for line in lines],
        )
        if published is not None:
            report.checkpoint.CopyFrom(_checkpoint_message(published))
        return report

    async def ExportLedger(
        self, request: audit_pb2.ExportLedgerRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        await self.unimplemented(context, request)
        yield audit_pb2.LedgerEntry()  # pragma: no cover - unimplemented aborts first


def _require_published(session: Session, call: Call) -> PublishedCheckpoint:
    publisher = call.app.publisher
    published = publisher.published(session)
    if published is not None:
        return published
    if publisher.quorum:
        raise errors.FailedPrecondition(
            f"no checkpoint has been cosigned by {publisher.quorum} of the "
            f"{len(publisher.witnesses)} witnesses yet: publication waits for them"
        )
    raise errors.FailedPrecondition("no checkpoint has been signed yet")


def _checkpoint_message(published: PublishedCheckpoint) -> audit_pb2.Checkpoint:
    return audit_pb2.Checkpoint(
        note=published.note,
        tree_size=published.size,
        root_hash=_b64(published.root),
        cosigned_by=list(published.cosigned_by),
    )


def _inclusion(call: Call, index: int, size: int) -> audit_pb2.InclusionProof:
    proof = call.app.ledger.inclusion_proof(index, size)
    return audit_pb2.InclusionProof(index=index, tree_size=size, hashes=[_b64(h) for h in proof])


def _person_resource(session: Session, call: Call, resident_id: str) -> dict[str, Any]:
    """The person's case as the policy's resource (a report reaches as far as the case does):
    the caller's own case of the person if it has one, else the latest; none if no case."""
    rows = session.execute(
        select(Case.case_id, Case.office_id, Case.street)
        .where(Case.subject_index == call.app.subject_index(resident_id))
        .order_by(Case.created_at_ns.desc())
    ).all()
    if not rows:
        return {"kind": "none"}
    own = [r for r in rows if r.office_id == call.caller.org]
    case = (own or rows)[0]
    return {"kind": "case", "id": case.case_id, "office_id": case.office_id, "street": case.street}


def _report_line(call: Call, line: ReportLine) -> audit_pb2.AccessReportLine:
    org = call.app.catalogue.org(line.org)
    message = audit_pb2.AccessReportLine(
        kind=line.kind,
        index=line.index,
        at=convert.timestamp(line.at_ns),
        org=line.org,
        org_name=org.name if org is not None else "",
        actor=line.actor,
        method=line.method,
        fields=convert.released_fields(line.fields),
        consent_id=line.consent_id,
        consent_version=line.consent_version,
        purpose=line.purpose,
        entry_json=line.entry_json,
    )
    if line.proof is not None:
        message.inclusion.CopyFrom(
            audit_pb2.InclusionProof(
                index=line.index,
                tree_size=line.proof_size,
                hashes=[_b64(h) for h in line.proof],
            )
        )
    return message
