"""Several server processes on one store: ``aidbridge serve --workers N``.

The process the operator starts becomes the supervisor. It holds the working directory's lock
(still one gateway per working directory; the workers inherit the lock's descriptor, so the lock
is held until the last of them has stopped, even if the supervisor is killed), brings the store
up to date once, keeps the listen port for this gateway's workers, and starts N worker
processes. Each worker is a whole gateway (``aidbridge serve`` with hidden worker options): its
own store connections, policy engine and group-commit writer, listening on the same port with
SO_REUSEPORT, so the kernel spreads the callers' connections among them. Slot 0 also runs the
background duties — the sequencer and checkpoints, the sweeps, the witness rounds — once for
the gateway; every worker still sequences what is queued when it stops (the sequencer locks
its state row, so sequencers never interleave).

What holds across workers because it is read from the store or the working directory on each
call, never from one process's memory: consents (a withdrawal in one worker denies the next
call in every worker), referrals, idempotency, the ledger; revocations (each worker compares
the CLI's ``revocations.generation`` file before every check and reloads on a change) and the
pseudonym key versions (``key-versions.json``, re-read on change).

The supervisor restarts a worker that dies (logged, with a growing pause if it keeps dying),
forwards SIGHUP (policy reload) to every worker, and on SIGTERM/SIGINT stops them all with the
same drain as one process (``SERVE_GRACE_S``), then exits 0. It exits 1 if the workers cannot
start (the port is another program's, the store is down, ...).

The port: a bound, non-listening socket with SO_REUSEPORT keeps any other program off the port
(a listener without SO_REUSEPORT cannot bind beside it) and resolves a port of 0; an abstract
Unix socket named after the port keeps any other AidBridge gateway with workers (which would
share the port by SO_REUSEPORT) off it.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gateway.logging import get_logger
from gateway.server import SERVE_GRACE_S

log = get_logger("aidbridge.workers")

READY_TIMEOUT_S = 180.0
"""How long a worker may take to start serving (it compiles and tests the policy bundle)."""

STOP_BOUND_S = SERVE_GRACE_S + 25.0
"""How long the supervisor waits for its stopping workers (their drain, then their final
sequencing round) before it kills what is left."""

RESTART_PAUSE_S = (0.5, 10.0)
"""The pause before a dead worker is started again: the first, and the most it grows to while
a worker keeps dying within ``STEADY_S`` of its start."""

STEADY_S = 30.0


class WorkersError(Exception):
    """The workers could not be started; the message says why."""


def split_listen(listen: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` as (host, port); a clear error for anything else."""
    host, sep, port_text = listen.rpartition(":")
    if not sep or not port_text.isdigit() or not host or listen.startswith("unix:"):
        raise WorkersError(
            f"--workers needs a listen address HOST:PORT (SO_REUSEPORT shares a TCP port), "
            f"found {listen!r}"
        )
    port = int(port_text)
    if port > 65535:
        raise WorkersError(f"listen address {listen!r}: port beyond 65535")
    return host.removeprefix("[").removesuffix("]"), port


@dataclass
class PortClaim:
    """The listen port, kept for this gateway's workers while the supervisor lives."""

    listen: str
    port: int
    _sockets: list[socket.socket] = field(default_factory=list)

    def close(self) -> None:
        for s in self._sockets:
            s.close()


def claim_port(listen: str) -> PortClaim:
    host, port = split_listen(listen)
    in_use = (
        f"could not listen on {listen}: the address is in use (another gateway or program "
        "serves it) or is not an address of this host; choose another with --listen"
    )
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror:
        raise WorkersError(in_use) from None
    reserve = socket.socket(family, kind, proto)
    try:
        reserve.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        reserve.bind(address)
    except OSError:
        reserve.close()
        raise WorkersError(in_use) from None
    port = int(reserve.getsockname()[1])
    guard = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        guard.bind(f"\0aidbridge-serve-workers-port-{port}")
    except OSError:
        guard.close()
        reserve.close()
        raise WorkersError(
            f"could not listen on {listen}: another AidBridge gateway with workers serves port "
            f"{port}; choose another with --listen"
        ) from None
    bracketed = f"[{host}]" if ":" in host else host
    return PortClaim(f"{bracketed}:{port}", port, [reserve, guard])


@dataclass(eq=False)
class _Worker:
    slot: int
    proc: subprocess.Popen[bytes] | None = None
    ready_fd: int | None = None  # read end of its ready pipe, until it said it serves
    ready: bool = False
    started_at: float = 0.0
    restart_at: float | None = None
    pause_s: float = RESTART_PAUSE_S[0]
    returncode: int | None = None


