"""``aidbridge consent`` against a real gateway over mutual TLS: record from YAML or JSON, list,
show, withdraw, receipts verified offline; bad files named by field, refusals as ``CODE: details``,
non-zero exit codes on failure."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import structlog
import yaml
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from typer.testing import CliRunner

from aidbridge.v1 import cases_pb2
from gateway.clock import NS_PER_SECOND, from_datetime
from gateway.consent.cli import (
    EXIT_BAD_INPUT,
    EXIT_REFUSED,
    ConsentFileError,
    _rfc3339_ns,
    parse_rfc3339,
)
from gateway.consent.cli import app as consent_cli
from gateway.store.models import Consent
from gateway.workdir import init_workdir
from tests.e2e.flow import CATEGORIES, CHARITY_A, FIELDS, GOV, PURPOSE, adults

runner = CliRunner()
CONSENT_ID = re.compile(r"c-[0-9a-f]{32}")
CHINA = timezone(timedelta(hours=8))
NOWHERE = Path("consent.yaml")  # only names the file in error messages


@pytest.fixture(autouse=True)
def _gateway_call_logs_kept_out_of_the_output():
    """The test gateway serves from this process, so its call logs would land in the command's
    captured output; in real use it is another process."""
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    yield
    structlog.configure(**saved)


@pytest.fixture
def case_id(gateway) -> str:
    return (
        gateway.client(GOV)
        .cases.RegisterCase(cases_pb2.RegisterCaseRequest(request_id="case", case=adults(1)[0]))
        .case_id
    )


# One instant for every consent file of the run: two files written either side of a second
# boundary must still be the same document. The gateway under test keeps the system's clock,
# so the consents are made valid around it.
_NOW = datetime.now(CHINA).replace(microsecond=0)


def _document(case_id: str, **changes) -> dict:
    now = _NOW
    document = {
        "request_id": "consent-0001",
        "case_id": case_id,
        "grantor": {"kind": "subject", "name": "李明"},
        "recipient_org": CHARITY_A,
        "purpose": PURPOSE,
        "categories": list(CATEGORIES),
        "fields": list(FIELDS),
        "access_mode": "view",
        "valid_from": (now - timedelta(minutes=10)).isoformat(),
        "valid_until": (now + timedelta(days=180)).isoformat(),
        "retention_days": 90,
        "notice": {"version": "v1", "sha256": hashlib.sha256(b"notice v1").hexdigest()},
        "evidence": {"form_sha256": hashlib.sha256(b"form").hexdigest(), "witness": "社区工作人员"},
    }
    document.update(changes)
    return document


def _as_caseworker(gateway, *args: str) -> list[str]:
    return [
        *args,
        "--target",
        gateway.target,
        "--work",
        str(gateway.app.config.work_dir),
        "--org",
        GOV,
        "--actor",
        "caseworker-12",
    ]


def _invoke(gateway, *args: str):
    return runner.invoke(consent_cli, _as_caseworker(gateway, *args))


def _consents_stored(gateway) -> int:
    with gateway.app.store.read() as session:
        return session.scalar(select(func.count()).select_from(Consent))


def _record_yaml(gateway, tmp_path, document: dict) -> str:
    path = tmp_path / "consent.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    recorded = _invoke(gateway, "record", str(path))
    assert recorded.exit_code == 0, recorded.output
    found = CONSENT_ID.search(recorded.stdout)
    assert found, recorded.stdout
    return found.group()


def test_record_list_show_and_withdraw_a_consent_from_a_yaml_file(gateway, case_id, tmp_path):
    consent_id = _record_yaml(gateway, tmp_path, _document(case_id))

    listed = _invoke(gateway, "list", case_id)
    assert listed.exit_code == 0, listed.output
    assert consent_id in listed.stdout and "active" in listed.stdout

    withdrawn = _invoke(gateway, "withdraw", consent_id, "--reason", "本人电话要求撤回")
    assert withdrawn.exit_code == 0, withdrawn.output
    assert f"withdrew {consent_id}: 0 referral(s) cancelled" in withdrawn.stdout

    shown = _invoke(gateway, "show", consent_id)
    assert shown.exit_code == 0, shown.output
    assert re.search(r"state:\s+withdrawn", shown.stdout)
    events = shown.stdout.split("events:")[1]
    assert "recorded" in events
    assert "withdrawn" in events and "caseworker-12" in events and "本人电话要求撤回" in events
    still_active = _invoke(gateway, "list", case_id, "--state", "active")
    assert f"no consents for case {case_id} in state active" in still_active.stdout
    assert consent_id in _invoke(gateway, "list", case_id, "--state", "withdrawn").stdout


def test_record_reads_json_and_keeps_nanoseconds_and_offsets_exactly(gateway, case_id, tmp_path):
    until = "2030-01-31T23:59:59.123456789-05:30"
    document = _document(case_id, valid_until=until)
    path = tmp_path / "consent.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")

    recorded = _invoke(gateway, "record", str(path), "--json")

    assert recorded.exit_code == 0, recorded.output
    shown = json.loads(recorded.stdout)
    expected = (
        from_datetime(datetime(2030, 2, 1, 5, 29, 59, tzinfo=UTC)) + 123_456_789
    )  # -05:30 is 5 h 30 min behind UTC
    assert shown["valid_until"] == _rfc3339_ns(expected) == "2030-02-01T13:29:59.123456789+08:00"
    assert shown["state"] == "active" and shown["grantor"]["name"] == "李明"


def test_the_same_file_recorded_twice_is_one_consent(gateway, case_id, tmp_path):
    first = _record_yaml(gateway, tmp_path, _document(case_id))
    again = _record_yaml(gateway, tmp_path, _document(case_id))
    assert first == again
    assert _consents_stored(gateway) == 1


@pytest.mark.parametrize(
    ("change", "named"),
    [
        pytest.param(lambda d: d.pop("purpose"), "purpose: is required", id="missing-purpose"),
        pytest.param(
            lambda d: d.update(valid_untill=d.pop("valid_until")),
            "valid_untill: unknown key",
            id="misspelt-key",
        ),
        pytest.param(
            lambda d: d.update(valid_from="2026-03-01"),
            "valid_from: expected an RFC 3339 date-time",
            id="date-without-time",
        ),
        pytest.param(
            lambda d: d.update(valid_until="2026-03-01T09:00:00"),
            "valid_until: expected an RFC 3339 date-time with an offset",
            id="time-without-offset",
        ),
        pytest.param(
            lambda d: d.update(valid_until="2026-02-30T09:00:00Z"),
            "valid_until: expected an RFC 3339 date-time",
            id="impossible-date",
        ),
        pytest.param(
            lambda d: d.update(access_mode="read"),
            "access_mode: expected one of ['store', 'view']",
            id="unknown-access-mode",
        ),
        pytest.param(
            lambda d: d.update(retention_days="90"),
            "retention_days: expected a whole number, found '90'",
            id="retention-as-text",
        ),
        pytest.param(
            lambda d: d.update(categories="health"),
            "categories: expected a list of names",
            id="categories-not-a-list",
        ),
        pytest.param(
            lambda d: d["grantor"].pop("name"), "grantor.name: is required", id="grantor-name"
        ),
        pytest.param(
            lambda d: d["grantor"].update(kind="friend"),
            "grantor.kind: expected one of ['guardian', 'subject']",
            id="grantor-kind",
        ),
        pytest.param(
            lambda d: d["notice"].update(hash="x"), "notice.hash: unknown key", id="notice-key"
        ),
        pytest.param(lambda d: d.pop("request_id"), "request_id: is required", id="no-request-id"),
    ],
)
def test_a_bad_consent_file_is_refused_naming_the_field_and_nothing_is_sent(
    gateway, case_id, tmp_path, change, named
):
    document = _document(case_id)
    change(document)
    path = tmp_path / "consent.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")

    refused = _invoke(gateway, "record", str(path))

    assert refused.exit_code == EXIT_BAD_INPUT
    assert named in refused.stderr
    assert _consents_stored(gateway) == 0


def test_a_file_that_is_not_yaml_is_refused_with_where_it_broke(gateway, tmp_path):
    path = tmp_path / "consent.yaml"
    path.write_text("case_id: [unclosed\n", encoding="utf-8")
    refused = _invoke(gateway, "record", str(path))
    assert refused.exit_code == EXIT_BAD_INPUT
    assert "expected YAML or JSON" in refused.stderr and "line" in refused.stderr


def test_a_refusal_by_the_gateway_is_shown_as_code_and_details(gateway, case_id, tmp_path):
    path = tmp_path / "consent.yaml"
    path.write_text(
        yaml.safe_dump(_document(case_id, purpose="marketing"), allow_unicode=True),
        encoding="utf-8",
    )

    refused = _invoke(gateway, "record", str(path))

    assert refused.exit_code == EXIT_REFUSED
    assert refused.stderr.startswith("error: INVALID_ARGUMENT: purpose must be one of")
    missing = _invoke(gateway, "show", "c-missing")
    assert missing.exit_code == EXIT_REFUSED
    assert "NOT_FOUND: consent c-missing does not exist" in missing.stderr


def test_an_organisation_without_a_certificate_is_a_clear_error(gateway):
    args = _as_caseworker(gateway, "list", "case-x")
    args[args.index(GOV)] = "charity-unknown"
    refused = runner.invoke(consent_cli, args)
    assert refused.exit_code == EXIT_BAD_INPUT
    assert "--org charity-unknown" in refused.stderr and "charity-unknown.pem" in refused.stderr


def test_an_unreachable_gateway_is_reported_as_unavailable(gateway):
    args = _as_caseworker(gateway, "list", "case-x")
    args[args.index(gateway.target)] = "127.0.0.1:1"
    refused = runner.invoke(consent_cli, args)
    assert refused.exit_code == EXIT_REFUSED
    assert "UNAVAILABLE:" in refused.stderr


def test_a_receipt_is_written_and_verifies_offline_with_the_work_dirs_public_key(
    gateway, case_id, tmp_path
):
    consent_id = _record_yaml(gateway, tmp_path, _document(case_id))
    out, text = tmp_path / "receipt.json", tmp_path / "receipt.txt"

    got = _invoke(gateway, "receipt", consent_id, "--out", str(out), "--text", str(text))
    assert got.exit_code == 0, got.output
    assert consent_id in text.read_text(encoding="utf-8")

    work = gateway.app.config.work_dir
    assert (work / "keys" / "consent.pub").read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    # Offline: no --target, no certificate, only the public key.
    verified = runner.invoke(consent_cli, ["verify-receipt", str(out), "--work", str(work)])
    assert verified.exit_code == 0, verified.output
    assert f"receipt verifies: consent {consent_id} version 1" in verified.stdout
    assert f"recipient {CHARITY_A}" in verified.stdout


def test_a_receipt_printed_and_redirected_to_a_file_still_verifies(gateway, case_id, tmp_path):
    consent_id = _record_yaml(gateway, tmp_path, _document(case_id))
    printed = _invoke(gateway, "receipt", consent_id)
    assert printed.exit_code == 0, printed.output
    path = tmp_path / "receipt.json"
    path.write_text(printed.stdout, encoding="utf-8")  # as `> receipt.json` would, newline too

    verified = runner.invoke(
        consent_cli, ["verify-receipt", str(path), "--work", str(gateway.app.config.work_dir)]
    )
    assert verified.exit_code == 0, verified.output


def test_a_receipt_checked_with_another_gateways_key_does_not_verify(gateway, case_id, tmp_path):
    consent_id = _record_yaml(gateway, tmp_path, _document(case_id))
    out = tmp_path / "receipt.json"
    assert _invoke(gateway, "receipt", consent_id, "--out", str(out)).exit_code == 0
    other = init_workdir(tmp_path / "other")

    refused = runner.invoke(
        consent_cli,
        ["verify-receipt", str(out), "--public-key", str(other.work_dir / "keys/consent.pub")],
    )

    assert refused.exit_code == EXIT_REFUSED
    assert "receipt does not verify: expected public_key_fingerprint" in refused.stderr


def test_verify_receipt_without_a_public_key_says_where_it_looked(tmp_path):
    receipt = tmp_path / "receipt.json"
    receipt.write_text("{}", encoding="utf-8")
    refused = runner.invoke(
        consent_cli, ["verify-receipt", str(receipt), "--work", str(tmp_path / "none")]
    )
    assert refused.exit_code == EXIT_BAD_INPUT
    assert "keys/consent.pub" in refused.stderr and "--public-key" in refused.stderr


@given(ns=st.integers(0, 2**62), offset_minutes=st.integers(-14 * 60, 14 * 60))
def test_rfc3339_times_round_trip_to_the_nanosecond_in_any_offset(ns, offset_minutes):
    shown = _rfc3339_ns(ns)
    assert parse_rfc3339(NOWHERE, "t", shown) == ns
    zone = timezone(timedelta(minutes=offset_minutes))
    seconds, nanos = divmod(ns, NS_PER_SECOND)
    local = datetime.fromtimestamp(seconds, tz=UTC).astimezone(zone)
    sign, minutes = ("-" if offset_minutes < 0 else "+"), abs(offset_minutes)
    elsewhere = (
        local.strftime("%Y-%m-%dT%H:%M:%S")
        + f".{nanos:09d}{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    )
    assert parse_rfc3339(NOWHERE, "t", elsewhere) == ns


def test_a_time_that_is_not_text_is_refused_naming_the_field():
    with pytest.raises(ConsentFileError, match="valid_from: expected an RFC 3339"):
        parse_rfc3339(NOWHERE, "valid_from", 1_700_000_000)
