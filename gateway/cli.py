"""The ``aidbridge`` command: init, serve, demo, certs, orgs, audit, policy (and consent).

Messages go through Rich; anything not written here (paths, errors, patterns with ``[...]``) is
escaped so Rich markup never eats it, and printed without wrapping, so what a user or a test
reads does not depend on the terminal's width."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from gateway.config import Config, ConfigError, load_config

if TYPE_CHECKING:
    from gateway.ledger.authenticator import EntryAuthenticator

app = typer.Typer(
    help="AidBridge: consented, audited referrals between government and charities.",
    no_args_is_help=True,
    add_completion=False,
)
certs_app = typer.Typer(help="Development CA and organisation certificates.", no_args_is_help=True)
orgs_app = typer.Typer(help="The organisations the gateway knows.", no_args_is_help=True)
audit_app = typer.Typer(help="Verify and inspect the ledger.", no_args_is_help=True)
witness_app = typer.Typer(
    help="Run a witness that cosigns a gateway's checkpoints (C2SP tlog-witness).",
    no_args_is_help=True,
)
app.add_typer(certs_app, name="certs")
app.add_typer(witness_app, name="witness")
app.add_typer(orgs_app, name="orgs")
app.add_typer(audit_app, name="audit")

console = Console()
err = Console(stderr=True)

WORK = typer.Option(
    Path("aidbridge-work"),
    "--work",
    "-w",
    envvar="AIDBRIDGE_WORK",
    help="The gateway's working directory.",
)


def _fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def _say(message: str, *, to: Console = console) -> None:
    """Print plain text: no markup, never wrapped."""
    to.print(escape(message), soft_wrap=True)


def _initialised(work: Path) -> Config:
    """The configuration of an initialised working directory, or a clear error."""
    try:
        config = load_config(work)
    except ConfigError as exc:
        _fail(str(exc))
    return _require_gateway(config)


def _require_gateway(config: Config) -> Config:
    if not config.master_key_path.exists():
        _fail(
            f"no gateway in {config.work_dir} ({config.master_key_path} is missing): "
            f"create one with: aidbridge init --work {config.work_dir}"
        )
    return config


def _fingerprint_path(vkey_path: Path) -> Path:
    return vkey_path.with_name(vkey_path.name + ".sha256")


def _authenticator(config: Config) -> EntryAuthenticator:
    """The key that tags ledger entries written by a command, as the gateway's own are."""
    from gateway.keys import KeyRing
    from gateway.ledger.authenticator import EntryAuthenticator

    return EntryAuthenticator.from_keyring(KeyRing.load(config.master_key_path))


@app.command()
def init(
    work: Path = WORK,
    db_url: str = typer.Option("", help="Database URL (default SQLite in the working directory)."),
    listen: str = typer.Option("127.0.0.1:50051", help="Address to serve on."),
) -> None:
    """Create a working directory: dev CA and certificates, master key, policy bundle, database."""
    from gateway.ledger.checkpoint import vkey_fingerprint
    from gateway.workdir import WorkDirError, init_workdir

    try:
        config = init_workdir(work, db_url=db_url, listen=listen)
    except WorkDirError as exc:
        _fail(str(exc))
    vkey = config.vkey_path.read_text(encoding="utf-8").strip()
    fingerprint = vkey_fingerprint(vkey)
    _fingerprint_path(config.vkey_path).write_text(fingerprint + "\n", encoding="utf-8")
    _say("initialised the gateway's working directory:")
    _say(str(config.work_dir))
    _say(f"ledger verifying key: {vkey}")
    _say(f"ledger key fingerprint: {fingerprint}")
    _say(
        "keep the fingerprint apart from this machine: "
        "`aidbridge audit verify --fingerprint <it>` refuses any other key"
    )


@app.command()
def serve(
    work: Path = WORK,
    listen: str = typer.Option(None, help="Override the listen address."),
    opa_url: str = typer.Option(None, help="Ask this OPA server instead of the embedded engine."),
    insecure_plaintext: bool = typer.Option(
        False, "--insecure-plaintext", help="DEVELOPMENT ONLY: no TLS, no authentication."
    ),
    store_timeout: float = typer.Option(
        None, "--store-timeout", help="Seconds a call may wait for the store (default 5)."
    ),
    workers: int = typer.Option(
        1,
        "--workers",
        help="Server processes sharing the listen port and the store (default 1: one process).",
    ),
    worker_slot: int = typer.Option(None, "--worker-slot", hidden=True),
    worker_fds: str = typer.Option(None, "--worker-fds", hidden=True),
) -> None:
    """Run the gateway until SIGINT/SIGTERM (SIGHUP reloads the policy bundle)."""
    from gateway.logging import configure

    if worker_slot is not None:
        configure(static={"worker": worker_slot, "pid": os.getpid()})
    elif workers > 1:
        configure(static={"worker": "supervisor", "pid": os.getpid()})
    else:
        configure()
    try:
        config = load_config(
            work,
            listen=listen,
            opa_url=opa_url,
            insecure_plaintext=insecure_plaintext or None,
            store_timeout_s=store_timeout,
        )
    except ConfigError as exc:
        _fail(str(exc))
    _require_gateway(config)
    if worker_slot is not None:
        _serve_worker(config, worker_slot, worker_fds)
        return
    if workers < 1:
        _fail(f"--workers: expected 1 or more server processes, found {workers}")
    if workers > 1:
        passthrough = [
            *(["--opa-url", opa_url] if opa_url else []),
            *(["--insecure-plaintext"] if insecure_plaintext else []),
            *(["--store-timeout", repr(store_timeout)] if store_timeout is not None else []),
        ]
        _serve_workers(config, workers, passthrough)
        return
    from gateway.app import Gateway
    from gateway.ledger.witness_publishing import WitnessConfigError
    from gateway.server import ListenError, ignore_late_signals
    from gateway.server import serve as run_server
    from gateway.workdir import WorkDirLocked, serving_lock

    try:
        # One gateway per working directory, held for the process's lifetime.
        with serving_lock(config.work_dir):
            try:
                gateway = Gateway.open(config)
            except WitnessConfigError as exc:
                _fail(f"{config.work_dir / 'aidbridge.toml'}: {exc}")
            try:
                asyncio.run(run_server(gateway))
            finally:
                ignore_late_signals()
                gateway.close()
    except (WorkDirLocked, ListenError) as exc:
        _fail(str(exc))


