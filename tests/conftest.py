"""Shared fixtures: database URLs for SQLite and PostgreSQL, a gateway working directory, and a
real gateway serving over mutual TLS on an ephemeral port."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PG_ENV = "AIDBRIDGE_TEST_PG_URL"
PG_HINT = (
    f"set {PG_ENV} to a PostgreSQL URL to run the PostgreSQL tests "
    "(./dev test starts a throwaway cluster when PostgreSQL's server binaries are installed)"
)


def postgres_base_url() -> str:
    url = os.environ.get(PG_ENV, "")
    if not url:
        if os.environ.get("AIDBRIDGE_REQUIRE_PG"):
            pytest.fail(f"PostgreSQL is required here but {PG_ENV} is not set")
        pytest.skip(PG_HINT)
    return url


def fresh_postgres_url() -> str:
    """A schema of its own on the test cluster, so tests never see each other's rows."""
    import psycopg

    base = postgres_base_url()
    schema = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return fresh_postgres_url()


@pytest.fixture
def work(tmp_path: Path):  # type: ignore[no-untyped-def]
    from gateway.workdir import init_workdir

    return init_workdir(tmp_path / "work")


@dataclass
class RunningGateway:
    app: object
    port: int
    certs: Path
    _clients: list = field(default_factory=list)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self, org: str, actor: str = "staff-001"):  # type: ignore[no-untyped-def]
        from gateway.client import Client

        c = Client.connect(self.target, self.certs, org, actor)
        self._clients.append(c)
        return c

    def close(self) -> None:
        for c in self._clients:
            c.close()


def start_gateway(config, clock=None) -> Iterator[RunningGateway]:  # type: ignore[no-untyped-def]
    from gateway.app import Gateway
    from gateway.server import BackgroundServer

    app = Gateway.open(config, clock=clock)
    server = BackgroundServer(app)
    port = server.__enter__()
    running = RunningGateway(app=app, port=port, certs=config.certs_dir)
    try:
        yield running
    finally:
        running.close()
        server.stop()
        app.close()


@pytest.fixture
def gateway(work) -> Iterator[RunningGateway]:  # type: ignore[no-untyped-def]
    yield from start_gateway(work)
