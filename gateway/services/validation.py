"""Validation of every request at the service boundary, derived from the protobuf descriptors.

Every field of every request message of every RPC of ``proto/aidbridge/v1`` — nested messages and
repeated fields included — gets a rule before any handler sees the request:

- enum fields (singular and repeated) hold a value the enum defines (proto3 enums are open: an
  undefined number such as 99 arrives as a plain int);
- ``google.protobuf.Timestamp`` fields have ``nanos`` in [0, 999 999 999] and lie in
  [1900-01-01, 2200-01-01) UTC: inside what the gateway's integer-nanosecond times (int64,
  ``gateway.clock``; 1677–2262) and the databases' BIGINT columns hold, with room to add days;
- string fields have a maximum length and a character class: identifiers ASCII letters, digits
  and ``. _ : @ -``; single-line text no control characters; free text no control characters but
  newline and tab; resident ids digits, ``X`` and spaces, and never blank;
- repeated fields hold at most a maximum number of items, bytes fields a maximum size;
- integer fields with a documented range stay inside it.

``OVERRIDES`` is the one table of per-field rules; every other field gets the default of its type
(a string whose name ends in ``_id`` or ``_org`` is an identifier), so a new field is covered as
soon as it is in the descriptors. ``docs/limits.md`` is ``limits_markdown()``'s output, checked by
a test. A broken rule raises ``errors.InvalidArgument`` naming the field path (e.g.
``case.person.name``), the rule, and what was found — a length, a number or a code point, never
the value itself, which may be personal data or megabytes long.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

from aidbridge.v1 import (
    audit_pb2,
    cases_pb2,
    consents_pb2,
    integrity_pb2,
    referrals_pb2,
    reports_pb2,
    resources_pb2,
)
from aidbridge_verify.bundle import MAX_TREE_SIZE as BUNDLE_MAX_TREE_SIZE
from gateway import errors

TIMESTAMP = "google.protobuf.Timestamp"
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)  # exclusive
EARLIEST_SECONDS = int(EARLIEST.timestamp())
LATEST_SECONDS = int(LATEST.timestamp())
MAX_NANOS = 999_999_999

DEFAULT_ID_CHARS = 100
DEFAULT_LINE_CHARS = 200
DEFAULT_ITEMS = 64
DEFAULT_BYTES = 64 * 1024

ID = "id"  # ASCII letters, digits and . _ : @ -
ACTOR = "actor"  # as the actor metadata: letters (any script), digits and . _ : @ -
METHOD = "method"  # a gRPC method name as the ledger keeps it: Package.Service/Method
OUTCOME = "outcome"  # OK or a gRPC status name
HEX = "hex"  # hexadecimal digits (a SHA-256)
BASE64 = "base64"
RESIDENT_ID = "resident-id"  # GB 11643 characters: digits, X, and spaces between groups
LINE = "line"  # one line of text: no control characters
TEXT = "text"  # free text: no control characters but newline and tab

_ALLOWED = {
    ID: (re.compile(r"[A-Za-z0-9._:@-]*"), "ASCII letters, digits and . _ : @ -"),
    ACTOR: (re.compile(r"[\w.@:-]*"), "letters, digits and . _ : @ -"),
    METHOD: (re.compile(r"[A-Za-z0-9._/-]*"), "ASCII letters, digits and . _ / -"),
    OUTCOME: (re.compile(r"[A-Z_]*"), "capital letters and _"),
    HEX: (re.compile(r"[0-9A-Fa-f]*"), "hexadecimal digits"),
    BASE64: (re.compile(r"[A-Za-z0-9+/=_-]*"), "base64 characters"),
    RESIDENT_ID: (re.compile(r"[0-9Xx ]*"), "digits, X and spaces"),
}
_CONTROL = {
    LINE: re.compile(r"[\x00-\x1f\x7f-\x9f]"),
    TEXT: re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]"),
}
_KIND_TEXT = {
    ID: "identifier",
    ACTOR: "actor",
    METHOD: "method name",
    OUTCOME: "outcome code",
    HEX: "hex digest",
    BASE64: "base64",
    RESIDENT_ID: "resident id",
    LINE: "single line",
    TEXT: "free text (newline, tab)",
}


@dataclass(frozen=True)
class Rule:
    """The limits of one field. ``kind`` applies to strings; ``max_chars`` to strings,
    ``max_bytes`` to bytes, ``max_items`` to repeated fields, ``low``/``high`` to integers."""

    kind: str = LINE
    max_chars: int = DEFAULT_LINE_CHARS
    max_items: int = DEFAULT_ITEMS
    max_bytes: int = DEFAULT_BYTES
    low: int | None = None
    high: int | None = None


def _id(max_chars: int = DEFAULT_ID_CHARS, **more: int) -> Rule:
    return Rule(kind=ID, max_chars=max_chars, **more)


def _line(max_chars: int, **more: int) -> Rule:
    return Rule(kind=LINE, max_chars=max_chars, **more)


def _text(max_chars: int) -> Rule:
    return Rule(kind=TEXT, max_chars=max_chars)


# Gateway-assigned ids are at most 40 characters (the width of their columns); organisation ids
# and request ids at most 100 (likewise).
_GATEWAY_ID = _id(40)
_RESIDENT_ID = Rule(kind=RESIDENT_ID, max_chars=32)

OVERRIDES: dict[str, Rule] = {
    # audit
    "aidbridge.v1.QueryLedgerRequest.actor": Rule(kind=ACTOR, max_chars=100),
    "aidbridge.v1.QueryLedgerRequest.subject_resident_id": _RESIDENT_ID,
    "aidbridge.v1.QueryLedgerRequest.method": Rule(kind=METHOD, max_chars=200),
    "aidbridge.v1.QueryLedgerRequest.outcome": Rule(kind=OUTCOME, max_chars=30),
    "aidbridge.v1.GetAccessReportRequest.resident_id": _RESIDENT_ID,
    # an export's range: indices of a tree a v1 bundle can hold (docs/ledger-bundle.md)
    "aidbridge.v1.ExportLedgerRequest.from_index": Rule(low=0, high=BUNDLE_MAX_TREE_SIZE),
    "aidbridge.v1.ExportLedgerRequest.to_index": Rule(low=0, high=BUNDLE_MAX_TREE_SIZE),
    "aidbridge.v1.PageRequest.page_token": _id(),
    # cases
    "aidbridge.v1.Case.case_id": _GATEWAY_ID,
    "aidbridge.v1.Case.relatives": Rule(max_items=20),
    "aidbridge.v1.Case.hardship_types": Rule(max_items=16),
    "aidbridge.v1.Case.special_groups": Rule(max_items=16),
    "aidbridge.v1.Case.needs": Rule(max_items=16),
    "aidbridge.v1.Case.household_size": Rule(low=0, high=100),
    "aidbridge.v1.Case.monthly_income_fen": Rule(high=10**12),
    "aidbridge.v1.Case.assistance_status": _line(100),
    "aidbridge.v1.Case.health_condition": _text(4000),
    "aidbridge.v1.Case.disability": _text(4000),
    "aidbridge.v1.Case.narrative": _text(4000),
    "aidbridge.v1.Person.resident_id": _RESIDENT_ID,
    "aidbridge.v1.Person.name": _line(100),
    "aidbridge.v1.Person.phone": _line(32),
    "aidbridge.v1.Person.address": _line(500),
    "aidbridge.v1.Person.street": _line(100),
    "aidbridge.v1.Person.community": _line(100),
    "aidbridge.v1.Person.birth_date": _line(32),
    "aidbridge.v1.Relative.name": _line(100),
    "aidbridge.v1.Relative.relationship": _line(100),
    "aidbridge.v1.PullCaseSummaryRequest.purpose": _id(),
    "aidbridge.v1.StreamCaseSummariesRequest.purpose": _id(),
    "aidbridge.v1.StreamCaseSummariesRequest.state": _id(30),
    "aidbridge.v1.StreamCaseSummariesRequest.updated_since_ns": Rule(low=0),
    "aidbridge.v1.GetContactDetailsRequest.purpose": _id(),
    # consents
    "aidbridge.v1.Consent.consent_id": _GATEWAY_ID,
    "aidbridge.v1.Consent.case_id": _GATEWAY_ID,
    "aidbridge.v1.Consent.purpose": _id(),
    "aidbridge.v1.Consent.categories": _id(max_items=32),
    "aidbridge.v1.Consent.fields": _id(max_items=64),
    "aidbridge.v1.Consent.supersedes": _GATEWAY_ID,
    "aidbridge.v1.Consent.recorded_by_actor": Rule(kind=ACTOR, max_chars=100),
    "aidbridge.v1.Consent.signature": Rule(kind=BASE64, max_chars=200),
    "aidbridge.v1.Consent.key_id": _id(80),
    "aidbridge.v1.Grantor.name": _line(100),
    "aidbridge.v1.Grantor.relationship": _line(100),
    "aidbridge.v1.Grantor.verification_method": _line(200),
    "aidbridge.v1.Notice.version": _line(100),
    "aidbridge.v1.Notice.sha256": Rule(kind=HEX, max_chars=64),
    "aidbridge.v1.Evidence.form_sha256": Rule(kind=HEX, max_chars=64),
    "aidbridge.v1.Evidence.witness": _line(100),
    "aidbridge.v1.WithdrawConsentRequest.reason": _text(2000),
    "aidbridge.v1.MarkEnteredInErrorRequest.reason": _text(2000),
    "aidbridge.v1.AttestDeletionRequest.statement": _text(4000),
    # referrals
    "aidbridge.v1.CreateReferralRequest.purpose": _id(),
    "aidbridge.v1.CreateReferralRequest.note": _text(2000),
    "aidbridge.v1.UpdateReferralStateRequest.reason": _text(2000),
    "aidbridge.v1.HelpDelivered.value_fen": Rule(low=0, high=10**12),
    "aidbridge.v1.HelpDelivered.description": _text(4000),
    "aidbridge.v1.ReverseReferral.subject_name": _line(100),
    "aidbridge.v1.ReverseReferral.subject_resident_id": _RESIDENT_ID,
    "aidbridge.v1.ReverseReferral.subject_phone": _line(32),
    "aidbridge.v1.ReverseReferral.reason": _text(4000),
    "aidbridge.v1.ReverseReferral.state": _id(30),
    "aidbridge.v1.ReverseReferral.outcome_note": _text(4000),
    "aidbridge.v1.ReportReverseOutcomeRequest.state": _id(30),
    "aidbridge.v1.ReportReverseOutcomeRequest.outcome_note": _text(4000),
    # referrals loop (issue 11)
    "aidbridge.v1.HelpDelivered.minutes": Rule(low=0, high=60 * 24 * 366),
    "aidbridge.v1.ListReferralEventsRequest.after_event_id": Rule(low=0),
    "aidbridge.v1.ListReferralEventsRequest.page_size": Rule(low=0, high=500),
    "aidbridge.v1.ListReferralEventsRequest.referral_id": _GATEWAY_ID,
    "aidbridge.v1.ReverseReferral.street": _line(100),
    "aidbridge.v1.ReverseReferral.purpose": _id(),
    "aidbridge.v1.ReverseReferral.application_id": _id(),
    "aidbridge.v1.ReverseReferral.events": Rule(max_items=0),
    "aidbridge.v1.ReverseReferralConsent.recipient_office": _id(),
    "aidbridge.v1.ReverseReferralConsent.purpose": _id(),
    "aidbridge.v1.ReverseReferralConsent.signature": Rule(kind=BASE64, max_chars=200),
    "aidbridge.v1.ReverseReferralConsent.signing_key_id": _id(80),
    "aidbridge.v1.ReportReverseOutcomeRequest.application_id": _id(),
    "aidbridge.v1.ListReverseReferralsRequest.state": _id(30),
    "aidbridge.v1.ResolvePseudonymRequest.recipient_org": _id(),
    "aidbridge.v1.ResolvePseudonymRequest.pseudonym": _id(40),
    # resources
    "aidbridge.v1.Project.name": _line(200),
    "aidbridge.v1.Project.description": _text(4000),
    "aidbridge.v1.Project.streets": _line(100, max_items=200),
    "aidbridge.v1.Project.services": Rule(max_items=16),
    "aidbridge.v1.Project.eligible_groups": Rule(max_items=16),
    "aidbridge.v1.QueryCapacityRequest.services": Rule(max_items=16),
    "aidbridge.v1.QueryCapacityRequest.street": _line(100),
    # projects, capacity, matching, the linkage report (issue 11)
    "aidbridge.v1.Project.communities": Rule(max_items=200),
    "aidbridge.v1.Community.street": _line(100),
    "aidbridge.v1.Community.name": _line(100),
    "aidbridge.v1.Eligibility.special_groups": Rule(max_items=16),
    "aidbridge.v1.Eligibility.hardship_types": Rule(max_items=16),
    "aidbridge.v1.ListProjectsRequest.street": _line(100),
    "aidbridge.v1.QueryCapacityRequest.community": _line(100),
    "aidbridge.v1.GetLinkageReportRequest.period": _id(7),
    # the conflict-of-interest register (issue 10)
    "aidbridge.v1.DeclareRelationshipRequest.relative_resident_id": _RESIDENT_ID,
    "aidbridge.v1.WithdrawDeclarationRequest.declaration_id": _GATEWAY_ID,
    "aidbridge.v1.ApproveActionRequest.action_id": _GATEWAY_ID,
    "aidbridge.v1.RejectActionRequest.action_id": _GATEWAY_ID,
    "aidbridge.v1.ListFlagsRequest.limit": Rule(low=0, high=500),
    "aidbridge.v1.ListFlagsRequest.flag": _id(100),
    "aidbridge.v1.ResolveFlagRequest.flag_id": _GATEWAY_ID,
    "aidbridge.v1.ResolveFlagRequest.note": _text(4000),
}

SERVICE_FILES = (
    audit_pb2,
    cases_pb2,
    consents_pb2,
    referrals_pb2,
    resources_pb2,
    reports_pb2,
    integrity_pb2,
)


def request_types() -> list[Descriptor]:
    """The request message of every RPC of every service, once each."""
    found: dict[str, Descriptor] = {}
    for module in SERVICE_FILES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                found.setdefault(method.input_type.full_name, method.input_type)
    return list(found.values())


def request_fields() -> Iterator[FieldDescriptor]:
    """Every field reachable from a request message, nested messages included, once each
    (a Timestamp is a value of its own, not walked into)."""
    seen: set[str] = set()
    pending = request_types()
    while pending:
        message = pending.pop()
        if message.full_name in seen or message.full_name == TIMESTAMP:
            continue
        seen.add(message.full_name)
        for field in message.fields:
            yield field
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                pending.append(field.message_type)


def rule_for(field: FieldDescriptor) -> Rule:
    """The field's override, else the default of its type and name."""
    override = OVERRIDES.get(field.full_name)
    if override is not None:
        return override
    if field.type == FieldDescriptor.TYPE_STRING and (
        field.name.endswith(("_id", "_org", "_office")) or field.name == "org"
    ):
        return _id()
    return Rule()


