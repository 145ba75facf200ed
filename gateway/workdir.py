"""Creating a gateway's working directory: dev CA and certificates, the master key, the policy
bundle and the database. ``aidbridge init`` and ``aidbridge demo`` both start here.

Also the working directory's lock: one gateway serves a working directory at a time. ``aidbridge
serve`` holds ``aidbridge.lock`` with ``flock(2)`` for as long as it runs (the file names its pid);
the kernel releases the lock when the process ends however it ends, so a file left by a killed
gateway never blocks the next one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from certs import ca
from gateway.clock import SystemClock
from gateway.config import REPO_POLICIES, Config, load_config, write_config
from gateway.keys import KeyRing
from gateway.ledger import system
from gateway.ledger.authenticator import EntryAuthenticator
from gateway.ledger.checkpoint import key_id, verifier_key
from gateway.ledger.entry import append
from gateway.store import Store

LOCK_FILE = "aidbridge.lock"

# The development organisations: ids must match the policy bundle's registry.
DEV_ORGS: tuple[tuple[str, str, str], ...] = (
    ("jb-civil-affairs", "government", "江北区民政局"),
    ("jb-guanyinqiao-office", "government", "观音桥街道办事处"),
    ("charity-sunshine", "charity", "重庆阳光慈善会"),
    ("charity-harbour", "charity", "江北港湾公益基金会"),
    ("jb-supervision", "compliance", "江北区纪检监察室"),
)


class WorkDirError(Exception):
    pass


class WorkDirLocked(WorkDirError):
    """Another gateway process is serving this working directory."""


def init_workdir(work_dir: Path, *, db_url: str = "", listen: str = "127.0.0.1:50051") -> Config:
    """Create everything a development gateway needs in ``work_dir``; refuses a directory that
    already holds a gateway (its keys would be lost)."""
    work_dir = work_dir.resolve()
    if (work_dir / "keys" / "master.key").exists():
        raise WorkDirError(f"{work_dir} already holds a gateway (keys/master.key exists)")
    work_dir.mkdir(parents=True, exist_ok=True)
    config = load_config(work_dir, db_url=db_url or None, listen=listen)
    certs_dir = config.certs_dir
    certs_dir.mkdir(exist_ok=True)
    ca.init_ca(certs_dir)
    ca.issue_server(certs_dir, ("localhost",))
    for org_id, role, name in DEV_ORGS:
        ca.issue_client(certs_dir, org_id, role, name)
    config.master_key_path.parent.mkdir(mode=0o700, exist_ok=True)
    keys = KeyRing.generate(config.master_key_path)
    checkpoint_key = keys.public_key("checkpoint")
    config.vkey_path.write_text(
        verifier_key(config.ledger_origin, checkpoint_key) + "\n", encoding="utf-8"
    )
    # The consent-signing public key, so anyone can verify a consent receipt offline
    # (`aidbridge consent verify-receipt`). Public: no secret leaves the master key.
    consent_pem = keys.public_key("consent").public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
    )
    (config.work_dir / "keys" / "consent.pub").write_bytes(consent_pem)
    shutil.copytree(REPO_POLICIES, config.bundle_path, dirs_exist_ok=False)
    write_config(config)
    store = Store(config.database_url)
    try:
        store.migrate()
        with store.write() as session:
            # Public facts only: which keys now exist, never key material.
            append(
                session,
                system.system_exchange(
                    system.CREATE_KEYS,
                    at_ns=SystemClock().now_ns(),
                    actor=system.os_actor(),
                    reason=(
                        "created the master key; checkpoint verifier key id "
                        f"{key_id(config.ledger_origin, checkpoint_key).hex()}, consent public key "
                        f"SHA-256 {hashlib.sha256(consent_pem).hexdigest()}"
                    ),
                ),
                EntryAuthenticator.from_keyring(keys),
            )
    finally:
        store.dispose()
    return config


@contextlib.contextmanager
def serving_lock(work_dir: Path) -> Iterator[int]:
    """Hold the working directory's lock while the block runs; ``WorkDirLocked`` if another
    process holds it. Yields the lock's file descriptor: the worker processes of ``serve
    --workers N`` inherit it, so the lock stays held until the last of them has stopped."""
    path = work_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            by = f" (pid {holder})" if holder else ""
            raise WorkDirLocked(
                f"another gateway{by} is already serving the working directory {work_dir} "
                f"(it holds {path}): stop it first, or serve another --work directory"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        try:
            yield fd
        finally:
            os.ftruncate(fd, 0)  # while still held, so no other holder's pid is erased
    finally:
        os.close(fd)  # releases the lock


def check_inherited_lock(work_dir: Path, fd: int) -> None:
    """A worker process's check that ``fd`` (inherited from its supervisor) is ``work_dir``'s
    lock file, and that the lock is this file description's: no worker serves a working
    directory another gateway holds. ``WorkDirLocked`` otherwise."""
    path = work_dir / LOCK_FILE
    try:
        mine, theirs = os.fstat(fd), os.stat(path)
    except OSError as exc:
        raise WorkDirLocked(f"not the lock of {work_dir}: {exc.strerror}") from None
    if (mine.st_dev, mine.st_ino) != (theirs.st_dev, theirs.st_ino):
        raise WorkDirLocked(f"the descriptor given is not {path}")
    try:
        # Succeeds at once when this file description holds the lock already.
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_pid(fd)
        by = f" (pid {holder})" if holder else ""
        raise WorkDirLocked(
            f"another gateway{by} is already serving the working directory {work_dir}"
        ) from None


def serving_pid(work_dir: Path) -> int | None:
    """The pid of the gateway serving ``work_dir``, or None if none is (the lock is free)."""
    path = work_dir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(fd)
        return None  # nobody holds it: a stale file
    finally:
        os.close(fd)


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None
