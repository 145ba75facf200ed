"""ExportLedger over real mutual TLS, on SQLite and PostgreSQL: a compliance officer streams a
bundle that the standalone verifier accepts; a charity or a government office is refused and
ledgered; a bad range is INVALID_ARGUMENT naming the field; the streamed bundle is the one
`aidbridge audit export` writes from the store for the same range, byte for byte but for the
header's ``exported_at_ns`` (compared line by line, the header as parsed JSON)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
from sqlalchemy import select

from aidbridge.v1 import audit_pb2
from aidbridge_verify import LeafError, verify_stream
from gateway.client import Client, credentials
from gateway.ledger.entry import Exchange, append
from gateway.services.audit import EXPORT_CHUNK_BYTES
from gateway.store.models import LedgerEntry
from gateway.workdir import init_workdir
from tests.conftest import RunningGateway, fresh_postgres_url, start_gateway
from tests.e2e.flow import CHARITY_A, COMPLIANCE, GOV, adults, pull, refer

EXPORT = "aidbridge.v1.AuditService/ExportLedger"
START_NS = 1_796_000_000_000_000_000


@pytest.fixture(params=["sqlite", "postgresql"])
def gw(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningGateway]:
    db_url = "" if request.param == "sqlite" else fresh_postgres_url()
    config = init_workdir(tmp_path / "work", db_url=db_url)
    # The test integrates (drain) when it wants a new checkpoint: the published one stays put
    # between an export through the store and one through the RPC.
    config = dataclasses.replace(config, sequencer_interval_s=3600.0)
    with contextmanager(start_gateway)(config) as running:
        yield running


def _traffic(gw: RunningGateway, n: int = 0) -> int:
    """A referral and a pull, integrated: returns the published checkpoint's size."""
    gov, charity = gw.client(GOV), gw.client(CHARITY_A)
    referred = refer(gov, adults(1, seed=41 + n)[0], tag=f"ex{n}")
    pull(charity, referred.referral_id)
    app = gw.app
    app.ledger.drain()  # type: ignore[attr-defined]
    with app.store.read() as s:  # type: ignore[attr-defined]
        published = app.publisher.published(s)  # type: ignore[attr-defined]
    return int(published.size)


def _queue_entries(gw: RunningGateway, count: int) -> None:
    """Synthetic entries queued straight into the gateway's store, as calls queue theirs."""
    app = gw.app
    with app.store.write() as s:  # type: ignore[attr-defined]
        for n in range(count):
            append(
                s,
                Exchange(
                    at_ns=START_NS + n,
                    org=GOV,
                    role="government",
                    actor=f"cw-{n % 50:03d}",
                    cert_fingerprint=hashlib.sha256(b"%d" % n).hexdigest(),
                    method="aidbridge.v1.CaseService/GetCase",
                    outcome="OK",
                ),
                app.ledger.authenticator,  # type: ignore[attr-defined]
            )


def _stream(gw: RunningGateway, org: str = COMPLIANCE, **request: int) -> list[bytes]:
    officer = gw.client(org, actor="au-001")
    chunks = officer.audit.ExportLedger(audit_pb2.ExportLedgerRequest(**request), timeout=120)
    return [c.data for c in chunks]


def _refusal(gw: RunningGateway, org: str = COMPLIANCE, **request: int) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        _stream(gw, org, **request)
    return caught.value


