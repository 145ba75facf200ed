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
from gateway.exchange import Call
from gateway.ledger import log as ledger_log
from gateway.services import convert
from gateway.services.base import Servicer
from gateway.store.models import LedgerEntry

LEDGER = {"kind": "ledger"}
MAX_ROW_ID = 2**63 - 1  # page tokens are ledger row ids: BIGINT


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
        query = select(LedgerEntry)
        if request.org:
            query = query.where(LedgerEntry.org == request.org)
        if request.actor:
            query = query.where(LedgerEntry.actor == request.actor)
        if request.subject_resident_id:
            query = query.where(
                LedgerEntry.subject == call.app.ledger_subject(request.subject_resident_id)
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
        return response

    async def GetCheckpoint(
        self, request: audit_pb2.GetCheckpointRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.Checkpoint:
        return await self.run_read(context, request, self._checkpoint)

    def _checkpoint(self, session: Session, call: Call) -> audit_pb2.Checkpoint:
        call.decide(resource=LEDGER)
        latest = call.app.ledger.latest_checkpoint()
        if latest is None:
            raise errors.FailedPrecondition("no checkpoint has been signed yet")
        note, size, root = latest
        return audit_pb2.Checkpoint(note=note, tree_size=size, root_hash=_b64(root))

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

    async def ExportLedger(
        self, request: audit_pb2.ExportLedgerRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        await self.unimplemented(context, request)
        yield audit_pb2.LedgerEntry()  # pragma: no cover - unimplemented aborts first
