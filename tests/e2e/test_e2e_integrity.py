"""The conflict-of-interest register through a real gateway over mutual TLS: staff declare a
relative by resident id, the store keeps only the keyed index, only the declaring person can
withdraw, bad input is refused naming the field and ledgered, every declaration is ledgered
under the relative's ledger pseudonym."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import grpc
import pytest
from sqlalchemy import select

from aidbridge.v1 import integrity_pb2
from gateway.store.models import ConflictDeclaration, LedgerEntry
from tests.e2e.flow import (
    CHARITY_A,
    COMPLIANCE,
    GOV,
    PURPOSE,
    STREET_OFFICE,
    adults,
    consent_message,
    refer,
)

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


# --- a caseworker refers a declared relative ------------------------------------------------


def _ledger_documents(app, method: str) -> list[tuple[str, str, dict]]:  # type: ignore[no-untyped-def]
    return [(e.outcome, e.actor, json.loads(e.entry_json)) for e in entries(app, method)]


def _referral_request(caseworker, person, tag: str):  # type: ignore[no-untyped-def]
    """Register the person's case and consent; the referral request, not yet sent."""
    from aidbridge.v1 import cases_pb2, consents_pb2, referrals_pb2

    case_id = caseworker.cases.RegisterCase(
        cases_pb2.RegisterCaseRequest(request_id=f"case-{tag}", case=person)
    ).case_id
    consent = caseworker.consents.RecordConsent(
        consents_pb2.RecordConsentRequest(
            request_id=f"consent-{tag}",
            consent=consent_message(case_id, recipient=CHARITY_A, name=person.person.name),
        )
    ).consent
    return referrals_pb2.CreateReferralRequest(
        request_id=f"referral-{tag}",
        case_id=case_id,
        to_org=CHARITY_A,
        consent_id=consent.consent_id,
        purpose=PURPOSE,
    )


def test_referring_a_declared_relative_is_held_until_another_actor_of_the_office_approves(
    gateway,
) -> None:
    from aidbridge.v1 import referrals_pb2

    app = gateway.app
    person = adults(1, seed=41)[0]
    caseworker = gateway.client(GOV, actor="cw-007")
    colleague = gateway.client(GOV, actor="cw-008")
    declare(caseworker, "rel", person.person.resident_id, IG.RELATIONSHIP_SPOUSE)

    create = _referral_request(caseworker, person, "rel")

    held = refused(lambda: caseworker.referrals.CreateReferral(create))
    assert held.code() == grpc.StatusCode.FAILED_PRECONDITION
    details = held.details() or ""
    assert "held for a second approver" in details
    action_id = re.search(r"action (act-[0-9a-f]+)", details).group(1)  # type: ignore[union-attr]
    listed = caseworker.referrals.ListReferrals(referrals_pb2.ListReferralsRequest())
    assert list(listed.referrals) == []  # held: nothing took effect

    # The same actor cannot approve what they asked for; another office cannot either.
    own = refused(
        lambda: caseworker.integrity.ApproveAction(
            IG.ApproveActionRequest(request_id="ap-own", action_id=action_id)
        )
    )
    assert own.code() == grpc.StatusCode.PERMISSION_DENIED
    other_office = gateway.client(STREET_OFFICE, actor="cw-201")
    foreign = refused(
        lambda: other_office.integrity.ApproveAction(
            IG.ApproveActionRequest(request_id="ap-foreign", action_id=action_id)
        )
    )
    assert foreign.code() == grpc.StatusCode.NOT_FOUND
    # Still held after the refused approvals.
    assert refused(lambda: caseworker.referrals.CreateReferral(create)).code() == (
        grpc.StatusCode.FAILED_PRECONDITION
    )

    approval = colleague.integrity.ApproveAction(
        IG.ApproveActionRequest(request_id="ap-1", action_id=action_id)
    )
    assert (approval.requested_by, approval.decided_by, approval.verdict) == (
        "cw-007",
        "cw-008",
        "approved",
    )
    assert approval.method == "aidbridge.v1.ReferralService/CreateReferral"
    referral = caseworker.referrals.CreateReferral(create).referral
    assert referral.referral_id
    assert referral.to_org == CHARITY_A

    # The ledger shows the flags on every attempt, the approval and who gave it.
    docs = _ledger_documents(app, "aidbridge.v1.ReferralService/CreateReferral")
    assert [(outcome, actor) for outcome, actor, _ in docs] == [
        ("FAILED_PRECONDITION", "cw-007"),
        ("FAILED_PRECONDITION", "cw-007"),
        ("OK", "cw-007"),
    ]
    for _, _, doc in docs[:2]:
        assert doc["flags"] == ["declared-relative", "second-approval"]
    assert docs[2][2]["flags"] == ["declared-relative", "second-approval", "second-approved"]
    approvals = _ledger_documents(app, "aidbridge.v1.IntegrityService/ApproveAction")
    assert [(outcome, actor) for outcome, actor, _ in approvals] == [
        ("PERMISSION_DENIED", "cw-007"),
        ("NOT_FOUND", "cw-201"),
        ("OK", "cw-008"),
    ]

    # An approval is used once: the same request again is a retry of the one made, not a
    # second referral.
    assert caseworker.referrals.CreateReferral(create).referral == referral


