"""Creating a gateway's working directory: dev CA and certificates, the master key, the policy
bundle and the database. ``aidbridge init`` and ``aidbridge demo`` both start here."""

from __future__ import annotations

import shutil
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from certs import ca
from gateway.config import REPO_POLICIES, Config, load_config, write_config
from gateway.keys import KeyRing
from gateway.ledger.checkpoint import verifier_key
from gateway.store import Store

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
    config.vkey_path.write_text(
        verifier_key(config.ledger_origin, keys.public_key("checkpoint")) + "\n", encoding="utf-8"
    )
    # The consent-signing public key, so anyone can verify a consent receipt offline
    # (`aidbridge consent verify-receipt`). Public: no secret leaves the master key.
    (config.work_dir / "keys" / "consent.pub").write_bytes(
        keys.public_key("consent").public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    shutil.copytree(REPO_POLICIES, config.bundle_path, dirs_exist_ok=False)
    write_config(config)
    store = Store(config.database_url)
    try:
        store.migrate()
    finally:
        store.dispose()
    return config
