"""What every servicer shares: the caller set by the identity interceptor, running a handler as
one exchange in a worker thread, and mapping domain errors to gRPC status codes in one place.

Every request is checked by ``gateway.services.validation`` as the first step of its exchange,
so a malformed one is refused INVALID_ARGUMENT and ledgered like any other refusal. An exception
that is not a domain error is a defect: it is logged (its type and where, never its message,
which may hold personal data), ledgered, and answered INTERNAL — never UNKNOWN.
"""

from __future__ import annotations

import asyncio
import contextvars
import traceback
from collections.abc import Callable
from typing import TypeVar

import grpc
from google.protobuf.message import Message
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from gateway import errors
from gateway.app import Gateway
from gateway.exchange import (
    Call,
    Caller,
    Prepared,
    record_refusal,
    run_exchange,
    run_prepared_exchange,
    run_read_exchange,
)
from gateway.logging import get_logger
from gateway.privacy.disclosure import error_message
from gateway.services.validation import check_request
from gateway.store import StoreUnavailable

M = TypeVar("M", bound=Message)
T = TypeVar("T")

log = get_logger("aidbridge.services")
INTERNAL_MESSAGE = "internal error: the call failed and changed nothing"

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

    async def run_prepared(
        self,
        context: grpc.aio.ServicerContext,
        request: Message,
        prepare: Callable[[Session, Call], Prepared | None],
        handler: Callable[[Session, Call], M],
    ) -> M:
        """For calls that change data and can be prepared before the writer: see
        ``gateway.exchange.run_prepared_exchange``."""
        checked_prepare = _validated(prepare)
        checked_handler = _validated(handler)

        def path(call: Call, _handler: Callable[[Session, Call], M]) -> M:
            return run_prepared_exchange(call, checked_prepare, checked_handler)

        return await self._execute(context, request, handler, path)

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
            return await asyncio.to_thread(path, call, _validated(handler))
        except errors.AidBridgeError as exc:
            # Through the disclosure path, as everything else the caller receives.
            await context.abort(STATUS[exc.code], error_message(exc.message, call.known))
            raise  # unreachable: abort raises
        except Exception as exc:  # a defect outside the handler: still ledgered, still INTERNAL
            _log_defect(call, exc)
            try:
                await asyncio.to_thread(
                    record_refusal, self.app, call.caller, call.method, "INTERNAL", INTERNAL_MESSAGE
                )
            except errors.Unavailable as unavailable:
                await context.abort(grpc.StatusCode.UNAVAILABLE, unavailable.message)
            await context.abort(grpc.StatusCode.INTERNAL, INTERNAL_MESSAGE)
            raise  # unreachable: abort raises

    async def unimplemented(self, context: grpc.aio.ServicerContext, request: Message) -> Message:
        def handler(_session: Session, call: Call) -> Message:
            raise errors.Unimplemented(f"{call.method} is not implemented yet")

        return await self.run(context, request, handler)


def _validated(handler: Callable[[Session, Call], T]) -> Callable[[Session, Call], T]:
    """``handler`` behind the request's validation; a defect inside it becomes an INTERNAL
    refusal that the exchange ledgers. Store faults pass through: the exchange maps them."""

    def run(session: Session, call: Call) -> T:
        check_request(call.request)
        try:
            return handler(session, call)
        except (errors.AidBridgeError, SQLAlchemyError, StoreUnavailable):
            raise
        except Exception as exc:
            _log_defect(call, exc)
            raise errors.AidBridgeError(INTERNAL_MESSAGE) from exc

    return run


def _log_defect(call: Call, exc: BaseException) -> None:
    # The type and the innermost frame only: an exception's message may quote personal data.
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    log.error("call failed with a defect", method=call.method, error=type(exc).__name__, at=where)
