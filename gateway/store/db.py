"""Engines, transactions and migrations for the gateway's store.

SQLite runs in WAL mode with ``synchronous=FULL`` so a committed exchange survives power loss,
and every write transaction starts with ``BEGIN IMMEDIATE`` so two writers never deadlock on a
lock upgrade; writers in several processes take turns first (``_WriterTurns``). PostgreSQL
needs nothing special: the same code runs on both.

Every wait on the database is bounded by one setting (``store_timeout_s``): SQLite's
``busy_timeout``, PostgreSQL's ``connect_timeout`` and ``lock_timeout`` (and the group commit's
``statement_timeout``).
A connection that saw a database error is invalidated, never returned to the pool, so a fault
(a read-only file, a terminated backend, a restarted cluster) never outlives itself.
"""

from __future__ import annotations

import fcntl
import math
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DataError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from gateway.keys import KeyRing

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
DEFAULT_TIMEOUT_S = 5.0


class StoreUnavailable(Exception):
    """The database could not be read or written (read-only, locked, gone)."""


class StoreRefused(StoreUnavailable):
    """The database refused a value of this write (an integer out of its range): the write's
    own fault, not the store's."""


def sqlite_url(path: Path | str) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def _make_engine(url: str, timeout_s: float) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": timeout_s},
            pool_size=8,
            max_overflow=8,
        )
        busy_ms = max(1, int(timeout_s * 1000))

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Take transaction control from pysqlite so BEGIN IMMEDIATE is ours to emit.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    engine = create_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,
        connect_args={"connect_timeout": max(1, math.ceil(timeout_s))},
    )
    wait_ms = max(1, int(timeout_s * 1000))

    @event.listens_for(engine, "connect")
    def _on_pg_connect(dbapi_conn: Any, _record: Any) -> None:
        # Set per session (not in the URL) so a URL's own `options` (search_path) stay intact.
        # statement_timeout is set by the group commit on its own transactions only, so a long
        # read (an audit export) is not cut short.
        with dbapi_conn.cursor() as cur:
            cur.execute(f"SET lock_timeout = {wait_ms}")
        dbapi_conn.commit()

    return engine


class Store:
    """One database. ``write()`` and ``read()`` yield a session inside one transaction that
    commits on success and rolls back on any error; a database fault becomes StoreUnavailable."""

    def __init__(self, url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        if not timeout_s > 0:
            raise ValueError(f"store timeout must be > 0 seconds, found {timeout_s!r}")
        self.url = url
        self.timeout_s = timeout_s
        self.engine = _make_engine(url, timeout_s)
        self.is_sqlite = url.startswith("sqlite")
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._turns = _writer_turns(url)

    @contextmanager
    def write(self) -> Iterator[Session]:
        with self.writer_turn():
            yield from self._transaction("IMMEDIATE")

    @contextmanager
    def writer_turn(self) -> Iterator[None]:
        """Around a write transaction: on a SQLite file, wait for the writers' turn lock first
        (``_writer_turns``); elsewhere nothing."""
        if self._turns is None:
            yield
            return
        fd = self._turns.take(self.timeout_s)
        try:
            yield
        finally:
            if fd is not None:
                os.close(fd)  # releases the turn

    @contextmanager
    def read(self) -> Iterator[Session]:
        yield from self._transaction("DEFERRED")

    def connect(self, sqlite_mode: str = "IMMEDIATE") -> Connection:
        """A pooled connection whose transactions begin in ``sqlite_mode`` on SQLite."""
        try:
            conn = self.engine.connect()
        except SQLAlchemyError as exc:
            raise StoreUnavailable(describe(exc)) from exc
        if self.is_sqlite:
            conn = conn.execution_options(sqlite_begin=sqlite_mode)
        return conn

    def _transaction(self, sqlite_mode: str) -> Iterator[Session]:
        conn = self.connect(sqlite_mode)
        try:
            with Session(bind=conn, expire_on_commit=False) as session:
                try:
                    session.begin()
                    yield session
                    session.commit()
                except BaseException as exc:
                    if is_database_error(exc):
                        # The connection saw a database error: throw it away, never pool it.
                        discard(conn)
                        raise as_store_error(exc) from exc
                    try:
                        session.rollback()
                    except SQLAlchemyError:
                        discard(conn)
                    raise
        finally:
            conn.close()

    def reset(self) -> None:
        """Drop every pooled connection: after a fault, connections opened during it (SQLite
        falls back to read-only when the file is not writable) must not outlive it."""
        self.engine.dispose()

    def migrate(self, keys: KeyRing | None = None) -> None:
        """Bring the schema to the newest migration. ``keys`` (the ``KeyRing``): for a revision
        that fills a new column of stored rows from their sealed payloads (0012)."""
        with self.engine.begin() as conn:
            cfg = alembic_config(self.url)
            cfg.attributes["connection"] = conn
            cfg.attributes["keys"] = keys
            command.upgrade(cfg, "heads")

    def ping(self) -> None:
        with self.read() as s:
            s.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


class _WriterTurns:
    """The write turns of one SQLite file, shared by every process writing it (the worker
    processes of ``serve --workers N``, the CLI): an ``flock`` on ``<database>-writer.lock``
    taken before ``BEGIN IMMEDIATE`` and released after the commit. SQLite's own lock stays the
    guard; this only queues its writers, polled every ≤ 2 ms, where SQLite's busy handler
    sleeps up to 100 ms between tries and lets a waiter starve. Past the bound, or when the
    file cannot be opened, the transaction goes on without it and SQLite's wait decides."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def take(self, timeout_s: float) -> int | None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return None
        deadline = time.monotonic() + timeout_s
        pause = 0.0002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return None
            except OSError:
                os.close(fd)
                return None
            time.sleep(pause)
            pause = min(pause * 2, 0.002)


def _writer_turns(url: str) -> _WriterTurns | None:
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url[len(prefix) :] in ("", ":memory:"):
        return None
    database = url[len(prefix) :].split("?", 1)[0]
    return _WriterTurns(Path(database + "-writer.lock"))


def discard(conn: Connection) -> None:
    """Invalidate ``conn``: its DBAPI connection is closed, not returned to the pool."""
    with suppress(SQLAlchemyError):
        conn.invalidate()


def is_database_error(exc: BaseException) -> bool:
    """Raised by the database or its driver (not by domain code)?"""
    return isinstance(exc, SQLAlchemyError | sqlite3.Error | OverflowError)


def as_store_error(exc: BaseException) -> StoreUnavailable:
    """The store error a caller hears for a database error: a value the database cannot hold
    is the write's own fault (StoreRefused); anything else is the store's (StoreUnavailable)."""
    if isinstance(exc, StoreUnavailable):
        return exc
    if isinstance(exc, OverflowError) or (
        isinstance(exc, SQLAlchemyError) and isinstance(exc.__cause__ or exc, OverflowError)
    ):
        return StoreRefused("a value is out of range for the store")
    if isinstance(exc, DataError):
        # Not the driver's text: it may quote the value, and values may be personal data.
        return StoreRefused("a value is out of range or of the wrong kind for the store")
    if isinstance(exc, SQLAlchemyError):
        return StoreUnavailable(describe(exc))
    return StoreUnavailable(f"database error: {exc}")


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def describe(exc: SQLAlchemyError) -> str:
    if isinstance(exc, OperationalError) and exc.orig is not None:
        return f"database error: {exc.orig}"
    return f"database error: {type(exc).__name__}"
