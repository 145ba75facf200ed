"""Offline verification benchmark: ``aidbridge_verify.verify_bundle`` over a synthetic export
bundle of ``--count`` entries (default 1,000,000), beside a baseline in the same run that reads
the same file line by line and takes one bare SHA-256 of each line — the reading and hashing any
verifier must do, with none of the checks.

The bundle is written without a database, by the same ``BundleWriter`` the gateway's export
uses: entries shaped like the gateway's (canonical JSON of every field, synthetic values), a
checkpoint signed by a fresh Ed25519 key, one cosignature by a fresh witness key that the verify
requires. Verification is the real one: signatures, cosignature, header bounds, every index in
sequence, every leaf hash recomputed from its entry, the RFC 9162 root against the signed one,
and a trusted checkpoint at half the size checked on the way.

Target (issue 10): 1,000,000 entries verified in ≤ 10 s on this machine.

    .venv/bin/python bench/bench_verify.py [--count 1000000] [--keep FILE]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import struct
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from aidbridge_verify import verify_bundle
from aidbridge_verify.bundle import BundleWriter
from aidbridge_verify.merkle import CompactRange

ORIGIN = "aidbridge.bench/ledger"
WITNESS = "supervision.bench/witness"
START_NS = 1_767_225_600_000_000_000


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _vkey(name: str, key: Ed25519PrivateKey, kind: bytes) -> tuple[str, bytes]:
    key_id = hashlib.sha256(name.encode() + b"\n" + kind + _raw(key)).digest()[:4]
    return f"{name}+{key_id.hex()}+{base64.b64encode(kind + _raw(key)).decode()}", key_id


def _note(size: int, root: bytes, log: Ed25519PrivateKey, witness: Ed25519PrivateKey) -> str:
    body = f"{ORIGIN}\n{size}\n{base64.b64encode(root).decode()}\n"
    _, log_id = _vkey(ORIGIN, log, b"\x01")
    _, witness_id = _vkey(WITNESS, witness, b"\x04")
    ts = int(time.time())
    signed = f"cosignature/v1\ntime {ts}\n{body}".encode()
    cosig = witness_id + struct.pack(">Q", ts) + witness.sign(signed)
    own = log_id + log.sign(body.encode())
    return (
        f"{body}\n— {ORIGIN} {base64.b64encode(own).decode()}\n"
        f"— {WITNESS} {base64.b64encode(cosig).decode()}\n"
    )


def _template() -> str:
    document = {
        "v": 1,
        "at_ns": 0,
        "org": "jb-civil-affairs",
        "role": "government",
        "actor": "cw-XXX",
        "cert_fingerprint": hashlib.sha256(b"cert").hexdigest(),
        "method": "aidbridge.v1.ReferralService/PullCaseSummary",
        "subject": hashlib.sha256(b"subject").hexdigest()[:40],
        "purpose": "social_assistance_referral",
        "consent_id": "c-000000",
        "consent_version": 1,
        "decision_id": "d-000000",
        "bundle_revision": "r1",
        "fields_released": [["hardship_type", "plain"], ["street", "plain"]],
        "outcome": "OK",
        "reason": "",
        "request_digest": "Q" * 64,
        "response_digest": "R" * 64,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def write_synthetic(path: Path, count: int) -> tuple[str, str, str]:
    """Write the bundle; return the log vkey, the witness vkey and a note at count // 2."""
    log, witness = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    head, tail = _template().split('"at_ns":0', 1)
    sha = hashlib.sha256
    entries = []
    leaves = []
    compact = CompactRange()
    half_root = b""
    for n in range(count):
        digest = sha(b"%d" % n).hexdigest()
        entry = (
            f'{head}"at_ns":{START_NS + n * 1000}{tail}'.replace("cw-XXX", f"cw-{n % 500:03d}")
            .replace("Q" * 64, digest)
            .replace("R" * 64, digest[::-1])
            .encode()
        )
        leaf = sha(b"\x00" + entry).digest()
        entries.append(entry)
        leaves.append(leaf)
        if n == count // 2:
            half_root = compact.root()
        compact.append(leaf)
    note = _note(count, compact.root(), log, witness)
    half_body = f"{ORIGIN}\n{count // 2}\n{base64.b64encode(half_root).decode()}\n"
    _, log_id = _vkey(ORIGIN, log, b"\x01")
    half_signature = base64.b64encode(log_id + log.sign(half_body.encode())).decode()
    half = f"{half_body}\n— {ORIGIN} {half_signature}\n"
    log_vkey, _ = _vkey(ORIGIN, log, b"\x01")
    witness_vkey, _ = _vkey(WITNESS, witness, b"\x04")
    with open(path, "wb", buffering=1 << 20) as out:
        writer = BundleWriter(
            out,
            checkpoint_note=note,
            origin=ORIGIN,
            tree_size=count,
            from_index=0,
            to_index=count,
            log_vkey=log_vkey,
            witnesses=[(WITNESS, witness_vkey)],
        )
        for leaf, entry in zip(leaves, entries, strict=True):
            writer.entry(leaf, entry)
        writer.finish()
    return log_vkey, witness_vkey, half


def baseline(path: Path) -> float:
    sha = hashlib.sha256
    start = time.perf_counter()
    with open(path, "rb") as source:
        for line in source:
            sha(line).digest()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="write the bundle here and keep it")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="aidbridge-bench-verify-")
    path = args.keep or Path(folder) / "ledger.bundle"
    start = time.perf_counter()
    log_vkey, witness_vkey, half = write_synthetic(path, args.count)
    written = time.perf_counter() - start
    size_mb = os.path.getsize(path) / 1e6
    print(
        f"synthetic bundle: {args.count:,} entries, {size_mb:,.0f} MB, written in {written:.1f} s"
    )

    base = baseline(path)  # also warms the page cache for both runs
    base = min(base, baseline(path))
    start, cpu = time.perf_counter(), time.process_time()
    result = verify_bundle(path, vkey=log_vkey, trusted_checkpoint=half, witnesses=[witness_vkey])
    took, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert result.tree_size == args.count and result.cosigned_by == (WITNESS,)
    print(f"verify_bundle:             {took:6.2f} s  ({args.count / took:,.0f} entries/s)")
    # On a shared machine the wall clock includes waiting for a core; the CPU time does not.
    print(f"  of which CPU time:       {cpu:6.2f} s  (load average {os.getloadavg()[0]:.1f})")
    print(f"baseline (read + SHA-256): {base:6.2f} s  ({args.count / base:,.0f} lines/s)")
    print(f"ratio verify / baseline:   {took / base:6.2f}×")
    target = 10.0 * args.count / 1_000_000
    print(f"target ≤ {target:.1f} s for {args.count:,}: {'met' if took <= target else 'NOT met'}")
    if args.keep is None:
        path.unlink()
        os.rmdir(folder)


if __name__ == "__main__":
    main()
