"""The gRPC server: grpc.aio over mutual TLS, the identity interceptor, health and reflection,
and the ledger's sequencer running beside the calls.

Mutual TLS is the only mode in normal use: the server requires a client certificate issued by
the deployment's CA, so a caller without one, or with one from another CA or expired, never
completes the handshake. A plaintext port exists only behind ``insecure_plaintext`` (a
development flag that logs a warning); there the caller's org and role come from metadata.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import re
import signal
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from aidbridge.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    cases_pb2,
    cases_pb2_grpc,
    consents_pb2,
    consents_pb2_grpc,
    integrity_pb2,
    integrity_pb2_grpc,
    referrals_pb2,
    referrals_pb2_grpc,
    reports_pb2,
    reports_pb2_grpc,
    resources_pb2,
    resources_pb2_grpc,
)
from gateway import errors, identity, sweeps
from gateway.app import Gateway
from gateway.exchange import Caller, record_refusal
from gateway.ledger import entry as ledger_entry
from gateway.ledger import system
from gateway.logging import get_logger
from gateway.policy.catalogue import Catalogue
from gateway.privacy.disclosure import error_message
from gateway.services.audit import AuditService
from gateway.services.base import CALLER, METHOD, STATUS
from gateway.services.cases import CaseService
from gateway.services.consents import ConsentService
from gateway.services.integrity import IntegrityService
from gateway.services.referrals import ReferralService
from gateway.services.reports import ReportService
from gateway.services.resources import ResourceService

log = get_logger("aidbridge.server")

ACTOR_KEY = "x-aidbridge-actor"
DEV_ORG_KEY = "x-aidbridge-dev-org"
DEV_ROLE_KEY = "x-aidbridge-dev-role"
ACTOR = re.compile(r"[\w.@:-]{1,100}")
EXEMPT = ("/grpc.health.v1.Health/", "/grpc.reflection.")
UNKNOWN = "unknown"


class CertificateRefused(errors.Unauthenticated):
    """A client certificate the chain accepted but the identity convention or its validity
    refuses; carries what the certificate shows of itself for the ledger."""

    def __init__(self, message: str, presented: identity.PresentedCertificate) -> None:
        super().__init__(message)
        self.presented = presented


class IdentityInterceptor(grpc.aio.ServerInterceptor):
    """Derives the caller (org and role from the client certificate, actor from metadata) for
    every call, binds it to the logs, and refuses — and ledgers — calls it cannot identify."""

    def __init__(self, app: Gateway, *, plaintext: bool = False) -> None:
        self.app = app
        self.plaintext = plaintext

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        path = handler_call_details.method
        if handler is None or path.startswith(EXEMPT):
            return handler
        method = path.lstrip("/")
        deserializer = _tolerant(handler.request_deserializer)
        if handler.unary_unary is not None:
            inner = handler.unary_unary

            async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                started = time.perf_counter()
                await self._enter(context, method)
                try:
                    await self._refuse_undecodable(context, method, request)
                    return await inner(request, context)
                finally:
                    _log_call(context, started)

            return grpc.unary_unary_rpc_method_handler(
                unary, deserializer, handler.response_serializer
            )
        if handler.unary_stream is not None:
            inner_stream = handler.unary_stream

            async def stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
                started = time.perf_counter()
                await self._enter(context, method)
                try:
                    await self._refuse_undecodable(context, method, request)
                    async for item in inner_stream(request, context):
                        yield item
                finally:
                    _log_call(context, started)

            return grpc.unary_stream_rpc_method_handler(
                stream, deserializer, handler.response_serializer
            )
        return handler  # no client-streaming methods in v1

    async def _enter(self, context: grpc.aio.ServicerContext, method: str) -> None:
        METHOD.set(method)
        metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        try:
            caller = self._identify(context, metadata)
        except CertificateRefused as exc:
            # Not an identity (the certificate says no org we accept), but the ledger still
            # says which certificate tried.
            shown = exc.presented
            refused = Caller(
                org=UNKNOWN,
                role="",
                actor="",
                fingerprint=shown.fingerprint,
                cert_subject=shown.subject,
                cert_issuer=shown.issuer,
            )
            await self._refuse(context, refused, method, exc)
            return
        except errors.AidBridgeError as exc:
            anonymous = Caller(org=UNKNOWN, role="", actor="", fingerprint="")
            await self._refuse(context, anonymous, method, exc)
            return
        structlog.contextvars.bind_contextvars(
            org=caller.org, role=caller.role, actor=caller.actor, method=method
        )
        if not ACTOR.fullmatch(caller.actor):
            await self._refuse(
                context,
                replace(caller, actor=""),  # an invalid actor is not recorded as given
                method,
                errors.InvalidArgument(
                    f"metadata {ACTOR_KEY!r} must name the acting person "
                    "(1-100 letters, digits or . _ @ : -)"
                ),
            )
        CALLER.set(caller)

    def _identify(self, context: grpc.aio.ServicerContext, metadata: dict[str, str]) -> Caller:
        actor = metadata.get(ACTOR_KEY, "")
        if self.plaintext:
            org, role = metadata.get(DEV_ORG_KEY, ""), metadata.get(DEV_ROLE_KEY, "")
            if not org or not role:
                raise errors.Unauthenticated(
                    f"plaintext development mode: send {DEV_ORG_KEY} and {DEV_ROLE_KEY}"
                )
            return Caller(org=org, role=role, actor=actor, fingerprint="plaintext")
        pems = context.auth_context().get("x509_pem_cert") or []
        if not pems:
            raise errors.Unauthenticated("a client certificate is required")
        pem = pems[0] if isinstance(pems[0], bytes) else str(pems[0]).encode()
        try:
            cert = identity.identity_from_pem(pem)
            identity.check_validity(cert, self.app.clock.now_ns())
        except identity.IdentityError as exc:
            raise CertificateRefused(
                f"client certificate refused: {exc}", identity.presented_certificate(pem)
            ) from exc
        return Caller(org=cert.org, role=cert.role, actor=actor, fingerprint=cert.fingerprint)

    async def _refuse_undecodable(
        self, context: grpc.aio.ServicerContext, method: str, request: Any
    ) -> None:
        """A request whose bytes did not decode: INVALID_ARGUMENT, ledgered for its caller."""
        if isinstance(request, Undecodable):
            await self._refuse(
                context,
                CALLER.get(),
                method,
                errors.InvalidArgument(f"the request is not a valid {request.message_type}"),
            )

    async def _refuse(
        self,
        context: grpc.aio.ServicerContext,
        caller: Caller,
        method: str,
        exc: errors.AidBridgeError,
    ) -> None:
        exc.message = error_message(exc.message)
        try:
            await asyncio.to_thread(record_refusal, self.app, caller, method, exc.code, exc.message)
        except errors.Unavailable as unavailable:
            await context.abort(grpc.StatusCode.UNAVAILABLE, unavailable.message)
        await context.abort(STATUS[exc.code], exc.message)


@dataclass(frozen=True)
class Undecodable:
    """What a request that did not decode becomes, so the call can be identified and refused
    (gRPC itself would answer UNKNOWN and no ledger would hear of it)."""

    message_type: str


def _tolerant(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserialize is None:
        return None
    # The generated handlers pass the message class's FromString; its class names the type.
    owner = getattr(deserialize, "__self__", None)
    descriptor = getattr(owner, "DESCRIPTOR", None)
    message_type = getattr(descriptor, "full_name", "request message")

    def parse(data: bytes) -> Any:
        try:
            return deserialize(data)
        except Exception:  # DecodeError, or anything else the bytes make it raise
            return Undecodable(message_type)

    return parse


def _log_call(context: grpc.aio.ServicerContext, started: float) -> None:
    code = context.code() if hasattr(context, "code") else None
    outcome = code.name if isinstance(code, grpc.StatusCode) else "OK"
    log.info("call", outcome=outcome, ms=round((time.perf_counter() - started) * 1000, 3))
    structlog.contextvars.clear_contextvars()


class ListenError(OSError):
    """The server could not bind its listen address (in use, or not an address of this host)."""


@dataclass(frozen=True)
class TlsFiles:
    ca: bytes
    cert: bytes
    key: bytes


def tls_from_dir(certs_dir: Any) -> TlsFiles:
    return TlsFiles(
        ca=(certs_dir / "ca.pem").read_bytes(),
        cert=(certs_dir / "server.pem").read_bytes(),
        key=(certs_dir / "server.key").read_bytes(),
    )


SERVICE_NAMES = (
    cases_pb2.DESCRIPTOR.services_by_name["CaseService"].full_name,
    consents_pb2.DESCRIPTOR.services_by_name["ConsentService"].full_name,
    referrals_pb2.DESCRIPTOR.services_by_name["ReferralService"].full_name,
    resources_pb2.DESCRIPTOR.services_by_name["ResourceService"].full_name,
    audit_pb2.DESCRIPTOR.services_by_name["AuditService"].full_name,
    reports_pb2.DESCRIPTOR.services_by_name["ReportService"].full_name,
    integrity_pb2.DESCRIPTOR.services_by_name["IntegrityService"].full_name,
)


async def build_server(
    app: Gateway, listen: str, tls: TlsFiles | None, *, reuse_port: bool = False
) -> tuple[grpc.aio.Server, int, health.aio.HealthServicer]:
    """Create and start the server; returns it, the bound port and its health servicer.
    ``reuse_port``: one of the worker processes of ``serve --workers N``, which all listen on
    the same port (SO_REUSEPORT) and among which the kernel spreads the connections."""
    server = grpc.aio.server(
        interceptors=[IdentityInterceptor(app, plaintext=tls is None)],
        options=[
            ("grpc.max_receive_message_length", 4 * 1024 * 1024),
            # gRPC sets SO_REUSEPORT by default: a second gateway could bind the same port and
            # take a share of the callers. The listener is ours alone — or our workers'
            # (gateway.workers keeps any other gateway off the port).
            ("grpc.so_reuseport", 1 if reuse_port else 0),
        ],
    )
    cases_pb2_grpc.add_CaseServiceServicer_to_server(CaseService(app), server)
    consents_pb2_grpc.add_ConsentServiceServicer_to_server(ConsentService(app), server)
    referrals_pb2_grpc.add_ReferralServiceServicer_to_server(ReferralService(app), server)
    resources_pb2_grpc.add_ResourceServiceServicer_to_server(ResourceService(app), server)
    audit_pb2_grpc.add_AuditServiceServicer_to_server(AuditService(app), server)
    reports_pb2_grpc.add_ReportServiceServicer_to_server(ReportService(app), server)
    integrity_pb2_grpc.add_IntegrityServiceServicer_to_server(IntegrityService(app), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (
            *SERVICE_NAMES,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    try:
        if tls is None:
            log.warning("plaintext development mode: no TLS, callers are not authenticated")
            port = server.add_insecure_port(listen)
        else:
            credentials = grpc.ssl_server_credentials(
                [(tls.key, tls.cert)], root_certificates=tls.ca, require_client_auth=True
            )
            port = server.add_secure_port(listen, credentials)
    except RuntimeError:  # grpc's "Failed to bind to address"
        port = 0
    if port == 0:
        raise ListenError(
            f"could not listen on {listen}: the address is in use (another gateway or program "
            "serves it) or is not an address of this host; choose another with --listen"
        )
    await server.start()
    for name in ("", *SERVICE_NAMES):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server, port, health_servicer


async def run_sequencer(app: Gateway, stop: asyncio.Event) -> None:
    """Integrate queued ledger entries into the tree and sign checkpoints, every interval, until
    ``stop`` is set. The final round, after the calls have drained, is ``shut_down``'s."""
    interval = app.config.sequencer_interval_s
    while not stop.is_set():
        # A round starts every interval (not an interval after the last one ended): under load
        # an entry waits at most one interval plus one round for its checkpoint.
        started = time.monotonic()
        try:
            await asyncio.to_thread(app.ledger.integrate)
        except Exception as exc:  # keep sequencing; the entries stay queued and durable
            log.error("sequencer failed", error=type(exc).__name__, detail=str(exc)[:200])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                stop.wait(), timeout=max(0.0, interval - (time.monotonic() - started))
            )


