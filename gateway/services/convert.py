"""Translation between protobuf messages and the domain's plain records."""

from __future__ import annotations

import functools
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from aidbridge.v1 import cases_pb2, common_pb2
from gateway.clock import NS_PER_SECOND

_SEX = {common_pb2.SEX_FEMALE: "female", common_pb2.SEX_MALE: "male"}
_SEX_BACK = {v: k for k, v in _SEX.items()}


def _enum_name(enum: Any, value: int) -> str:
    """SEVERITY_HIGH → "high": the prefix is the enum's own name."""
    full = enum.Name(value)
    return full[len(_prefix_of(enum.DESCRIPTOR) or full.split("_")[0]) :].lower()


def _enum_value(enum: Any, name: str) -> int:
    prefix = _prefix_of(enum.DESCRIPTOR)
    if prefix is None:
        raise ValueError(name)
    return int(enum.Value(prefix + name.upper()))


@functools.cache
def _prefix_of(descriptor: Any) -> str | None:
    """The prefix of an enum's values ("SEVERITY_"), named by its ``…_UNSPECIFIED`` value;
    looked up once per enum (a summary translates several values)."""
    for candidate in descriptor.values_by_name:
        if candidate.endswith("_UNSPECIFIED"):
            return candidate[: -len("UNSPECIFIED")]
    return None


# Public names for the translations other services share (e.g. HelpKind ↔ "visits_and_care").
enum_name = _enum_name
enum_value = _enum_value


def case_to_record(case: cases_pb2.Case) -> dict[str, Any]:
    p = case.person
    return {
        "resident_id": p.resident_id.strip(),
        "name": p.name.strip(),
        "phone": p.phone.strip(),
        "address": p.address.strip(),
        "street": p.street.strip(),
        "community": p.community.strip(),
        "birth_date": p.birth_date.strip(),
        "sex": _SEX.get(p.sex, ""),
        "household_size": case.household_size,
        "monthly_income": case.monthly_income_fen,
        "hardship_types": [
            _enum_name(common_pb2.HardshipType, v) for v in case.hardship_types if v
        ],
        "special_groups": [
            _enum_name(common_pb2.SpecialGroup, v) for v in case.special_groups if v
        ],
        "severity": _enum_name(common_pb2.Severity, case.severity) if case.severity else "",
        "needs": [_enum_name(common_pb2.HelpKind, v) for v in case.needs if v],
        "assistance_status": case.assistance_status.strip(),
        "health_condition": case.health_condition.strip(),
        "disability": case.disability.strip(),
        "narrative": case.narrative.strip(),
        "relatives": [
            {"name": r.name.strip(), "relationship": r.relationship.strip()} for r in case.relatives
        ],
        "lacks_capacity": case.lacks_capacity,
    }


def record_to_case(record: dict[str, Any], *, case_id: str, office_id: str, at_ns: int) -> Any:
    case = cases_pb2.Case(
        case_id=case_id,
        person=cases_pb2.Person(
            resident_id=record["resident_id"],
            name=record["name"],
            phone=record.get("phone", ""),
            address=record.get("address", ""),
            street=record["street"],
            community=record.get("community", ""),
            birth_date=record["birth_date"],
            sex=_SEX_BACK.get(record.get("sex", ""), common_pb2.SEX_UNSPECIFIED),
        ),
        relatives=[cases_pb2.Relative(**r) for r in record.get("relatives", [])],
        hardship_types=[
            _enum_value(common_pb2.HardshipType, n) for n in record.get("hardship_types", [])
        ],
        special_groups=[
            _enum_value(common_pb2.SpecialGroup, n) for n in record.get("special_groups", [])
        ],
        severity=_enum_value(common_pb2.Severity, record["severity"])
        if record.get("severity")
        else 0,
        household_size=int(record.get("household_size", 0)),
        monthly_income_fen=int(record.get("monthly_income", 0)),
        assistance_status=record.get("assistance_status", ""),
        health_condition=record.get("health_condition", ""),
        disability=record.get("disability", ""),
        needs=[_enum_value(common_pb2.HelpKind, n) for n in record.get("needs", [])],
        narrative=record.get("narrative", ""),
        office_id=office_id,
        registered_at=timestamp(at_ns),
        lacks_capacity=bool(record.get("lacks_capacity", False)),
    )
    return case


_TRANSFORM = {
    "plain": common_pb2.TRANSFORM_PLAIN,
    "pseudonymise": common_pb2.TRANSFORM_PSEUDONYMISE,
    "generalise": common_pb2.TRANSFORM_GENERALISE,
    "mask": common_pb2.TRANSFORM_MASK,
    "scrub": common_pb2.TRANSFORM_SCRUB,
}


def released_fields(fields: tuple[tuple[str, str], ...]) -> list[Any]:
    return [common_pb2.ReleasedField(field=f, transform=_TRANSFORM.get(a, 0)) for f, a in fields]


def summary_values(values: dict[str, Any]) -> dict[str, Any]:
    """Released values (output names) → CaseSummary keyword arguments."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name == "sex":
            out["sex"] = _SEX_BACK.get(value, common_pb2.SEX_UNSPECIFIED)
        elif name == "severity":
            out["severity"] = _enum_value(common_pb2.Severity, value)
        elif name == "hardship_types":
            out[name] = [_enum_value(common_pb2.HardshipType, v) for v in value]
        elif name == "special_groups":
            out[name] = [_enum_value(common_pb2.SpecialGroup, v) for v in value]
        elif name == "needs":
            out[name] = [_enum_value(common_pb2.HelpKind, v) for v in value]
        elif name in cases_pb2.CaseSummary.DESCRIPTOR.fields_by_name:
            out[name] = value
    return out


def timestamp(ns: int) -> Timestamp:
    return Timestamp(seconds=ns // NS_PER_SECOND, nanos=ns % NS_PER_SECOND)


def from_timestamp(ts: Timestamp) -> int:
    return ts.seconds * NS_PER_SECOND + ts.nanos
