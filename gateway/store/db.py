"""Engines, transactions and migrations for the gateway's store.

SQLite runs in WAL mode with ``synchronous=FULL`` so a committed exchange survives power loss,
and every write transaction starts with ``BEGIN IMMEDIATE`` so two writers never deadlock on a
lock upgrade. PostgreSQL needs nothing special: the same code runs on both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class StoreUnavailable(Exception):
    """The database could not be read or written (read-only, locked, gone)."""


def sqlite_url(path: Path | str) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=8,
            max_overflow=8,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Take transaction control from pysqlite so BEGIN IMMEDIATE is ours to emit.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


class Store:
    """One database. ``write()`` and ``read()`` yield a session inside one transaction that
    commits on success and rolls back on any error; a database fault becomes StoreUnavailable."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _make_engine(url)
        self.is_sqlite = url.startswith("sqlite")
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def write(self) -> Iterator[Session]:
        yield from self._transaction("IMMEDIATE")

    @contextmanager
    def read(self) -> Iterator[Session]:
        yield from self._transaction("DEFERRED")

    def _transaction(self, sqlite_mode: str) -> Iterator[Session]:
        try:
            conn = self.engine.connect()
        except SQLAlchemyError as exc:
            raise StoreUnavailable(describe(exc)) from exc
        try:
            if self.is_sqlite:
                conn = conn.execution_options(sqlite_begin=sqlite_mode)
            with Session(bind=conn, expire_on_commit=False) as session:
                try:
                    session.begin()
                    yield session
                    session.commit()
                except SQLAlchemyError as exc:
                    session.rollback()
                    raise StoreUnavailable(describe(exc)) from exc
                except BaseException:
                    session.rollback()
                    raise
        finally:
            conn.close()

    def migrate(self) -> None:
        """Bring the schema to the newest migration."""
        with self.engine.begin() as conn:
            cfg = alembic_config(self.url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def ping(self) -> None:
        with self.read() as s:
            s.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def describe(exc: SQLAlchemyError) -> str:
    if isinstance(exc, OperationalError) and exc.orig is not None:
        return f"database error: {exc.orig}"
    return f"database error: {type(exc).__name__}"