def check_request(message: Message) -> None:
    """Raise ``InvalidArgument`` naming the first field of ``message`` that breaks its rule."""
    _check_message(message, "")


def _check_message(message: Message, prefix: str) -> None:
    for field, value in message.ListFields():
        path = prefix + field.name
        rule = rule_for(field)
        if field.is_repeated:
            if len(value) > rule.max_items:
                raise _invalid(path, f"may hold at most {rule.max_items} items, found {len(value)}")
            for pos, item in enumerate(value):
                _check_value(field, rule, item, f"{path}[{pos}]")
        else:
            _check_value(field, rule, value, path)


def _check_value(field: FieldDescriptor, rule: Rule, value: object, path: str) -> None:
    kind = field.type
    if kind == FieldDescriptor.TYPE_MESSAGE:
        assert isinstance(value, Message)
        if field.message_type.full_name == TIMESTAMP:
            _check_timestamp(value, path)
        else:
            _check_message(value, path + ".")
    elif kind == FieldDescriptor.TYPE_ENUM:
        assert isinstance(value, int)
        _check_enum(field.enum_type, value, path)
    elif kind == FieldDescriptor.TYPE_STRING:
        assert isinstance(value, str)
        _check_string(rule, value, path)
    elif kind == FieldDescriptor.TYPE_BYTES:
        assert isinstance(value, bytes)
        if len(value) > rule.max_bytes:
            raise _invalid(path, f"must be at most {rule.max_bytes} bytes, found {len(value)}")
    elif isinstance(value, int) and not isinstance(value, bool):
        if rule.low is not None and value < rule.low:
            raise _invalid(path, f"must be at least {rule.low}, found {value}")
        if rule.high is not None and value > rule.high:
            raise _invalid(path, f"must be at most {rule.high}, found {value}")


