"""The operator's commands: certificates, registering an organisation, init, and the plaintext
development mode. Output is asserted on words, at any terminal width (COLUMNS 40 and 300)."""

from __future__ import annotations

import dataclasses
import json

import grpc
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from aidbridge.v1 import referrals_pb2, referrals_pb2_grpc
from gateway import identity
from gateway.cli import app as cli
from gateway.config import REPO_POLICIES
from gateway.store import Store
from gateway.store.models import LedgerEntry
from tests.conftest import start_gateway

runner = CliRunner()


def test_certs_init_and_issue_write_a_ca_and_an_org_certificate_with_private_keys(tmp_path):
    certs = tmp_path / "certs"
    assert runner.invoke(cli, ["certs", "init", "--dir", str(certs)]).exit_code == 0
    issued = runner.invoke(
        cli, ["certs", "issue", "--org", "charity-new", "--role", "charity", "--dir", str(certs)]
    )
    assert issued.exit_code == 0, issued.output
    cert = identity.identity_from_pem((certs / "charity-new.pem").read_bytes())
    assert (cert.org, cert.role) == ("charity-new", "charity")
    for key in ("ca.key", "server.key", "charity-new.key"):
        assert (certs / key).stat().st_mode & 0o777 == 0o600, key


def test_certs_issue_refuses_an_unknown_role_with_a_clear_error(tmp_path):
    certs = tmp_path / "certs"
    runner.invoke(cli, ["certs", "init", "--dir", str(certs)])
    refused = runner.invoke(
        cli, ["certs", "issue", "--org", "x-org", "--role", "admin", "--dir", str(certs)]
    )
    assert refused.exit_code == 1
    assert "role" in refused.output
    assert not (certs / "x-org.pem").exists()


@pytest.mark.parametrize("columns", ["40", "300"])
def test_init_refuses_a_directory_that_already_holds_a_gateway(work, columns):
    again = runner.invoke(cli, ["init", "--work", str(work.work_dir)], env={"COLUMNS": columns})
    assert again.exit_code == 1
    assert "already holds a gateway" in again.output
    assert str(work.work_dir) in again.output  # the whole path, however long


@pytest.mark.parametrize("columns", ["40", "300"])
def test_an_error_shows_the_org_id_pattern_with_its_character_classes(tmp_path, columns):
    certs = tmp_path / "certs"
    runner.invoke(cli, ["certs", "init", "--dir", str(certs)])
    refused = runner.invoke(
        cli,
        ["certs", "issue", "--org", "Not_An_Id", "--role", "charity", "--dir", str(certs)],
        env={"COLUMNS": columns},
    )
    assert refused.exit_code == 1
    assert identity.ORG_ID.pattern in refused.output  # [a-z0-9][a-z0-9-]{1,62}, brackets kept


def _registry(work) -> dict:
    return json.loads((work.bundle_path / "aidbridge" / "data.json").read_text(encoding="utf-8"))


def _ledgered(work, method: str) -> list[dict]:
    store = Store(work.database_url)
    try:
        with store.read() as session:
            rows = session.scalars(
                select(LedgerEntry.entry_json).where(LedgerEntry.method == method)
            ).all()
    finally:
        store.dispose()
    return [json.loads(row) for row in rows]


ADD_HOPE = [
    "orgs", "add", "--id", "charity-hope", "--role", "charity", "--name", "江北希望公益",
    "--streets", "观音桥街道,华新街街道",
]  # fmt: skip