async def run_witnesses(app: Gateway, stop: asyncio.Event) -> None:
    """Ask the configured witnesses to cosign the latest checkpoint, every witness interval. A
    witness down or refusing delays publication only; calls never wait for it."""
    if not app.publisher.witnesses:
        return
    while not stop.is_set():
        try:
            await asyncio.to_thread(app.publisher.collect)
        except Exception as exc:  # the next round asks again
            log.error("witnessing failed", error=type(exc).__name__, detail=str(exc)[:200])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=app.config.witness_interval_s)


async def run_sweeps(app: Gateway, stop: asyncio.Event) -> None:
    """Expire consents and referrals whose time has passed, every sweep interval."""
    while not stop.is_set():
        try:
            result = await asyncio.to_thread(sweeps.sweep, app)
            if result.consents_expired or result.referrals_expired:
                log.info(
                    "sweep",
                    consents_expired=result.consents_expired,
                    referrals_expired=result.referrals_expired,
                )
        except Exception as exc:  # the next sweep tries again; enforcement checks the clock
            log.error("sweep failed", error=type(exc).__name__, detail=str(exc)[:200])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=app.config.sweep_interval_s)


SERVE_GRACE_S = 5.0
"""How long a stopping gateway waits for calls already in flight (the drain's bound)."""


