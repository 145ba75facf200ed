"""The worked example of ``docs/ledger-bundle.md``, made by the gateway's own code: three
entries appended to a real SQLite store, integrated and signed by the sequencer, the checkpoint
cosigned by one witness, and entries [1, 2) exported by ``write_bundle``. Keys come from fixed
seeds and Ed25519 signatures are deterministic, so the bundle is the same on every run; the
test checks the document's copy against it byte for byte.

    PYTHONPATH=.:proto python -m tests.verify.doc_example   # prints the example's parts
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.clock import FixedClock
from gateway.ledger.authenticator import EntryAuthenticator
from gateway.ledger.checkpoint import verifier_key
from gateway.ledger.cosignature import cosign, note_body, with_signatures, witness_vkey
from gateway.ledger.entry import Exchange, append
from gateway.ledger.export import write_bundle
from gateway.ledger.log import Ledger
from gateway.ledger.witness_publishing import PublishedCheckpoint, cosigned_checkpoint
from gateway.store import Store
from gateway.store.db import sqlite_url

ORIGIN = "ledger.jiangbei.example/aidbridge"
WITNESS = "supervision.jiangbei.example/witness"
AT_NS = 1_796_083_200_000_000_000  # 2026-12-01T00:00:00Z
COSIGNED_AT = 1_796_083_260  # seconds
EXPORTED_AT_NS = 1_796_086_800_000_000_000


def _seeded(label: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(label.encode()).digest())


@dataclass(frozen=True)
class Example:
    log_vkey: str
    witness_vkey: str
    bundle: bytes


def example() -> Example:
    log_key, witness_key = _seeded("aidbridge docs log key"), _seeded("aidbridge docs witness")
    authenticator = EntryAuthenticator(hashlib.sha256(b"aidbridge docs ledger key").digest())
    calls = [
        ("jb-civil-affairs", "government", "cw-017", "aidbridge.v1.CaseService/RegisterCase", "OK"),
        (
            "charity-sunshine",
            "charity",
            "staff-017",
            "aidbridge.v1.CaseService/PullCaseSummary",
            "OK",
        ),
        (
            "charity-harbour",
            "charity",
            "staff-101",
            "aidbridge.v1.CaseService/PullCaseSummary",
            "PERMISSION_DENIED",
        ),
    ]
    with tempfile.TemporaryDirectory() as folder:
        store = Store(sqlite_url(Path(folder) / "example.db"))
        try:
            store.migrate()
            ledger = Ledger(store, log_key, ORIGIN, FixedClock(AT_NS), authenticator)
            with store.write() as s:
                for n, (org, role, actor, method, outcome) in enumerate(calls):
                    append(
                        s,
                        Exchange(
                            at_ns=AT_NS + n * 1_000_000_000,
                            org=org,
                            role=role,
                            actor=actor,
                            cert_fingerprint=hashlib.sha256(org.encode()).hexdigest(),
                            method=method,
                            outcome=outcome,
                            reason="" if outcome == "OK" else "denied by policy",
                        ),
                        authenticator,
                    )
            ledger.drain()
            with store.read() as s:
                published = cosigned_checkpoint(s, len(calls))
                assert published is not None
                line = cosign(note_body(published.note), WITNESS, witness_key, COSIGNED_AT)
                cosigned = PublishedCheckpoint(
                    note=with_signatures(published.note, [line]),
                    size=published.size,
                    root=published.root,
                    cosigned_by=(WITNESS,),
                )
                out = io.BytesIO()
                wvkey = witness_vkey(WITNESS, witness_key.public_key())
                write_bundle(
                    s,
                    out,
                    cosigned,
                    verifier_key(ORIGIN, log_key.public_key()),
                    from_index=1,
                    to_index=2,
                    witnesses=[(WITNESS, wvkey)],
                    exported_at_ns=EXPORTED_AT_NS,
                )
        finally:
            store.dispose()
    return Example(verifier_key(ORIGIN, log_key.public_key()), wvkey, out.getvalue())


if __name__ == "__main__":
    made = example()
    print(made.log_vkey)
    print(made.witness_vkey)
    print(made.bundle.decode())
