"""``aidbridge consent``: record, list, show and withdraw consents and fetch receipts through a
running gateway over mutual TLS; verify a receipt offline with the gateway's consent public key.

A client of ``ConsentService`` (proto/aidbridge/v1/consents.proto, issue #3), not domain code: it
speaks gRPC, which the consent domain beside it never does. The gateway validates and signs; this
command only checks a consent file's shape, so that a typo is named before anything is sent.

A consent file is YAML or JSON (JSON is read as YAML)::

    request_id: consent-2026-0001       # idempotency: the same id and content is one consent
    case_id: case-…
    grantor: {kind: guardian, name: 王芳, relationship: 母亲, verification_method: 户口簿}
    recipient_org: charity-sunshine
    purpose: charitable_assistance
    categories: [demographics, hardship, minors_data]
    fields: [birth_date, sex, street, hardship_types, needs]
    access_mode: view                    # or store
    valid_from: 2026-03-01T09:00:00+08:00   # RFC 3339, nanoseconds kept
    valid_until: 2026-09-01T00:00:00+08:00
    retention_days: 90
    notice: {version: v1, sha256: <64 hex>}
    evidence: {form_sha256: <64 hex>, witness: 社区工作人员}
    supersedes: c-…                      # optional: the consent this one replaces

Exit codes: 0 done; 1 the gateway refused (printed as ``CODE: details``) or a receipt did not
verify; 2 bad input (the file, an option, a missing certificate or key).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import grpc
import typer
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from google.protobuf.json_format import MessageToDict

from aidbridge.v1 import consents_pb2
from gateway.client import Client
from gateway.clock import NS_PER_SECOND, from_datetime
from gateway.config import ConfigError, load_config
from gateway.consent.receipts import ReceiptError, verify_receipt
from gateway.services.convert import timestamp

app = typer.Typer(
    help="Record, list, show and withdraw consents; get and verify consent receipts.",
    no_args_is_help=True,
    add_completion=False,
)

# Where ``aidbridge init`` writes the consent-signing public key (gateway/workdir.py).
PUBLIC_KEY_FILE = Path("keys") / "consent.pub"

EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2

WORK = typer.Option(
    Path("aidbridge-work"),
    "--work",
    "-w",
    envvar="AIDBRIDGE_WORK",
    help="The gateway's working directory (certificates, config, keys/consent.pub).",
)
TARGET = typer.Option(
    None, "--target", help="HOST:PORT of the gateway (default: `listen` in the work dir's config)."
)
ORG = typer.Option(
    ..., "--org", envvar="AIDBRIDGE_ORG", help="Organisation whose client certificate to use."
)
ACTOR = typer.Option(
    ...,
    "--actor",
    envvar="AIDBRIDGE_ACTOR",
    help="Who acts (a caseworker id); recorded in the consent's events and the ledger.",
)
AS_JSON = typer.Option(False, "--json", help="Print JSON instead of text.")

_CHINA = timezone(timedelta(hours=8))
_GRANTOR_KINDS = {
    "subject": consents_pb2.GRANTOR_KIND_SUBJECT,
    "guardian": consents_pb2.GRANTOR_KIND_GUARDIAN,
}
_ACCESS_MODES = {"view": consents_pb2.ACCESS_MODE_VIEW, "store": consents_pb2.ACCESS_MODE_STORE}
_STATE_PREFIX = "CONSENT_STATE_"
STATES = tuple(
    name[len(_STATE_PREFIX) :].lower().replace("_", "-")
    for name in consents_pb2.ConsentState.keys()  # noqa: SIM118 (an EnumTypeWrapper)
    if not name.endswith("_UNSPECIFIED")
)

# The file's shape, key → required: every key the Consent message takes from a caseworker.
_TOP_KEYS = {
    "request_id": True,
    "case_id": True,
    "grantor": True,
    "recipient_org": True,
    "purpose": True,
    "categories": True,
    "fields": True,
    "access_mode": True,
    "valid_from": True,
    "valid_until": True,
    "retention_days": True,
    "notice": True,
    "evidence": True,
    "supersedes": False,
}
_GRANTOR_KEYS = {"kind": True, "name": True, "relationship": False, "verification_method": False}
_NOTICE_KEYS = {"version": True, "sha256": True}
_EVIDENCE_KEYS = {"form_sha256": True, "witness": False}

# RFC 3339 §5.6 date-time; the fraction may carry up to nanoseconds (the gateway's resolution).
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})"
)

R = TypeVar("R")


class ConsentFileError(ValueError):
    """A consent file is unreadable or has the wrong shape; names the field."""

    def __init__(self, path: Path, field: str, message: str) -> None:
        super().__init__(f"{path}: {field}: {message}" if field else f"{path}: {message}")
        self.field = field


# --- commands ---------------------------------------------------------------------------------


@app.command()
def record(
    file: Path = typer.Argument(..., help="The consent, as YAML or JSON."),
    request_id: str | None = typer.Option(
        None, "--request-id", help="Overrides the file's request_id (idempotency key)."
    ),
    target: str | None = TARGET,
    work: Path = WORK,
    org: str = ORG,
    actor: str = ACTOR,
    as_json: bool = AS_JSON,
) -> None:
    """Record a consent from a YAML or JSON file; the gateway validates and signs it."""
    try:
        file_request_id, consent = read_consent_file(file)
    except ConsentFileError as exc:
        _fail(str(exc), EXIT_BAD_INPUT)
    if not (request_id or file_request_id):
        _fail(f"{file}: request_id: is required (in the file, or --request-id)", EXIT_BAD_INPUT)
    request = consents_pb2.RecordConsentRequest(
        request_id=request_id or file_request_id, consent=consent
    )
    with _connect(target, work, org, actor) as client:
        recorded = _rpc(client.consents.RecordConsent, request).consent
    if as_json:
        _print_json(_consent_dict(recorded))
        return
    typer.echo(
        f"recorded {recorded.consent_id} version {recorded.version} "
        f"({_state_name(recorded.state)}) for {recorded.recipient_org}, "
        f"purpose {recorded.purpose}, valid {_rfc3339(recorded.valid_from)} "
        f"to {_rfc3339(recorded.valid_until)}"
    )


@app.command("list")
def list_(
    case_id: str = typer.Argument(..., help="The case whose consents to list."),
    state: str | None = typer.Option(
        None, "--state", help=f"Only this state: {', '.join(STATES)}."
    ),
    target: str | None = TARGET,
    work: Path = WORK,
    org: str = ORG,
    actor: str = ACTOR,
    as_json: bool = AS_JSON,
) -> None:
    """List a case's consents, oldest first, with their state now."""
    request = consents_pb2.ListConsentsRequest(case_id=case_id)
    if state is not None:
        request.state = _state_value(state)
    with _connect(target, work, org, actor) as client:
        found = _rpc(client.consents.ListConsents, request).consents
    if as_json:
        _print_json([_consent_dict(c) for c in found])
        return
    if not found:
        typer.echo(f"no consents for case {case_id}" + (f" in state {state}" if state else ""))
    for c in found:
        typer.echo(
            f"{c.consent_id}  v{c.version}  {_state_name(c.state):<16} {c.recipient_org}  "
            f"{c.purpose}  {_rfc3339(c.valid_from)} to {_rfc3339(c.valid_until)}"
        )