def _serve_workers(config: Config, count: int, passthrough: list[str]) -> None:
    """``serve --workers N``: this process supervises N worker processes (gateway.workers)."""
    from gateway.app import prepare_store
    from gateway.ledger.witness_publishing import WitnessConfigError, configured_witnesses
    from gateway.workdir import WorkDirLocked, serving_lock
    from gateway.workers import Supervisor, WorkersError, claim_port, worker_command

    try:
        with serving_lock(config.work_dir) as lock_fd:
            try:
                configured_witnesses(config.witnesses)
            except WitnessConfigError as exc:
                _fail(f"{config.work_dir / 'aidbridge.toml'}: {exc}")
            claim = claim_port(config.listen)
            try:
                prepare_store(config)  # once, before any worker opens the store
                command = worker_command(config.work_dir, claim.listen, passthrough)
                code = Supervisor(count, command, lock_fd, claim).run()
            finally:
                claim.close()
    except (WorkDirLocked, WorkersError) as exc:
        _fail(str(exc))
    if code:
        raise typer.Exit(code)


def _serve_worker(config: Config, slot: int, fds: str | None) -> None:
    """One worker process of ``serve --workers N``, started by its supervisor."""
    from gateway.app import Gateway
    from gateway.server import ListenError, WorkerRole, ignore_late_signals
    from gateway.server import serve as run_server
    from gateway.workdir import WorkDirLocked, check_inherited_lock

    try:
        lock_fd, ready_fd, lifeline_fd = (int(x) for x in (fds or "").split(","))
    except ValueError:
        _fail("--worker-slot: only `aidbridge serve --workers N` starts workers")
    try:
        check_inherited_lock(config.work_dir, lock_fd)
    except WorkDirLocked as exc:
        _fail(str(exc))
    gateway = Gateway.open(config, prepare=False)
    try:
        asyncio.run(run_server(gateway, worker=WorkerRole(slot, ready_fd, lifeline_fd)))
    except ListenError as exc:
        _fail(str(exc))
    finally:
        ignore_late_signals()
        gateway.close()


@app.command()
def demo(
    work: Path = typer.Option(None, "--work", "-w", help="Keep the demo's working directory here."),
    seed: int = typer.Option(2026, help="Seed for the synthetic people."),
) -> None:
    """Play the scripted exchange end to end and verify the ledger."""
    from gateway.demo import run_demo
    from gateway.logging import configure

    configure("WARNING")
    raise typer.Exit(run_demo(work, seed=seed, console=console))


@certs_app.command("init")
def certs_init(directory: Path = typer.Option(Path("aidbridge-work/certs"), "--dir")) -> None:
    """Create a development CA (ca.pem, ca.key) and the server certificate."""
    from certs import ca

    directory.mkdir(parents=True, exist_ok=True)
    try:
        ca.init_ca(directory)
        ca.issue_server(directory, ("localhost",))
    except (ValueError, FileExistsError) as exc:
        _fail(str(exc))
    _say("development CA and server certificate in:")
    _say(str(directory))


@certs_app.command("issue")
def certs_issue(
    org: str = typer.Option(..., help="Organisation id, as in the policy registry."),
    role: str = typer.Option(..., help="government, charity, compliance or peer."),
    name: str = typer.Option("", help="Organisation display name."),
    days: int = typer.Option(397, help="Validity in days."),
    directory: Path = typer.Option(Path("aidbridge-work/certs"), "--dir"),
    work: Path = typer.Option(
        None,
        "--work",
        "-w",
        help="The gateway's working directory, whose policy registry to check "
        "(default: the directory above --dir, if it holds a gateway).",
    ),
) -> None:
    """Issue a client certificate for an organisation (register it with `aidbridge orgs add`)."""
    from certs import ca

    try:
        issued = ca.issue_client(directory, org, role, name, days=days)
    except (ValueError, FileExistsError, FileNotFoundError) as exc:
        _fail(str(exc))
    _say(f"issued a client certificate for {org} ({role}), SHA-256 {issued.fingerprint}:")
    _say(str(issued.cert_path))
    _say(str(issued.key_path))
    _warn_if_unregistered(work or directory.resolve().parent, org, role, name)


def _warn_if_unregistered(work: Path, org: str, role: str, name: str) -> None:
    """Say exactly what to do when the certificate's org is not in the policy's registry: a
    certificate alone lets its holder do nothing."""
    from gateway.orgs import RegistrationError, registered_org

    try:
        config = load_config(work)
        entry = registered_org(config.bundle_path, org)
    except (ConfigError, RegistrationError):
        return  # not a gateway's working directory: nothing to check against
    if entry is not None and entry.get("role") == role:
        return
    if entry is not None:
        _say(
            f"warning: {org} is registered as {entry.get('role')!r} in {config.bundle_path}, "
            f"so a certificate for role {role!r} will be refused by the policy",
            to=err,
        )
        return
    _say(
        f"note: {org} is not in the policy registry of {config.work_dir}, so this certificate "
        "can do nothing yet. Register it (and reload the running gateway) with:",
        to=err,
    )
    _say(
        f"  aidbridge orgs add --work {config.work_dir} --id {org} --role {role} "
        f"--name {name or 'NAME'} --streets STREET[,STREET...] --existing-certificate",
        to=err,
    )


@certs_app.command("revoke")
def certs_revoke(
    cert: Path = typer.Argument(..., help="The certificate (PEM) to revoke."),
    reason: str = typer.Option("", help="Why."),
    work: Path = WORK,
) -> None:
    """Revoke a client certificate: its next call is refused and ledgered."""
    from gateway import identity
    from gateway.clock import SystemClock
    from gateway.ledger import system
    from gateway.ledger.entry import append
    from gateway.store import Store
    from gateway.store.models import RevokedCertificate

    try:
        pem = cert.read_bytes()
        fingerprint = identity.identity_from_pem(pem).fingerprint
    except (OSError, identity.IdentityError) as exc:
        _fail(f"{cert}: {exc}")
    if len(reason) > 500:
        _fail(f"--reason: expected at most 500 characters, found {len(reason)}")
    config = _initialised(work)
    shown = identity.presented_certificate(pem)
    store = Store(config.database_url)
    try:
        with store.write() as session:
            if session.get(RevokedCertificate, fingerprint) is not None:
                _say(f"already revoked: {fingerprint}")
                return
            now = SystemClock().now_ns()
            session.add(
                RevokedCertificate(fingerprint=fingerprint, reason=reason, revoked_at_ns=now)
            )
            append(
                session,
                system.system_exchange(
                    system.REVOKE_CERTIFICATE,
                    at_ns=now,
                    actor=system.os_actor(),
                    cert_fingerprint=fingerprint,
                    cert_subject=shown.subject,
                    cert_issuer=shown.issuer,
                    reason=f"certificate revoked: {reason}" if reason else "certificate revoked",
                ),
                _authenticator(config),
            )
    finally:
        store.dispose()
    identity.signal_revocation(config.work_dir)  # a gateway serving it refuses the next call
    _say(f"revoked {fingerprint}")


