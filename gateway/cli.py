"""The ``aidbridge`` command: init, serve, demo, certs, audit, policy (and consent)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from gateway.config import ConfigError, load_config

app = typer.Typer(
    help="AidBridge: consented, audited referrals between government and charities.",
    no_args_is_help=True,
    add_completion=False,
)
certs_app = typer.Typer(help="Development CA and organisation certificates.", no_args_is_help=True)
audit_app = typer.Typer(help="Verify and inspect the ledger.", no_args_is_help=True)
app.add_typer(certs_app, name="certs")
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


def _say(message: str) -> None:
    # soft_wrap: a key or a path is never broken across lines, whatever the terminal's width.
    console.print(escape(message), soft_wrap=True)


def _fingerprint_path(vkey_path: Path) -> Path:
    return vkey_path.with_name(vkey_path.name + ".sha256")


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
    _say(f"initialised {config.work_dir}")
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
) -> None:
    """Run the gateway until SIGINT/SIGTERM (SIGHUP reloads the policy bundle)."""
    from gateway.app import Gateway
    from gateway.logging import configure
    from gateway.server import ignore_late_signals
    from gateway.server import serve as run_server

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
    gateway = Gateway.open(config)
    pid_file = config.work_dir / "aidbridge.pid"
    pid_file.write_text(str(os.getpid()))
    try:
        asyncio.run(run_server(gateway))
    finally:
        ignore_late_signals()
        pid_file.unlink(missing_ok=True)
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
    console.print(f"development CA and server certificate in {directory}")


@certs_app.command("issue")
def certs_issue(
    org: str = typer.Option(..., help="Organisation id, as in the policy registry."),
    role: str = typer.Option(..., help="government, charity, compliance or peer."),
    name: str = typer.Option("", help="Organisation display name."),
    days: int = typer.Option(397, help="Validity in days."),
    directory: Path = typer.Option(Path("aidbridge-work/certs"), "--dir"),
) -> None:
    """Issue a client certificate for an organisation."""
    from certs import ca

    try:
        issued = ca.issue_client(directory, org, role, name, days=days)
    except (ValueError, FileExistsError, FileNotFoundError) as exc:
        _fail(str(exc))
    console.print(f"{issued.cert_path} (key {issued.key_path}, SHA-256 {issued.fingerprint})")


@certs_app.command("revoke")
def certs_revoke(
    cert: Path = typer.Argument(..., help="The certificate (PEM) to revoke."),
    reason: str = typer.Option("", help="Why."),
    work: Path = WORK,
) -> None:
    """Revoke a client certificate: its next call is refused and ledgered."""
    from gateway import identity
    from gateway.clock import SystemClock
    from gateway.store import Store
    from gateway.store.models import RevokedCertificate

    try:
        fingerprint = identity.identity_from_pem(cert.read_bytes()).fingerprint
    except (OSError, identity.IdentityError) as exc:
        _fail(f"{cert}: {exc}")
    store = Store(load_config(work).database_url)
    with store.write() as session:
        if session.get(RevokedCertificate, fingerprint) is None:
            session.add(
                RevokedCertificate(
                    fingerprint=fingerprint, reason=reason, revoked_at_ns=SystemClock().now_ns()
                )
            )
    console.print(f"revoked {fingerprint}")


@audit_app.command("verify")
def audit_verify(
    work: Path = WORK,
    vkey: str = typer.Option(
        None,
        "--vkey",
        help="Pin the verifying key: its C2SP vkey string, or a file holding it.",
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
    rejected entries; with --trusted-checkpoint, prove the tree extends the one kept."""
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
    """Print the latest signed checkpoint, to keep for `audit verify --trusted-checkpoint`."""
    from gateway.ledger.sequencer import latest_checkpoint
    from gateway.store import Store

    store = Store(load_config(work).database_url)
    try:
        with store.read() as s:
            latest = latest_checkpoint(s)
    finally:
        store.dispose()
    if latest is None:
        _fail("the ledger has no signed checkpoint yet")
    if out is None:
        sys.stdout.write(latest.note)
        return
    out.write_text(latest.note, encoding="utf-8")
    _say(f"checkpoint of {latest.size} entries written to {out}")


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
        """Ask the running gateway to reload its bundle (SIGHUP); a broken bundle is rejected."""
        pid_file = load_config(work).work_dir / "aidbridge.pid"
        if not pid_file.exists():
            _fail(f"no running gateway found ({pid_file} is missing)")
        os.kill(int(pid_file.read_text()), signal.SIGHUP)
        console.print("reload requested; the gateway logs whether the new bundle was accepted")


_mount_optional()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
