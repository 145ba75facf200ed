"""IntegrityService: the conflict-of-interest register (``gateway.integrity.register``) and
second approvals of held actions (``gateway.integrity.approvals``).

Staff of offices and charities declare their relatives and close relations and withdraw their
declarations; each call is one exchange (policy decision, store, ledger entry). The relative's
resident id is turned into the gateway's keyed index here and goes no further; the ledger entry
names the person only by their ledger pseudonym.
"""

from __future__ import annotations

import grpc
from sqlalchemy.orm import Session

from aidbridge.v1 import integrity_pb2, integrity_pb2_grpc
from gateway.exchange import Call, digest, remember
from gateway.integrity import approvals, flags, register
from gateway.services import convert
from gateway.services.base import Servicer
from gateway.store.models import IdempotentRequest

_RELATIONSHIP_PREFIX = "RELATIONSHIP_"


def _relationship_name(value: int) -> str:
    if value not in integrity_pb2.Relationship.values():
        return f"unknown({value})"
    name = integrity_pb2.Relationship.Name(value)
    return "" if value == 0 else name.removeprefix(_RELATIONSHIP_PREFIX).lower()


def _relationship_value(name: str) -> int:
    return integrity_pb2.Relationship.Value(_RELATIONSHIP_PREFIX + name.upper())


def _message(view: register.DeclarationView) -> integrity_pb2.Declaration:
    message = integrity_pb2.Declaration(
        declaration_id=view.declaration_id,
        org=view.org,
        actor=view.actor,
        relationship=_relationship_value(view.relationship),  # type: ignore[arg-type]
        declared_at=convert.timestamp(view.declared_at_ns),
    )
    if view.withdrawn_at_ns:
        message.withdrawn_at.CopyFrom(convert.timestamp(view.withdrawn_at_ns))
    return message


class IntegrityService(Servicer, integrity_pb2_grpc.IntegrityServiceServicer):
    async def DeclareRelationship(
        self,
        request: integrity_pb2.DeclareRelationshipRequest,
        context: grpc.aio.ServicerContext,
    ) -> integrity_pb2.Declaration:
        return await self.run(context, request, self._declare)

    def _declare(self, session: Session, call: Call) -> integrity_pb2.Declaration:
        request: integrity_pb2.DeclareRelationshipRequest = call.request  # type: ignore[assignment]
        app = call.app
        call.decide(resource={"kind": "declaration", "id": "", "owner_org": call.caller.org})
        resident_id = register.normalised_resident_id(
            request.relative_resident_id, field="relative_resident_id"
        )
        relationship = _relationship_name(request.relationship)
        call.facts.subject = app.ledger_subject(resident_id)

        def produce() -> integrity_pb2.Declaration:
            view = register.declare(
                session,
                org=call.caller.org,
                actor=call.caller.actor,
                relative_index=app.subject_index(resident_id),
                relationship=relationship,
                now_ns=call.now_ns,
            )
            return _message(view)

        return remember(session, call, request.request_id, integrity_pb2.Declaration, produce)

    async def WithdrawDeclaration(
        self,
        request: integrity_pb2.WithdrawDeclarationRequest,
        context: grpc.aio.ServicerContext,
    ) -> integrity_pb2.Declaration:
        return await self.run(context, request, self._withdraw)

    def _withdraw(self, session: Session, call: Call) -> integrity_pb2.Declaration:
        request: integrity_pb2.WithdrawDeclarationRequest = call.request  # type: ignore[assignment]
        call.decide(
            resource={
                "kind": "declaration",
                "id": request.declaration_id,
                "owner_org": call.caller.org,
            }
        )

        def produce() -> integrity_pb2.Declaration:
            view = register.withdraw(
                session,
                request.declaration_id,
                org=call.caller.org,
                actor=call.caller.actor,
                now_ns=call.now_ns,
            )
            return _message(view)

        return remember(session, call, request.request_id, integrity_pb2.Declaration, produce)

    async def ApproveAction(
        self, request: integrity_pb2.ApproveActionRequest, context: grpc.aio.ServicerContext
    ) -> integrity_pb2.ActionDecision:
        return await self.run(context, request, self._approve)

    async def RejectAction(
        self, request: integrity_pb2.RejectActionRequest, context: grpc.aio.ServicerContext
    ) -> integrity_pb2.ActionDecision:
        return await self.run(context, request, self._reject)

    def _approve(self, session: Session, call: Call) -> integrity_pb2.ActionDecision:
        return self._verdict(session, call, approvals.APPROVED)

    def _reject(self, session: Session, call: Call) -> integrity_pb2.ActionDecision:
        return self._verdict(session, call, approvals.REJECTED)

    def _verdict(self, session: Session, call: Call, verdict: str) -> integrity_pb2.ActionDecision:
        request: integrity_pb2.ApproveActionRequest = call.request  # type: ignore[assignment]
        call.decide(
            resource={"kind": "action", "id": request.action_id, "owner_org": call.caller.org}
        )

        def produce() -> integrity_pb2.ActionDecision:
            view = approvals.decide_action(
                session,
                request.action_id,
                org=call.caller.org,
                actor=call.caller.actor,
                verdict=verdict,
                now_ns=call.now_ns,
            )
            return integrity_pb2.ActionDecision(
                action_id=view.action_id,
                method=view.method,
                requested_by=view.requested_by,
                decided_by=view.decided_by,
                verdict=view.verdict,
                decided_at=convert.timestamp(view.decided_at_ns),
            )

        return remember(session, call, request.request_id, integrity_pb2.ActionDecision, produce)

    async def ListFlags(
        self, request: integrity_pb2.ListFlagsRequest, context: grpc.aio.ServicerContext
    ) -> integrity_pb2.ListFlagsResponse:
        return await self.run_read(context, request, self._list_flags)

    def _list_flags(self, session: Session, call: Call) -> integrity_pb2.ListFlagsResponse:
        request: integrity_pb2.ListFlagsRequest = call.request  # type: ignore[assignment]
        call.decide(resource={"kind": "none"})
        views = flags.list_flags(
            session, open_only=request.open_only, limit=request.limit, flag=request.flag
        )
        return integrity_pb2.ListFlagsResponse(flags=[_flag_message(v) for v in views])

    async def ResolveFlag(
        self, request: integrity_pb2.ResolveFlagRequest, context: grpc.aio.ServicerContext
    ) -> integrity_pb2.Flag:
        return await self.run(context, request, self._resolve_flag)

    def _resolve_flag(self, session: Session, call: Call) -> integrity_pb2.Flag:
        request: integrity_pb2.ResolveFlagRequest = call.request  # type: ignore[assignment]
        call.decide(resource={"kind": "ledger", "id": request.flag_id})

        def produce() -> integrity_pb2.Flag:
            view = flags.resolve_flag(
                session,
                request.flag_id,
                note=request.note,
                resolved_by=f"{call.caller.org}/{call.caller.actor}",
                now_ns=call.now_ns,
            )
            return _flag_message(view)

        return remember(session, call, request.request_id, integrity_pb2.Flag, produce)