@orgs_app.command("add")
def orgs_add(
    org_id: str = typer.Option(..., "--id", help="Organisation id: lower-case letters, digits, -."),
    role: str = typer.Option(..., help="government, charity or compliance."),
    name: str = typer.Option(..., help="The organisation's display name."),
    streets: str = typer.Option(
        ..., help="Comma-separated streets it serves (its jurisdiction or service area)."
    ),
    days: int = typer.Option(397, help="Validity of its certificate in days."),
    existing_certificate: bool = typer.Option(
        False,
        "--existing-certificate",
        help="Its certificate was already issued (certs issue): register it only.",
    ),
    work: Path = WORK,
) -> None:
    """Register an organisation: add it to the working directory's policy registry, issue its
    client certificate, and ledger the registration. Then reload the running gateway."""
    from certs import ca
    from gateway import identity
    from gateway.clock import SystemClock
    from gateway.ledger import system
    from gateway.ledger.entry import append
    from gateway.orgs import RegistrationError, plan_registration
    from gateway.store import Store
    from gateway.workdir import serving_pid

    config = _initialised(work)
    try:
        plan = plan_registration(
            config.bundle_path, org_id, role, name, streets.replace("，", ",").split(",")
        )
    except RegistrationError as exc:
        _fail(str(exc))
    cert_path = config.certs_dir / f"{org_id}.pem"
    if existing_certificate:
        try:
            held = identity.identity_from_pem(cert_path.read_bytes())
        except (OSError, identity.IdentityError) as exc:
            _fail(f"--existing-certificate: {cert_path}: {exc}")
        if (held.org, held.role) != (org_id, role):
            _fail(
                f"--existing-certificate: {cert_path} is for {held.org} as {held.role}, "
                f"not {org_id} as {role}"
            )
        fingerprint = held.fingerprint
    else:
        try:
            issued = ca.issue_client(config.certs_dir, org_id, role, name, days=days)
            fingerprint = issued.fingerprint
        except ca.CAExistsError:
            _fail(
                f"{cert_path} already exists: register with --existing-certificate, "
                "or revoke it and remove it first"
            )
        except (ValueError, FileNotFoundError) as exc:
            _fail(str(exc))
    plan.write()
    store = Store(config.database_url)
    try:
        with store.write() as session:
            append(
                session,
                system.system_exchange(
                    system.REGISTER_ORGANISATION,
                    at_ns=SystemClock().now_ns(),
                    actor=system.os_actor(),
                    cert_fingerprint=fingerprint,
                    bundle_revision=plan.revision,
                    reason=(
                        f"registered {org_id} as {role} serving {', '.join(plan.streets)} "
                        f"(policy registry revision {plan.revision})"
                    ),
                ),
                _authenticator(config),
            )
    finally:
        store.dispose()
    _say(f"registered {org_id} ({role}) serving {', '.join(plan.streets)}")
    _say(f"policy bundle revision {plan.revision}:")
    _say(str(config.bundle_path))
    _say(f"client certificate (SHA-256 {fingerprint}):")
    _say(str(cert_path))
    if serving_pid(config.work_dir) is not None:
        _say("the running gateway uses the new registry after a reload:")
    else:
        _say("a gateway started now uses it; if one runs elsewhere, reload it:")
    _say(f"  aidbridge policy reload --work {config.work_dir}")


def _text_arg(value: str) -> str:
    """A key given as its text or as a file holding it."""
    candidate = Path(value)
    try:
        return candidate.read_text(encoding="utf-8").strip() if candidate.is_file() else value
    except OSError as exc:
        _fail(f"{value}: {exc.strerror}")


def _verify_bundle(
    bundle: Path, vkey: str | None, trusted_checkpoint: Path | None, witnesses: list[str]
) -> None:
    from aidbridge_verify import VerificationError, verify_bundle

    trusted_note = None
    if trusted_checkpoint is not None:
        try:
            trusted_note = trusted_checkpoint.read_text(encoding="utf-8")
        except OSError as exc:
            _fail(f"--trusted-checkpoint {trusted_checkpoint}: {exc.strerror}")
    try:
        result = verify_bundle(
            bundle,
            vkey=_text_arg(vkey) if vkey else None,
            trusted_checkpoint=trusted_note,
            witnesses=[_text_arg(w) for w in witnesses],
        )
    except OSError as exc:
        _fail(f"{bundle}: {exc.strerror}")
    except VerificationError as exc:
        where = f" at entry {exc.index}" if exc.index is not None else ""
        _fail(f"bundle NOT verified: check {exc.check!r} failed{where}: {exc.message}")
    pinned = "pinned" if result.key_pinned else "NOT pinned (pass --vkey to refuse any other key)"
    _say(f"log key fingerprint {result.log_fingerprint}, {pinned}")
    if result.cosigned_by:
        _say(f"cosigned by {', '.join(result.cosigned_by)}")
    if result.trusted_size is not None:
        _say(f"the bundle's tree extends the trusted checkpoint of {result.trusted_size} entries")
    _say(
        f"bundle verified: entries {result.from_index}–{result.to_index} of a tree of "
        f"{result.tree_size} (root {result.root.hex()})"
    )


@audit_app.command("export")
def audit_export(
    out: Path = typer.Argument(..., help="The bundle file to write."),
    work: Path = WORK,
    from_index: int = typer.Option(0, "--from", min=0, help="First entry index (inclusive)."),
    to_index: int = typer.Option(
        0, "--to", min=0, help="Last entry index (exclusive); 0: up to the published checkpoint."
    ),
    server: bool = typer.Option(
        False,
        "--server",
        help="Stream the bundle from the running gateway (ExportLedger, as --caller) instead of "
        "reading the store of the working directory.",
    ),
    caller: str = typer.Option(
        None,
        "--caller",
        envvar="AIDBRIDGE_ORG",
        help="With --server: the compliance organisation whose client certificate to call with.",
    ),
    actor: str = typer.Option(
        None, "--actor", envvar="AIDBRIDGE_ACTOR", help="With --server: who acts; ledgered."
    ),
    target: str = typer.Option(
        None, "--target", help="With --server: HOST:PORT of the gateway (default: `listen`)."
    ),
) -> None:
    """Write an export bundle (docs/ledger-bundle.md) of entries [--from, --to) under the
    published checkpoint with its cosignatures, for `audit verify BUNDLE` anywhere. With
    --server the gateway streams it (the export is ledgered there); else it is read from the
    working directory's store."""
    if server:
        if not caller or not actor:
            _fail("--server needs --caller (a compliance organisation) and --actor (who acts)")
        _export_from_server(out, work, target, caller, actor, from_index, to_index)
        return
    if target:
        _fail("--target needs --server: without it the bundle is read from the store")
    from gateway.clock import SystemClock
    from gateway.ledger.export import ExportRangeError, write_bundle
    from gateway.ledger.witness_publishing import (
        WitnessConfigError,
        configured_witnesses,
        published_checkpoint,
    )
    from gateway.store import Store

    try:
        config = load_config(work)
        witnesses = configured_witnesses(config.witnesses)
        log_vkey = config.vkey_path.read_text(encoding="utf-8").strip()
    except (ConfigError, WitnessConfigError) as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{config.vkey_path}: {exc.strerror}")
    store = Store(config.database_url)
    partial = out.with_name(out.name + ".partial")
    try:
        with store.read() as s:
            published = published_checkpoint(s, witnesses, config.witness_quorum)
            if published is None:
                _fail("no checkpoint is published yet: nothing to export")
            with open(partial, "wb") as sink:
                lo, hi = write_bundle(
                    s,
                    sink,
                    published,
                    log_vkey,
                    from_index=from_index,
                    to_index=to_index,
                    witnesses=[(w.name, w.key.vkey) for w in witnesses],
                    exported_at_ns=SystemClock().now_ns(),
                )
        partial.replace(out)
    except ExportRangeError as exc:
        partial.unlink(missing_ok=True)
        _fail(exc.message)
    finally:
        store.dispose()
    cosigners = f", cosigned by {', '.join(published.cosigned_by)}" if published.cosigned_by else ""
    _say(f"entries {lo}–{hi} of the checkpoint of {published.size}{cosigners} written to {out}")


