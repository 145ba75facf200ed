"""Cases: people in hardship as the government side registers them.

A case is validated (the resident id by its GB 11643 / ISO 7064 MOD 11-2 check digit, and birth
date and sex agreeing with it), then kept encrypted at rest; only what routing and the consent
rules need stays plain (office, street, birth date, capacity). The record is a plain dict with the
field names of the policy's catalogue, which the privacy transforms work on.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Collection
from datetime import date
from typing import Any

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session
from stdnum.cn import ric

from gateway import errors
from gateway.privacy.crypto import FieldCipher
from gateway.store.models import Case

MOBILE = re.compile(r"1[3-9]\d{9}")
MAX_TEXT = 4000


def validate_record(record: dict[str, Any], *, streets: Collection[str]) -> dict[str, Any]:
    """Check a case record and fill what the resident id implies; raise InvalidArgument naming
    the field."""
    rid = str(record.get("resident_id", "")).strip().upper()
    if not rid:
        raise errors.InvalidArgument("case.person.resident_id is required", field="resident_id")
    try:
        valid = ric.is_valid(rid)
    except (KeyError, ValueError):  # stdnum raises for some region codes instead of answering
        valid = False
    if not valid:
        raise errors.InvalidArgument(
            "case.person.resident_id is not a valid 18-digit resident id (check digit or date)",
            field="resident_id",
        )
    record["resident_id"] = rid
    born = ric.get_birth_date(rid)
    implied_sex = "male" if int(rid[16]) % 2 else "female"
    if record.get("birth_date") and record["birth_date"] != born.isoformat():
        raise errors.InvalidArgument(
            f"case.person.birth_date {record['birth_date']} disagrees with the resident id",
            field="birth_date",
        )
    record["birth_date"] = born.isoformat()
    if record.get("sex") and record["sex"] != implied_sex:
        raise errors.InvalidArgument("case.person.sex disagrees with the resident id", field="sex")
    record["sex"] = implied_sex
    if not str(record.get("name", "")).strip():
        raise errors.InvalidArgument("case.person.name is required", field="name")
    phone = str(record.get("phone", "")).replace(" ", "").replace("-", "")
    if phone and not MOBILE.fullmatch(phone.removeprefix("+86")):
        raise errors.InvalidArgument(
            "case.person.phone is not a mainland mobile number", field="phone"
        )
    record["phone"] = phone
    if record.get("street") not in streets:
        raise errors.InvalidArgument(
            f"case.person.street {record.get('street')!r} is not a street of this district",
            field="street",
        )
    if not record.get("hardship_types"):
        raise errors.InvalidArgument(
            "case.hardship_types: at least one hardship type is required", field="hardship_types"
        )
    if int(record.get("household_size", 0)) < 1:
        raise errors.InvalidArgument(
            "case.household_size must be at least 1", field="household_size"
        )
    if int(record.get("monthly_income", 0)) < 0:
        raise errors.InvalidArgument(
            "case.monthly_income_fen must not be negative", field="monthly_income"
        )
    for name in ("narrative", "health_condition", "disability", "address"):
        if len(str(record.get(name, ""))) > MAX_TEXT:
            raise errors.InvalidArgument(
                f"case.{name} is longer than {MAX_TEXT} characters", field=name
            )
    return record


def age_on(birth_date: str, day: date) -> int:
    born = date.fromisoformat(birth_date)
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def birthday_ns(birth_date: str, years: int) -> int:
    """The instant a person turns ``years`` as ``age_on`` counts it: 00:00 China time (UTC+8,
    ``clock.to_date``) of that birthday; someone born on 29 February turns a year older on
    1 March of a common year. Clamped to a 64-bit nanosecond clock."""
    born = date.fromisoformat(birth_date)
    year = born.year + years
    if year > date.max.year:
        return _INT64_MAX
    try:
        day = born.replace(year=year)
    except ValueError:  # 29 February in a common year
        day = date(year, 3, 1)
    seconds = (day.toordinal() - _EPOCH_ORDINAL) * 86_400 - 8 * 3600
    return max(_INT64_MIN, min(_INT64_MAX, seconds * 1_000_000_000))


def new_case_id() -> str:
    return "case-" + uuid.uuid4().hex[:20]


def store_case(
    session: Session,
    record: dict[str, Any],
    *,
    case_id: str,
    office_id: str,
    subject_index: str,
    cipher: FieldCipher,
    now_ns: int,
) -> Case:
    payload = json.dumps(record, ensure_ascii=False, sort_keys=True).encode()
    row = Case(
        case_id=case_id,
        office_id=office_id,
        subject_index=subject_index,
        street=record["street"],
        birth_date=record["birth_date"],
        lacks_capacity=bool(record.get("lacks_capacity", False)),
        payload_enc=cipher.encrypt(payload, case_id.encode()),
        key_id=cipher.key_id,
        created_at_ns=now_ns,
    )
    session.add(row)
    return row


def get_case(session: Session, case_id: str) -> Case:
    row = session.get(Case, case_id) if case_id else None
    if row is None:
        raise errors.NotFound(f"case {case_id!r} not found", field="case_id")
    return row


_CASES: Table = Case.__table__  # type: ignore[assignment]
_READ_CASE = select(_CASES).where(_CASES.c.case_id == bindparam("case_id"))


def read_case(session: Session, case_id: str) -> Any:
    """``get_case`` for a read: a Core row with the same columns, no ORM object built."""
    row = session.execute(_READ_CASE, {"case_id": case_id}).first() if case_id else None
    if row is None:
        raise errors.NotFound(f"case {case_id!r} not found", field="case_id")
    return row


def load_record(row: Any, cipher: FieldCipher) -> dict[str, Any]:
    """The case's record, decrypted (``row``: a ``Case`` or a Core row of ``cases``)."""
    record: dict[str, Any] = json.loads(cipher.decrypt(row.payload_enc, row.case_id.encode()))
    return record
