"""Pseudonym key rotation through the real server: a charity pulls under k1, the operator rotates
while the gateway runs, the next pull is k2; the bureau resolves both; retiring k1 for one charity
makes its k1 pseudonyms unresolvable and leaves the other charity's alone; every key event is in
the ledger; bad input is refused with a clear error and changes nothing."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from aidbridge.v1 import referrals_pb2
from gateway.cli import app as cli
from gateway.keys import VERSIONS_FILE
from gateway.ledger import system
from gateway.store import Store
from gateway.store.models import LedgerEntry
from tests.e2e.flow import CHARITY_A, CHARITY_B, GOV, adults, pull, refer

runner = CliRunner()


def _keys(work: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(cli, ["keys", *args, "--work", str(work)], env={"COLUMNS": "300"})


def _ledger(config) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    store = Store(config.database_url)
    try:
        with store.read() as session:
            rows = session.execute(
                select(LedgerEntry.method, LedgerEntry.reason)
                .where(LedgerEntry.method.startswith("aidbridge.system/"))
                .order_by(LedgerEntry.id)
            ).all()
    finally:
        store.dispose()
    return [(m, r) for m, r in rows]


def _entries(config) -> int:  # type: ignore[no-untyped-def]
    store = Store(config.database_url)
    try:
        with store.read() as session:
            return int(session.scalar(select(func.count()).select_from(LedgerEntry)) or 0)
    finally:
        store.dispose()


def _resolve(gov, recipient: str, pseudonym: str):  # type: ignore[no-untyped-def]
    return gov.referrals.ResolvePseudonym(
        referrals_pb2.ResolvePseudonymRequest(recipient_org=recipient, pseudonym=pseudonym)
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def gateway_on(request, tmp_path):  # type: ignore[no-untyped-def]
    from gateway.workdir import init_workdir
    from tests.conftest import fresh_postgres_url, start_gateway

    db_url = "" if request.param == "sqlite" else fresh_postgres_url()
    yield from start_gateway(init_workdir(tmp_path / "work", db_url=db_url))


@pytest.fixture
def referred(gateway_on):  # type: ignore[no-untyped-def]
    gateway = gateway_on
    gov = gateway.client(GOV)
    person = adults(1, seed=11)[0]
    to_a = refer(gov, person, tag="a")
    to_b = refer(gov, person, tag="b", recipient=CHARITY_B)
    return gateway, to_a, to_b


def test_rotate_then_retire_through_the_running_gateway(referred) -> None:  # type: ignore[no-untyped-def]
    gateway, to_a, to_b = referred
    config = gateway.app.config
    work = config.work_dir
    charity_a, charity_b = gateway.client(CHARITY_A), gateway.client(CHARITY_B)

    gov = gateway.client(GOV)
    v1 = pull(charity_a, to_a.referral_id).subject
    b1 = pull(charity_b, to_b.referral_id).subject
    assert v1.startswith("k1.") and b1.startswith("k1.") and v1 != b1
    assert list(_resolve(gov, CHARITY_A, v1).referral_ids) == [to_a.referral_id]

    rotated = _keys(work, "rotate")
    assert rotated.exit_code == 0, rotated.output
    assert "k1 -> k2" in rotated.output

    # The running gateway issues the new version at once: no restart, no reload.
    v2 = pull(charity_a, to_a.referral_id).subject
    assert v2.startswith("k2.") and v2.split(".")[1] != v1.split(".")[1]
    assert pull(charity_b, to_b.referral_id).subject.startswith("k2.")

    # The bureau resolves both versions through the running gateway.
    for pseudonym, version in ((v1, "k1"), (v2, "k2")):
        answer = _resolve(gov, CHARITY_A, pseudonym)
        assert list(answer.referral_ids) == [to_a.referral_id]
        assert list(answer.case_ids) == [to_a.case_id] and answer.key_version == version
    for pseudonym in (v1, v2):
        resolved = _keys(work, "resolve", pseudonym, "--recipient", CHARITY_A)
        assert resolved.exit_code == 0, resolved.output
        assert resolved.output.split() == [to_a.case_id]
    # A charity's pseudonym resolves only as that charity's.
    wrong = _keys(work, "resolve", v1, "--recipient", CHARITY_B)
    assert wrong.exit_code != 0 and "names no known subject" in wrong.output

    retired = _keys(work, "retire", "--recipient", CHARITY_A, "--version", "k1")
    assert retired.exit_code == 0, retired.output

    gone = _keys(work, "resolve", v1, "--recipient", CHARITY_A)
    assert gone.exit_code != 0
    assert f"not found: pseudonym {v1!r} is of key version k1, retired for {CHARITY_A}" in (
        " ".join(gone.output.split())
    )
    assert _keys(work, "resolve", v2, "--recipient", CHARITY_A).output.split() == [to_a.case_id]
    # The other charity's k1 pseudonyms are untouched.
    other = _keys(work, "resolve", b1, "--recipient", CHARITY_B)
    assert other.exit_code == 0 and other.output.split() == [to_b.case_id]
    # The same through the running gateway, as the bureau.
    gov = gateway.client(GOV)
    assert list(_resolve(gov, CHARITY_A, v2).referral_ids) == [to_a.referral_id]
    assert _resolve(gov, CHARITY_A, v2).key_version == "k2"
    assert list(_resolve(gov, CHARITY_B, b1).case_ids) == [to_b.case_id]
    with pytest.raises(grpc.RpcError) as refused:
        _resolve(gov, CHARITY_A, v1)
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    assert f"is of key version k1, retired for {CHARITY_A}" in refused.value.details()
    # New pulls stay in the current version.
    assert pull(charity_a, to_a.referral_id).subject == v2

    events = _ledger(config)
    methods = [m for m, _ in events]
    assert methods.count(system.ROTATE_KEYS) == 1
    assert methods.count(system.RETIRE_KEY_VERSION) == 1
    assert (system.RETIRE_KEY_VERSION, f"pseudonym key version retired: k1 for {CHARITY_A}") in (
        events
    )
    assert (system.ROTATE_KEYS, "pseudonym key version rotated: k1 -> k2") in events
    # Successful resolutions are ledgered too (four above); refused ones change nothing.
    assert methods.count(system.RESOLVE_PSEUDONYM) == 4

    shown = _keys(work, "show")
    assert "current version: k2" in shown.output
    assert f"retired for {CHARITY_A}: k1" in shown.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--recipient", "charity-nobody", "--version", "k1"],
            "expected a registered organisation",
        ),
        (["--recipient", GOV, "--version", "k1"], "expected a charity"),
        (["--recipient", CHARITY_A, "--version", "k7"], "expected a key version from k1 to k2"),
        (["--recipient", CHARITY_A, "--version", "k2"], "k2 is the current version"),
    ],
)
def test_retire_refuses_bad_input_with_a_clear_error_and_changes_nothing(
    referred,  # type: ignore[no-untyped-def]
    args: list[str],
    message: str,
) -> None:
    gateway, to_a, _ = referred
    config = gateway.app.config
    charity_a = gateway.client(CHARITY_A)
    v1 = pull(charity_a, to_a.referral_id).subject
    assert _keys(config.work_dir, "rotate").exit_code == 0
    versions = (config.work_dir / "keys" / VERSIONS_FILE).read_bytes()
    entries = _entries(config)

    refused = _keys(config.work_dir, "retire", *args)
    assert refused.exit_code != 0
    assert message in " ".join(refused.output.split())
    assert (config.work_dir / "keys" / VERSIONS_FILE).read_bytes() == versions
    assert _entries(config) == entries
    resolved = _keys(config.work_dir, "resolve", v1, "--recipient", CHARITY_A)
    assert resolved.output.split() == [to_a.case_id]


def test_resolving_a_pseudonym_of_an_unknown_version_is_not_found(gateway) -> None:  # type: ignore[no-untyped-def]
    refused = _keys(
        gateway.app.config.work_dir, "resolve", "k5." + "a" * 32, "--recipient", CHARITY_A
    )
    assert refused.exit_code != 0
    assert "key version k5, which does not exist" in " ".join(refused.output.split())


def test_only_the_bureau_resolves_and_bad_pseudonyms_are_refused_by_field(referred) -> None:  # type: ignore[no-untyped-def]
    gateway, to_a, _ = referred
    charity_a, gov = gateway.client(CHARITY_A), gateway.client(GOV)
    mine = pull(charity_a, to_a.referral_id).subject
    with pytest.raises(grpc.RpcError) as denied:
        _resolve(charity_a, CHARITY_A, mine)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    for pseudonym, code, words in (
        ("", grpc.StatusCode.INVALID_ARGUMENT, "pseudonym is required"),
        ("k1.nope", grpc.StatusCode.NOT_FOUND, "expected a pseudonym like"),
        ("k4." + "a" * 32, grpc.StatusCode.NOT_FOUND, "key version k4, which does not exist"),
    ):
        with pytest.raises(grpc.RpcError) as refused:
            _resolve(gov, CHARITY_A, pseudonym)
        assert refused.value.code() == code, pseudonym
        assert words in refused.value.details()
    with pytest.raises(grpc.RpcError) as other:
        _resolve(gov, CHARITY_B, mine)
    assert other.value.code() == grpc.StatusCode.NOT_FOUND
    assert "names no known subject" in other.value.details()
    store = Store(gateway.app.config.database_url)
    try:
        with store.read() as session:
            outcomes = session.execute(
                select(LedgerEntry.outcome).where(
                    LedgerEntry.method == "aidbridge.v1.ReferralService/ResolvePseudonym"
                )
            ).all()
    finally:
        store.dispose()
    # Every call is ledgered, the refused ones too.
    assert len(outcomes) == 5


def test_a_rotation_whose_ledger_entry_fails_to_commit_is_undone(tmp_path: Path) -> None:
    import sqlite3

    from gateway.workdir import init_workdir

    config = init_workdir(tmp_path / "work")
    versions = config.master_key_path.with_name(VERSIONS_FILE)
    assert _keys(config.work_dir, "rotate").exit_code == 0
    before = versions.read_bytes()
    db = sqlite3.connect(config.database_url.removeprefix("sqlite:///"))
    db.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON ledger_entries "
        "BEGIN SELECT RAISE(ABORT, 'store refuses writes'); END"
    )
    db.commit()
    db.close()

    failed = _keys(config.work_dir, "rotate")
    assert failed.exit_code != 0
    assert versions.read_bytes() == before  # still k2, as the ledger says
    assert _keys(config.work_dir, "show").output.split()[:3] == ["current", "version:", "k2"]
