"""The remote policy engine: an OPA server (a sidecar) asked through its Data API.

``POST /v1/data/aidbridge/authz/decision`` with ``{"input": ...}`` answers ``{"result": ...}``
and, when OPA's decision logging is on, ``"decision_id"`` (openpolicyagent.org/docs/rest-api).
The request goes through opa-python-client's ``OpaClient.query_rule``, which takes a timeout
and posts the input as OPA expects; its retries are turned off so a dead sidecar costs one
timeout, not three. Unreachable or too slow is a denial with ``unavailable=True``; a server
error, unreadable JSON, an undefined result or a malformed decision is a plain denial.

Each query asks for decision provenance (``?provenance=true``): OPA then reports the revision of
every bundle it serves (``provenance.bundles.<name>.revision``), and that revision, not the local
bundle directory's, goes into the decision and so into the ledger: the sidecar may serve another
bundle than the one beside the gateway. An OPA that reports no bundle revision (one started on
plain files, ``opa run --server policies/``, or a proxy that drops the field) cannot say what it
served; the decision then records ``local:<revision>``, the local bundle's revision marked as
unconfirmed, and the gateway logs ``policy.revision_unconfirmed`` once.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from opa_client.opa import OpaClient

from gateway.policy.bundle import DECISION_PATH, BundleError, read_bundle
from gateway.policy.engine import Decision, MalformedDecision, deny, log, parse_decision
from gateway.policy.regotest import failures, run_tests

_PACKAGE, _RULE = DECISION_PATH.rsplit("/", 1)

# The prefix of a revision OPA did not confirm: the local bundle's, recorded in its place.
UNCONFIRMED = "local:"


def served_revision(provenance: Any) -> str | None:
    """The bundle revision an OPA answer's ``provenance`` reports; None when it reports none.

    One bundle gives its revision; several give ``name=revision`` pairs, sorted, joined by
    commas. OPA before bundles carried names reported a single top-level ``revision``."""
    if not isinstance(provenance, Mapping):
        return None
    bundles = provenance.get("bundles")
    if isinstance(bundles, Mapping):
        revisions = {
            str(name): info["revision"]
            for name, info in bundles.items()
            if isinstance(info, Mapping)
            and isinstance(info.get("revision"), str)
            and info["revision"]
        }
        if len(revisions) == 1:
            return next(iter(revisions.values()))
        if revisions:
            return ",".join(f"{name}={rev}" for name, rev in sorted(revisions.items()))
    legacy = provenance.get("revision")
    return legacy if isinstance(legacy, str) and legacy else None


class RemoteEngine:
    """An OPA server at ``opa_url``; ``decide`` never raises."""

    def __init__(
        self, opa_url: str, *, bundle_dir: str | Path | None = None, timeout_s: float = 0.2
    ) -> None:
        parts = urlsplit(opa_url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"opa_url: expected http(s)://host:port, found {opa_url!r}")
        self.opa_url = opa_url
        self.timeout_s = timeout_s
        self._client = OpaClient(
            host=parts.hostname,
            port=parts.port or (443 if parts.scheme == "https" else 80),
            ssl=parts.scheme == "https",
            retries=0,
            timeout=timeout_s,
        )
        # The local bundle's revision: what a denial made here records, and what a decision
        # records (marked unconfirmed) when OPA reports none.
        self.revision = read_bundle(bundle_dir).revision if bundle_dir else "remote"
        self._warned_unconfirmed = False

    def decide(self, policy_input: Mapping[str, Any]) -> Decision:
        revision = self.revision
        try:
            answer = self._client.query_rule(
                input_data=dict(policy_input),
                package_path=_PACKAGE,
                rule_name=_RULE,
                query_params={"provenance": True},
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            return deny(
                f"policy engine unreachable at {self.opa_url}: {type(exc).__name__}",
                revision=revision,
                unavailable=True,
            )
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            return deny(f"policy engine error: HTTP {status}", revision=revision)
        except ValueError as exc:  # the body is not JSON (requests' JSONDecodeError)
            return deny(f"policy engine returned unreadable JSON: {exc}"[:300], revision=revision)
        except (requests.RequestException, TypeError) as exc:
            return deny(f"policy engine error: {exc}"[:300], revision=revision)
        if not isinstance(answer, Mapping) or "result" not in answer:
            return deny("policy decision is undefined for this input", revision=revision)
        decision_id = answer.get("decision_id")
        if not isinstance(decision_id, str) or not decision_id:
            decision_id = None
        revision = self._revision_of(answer.get("provenance"))
        try:
            return parse_decision(answer["result"], decision_id=decision_id, revision=revision)
        except MalformedDecision as exc:
            return deny(
                f"policy returned a malformed decision: {exc}",
                revision=revision,
                decision_id=decision_id,
            )

    def _revision_of(self, provenance: Any) -> str:
        served = served_revision(provenance)
        if served is not None:
            return served
        if not self._warned_unconfirmed:
            self._warned_unconfirmed = True
            log.warning(
                "policy.revision_unconfirmed",
                opa_url=self.opa_url,
                recorded=UNCONFIRMED + self.revision,
                why="OPA reported no bundle revision (provenance); is it run with --bundle?",
            )
        return UNCONFIRMED + self.revision

    def reload(self, bundle_dir: str | Path) -> str:
        """Check the bundle the sidecar is about to serve and record its revision.

        The sidecar loads bundles itself (OPA bundle polling or a restart); the gateway only
        refuses to record a revision whose tests fail."""
        source = read_bundle(bundle_dir)
        failed = failures(run_tests(source))
        if failed:
            raise BundleError(f"policy bundle {bundle_dir}: {len(failed)} Rego test(s) fail")
        old, self.revision = self.revision, source.revision
        log.info("policy.reloaded", revision=source.revision, previous=old, engine="remote")
        return source.revision

    def close(self) -> None:
        self._client.close_connection()
