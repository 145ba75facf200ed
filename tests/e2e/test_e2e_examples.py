"""The examples a new user starts from (examples/) work as the README says: the consent file
records through a real gateway with `aidbridge consent record`, and the policy input evaluates
with `aidbridge policy eval` to an allowed release with obligations."""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import structlog
import yaml
from typer.testing import CliRunner

from aidbridge.v1 import cases_pb2
from gateway.cli import app as cli
from tests.e2e.flow import GOV, adults

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
REPO_POLICIES = EXAMPLES.parent / "policies"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _gateway_call_logs_kept_out_of_the_output():
    # The test gateway serves from this process; its call logs would mix into the output.
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    yield
    structlog.configure(**saved)


def test_the_example_consent_records_through_a_running_gateway(gateway, tmp_path):
    case_id = (
        gateway.client(GOV)
        .cases.RegisterCase(cases_pb2.RegisterCaseRequest(request_id="case", case=adults(1)[0]))
        .case_id
    )
    example = (EXAMPLES / "consent.yaml").read_text(encoding="utf-8")
    document = yaml.safe_load(example)
    # What the example tells the user to fill in: the case id. Its validity is moved to start
    # now, keeping its length, so the test does not depend on today's date.
    length = document["valid_until"] - document["valid_from"]
    start = datetime.now(timezone(timedelta(hours=8))).replace(microsecond=0)
    filled = re.sub(r"(?m)^case_id: .*$", f"case_id: {case_id}", example)
    filled = re.sub(r"(?m)^valid_from: \S+", f"valid_from: {start.isoformat()}", filled)
    until = (start + length).isoformat()
    filled = re.sub(r"(?m)^valid_until: \S+", f"valid_until: {until}", filled)
    path = tmp_path / "consent.yaml"
    path.write_text(filled, encoding="utf-8")
    work = str(gateway.app.config.work_dir)
    recorded = runner.invoke(
        cli,
        [
            "consent",
            "record",
            str(path),
            "--target",
            gateway.target,
            "--work",
            work,
            "--org",
            GOV,
            "--actor",
            "caseworker-017",
            "--json",
        ],
    )
    assert recorded.exit_code == 0, recorded.output
    consent = json.loads(recorded.stdout)
    assert consent["recipient_org"] == document["recipient_org"] == "charity-sunshine"
    assert consent["purpose"] == "charitable_assistance"
    assert sorted(consent["fields"]) == sorted(document["fields"])


def test_the_example_policy_input_evaluates_to_an_allowed_release_with_obligations():
    result = runner.invoke(
        cli,
        [
            "policy",
            "eval",
            "--input",
            str(EXAMPLES / "policy-input.json"),
            "--bundle",
            str(REPO_POLICIES),
        ],
    )
    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)
    assert decision["allow"] is True, decision
    consented = json.loads((EXAMPLES / "policy-input.json").read_text(encoding="utf-8"))
    obligations = decision["obligations"]
    # The person goes as this charity's pseudonym; only consented fields, none of them plain
    # identity or contact fields, and the birth date as an age band.
    assert obligations["subject"]["action"] == "pseudonymise"
    assert set(obligations) - {"subject"} <= set(consented["consent"]["fields"])
    assert obligations["birth_date"]["action"] == "generalise"
    assert not {"name", "phone", "address", "resident_id"} & set(obligations)
