"""Every legal and illegal referral transition for every role, from the table in
``referral_transitions.yaml`` beside this file: in the state machine itself, in the policy's
data (which must say the same per role), and through the real server for the roles that call it.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from aidbridge.v1 import consents_pb2
from gateway import errors
from gateway.clock import NS_PER_DAY
from gateway.referrals import states
from gateway.services.referrals import state_value
from gateway.sweeps import sweep
from tests.e2e.flow import CHARITY_A, GOV
from tests.referrals.loop import S, help_request, person, refer, set_state

TABLE = yaml.safe_load((Path(__file__).parent / "referral_transitions.yaml").read_text("utf-8"))
DATA = json.loads(
    (Path(__file__).resolve().parents[2] / "policies/aidbridge/data.json").read_text("utf-8")
)


def _legal(machine: str) -> set[tuple[str, str, str]]:
    found = set()
    for role, steps in TABLE[machine]["legal"].items():
        for step in steps:
            current, target = (s.strip() for s in step.split("->"))
            found.add((current, target, role))
    return found


def _expected(machine: str, current: str, target: str, role: str) -> str:
    legal = _legal(machine)
    if (current, target, role) in legal:
        return "OK"
    if not any(t == target and r == role for _, t, r in legal):
        return "PERMISSION_DENIED"
    return "FAILED_PRECONDITION"


CASES = [
    (machine, current, target, role)
    for machine in ("referral", "reverse_referral")
    for current, target in itertools.product(TABLE[machine]["states"], repeat=2)
    for role in states.ROLES
]


@pytest.mark.parametrize(("machine", "current", "target", "role"), CASES)
def test_the_machine_allows_exactly_the_table(machine: str, current: str, target: str, role: str):
    m = states.machines()[machine]
    expected = _expected(machine, current, target, role)
    try:
        m.check("it", current, target, role)
        outcome = "OK"
    except errors.AidBridgeError as exc:
        outcome = exc.code
        if outcome == "FAILED_PRECONDITION":
            assert f"it is {current}; it cannot become {target}" in exc.message
    assert outcome == expected


def test_the_machine_knows_the_states_of_the_table_and_no_other():
    for machine in ("referral", "reverse_referral"):
        assert set(states.machines()[machine].states) == set(TABLE[machine]["states"])


@pytest.mark.parametrize(
    ("check", "machine", "role"),
    [
        ("referral_state_by_sender", "referral", "government"),
        ("referral_state_by_recipient", "referral", "charity"),
        ("reverse_referral_received", "reverse_referral", "government"),
    ],
)
def test_the_policy_lets_each_role_set_what_the_machine_lets_it(check, machine, role):
    setters = {t for _, t, r in _legal(machine) if r == role}
    assert set(DATA["checks"][check]["target_states"]) == setters


def test_the_policy_takes_help_in_the_states_the_package_takes_it():
    assert set(DATA["checks"]["help_on_referral"]["states"]) == set(states.HELP_STATES)


# --- through the real server ---------------------------------------------------------------

RPC_ROLES = {"government": GOV, "charity": CHARITY_A}
REFERRAL_STATES: list[str] = TABLE["referral"]["states"]


class Driver:
    """Brings referrals into any state through the real calls (and the sweep, and a withdrawal)."""

    def __init__(self, gw: Any) -> None:
        self.gw = gw
        self.gov = gw.client(GOV)
        self.charity = gw.client(CHARITY_A)
        self.n = 0

    def rid(self) -> str:
        self.n += 1
        return f"t-{self.n}"

    def new(self, days: int = 0) -> str:
        return refer(
            self.gw, self.gov, person(40 + self.n % 50), tag=self.rid(), days=days
        ).referral_id

    def into(self, state: str) -> str:
        if state == "expired":
            referral_id = self.new(days=1)
            self.gw.clock.advance(NS_PER_DAY)
            sweep(self.gw.app)
            return referral_id
        referral_id = self.new()
        if state == "cancelled-by-withdrawal":
            consent_id = self.gov.referrals.GetReferral(
                S.GetReferralRequest(referral_id=referral_id)
            ).consent_id
            self.gov.consents.WithdrawConsent(
                consents_pb2.WithdrawConsentRequest(
                    request_id=self.rid(), consent_id=consent_id, reason="本人撤回"
                )
            )
            return referral_id
        path = {
            "requested": [],
            "accepted": ["accepted"],
            "rejected": ["rejected"],
            "in-progress": ["accepted", "in-progress"],
            "on-hold": ["accepted", "on-hold"],
            "completed": ["accepted", "completed"],
            "failed": ["accepted", "failed"],
            "cancelled": ["cancelled"],
        }[state]
        for step in path:
            self.step(step, referral_id, "government" if step == "cancelled" else "charity")
        return referral_id

    def step(self, target: str, referral_id: str, role: str) -> S.Referral:
        client = self.gov if role == "government" else self.charity
        extra: dict[str, Any] = {}
        if target == "rejected":
            extra["rejection_reason"] = S.REJECTION_REASON_NOT_ELIGIBLE
        if target == "completed" and role == "charity":
            self._help(referral_id)
        return set_state(client, referral_id, state_value(target), rid=self.rid(), **extra)

    def _help(self, referral_id: str) -> None:
        state = self.gov.referrals.GetReferral(S.GetReferralRequest(referral_id=referral_id)).state
        if state in {state_value(s) for s in states.HELP_STATES}:
            self.charity.referrals.RecordHelp(help_request(self.gw, referral_id, rid=self.rid()))


def test_every_transition_for_every_calling_role_through_the_server(loop_gw):
    driver = Driver(loop_gw)
    # Expired first: the sweep moves the clock on, and later referrals must not expire with it.
    standing = {"expired": driver.into("expired")}
    for state in REFERRAL_STATES:
        standing.setdefault(state, driver.into(state))
    seen: list[tuple[str, str, str, str]] = []
    for current, target, role in itertools.product(REFERRAL_STATES, REFERRAL_STATES, RPC_ROLES):
        expected = _expected("referral", current, target, role)
        referral_id = driver.into(current) if expected == "OK" else standing[current]
        try:
            after = driver.step(target, referral_id, role)
            outcome = "OK"
            assert after.state == state_value(target)
        except grpc.RpcError as exc:
            outcome = exc.code().name
            if outcome == "FAILED_PRECONDITION":
                assert f"is {current}" in exc.details(), exc.details()
        seen.append((current, target, role, outcome))
    wrong = [s for s in seen if s[3] != _expected("referral", *s[:3])]
    assert wrong == []
    # Nothing moved the standing referrals: every refused step left them where they were.
    for state, referral_id in standing.items():
        got = driver.gov.referrals.GetReferral(S.GetReferralRequest(referral_id=referral_id))
        assert got.state == state_value(state), state
