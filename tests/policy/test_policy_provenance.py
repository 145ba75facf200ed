"""The remote engine records the revision OPA reports serving, not the local bundle's.

OPA answers ``?provenance=true`` with the revision of each bundle it serves. The Data-API test
server puts OPA's own engine behind OPA's HTTP API and reports provenance as OPA does: for a
bundle loaded as a bundle (``opa run --bundle``) its ``.manifest`` revision; for plain files
(``opa run policies/``) none, and the decision then records ``local:<revision>``.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from gateway.policy.remote import RemoteEngine, served_revision

from .opa_data_api import OpaDataApiServer
from .table import BUNDLE, load_table

ALLOWED = next(row[1] for row in load_table() if row[2]["allow"] and "release" in row[1])
LOCAL = "2026.12.03-1"


@pytest.fixture
def sidecar_on_newer_bundle(bundle_copy: Path) -> Iterator[OpaDataApiServer]:
    (bundle_copy / ".manifest").write_text(
        '{"revision": "2026.12.01-7", "roots": ["aidbridge"]}', encoding="utf-8"
    )
    server = OpaDataApiServer(bundle_copy).start()
    yield server
    server.stop()


@pytest.fixture
def sidecar_on_plain_files() -> Iterator[OpaDataApiServer]:
    server = OpaDataApiServer(BUNDLE, as_bundle=False).start()
    yield server
    server.stop()


def test_decision_records_the_revision_the_sidecar_serves(
    sidecar_on_newer_bundle: OpaDataApiServer,
) -> None:
    engine = RemoteEngine(sidecar_on_newer_bundle.url, bundle_dir=BUNDLE, timeout_s=2.0)
    assert engine.revision == LOCAL  # the bundle beside the gateway
    decision = engine.decide(ALLOWED)
    assert decision.allow
    assert decision.revision == "2026.12.01-7"  # what OPA says decided


def test_a_denial_records_the_served_revision_too(
    sidecar_on_newer_bundle: OpaDataApiServer,
) -> None:
    engine = RemoteEngine(sidecar_on_newer_bundle.url, bundle_dir=BUNDLE, timeout_s=2.0)
    decision = engine.decide({**ALLOWED, "caller": {"org": "charity-unknown", "role": "charity"}})
    assert not decision.allow and decision.revision == "2026.12.01-7"


def test_without_provenance_the_local_revision_is_recorded_as_unconfirmed(
    sidecar_on_plain_files: OpaDataApiServer,
) -> None:
    engine = RemoteEngine(sidecar_on_plain_files.url, bundle_dir=BUNDLE, timeout_s=2.0)
    with capture_logs() as logs:
        first, second = engine.decide(ALLOWED), engine.decide(ALLOWED)
    assert first.allow and first.revision == second.revision == f"local:{LOCAL}"
    warnings = [e for e in logs if e["event"] == "policy.revision_unconfirmed"]
    assert len(warnings) == 1 and warnings[0]["recorded"] == f"local:{LOCAL}"


def test_an_unreachable_sidecar_is_denied_under_the_local_revision() -> None:
    server = OpaDataApiServer(BUNDLE).start()
    url = server.url
    server.stop()
    decision = RemoteEngine(url, bundle_dir=BUNDLE, timeout_s=0.5).decide(ALLOWED)
    assert decision.unavailable and decision.revision == LOCAL


def test_the_data_api_reports_provenance_only_when_asked(data_api: OpaDataApiServer) -> None:
    def post(query: str) -> dict:
        request = urllib.request.Request(
            f"{data_api.url}/v1/data/aidbridge/authz/allow{query}",
            data=json.dumps({"input": ALLOWED}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    assert "provenance" not in post("")
    asked = post("?provenance=true")
    assert asked["result"] is True
    assert asked["provenance"]["bundles"] == {str(BUNDLE): {"revision": LOCAL}}
    assert post("?provenance=false").keys() == {"result", "decision_id"}


@pytest.mark.parametrize(
    ("provenance", "revision"),
    [
        ({"version": "1.20.2", "bundles": {"policies": {"revision": "r-1"}}}, "r-1"),
        ({"bundles": {"b": {"revision": "2"}, "a": {"revision": "1"}}}, "a=1,b=2"),
        ({"revision": "legacy-3"}, "legacy-3"),
        ({"version": "1.20.2"}, None),
        ({"bundles": {"policies": {"revision": ""}}}, None),
        ({"bundles": {"policies": {"revision": 7}}}, None),
        ({"bundles": ["policies"]}, None),
        ("r-1", None),
        (None, None),
    ],
    ids=["one", "several", "legacy", "no-bundles", "empty", "number", "list", "text", "none"],
)
def test_served_revision_reads_only_what_opa_reports(provenance: object, revision: str) -> None:
    assert served_revision(provenance) == revision
