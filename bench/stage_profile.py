"""Where a gateway server's CPU goes, by stage: an in-process sampling profiler for the
benchmarks (no py-spy needed).

Every ``interval_s`` a sampler thread reads each Python thread's own CPU clock
(``pthread_getcpuclockid``) and its current stack (``sys._current_frames``); the CPU the thread
used since the last sample is charged to the stage of that stack (of the last stack it was seen
working in, when it is waiting now): the first frame from the leaf
up whose file matches a stage rule (policy, SQLAlchemy ORM, SQLAlchemy Core, database driver,
crypto, protobuf, ledger, logging, gRPC/asyncio, other gateway code). Threads with no Python
frames (gRPC's C-core pollers, the TLS work) are read from ``/proc/self/task`` and charged to
"gRPC core (C threads)". A statistical estimate — the stack seen is the one the thread is on at
the sample, not every one it ran through — whose total is the process's whole CPU.

Control (from the benchmark): SIGUSR1 starts a fresh window, SIGUSR2 writes the window's figures
as JSON to the file given at ``install``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from types import FrameType
from typing import Any

# (stage, substrings of a frame's file name), tried for each frame from the leaf up; the first
# frame that matches any rule decides. Order matters only among rules that match the same file.
RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("policy (engine, input)", ("/gateway/policy/", "/regopy/")),
    ("DB driver (sqlite3/psycopg)", ("/psycopg/", "/sqlite3/")),
    ("SQLAlchemy ORM", ("/sqlalchemy/orm/",)),
    ("SQLAlchemy Core/engine", ("/sqlalchemy/",)),
    ("crypto (AES-GCM, HMAC)", ("/cryptography/", "/gateway/privacy/crypto", "/gateway/keys")),
    ("protobuf", ("/google/protobuf/", "_pb2")),
    ("ledger entry", ("/gateway/ledger/",)),
    ("logging", ("/structlog/", "/logging/")),
    ("gRPC / asyncio / event loop", ("/grpc/", "/asyncio/", "/selectors")),
)
# Leaf functions of the DB-API: the time in them is the driver's, whoever called them.
DRIVER_CALLS = frozenset({"do_execute", "do_executemany", "do_commit", "do_rollback"})
IDLE = "idle"
C_THREADS = "gRPC core (C threads)"
OTHER_GATEWAY = "other gateway Python (handlers, transforms)"
OTHER = "other Python"
_IDLE_FILES = ("/threading.py", "/queue.py", "/concurrent/futures/thread.py")


# What a thread is doing, by a frame anywhere on its stack (the first rule that matches).
ACTIVITIES: tuple[tuple[str, str], ...] = (
    ("ledger sequencer", "integrate"),
    ("group-commit writer", "_loop"),
    ("sweeps", "sweep"),
    ("call handlers", "_guarded"),
    ("refusals", "record_refusal"),
)


def activity_of(frame: FrameType | None, *, main: bool) -> str:
    return activity_of_stack(_stack(frame), main=main)


def activity_of_stack(stack: list[tuple[str, str]], *, main: bool) -> str:
    names = {function for function, _ in stack}
    for activity, function in ACTIVITIES:
        if function in names:
            return activity
    return "event loop (gRPC, asyncio)" if main else "other threads"


def stage_of(frame: FrameType | None) -> str:
    return stage_of_stack(_stack(frame))


def stage_of_stack(stack: list[tuple[str, str]]) -> str:
    """The stage of a stack of (function, file) pairs, leaf first."""
    gateway_seen = False
    for depth, (function, name) in enumerate(stack):
        if depth == 0 and function in DRIVER_CALLS:
            return "DB driver (sqlite3/psycopg)"
        if depth == 0 and name.endswith(_IDLE_FILES) and function in ("wait", "get", "_worker"):
            return IDLE
        for stage, parts in RULES:
            if any(p in name for p in parts):
                return stage
        if "/gateway/" in name:
            gateway_seen = True
    return OTHER_GATEWAY if gateway_seen else OTHER


def _stack(frame: FrameType | None) -> list[tuple[str, str]]:
    stack = []
    while frame is not None:
        stack.append((frame.f_code.co_name, frame.f_code.co_filename))
        frame = frame.f_back
    return stack


def read_py_spy(raw: str) -> tuple[dict[str, int], dict[str, int]]:
    """Samples by stage and by activity from ``py-spy record -f raw`` output (collapsed stacks,
    root first: ``function (file:line);...;function (file:line) count``)."""
    stages: dict[str, int] = defaultdict(int)
    activities: dict[str, int] = defaultdict(int)
    for line in raw.splitlines():
        frames, _, count = line.rpartition(" ")
        if not frames or not count.isdigit():
            continue
        stack = []
        for frame in reversed(frames.split(";")):
            function, _, where = frame.partition(" (")
            stack.append((function.rsplit(".", 1)[-1], "/" + where.rsplit(":", 1)[0]))
        main = not any(function == "_bootstrap" for function, _ in stack)
        stages[stage_of_stack(stack)] += int(count)
        activities[activity_of_stack(stack, main=main)] += int(count)
    return stages, activities


class Sampler:
    def __init__(self, out: Path, interval_s: float = 0.002) -> None:
        self.out = out
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._reset()
        self._thread = threading.Thread(target=self._run, name="stage-profile", daemon=True)

    def _reset(self) -> None:
        with_lock = self._lock
        with with_lock:
            self.cpu: dict[str, float] = defaultdict(float)
            self.last: dict[int, float] = {}
            self.doing: dict[int, tuple[str, str]] = {}
            self.by_activity: dict[str, float] = defaultdict(float)
            self.samples = 0
            self.started = time.monotonic()
            self.c_threads_start = self._c_thread_ticks()

    def start(self) -> None:
        signal.signal(signal.SIGUSR1, lambda *_: self._reset())
        signal.signal(signal.SIGUSR2, lambda *_: self.dump())
        self._thread.start()

    def _python_threads(self) -> dict[int, int]:
        """Python thread ident → native id, without the sampler itself."""
        me = threading.get_ident()
        return {
            t.ident: t.native_id
            for t in threading.enumerate()
            if t.ident is not None and t.native_id is not None and t.ident != me
        }

    def _c_thread_ticks(self) -> int:
        python_native = set(self._python_threads().values()) | {threading.get_native_id()}
        ticks = 0
        for tid in os.listdir("/proc/self/task"):
            if int(tid) in python_native:
                continue
            try:
                fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks

    def _run(self) -> None:
        main = threading.main_thread().ident
        while True:
            time.sleep(self.interval_s)
            frames = sys._current_frames()
            with self._lock:
                self.samples += 1
                for ident in self._python_threads():
                    try:
                        now = time.clock_gettime(time.pthread_getcpuclockid(ident))
                    except (OSError, OverflowError):
                        continue
                    before = self.last.get(ident)
                    self.last[ident] = now
                    if before is None:
                        continue
                    frame = frames.get(ident)
                    stage = stage_of(frame)
                    if stage == IDLE:
                        # Waiting now: what it used since the last sample was spent on the
                        # work it was last seen doing.
                        stage, activity = self.doing.get(ident, (IDLE, IDLE))
                    else:
                        activity = activity_of(frame, main=ident == main)
                        self.doing[ident] = (stage, activity)
                    self.cpu[stage] += now - before
                    self.by_activity[activity] += now - before

    def dump(self) -> None:
        with self._lock:
            c_seconds = (self._c_thread_ticks() - self.c_threads_start) / os.sysconf("SC_CLK_TCK")
            figures: dict[str, Any] = {
                "seconds": time.monotonic() - self.started,
                "samples": self.samples,
                "cpu_s": {**self.cpu, C_THREADS: c_seconds},
                "activity_s": {**self.by_activity, C_THREADS: c_seconds},
            }
        self.out.write_text(json.dumps(figures))


def install(out: Path) -> Sampler:
    sampler = Sampler(out)
    sampler.start()
    return sampler