class Supervisor:
    def __init__(
        self,
        count: int,
        command: Callable[[int, str], list[str]],
        lock_fd: int,
        claim: PortClaim,
    ) -> None:
        """``command(slot, fds)``: the worker's command line, ``fds`` its hidden option value
        (lock, ready pipe and lifeline descriptors)."""
        self.count = count
        self.command = command
        self.lock_fd = lock_fd
        self.claim = claim
        self.workers = [_Worker(slot) for slot in range(count)]
        # The lifeline: the supervisor keeps the write end and never writes; its end (however
        # the supervisor ends) is every worker's signal to stop.
        self._life_r, self._life_w = os.pipe()
        self._wake_r, self._wake_w = os.pipe()
        self._signals: list[int] = []

    # --- the loop -----------------------------------------------------------------------

    def run(self, on_ready: Callable[[int], None] | None = None) -> int:
        """Start the workers, supervise them until SIGTERM/SIGINT, stop them; the exit status."""
        previous = self._install_signals()
        try:
            for worker in self.workers:
                self._start(worker)
            failed = self._await_ready()
            if failed:
                log.error("workers could not start", reason=failed)
                self._stop_all()
                raise WorkersError(failed)
            if self._stop_requested():
                return self._stop_all()
            pids = [w.proc.pid for w in self.workers if w.proc is not None]
            log.info("workers serving", workers=self.count, port=self.claim.port, pids=pids)
            if on_ready:
                on_ready(self.claim.port)
            while True:
                self._wait(self._next_timeout())
                if self._stop_requested():
                    return self._stop_all()
                self._reap()
                self._restart_due()
        finally:
            self._restore_signals(previous)
            for fd in (self._life_r, self._life_w, self._wake_r, self._wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)
            for worker in self.workers:
                self._close_ready(worker)

    def _await_ready(self) -> str:
        """Wait until every worker serves; the reason if one cannot."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not all(w.ready for w in self.workers):
            if self._stop_requested():
                return ""
            left = deadline - time.monotonic()
            if left <= 0:
                return f"the workers did not start serving within {READY_TIMEOUT_S:g} s"
            self._wait(min(left, 0.5))
            for worker in self.workers:
                if worker.proc is not None and not worker.ready and worker.proc.poll() is not None:
                    return (
                        f"worker {worker.slot} (pid {worker.proc.pid}) exited with status "
                        f"{worker.proc.returncode} before serving; its error is above"
                    )
        return ""

    def _wait(self, timeout: float) -> None:
        fds = [self._wake_r, *(w.ready_fd for w in self.workers if w.ready_fd is not None)]
        try:
            readable, _, _ = select.select(fds, [], [], max(timeout, 0.0))
        except InterruptedError:
            readable = []
        for fd in readable:
            if fd == self._wake_r:
                with contextlib.suppress(BlockingIOError):
                    self._signals.extend(s for s in os.read(self._wake_r, 64) if s in _HEARD)
                continue
            worker = next(w for w in self.workers if w.ready_fd == fd)
            said = b""
            with contextlib.suppress(OSError):
                said = os.read(fd, 64)
            if said.startswith(b"ready"):
                worker.ready = True
                log.info("worker serving", worker=worker.slot, pid=_pid(worker))
            self._close_ready(worker)  # said it, or its end closed (it is exiting)
        for signum in [s for s in self._signals if s == signal.SIGHUP]:
            self._signals.remove(signum)
            self._forward(signal.SIGHUP)

    def _stop_requested(self) -> bool:
        return any(s in (signal.SIGTERM, signal.SIGINT) for s in self._signals)

    def _next_timeout(self) -> float:
        due = [w.restart_at for w in self.workers if w.restart_at is not None]
        if not due:
            return 1.0
        return max(0.0, min(min(due) - time.monotonic(), 1.0))

    # --- workers ------------------------------------------------------------------------

    def _start(self, worker: _Worker) -> None:
        ready_r, ready_w = os.pipe()
        fds = f"{self.lock_fd},{ready_w},{self._life_r}"
        try:
            worker.proc = subprocess.Popen(  # noqa: S603 (our own command line)
                self.command(worker.slot, fds),
                pass_fds=(self.lock_fd, ready_w, self._life_r),
                stdin=subprocess.DEVNULL,
                # A group of their own: a terminal's Ctrl-C reaches the supervisor, which stops
                # them in order, not every process at once.
                process_group=0,
            )
        except OSError:
            os.close(ready_r)
            raise
        finally:
            os.close(ready_w)
        worker.ready_fd, worker.ready = ready_r, False
        worker.started_at, worker.restart_at = time.monotonic(), None
        log.info("worker started", worker=worker.slot, pid=worker.proc.pid)

    def _reap(self) -> None:
        now = time.monotonic()
        for worker in self.workers:
            if worker.proc is None or worker.proc.poll() is None:
                continue
            lived = now - worker.started_at
            if lived >= STEADY_S:
                worker.pause_s = RESTART_PAUSE_S[0]
            pause = worker.pause_s
            worker.pause_s = min(pause * 2, RESTART_PAUSE_S[1])
            log.error(
                "worker exited: restarting it",
                worker=worker.slot,
                pid=worker.proc.pid,
                status=worker.proc.returncode,
                lived_s=round(lived, 1),
                restart_in_s=pause,
            )
            self._close_ready(worker)
            worker.proc, worker.ready = None, False
            worker.restart_at = now + pause

    def _restart_due(self) -> None:
        now = time.monotonic()
        for worker in self.workers:
            if worker.restart_at is not None and worker.restart_at <= now:
                try:
                    self._start(worker)
                except OSError as exc:
                    log.error("worker could not be started", worker=worker.slot, error=str(exc))
                    worker.restart_at = now + RESTART_PAUSE_S[1]

    def _forward(self, signum: int) -> None:
        for worker in self.workers:
            if signum == signal.SIGHUP and not worker.ready:
                # Not serving yet: it has no handler for SIGHUP (which would end it), and it
                # reads the bundle as it is now anyway.
                continue
            if worker.proc is not None and worker.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.proc.send_signal(signum)
        log.info("signal forwarded to the workers", signal=signal.Signals(signum).name)

    def _stop_all(self) -> int:
        """SIGTERM to every worker, wait for them within the bound, kill what is left; 0 if
        every worker stopped by itself with status 0."""
        names = [signal.Signals(s).name for s in self._signals if s != signal.SIGHUP]
        self._signals.clear()
        log.info("stopping the workers", signal=names[0] if names else None, bound_s=SERVE_GRACE_S)
        self._forward(signal.SIGTERM)
        deadline = time.monotonic() + STOP_BOUND_S
        clean = True
        for worker in self.workers:
            if worker.proc is None:
                continue
            while worker.proc.poll() is None and time.monotonic() < deadline:
                self._wait(min(0.2, deadline - time.monotonic()))
                late = [s for s in self._signals if s in (signal.SIGTERM, signal.SIGINT)]
                if late:
                    log.warning(
                        "signal while stopping: the drain continues",
                        signal=signal.Signals(late[0]).name,
                        bound_s=SERVE_GRACE_S,
                    )
                    self._signals.clear()
            if worker.proc.poll() is None:
                log.error("worker still running at the bound: killed", worker=worker.slot)
                worker.proc.kill()
                worker.proc.wait()
            starting = not worker.ready and worker.proc.returncode == -signal.SIGTERM
            if worker.proc.returncode != 0 and not starting:  # a starting one had no calls
                clean = False
                log.error(
                    "worker stopped with an error",
                    worker=worker.slot,
                    pid=worker.proc.pid,
                    status=worker.proc.returncode,
                )
        log.info("workers stopped")
        return 0 if clean else 1

    def _close_ready(self, worker: _Worker) -> None:
        if worker.ready_fd is not None:
            with contextlib.suppress(OSError):
                os.close(worker.ready_fd)
            worker.ready_fd = None

    # --- signals ------------------------------------------------------------------------

    def _install_signals(self) -> dict[int, object]:
        os.set_blocking(self._wake_w, False)
        os.set_blocking(self._wake_r, False)
        previous: dict[int, object] = {}
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
            previous[signum] = signal.signal(signum, _noop)
        previous[-1] = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        return previous

    def _restore_signals(self, previous: dict[int, object]) -> None:
        signal.set_wakeup_fd(previous.pop(-1))  # type: ignore[arg-type]
        for signum, handler in previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]


_HEARD = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _noop(_signum: int, _frame: object) -> None:
    """The signal's number reaches the loop through the wakeup descriptor."""


def _pid(worker: _Worker) -> int | None:
    return worker.proc.pid if worker.proc is not None else None


def worker_command(
    work_dir: Path, listen: str, passthrough: list[str]
) -> Callable[[int, str], list[str]]:
    """The command line of worker ``slot``: this same ``aidbridge serve``, on the claimed
    address, with the supervisor's descriptors."""

    def command(slot: int, fds: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "gateway.cli",
            "serve",
            "--work",
            str(work_dir),
            "--listen",
            listen,
            *passthrough,
            "--worker-slot",
            str(slot),
            "--worker-fds",
            fds,
        ]

    return command
