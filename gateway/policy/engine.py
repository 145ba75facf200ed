"""The policy decision interface the services call: one ``decide(input)`` per RPC.

DESIGN.md "Policy (OPA)": the gateway is the enforcement point and the Rego bundle in
``policies/`` decides (entrypoint ``data.aidbridge.authz.decision``). Two engines sit behind this
interface: the embedded regopy engine (default) and a remote OPA server. Both fail closed: an
engine error, a timeout, an undefined result or a decision of the wrong shape is a denial whose
reason says what went wrong; an unreachable remote engine also sets ``unavailable`` so the
service can answer UNAVAILABLE instead of PERMISSION_DENIED.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

import structlog

from gateway.policy.bundle import BundleError

__all__ = [
    "ACTIONS",
    "BundleError",
    "Decision",
    "PolicyEngine",
    "deny",
    "load_engine",
    "parse_decision",
]

log = structlog.get_logger("gateway.policy")

# The transforms an obligation may ask for (obligations.rego).
ACTIONS = frozenset({"plain", "pseudonymise", "generalise", "mask", "drop", "scrub"})


@dataclass(frozen=True)
class Decision:
    """What the policy decided about one call."""

    allow: bool
    reasons: tuple[str, ...]
    obligations: Mapping[str, Mapping[str, Any]]
    flags: tuple[str, ...]
    decision_id: str
    revision: str
    unavailable: bool = False  # remote engine unreachable: the service answers UNAVAILABLE
    # [from_ns, until_ns): when the same input but for now_ns gets this same decision (the
    # policy's "holds", holds.rego); None when the policy gave none or it cannot be reused
    # (a fail-closed denial has none). The decision cache reuses a decision only inside it.
    holds: tuple[int, int] | None = field(default=None, compare=False)
    # The id of the evaluated decision a cached answer reuses ("" when evaluated for this call).
    cached_from: str = field(default="", compare=False)
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def obligation(self, field_name: str) -> Mapping[str, Any]:
        """The obligation for a field; a field the policy did not mention is dropped."""
        return self.obligations.get(field_name, _DROP)


_DROP: Mapping[str, Any] = MappingProxyType({"action": "drop"})


class PolicyEngine(Protocol):
    @property
    def revision(self) -> str:
        """The revision of the bundle in force (from its .manifest), recorded in the ledger."""
        ...

    def decide(self, policy_input: Mapping[str, Any]) -> Decision:
        """Decide one call. Never raises: every failure is a denial (fail closed)."""
        ...

    def reload(self, bundle_dir: str | Path) -> str:
        """Swap in a new bundle once it compiles and its tests pass; returns its revision.

        Raises BundleError and keeps the old bundle otherwise."""
        ...


class MalformedDecision(ValueError):
    """The engine answered with something that is not a decision object."""


class _DecisionIds:
    """Decision ids in UUID form: 64 random bits drawn once per process (again in a forked
    child), then a counter. Unique per call without a system call: ``uuid4`` reads
    ``os.urandom``, which lets go of the GIL, and with other busy threads every call would then
    wait a switch interval (5 ms) to get it back (bench/bench_policy.py)."""

    def __init__(self) -> None:
        self._reseed()
        os.register_at_fork(after_in_child=self._reseed)

    def _reseed(self) -> None:
        self._prefix = int.from_bytes(os.urandom(8), "big") << 64
        self._counter = itertools.count(1)  # next() on a count is atomic under the GIL

    def new(self) -> str:
        return str(uuid.UUID(int=self._prefix | next(self._counter), version=4))


_ids = _DecisionIds()


def new_decision_id() -> str:
    return _ids.new()


def deny(
    reason: str, *, revision: str, decision_id: str | None = None, unavailable: bool = False
) -> Decision:
    """A fail-closed denial, logged with its reason."""
    decision = Decision(
        allow=False,
        reasons=(reason,),
        obligations=MappingProxyType({}),
        flags=(),
        decision_id=decision_id or new_decision_id(),
        revision=revision,
        unavailable=unavailable,
    )
    log.warning(
        "policy.fail_closed",
        reason=reason,
        decision_id=decision.decision_id,
        revision=revision,
        unavailable=unavailable,
    )
    return decision


def parse_decision(result: Any, *, decision_id: str | None, revision: str) -> Decision:
    """Check a decision object's shape and freeze it; raise MalformedDecision on any mismatch."""
    if not isinstance(result, Mapping):
        raise MalformedDecision(f"expected a decision object, found {type(result).__name__}")
    missing = {"allow", "reasons", "flags", "obligations"} - set(result)
    if missing:
        raise MalformedDecision(f"decision lacks {sorted(missing)}")
    allow = result["allow"]
    if not isinstance(allow, bool):
        raise MalformedDecision(f"allow must be true or false, found {allow!r}")
    reasons = _strings(result["reasons"], "reasons")
    flags = _strings(result["flags"], "flags")
    obligations = _obligations(result["obligations"])
    if not allow and not reasons:
        raise MalformedDecision("a denial must give at least one reason")
    if not allow and obligations:
        raise MalformedDecision("a denial must carry no obligations")
    holds = _holds(result["holds"]) if "holds" in result else None
    return Decision(
        allow=allow,
        reasons=reasons,
        obligations=obligations,
        flags=flags,
        decision_id=decision_id or new_decision_id(),
        revision=revision,
        holds=holds,
    )


