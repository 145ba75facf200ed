"""Synthetic bundles written fast, without a database: the same writer the gateway's export uses,
over entries shaped like the gateway's (canonical JSON), signed by a fresh key."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from aidbridge_verify.bundle import BundleWriter
from aidbridge_verify.merkle import CompactRange

ORIGIN = "aidbridge.test/bundle"
START_NS = 1_767_225_600_000_000_000


def vkey_of(name: str, key: Ed25519PrivateKey, kind: bytes = b"\x01") -> str:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key_id = hashlib.sha256(name.encode() + b"\n" + kind + raw).digest()[:4]
    return f"{name}+{key_id.hex()}+{base64.b64encode(kind + raw).decode()}"


def sign_note(origin: str, size: int, root: bytes, key: Ed25519PrivateKey) -> str:
    body = f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key_id = hashlib.sha256(origin.encode() + b"\n\x01" + raw).digest()[:4]
    blob = key_id + key.sign(body.encode())
    return f"{body}\n— {origin} {base64.b64encode(blob).decode()}\n"


def entry_bytes(n: int) -> bytes:
    document = {
        "v": 1,
        "at_ns": START_NS + n,
        "org": "jb-civil-affairs",
        "role": "government",
        "actor": f"cw-{n % 500:03d}",
        "cert_fingerprint": hashlib.sha256(b"%d" % (n % 7)).hexdigest(),
        "method": "aidbridge.v1.CaseService/GetCase",
        "subject": hashlib.sha256(b"s%d" % (n % 10_000)).hexdigest()[:40],
        "purpose": "",
        "consent_id": "",
        "consent_version": 0,
        "decision_id": f"d-{n}",
        "bundle_revision": "r1",
        "fields_released": [],
        "outcome": "OK",
        "reason": "",
        "request_digest": hashlib.sha256(b"q%d" % n).hexdigest(),
        "response_digest": hashlib.sha256(b"r%d" % n).hexdigest(),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def synthetic_bundle(
    path: Path, size: int, key: Ed25519PrivateKey | None = None, entries: list[bytes] | None = None
) -> str:
    """Write a bundle of ``size`` entries (all exported) and return the log's vkey."""
    key = key or Ed25519PrivateKey.generate()
    items = entries or [entry_bytes(n) for n in range(size)]
    sha = hashlib.sha256
    leaves = [sha(b"\x00" + e).digest() for e in items]
    compact = CompactRange()
    for leaf in leaves:
        compact.append(leaf)
    vkey = vkey_of(ORIGIN, key)
    with open(path, "wb") as out:
        writer = BundleWriter(
            out,
            checkpoint_note=sign_note(ORIGIN, size, compact.root(), key),
            origin=ORIGIN,
            tree_size=size,
            from_index=0,
            to_index=size,
            log_vkey=vkey,
        )
        for leaf, e in zip(leaves, items, strict=True):
            writer.entry(leaf, e)
        writer.finish()
    return vkey