def _export_from_server(
    out: Path, work: Path, target: str | None, caller: str, actor: str, lo: int, hi: int
) -> None:
    """ExportLedger: write the streamed chunks to OUT.partial and rename it once the stream
    ended OK, so OUT is never a truncated bundle."""
    import grpc

    from aidbridge.v1 import audit_pb2
    from aidbridge_verify import VerificationError
    from aidbridge_verify.bundle import read_header

    partial = out.with_name(out.name + ".partial")
    request = audit_pb2.ExportLedgerRequest(from_index=lo, to_index=hi)
    with _audit_client(work, target, caller, actor) as client:
        try:
            with open(partial, "wb") as sink:
                for chunk in client.audit.ExportLedger(request, timeout=EXPORT_TIMEOUT_S):
                    sink.write(chunk.data)
        except grpc.RpcError as exc:
            partial.unlink(missing_ok=True)
            code = exc.code().name if isinstance(exc, grpc.Call) else "UNKNOWN"
            details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
            _fail(f"{code}: {details}")
        except OSError as exc:
            partial.unlink(missing_ok=True)
            _fail(f"{partial}: {exc.strerror}")
    try:
        with open(partial, "rb") as written:
            header = read_header(written)
    except VerificationError as exc:
        partial.unlink(missing_ok=True)
        _fail(f"the gateway streamed no valid bundle: {exc}")
    partial.replace(out)
    _say(
        f"entries {header['from']}–{header['to']} of the checkpoint of {header['tree_size']} "
        f"streamed from the gateway, written to {out}"
    )


EXPORT_TIMEOUT_S = 3600.0  # a whole ledger's bundle over a slow link


@audit_app.command("verify")
def audit_verify(
    bundle: Path = typer.Argument(
        None, help="An export bundle to verify offline (no working directory needed)."
    ),
    work: Path = WORK,
    vkey: str = typer.Option(
        None,
        "--vkey",
        help="Pin the verifying key: its C2SP vkey string, or a file holding it.",
    ),
    witness: list[str] = typer.Option(
        [],
        "--witness",
        help="With BUNDLE: a witness vkey (or file) whose cosignature is required; repeatable.",
    ),
    fingerprint: str = typer.Option(
        None, "--fingerprint", help="Pin the verifying key by the fingerprint `init` printed."
    ),
    trusted_checkpoint: Path = typer.Option(
        None,
        "--trusted-checkpoint",
        help="A checkpoint kept earlier (`audit checkpoint`): prove the ledger extends it.",
    ),
) -> None:
    """Check every entry, its authenticators and every signed checkpoint; report queued and
    rejected entries; with --trusted-checkpoint, prove the tree extends the one kept.
    With BUNDLE, verify an export bundle offline instead (`aidbridge_verify`)."""
    if bundle is not None:
        _verify_bundle(bundle, vkey, trusted_checkpoint, witness)
        return
    if witness:
        _fail(
            "--witness needs a BUNDLE: the stored ledger's cosignatures are checked as they arrive"
        )
    from gateway.keys import KeyFileError, KeyRing
    from gateway.ledger import log as ledger_log
    from gateway.ledger.authenticator import EntryAuthenticator
    from gateway.ledger.pinning import KeyPinError, trusted_key
    from gateway.store import Store

    config = load_config(work)
    pinned_vkey = None
    if vkey:
        candidate = Path(vkey)
        pinned_vkey = candidate.read_text(encoding="utf-8") if candidate.is_file() else vkey
    work_vkey = config.vkey_path.read_text(encoding="utf-8") if config.vkey_path.is_file() else None
    trusted_note = None
    if trusted_checkpoint is not None:
        try:
            trusted_note = trusted_checkpoint.read_text(encoding="utf-8")
        except OSError as exc:
            _fail(f"--trusted-checkpoint {trusted_checkpoint}: {exc.strerror}")
    try:
        key = trusted_key(work_vkey, pinned_vkey=pinned_vkey, pinned_fingerprint=fingerprint)
        keys = KeyRing.load(config.master_key_path)
    except (KeyPinError, KeyFileError) as exc:
        _fail(str(exc))
    if key.pinned_by:
        _say(f"verifying key {key.vkey} (fingerprint {key.fingerprint}), pinned by {key.pinned_by}")
    else:
        _say(
            f"verifying key {key.vkey} (fingerprint {key.fingerprint}) from {config.vkey_path}: "
            "NOT pinned; pass --vkey or --fingerprint to refuse any other key"
        )
        recorded = _fingerprint_path(config.vkey_path)
        if recorded.is_file() and recorded.read_text(encoding="utf-8").strip() != key.fingerprint:
            _fail(
                f"the verifying key's fingerprint {key.fingerprint} is not the one recorded at "
                f"init in {recorded}: the key file was replaced; refusing to verify"
            )
    store = Store(config.database_url)
    try:
        report = ledger_log.verify(
            store,
            key.vkey,
            EntryAuthenticator.from_keyring(keys),
            trusted_checkpoint=trusted_note,
        )
    finally:
        store.dispose()
    queued = f"{report.queued} queued (not yet sequenced)"
    if report.ok:
        _say(f"ledger verified: {report.tree_size} entries, {queued}")
        if report.trusted_size is not None:
            _say(f"the ledger extends the trusted checkpoint of {report.trusted_size} entries")
        return
    for problem in report.problems:
        err.print(f"[red]problem:[/] {escape(problem)}", soft_wrap=True)
    err.print(
        f"ledger NOT verified: {len(report.problems)} problems; {report.tree_size} entries, "
        f"{queued}, {report.rejected} rejected",
        soft_wrap=True,
    )
    raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(
    work: Path = WORK,
    out: Path = typer.Option(None, "--out", help="Write the note here instead of stdout."),
) -> None:
    """Print the published checkpoint (the latest, or with witness_quorum set, the latest that
    many witnesses cosigned) with its cosignatures, to keep for `audit verify
    --trusted-checkpoint`."""
    from gateway.ledger.witness_publishing import (
        WitnessConfigError,
        configured_witnesses,
        published_checkpoint,
    )
    from gateway.store import Store

    try:
        config = load_config(work)
        witnesses = configured_witnesses(config.witnesses)
    except (ConfigError, WitnessConfigError) as exc:
        _fail(str(exc))
    store = Store(config.database_url)
    try:
        with store.read() as s:
            published = published_checkpoint(s, witnesses, config.witness_quorum)
    finally:
        store.dispose()
    if published is None:
        if config.witness_quorum:
            _fail(
                f"no checkpoint has been cosigned by {config.witness_quorum} of the "
                f"{len(witnesses)} witnesses yet"
            )
        _fail("the ledger has no signed checkpoint yet")
    if out is None:
        sys.stdout.write(published.note)
        return
    out.write_text(published.note, encoding="utf-8")
    cosigners = f", cosigned by {', '.join(published.cosigned_by)}" if published.cosigned_by else ""
    _say(f"checkpoint of {published.size} entries{cosigners} written to {out}")


