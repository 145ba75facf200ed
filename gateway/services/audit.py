"""AuditService: compliance officers query and verify the ledger. Their own queries are
exchanges too, and are ledgered like any other call."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import threading
from dataclasses import dataclass
from typing import Any

import grpc
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from aidbridge.v1 import audit_pb2, audit_pb2_grpc
from gateway import errors
from gateway.access_report.lines import ReportLine, report_lines
from gateway.app import Gateway
from gateway.exchange import Call, Caller, record_refusal
from gateway.ledger import log as ledger_log
from gateway.ledger.export import export_range, write_bundle
from gateway.ledger.witness_publishing import PublishedCheckpoint
from gateway.services import convert
from gateway.services.base import INTERNAL_MESSAGE, STATUS, Servicer, log
from gateway.store import StoreUnavailable
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
                size = published.size
                proven = [e for e in response.entries if 0 <= e.index < size]
                # The page's proofs from one read of the stored nodes they need.
                proofs = call.app.ledger.inclusion_proofs([e.index for e in proven], size)
                for entry, proof in zip(proven, proofs, strict=True):
                    entry.inclusion.CopyFrom(
                        audit_pb2.InclusionProof(
                            index=entry.index, tree_size=size, hashes=[_b64(h) for h in proof]
                        )
                    )
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
        """Stream the export bundle of a range in chunks of at most 1 MiB. The call is decided,
        its range checked and its one ledger entry (naming the range) made durable before the
        first byte leaves; the bundle is then written by ``write_bundle`` in a thread of its own,
        reading the rows in batches, at most a few chunks ahead of the client."""
        plans: list[_ExportPlan] = []
        await self.run_read(context, request, functools.partial(_export_plan, plans=plans))
        plan = plans[0]
        pipe = _ChunkPipe(asyncio.get_running_loop())
        producer = threading.Thread(
            target=_produce, args=(self.app, plan, pipe), name="ledger-export", daemon=True
        )
        producer.start()
        try:
            while True:
                item = await pipe.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    await self._export_failed(context, plan, pipe.sent, item)
                    return  # unreachable: it aborts
                pipe.sent += len(item)
                yield audit_pb2.ExportLedgerChunk(data=item)
        finally:
            pipe.stop()
            await asyncio.to_thread(producer.join)

    async def _export_failed(
        self, context: grpc.aio.ServicerContext, plan: _ExportPlan, sent: int, exc: BaseException
    ) -> None:
        """The bundle could not be finished after its entry said OK: a second entry says where
        it stopped, and the client gets an error, never a truncated bundle passed off as whole."""
        if isinstance(exc, (SQLAlchemyError, StoreUnavailable)):
            code, what = "UNAVAILABLE", "store unavailable"
        else:
            code, what = "INTERNAL", INTERNAL_MESSAGE
            log.error("export failed with a defect", method=plan.method, error=type(exc).__name__)
        reason = f"{plan.describe()} stopped after {sent} bytes: {what}"
        try:
            await asyncio.to_thread(
                record_refusal, self.app, plan.caller, plan.method, code, reason
            )
        except errors.Unavailable as unavailable:
            await context.abort(grpc.StatusCode.UNAVAILABLE, unavailable.message)
        await context.abort(STATUS[code], reason)


@dataclass(frozen=True)
class _ExportPlan:
    """What an allowed ExportLedger call streams: the range under the published checkpoint."""

    caller: Caller
    method: str
    published: PublishedCheckpoint
    from_index: int
    to_index: int
    witnesses: tuple[tuple[str, str], ...]
    exported_at_ns: int

    def describe(self) -> str:
        return (
            f"export of entries [{self.from_index}, {self.to_index}) under the checkpoint of "
            f"{self.published.size} (root {self.published.root.hex()})"
        )


def _export_plan(session: Session, call: Call, *, plans: list[_ExportPlan]) -> audit_pb2.Checkpoint:
    """The exchange of an export: policy, the published checkpoint, the range checked as the
    CLI checks it. Its response (digested into the entry) is the checkpoint exported under."""
    request: audit_pb2.ExportLedgerRequest = call.request  # type: ignore[assignment]
    call.decide(resource=LEDGER)
    published = _require_published(session, call)
    lo, hi = export_range(published.size, request.from_index, request.to_index)
    plan = _ExportPlan(
        caller=call.caller,
        method=call.method,
        published=published,
        from_index=lo,
        to_index=hi,
        witnesses=tuple((w.name, w.key.vkey) for w in call.app.publisher.witnesses),
        exported_at_ns=call.now_ns,
    )
    call.facts.note = plan.describe()
    plans.append(plan)
    return _checkpoint_message(published)


EXPORT_CHUNK_BYTES = 1 << 20
_PIPE_DEPTH = 4  # chunks written ahead of the client at most
_PIPE_POLL_S = 0.25


class _Stopped(Exception):
    """The stream ended (the client went away or the server stops): stop writing."""


class _ChunkPipe:
    """From the producer thread to the servicer's coroutine: a bounded queue of chunks, then
    None (the end) or the exception that stopped the producer."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue(_PIPE_DEPTH)
        self._stopped = threading.Event()
        self.sent = 0

    def put(self, item: bytes | BaseException | None) -> None:
        """From the producer thread: wait for room, unless the stream has stopped."""
        if self._stopped.is_set():
            raise _Stopped
        try:
            future = asyncio.run_coroutine_threadsafe(self._queue.put(item), self._loop)
        except RuntimeError as exc:  # the loop is closed
            raise _Stopped from exc
        while True:
            try:
                future.result(timeout=_PIPE_POLL_S)
                return
            except TimeoutError:
                if self._stopped.is_set():
                    future.cancel()
                    raise _Stopped from None

    async def get(self) -> bytes | BaseException | None:
        return await self._queue.get()

    def stop(self) -> None:
        self._stopped.set()


class _ChunkSink:
    """A binary file for ``write_bundle`` that hands on chunks of ``EXPORT_CHUNK_BYTES``."""

    def __init__(self, pipe: _ChunkPipe) -> None:
        self._pipe = pipe
        self._buffer = bytearray()

    def write(self, data: bytes) -> int:
        buffer = self._buffer
        buffer += data
        while len(buffer) >= EXPORT_CHUNK_BYTES:
            self._pipe.put(bytes(buffer[:EXPORT_CHUNK_BYTES]))
            del buffer[:EXPORT_CHUNK_BYTES]
        return len(data)

    def close(self) -> None:
        if self._buffer:
            self._pipe.put(bytes(self._buffer))
            self._buffer.clear()


def _produce(app: Gateway, plan: _ExportPlan, pipe: _ChunkPipe) -> None:
    """The producer thread: the bundle as ``write_bundle`` writes it, in one read transaction."""
    sink = _ChunkSink(pipe)
    try:
        with app.store.read() as session:
            write_bundle(
                session,
                sink,  # type: ignore[arg-type]
                plan.published,
                app.vkey,
                from_index=plan.from_index,
                to_index=plan.to_index,
                witnesses=plan.witnesses,
                exported_at_ns=plan.exported_at_ns,
            )
        sink.close()
        pipe.put(None)
    except _Stopped:
        return
    except BaseException as exc:  # handed to the servicer, which ledgers and answers it
        with contextlib.suppress(_Stopped):
            pipe.put(exc)


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
