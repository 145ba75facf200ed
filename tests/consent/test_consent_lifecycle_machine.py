"""A state-machine property: no sequence of record / supersede / withdraw / mark-in-error / sweep
/ clock moves ever makes ``effective_consent`` answer "active" for a consent that was withdrawn,
expired, superseded or entered in error, or whose validity does not include now.

Hypothesis drives the real repository on a real SQLite store; a small model predicts which
operations must succeed and what each consent's effective state must be.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from gateway.clock import FixedClock
from gateway.consent import repository
from gateway.consent.model import (
    ACTIVE,
    ENTERED_IN_ERROR,
    EXPIRED,
    NOT_YET_VALID,
    SUPERSEDED,
    TERMINAL_STATES,
    WITHDRAWN,
)
from gateway.errors import FailedPrecondition, InvalidArgument
from gateway.keys import KeyRing
from gateway.store.db import sqlite_url

from .world import GOV, HARBOUR, NOW, SUNSHINE, World, open_world, valid_draft

RECIPIENTS = st.sampled_from([SUNSHINE, HARBOUR])
PURPOSES = st.sampled_from(["charitable_assistance", "medical_aid"])
STARTS = st.integers(min_value=-6, max_value=6)  # ns relative to now: small, so moves cross them
LENGTHS = st.integers(min_value=1, max_value=25)


@dataclass
class Expected:
    recipient: str
    purpose: str
    valid_from_ns: int
    valid_until_ns: int
    ended: str | None = None  # the terminal state, once one is recorded
    released_to: set[str] = field(default_factory=set)

    def state_at(self, now_ns: int) -> str:
        if self.ended is not None:
            return self.ended
        if now_ns >= self.valid_until_ns:
            return EXPIRED
        if now_ns < self.valid_from_ns:
            return NOT_YET_VALID
        return ACTIVE


class ConsentLifecycle(RuleBasedStateMachine):
    consents = Bundle("consents")

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world
        self.clock = FixedClock(NOW)
        self.case_id = world.add_case()
        self.expected: dict[str, Expected] = {}

    # -- operations ---------------------------------------------------------------------------

    @rule(target=consents, recipient=RECIPIENTS, purpose=PURPOSES, start=STARTS, length=LENGTHS)
    def record(self, recipient: str, purpose: str, start: int, length: int) -> object:
        return self._record(recipient, purpose, start, length, supersedes=None)

    @rule(
        target=consents,
        old=consents,
        recipient=RECIPIENTS,
        purpose=PURPOSES,
        start=STARTS,
        length=LENGTHS,
    )
    def supersede(self, old: str, recipient: str, purpose: str, start: int, length: int) -> object:
        return self._record(recipient, purpose, start, length, supersedes=old)

    @rule(consent_id=consents)
    def withdraw(self, consent_id: str) -> None:
        self._end(consent_id, WITHDRAWN)

    @rule(consent_id=consents)
    def mark_entered_in_error(self, consent_id: str) -> None:
        self._end(consent_id, ENTERED_IN_ERROR)

    @rule(consent_id=consents, org=RECIPIENTS)
    def release(self, consent_id: str, org: str) -> None:
        first = self.world.release(consent_id, org, self.clock.now_ns())
        assert first == (org not in self.expected[consent_id].released_to)
        self.expected[consent_id].released_to.add(org)

    @rule()
    def sweep(self) -> None:
        now = self.clock.now_ns()
        due = [e for e in self.expected.values() if e.ended is None and e.valid_until_ns <= now]
        with self.world.write() as session:
            count = repository.expire_due(session, now, pseudonym_for=self.world.pseudonym)
        assert count == len(due)
        for expected in due:
            expected.ended = EXPIRED

    @rule(ns=st.integers(min_value=0, max_value=12))
    def tick(self, ns: int) -> None:
        self.clock.advance(ns)

    # -- the property -------------------------------------------------------------------------

    @invariant()
    def effective_state_is_never_wrongly_active(self) -> None:
        now = self.clock.now_ns()
        with self.world.store.read() as session:
            for consent_id, expected in self.expected.items():
                effective = repository.effective_consent(session, consent_id, now)
                assert effective.state == expected.state_at(now), consent_id
                if effective.state == ACTIVE:
                    assert effective.valid_from_ns <= now < effective.valid_until_ns
                    recorded = repository.events(session, consent_id)
                    assert not any(e.event in TERMINAL_STATES for e in recorded)

    # -- helpers ------------------------------------------------------------------------------

    def _record(
        self, recipient: str, purpose: str, start: int, length: int, supersedes: str | None
    ) -> object:
        now = self.clock.now_ns()
        draft = valid_draft(
            self.case_id,
            recipient_org=recipient,
            purpose=purpose,
            valid_from_ns=now + start,
            valid_until_ns=now + start + length,
            supersedes=supersedes,
        )
        live = (ACTIVE, NOT_YET_VALID)
        if draft.valid_until_ns <= now:
            outcome: type[Exception] | None = InvalidArgument
        elif supersedes is not None and self.expected[supersedes].state_at(now) not in live:
            outcome = FailedPrecondition
        elif any(
            (e.recipient, e.purpose) == (recipient, purpose)
            and e.state_at(now) in live
            and consent_id != supersedes
            for consent_id, e in self.expected.items()
        ):
            outcome = FailedPrecondition  # one live consent per recipient and purpose
        else:
            outcome = None
        if outcome is not None:
            with pytest.raises(outcome):
                self.world.record(draft, now_ns=now)
            return multiple()
        record = self.world.record(draft, now_ns=now)
        if supersedes is not None:
            self.expected[supersedes].ended = SUPERSEDED
        self.expected[record.consent_id] = Expected(
            recipient, purpose, draft.valid_from_ns, draft.valid_until_ns
        )
        return record.consent_id

    def _end(self, consent_id: str, state: str) -> None:
        expected = self.expected[consent_id]
        end = repository.withdraw if state == WITHDRAWN else repository.mark_entered_in_error
        now = self.clock.now_ns()

        def call() -> repository.WithdrawalResult:
            with self.world.write() as session:
                return end(
                    session,
                    consent_id,
                    org=GOV,
                    actor="caseworker-007",
                    reason="state machine",
                    now_ns=now,
                    pseudonym_for=self.world.pseudonym,
                )

        if expected.ended is not None:
            with pytest.raises(FailedPrecondition):
                call()
            return
        result = call()
        assert result.record.state == state
        assert result.recipients_notified == len(expected.released_to)
        expected.ended = state


def test_no_operation_sequence_leaves_a_dead_consent_effective(
    tmp_path: Path, keys: KeyRing
) -> None:
    worlds: list[World] = []

    def fresh_machine() -> ConsentLifecycle:
        # A store of its own per run, so the sweep's count is this run's alone.
        world = open_world(sqlite_url(tmp_path / f"{uuid.uuid4().hex}.db"), keys)
        worlds.append(world)
        return ConsentLifecycle(world)

    try:
        run_state_machine_as_test(
            fresh_machine,
            settings=settings(
                max_examples=25,
                stateful_step_count=25,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        for world in worlds:
            world.store.dispose()