@app.command()
def show(
    consent_id: str = typer.Argument(..., help="The consent to show."),
    target: str | None = TARGET,
    work: Path = WORK,
    org: str = ORG,
    actor: str = ACTOR,
    as_json: bool = AS_JSON,
) -> None:
    """Show a consent as recorded, its state now, and every event of its life."""
    with _connect(target, work, org, actor) as client:
        consent = _rpc(
            client.consents.GetConsent, consents_pb2.GetConsentRequest(consent_id=consent_id)
        )
        history = _rpc(
            client.consents.ListConsentEvents,
            consents_pb2.ListConsentEventsRequest(consent_id=consent_id),
        ).events
    if as_json:
        document = _consent_dict(consent)
        document["events"] = [
            {
                "event": e.event,
                "at": _rfc3339(e.at),
                "org": e.org,
                "actor": e.actor,
                "reason": e.reason,
            }
            for e in history
        ]
        _print_json(document)
        return
    grantor = consent.grantor
    who = f"{grantor.name} ({_enum_label(consents_pb2.GrantorKind, grantor.kind, 'GRANTOR_KIND_')})"
    if grantor.relationship or grantor.verification_method:
        who += f", {grantor.relationship}, verified by {grantor.verification_method}"
    rows = [
        ("consent", f"{consent.consent_id} version {consent.version}"),
        ("state", _state_name(consent.state)),
        ("case", consent.case_id),
        ("granted by", who),
        ("recipient", consent.recipient_org),
        ("purpose", consent.purpose),
        ("categories", ", ".join(consent.categories)),
        ("fields", ", ".join(consent.fields)),
        ("access", _enum_label(consents_pb2.AccessMode, consent.access_mode, "ACCESS_MODE_")),
        ("valid from", _rfc3339(consent.valid_from)),
        ("valid until", _rfc3339(consent.valid_until)),
        ("retention", f"{consent.retention_days} days"),
        ("notice", f"{consent.notice.version} sha256 {consent.notice.sha256}"),
        ("evidence", f"sha256 {consent.evidence.form_sha256}, witness {consent.evidence.witness}"),
        ("supersedes", consent.supersedes or "-"),
        (
            "recorded",
            f"{_rfc3339(consent.recorded_at)} by {consent.recorded_by_org}/"
            f"{consent.recorded_by_actor}",
        ),
        ("signature", f"{consent.signature} ({consent.key_id})"),
    ]
    for label, value in rows:
        typer.echo(f"{label + ':':<13}{value}")
    typer.echo("events:")
    for e in history:
        reason = f"  {e.reason}" if e.reason else ""
        typer.echo(f"  {_rfc3339(e.at)}  {e.event:<16} {e.org}/{e.actor}{reason}")