@audit_app.command("witnesses")
def audit_witnesses(work: Path = WORK) -> None:
    """Each configured witness: the largest checkpoint it has cosigned and when, beside the
    ledger's latest, so an operator sees which witness lags (publication waits on the quorum)."""
    from sqlalchemy import func, select

    from gateway.access_report.render import rfc3339_ns
    from gateway.ledger.sequencer import latest_checkpoint
    from gateway.ledger.witness_publishing import WitnessConfigError, configured_witnesses
    from gateway.store import Store
    from gateway.store.models import LedgerCosignature

    try:
        config = load_config(work)
        witnesses = configured_witnesses(config.witnesses)
    except (ConfigError, WitnessConfigError) as exc:
        _fail(str(exc))
    store = Store(config.database_url)
    try:
        with store.read() as s:
            latest = latest_checkpoint(s)
            held = {
                name: (size, at)
                for name, size, at in s.execute(
                    select(
                        LedgerCosignature.witness,
                        func.max(LedgerCosignature.tree_size),
                        func.max(LedgerCosignature.received_at_ns),
                    ).group_by(LedgerCosignature.witness)
                )
            }
    finally:
        store.dispose()
    size = latest.size if latest else 0
    _say(
        f"ledger: latest checkpoint {size} entries; "
        f"quorum {config.witness_quorum} of {len(witnesses)}"
    )
    for witness in witnesses:
        cosigned, at = held.get(witness.name, (0, 0))
        when = f" (last received {rfc3339_ns(at)})" if at else ""
        lag = "up to date" if cosigned >= size else f"{size - cosigned} entries behind"
        _say(f"{witness.name} at {witness.url}: cosigned {cosigned}{when}, {lag}")


# --- compliance queries and the person's access report (AuditService, as a client) --------------

TARGET = typer.Option(
    None, "--target", help="HOST:PORT of the gateway (default: `listen` in the work dir's config)."
)
CALLER_ORG = typer.Option(
    ...,
    "--caller",
    envvar="AIDBRIDGE_ORG",
    help="Organisation whose client certificate to call with (a compliance or government org).",
)
CALLER_ACTOR = typer.Option(
    ..., "--actor", envvar="AIDBRIDGE_ACTOR", help="Who acts (an officer's id); ledgered."
)


@audit_app.command("query")
def audit_query(
    org: str = typer.Option(None, "--org", help="Entries of this organisation."),
    by_actor: str = typer.Option(None, "--by-actor", help="Entries of this acting person."),
    resident_id: str = typer.Option(
        None, "--resident-id", help="Entries about this person (the gateway derives the pseudonym)."
    ),
    method: str = typer.Option(
        None, "--method", help="e.g. aidbridge.v1.CaseService/PullCaseSummary"
    ),
    outcome: str = typer.Option(None, "--outcome", help="OK, or a gRPC status name."),
    since: str = typer.Option(None, "--since", help="From this time (RFC 3339), inclusive."),
    until: str = typer.Option(None, "--until", help="Up to this time (RFC 3339), exclusive."),
    page_size: int = typer.Option(100, "--page-size", help="Entries per page (1-500)."),
    page_token: str = typer.Option("", "--page-token", help="Continue from a page's token."),
    all_pages: bool = typer.Option(False, "--all", help="Follow every page to the end."),
    as_json: bool = typer.Option(False, "--json", help="JSON lines, one entry a line."),
    proofs: bool = typer.Option(
        False, "--proofs", help="Each entry with its inclusion proof in the published checkpoint."
    ),
    caller: str = CALLER_ORG,
    actor: str = CALLER_ACTOR,
    target: str = TARGET,
    work: Path = WORK,
) -> None:
    """Query the ledger by organisation, actor, person, method, outcome and time, page by page,
    as a table or JSON lines (the query itself is ledgered)."""
    import json

    from aidbridge.v1 import audit_pb2, common_pb2

    request = audit_pb2.QueryLedgerRequest(
        org=org or "",
        actor=by_actor or "",
        subject_resident_id=resident_id or "",
        method=method or "",
        outcome=outcome or "",
        with_proofs=proofs,
        page=common_pb2.PageRequest(page_size=page_size, page_token=page_token),
    )
    if since:
        request.since.CopyFrom(_timestamp_option("--since", since))
    if until:
        request.until.CopyFrom(_timestamp_option("--until", until))
    with _audit_client(work, target, caller, actor) as client:
        shown = 0
        while True:
            response = _call(client.audit.QueryLedger, request)
            rows = [_entry_document(e, response) for e in response.entries]
            if as_json:
                for row in rows:
                    sys.stdout.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
            else:
                _print_table(rows, header=shown == 0)
            shown += len(rows)
            if not response.next_page_token or not all_pages:
                break
            request.page.page_token = response.next_page_token
        if proofs and not response.HasField("checkpoint"):
            _say("no checkpoint is published yet: entries come without proofs", to=err)
        if not as_json:
            more = (
                f"; next page: --page-token {response.next_page_token}"
                if response.next_page_token
                else ""
            )
            _say(f"{shown} entries{more}", to=err)
        elif response.next_page_token:
            _say(f"next page: --page-token {response.next_page_token}", to=err)


@audit_app.command("report")
def audit_report(
    resident_id: str = typer.Option(..., "--resident-id", help="The person's resident id."),
    html_out: Path = typer.Option(
        None, "--html", help="Write the printable, self-contained HTML page here."
    ),
    json_out: Path = typer.Option(None, "--out", help="Write the JSON report here (else stdout)."),
    caller: str = CALLER_ORG,
    actor: str = CALLER_ACTOR,
    target: str = TARGET,
    work: Path = WORK,
) -> None:
    """The person's access report: every release of their data (who, when, which fields and
    transforms, under which consent and purpose), withdrawals and deletion attestations, each
    with its ledger index and inclusion proof. The request is ledgered."""
    import json

    from aidbridge.v1 import audit_pb2
    from gateway.access_report.render import report_document, report_html

    with _audit_client(work, target, caller, actor) as client:
        report = _call(
            client.audit.GetAccessReport, audit_pb2.GetAccessReportRequest(resident_id=resident_id)
        )
    document = report_document(report)
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if json_out is not None:
        json_out.write_text(text, encoding="utf-8")
        _say(f"access report ({len(document['lines'])} lines) written to {json_out}", to=err)
    elif html_out is None:
        sys.stdout.write(text)
    if html_out is not None:
        html_out.write_text(report_html(document), encoding="utf-8")
        _say(
            f"printable access report ({len(document['lines'])} lines) written to {html_out}",
            to=err,
        )