def _check_enum(enum: EnumDescriptor, value: int, path: str) -> None:
    if value not in enum.values_by_number:
        raise _invalid(path, f"must be a value {enum.full_name} defines, found {value}")


def _check_timestamp(value: Message, path: str) -> None:
    seconds = int(getattr(value, "seconds"))  # noqa: B009 (a Timestamp, typed as Message)
    nanos = int(getattr(value, "nanos"))  # noqa: B009
    if not 0 <= nanos <= MAX_NANOS:
        raise _invalid(path + ".nanos", f"must be between 0 and {MAX_NANOS}, found {nanos}")
    if not EARLIEST_SECONDS <= seconds < LATEST_SECONDS:
        raise _invalid(
            path,
            f"must lie between {EARLIEST.date()} and {LATEST.date()} UTC, "
            f"found {seconds} seconds from 1970",
        )


def _check_string(rule: Rule, value: str, path: str) -> None:
    if len(value) > rule.max_chars:
        raise _invalid(path, f"must be at most {rule.max_chars} characters, found {len(value)}")
    control = _CONTROL.get(rule.kind)
    if control is not None:
        bad = control.search(value)
        if bad is not None:
            raise _invalid(
                path,
                "must not contain control characters"
                + (" other than newline and tab" if rule.kind == TEXT else "")
                + f", found {_code_point(bad.group())} at character {bad.start() + 1}",
            )
        return
    allowed, description = _ALLOWED[rule.kind]
    if not allowed.fullmatch(value):
        at = next(i for i, c in enumerate(value) if not allowed.fullmatch(c))
        raise _invalid(
            path,
            f"may contain only {description}, found {_code_point(value[at])} at character {at + 1}",
        )
    if rule.kind == RESIDENT_ID and value and not value.strip():
        raise _invalid(path, "is blank: give an 18-character resident id or leave it empty")


