"""The referral state machines, read from ``transitions.yaml`` beside this module: the one
place that knows which state may follow which and who may set it.

Every state change of a forward or reverse referral goes through ``Machine.check`` (via
``gateway.referrals.repository``): the calls, the expiry sweep and the consent-withdrawal
cascade alike. A role that may never set the target is refused PERMISSION_DENIED; a target the
role may set but not from the current state is refused FAILED_PRECONDITION naming that state.
States follow HL7 FHIR Task as used for referrals (Gravity Project); see the YAML's header.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from gateway import errors

GOVERNMENT = "government"
CHARITY = "charity"
GATEWAY = "gateway"
ROLES = (GOVERNMENT, CHARITY, GATEWAY)

REQUESTED = "requested"
ACCEPTED = "accepted"
REJECTED = "rejected"
IN_PROGRESS = "in-progress"
ON_HOLD = "on-hold"
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"
EXPIRED = "expired"
CANCELLED_BY_WITHDRAWAL = "cancelled-by-withdrawal"

SUBMITTED = "submitted"
RECEIVED = "received"
OPENED = "opened"
CLOSED = "closed"


@dataclass(frozen=True)
class Machine:
    """One state machine: ``transitions[state][target]`` is the roles that may make that step."""

    name: str
    initial: str
    transitions: dict[str, dict[str, frozenset[str]]]
    terminal: frozenset[str]

    @property
    def states(self) -> tuple[str, ...]:
        seen = [self.initial]
        for state, targets in self.transitions.items():
            seen.extend([state, *targets])
        return tuple(dict.fromkeys(seen))

    @property
    def open_states(self) -> frozenset[str]:
        return frozenset(self.transitions)

    def setters(self, target: str) -> frozenset[str]:
        """Every role that may set ``target`` from some state."""
        return frozenset(
            role for targets in self.transitions.values() for role in targets.get(target, ())
        )

    def allowed(self, current: str, target: str, role: str) -> bool:
        return role in self.transitions.get(current, {}).get(target, frozenset())

    def check(self, what: str, current: str, target: str, role: str) -> None:
        """Raise unless ``role`` may move ``what`` (e.g. "referral ref-…") from ``current`` to
        ``target``."""
        if target not in self.states:
            raise errors.InvalidArgument(
                f"state must be one of {', '.join(self.states)}, got {target!r}", field="state"
            )
        if role not in self.setters(target):
            raise errors.PermissionDenied(f"a {role} may not set a {self.name} to {target}")
        if not self.allowed(current, target, role):
            raise errors.FailedPrecondition(
                f"{what} is {current}; it cannot become {target}", field="state"
            )


def _machine(name: str, doc: dict[str, Any]) -> Machine:
    transitions = {
        str(state): {str(t): frozenset(str(r) for r in roles) for t, roles in targets.items()}
        for state, targets in doc["transitions"].items()
    }
    for targets in transitions.values():
        for roles in targets.values():
            unknown = roles - set(ROLES)
            if unknown:
                raise ValueError(f"transitions.yaml: unknown role(s) {sorted(unknown)} in {name}")
    return Machine(
        name=name.replace("_", " "),
        initial=str(doc["initial"]),
        transitions=transitions,
        terminal=frozenset(str(s) for s in doc["terminal"]),
    )


@cache
def machines() -> dict[str, Machine]:
    text = resources.files("gateway.referrals").joinpath("transitions.yaml").read_text("utf-8")
    doc = yaml.safe_load(text)
    return {name: _machine(name, body) for name, body in doc.items()}


def referral_machine() -> Machine:
    return machines()["referral"]


def reverse_machine() -> Machine:
    return machines()["reverse_referral"]


# Case data may be released while a referral is live; contact only once the charity accepted.
LIVE_FOR = {
    "summary": frozenset({REQUESTED, ACCEPTED, IN_PROGRESS, ON_HOLD}),
    "contact": frozenset({ACCEPTED, IN_PROGRESS}),
}
# Help can be recorded once the charity took the referral on (and after it completed).
HELP_STATES = frozenset({ACCEPTED, IN_PROGRESS, ON_HOLD, COMPLETED})
