"""The gateway's side of witnessing, against real witnesses over HTTP: cosignatures collected,
verified and stored; a later checkpoint sent with its consistency proof; a witness that says it
holds another size asked again from that size; a witness with another key, or down, never
counted and never an error for the calls; k-of-n publication."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete

from gateway.clock import FixedClock
from gateway.config import WitnessEndpoint
from gateway.ledger.checkpoint import open_checkpoint, verifier_key
from gateway.ledger.cosignature import find_cosignature, parse_witness_vkey, witness_vkey
from gateway.ledger.entry import Exchange, append
from gateway.ledger.log import Ledger
from gateway.ledger.witness import Witness, init_witness
from gateway.ledger.witness_http import BackgroundWitness
from gateway.ledger.witness_publishing import (
    WitnessPublisher,
    configured_witnesses,
    cosigned_note,
)
from gateway.store import Store
from gateway.store.models import LedgerCosignature
from tests.ledger.conftest import AUTHENTICATOR, ORIGIN, START_NS


def _grow(store: Store, ledger: Ledger, count: int) -> int:
    with store.write() as s:
        for n in range(count):
            append(
                s,
                Exchange(
                    at_ns=START_NS + n,
                    org="jb-civil-affairs",
                    role="government",
                    actor="cw-001",
                    cert_fingerprint="0" * 64,
                    method="aidbridge.v1.CaseService/GetCase",
                ),
                AUTHENTICATOR,
            )
    ledger.drain()
    latest = ledger.latest_checkpoint()
    assert latest is not None
    return latest.size


def _witness(tmp_path: Path, name: str, signing_key: Ed25519PrivateKey) -> Witness:
    return init_witness(
        tmp_path / name.replace("/", "_"), name, [verifier_key(ORIGIN, signing_key.public_key())]
    )


def _publisher(store, ledger, endpoints, quorum):  # type: ignore[no-untyped-def]
    return WitnessPublisher(
        store, ledger, configured_witnesses(endpoints), FixedClock(START_NS), quorum=quorum
    )


def test_two_witnesses_cosign_and_a_later_checkpoint_goes_with_its_proof(
    tmp_path: Path, store: Store, ledger: Ledger, signing_key: Ed25519PrivateKey
) -> None:
    first, second = (_witness(tmp_path, n, signing_key) for n in ("a.test/w", "b.test/w"))
    with BackgroundWitness(first) as url_a, BackgroundWitness(second) as url_b:
        endpoints = [
            WitnessEndpoint(first.name, first.vkey, url_a),
            WitnessEndpoint(second.name, second.vkey, url_b),
        ]
        publisher = _publisher(store, ledger, endpoints, quorum=2)
        size = _grow(store, ledger, 7)
        assert publisher.collect() == {
            first.name: f"cosigned {size}",
            second.name: f"cosigned {size}",
        }
        grown = _grow(store, ledger, 30)
        assert publisher.collect() == {
            first.name: f"cosigned {grown}",
            second.name: f"cosigned {grown}",
        }
        assert publisher.collect() == {}  # nothing new: no witness is asked
    held = first.cosigned(ORIGIN)
    assert held is not None and held.size == grown
    with store.read() as s:
        published = publisher.published(s)
        assert published is not None and published.size == grown
        assert published.cosigned_by == (first.name, second.name)
        assert cosigned_note(s, size) is not None
    assert open_checkpoint(published.note, ledger.vkey).size == grown
    for witness in (first, second):
        assert find_cosignature(published.note, parse_witness_vkey(witness.vkey)) is not None


def test_a_witness_that_holds_another_size_is_asked_again_from_it(
    tmp_path: Path, store: Store, ledger: Ledger, signing_key: Ed25519PrivateKey
) -> None:
    witness = _witness(tmp_path, "a.test/w", signing_key)
    with BackgroundWitness(witness) as url:
        publisher = _publisher(store, ledger, [WitnessEndpoint(witness.name, witness.vkey, url)], 1)
        _grow(store, ledger, 5)
        publisher.collect()
        with store.write() as s:  # the gateway lost what it stored; the witness remembers
            s.execute(delete(LedgerCosignature))
        grown = _grow(store, ledger, 9)
        assert publisher.collect() == {witness.name: f"cosigned {grown}"}


def test_a_witness_with_another_key_or_down_is_never_counted(
    tmp_path: Path, store: Store, ledger: Ledger, signing_key: Ed25519PrivateKey
) -> None:
    impostor = _witness(tmp_path, "a.test/w", signing_key)
    expected = witness_vkey("a.test/w", Ed25519PrivateKey.generate().public_key())
    with BackgroundWitness(impostor) as url:
        endpoints = [
            WitnessEndpoint("a.test/w", expected, url),
            WitnessEndpoint(
                "b.test/w",
                witness_vkey("b.test/w", Ed25519PrivateKey.generate().public_key()),
                "http://127.0.0.1:9",
            ),
        ]
        publisher = _publisher(store, ledger, endpoints, quorum=1)
        _grow(store, ledger, 4)
        outcomes = publisher.collect()
    assert outcomes["a.test/w"].startswith("failed: CosignatureError")
    assert outcomes["b.test/w"].startswith("failed: URLError")
    with store.read() as s:
        assert publisher.published(s) is None
        assert _publisher(store, ledger, endpoints, 0).published(s) is not None


def test_a_gateway_restored_from_an_old_backup_cannot_get_its_fork_cosigned(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    import shutil

    from gateway.store.db import sqlite_url

    path, backup = tmp_path / "gateway.db", tmp_path / "backup.db"

    def open_ledger() -> tuple[Store, Ledger]:
        store = Store(sqlite_url(path))
        store.migrate()
        return store, Ledger(store, signing_key, ORIGIN, FixedClock(START_NS), AUTHENTICATOR)

    witness = _witness(tmp_path, "a.test/w", signing_key)
    with BackgroundWitness(witness) as url:
        endpoints = [WitnessEndpoint(witness.name, witness.vkey, url)]
        store, ledger = open_ledger()
        _grow(store, ledger, 4)
        assert _publisher(store, ledger, endpoints, 1).collect() == {witness.name: "cosigned 4"}
        store.dispose()
        shutil.copy(path, backup)
        store, ledger = open_ledger()
        _grow(store, ledger, 6)
        assert _publisher(store, ledger, endpoints, 1).collect() == {witness.name: "cosigned 10"}
        store.dispose()

        shutil.copy(backup, path)  # the operator restores last week's backup and carries on
        store, ledger = open_ledger()
        publisher = _publisher(store, ledger, endpoints, 1)
        _grow(store, ledger, 3)  # a different history from entry 4 on, size 7
        assert "above ours" in publisher.collect()[witness.name]
        _grow(store, ledger, 8)  # size 15: past what the witness holds, but not extending it
        assert publisher.collect()[witness.name].startswith("refused: HTTP 422")
        with store.read() as s:
            published = publisher.published(s)
        store.dispose()
    # Only what the witness cosigned before the restore is published; the fork never is.
    assert published is not None and published.size == 4
    held = witness.cosigned(ORIGIN)
    assert held is not None and held.size == 10
