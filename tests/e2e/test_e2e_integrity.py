"""The conflict-of-interest register through a real gateway over mutual TLS: staff declare a
relative by resident id, the store keeps only the keyed index, only the declaring person can
withdraw, bad input is refused naming the field and ledgered, every declaration is ledgered
under the relative's ledger pseudonym."""

from __future__ import annotations

import grpc
import pytest
from sqlalchemy import select

from aidbridge.v1 import integrity_pb2
from gateway.store.models import ConflictDeclaration, LedgerEntry
from tests.e2e.flow import CHARITY_A, COMPLIANCE, GOV, adults

IG = integrity_pb2
DECLARE = "aidbridge.v1.IntegrityService/DeclareRelationship"
WITHDRAW = "aidbridge.v1.IntegrityService/WithdrawDeclaration"


def refused(call) -> grpc.RpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as err:
        call()
    return err.value


def entries(app, method: str) -> list[LedgerEntry]:  # type: ignore[no-untyped-def]
    with app.store.read() as session:
        return list(
            session.scalars(
                select(LedgerEntry).where(LedgerEntry.method == method).order_by(LedgerEntry.id)
            )
        )


def declare(client, tag: str, resident_id: str, relationship=IG.RELATIONSHIP_SIBLING):  # type: ignore[no-untyped-def]
    return client.integrity.DeclareRelationship(
        IG.DeclareRelationshipRequest(
            request_id=f"declare-{tag}",
            relative_resident_id=resident_id,
            relationship=relationship,
        )
    )


def test_a_caseworker_declares_a_relative_kept_only_as_the_keyed_index(gateway) -> None:
    relative = adults(1, seed=31)[0].person.resident_id
    caseworker = gateway.client(GOV, actor="cw-007")
    declaration = declare(caseworker, "one", relative)
    assert declaration.declaration_id.startswith("decl-")
    assert (declaration.org, declaration.actor) == (GOV, "cw-007")
    assert declaration.relationship == IG.RELATIONSHIP_SIBLING
    assert declaration.declared_at.seconds > 0
    assert not declaration.HasField("withdrawn_at")
    # A retry with the same request id is the same declaration, not a second one.
    assert declare(caseworker, "one", relative) == declaration

    app = gateway.app
    with app.store.read() as session:
        rows = list(session.scalars(select(ConflictDeclaration)))
    assert len(rows) == 1
    assert rows[0].relative_index == app.subject_index(relative)
    assert relative not in repr(vars(rows[0]))
    (entry,) = [e for e in entries(app, DECLARE) if e.outcome == "OK"][:1]
    assert entry.subject == app.ledger_subject(relative)
    assert entry.actor == "cw-007"
    assert relative not in entry.entry_json


def test_only_the_declaring_person_withdraws_a_declaration(gateway) -> None:
    relative = adults(1, seed=32)[0].person.resident_id
    worker = gateway.client(CHARITY_A, actor="staff-017")
    colleague = gateway.client(CHARITY_A, actor="staff-018")
    declaration = declare(worker, "w", relative, IG.RELATIONSHIP_CLOSE_FRIEND)

    err = refused(
        lambda: colleague.integrity.WithdrawDeclaration(
            IG.WithdrawDeclarationRequest(
                request_id="wd-1", declaration_id=declaration.declaration_id
            )
        )
    )
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert "declaration_id" in (err.details() or "")

    withdrawn = worker.integrity.WithdrawDeclaration(
        IG.WithdrawDeclarationRequest(request_id="wd-2", declaration_id=declaration.declaration_id)
    )
    assert withdrawn.HasField("withdrawn_at")
    again = refused(
        lambda: worker.integrity.WithdrawDeclaration(
            IG.WithdrawDeclarationRequest(
                request_id="wd-3", declaration_id=declaration.declaration_id
            )
        )
    )
    assert again.code() == grpc.StatusCode.FAILED_PRECONDITION
    outcomes = [e.outcome for e in entries(gateway.app, WITHDRAW)]
    assert outcomes == ["NOT_FOUND", "OK", "FAILED_PRECONDITION"]


def test_bad_declarations_are_refused_naming_the_field_and_ledgered(gateway) -> None:
    caseworker = gateway.client(GOV, actor="cw-007")
    bad_id = refused(lambda: declare(caseworker, "bad", "500102199001011230"))
    assert bad_id.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "relative_resident_id" in (bad_id.details() or "")
    no_kind = refused(
        lambda: declare(
            caseworker,
            "none",
            adults(1, seed=33)[0].person.resident_id,
            IG.RELATIONSHIP_UNSPECIFIED,
        )
    )
    assert no_kind.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "relationship" in (no_kind.details() or "")
    supervisor = gateway.client(COMPLIANCE, actor="au-001")
    denied = refused(lambda: declare(supervisor, "c", adults(1, seed=34)[0].person.resident_id))
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED

    with gateway.app.store.read() as session:
        assert list(session.scalars(select(ConflictDeclaration))) == []
    outcomes = [e.outcome for e in entries(gateway.app, DECLARE)]
    assert outcomes == ["INVALID_ARGUMENT", "INVALID_ARGUMENT", "PERMISSION_DENIED"]
