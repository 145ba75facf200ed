"""Fixtures for the policy tests: the real bundle, the engines, the local Data-API server.

The engines: embedded regopy, OPA's own Go engine in process (golib_engine.py), and the
remote engine against the Data-API server, which puts OPA's engine behind OPA's HTTP API.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.policy.embedded import EmbeddedEngine
from gateway.policy.remote import RemoteEngine

from .golib_engine import GolibEngine
from .opa_data_api import OpaDataApiServer
from .table import BUNDLE


@pytest.fixture(scope="session")
def bundle_dir() -> Path:
    return BUNDLE


@pytest.fixture(scope="session")
def embedded() -> EmbeddedEngine:
    return EmbeddedEngine(BUNDLE)


@pytest.fixture(scope="session")
def golib() -> Iterator[GolibEngine]:
    engine = GolibEngine(BUNDLE)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def data_api() -> Iterator[OpaDataApiServer]:
    server = OpaDataApiServer(BUNDLE).start()
    yield server
    server.stop()


@pytest.fixture
def healthy_data_api(data_api: OpaDataApiServer) -> Iterator[OpaDataApiServer]:
    data_api.fault = None
    yield data_api
    data_api.fault = None


@pytest.fixture(scope="session")
def remote(data_api: OpaDataApiServer) -> RemoteEngine:
    # A generous timeout: the shared 2-core machine must not turn a slow answer into a flake.
    return RemoteEngine(data_api.url, bundle_dir=BUNDLE, timeout_s=2.0)


@pytest.fixture
def bundle_copy(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(BUNDLE, target)
    return target