def _code_point(char: str) -> str:
    return f"U+{ord(char):04X}"


def _invalid(path: str, rule: str) -> errors.InvalidArgument:
    return errors.InvalidArgument(f"{path} {rule}", field=path)


# The documented limits ---------------------------------------------------------------------


@cache
def _documented_fields() -> tuple[tuple[str, str, str], ...]:
    rows: list[tuple[str, str, str]] = []
    for field in sorted(request_fields(), key=lambda f: f.full_name):
        limit = _describe(field, rule_for(field))
        if limit:
            rows.append((field.full_name.removeprefix("aidbridge.v1."), _type_name(field), limit))
    return tuple(rows)


def _type_name(field: FieldDescriptor) -> str:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        name = field.message_type.full_name
    elif field.type == FieldDescriptor.TYPE_ENUM:
        name = field.enum_type.full_name
    else:
        name = {
            FieldDescriptor.TYPE_STRING: "string",
            FieldDescriptor.TYPE_BYTES: "bytes",
            FieldDescriptor.TYPE_INT32: "int32",
            FieldDescriptor.TYPE_INT64: "int64",
            FieldDescriptor.TYPE_BOOL: "bool",
        }.get(field.type, str(field.type))
    name = name.removeprefix("aidbridge.v1.")
    return f"repeated {name}" if field.is_repeated else name


