"""What every servicer shares: the caller set by the identity interceptor, running a handler as
one exchange in a worker thread, and mapping domain errors to gRPC status codes in one place."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from typing import TypeVar

import grpc
from google.protobuf.message import Message
from sqlalchemy.orm import Session

from gateway import errors
from gateway.app import Gateway
from gateway.exchange import Call, Caller, run_exchange, run_read_exchange

M = TypeVar("M", bound=Message)

CALLER: contextvars.ContextVar[Caller] = contextvars.ContextVar("aidbridge_caller")
METHOD: contextvars.ContextVar[str] = contextvars.ContextVar("aidbridge_method")

STATUS = {
    "INVALID_ARGUMENT": grpc.StatusCode.INVALID_ARGUMENT,
    "NOT_FOUND": grpc.StatusCode.NOT_FOUND,
    "PERMISSION_DENIED": grpc.StatusCode.PERMISSION_DENIED,
    "UNAUTHENTICATED": grpc.StatusCode.UNAUTHENTICATED,
    "FAILED_PRECONDITION": grpc.StatusCode.FAILED_PRECONDITION,
    "ALREADY_EXISTS": grpc.StatusCode.ALREADY_EXISTS,
    "UNAVAILABLE": grpc.StatusCode.UNAVAILABLE,
    "UNIMPLEMENTED": grpc.StatusCode.UNIMPLEMENTED,
    "INTERNAL": grpc.StatusCode.INTERNAL,
}


class Servicer:
    def __init__(self, app: Gateway) -> None:
        self.app = app

    async def run(
        self,
        context: grpc.aio.ServicerContext,
        request: Message,
        handler: Callable[[Session, Call], M],
    ) -> M:
        """For calls that change data: see ``gateway.exchange.run_exchange``."""
        return await self._execute(context, request, handler, run_exchange)

    async def run_read(
        self,
        context: grpc.aio.ServicerContext,
        request: Message,
        handler: Callable[[Session, Call], M],
    ) -> M:
        """For calls that only read: see ``gateway.exchange.run_read_exchange``."""
        return await self._execute(context, request, handler, run_read_exchange)

    async def _execute(
        self,
        context: grpc.aio.ServicerContext,
        request: Message,
        handler: Callable[[Session, Call], M],
        path: Callable[[Call, Callable[[Session, Call], M]], M],
    ) -> M:
        call = Call(app=self.app, caller=CALLER.get(), method=METHOD.get(), request=request)
        try:
            return await asyncio.to_thread(path, call, handler)
        except errors.AidBridgeError as exc:
            await context.abort(STATUS[exc.code], exc.message)
            raise  # unreachable: abort raises

    async def unimplemented(self, context: grpc.aio.ServicerContext, request: Message) -> Message:
        def handler(_session: Session, call: Call) -> Message:
            raise errors.Unimplemented(f"{call.method} is not implemented yet")

        return await self.run(context, request, handler)