def _export_entries(gw: RunningGateway) -> list[tuple[str, str, str]]:
    with gw.app.store.read() as s:  # type: ignore[attr-defined]
        rows = s.execute(
            select(LedgerEntry.org, LedgerEntry.outcome, LedgerEntry.reason)
            .where(LedgerEntry.method == EXPORT)
            .order_by(LedgerEntry.id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_a_compliance_officer_streams_a_bundle_that_verifies(gw: RunningGateway) -> None:
    _traffic(gw)
    _queue_entries(gw, 2500)  # about 1.5 MB of bundle: more than one chunk
    gw.app.ledger.drain()  # type: ignore[attr-defined]
    size = _traffic(gw, 1)

    chunks = _stream(gw)
    assert len(chunks) > 1 and all(0 < len(c) <= EXPORT_CHUNK_BYTES for c in chunks)
    bundle = b"".join(chunks)
    result = verify_stream(io.BytesIO(bundle), vkey=gw.app.vkey)  # type: ignore[attr-defined]
    assert (result.from_index, result.to_index, result.tree_size) == (0, size, size)
    assert result.key_pinned

    # The export is ledgered once, naming the range, before the bundle left.
    root = result.root.hex()
    assert _export_entries(gw) == [
        (
            COMPLIANCE,
            "OK",
            f"export of entries [0, {size}) under the checkpoint of {size} (root {root})",
        )
    ]

    part = b"".join(_stream(gw, from_index=3, to_index=9))
    result = verify_stream(io.BytesIO(part), vkey=gw.app.vkey)  # type: ignore[attr-defined]
    assert (result.from_index, result.to_index) == (3, 9)
    kinds = [line[:1] for line in part.split(b"\n")[2:-2]]
    assert kinds == [b"H"] * 3 + [b"E"] * 6 + [b"H"] * (result.tree_size - 9)

    # A changed entry in the streamed bundle is named by the verifier.
    lines = part.split(b"\n")
    lines[2 + 4] = lines[2 + 4].replace(b'"outcome":"OK"', b'"outcome":"NO"')
    with pytest.raises(LeafError) as caught:
        verify_stream(io.BytesIO(b"\n".join(lines)), vkey=gw.app.vkey)  # type: ignore[attr-defined]
    assert caught.value.index == 4


def test_a_charity_or_a_government_office_is_refused_and_ledgered(gw: RunningGateway) -> None:
    _traffic(gw)
    for org in (CHARITY_A, GOV):
        refused = _refusal(gw, org)
        assert refused.code() == grpc.StatusCode.PERMISSION_DENIED  # type: ignore[attr-defined]
        assert f"may not call {EXPORT}" in refused.details()  # type: ignore[attr-defined]
    entries = _export_entries(gw)
    assert [(org, outcome) for org, outcome, _ in entries] == [
        (CHARITY_A, "PERMISSION_DENIED"),
        (GOV, "PERMISSION_DENIED"),
    ]
    assert all(f"may not call {EXPORT}" in reason for _, _, reason in entries)


def test_a_bad_range_is_invalid_argument_naming_the_field(gw: RunningGateway) -> None:
    size = _traffic(gw)
    cases = [
        ({"to_index": size + 1}, "to_index", "expected at most"),
        ({"from_index": size}, "from_index", "would be empty"),
        ({"from_index": 4, "to_index": 4}, "from_index", "would be empty"),
        ({"from_index": 5, "to_index": 3}, "from_index", "would be empty"),
        ({"from_index": -1}, "from_index", "must be at least 0"),
        ({"to_index": -2}, "to_index", "must be at least 0"),
        ({"to_index": 2**41}, "to_index", "must be at most"),
    ]
    for request, field, words in cases:
        refused = _refusal(gw, **request)
        assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT, request  # type: ignore[attr-defined]
        details = refused.details()  # type: ignore[attr-defined]
        assert details.startswith(field) and words in details, (request, details)
    outcomes = [outcome for _, outcome, _ in _export_entries(gw)]
    assert outcomes == ["INVALID_ARGUMENT"] * len(cases)


def _cli(gw: RunningGateway, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *(sys.executable, "-m", "gateway.cli", "audit", *args),
            *("--work", str(gw.app.config.work_dir)),  # type: ignore[attr-defined]
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=dict(os.environ, COLUMNS="300"),
    )


def _same_bundle(streamed: bytes, written: bytes) -> None:
    """Equal line for line; the headers equal as JSON but for the time of the export."""
    ours, theirs = streamed.split(b"\n"), written.split(b"\n")
    assert len(ours) == len(theirs) and ours[0] == theirs[0]
    header, other = json.loads(ours[1]), json.loads(theirs[1])
    assert header.pop("exported_at_ns") > 0 and other.pop("exported_at_ns") > 0
    assert header == other
    assert ours[2:] == theirs[2:]


def test_the_streamed_bundle_is_the_one_the_cli_writes(gw: RunningGateway, tmp_path: Path) -> None:
    _traffic(gw)
    _queue_entries(gw, 40)
    size = _traffic(gw, 1)
    local = tmp_path / "local.bundle"
    done = _cli(gw, "export", str(local), "--from", "2", "--to", "30")
    assert done.returncode == 0, done.stderr

    streamed = b"".join(_stream(gw, from_index=2, to_index=30))
    _same_bundle(streamed, local.read_bytes())

    # The CLI as the gateway's client: the same bundle, through ExportLedger.
    remote = tmp_path / "remote.bundle"
    done = _cli(
        gw,
        *("export", str(remote), "--from", "2", "--to", "30", "--server"),
        *("--target", gw.target, "--caller", COMPLIANCE, "--actor", "au-002"),
    )
    assert done.returncode == 0, done.stderr
    assert f"entries 2–30 of the checkpoint of {size} streamed from the gateway" in " ".join(
        done.stdout.split()
    )
    _same_bundle(remote.read_bytes(), local.read_bytes())
    vkey = gw.app.config.vkey_path  # type: ignore[attr-defined]
    done = _cli(gw, "verify", str(remote), "--vkey", str(vkey))
    assert done.returncode == 0, done.stderr
    assert f"bundle verified: entries 2–30 of a tree of {size}" in " ".join(done.stdout.split())

    # A refusal through the CLI leaves no file behind.
    refused = tmp_path / "refused.bundle"
    done = _cli(
        gw,
        *("export", str(refused), "--to", str(size + 5), "--server"),
        *("--target", gw.target, "--caller", COMPLIANCE, "--actor", "au-002"),
    )
    assert done.returncode == 1 and "INVALID_ARGUMENT: to_index" in done.stderr
    assert not refused.exists() and not refused.with_name("refused.bundle.partial").exists()
    assert [outcome for org, outcome, _ in _export_entries(gw)] == ["OK", "OK", "INVALID_ARGUMENT"]


def _export_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "ledger-export"]


def test_a_client_that_goes_away_stops_the_export(gw: RunningGateway) -> None:
    _queue_entries(gw, 12_000)  # about 8 MB of bundle: the writer waits for the client
    size = _traffic(gw)
    officer = gw.client(COMPLIANCE, actor="au-001")
    stream = officer.audit.ExportLedger(audit_pb2.ExportLedgerRequest(), timeout=120)
    first = next(stream)
    assert first.data.startswith(b"aidbridge-ledger-bundle/v1\n")
    stream.cancel()
    with pytest.raises(grpc.RpcError) as caught:
        for _ in stream:
            pass
    assert caught.value.code() == grpc.StatusCode.CANCELLED  # type: ignore[attr-defined]
    for _ in range(600):  # the writer thread notices within a poll of its queue
        if not _export_threads():
            break
        time.sleep(0.05)
    assert not _export_threads()

    bundle = b"".join(_stream(gw))  # the gateway serves the next export in full
    result = verify_stream(io.BytesIO(bundle), vkey=gw.app.vkey)  # type: ignore[attr-defined]
    assert result.tree_size == size


def test_a_store_lost_mid_export_ends_the_stream_unavailable_and_ledgered(
    gw: RunningGateway,
) -> None:
    app = gw.app
    if not app.store.url.startswith("postgresql"):  # type: ignore[attr-defined]
        pytest.skip("the fault is a PostgreSQL backend terminated under the export")
    import psycopg

    _queue_entries(gw, 40_000)  # about 27 MB of bundle, far beyond what the buffers hold
    size = _traffic(gw)
    # A client that keeps HTTP/2's first flow-control window (no BDP probing), so the gateway
    # runs ahead of it by a few chunks only and the export's reader waits.
    channel = grpc.secure_channel(
        gw.target,
        credentials(gw.certs, COMPLIANCE),
        options=[("grpc.ssl_target_name_override", "localhost"), ("grpc.http2.bdp_probe", 0)],
    )
    officer = Client(channel, "au-001")
    stream = officer.audit.ExportLedger(audit_pb2.ExportLedgerRequest(), timeout=120)
    received = [next(stream).data]
    # The export's reader (a server-side cursor) waits for the client inside its read
    # transaction: end that backend.
    with psycopg.connect(os.environ["AIDBRIDGE_TEST_PG_URL"], autocommit=True) as admin:
        for _ in range(600):  # until the reader has filled the stream's buffers and waits
            ended = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE state = 'idle in transaction' "
                "AND (query LIKE 'FETCH %' OR query LIKE 'DECLARE %')"
            ).fetchall()
            if ended:
                break
            time.sleep(0.05)
    assert ended == [(True,)]
    with pytest.raises(grpc.RpcError) as caught:
        for chunk in stream:
            received.append(chunk.data)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    sent = sum(len(c) for c in received)
    assert f"stopped after {sent} bytes: store unavailable" in caught.value.details()  # type: ignore[attr-defined]
    assert not b"".join(received).endswith(b"end %d\n" % size)

    # Two entries: the export as it began, and where it stopped.
    entries = _export_entries(gw)
    assert [outcome for _, outcome, _ in entries] == ["OK", "UNAVAILABLE"]
    assert entries[1][2].startswith(f"export of entries [0, {size}) under the checkpoint")
    channel.close()
    bundle = b"".join(_stream(gw))  # the next export is whole again
    assert verify_stream(io.BytesIO(bundle), vkey=app.vkey).tree_size == size  # type: ignore[attr-defined]
