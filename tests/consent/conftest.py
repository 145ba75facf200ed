"""Fixtures for the consent tests: one key ring per session, a fresh migrated store per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.keys import KeyRing
from gateway.policy.catalogue import Catalogue
from gateway.store.db import sqlite_url

from .world import POLICIES, World, open_world


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyRing:
    return KeyRing.generate(tmp_path_factory.mktemp("keys") / "master.key")


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return Catalogue.load(POLICIES)


@pytest.fixture
def world(db_url: str, keys: KeyRing) -> Iterator[World]:
    """On SQLite, and on PostgreSQL too when AIDBRIDGE_TEST_PG_URL is set."""
    w = open_world(db_url, keys)
    yield w
    w.store.dispose()


@pytest.fixture
def sqlite_world(tmp_path: Path, keys: KeyRing) -> Iterator[World]:
    w = open_world(sqlite_url(tmp_path / "t.db"), keys)
    yield w
    w.store.dispose()