def _flag_message(view: flags.FlagView) -> integrity_pb2.Flag:
    return integrity_pb2.Flag(
        flag_id=view.flag_id,
        index=view.index,
        at=convert.timestamp(view.at_ns),
        org=view.org,
        actor=view.actor,
        method=view.method,
        outcome=view.outcome,
        flags=list(view.flags),
        resolved=view.resolved,
        resolution_note=view.note,
        resolved_by=view.resolved_by,
        details=view.details,
    )


def conflict_fact(session: Session, call: Call, resident_id: str) -> dict:
    """The policy's ``input.conflict`` for a call touching the person of ``resident_id``."""
    return approvals.conflict_fact(
        session,
        org=call.caller.org,
        actor=call.caller.actor,
        relative_index=call.app.subject_index(resident_id),
    )


def conflict_fact_of_index(session: Session, call: Call, relative_index: str) -> dict:
    """``conflict_fact`` for a person known by the gateway's keyed index (a case's
    ``subject_index``), so the decision needs nothing decrypted."""
    return approvals.conflict_fact(
        session, org=call.caller.org, actor=call.caller.actor, relative_index=relative_index
    )


def hold_for_second_approval(session: Session, call: Call, *, deferred: bool = False) -> None:
    """After the decision: hold the call if the policy asks for a second approver and none has
    approved this very request; else use the approval with the call's write (``deferred`` on
    the read path)."""
    if approvals.SECOND_APPROVAL not in call.facts.flags:
        return  # the common case: no digest, no lookup on the hot path
    request_digest = digest(call.request)
    request_id = getattr(call.request, "request_id", "")
    if request_id:
        # A retry of a request that was approved and made: ``remember`` answers it as made.
        seen = session.get(IdempotentRequest, (call.caller.org, request_id))
        if seen is not None and seen.request_digest == request_digest:
            return
    action = approvals.approval_to_use(
        session,
        call.facts.flags,
        org=call.caller.org,
        actor=call.caller.actor,
        method=call.method,
        digest=request_digest,
    )
    if not action:
        return
    call.facts.flags = tuple(sorted({*call.facts.flags, "second-approved"}))
    if deferred:
        call.defer(lambda s: approvals.use_approval(s, action, call.now_ns))
    else:
        approvals.use_approval(session, action, call.now_ns)
