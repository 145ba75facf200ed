"""The request validation layer on its own: every request field has a rule, the documented
limits are the enforced ones, and a refusal names the field without echoing its value."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given
from hypothesis import strategies as st

from aidbridge.v1 import audit_pb2, cases_pb2, consents_pb2, referrals_pb2, resources_pb2
from gateway import errors
from gateway.services import validation
from gateway.services.validation import check_request

LIMITS_DOC = Path(__file__).resolve().parents[2] / "docs" / "limits.md"


def _refusal(message) -> errors.InvalidArgument:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.InvalidArgument) as err:
        check_request(message)
    return err.value


def test_every_rpc_request_of_every_service_is_walked() -> None:
    names = {d.full_name for d in validation.request_types()}
    for module in (audit_pb2, cases_pb2, consents_pb2, referrals_pb2, resources_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                assert method.input_type.full_name in names


def test_every_override_names_a_request_field_that_exists() -> None:
    fields = {f.full_name for f in validation.request_fields()}
    assert set(validation.OVERRIDES) <= fields, set(validation.OVERRIDES) - fields


def test_nested_and_repeated_fields_are_reached() -> None:
    fields = {f.full_name for f in validation.request_fields()}
    assert "aidbridge.v1.Person.name" in fields  # RegisterCaseRequest.case.person.name
    assert "aidbridge.v1.Relative.relationship" in fields  # repeated message
    assert "aidbridge.v1.PageRequest.page_token" in fields  # shared by several requests


def test_a_field_without_override_gets_the_default_of_its_name_and_type() -> None:
    reverse = referrals_pb2.ReverseReferral.DESCRIPTOR.fields_by_name
    assert validation.rule_for(reverse["from_org"]).kind == validation.ID
    assert validation.rule_for(reverse["to_office"]).kind == validation.ID
    relative = cases_pb2.Relative.DESCRIPTOR.fields_by_name
    assert validation.rule_for(relative["name"]).kind == validation.LINE


def test_every_free_text_field_has_a_documented_limit() -> None:
    doc = LIMITS_DOC.read_text(encoding="utf-8")
    free_text = list(validation.free_text_fields())
    assert "aidbridge.v1.WithdrawConsentRequest.reason" in free_text
    for name in free_text:
        assert f"`{name.removeprefix('aidbridge.v1.')}`" in doc, name


def test_the_limits_document_is_the_table_the_code_enforces() -> None:
    doc = LIMITS_DOC.read_text(encoding="utf-8")
    assert doc.endswith(validation.limits_markdown()), (
        "docs/limits.md is out of date: regenerate its table with "
        "gateway.services.validation.limits_markdown()"
    )


@pytest.mark.parametrize(
    ("message", "path", "found"),
    [
        (cases_pb2.RegisterCaseRequest(case=cases_pb2.Case(severity=99)), "case.severity", "99"),
        (
            cases_pb2.RegisterCaseRequest(case=cases_pb2.Case(needs=[1, 2, -3])),
            "case.needs[2]",
            "-3",
        ),
        (
            cases_pb2.RegisterCaseRequest(
                case=cases_pb2.Case(relatives=[cases_pb2.Relative(name="李\x07四")])
            ),
            "case.relatives[0].name",
            "U+0007",
        ),
        (
            audit_pb2.QueryLedgerRequest(since=Timestamp(seconds=2**62)),
            "since",
            str(2**62),
        ),
        (
            audit_pb2.QueryLedgerRequest(until=Timestamp(seconds=0, nanos=-1)),
            "until.nanos",
            "-1",
        ),
        (audit_pb2.QueryLedgerRequest(subject_resident_id="  "), "subject_resident_id", "blank"),
        (
            consents_pb2.WithdrawConsentRequest(reason="r" * 2001),
            "reason",
            "2001",
        ),
        (
            consents_pb2.RecordConsentRequest(
                consent=consents_pb2.Consent(categories=["health"] * 33)
            ),
            "consent.categories",
            "33",
        ),
        (
            referrals_pb2.CreateReferralRequest(case_id="case 1"),
            "case_id",
            "U+0020",
        ),
        (
            cases_pb2.RegisterCaseRequest(case=cases_pb2.Case(household_size=101)),
            "case.household_size",
            "101",
        ),
    ],
)
def test_a_broken_rule_names_the_field_path_the_rule_and_what_was_found(
    message, path: str, found: str
) -> None:  # type: ignore[no-untyped-def]
    refusal = _refusal(message)
    assert refusal.field == path
    assert refusal.message.startswith(path + " ")
    assert found in refusal.message


def test_free_text_keeps_newlines_and_tabs_and_a_single_line_does_not() -> None:
    check_request(consents_pb2.WithdrawConsentRequest(reason="第一行\n\t第二行"))
    refusal = _refusal(
        cases_pb2.RegisterCaseRequest(case=cases_pb2.Case(person=cases_pb2.Person(name="张\n三")))
    )
    assert refusal.field == "case.person.name"


def test_the_refusal_never_quotes_the_value() -> None:
    secret = "张三的身份证号码110105194912310029"
    refusal = _refusal(consents_pb2.WithdrawConsentRequest(reason=secret + "\x00" + "x" * 3000))
    assert secret not in refusal.message
    refusal = _refusal(consents_pb2.WithdrawConsentRequest(reason=secret + "\x01"))
    assert secret not in refusal.message


def test_the_boundaries_of_the_timestamp_range_are_exact() -> None:
    first, end = validation.EARLIEST_SECONDS, validation.LATEST_SECONDS
    check_request(audit_pb2.QueryLedgerRequest(since=Timestamp(seconds=first)))
    check_request(audit_pb2.QueryLedgerRequest(since=Timestamp(seconds=end - 1, nanos=999_999_999)))
    assert (
        _refusal(audit_pb2.QueryLedgerRequest(since=Timestamp(seconds=first - 1))).field == "since"
    )
    assert _refusal(audit_pb2.QueryLedgerRequest(since=Timestamp(seconds=end))).field == "since"


def test_a_valid_request_passes() -> None:
    from tests.e2e.flow import adults, consent_message

    check_request(cases_pb2.RegisterCaseRequest(request_id="r-1", case=adults(1)[0]))
    check_request(consents_pb2.RecordConsentRequest(consent=consent_message("case-1")))
    check_request(audit_pb2.QueryLedgerRequest(subject_resident_id="110105 19491231 002x"))


_ENUMS = [
    f
    for f in validation.request_fields()
    if f.type == FieldDescriptor.TYPE_ENUM and not f.is_repeated
]


@given(field=st.sampled_from(_ENUMS), value=st.integers(-(2**31), 2**31 - 1))
def test_an_enum_value_passes_exactly_when_the_enum_defines_it(
    field: FieldDescriptor, value: int
) -> None:
    from google.protobuf.message_factory import GetMessageClass

    message = GetMessageClass(field.containing_type)()
    setattr(message, field.name, value)
    defined = value in field.enum_type.values_by_number
    try:
        check_request(message)
    except errors.InvalidArgument as exc:
        assert not defined
        assert exc.field == field.name
    else:
        assert defined