@app.command()
def withdraw(
    consent_id: str = typer.Argument(..., help="The consent to withdraw."),
    reason: str = typer.Option(..., "--reason", help="Why, in the person's words."),
    request_id: str | None = typer.Option(
        None, "--request-id", help="Idempotency key (default: a new one)."
    ),
    target: str | None = TARGET,
    work: Path = WORK,
    org: str = ORG,
    actor: str = ACTOR,
) -> None:
    """Withdraw a consent on the person's word; referrals on it are cancelled, recipients told."""
    # The gateway denies the very next use, cancels the open referrals resting on the consent and
    # notifies each organisation that received data under it to delete and attest (PIPL Art. 47).
    request = consents_pb2.WithdrawConsentRequest(
        request_id=request_id or "withdraw-" + uuid.uuid4().hex,
        consent_id=consent_id,
        reason=reason,
    )
    with _connect(target, work, org, actor) as client:
        done = _rpc(client.consents.WithdrawConsent, request)
    typer.echo(
        f"withdrew {done.consent.consent_id}: {done.referrals_cancelled} referral(s) cancelled, "
        f"{done.recipients_notified} recipient(s) told to delete"
    )


@app.command()
def receipt(
    consent_id: str = typer.Argument(..., help="The consent whose receipt to get."),
    out: Path | None = typer.Option(None, "--out", help="Write the JSON receipt (the proof) here."),
    text: Path | None = typer.Option(None, "--text", help="Write the printable receipt here."),
    target: str | None = TARGET,
    work: Path = WORK,
    org: str = ORG,
    actor: str = ACTOR,
) -> None:
    """Get the person's receipt (signed JSON and printable text); prints the JSON by default."""
    with _connect(target, work, org, actor) as client:
        got = _rpc(
            client.consents.GetConsentReceipt,
            consents_pb2.GetConsentReceiptRequest(consent_id=consent_id),
        )
    # The exact bytes: the receipt is verified byte for byte.
    if out is not None:
        out.write_bytes(got.json.encode("utf-8"))
        typer.echo(f"wrote {out}")
    if text is not None:
        text.write_bytes(got.text.encode("utf-8"))
        typer.echo(f"wrote {text}")
    if out is None and text is None:
        typer.echo(got.json)


@app.command("verify-receipt")
def verify_receipt_command(
    file: Path = typer.Argument(..., help="The JSON receipt."),
    public_key: Path | None = typer.Option(
        None,
        "--public-key",
        help=f"The gateway's consent public key, PEM (default: <work>/{PUBLIC_KEY_FILE}).",
    ),
    work: Path = WORK,
) -> None:
    """Verify a receipt offline with the gateway's consent public key (not the state today)."""
    key = _load_public_key(public_key or work / PUBLIC_KEY_FILE)
    try:
        data = file.read_bytes()
    except OSError as exc:
        _fail(f"{file}: cannot read the receipt: {exc.strerror}", EXIT_BAD_INPUT)
    # Tolerate the one newline a shell redirect of `receipt` adds; every other byte counts.
    if data.endswith(b"\n"):
        data = data[:-1]
    try:
        signed = verify_receipt(data, key)
    except ReceiptError as exc:
        _fail(f"{file}: receipt does not verify: {exc}", EXIT_REFUSED)
    typer.echo(
        f"receipt verifies: consent {signed['consent_id']} version {signed['version']}, "
        f"case {signed['case_id']}, recipient {signed['recipient_org']}, "
        f"purpose {signed['purpose']}, valid {_rfc3339_ns(signed['valid_from_ns'])} "
        f"to {_rfc3339_ns(signed['valid_until_ns'])}, signed with {signed['signing_key_id']}"
    )