def _holds(value: Any) -> tuple[int, int] | None:
    """The interval a decision holds in; None (not reusable) unless both ends are integers."""
    if not isinstance(value, Mapping) or not {"from_ns", "until_ns"} <= set(value):
        raise MalformedDecision(
            f"holds must be an object with from_ns and until_ns: {value!r}"[:200]
        )
    start, end = value["from_ns"], value["until_ns"]
    for name, bound in (("from_ns", start), ("until_ns", end)):
        if type(bound) is bool or not isinstance(bound, int | float):
            raise MalformedDecision(f"holds.{name} must be a number, found {bound!r}"[:200])
    # A time given as a fraction of a nanosecond makes a fractional bound: decided, not reused.
    if type(start) is not int or type(end) is not int:
        return None
    return (start, end)


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MalformedDecision(f"{name} must be a list of strings, found {value!r}"[:200])
    return tuple(value)


def _obligations(value: Any) -> Mapping[str, Mapping[str, Any]]:
    if not isinstance(value, Mapping):
        raise MalformedDecision(f"obligations must be an object, found {type(value).__name__}")
    frozen: dict[str, Mapping[str, Any]] = {}
    for name, ob in value.items():
        if not isinstance(ob, Mapping) or ob.get("action") not in ACTIONS:
            raise MalformedDecision(
                f"obligation for {name} must name an action, found {ob!r}"[:200]
            )
        frozen[name] = MappingProxyType(dict(ob))
    return MappingProxyType(frozen)


def load_engine(
    bundle_dir: str | Path,
    opa_url: str | None = None,
    timeout_s: float = 0.2,
    *,
    cache_entries: int = 0,
) -> PolicyEngine:
    """The embedded engine on ``bundle_dir``, or a remote OPA at ``opa_url`` when given.

    With ``cache_entries`` > 0 the embedded engine sits behind a decision cache of that many
    decisions (cache.py). A remote engine never does: the sidecar may load another bundle on its
    own, so its revision in force is only known from each answer.

    With a remote engine the ledger records the revision OPA reports serving; the bundle
    directory gives the revision of denials made without OPA's answer, and the one recorded
    (as ``local:<revision>``) when OPA reports none (remote.py)."""
    if opa_url:
        from gateway.policy.remote import RemoteEngine

        return RemoteEngine(opa_url, bundle_dir=bundle_dir, timeout_s=timeout_s)
    from gateway.policy.embedded import EmbeddedEngine

    engine = EmbeddedEngine(bundle_dir)
    if cache_entries > 0:
        from gateway.policy.cache import DecisionCache

        return DecisionCache(engine, max_entries=cache_entries)
    return engine
