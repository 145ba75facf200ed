"""A certificate revoked with ``aidbridge certs revoke`` in another process is refused by the
running gateway on the very next call (the CLI's signal makes it reload its in-memory list),
and the refusal is ledgered."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from aidbridge.v1 import referrals_pb2
from gateway import identity
from gateway.store.models import LedgerEntry
from tests.e2e.flow import CHARITY_A

ROOT = Path(__file__).resolve().parents[2]


def test_a_revocation_by_the_cli_refuses_the_very_next_call(gateway, monkeypatch):
    # Only the CLI's signal may make the gateway reload, not the periodic refresh.
    monkeypatch.setattr(identity, "REVOCATIONS_REFRESH_S", 3600.0)
    work_dir = gateway.app.config.work_dir
    charity = gateway.client(CHARITY_A)
    charity.referrals.ListReferrals(referrals_pb2.ListReferralsRequest())
    charity.referrals.ListReferrals(referrals_pb2.ListReferralsRequest())  # served from memory

    cert = str(gateway.certs / f"{CHARITY_A}.pem")
    command = [sys.executable, "-m", "gateway.cli", "certs", "revoke", cert]
    revoked = subprocess.run(
        [*command, "--reason", "key lost", "--work", str(work_dir)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert revoked.returncode == 0, revoked.stderr
    assert "revoked" in revoked.stdout

    with pytest.raises(grpc.RpcError) as err:
        charity.referrals.ListReferrals(referrals_pb2.ListReferralsRequest())
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "revoked" in err.value.details()
    with gateway.app.store.read() as session:
        outcomes = [(e.org, e.outcome, e.reason) for e in session.query(LedgerEntry)]
    assert (CHARITY_A, "UNAUTHENTICATED", "client certificate has been revoked") in outcomes