@audit_app.command("flags")
def audit_flags(
    open_only: bool = typer.Option(False, "--open", help="Only flags not yet resolved."),
    flag_name: str = typer.Option(
        "", "--flag", help="Only entries carrying this flag (e.g. volume-spike)."
    ),
    limit: int = typer.Option(100, "--limit", help="At most this many, newest first (1-500)."),
    caller: str = CALLER_ORG,
    actor: str = CALLER_ACTOR,
    target: str = TARGET,
    work: Path = WORK,
) -> None:
    """Flagged ledger entries (a declared relative, a held action, ...), one JSON line each,
    with the entry's ledger index behind the flag (the request is ledgered)."""
    import json

    from aidbridge.v1 import integrity_pb2
    from gateway.access_report.render import rfc3339_ns

    with _audit_client(work, target, caller, actor) as client:
        response = _call(
            client.integrity.ListFlags,
            integrity_pb2.ListFlagsRequest(open_only=open_only, limit=limit, flag=flag_name),
        )
    for flag in response.flags:
        row = {
            "flag_id": flag.flag_id,
            "index": flag.index,
            "at": rfc3339_ns(flag.at.seconds * 1_000_000_000 + flag.at.nanos),
            "org": flag.org,
            "actor": flag.actor,
            "method": flag.method,
            "outcome": flag.outcome,
            "flags": list(flag.flags),
            "details": dict(flag.details),
            "resolved": flag.resolved,
            "resolution_note": flag.resolution_note,
            "resolved_by": flag.resolved_by,
        }
        sys.stdout.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    _say(f"{len(response.flags)} {'open ' if open_only else ''}flags", to=err)


@audit_app.command("resolve-flag")
def audit_resolve_flag(
    flag_id: str = typer.Argument(..., help="The flag (flag-<entry>) from `audit flags`."),
    note: str = typer.Option(..., "--note", help="Why the flag is closed; ledgered."),
    caller: str = CALLER_ORG,
    actor: str = CALLER_ACTOR,
    target: str = TARGET,
    work: Path = WORK,
) -> None:
    """Close a flag with a note (the resolution is ledgered)."""
    import uuid

    from aidbridge.v1 import integrity_pb2

    with _audit_client(work, target, caller, actor) as client:
        flag = _call(
            client.integrity.ResolveFlag,
            integrity_pb2.ResolveFlagRequest(
                request_id="resolve-" + uuid.uuid4().hex[:20], flag_id=flag_id, note=note
            ),
        )
    _say(f"{flag.flag_id} resolved by {flag.resolved_by}")


def _entry_document(entry: Any, response: Any) -> dict[str, Any]:
    from gateway.access_report.render import rfc3339_ns

    row: dict[str, Any] = {
        "index": entry.index,
        "at": rfc3339_ns(entry.at.seconds * 1_000_000_000 + entry.at.nanos),
        "org": entry.org,
        "role": entry.role,
        "actor": entry.actor,
        "method": entry.method,
        "subject": entry.subject,
        "outcome": entry.outcome,
        "reason": entry.reason,
        "entry_json": entry.entry_json,
        "leaf_hash": entry.leaf_hash,
    }
    if response.HasField("checkpoint"):
        row["inclusion"] = (
            {
                "tree_size": entry.inclusion.tree_size,
                "hashes": list(entry.inclusion.hashes),
                "checkpoint": response.checkpoint.note,
            }
            if entry.HasField("inclusion")
            else None
        )
    return row


_TABLE_COLUMNS = ("index", "at", "org", "actor", "method", "outcome", "subject")


