"""Fuzzing every RPC of every AidBridge service through the real mTLS gateway.

Requests are generated from the protobuf descriptors (every field type; enums with undefined
values; extreme integers; strings empty, blank, with control characters, overlong and huge
within the 4 MB message limit; timestamps out of range and with bad nanos; random nesting and
repeated fields), merged onto valid requests so the handlers' deeper paths run too, or sent as
raw bytes that may not decode at all — by callers of each role. The invariants:

- no call is answered UNKNOWN or INTERNAL (either is a defect: a request a client sent crashed
  something);
- the gateway still answers health checks afterwards;
- every call, allowed or refused, has its ledger entry with the same outcome.

Runs on SQLite and on PostgreSQL. Bounded for CI: each runs rounds of
``AIDBRIDGE_FUZZ_EXAMPLES`` (default 25) examples for ``AIDBRIDGE_FUZZ_SECONDS`` (default 15, so
about 30 s in all); longer by hand, e.g. ``AIDBRIDGE_FUZZ_SECONDS=600``. The counts by
status code are printed at the end (``-s`` shows them) and recorded as a test property.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from aidbridge.v1 import (
    audit_pb2,
    cases_pb2,
    common_pb2,
    consents_pb2,
    integrity_pb2,
    referrals_pb2,
    reports_pb2,
    resources_pb2,
)
from gateway.client import ACTOR_KEY
from gateway.services.validation import SERVICE_FILES, TIMESTAMP
from gateway.store.models import LedgerEntry
from gateway.workdir import init_workdir
from tests.conftest import RunningGateway, fresh_postgres_url, start_gateway
from tests.e2e.flow import (
    CHARITY_A,
    COMPLIANCE,
    GOV,
    PURPOSE,
    Referred,
    adults,
    consent_message,
    refer,
)

# The budget of each database's run: the two together take about 30 s.
FUZZ_SECONDS = float(os.environ.get("AIDBRIDGE_FUZZ_SECONDS", "15"))
FUZZ_EXAMPLES = int(os.environ.get("AIDBRIDGE_FUZZ_EXAMPLES", "25"))
MAX_MESSAGE = 4 * 1024 * 1024 - 64 * 1024  # the server's receive limit, less headroom
ROLES = (GOV, CHARITY_A, COMPLIANCE)
# UNKNOWN and INTERNAL mean a request crashed something; UNAVAILABLE, on a store and a policy
# engine that are healthy throughout, means a request made the store fail.
DEFECTS = frozenset(
    {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE}
)

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
UINT32 = (0, 2**32 - 1)
UINT64 = (0, 2**64 - 1)


@dataclass(frozen=True)
class Rpc:
    path: str  # /package.Service/Method
    method: str  # as the ledger names it
    request: Descriptor
    streaming: bool


def _rpcs() -> list[Rpc]:
    found = []
    for module in SERVICE_FILES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for m in service.methods:
                found.append(_rpc(service.full_name, m))
    return found


def _rpc(service: str, m: MethodDescriptor) -> Rpc:
    return Rpc(
        path=f"/{service}/{m.name}",
        method=f"{service}/{m.name}",
        request=m.input_type,
        streaming=m.server_streaming,
    )


RPCS = _rpcs()

# Strategies from the descriptors ---------------------------------------------------------------


def _integers(bounds: tuple[int, int]) -> st.SearchStrategy[int]:
    low, high = bounds
    edges = [low, low + 1, -1, 0, 1, 2, 99, high - 1, high]
    return st.one_of(
        st.sampled_from([e for e in edges if low <= e <= high]),
        st.integers(-1000, 1000).filter(lambda n: low <= n <= high),
        st.integers(low, high),
    )


@dataclass
class Known:
    """Values that exist in the seeded gateway, so generated requests reach real rows."""

    ids: list[str] = field(default_factory=list)


KNOWN = Known()

_AWKWARD = [
    "",
    " ",
    "\t",
    "\n",
    " \t\n ",
    "\x00",
    "a\x00b",
    "\x7f",
    "\u0085",
    "\u200b",
    "\ufeff",
    "😀",
    "𝕏" * 50,
    "../../etc/passwd",
    "'; DROP TABLE cases; --",
    "%s%n",
    "99999999999999999999999999",
    "-9223372036854775809",
    "9223372036854775808",
    "0",
    "-1",
    "x" * 41,
    "x" * 101,
    "字" * 201,
    "x" * 4001,
]


def _huge() -> st.SearchStrategy[str]:
    # Big enough to break any limit, small enough for the 4 MB message limit.
    return st.integers(4_000, 1_100_000).map(lambda n: "字" * n)


def _strings(*, huge: bool) -> st.SearchStrategy[str]:
    choices = [
        st.text(max_size=30),
        st.sampled_from(_AWKWARD),
        st.deferred(lambda: st.sampled_from(KNOWN.ids or [""])),
        st.integers(-(2**70), 2**70).map(str),
    ]
    return st.one_of(*choices, _huge()) if huge else st.one_of(*choices)


def _value(f: FieldDescriptor, *, item: bool = False) -> st.SearchStrategy[Any]:
    t = f.type
    if t == FieldDescriptor.TYPE_STRING:
        return _strings(huge=not item)
    if t == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=256)
    if t == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if t == FieldDescriptor.TYPE_ENUM:
        defined = [v.number for v in f.enum_type.values]
        return st.one_of(st.sampled_from(defined), _integers(INT32))
    if t in (
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_SFIXED32,
    ):
        return _integers(INT32)
    if t in (
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_SFIXED64,
    ):
        return _integers(INT64)
    if t in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
        return _integers(UINT32)
    if t in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
        return _integers(UINT64)
    if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(allow_nan=True, allow_infinity=True, width=32)
    if t == FieldDescriptor.TYPE_MESSAGE:
        if f.message_type.full_name == TIMESTAMP:
            return _timestamps()
        return messages(f.message_type)
    raise AssertionError(f"no strategy for field type {t} of {f.full_name}")


def _timestamps() -> st.SearchStrategy[Message]:
    plausible = st.integers(-2_208_988_800, 7_258_118_399)  # 1900..2199
    edges = st.sampled_from(
        [-62_135_596_801, -62_135_596_800, -2_208_988_801, 7_258_118_400, 2**62, 2**63 - 1]
    )
    return st.builds(
        Timestamp,
        seconds=st.one_of(plausible, edges, _integers(INT64)),
        nanos=st.one_of(st.integers(0, 999_999_999), _integers(INT32)),
    )


@cache
def messages(descriptor: Descriptor) -> st.SearchStrategy[Message]:
    """Any message of ``descriptor``'s type: each field set or not, repeated fields of a few
    items or more than any limit allows."""
    cls = GetMessageClass(descriptor)
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for f in descriptor.fields:
        value = _value(f, item=f.is_repeated)
        if f.is_repeated:
            optional[f.name] = st.one_of(
                st.lists(value, max_size=4), st.lists(value, min_size=65, max_size=250)
            )
        else:
            optional[f.name] = value

    def build(values: dict[str, Any]) -> Message:
        message = cls()
        for name, value in values.items():
            target = getattr(message, name)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, Message):
                        target.add().CopyFrom(item)
                    else:
                        target.append(item)
            elif isinstance(value, Message):
                target.CopyFrom(value)
            else:
                setattr(message, name, value)
        return message

    return st.fixed_dictionaries({}, optional=optional).map(build)


# Valid requests to mutate ----------------------------------------------------------------------


def _templates(referred: Referred) -> dict[str, list[Message]]:
    person = adults(3)[2]
    consent = consent_message(referred.case_id, name=referred.person.person.name)
    return {
        "RegisterCaseRequest": [cases_pb2.RegisterCaseRequest(request_id="fuzz-case", case=person)],
        "GetCaseRequest": [cases_pb2.GetCaseRequest(case_id=referred.case_id)],
        "PullCaseSummaryRequest": [
            cases_pb2.PullCaseSummaryRequest(referral_id=referred.referral_id, purpose=PURPOSE)
        ],
        "StreamCaseSummariesRequest": [cases_pb2.StreamCaseSummariesRequest(purpose=PURPOSE)],
        "GetContactDetailsRequest": [
            cases_pb2.GetContactDetailsRequest(referral_id=referred.referral_id, purpose=PURPOSE)
        ],
        "RecordConsentRequest": [
            consents_pb2.RecordConsentRequest(request_id="fuzz-consent", consent=consent)
        ],
        "GetConsentRequest": [consents_pb2.GetConsentRequest(consent_id=referred.consent_id)],
        "ListConsentsRequest": [consents_pb2.ListConsentsRequest(case_id=referred.case_id)],
        "GetConsentReceiptRequest": [
            consents_pb2.GetConsentReceiptRequest(consent_id=referred.consent_id)
        ],
        "ListConsentEventsRequest": [
            consents_pb2.ListConsentEventsRequest(consent_id=referred.consent_id)
        ],
        "CreateReferralRequest": [
            referrals_pb2.CreateReferralRequest(
                request_id="fuzz-referral",
                case_id=referred.case_id,
                to_org=CHARITY_A,
                consent_id=referred.consent_id,
                purpose=PURPOSE,
                note="需要帮助",
            )
        ],
        "GetReferralRequest": [referrals_pb2.GetReferralRequest(referral_id=referred.referral_id)],
        "UpdateReferralStateRequest": [
            referrals_pb2.UpdateReferralStateRequest(
                request_id="fuzz-update",
                referral_id=referred.referral_id,
                state=referrals_pb2.REFERRAL_STATE_ACCEPTED,
            )
        ],
        "QueryLedgerRequest": [audit_pb2.QueryLedgerRequest(org=GOV)],
        "GetInclusionProofRequest": [audit_pb2.GetInclusionProofRequest(index=0, tree_size=1)],
        "ExportLedgerRequest": [
            audit_pb2.ExportLedgerRequest(from_index=0, to_index=1),
            audit_pb2.ExportLedgerRequest(from_index=1),
        ],
        "GetConsistencyProofRequest": [
            audit_pb2.GetConsistencyProofRequest(from_size=1, to_size=1)
        ],
        "QueryCapacityRequest": [
            resources_pb2.QueryCapacityRequest(street=referred.person.person.street),
            resources_pb2.QueryCapacityRequest(
                street=referred.person.person.street, services=[common_pb2.HELP_KIND_MATERIAL]
            ),
        ],
        "PublishProjectRequest": [
            resources_pb2.PublishProjectRequest(
                request_id="fuzz-project",
                project=resources_pb2.Project(
                    name="冬季送温暖",
                    services=[common_pb2.HELP_KIND_MATERIAL],
                    streets=[referred.person.person.street],
                    capacity=10,
                    capacity_remaining=5,
                    starts_at=Timestamp(seconds=1_790_000_000),
                    ends_at=Timestamp(seconds=1_800_000_000),
                ),
            )
        ],
        "MatchCharitiesRequest": [resources_pb2.MatchCharitiesRequest(case_id=referred.case_id)],
        "GetLinkageReportRequest": [reports_pb2.GetLinkageReportRequest(period="2026-11")],
        "DeclareRelationshipRequest": [
            integrity_pb2.DeclareRelationshipRequest(
                request_id="fuzz-declare",
                relative_resident_id=person.person.resident_id,
                relationship=integrity_pb2.RELATIONSHIP_SPOUSE,
            )
        ],
        "ApproveActionRequest": [
            integrity_pb2.ApproveActionRequest(request_id="fuzz-approve", action_id="act-0")
        ],
        "RejectActionRequest": [
            integrity_pb2.RejectActionRequest(request_id="fuzz-reject", action_id="act-0")
        ],
        "ListFlagsRequest": [integrity_pb2.ListFlagsRequest(open_only=True, limit=10)],
        "ResolveFlagRequest": [
            integrity_pb2.ResolveFlagRequest(request_id="fuzz-resolve", flag_id="flag-1", note="ok")
        ],
        "WithdrawDeclarationRequest": [
            integrity_pb2.WithdrawDeclarationRequest(
                request_id="fuzz-withdraw", declaration_id="decl-0"
            )
        ],
    }


@cache
def _field_paths(descriptor: Descriptor) -> tuple[tuple[FieldDescriptor, ...], ...]:
    """Every field reachable from ``descriptor`` as a path of fields (a Timestamp is a leaf)."""
    paths: list[tuple[FieldDescriptor, ...]] = []
    for f in descriptor.fields:
        paths.append((f,))
        nested = f.type == FieldDescriptor.TYPE_MESSAGE and f.message_type.full_name != TIMESTAMP
        if nested and not f.is_repeated:
            paths += [(f, *rest) for rest in _field_paths(f.message_type)]
    return tuple(paths)


def _set_one(message: Message, path: tuple[FieldDescriptor, ...], value: Any) -> None:
    """Set the field at ``path`` in ``message`` to ``value``, leaving every other field valid."""
    for f in path[:-1]:
        message = getattr(message, f.name)
    last = path[-1]
    if last.is_repeated:
        target = getattr(message, last.name)
        del target[:]
        for item in value:
            target.add().CopyFrom(item) if isinstance(item, Message) else target.append(item)
    elif isinstance(value, Message):
        getattr(message, last.name).CopyFrom(value)
    else:
        setattr(message, last.name, value)


@dataclass
class Payload:
    rpc: Rpc
    org: str
    data: bytes
    kind: str


def payloads(templates: dict[str, list[Message]]) -> st.SearchStrategy[Payload]:
    @st.composite
    def draw(data: st.DrawFn) -> Payload:
        rpc = data(st.sampled_from(RPCS))
        org = data(st.sampled_from(ROLES))
        kind = data(st.sampled_from(["generated", "mutated", "one-field", "one-field", "bytes"]))
        valid = templates.get(rpc.request.name) or [GetMessageClass(rpc.request)()]
        if kind == "one-field" and not _field_paths(rpc.request):
            kind = "bytes"
        if kind == "one-field":
            # One field changed in a valid request: the handler's deeper paths see it.
            message = GetMessageClass(rpc.request)()
            message.CopyFrom(data(st.sampled_from(valid)))
            path = data(st.sampled_from(_field_paths(rpc.request)))
            value = _value(path[-1], item=path[-1].is_repeated)
            if path[-1].is_repeated:
                value = st.lists(value, max_size=4) | st.lists(value, min_size=65, max_size=100)
            _set_one(message, path, data(value))
            body = message.SerializeToString()
        elif kind == "generated":
            body = data(messages(rpc.request)).SerializeToString()
        elif kind == "mutated":
            message = GetMessageClass(rpc.request)()
            message.CopyFrom(data(st.sampled_from(valid)))
            message.MergeFrom(data(messages(rpc.request)))
            body = message.SerializeToString()
        else:
            seed = data(st.sampled_from(valid)).SerializeToString()
            body = data(
                st.one_of(
                    st.binary(max_size=512),
                    st.integers(0, max(len(seed) - 1, 0)).map(lambda n: seed[:n]),
                    st.tuples(
                        st.integers(0, max(len(seed) - 1, 0)), st.binary(min_size=1, max_size=8)
                    ).map(lambda cut: seed[: cut[0]] + cut[1] + seed[cut[0] + len(cut[1]) :]),
                )
            )
        assume(len(body) < MAX_MESSAGE)
        return Payload(rpc, org, body, kind)

    return draw()


# The run ---------------------------------------------------------------------------------------


@dataclass
class Tally:
    codes: Counter[str] = field(default_factory=Counter)
    by_method: Counter[tuple[str, str]] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    defects: list[str] = field(default_factory=list)


def _send(channels: dict[str, grpc.Channel], payload: Payload) -> grpc.StatusCode:
    channel = channels[payload.org]
    metadata = ((ACTOR_KEY, "fuzz-001"),)
    try:
        if payload.rpc.streaming:
            stream = channel.unary_stream(payload.rpc.path)
            for _ in stream(payload.data, metadata=metadata, timeout=30):
                pass
        else:
            channel.unary_unary(payload.rpc.path)(payload.data, metadata=metadata, timeout=30)
    except grpc.RpcError as exc:
        code: grpc.StatusCode = exc.code()  # type: ignore[attr-defined]
        return code
    return grpc.StatusCode.OK


def _ledger_outcomes(gateway: RunningGateway, after_id: int) -> Counter[tuple[str, str]]:
    methods = [rpc.method for rpc in RPCS]
    with gateway.app.store.read() as session:  # type: ignore[attr-defined]
        rows = session.execute(
            select(LedgerEntry.method, LedgerEntry.outcome).where(
                LedgerEntry.id > after_id, LedgerEntry.method.in_(methods)
            )
        ).all()
    return Counter((method, outcome) for method, outcome in rows)


def _last_ledger_id(gateway: RunningGateway) -> int:
    with gateway.app.store.read() as session:  # type: ignore[attr-defined]
        return int(session.scalar(select(func.max(LedgerEntry.id))) or 0)


@pytest.fixture(params=["sqlite", "postgresql"])
def seeded(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[RunningGateway, Referred]]:
    db_url = "" if request.param == "sqlite" else fresh_postgres_url()
    for gateway in start_gateway(init_workdir(tmp_path / "work", db_url=db_url)):
        referred = refer(gateway.client(GOV), adults(1)[0], tag="fuzz-seed")
        yield gateway, referred


def test_fuzzed_requests_on_every_rpc_never_crash_and_are_all_ledgered(
    seeded: tuple[RunningGateway, Referred], record_property: Any
) -> None:
    gateway, referred = seeded
    KNOWN.ids = [
        referred.case_id,
        referred.consent_id,
        referred.referral_id,
        GOV,
        CHARITY_A,
        COMPLIANCE,
        PURPOSE,
        referred.person.person.resident_id,
        referred.person.person.street,
    ]
    channels = {org: gateway.client(org).channel for org in ROLES}
    tally = Tally()
    baseline = _last_ledger_id(gateway)
    strategy = payloads(_templates(referred))

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(payload=strategy)
    def one_call(payload: Payload) -> None:
        code = _send(channels, payload)
        tally.codes[code.name] += 1
        tally.kinds[payload.kind] += 1
        tally.by_method[(payload.rpc.method, code.name)] += 1
        assert code not in DEFECTS, f"{payload.rpc.method} answered {code.name} ({payload.kind})"

    started = time.monotonic()
    rounds = 0
    while rounds == 0 or time.monotonic() - started < FUZZ_SECONDS:
        one_call()
        rounds += 1
    elapsed = time.monotonic() - started

    health = health_pb2_grpc.HealthStub(channels[GOV])
    assert (
        health.Check(health_pb2.HealthCheckRequest(), timeout=10).status
        == health_pb2.HealthCheckResponse.SERVING
    )
    assert _ledger_outcomes(gateway, baseline) == +tally.by_method

    calls = sum(tally.codes.values())
    summary = ", ".join(f"{code} {n}" for code, n in tally.codes.most_common())
    record_property("fuzz_status_counts", dict(tally.codes))
    print(
        f"\nfuzz: {calls} calls over {len(RPCS)} RPCs in {elapsed:.1f} s "
        f"({dict(tally.kinds)}): {summary}"
    )
    assert calls > 0
