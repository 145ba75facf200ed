"""The sequencer, proofs and verification on a real store (SQLite file; PostgreSQL too when
AIDBRIDGE_TEST_PG_URL is set): entries get gap-free positions, every checkpoint verifies, and
any row altered behind the ledger's back is reported by index."""

from __future__ import annotations

import hashlib
import itertools
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from faker import Faker
from sqlalchemy import select, text

from gateway.clock import FixedClock
from gateway.ledger.checkpoint import open_checkpoint, sign_checkpoint, verifier_key
from gateway.ledger.entry import Exchange, append, canonical_entry
from gateway.ledger.log import (
    Ledger,
    LedgerStateError,
    export_entries,
    verify,
    verify_export,
)
from gateway.ledger.rfc9162 import (
    ProofRangeError,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from gateway.store import Store
from gateway.store.models import LedgerCheckpoint, LedgerEntry

from .conftest import AUTHENTICATOR, ORIGIN

fake = Faker("zh_CN")
Faker.seed(6962)

METHODS = [
    "/aidbridge.v1.CaseService/RegisterCase",
    "/aidbridge.v1.ReferralService/GetSummary",
    "/aidbridge.v1.ConsentService/Withdraw",
]


def _exchange(n: int) -> Exchange:
    denied = n % 5 == 4
    return Exchange(
        at_ns=1_767_225_600_000_000_000 + n * 1_000_000,
        org=f"org-{fake.random_int(1, 9)}",
        role="charity" if n % 2 else "government",
        actor="caseworker-" + fake.numerify("####"),
        cert_fingerprint=hashlib.sha256(str(n).encode()).hexdigest(),
        method=METHODS[n % len(METHODS)],
        subject="k1:" + fake.hexify("^" * 32),
        purpose="hardship_assistance",
        outcome="PERMISSION_DENIED" if denied else "OK",
        reason=fake.sentence() if denied else "",
        request_digest=hashlib.sha256(f"req{n}".encode()).hexdigest(),
    )


def _queue(store: Store, start: int, count: int) -> list[bytes]:
    """Append entries one exchange per transaction, as calls do; return their texts."""
    entries = []
    for n in range(start, start + count):
        ex = _exchange(n)
        with store.write() as s:
            append(s, ex, AUTHENTICATOR)
        entries.append(canonical_entry(ex))
    return entries


def _sql(store: Store, statement: str, **params: object) -> None:
    with store.write() as s:
        s.execute(text(statement), params)


def test_integrate_gives_queued_entries_consecutive_positions_and_a_signed_checkpoint(
    store: Store, ledger: Ledger
) -> None:
    entries = _queue(store, 0, 5)
    assert ledger.latest_checkpoint() is None

    assert ledger.integrate() == 5

    with store.read() as s:
        rows = s.execute(select(LedgerEntry.idx, LedgerEntry.entry_json).order_by(LedgerEntry.id))
        assert [(r.idx, r.entry_json.encode()) for r in rows] == list(enumerate(entries))
    latest = ledger.latest_checkpoint()
    assert latest is not None
    assert latest.size == 5
    assert latest.root == root_from_leaf_hashes(leaf_hash(e) for e in entries)
    opened = open_checkpoint(latest.note, ledger.vkey)
    assert (opened.origin, opened.size, opened.root) == (ORIGIN, 5, latest.root)


def test_integrate_with_nothing_queued_signs_nothing(store: Store, ledger: Ledger) -> None:
    assert ledger.integrate() == 0
    _queue(store, 0, 2)
    ledger.integrate()
    assert ledger.integrate() == 0
    with store.read() as s:
        assert (
            s.scalar(select(LedgerCheckpoint.tree_size).order_by(LedgerCheckpoint.tree_size)) == 2
        )
        assert len(s.scalars(select(LedgerCheckpoint)).all()) == 1


def test_rolled_back_exchange_leaves_no_entry(store: Store, ledger: Ledger) -> None:
    with pytest.raises(RuntimeError), store.write() as s:
        append(s, _exchange(0), AUTHENTICATOR)
        raise RuntimeError("the call failed after its entry was queued")
    assert ledger.integrate() == 0


def test_checkpoints_in_batches_are_consistent_and_every_entry_is_provably_included(
    store: Store, ledger: Ledger
) -> None:
    entries = _queue(store, 0, 11)
    assert [ledger.integrate(max_batch=4) for _ in range(4)] == [4, 4, 3, 0]
    with store.read() as s:
        signed = [
            open_checkpoint(note, ledger.vkey)
            for note in s.scalars(
                select(LedgerCheckpoint.note).order_by(LedgerCheckpoint.tree_size)
            )
        ]
    assert [c.size for c in signed] == [4, 8, 11]
    for old, new in itertools.pairwise(signed):
        proof = ledger.consistency_proof(old.size, new.size)
        verify_consistency(old.size, new.size, proof, old.root, new.root)
    latest = signed[-1]
    for index, entry in enumerate(entries):
        proof = ledger.inclusion_proof(index, latest.size)
        verify_inclusion(leaf_hash(entry), index, latest.size, proof, latest.root)


def test_proofs_beyond_the_signed_tree_are_refused_as_value_errors(
    store: Store, ledger: Ledger
) -> None:
    _queue(store, 0, 3)
    ledger.integrate()
    with pytest.raises(ProofRangeError, match=r"expected a tree size in \[1, 3\]"):
        ledger.inclusion_proof(0, 4)
    with pytest.raises(ValueError, match=r"leaf index in \[0, 3\), found 3"):
        ledger.inclusion_proof(3, 3)
    with pytest.raises(ValueError, match="found old size 0"):
        ledger.consistency_proof(0, 3)


def test_verify_accepts_an_untouched_ledger(store: Store, ledger: Ledger) -> None:
    _queue(store, 0, 9)
    ledger.integrate(max_batch=4)
    ledger.integrate(max_batch=4)
    ledger.integrate(max_batch=4)
    _queue(store, 9, 2)  # queued, not yet sequenced: not part of the tree, not a problem
    report = verify(store, ledger.vkey, AUTHENTICATOR)
    latest = ledger.latest_checkpoint()
    assert latest is not None
    assert report.problems == []
    assert report.ok and report.tree_size == 9 and report.root == latest.root


def test_verify_of_an_empty_ledger_is_ok(store: Store, ledger: Ledger) -> None:
    report = verify(store, ledger.vkey, AUTHENTICATOR)
    assert report.ok and report.tree_size == 0


def _sequenced(store: Store, ledger: Ledger, count: int = 6) -> None:
    _queue(store, 0, count)
    while ledger.integrate(max_batch=3):
        pass


def _problems(store: Store, ledger: Ledger) -> list[str]:
    report = verify(store, ledger.vkey, AUTHENTICATOR)
    assert not report.ok
    return report.problems


def test_verify_reports_entry_text_altered_in_the_database(store: Store, ledger: Ledger) -> None:
    _sequenced(store, ledger)
    _sql(
        store,
        "UPDATE ledger_entries SET entry_json = replace(entry_json, '\"OK\"', '\"NOT_FOUND\"') "
        "WHERE idx = 2",
    )
    problems = _problems(store, ledger)
    assert "entry 2: stored leaf_hash does not match the hash of its entry_json" in problems
    assert "entry 2: column outcome is 'OK' but the entry says 'NOT_FOUND'" in problems
    assert any(p.startswith("checkpoint at size 3: stored root") for p in problems)
    assert any(p.startswith("checkpoint at size 3: the signed root") for p in problems)


def test_verify_reports_a_row_rewritten_consistently_against_the_signed_checkpoint(
    store: Store, ledger: Ledger
) -> None:
    # A careful forger rewrites the text, its hash and its columns together: the entry
    # authenticator names the entry, and the signed checkpoint fails too.
    _sequenced(store, ledger)
    ex = _exchange(99)
    forged = canonical_entry(ex)
    _sql(
        store,
        "UPDATE ledger_entries SET entry_json = :e, leaf_hash = :h, org = :org, role = :role, "
        "actor = :actor, method = :method, subject = :subject, outcome = :outcome, "
        "reason = :reason, at_ns = :at WHERE idx = 4",
        e=forged.decode(),
        h=leaf_hash(forged),
        org=ex.org,
        role=ex.role,
        actor=ex.actor,
        method=ex.method,
        subject=ex.subject,
        outcome=ex.outcome,
        reason=ex.reason,
        at=ex.at_ns,
    )
    problems = _problems(store, ledger)
    assert any(p.startswith("checkpoint at size 6: the signed root") for p in problems)
    assert [p for p in problems if p.startswith("entry ")] == [
        "entry 4: entry_json does not match its authenticator: altered after it was written"
    ]


def test_verify_reports_an_altered_leaf_hash(store: Store, ledger: Ledger) -> None:
    _sequenced(store, ledger)
    _sql(store, "UPDATE ledger_entries SET leaf_hash = :h WHERE idx = 1", h=b"\x00" * 32)
    assert _problems(store, ledger) == [
        "entry 1: stored leaf_hash does not match the hash of its entry_json"
    ]


@pytest.mark.parametrize(("column", "value"), [("org", "org-forged"), ("at_ns", 5), ("actor", "")])
def test_verify_reports_an_altered_plain_column(
    store: Store, ledger: Ledger, column: str, value: object
) -> None:
    _sequenced(store, ledger)
    _sql(store, f"UPDATE ledger_entries SET {column} = :v WHERE idx = 3", v=value)
    problems = _problems(store, ledger)
    assert len(problems) == 1
    assert problems[0].startswith(f"entry 3: column {column} is {value!r} but the entry says")


def test_verify_reports_a_deleted_row_by_its_index(store: Store, ledger: Ledger) -> None:
    _sequenced(store, ledger)
    _sql(store, "DELETE FROM ledger_entries WHERE idx = 2")
    problems = _problems(store, ledger)
    assert "entry 2 missing: indices jump from 1 to 3" in problems


def test_verify_reports_the_last_row_deleted(store: Store, ledger: Ledger) -> None:
    _sequenced(store, ledger)
    _sql(store, "DELETE FROM ledger_entries WHERE idx = 5")
    problems = _problems(store, ledger)
    assert any("entry 5..5 missing" in p for p in problems)


def test_verify_reports_a_checkpoint_replaced_with_one_signed_by_another_key(
    store: Store, ledger: Ledger
) -> None:
    _sequenced(store, ledger)
    latest = ledger.latest_checkpoint()
    assert latest is not None
    forged = sign_checkpoint(ORIGIN, latest.size, latest.root, Ed25519PrivateKey.generate())
    _sql(store, "UPDATE ledger_checkpoints SET note = :n WHERE tree_size = 6", n=forged)
    assert _problems(store, ledger) == [
        f"checkpoint at size 6: expected a signature by key {ORIGIN!r}, found none"
    ]


def test_verify_reports_a_checkpoint_whose_root_was_replaced(store: Store, ledger: Ledger) -> None:
    _sequenced(store, ledger)
    _sql(store, "UPDATE ledger_checkpoints SET root_hash = :r WHERE tree_size = 3", r=b"\x01" * 32)
    problems = _problems(store, ledger)
    assert len(problems) == 1 and problems[0].startswith("checkpoint at size 3: stored root")


def test_verify_reports_entries_no_checkpoint_covers(store: Store, ledger: Ledger) -> None:
    _sequenced(store, ledger)
    _sql(store, "DELETE FROM ledger_checkpoints WHERE tree_size = 6")
    problems = _problems(store, ledger)
    assert any("the latest checkpoint covers 3 entries but the log holds 6" in p for p in problems)


def test_sequencer_refuses_to_sign_when_its_state_disagrees_with_the_last_checkpoint(
    store: Store, ledger: Ledger
) -> None:
    _sequenced(store, ledger)
    _sql(store, "DELETE FROM ledger_state")  # a reset state would restart the tree at 0
    _queue(store, 6, 2)
    with pytest.raises(LedgerStateError, match="expected the sequencer state to match"):
        ledger.integrate()
    latest = ledger.latest_checkpoint()
    assert latest is not None and latest.size == 6


def test_two_sequencers_at_once_neither_duplicate_nor_skip_positions(
    store: Store, signing_key: Ed25519PrivateKey
) -> None:
    total = 120
    errors: list[BaseException] = []
    added: list[int] = []
    done = threading.Event()

    def appender(start: int) -> None:
        try:
            _queue(store, start, total // 2)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    def sequencer() -> None:
        own = Ledger(store, signing_key, ORIGIN, FixedClock(0), AUTHENTICATOR)
        try:
            while not done.is_set():
                added.append(own.integrate(max_batch=7))
        except BaseException as exc:
            errors.append(exc)

    appenders = [threading.Thread(target=appender, args=(i * total // 2,)) for i in range(2)]
    sequencers = [threading.Thread(target=sequencer) for _ in range(2)]
    for t in appenders + sequencers:
        t.start()
    for t in appenders:
        t.join()
    done.set()
    for t in sequencers:
        t.join()
    added.append(Ledger(store, signing_key, ORIGIN, FixedClock(0), AUTHENTICATOR).integrate())

    assert errors == []
    assert sum(added) == total
    with store.read() as s:
        positions = sorted(s.scalars(select(LedgerEntry.idx)))
    assert positions == list(range(total))
    report = verify(store, verifier_key(ORIGIN, signing_key.public_key()), AUTHENTICATOR)
    assert report.problems == [] and report.tree_size == total


def test_run_integrates_in_the_background_until_stopped(store: Store, ledger: Ledger) -> None:
    stop = threading.Event()
    worker = threading.Thread(target=ledger.run, args=(stop, 0.01))
    worker.start()
    try:
        _queue(store, 0, 3)
        for _ in range(500):
            latest = ledger.latest_checkpoint()
            if latest is not None and latest.size == 3:
                break
            stop.wait(0.01)
    finally:
        stop.set()
        worker.join()
    latest = ledger.latest_checkpoint()
    assert latest is not None and latest.size == 3


def test_export_verifies_offline_against_its_checkpoint(
    store: Store, ledger: Ledger, tmp_path: Path
) -> None:
    _sequenced(store, ledger, count=7)
    path = tmp_path / "ledger.jsonl"
    checkpoint = export_entries(store, path)
    assert checkpoint is not None and checkpoint.size == 7
    report = verify_export(path, checkpoint.note, ledger.vkey)
    assert report.ok and report.tree_size == 7 and report.root == checkpoint.root


def test_export_with_one_altered_line_fails_offline_verification(
    store: Store, ledger: Ledger, tmp_path: Path
) -> None:
    _sequenced(store, ledger)
    path = tmp_path / "ledger.jsonl"
    checkpoint = export_entries(store, path)
    assert checkpoint is not None
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[3] = lines[3].replace('"v":1', '"v":2')
    path.write_text("".join(lines), encoding="utf-8")
    report = verify_export(path, checkpoint.note, ledger.vkey)
    assert not report.ok and report.problems[0].startswith("expected the signed root")

    lines.pop()
    path.write_text("".join(lines), encoding="utf-8")
    report = verify_export(path, checkpoint.note, ledger.vkey)
    assert report.problems == ["the checkpoint covers 6 entries, the export holds 5"]


def test_export_does_not_verify_under_another_key(
    store: Store, ledger: Ledger, tmp_path: Path
) -> None:
    _sequenced(store, ledger)
    path = tmp_path / "ledger.jsonl"
    checkpoint = export_entries(store, path)
    assert checkpoint is not None
    other = verifier_key(ORIGIN, Ed25519PrivateKey.generate().public_key())
    report = verify_export(path, checkpoint.note, other)
    assert not report.ok and "expected a signature by key" in report.problems[0]
