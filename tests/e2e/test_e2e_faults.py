"""Bad input gets a clear error and changes nothing; a ledger that cannot be written stops the
exchange; `aidbridge audit verify` catches a row altered in the database."""

from __future__ import annotations

import grpc
import pytest
from sqlalchemy import func, select, text, update
from typer.testing import CliRunner

from aidbridge.v1 import cases_pb2, referrals_pb2
from gateway.cli import app as cli
from gateway.store.models import Case, LedgerEntry, Referral
from tests.conftest import start_gateway
from tests.e2e.flow import CHARITY_A, GOV, PURPOSE, adults, consent_message, pull, refer


def _count(gateway, model) -> int:
    with gateway.app.store.read() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_invalid_resident_id_is_rejected_naming_the_field_and_nothing_is_stored(gateway):
    gov = gateway.client(GOV)
    person = adults(1)[0]
    rid = person.person.resident_id
    person.person.resident_id = rid[:-1] + ("0" if rid[-1] != "0" else "1")
    with pytest.raises(grpc.RpcError) as err:
        gov.cases.RegisterCase(cases_pb2.RegisterCaseRequest(request_id="bad", case=person))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "resident_id" in err.value.details()
    assert _count(gateway, Case) == 0


def test_unknown_case_is_not_found(gateway):
    gov = gateway.client(GOV)
    with pytest.raises(grpc.RpcError) as err:
        gov.cases.GetCase(cases_pb2.GetCaseRequest(case_id="case-nope"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert "case-nope" in err.value.details()


def test_referral_to_a_charity_the_consent_does_not_name_is_refused(gateway):
    from aidbridge.v1 import consents_pb2

    gov = gateway.client(GOV)
    person = adults(1)[0]
    case_id = gov.cases.RegisterCase(
        cases_pb2.RegisterCaseRequest(request_id="c1", case=person)
    ).case_id
    consent = gov.consents.RecordConsent(
        consents_pb2.RecordConsentRequest(request_id="k1", consent=consent_message(case_id))
    ).consent
    with pytest.raises(grpc.RpcError) as err:
        gov.referrals.CreateReferral(
            referrals_pb2.CreateReferralRequest(
                request_id="r1",
                case_id=case_id,
                to_org="charity-harbour",
                consent_id=consent.consent_id,
                purpose=PURPOSE,
            )
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "charity-harbour" in err.value.details()
    assert _count(gateway, Referral) == 0


def test_retried_request_returns_the_same_case_and_reused_id_with_other_content_is_refused(gateway):
    gov = gateway.client(GOV)
    first, second = adults(2)
    a = gov.cases.RegisterCase(cases_pb2.RegisterCaseRequest(request_id="same", case=first))
    b = gov.cases.RegisterCase(cases_pb2.RegisterCaseRequest(request_id="same", case=first))
    assert a.case_id == b.case_id
    assert _count(gateway, Case) == 1
    with pytest.raises(grpc.RpcError) as err:
        gov.cases.RegisterCase(cases_pb2.RegisterCaseRequest(request_id="same", case=second))
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "request_id" in err.value.details()
    assert _count(gateway, Case) == 1


def _break_ledger(gateway) -> None:
    """Make every ledger insert fail, as a full disk or a lost database would."""
    with gateway.app.store.write() as session:
        if gateway.app.store.is_sqlite:
            session.execute(
                text(
                    "CREATE TRIGGER ledger_down BEFORE INSERT ON ledger_entries "
                    "BEGIN SELECT RAISE(ABORT, 'ledger unavailable'); END"
                )
            )
        else:
            session.execute(
                text(
                    "CREATE FUNCTION ledger_down() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'ledger unavailable'; END $$ LANGUAGE plpgsql"
                )
            )
            session.execute(
                text(
                    "CREATE TRIGGER ledger_down BEFORE INSERT ON ledger_entries "
                    "FOR EACH ROW EXECUTE FUNCTION ledger_down()"
                )
            )


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_gateway(request, tmp_path):
    from gateway.workdir import init_workdir
    from tests.conftest import fresh_postgres_url

    db_url = "" if request.param == "sqlite" else fresh_postgres_url()
    yield from start_gateway(init_workdir(tmp_path / "work", db_url=db_url))


def test_when_the_ledger_cannot_be_written_nothing_happens_and_nothing_is_released(any_db_gateway):
    gw = any_db_gateway
    gov, charity = gw.client(GOV), gw.client(CHARITY_A)
    first, second = adults(2)
    referred = refer(gov, first, tag="before")
    _break_ledger(gw)

    with pytest.raises(grpc.RpcError) as err:
        pull(charity, referred.referral_id)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    with pytest.raises(grpc.RpcError) as err:
        gov.cases.RegisterCase(cases_pb2.RegisterCaseRequest(request_id="after", case=second))
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert _count(gw, Case) == 1


def test_read_only_database_refuses_the_exchange(tmp_path):
    from gateway.config import load_config
    from gateway.workdir import init_workdir

    config = init_workdir(tmp_path / "work")
    db = config.work_dir / "aidbridge.db"
    read_only = load_config(config.work_dir, db_url=f"sqlite:///file:{db}?mode=ro&uri=true")
    for running in start_gateway(read_only):
        with pytest.raises(grpc.RpcError) as err:
            running.client(GOV).cases.RegisterCase(
                cases_pb2.RegisterCaseRequest(request_id="ro", case=adults(1)[0])
            )
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE


def test_audit_verify_passes_then_fails_after_a_ledger_row_is_altered(gateway):
    gov, charity = gateway.client(GOV), gateway.client(CHARITY_A)
    referred = refer(gov, adults(1)[0], tag="verify")
    pull(charity, referred.referral_id)
    gateway.app.ledger.integrate()
    work = str(gateway.app.config.work_dir)
    runner = CliRunner()

    ok = runner.invoke(cli, ["audit", "verify", "--work", work])
    assert ok.exit_code == 0, ok.output
    assert "ledger verified" in ok.output

    with gateway.app.store.write() as session:
        session.execute(
            update(LedgerEntry)
            .where(LedgerEntry.idx == 2)
            .values(entry_json=LedgerEntry.entry_json + " ")
        )
    bad = runner.invoke(cli, ["audit", "verify", "--work", work])
    assert bad.exit_code == 1
    assert "entry 2" in bad.output
