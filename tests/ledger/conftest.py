"""Fixtures for the ledger tests: a migrated store on a real SQLite file, and the same on
PostgreSQL (a fresh schema per test) when AIDBRIDGE_TEST_PG_URL is set."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, text

from gateway.clock import FixedClock
from gateway.ledger.authenticator import EntryAuthenticator
from gateway.ledger.log import Ledger
from gateway.store import Store
from gateway.store.db import sqlite_url

PG_ENV = "AIDBRIDGE_TEST_PG_URL"
ORIGIN = "aidbridge.test/ledger"
START_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
# The gateway derives this key from its master key; any fixed 32 bytes do for the tests.
AUTHENTICATOR = EntryAuthenticator(hashlib.sha256(b"aidbridge test ledger key").digest())


def _psycopg_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = Store(sqlite_url(tmp_path / "ledger.db"))
        s.migrate()
        yield s
        s.dispose()
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"set {PG_ENV} to run against PostgreSQL")
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(_psycopg_url(base))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    joiner = "&" if "?" in base else "?"
    s = Store(f"{base}{joiner}options=-csearch_path%3D{schema}")
    try:
        s.migrate()
        yield s
    finally:
        s.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START_NS)


@pytest.fixture
def ledger(store: Store, signing_key: Ed25519PrivateKey, clock: FixedClock) -> Ledger:
    return Ledger(store, signing_key, ORIGIN, clock, AUTHENTICATOR)