def test_a_rejected_action_stays_refused_and_an_undeclared_referral_is_not_held(gateway) -> None:
    relative = adults(1, seed=42)[0]
    caseworker = gateway.client(GOV, actor="cw-007")
    colleague = gateway.client(GOV, actor="cw-008")
    declare(caseworker, "rej", relative.person.resident_id, IG.RELATIONSHIP_CHILD)

    plain = refer(caseworker, adults(1, seed=43)[0], tag="plain")
    assert plain.referral_id
    plain_doc = json.loads(
        entries(gateway.app, "aidbridge.v1.ReferralService/CreateReferral")[-1].entry_json
    )
    assert "flags" not in plain_doc

    create = _referral_request(caseworker, relative, "rej")
    held = refused(lambda: caseworker.referrals.CreateReferral(create))
    action_id = re.search(r"action (act-[0-9a-f]+)", held.details() or "").group(1)  # type: ignore[union-attr]
    rejection = colleague.integrity.RejectAction(
        IG.RejectActionRequest(request_id="rj-1", action_id=action_id)
    )
    assert rejection.verdict == "rejected"
    again = refused(lambda: caseworker.referrals.CreateReferral(create))
    assert again.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "rejected by cw-008" in (again.details() or "")


def test_supervision_lists_open_flags_and_resolves_one_with_a_note(gateway) -> None:
    person = adults(1, seed=44)[0]
    caseworker = gateway.client(GOV, actor="cw-007")
    declare(caseworker, "flag", person.person.resident_id, IG.RELATIONSHIP_SIBLING)
    create = _referral_request(caseworker, person, "flag")
    refused(lambda: caseworker.referrals.CreateReferral(create))

    supervisor = gateway.client(COMPLIANCE, actor="au-001")
    (flag,) = supervisor.integrity.ListFlags(IG.ListFlagsRequest(open_only=True)).flags
    assert (flag.org, flag.actor, flag.method, flag.outcome) == (
        GOV,
        "cw-007",
        "aidbridge.v1.ReferralService/CreateReferral",
        "FAILED_PRECONDITION",
    )
    assert list(flag.flags) == ["declared-relative", "second-approval"]
    assert not flag.resolved
    # The flag is the ledger entry itself.
    (entry,) = [
        e
        for e in entries(gateway.app, "aidbridge.v1.ReferralService/CreateReferral")
        if f"flag-{e.id}" == flag.flag_id
    ]
    assert json.loads(entry.entry_json)["flags"] == list(flag.flags)

    no_note = refused(
        lambda: supervisor.integrity.ResolveFlag(
            IG.ResolveFlagRequest(request_id="rs-0", flag_id=flag.flag_id, note=" ")
        )
    )
    assert no_note.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "note" in (no_note.details() or "")
    denied = refused(lambda: caseworker.integrity.ListFlags(IG.ListFlagsRequest()))
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED

    resolved = supervisor.integrity.ResolveFlag(
        IG.ResolveFlagRequest(request_id="rs-1", flag_id=flag.flag_id, note="已核实，未放行")
    )
    assert resolved.resolved
    assert (resolved.resolution_note, resolved.resolved_by) == (
        "已核实，未放行",
        f"{COMPLIANCE}/au-001",
    )
    assert list(supervisor.integrity.ListFlags(IG.ListFlagsRequest(open_only=True)).flags) == []
    (closed,) = supervisor.integrity.ListFlags(IG.ListFlagsRequest()).flags
    assert closed.resolution_note == "已核实，未放行"
    outcomes = [
        e.outcome for e in entries(gateway.app, "aidbridge.v1.IntegrityService/ResolveFlag")
    ]
    assert outcomes == ["INVALID_ARGUMENT", "OK"]


def _audit_cli(gateway, *args: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run(
        [
            *(sys.executable, "-m", "gateway.cli", "audit", *args),
            *("--work", str(gateway.app.config.work_dir), "--target", gateway.target),
            *("--caller", COMPLIANCE, "--actor", "au-001"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_audit_flags_and_resolve_flag_on_the_command_line(gateway) -> None:
    person = adults(1, seed=45)[0]
    caseworker = gateway.client(GOV, actor="cw-007")
    declare(caseworker, "cli", person.person.resident_id, IG.RELATIONSHIP_PARENT)
    refused(
        lambda: caseworker.referrals.CreateReferral(_referral_request(caseworker, person, "cli"))
    )

    listed = _audit_cli(gateway, "flags", "--open")
    assert listed.returncode == 0, listed.stderr
    (row,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert row["flags"] == ["declared-relative", "second-approval"]
    assert (row["actor"], row["resolved"]) == ("cw-007", False)

    done = _audit_cli(gateway, "resolve-flag", row["flag_id"], "--note", "已转交纪检复核")
    assert done.returncode == 0, done.stderr
    assert f"{row['flag_id']} resolved by {COMPLIANCE}/au-001" in done.stdout
    still_open = _audit_cli(gateway, "flags", "--open")
    assert still_open.returncode == 0, still_open.stderr
    assert still_open.stdout == ""
    again = _audit_cli(gateway, "resolve-flag", row["flag_id"], "--note", "x")
    assert again.returncode != 0
    assert "FAILED_PRECONDITION" in again.stderr + again.stdout
