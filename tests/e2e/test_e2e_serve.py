"""The gateway as operators run it: `aidbridge demo` end to end, and `aidbridge serve` writing
JSON logs with the call's org, role, actor and method bound — and no personal data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from typer.testing import CliRunner

from gateway.cli import app as cli
from gateway.client import Client
from tests.e2e.flow import CHARITY_A, GOV, adults, pull, refer


def test_demo_plays_the_whole_exchange_and_verifies_the_ledger(tmp_path):
    result = CliRunner().invoke(cli, ["demo", "--work", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    assert "ledger verified" in result.output
    assert "PERMISSION_DENIED" in result.output
    assert (tmp_path / "demo" / "keys" / "master.key").stat().st_mode & 0o077 == 0


def test_serve_logs_json_with_call_context_and_no_personal_data(work):
    env = dict(os.environ, AIDBRIDGE_LISTEN="127.0.0.1:0")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--work", str(work.work_dir)],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    port = 0
    deadline = time.time() + 60
    while not port and time.time() < deadline:
        line = proc.stderr.readline()
        if '"serving"' in line:
            port = json.loads(line)["port"]
    assert port, "gateway did not start"
    person = adults(1, seed=23)[0]
    try:
        gov = Client.connect(f"127.0.0.1:{port}", work.certs_dir, GOV, "caseworker-7")
        charity = Client.connect(f"127.0.0.1:{port}", work.certs_dir, CHARITY_A, "volunteer-3")
        referred = refer(gov, person, tag="logs")
        pull(charity, referred.referral_id)
        gov.close()
        charity.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=30)
    lines = [json.loads(x) for x in rest.splitlines() if x.startswith("{")]
    calls = [x for x in lines if x.get("event") == "call"]
    pulls = [x for x in calls if x["method"].endswith("PullCaseSummary")]
    assert pulls and pulls[0]["org"] == CHARITY_A and pulls[0]["role"] == "charity"
    assert pulls[0]["actor"] == "volunteer-3" and pulls[0]["outcome"] == "OK"
    assert proc.returncode == 0
    for secret in (person.person.resident_id, person.person.name, person.person.phone):
        assert secret not in rest