# --- the consent file -------------------------------------------------------------------------


class _TextTimesLoader(yaml.SafeLoader):
    """YAML without implicit timestamps: an RFC 3339 time stays text, so its nanoseconds and
    offset survive (PyYAML would make a microsecond datetime of it)."""


_TextTimesLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_consent_file(path: Path) -> tuple[str, consents_pb2.Consent]:
    """Read a consent file into (request_id, Consent); ``ConsentFileError`` names what is wrong.
    A missing request_id is returned as "" (``record --request-id`` may give it)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConsentFileError(path, "", f"cannot read the file: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConsentFileError(path, "", f"expected UTF-8 text, found: {exc.reason}") from exc
    try:
        document = yaml.load(text, Loader=_TextTimesLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        raise ConsentFileError(path, "", f"expected YAML or JSON, found: {exc}") from exc
    doc = _mapping(path, "", document, _TOP_KEYS, allow_missing={"request_id"})
    grantor = _mapping(path, "grantor", doc["grantor"], _GRANTOR_KEYS)
    notice = _mapping(path, "notice", doc["notice"], _NOTICE_KEYS)
    evidence = _mapping(path, "evidence", doc["evidence"], _EVIDENCE_KEYS)
    consent = consents_pb2.Consent(
        case_id=_text(path, "case_id", doc["case_id"]),
        grantor=consents_pb2.Grantor(
            kind=_choice(path, "grantor.kind", grantor["kind"], _GRANTOR_KINDS),
            name=_text(path, "grantor.name", grantor["name"]),
            relationship=_text(path, "grantor.relationship", grantor.get("relationship", "")),
            verification_method=_text(
                path, "grantor.verification_method", grantor.get("verification_method", "")
            ),
        ),
        recipient_org=_text(path, "recipient_org", doc["recipient_org"]),
        purpose=_text(path, "purpose", doc["purpose"]),
        categories=_texts(path, "categories", doc["categories"]),
        fields=_texts(path, "fields", doc["fields"]),
        access_mode=_choice(path, "access_mode", doc["access_mode"], _ACCESS_MODES),
        valid_from=timestamp(parse_rfc3339(path, "valid_from", doc["valid_from"])),
        valid_until=timestamp(parse_rfc3339(path, "valid_until", doc["valid_until"])),
        retention_days=_integer(path, "retention_days", doc["retention_days"]),
        notice=consents_pb2.Notice(
            version=_text(path, "notice.version", notice["version"]),
            sha256=_text(path, "notice.sha256", notice["sha256"]),
        ),
        evidence=consents_pb2.Evidence(
            form_sha256=_text(path, "evidence.form_sha256", evidence["form_sha256"]),
            witness=_text(path, "evidence.witness", evidence.get("witness", "")),
        ),
        supersedes=_text(path, "supersedes", doc.get("supersedes") or ""),
    )
    return _text(path, "request_id", doc.get("request_id", "")), consent


def parse_rfc3339(path: Path, field: str, value: object) -> int:
    """An RFC 3339 date-time with an offset → ns since the epoch, exactly (no float)."""
    expected = "an RFC 3339 date-time with an offset, e.g. 2026-03-01T09:00:00+08:00"
    if not isinstance(value, str):
        raise ConsentFileError(path, field, f"expected {expected}, found {value!r}")
    match = _RFC3339.fullmatch(value.strip())
    if match is None:
        raise ConsentFileError(path, field, f"expected {expected}, found {value!r}")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    if offset in ("Z", "z"):
        zone = UTC
    else:
        sign = 1 if offset[0] == "+" else -1
        zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=zone
        )
    except ValueError as exc:  # month 13, 30 February, second 60 (no leap seconds here)
        raise ConsentFileError(path, field, f"expected {expected}, found {value!r}: {exc}") from exc
    return from_datetime(moment) + int((fraction or "").ljust(9, "0"))


def _mapping(
    path: Path,
    where: str,
    value: object,
    keys: Mapping[str, bool],
    allow_missing: frozenset[str] | set[str] = frozenset(),
) -> dict[str, Any]:
    label = where or "the file"
    if not isinstance(value, dict):
        raise ConsentFileError(
            path, where, f"expected {label} to be a mapping of {sorted(keys)}, found {value!r}"
        )
    unknown = sorted(str(k) for k in value if k not in keys)
    if unknown:
        name = f"{where}.{unknown[0]}" if where else unknown[0]
        raise ConsentFileError(path, name, f"unknown key; expected one of {sorted(keys)}")
    for key, required in keys.items():
        if required and key not in value and key not in allow_missing:
            name = f"{where}.{key}" if where else key
            raise ConsentFileError(path, name, "is required, found it missing")
    return value


def _text(path: Path, field: str, value: object) -> str:
    if not isinstance(value, str):
        raise ConsentFileError(path, field, f"expected text, found {value!r}")
    return value


def _texts(path: Path, field: str, value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConsentFileError(path, field, f"expected a list of names, found {value!r}")
    return list(value)


def _integer(path: Path, field: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConsentFileError(path, field, f"expected a whole number, found {value!r}")
    return value


def _choice(path: Path, field: str, value: object, choices: Mapping[str, int]) -> int:
    if not isinstance(value, str) or value not in choices:
        raise ConsentFileError(path, field, f"expected one of {sorted(choices)}, found {value!r}")
    return choices[value]


# --- talking to the gateway ---------------------------------------------------------------------


@contextmanager
def _connect(target: str | None, work: Path, org: str, actor: str) -> Iterator[Client]:
    try:
        config = load_config(work)
    except ConfigError as exc:
        _fail(str(exc), EXIT_BAD_INPUT)
    for suffix in (".pem", ".key"):
        path = config.certs_dir / f"{org}{suffix}"
        if not path.exists():
            _fail(
                f"--org {org}: expected its certificate and key in {config.certs_dir} "
                f"({org}.pem, {org}.key), found no {path.name}",
                EXIT_BAD_INPUT,
            )
    if not actor.strip():
        _fail("--actor: expected who acts (a caseworker id), found nothing", EXIT_BAD_INPUT)
    client = Client.connect(target or _local_target(config.listen), config.certs_dir, org, actor)
    try:
        yield client
    finally:
        client.close()


def _local_target(listen: str) -> str:
    """The address a local client dials for a gateway listening on ``listen``."""
    host, _, port = listen.rpartition(":")
    if host in ("", "0.0.0.0", "[::]", "::"):  # noqa: S104 (a listen address, not a bind)
        host = "127.0.0.1"
    return f"{host}:{port}"


def _rpc(method: Callable[[Any], R], request: Any) -> R:
    try:
        return method(request)
    except grpc.RpcError as exc:
        code = exc.code().name if isinstance(exc, grpc.Call) else "UNKNOWN"
        details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
        _fail(f"{code}: {details}", EXIT_REFUSED)


def _load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        _fail(
            f"{path}: cannot read the consent public key ({exc.strerror}); pass --public-key "
            "with the gateway's keys/consent.pub",
            EXIT_BAD_INPUT,
        )
    try:
        key = load_pem_public_key(data)
    except ValueError as exc:
        _fail(f"{path}: expected a PEM public key, found: {exc}", EXIT_BAD_INPUT)
    if not isinstance(key, Ed25519PublicKey):
        _fail(f"{path}: expected an Ed25519 public key, found {type(key).__name__}", EXIT_BAD_INPUT)
    return key


# --- output -------------------------------------------------------------------------------------


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _print_json(value: object) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _consent_dict(consent: consents_pb2.Consent) -> dict[str, Any]:
    document = MessageToDict(consent, preserving_proto_field_name=True)
    document["state"] = _state_name(consent.state)
    for name in ("valid_from", "valid_until", "recorded_at"):
        document[name] = _rfc3339(getattr(consent, name))
    return document


def _state_name(value: int) -> str:
    return _enum_label(consents_pb2.ConsentState, value, _STATE_PREFIX)


def _state_value(name: str) -> int:
    if name not in STATES:
        _fail(f"--state: expected one of {', '.join(STATES)}, found {name!r}", EXIT_BAD_INPUT)
    return int(consents_pb2.ConsentState.Value(_STATE_PREFIX + name.upper().replace("-", "_")))


def _enum_label(enum: Any, value: int, prefix: str) -> str:
    try:
        return str(enum.Name(value))[len(prefix) :].lower().replace("_", "-")
    except ValueError:
        return str(value)


def _rfc3339(ts: Any) -> str:
    return _rfc3339_ns(ts.seconds * NS_PER_SECOND + ts.nanos)


def _rfc3339_ns(ns: int) -> str:
    """RFC 3339 in China time (where the people and offices are), nanoseconds kept."""
    seconds, nanos = divmod(ns, NS_PER_SECOND)
    moment = datetime.fromtimestamp(seconds, tz=UTC).astimezone(_CHINA)
    fraction = f".{nanos:09d}".rstrip("0") if nanos else ""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "+08:00"
