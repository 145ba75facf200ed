"""The register and second approvals on a real SQLite store: withdrawn declarations stop
counting, a declaration counts only for the actor who made it, action ids tell requesters apart."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway import errors
from gateway.app import Gateway
from gateway.integrity import approvals, register
from gateway.workdir import init_workdir

NOW = 1_795_804_588_684_864_892


@pytest.fixture
def app(tmp_path):  # type: ignore[no-untyped-def]
    gateway = Gateway.open(init_workdir(tmp_path / "work"))
    yield gateway
    gateway.close()


def test_a_declaration_counts_for_its_actor_until_withdrawn(app) -> None:  # type: ignore[no-untyped-def]
    index = app.subject_index("11010519491231002X")
    with app.store.write() as session:
        view = register.declare(
            session,
            org="jb-civil-affairs",
            actor="cw-1",
            relative_index=index,
            relationship="parent",
            now_ns=NOW,
        )
        fact = approvals.conflict_fact(
            session, org="jb-civil-affairs", actor="cw-1", relative_index=index
        )
        assert fact == {"declared_relative": True, "relationships": ["parent"]}
        colleague = approvals.conflict_fact(
            session, org="jb-civil-affairs", actor="cw-2", relative_index=index
        )
        assert colleague["declared_relative"] is False
        register.withdraw(
            session, view.declaration_id, org="jb-civil-affairs", actor="cw-1", now_ns=NOW + 1
        )
        after = approvals.conflict_fact(
            session, org="jb-civil-affairs", actor="cw-1", relative_index=index
        )
        assert after == {"declared_relative": False, "relationships": []}


def test_an_unknown_relationship_is_refused_naming_the_field(app) -> None:  # type: ignore[no-untyped-def]
    with app.store.write() as session, pytest.raises(errors.InvalidArgument) as err:
        register.declare(
            session, org="o", actor="a", relative_index="k1.x", relationship="cousin", now_ns=NOW
        )
    assert err.value.field == "relationship"


@given(st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=20))
def test_action_ids_of_different_actors_never_match(first: str, second: str) -> None:
    if first == second:
        return
    ids = {
        approvals.action_id(org="o", actor=actor, method="m", request_digest="d")
        for actor in (first, second)
    }
    assert len(ids) == 2
