"""The ``aidbridge`` command: init, serve, demo, certs, audit, policy (and consent)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import typer
from rich.console import Console

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


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/] {message}")
    raise typer.Exit(code)


@app.command()
def init(
    work: Path = WORK,
    db_url: str = typer.Option("", help="Database URL (default SQLite in the working directory)."),
    listen: str = typer.Option("127.0.0.1:50051", help="Address to serve on."),
) -> None:
    """Create a working directory: dev CA and certificates, master key, policy bundle, database."""
    from gateway.workdir import WorkDirError, init_workdir

    try:
        config = init_workdir(work, db_url=db_url, listen=listen)
    except WorkDirError as exc:
        _fail(str(exc))
    console.print(f"initialised {config.work_dir}")


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
    vkey: Path = typer.Option(None, help="Verifier key file (default keys/checkpoint.vkey)."),
) -> None:
    """Recompute the ledger's Merkle tree and check every signed checkpoint."""
    from gateway.ledger import log as ledger_log
    from gateway.store import Store

    config = load_config(work)
    key_text = (vkey or config.vkey_path).read_text(encoding="utf-8").strip()
    store = Store(config.database_url)
    report = ledger_log.verify(store, key_text)
    store.dispose()
    if report.ok:
        console.print(f"ledger verified: {report.tree_size} entries")
        return
    for problem in report.problems:
        err.print(f"[red]problem:[/] {problem}")
    raise typer.Exit(1)


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
