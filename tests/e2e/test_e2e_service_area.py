"""An office's service area through the real server: a street office whose jurisdiction is
观音桥街道 alone is refused cases on other streets (PERMISSION_DENIED, ledgered with the reason),
and reaches no case outside its area, while the district bureau reaches every street."""

from __future__ import annotations

import grpc
import pytest

from aidbridge.v1 import audit_pb2, cases_pb2, consents_pb2
from tests.e2e.flow import COMPLIANCE, GOV, STREET_OFFICE, adults

OWN_STREET = "观音桥街道"


def _on_street(person: cases_pb2.Case, street: str) -> cases_pb2.Case:
    case = cases_pb2.Case()
    case.CopyFrom(person)
    case.person.street = street
    return case


def _refused(call, request) -> grpc.RpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as refused:
        call(request)
    return refused.value


@pytest.mark.parametrize("street", ["华新街街道", "鱼嘴镇"])
def test_street_office_is_refused_a_case_outside_its_area_and_the_ledger_says_why(
    gateway, street: str
) -> None:
    office = gateway.client(STREET_OFFICE, "cw-201")
    person = _on_street(adults(1)[0], street)
    error = _refused(
        office.cases.RegisterCase, cases_pb2.RegisterCaseRequest(request_id="out", case=person)
    )
    reason = f"{STREET_OFFICE} has no jurisdiction over street {street}"
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert reason in error.details()

    gateway.app.ledger.integrate()
    officer = gateway.client(COMPLIANCE, "inspector-9")
    entries = officer.audit.QueryLedger(
        audit_pb2.QueryLedgerRequest(org=STREET_OFFICE, outcome="PERMISSION_DENIED")
    ).entries
    assert [(e.method.rsplit("/", 1)[-1], e.actor) for e in entries] == [("RegisterCase", "cw-201")]
    assert reason in entries[0].reason
    assert entries[0].index >= 0
    # Refused before anything was stored: the person's data is nowhere in the ledger.
    assert person.person.resident_id not in entries[0].entry_json
    assert person.person.name not in entries[0].entry_json


def test_street_office_reaches_no_case_outside_its_area_the_bureau_every_street(
    gateway,
) -> None:
    office = gateway.client(STREET_OFFICE, "cw-201")
    bureau = gateway.client(GOV)
    inside_person, outside_person = adults(2)
    inside = office.cases.RegisterCase(
        cases_pb2.RegisterCaseRequest(request_id="in", case=_on_street(inside_person, OWN_STREET))
    ).case_id
    outside = bureau.cases.RegisterCase(
        cases_pb2.RegisterCaseRequest(request_id="out", case=_on_street(outside_person, "鱼嘴镇"))
    ).case_id

    assert office.cases.GetCase(cases_pb2.GetCaseRequest(case_id=inside)).person.street == (
        OWN_STREET
    )
    assert bureau.cases.GetCase(cases_pb2.GetCaseRequest(case_id=outside)).case_id == outside
    assert bureau.cases.GetCase(cases_pb2.GetCaseRequest(case_id=inside)).case_id == inside
    for call, request in [
        (office.cases.GetCase, cases_pb2.GetCaseRequest(case_id=outside)),
        (office.consents.ListConsents, consents_pb2.ListConsentsRequest(case_id=outside)),
    ]:
        error = _refused(call, request)
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "no jurisdiction over street 鱼嘴镇" in error.details()
