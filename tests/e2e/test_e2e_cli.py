"""The operator's commands: certificates, init, and the plaintext development mode."""

from __future__ import annotations

import dataclasses

import grpc
import pytest
from typer.testing import CliRunner

from aidbridge.v1 import referrals_pb2, referrals_pb2_grpc
from gateway import identity
from gateway.cli import app as cli
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


def test_init_refuses_a_directory_that_already_holds_a_gateway(work):
    again = runner.invoke(cli, ["init", "--work", str(work.work_dir)])
    assert again.exit_code == 1
    assert "already holds a gateway" in again.output


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