@dataclass(frozen=True)
class WorkerRole:
    """What a worker process of ``serve --workers N`` is told by its supervisor
    (gateway.workers): its slot (0 runs the background duties), the pipe on which it says it
    serves, and the pipe whose end (the supervisor gone) stops it."""

    slot: int
    ready_fd: int
    lifeline_fd: int

    @property
    def runs_duties(self) -> bool:
        return self.slot == 0


async def serve(
    app: Gateway,
    *,
    on_ready: Callable[[int], None] | None = None,
    worker: WorkerRole | None = None,
) -> None:
    """Run until SIGINT/SIGTERM, then stop gracefully (``shut_down``); SIGHUP reloads the policy
    bundle. A second SIGINT/SIGTERM while stopping is logged and the drain runs to its bound.

    As a ``worker`` of several processes: the port is shared (SO_REUSEPORT); the sequencer,
    the sweeps and the witness rounds run in slot 0 only (each worker still sequences what is
    queued when it stops: the sequencer's state row lock makes that safe); the supervisor's
    end is a stop like SIGTERM."""
    tls = None if app.config.insecure_plaintext else tls_from_dir(app.config.certs_dir)
    server, port, health_servicer = await build_server(
        app, app.config.listen, tls, reuse_port=worker is not None
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_stop(signum: int) -> None:
        name = signal.Signals(signum).name
        if stop.is_set():
            log.warning(
                "signal while stopping: the drain continues", signal=name, bound_s=SERVE_GRACE_S
            )
            return
        log.info("stopping", signal=name, bound_s=SERVE_GRACE_S)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_stop, signum)
    reloads: set[asyncio.Task[None]] = set()

    def on_hup() -> None:
        # Compiling and testing a bundle takes seconds: never on the event loop.
        task = asyncio.ensure_future(asyncio.to_thread(reload_policy, app))
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, on_hup)
    workers_stop = asyncio.Event()
    workers = []
    if worker is None or worker.runs_duties:
        workers = [
            asyncio.create_task(run_sequencer(app, workers_stop)),
            asyncio.create_task(run_sweeps(app, workers_stop)),
            asyncio.create_task(run_witnesses(app, workers_stop)),
        ]
    if worker is not None:

        def on_supervisor_gone() -> None:
            try:
                if os.read(worker.lifeline_fd, 64):
                    return
            except BlockingIOError:
                return
            except OSError:
                pass
            loop.remove_reader(worker.lifeline_fd)
            if not stop.is_set():
                log.warning("supervisor gone: stopping", bound_s=SERVE_GRACE_S)
                stop.set()

        os.set_blocking(worker.lifeline_fd, False)
        loop.add_reader(worker.lifeline_fd, on_supervisor_gone)
    log.info("serving", port=port, tls=tls is not None, revision=app.engine.revision)
    if on_ready:
        on_ready(port)
    if worker is not None:
        with contextlib.suppress(OSError):  # a supervisor gone hears nothing; we stop anyway
            os.write(worker.ready_fd, f"ready {port}\n".encode())
        os.close(worker.ready_fd)
    await stop.wait()
    await shut_down(app, server, health_servicer, workers_stop, workers, SERVE_GRACE_S)
    log.info("stopped")