def test_orgs_add_registers_issues_ledgers_and_the_new_charity_can_call(work):
    repo_registry = (REPO_POLICIES / "aidbridge" / "data.json").read_bytes()
    added = runner.invoke(cli, [*ADD_HOPE, "--work", str(work.work_dir)])
    assert added.exit_code == 0, added.output
    assert "registered charity-hope (charity)" in added.output
    assert "aidbridge policy reload --work" in added.output  # how to tell a running gateway
    org = _registry(work)["orgs"]["charity-hope"]
    assert org["name"] == "江北希望公益" and org["role"] == "charity"
    assert org["streets"] == ["观音桥街道", "华新街街道"]
    cert = identity.identity_from_pem((work.certs_dir / "charity-hope.pem").read_bytes())
    assert (cert.org, cert.role) == ("charity-hope", "charity")
    assert (REPO_POLICIES / "aidbridge" / "data.json").read_bytes() == repo_registry
    [entry] = _ledgered(work, "aidbridge.system/RegisterOrganisation")
    assert entry["cert_fingerprint"] == cert.fingerprint
    assert entry["bundle_revision"].endswith("+local.1") and entry["actor"].startswith("os:")
    for gw in start_gateway(work):  # a gateway started now knows it
        assert gw.app.engine.revision == entry["bundle_revision"]
        listed = gw.client("charity-hope").referrals.ListReferrals(
            referrals_pb2.ListReferralsRequest()
        )
        assert list(listed.referrals) == []


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (["--role", "admin"], "role", "expected one of government, charity, compliance"),
        (["--streets", "观音桥街道,南岸区"], "streets", "not streets of the catalogue: 南岸区"),
        (["--id", "Hope_Charity"], "id", "found 'Hope_Charity'"),
        (["--id", "charity-sunshine"], "id", "already registered"),
        (["--name", "  "], "name", "display name"),
    ],
)
def test_orgs_add_refuses_a_bad_registration_naming_the_field_and_writes_nothing(
    work, change, field, words
):
    before = _registry(work)
    args = list(ADD_HOPE)
    for option, value in zip(change[::2], change[1::2], strict=True):
        args[args.index(option) + 1] = value
    refused = runner.invoke(cli, [*args, "--work", str(work.work_dir)], env={"COLUMNS": "40"})
    assert refused.exit_code == 1
    assert f"{field}: " in refused.output and words in refused.output
    assert _registry(work) == before
    assert not (work.certs_dir / "charity-hope.pem").exists()
    assert _ledgered(work, "aidbridge.system/RegisterOrganisation") == []


def test_certs_issue_for_an_unregistered_org_says_how_to_register_it(work):
    issued = runner.invoke(
        cli,
        [
            "certs",
            "issue",
            "--org",
            "charity-new",
            "--role",
            "charity",
            "--name",
            "新公益",
            "--dir",
            str(work.certs_dir),
        ],
        env={"COLUMNS": "40"},
    )
    assert issued.exit_code == 0, issued.output
    assert "charity-new is not in the policy registry" in issued.output
    command = f"aidbridge orgs add --work {work.work_dir} --id charity-new --role charity"
    assert command in issued.output and "--existing-certificate" in issued.output
    # Doing what it says registers the certificate already issued.
    registered = runner.invoke(
        cli,
        [
            "orgs",
            "add",
            "--work",
            str(work.work_dir),
            "--id",
            "charity-new",
            "--role",
            "charity",
            "--name",
            "新公益",
            "--streets",
            "鱼嘴镇",
            "--existing-certificate",
        ],
    )
    assert registered.exit_code == 0, registered.output
    assert _registry(work)["orgs"]["charity-new"]["streets"] == ["鱼嘴镇"]
    again = runner.invoke(
        cli,
        [
            "certs",
            "issue",
            "--org",
            "charity-later",
            "--role",
            "charity",
            "--dir",
            str(work.certs_dir),
        ],
    )
    assert "not in the policy registry" in again.output
    registered_already = runner.invoke(
        cli,
        [
            "certs",
            "issue",
            "--org",
            "jb-supervision",
            "--role",
            "compliance",
            "--dir",
            str(work.certs_dir / "elsewhere"),
            "--work",
            str(work.work_dir),
        ],
    )
    assert "not in the policy registry" not in registered_already.output


def test_plaintext_mode_identifies_callers_only_from_development_metadata(work):
    plain = dataclasses.replace(work, insecure_plaintext=True)
    for gw in start_gateway(plain):
        with grpc.insecure_channel(gw.target) as channel:
            stub = referrals_pb2_grpc.ReferralServiceStub(channel)
            with pytest.raises(grpc.RpcError) as err:
                stub.ListReferrals(
                    referrals_pb2.ListReferralsRequest(),
                    metadata=(("x-aidbridge-actor", "dev"),),
                    timeout=10,
                )
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
            listed = stub.ListReferrals(
                referrals_pb2.ListReferralsRequest(),
                metadata=(
                    ("x-aidbridge-actor", "dev"),
                    ("x-aidbridge-dev-org", "charity-sunshine"),
                    ("x-aidbridge-dev-role", "charity"),
                ),
                timeout=10,
            )
            assert list(listed.referrals) == []