def _describe(field: FieldDescriptor, rule: Rule) -> str:
    parts: list[str] = []
    if field.is_repeated:
        parts.append(f"≤ {rule.max_items} items")
    if field.type == FieldDescriptor.TYPE_STRING:
        parts.append(f"≤ {rule.max_chars} characters, {_KIND_TEXT[rule.kind]}")
    elif field.type == FieldDescriptor.TYPE_BYTES:
        parts.append(f"≤ {rule.max_bytes} bytes")
    elif field.type == FieldDescriptor.TYPE_ENUM:
        parts.append("a defined value")
    elif field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.full_name == TIMESTAMP:
        parts.append(f"{EARLIEST.date()} ≤ t < {LATEST.date()}, nanos 0..{MAX_NANOS}")
    elif rule.low is not None or rule.high is not None:
        low = "" if rule.low is None else f"{rule.low} ≤ "
        high = "" if rule.high is None else f" ≤ {rule.high}"
        parts.append(f"{low}n{high}")
    elif field.is_repeated:
        pass
    else:
        return ""
    return "; ".join(parts)


def limits_markdown() -> str:
    """The table of ``docs/limits.md``: every request field with a limit."""
    lines = ["| Field | Type | Limit |", "| --- | --- | --- |"]
    lines += [f"| `{name}` | {kind} | {limit} |" for name, kind, limit in _documented_fields()]
    return "\n".join(lines) + "\n"


def free_text_fields() -> Iterable[str]:
    """The full names of the free-text fields (the larger limits)."""
    return [f.full_name for f in request_fields() if rule_for(f).kind == TEXT]