async def shut_down(
    app: Gateway,
    server: grpc.aio.Server,
    health_servicer: health.aio.HealthServicer,
    workers_stop: asyncio.Event,
    workers: list[asyncio.Task[None]],
    grace_s: float,
) -> None:
    """Graceful stop: refuse new calls at once, let the calls in flight finish (at most
    ``grace_s``), then integrate and sign everything they queued, so the stopped ledger holds no
    entry without a position."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace_s
    await health_servicer.enter_graceful_shutdown()
    # New calls are refused from here; calls still running at the bound are cancelled.
    await server.stop(grace=grace_s)
    workers_stop.set()
    await asyncio.gather(*workers, return_exceptions=True)
    # A call's work runs in worker threads (asyncio.to_thread) and the group-commit writer, and
    # a cancelled call's thread still commits its entry: wait for those threads, within the
    # bound, before the last round of sequencing.
    waiting = asyncio.ensure_future(loop.shutdown_default_executor())
    try:
        await asyncio.wait_for(asyncio.shield(waiting), timeout=max(deadline - loop.time(), 0.5))
    except TimeoutError:
        log.warning("drain bound reached with calls still running; their entries stay queued")
    # The default executor is gone now: the final round gets a thread of its own.
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="final-sequencer") as pool:
        try:
            added = await loop.run_in_executor(pool, app.ledger.drain)
        except Exception as exc:  # the entries stay queued and durable; the next start signs them
            log.error("final sequencing failed", error=type(exc).__name__, detail=str(exc)[:200])
        else:
            log.info("ledger sequenced at stop", added=added)


def ignore_late_signals() -> None:
    """After the server's loop has closed, a SIGINT/SIGTERM would kill the process while it
    closes the store; log it instead, so a stop always ends with exit status 0."""

    def late(signum: int, _frame: object) -> None:
        log.warning("signal while closing: ignored", signal=signal.Signals(signum).name)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, late)


def reload_policy(app: Gateway) -> None:
    """Reload the policy bundle from its directory; the old one stays in force if the new one
    does not compile or pass its tests. Accepted or rejected, the outcome is ledgered."""
    reload = getattr(app.engine, "reload", None)
    if reload is None:
        log.warning("policy reload not supported by this engine")
        _ledger_reload(app, "UNIMPLEMENTED", "policy reload is not supported by this engine")
        return
    before = app.engine.revision
    try:
        catalogue = Catalogue.load(app.config.bundle_path)
        reload(app.config.bundle_path)
    except Exception as exc:
        detail = str(exc)[:300]
        log.error("policy reload rejected; the old bundle stays in force", detail=detail)
        _ledger_reload(
            app,
            "FAILED_PRECONDITION",
            f"reload rejected, revision {before} stays in force: {detail}",
        )
        return
    # The consent checks read the same registry and catalogue (a newly registered charity
    # may be named as a consent's recipient): they follow the bundle now in force.
    app.catalogue = catalogue
    log.info("policy reloaded", revision=app.engine.revision)
    _ledger_reload(
        app, "OK", f"policy reloaded: revision {before} replaced by {app.engine.revision}"
    )


def _ledger_reload(app: Gateway, outcome: str, reason: str) -> None:
    entry = system.system_exchange(
        system.RELOAD_POLICY,
        at_ns=app.clock.now_ns(),
        actor=system.GATEWAY_ACTOR,
        outcome=outcome,
        reason=reason,
        bundle_revision=app.engine.revision,
    )
    try:
        app.writer.submit(
            lambda session: ledger_entry.append(session, entry, app.ledger.authenticator)
        )
    except Exception as exc:  # the reload stands (or not) either way; say it went unrecorded
        log.error("policy reload not ledgered", error=type(exc).__name__, detail=str(exc)[:200])


class BackgroundServer:
    """A gateway serving from a thread of its own (its own event loop), for the demo, tests and
    benchmarks: ``with BackgroundServer(app) as port: ...``."""

    def __init__(self, app: Gateway, listen: str = "127.0.0.1:0", grace_s: float = 2.0) -> None:
        self.app = app
        self.listen = listen
        self.grace_s = grace_s
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> int:
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._error is not None:
            raise self._error
        if not self.port:
            raise RuntimeError("the gateway did not start within 30 s")
        return self.port

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=30)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        config = self.app.config
        tls = None if config.insecure_plaintext else tls_from_dir(config.certs_dir)
        server, self.port, health_servicer = await build_server(self.app, self.listen, tls)
        workers_stop = asyncio.Event()
        workers = [
            asyncio.create_task(run_sequencer(self.app, workers_stop)),
            asyncio.create_task(run_sweeps(self.app, workers_stop)),
            asyncio.create_task(run_witnesses(self.app, workers_stop)),
        ]
        self._ready.set()
        await self._stop.wait()
        await shut_down(self.app, server, health_servicer, workers_stop, workers, self.grace_s)