def _print_table(rows: list[dict[str, Any]], *, header: bool) -> None:
    """Columns padded to their content, never to the terminal's width."""
    columns = [*_TABLE_COLUMNS, *(["proof"] if rows and "inclusion" in rows[0] else [])]
    cells = [[_cell(row, c) for c in columns] for row in rows]
    if header:
        cells.insert(0, [c.upper() for c in columns])
    if not cells:
        return
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    for line in cells:
        sys.stdout.write("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
        sys.stdout.write("\n")


def _cell(row: dict[str, Any], column: str) -> str:
    if column != "proof":
        return str(row[column])
    inclusion = row["inclusion"]
    if inclusion is None:
        return "not yet in the published checkpoint"
    return f"{len(inclusion['hashes'])} hashes to size {inclusion['tree_size']}"


def _timestamp_option(option: str, value: str) -> Any:
    from datetime import datetime

    from gateway.services.convert import timestamp

    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        _fail(
            f"{option}: expected an RFC 3339 time such as 2026-12-01T08:00:00+08:00, "
            f"found {value!r}"
        )
    if moment.tzinfo is None:
        _fail(f"{option}: expected a time with its offset (e.g. +08:00), found {value!r}")
    return timestamp(int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000)


@contextlib.contextmanager
def _audit_client(work: Path, target: str | None, org: str, actor: str) -> Iterator[Any]:
    from gateway.client import Client

    try:
        config = load_config(work)
    except ConfigError as exc:
        _fail(str(exc))
    for suffix in (".pem", ".key"):
        path = config.certs_dir / f"{org}{suffix}"
        if not path.exists():
            _fail(
                f"--caller {org}: expected its certificate and key in {config.certs_dir} "
                f"({org}.pem, {org}.key), found no {path.name}"
            )
    if not actor.strip():
        _fail("--actor: expected who acts (an officer's id), found nothing")
    host, _, port = config.listen.rpartition(":")
    if host in ("", "0.0.0.0", "[::]", "::"):  # noqa: S104 (a listen address, not a bind)
        host = "127.0.0.1"
    client = Client.connect(target or f"{host}:{port}", config.certs_dir, org, actor)
    try:
        yield client
    finally:
        client.close()


def _call(method: Any, request: Any) -> Any:
    import grpc

    try:
        return method(request, timeout=60)
    except grpc.RpcError as exc:
        code = exc.code().name if isinstance(exc, grpc.Call) else "UNKNOWN"
        details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
        _fail(f"{code}: {details}")


# --- witnesses (gateway/ledger/witness.py, witness_http.py) --------------------------------------

WITNESS_STATE = typer.Option(
    Path("aidbridge-witness"),
    "--state",
    envvar="AIDBRIDGE_WITNESS_STATE",
    help="The witness's state directory (its key, the logs it witnesses, what it cosigned).",
)


@witness_app.command("init")
def witness_init(
    name: str = typer.Option(
        ..., "--name", help="The witness's key name, a schema-less URL (e.g. example.org/witness)."
    ),
    log_vkeys: list[str] = typer.Option(
        [], "--log", help="A log's verifier key (the gateway's keys/checkpoint.vkey); repeatable."
    ),
    state: Path = WITNESS_STATE,
) -> None:
    """Create a witness: a new Ed25519 key and the logs it cosigns. Prints its vkey, which the
    gateway's aidbridge.toml names under [[witnesses]]."""
    from gateway.ledger.witness import WitnessSetupError, init_witness

    vkeys = [_read_vkey(v) for v in log_vkeys]
    try:
        witness = init_witness(state, name, vkeys)
    except (WitnessSetupError, ValueError) as exc:
        _fail(str(exc))
    _say(f"witness {witness.name} in {state}")
    _say(f"witness verifying key: {witness.vkey}")
    for origin in witness.origins:
        _say(f"witnesses log {origin}")


@witness_app.command("add-log")
def witness_add_log(
    vkey: str = typer.Argument(..., help="The log's verifier key, or a file holding it."),
    state: Path = WITNESS_STATE,
) -> None:
    """Cosign one more log's checkpoints (restart a running witness to take it up)."""
    from gateway.ledger.witness import WitnessSetupError, add_log

    try:
        origin = add_log(state, _read_vkey(vkey))
    except WitnessSetupError as exc:
        _fail(str(exc))
    _say(f"the witness in {state} now witnesses {origin}")


@witness_app.command("vkey")
def witness_show_vkey(state: Path = WITNESS_STATE) -> None:
    """Print the witness's verifying key (C2SP vkey, cosignature/v1 Ed25519)."""
    from gateway.ledger.witness import Witness, WitnessSetupError

    try:
        witness = Witness(state)
    except WitnessSetupError as exc:
        _fail(str(exc))
    _say(witness.vkey)


@witness_app.command("serve")
def witness_serve(
    state: Path = WITNESS_STATE,
    listen: str = typer.Option("127.0.0.1:7380", help="HOST:PORT to serve add-checkpoint on."),
    prefix: str = typer.Option("", help="URL prefix before /add-checkpoint."),
) -> None:
    """Serve POST <prefix>/add-checkpoint until SIGINT/SIGTERM: verify the log's signature and
    the consistency proof from the last checkpoint cosigned, then cosign; refuse otherwise."""
    from gateway.ledger.witness import Witness, WitnessSetupError
    from gateway.ledger.witness_http import ADD_CHECKPOINT, WitnessHTTPServer
    from gateway.logging import configure

    configure()
    try:
        witness = Witness(state)
    except WitnessSetupError as exc:
        _fail(str(exc))
    host, _, port_text = listen.rpartition(":")
    if not host or not port_text.isdigit():
        _fail(f"--listen: expected HOST:PORT, found {listen!r}")
    try:
        server = WitnessHTTPServer((host, int(port_text)), witness, prefix)
    except OSError as exc:
        _fail(f"could not listen on {listen}: {exc.strerror}")

    def stop(_signum: int, _frame: object) -> None:
        # shutdown() waits for serve_forever, which runs in this thread: stop it from another.
        import threading

        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _say(f"witness {witness.name} serving POST {server.url}{ADD_CHECKPOINT}")
    sys.stdout.flush()
    try:
        server.serve_forever()
    finally:
        server.server_close()


def _read_vkey(value: str) -> str:
    candidate = Path(value)
    if candidate.is_file():
        return candidate.read_text(encoding="utf-8").strip()
    return value.strip()


def _mount_optional() -> None:
    try:
        from gateway.policy.cli import app as policy_app
    except ImportError:  # pragma: no cover
        return
    app.add_typer(policy_app, name="policy", help="Test, check and evaluate the policy bundle.")
    from gateway.consent.cli import app as consent_app

    app.add_typer(consent_app, name="consent", help="Record, read, withdraw consents; receipts.")

    @policy_app.command("reload")
    def policy_reload(work: Path = WORK) -> None:
        """Ask the running gateway to reload its bundle (SIGHUP); a broken bundle is rejected.
        The request and the gateway's verdict are both ledgered."""
        from gateway.clock import SystemClock
        from gateway.ledger import system
        from gateway.ledger.entry import append
        from gateway.store import Store
        from gateway.workdir import serving_pid

        config = _initialised(work)
        pid = serving_pid(config.work_dir)
        if pid is None:
            _fail(f"no gateway is serving {config.work_dir}; one started now reads the bundle")
        store = Store(config.database_url)
        try:
            with store.write() as session:
                append(
                    session,
                    system.system_exchange(
                        system.REQUEST_POLICY_RELOAD,
                        at_ns=SystemClock().now_ns(),
                        actor=system.os_actor(),
                        reason=f"reload of {config.bundle_path} requested (gateway pid {pid})",
                    ),
                    _authenticator(config),
                )
        finally:
            store.dispose()
        os.kill(pid, signal.SIGHUP)
        _say("reload requested; the gateway logs and ledgers whether the new bundle was accepted")


# --- the linkage report (issue 11) -------------------------------------------------------------


@app.command()
def report(
    work: Path = WORK,
    period: str = typer.Option(..., "--period", help="The month, YYYY-MM (China Standard Time)."),
    out: Path = typer.Option(
        None, "--out", help="Directory for the JSON and HTML files (default: WORK/reports)."
    ),
    office: str = typer.Option(
        "", "--office", help="Only this government office's streets and reverse referrals."
    ),
) -> None:
    """Write the linkage report of a month: linkage-PERIOD.json and a self-contained
    linkage-PERIOD.html (counts from 1 to 4 shown as "<5"). The run is ledgered."""
    from gateway import errors
    from gateway.clock import SystemClock
    from gateway.keys import KeyRing
    from gateway.ledger import system
    from gateway.ledger.entry import append
    from gateway.policy.catalogue import Catalogue
    from gateway.privacy.crypto import FieldCipher
    from gateway.report.html import render_html
    from gateway.report.linkage import Period, Scope, build_linkage_report, to_json
    from gateway.store import Store

    config = _initialised(work)
    try:
        month = Period.parse(period)
    except errors.InvalidArgument as exc:
        _fail(exc.message, code=2)
    target = out or config.work_dir / "reports"
    target.mkdir(parents=True, exist_ok=True)
    keys = KeyRing.load(config.master_key_path)
    cipher = FieldCipher.from_keyring(keys)
    catalogue = Catalogue.load(config.bundle_path)
    scope, covers = Scope(), "the district"
    if office:
        org = catalogue.org(office)
        if org is None or org.role != "government":
            _fail(f"--office {office}: not a government office of the registry", code=2)
        scope, covers = Scope(streets=org.streets, offices=(office,)), office
    store = Store(config.database_url)
    try:
        store.migrate(keys)
        with store.write() as session:
            now = SystemClock().now_ns()
            document = build_linkage_report(
                session,
                month,
                catalogue=catalogue,
                cipher=cipher,
                scope=scope,
                generated_at_ns=now,
            )
            append(
                session,
                system.system_exchange(
                    "aidbridge.system/ProduceLinkageReport",
                    at_ns=now,
                    actor=system.os_actor(),
                    reason=f"linkage report for {month.name} ({covers}) written to {target}",
                ),
                _authenticator(config),
            )
    finally:
        store.dispose()
    stem = f"linkage-{month.name}" + (f"-{office}" if office else "")
    json_path, html_path = target / f"{stem}.json", target / f"{stem}.html"
    json_path.write_text(to_json(document), encoding="utf-8")
    html_path.write_text(render_html(document), encoding="utf-8")
    referrals = document["referrals"]["total"]
    _say(f"linkage report {month.name}: {referrals} referrals; wrote {json_path} and {html_path}")


# --- pseudonym key versions ------------------------------------------------------------------

keys_app = typer.Typer(
    help="Pseudonym key versions: rotate, retire a recipient's old version, resolve.",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")


def _key_event(config: Config, method: str, reason: str, change: Any) -> None:
    """Run ``change`` (which writes key-versions.json) inside the transaction that ledgers it:
    if the change fails, nothing is ledgered; if the entry fails to commit, the file is put
    back as it was."""
    from gateway.clock import SystemClock
    from gateway.keys import VERSIONS_FILE
    from gateway.ledger import system
    from gateway.ledger.entry import append
    from gateway.store import Store

    versions = config.master_key_path.with_name(VERSIONS_FILE)
    before = versions.read_bytes() if versions.exists() else None
    store = Store(config.database_url)
    try:
        with store.write() as session:
            now = SystemClock().now_ns()
            text = change(now)
            append(
                session,
                system.system_exchange(
                    method, at_ns=now, actor=system.os_actor(), reason=reason + text
                ),
                _authenticator(config),
            )
    except BaseException:
        # The entry did not commit: put the versions file back, so no key event goes unledgered.
        now_held = versions.read_bytes() if versions.exists() else None
        if now_held != before:
            if before is None:
                versions.unlink()
            else:
                _restore(versions, before)
        raise
    finally:
        store.dispose()


def _restore(path: Path, content: bytes) -> None:
    tmp = path.with_name(path.name + ".restore")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def _keyring(config: Config) -> Any:
    from gateway.keys import KeyFileError, KeyRing

    try:
        keys = KeyRing.load(config.master_key_path)
        keys.versions.state()
    except KeyFileError as exc:
        _fail(str(exc))
    return keys


@keys_app.command("show")
def keys_show(work: Path = WORK) -> None:
    """The current pseudonym key version and the versions each recipient has retired."""
    keys = _keyring(_initialised(work))
    state = keys.versions.state()
    _say(f"current version: {state.current}")
    for org, versions in sorted(state.retired.items()):
        _say(f"retired for {org}: {', '.join(versions)}")


@keys_app.command("rotate")
def keys_rotate(work: Path = WORK) -> None:
    """Introduce a new pseudonym key version: new pseudonyms are issued in it; old versions
    still resolve until retired. A running gateway sees it at its next call."""
    from gateway.ledger import system

    config = _initialised(work)
    keys = _keyring(config)
    result: list[str] = []

    def change(_now: int) -> str:
        previous, new = keys.versions.rotate(_now)
        result[:] = [previous, new]
        return f"{previous} -> {new}"

    _key_event(config, system.ROTATE_KEYS, "pseudonym key version rotated: ", change)
    _say(f"pseudonym key version {result[0]} -> {result[1]}; new pseudonyms are {result[1]}")


@keys_app.command("retire")
def keys_retire(
    recipient: str = typer.Option(..., "--recipient", help="The charity whose version to retire."),
    version: str = typer.Option(..., "--version", help="The key version, e.g. k1."),
    work: Path = WORK,
) -> None:
    """Make ``recipient``'s pseudonyms of ``version`` unresolvable, for good."""
    from gateway.keys import KeyVersionError
    from gateway.ledger import system
    from gateway.orgs import registered_org

    config = _initialised(work)
    org = registered_org(config.bundle_path, recipient)
    if org is None:
        _fail(f"--recipient: expected a registered organisation, found {recipient!r}")
    if org.get("role") != "charity":
        _fail(
            f"--recipient: expected a charity (only charities receive pseudonyms), "
            f"found {recipient!r} as {org.get('role')}"
        )
    keys = _keyring(config)

    def change(now: int) -> str:
        keys.versions.retire(recipient, version, now)
        return f"{version} for {recipient}"

    try:
        _key_event(config, system.RETIRE_KEY_VERSION, "pseudonym key version retired: ", change)
    except KeyVersionError as exc:
        _fail(str(exc))
    _say(f"retired {version} for {recipient}: its {version} pseudonyms no longer resolve")


@keys_app.command("resolve")
def keys_resolve(
    pseudonym: str = typer.Argument(..., help="The recipient's pseudonym, e.g. k1.abc…"),
    recipient: str = typer.Option(..., "--recipient", help="The charity that holds it."),
    work: Path = WORK,
) -> None:
    """The case ids of the person a charity knows by ``pseudonym`` (among the cases referred to
    it), for the civil-affairs bureau. Old versions resolve until retired. Ledgered."""
    from sqlalchemy import select

    from gateway.cases import load_record
    from gateway.ledger import system
    from gateway.privacy.crypto import FieldCipher
    from gateway.privacy.pseudonyms import PseudonymNotFound, resolve_pseudonym
    from gateway.store import Store
    from gateway.store.models import Case, Referral

    config = _initialised(work)
    keys = _keyring(config)
    cipher = FieldCipher.from_keyring(keys)
    store = Store(config.database_url)
    try:
        with store.read() as session:
            rows = session.scalars(
                select(Case).where(
                    Case.case_id.in_(select(Referral.case_id).where(Referral.to_org == recipient))
                )
            ).all()
            by_person: dict[str, list[str]] = {}
            for row in rows:
                by_person.setdefault(str(load_record(row, cipher)["resident_id"]), []).append(
                    row.case_id
                )
    finally:
        store.dispose()
    try:
        case_ids = resolve_pseudonym(keys, recipient, pseudonym, by_person.items())
    except PseudonymNotFound as exc:
        _fail(f"not found: {exc}")
    listed = ", ".join(sorted(case_ids))
    _key_event(
        config,
        system.RESOLVE_PSEUDONYM,
        f"pseudonym of {recipient} resolved: ",
        lambda _now: f"{pseudonym} -> {listed}",
    )
    for case_id in sorted(case_ids):
        _say(case_id)


_mount_optional()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
