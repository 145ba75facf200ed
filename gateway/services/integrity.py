"""IntegrityService: the conflict-of-interest register (``gateway.integrity.register``).

Staff of offices and charities declare their relatives and close relations and withdraw their
declarations; each call is one exchange (policy decision, store, ledger entry). The relative's
resident id is turned into the gateway's keyed index here and goes no further; the ledger entry
names the person only by their ledger pseudonym.
"""

from __future__ import annotations

import grpc
from sqlalchemy.orm import Session

from aidbridge.v1 import integrity_pb2, integrity_pb2_grpc
from gateway.exchange import Call, remember
from gateway.integrity import register
from gateway.services import convert
from gateway.services.base import Servicer

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
