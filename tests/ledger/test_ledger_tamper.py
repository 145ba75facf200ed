"""Writes to the store behind the gateway's back, on a real store (SQLite file, and PostgreSQL
with AIDBRIDGE_TEST_PG_URL): each alteration is named by the index (or row id) where it happened,
a row the gateway did not queue is never sequenced or signed, and a rollback or fork of the store
fails against a checkpoint the verifier kept."""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert, select, text

from gateway.ledger.authenticator import EntryAuthenticator
from gateway.ledger.checkpoint import open_checkpoint, sign_checkpoint
from gateway.ledger.entry import Exchange, append, canonical_entry
from gateway.ledger.log import Ledger, verify
from gateway.ledger.rfc9162 import CompactRange, leaf_hash
from gateway.store import Store
from gateway.store.models import (
    LedgerCheckpoint,
    LedgerEntry,
    LedgerRejectedEntry,
    LedgerState,
)

from .conftest import AUTHENTICATOR, ORIGIN, START_NS


def _exchange(n: int, outcome: str = "OK") -> Exchange:
    return Exchange(
        at_ns=START_NS + n * 1_000_000,
        org="civil-affairs-yubei" if n % 2 else "charity-sunrise",
        role="government" if n % 2 else "charity",
        actor=f"caseworker-{n:04d}",
        cert_fingerprint=hashlib.sha256(str(n).encode()).hexdigest(),
        method="/aidbridge.v1.ReferralService/PullCaseSummary",
        subject="k1:" + hashlib.sha256(f"subject{n}".encode()).hexdigest()[:32],
        outcome=outcome,
        request_digest=hashlib.sha256(f"req{n}".encode()).hexdigest(),
    )


def _queue(store: Store, start: int, count: int) -> None:
    for n in range(start, start + count):
        with store.write() as s:
            append(s, _exchange(n), AUTHENTICATOR)


def _sequenced(store: Store, ledger: Ledger, count: int = 8) -> None:
    _queue(store, 0, count)
    ledger.drain(max_batch=3)


def _sql(store: Store, statement: str, **params: object) -> None:
    with store.write() as s:
        s.execute(text(statement), params)


def _problems(store: Store, ledger: Ledger, trusted: str | None = None) -> list[str]:
    report = verify(store, ledger.vkey, AUTHENTICATOR, trusted_checkpoint=trusted)
    assert not report.ok
    return report.problems


def _forge_row(store: Store, n: int, *, idx: int | None, mac: bytes | None = None) -> int:
    """Insert a well-formed entry as an intruder would: text, columns and a valid leaf hash,
    but no authenticator of the gateway's (or one made under another key)."""
    ex = _exchange(n, outcome="OK")
    entry = canonical_entry(ex)
    with store.write() as s:
        result = s.execute(
            insert(LedgerEntry).returning(LedgerEntry.id),
            {
                "idx": idx,
                "at_ns": ex.at_ns,
                "org": ex.org,
                "role": ex.role,
                "actor": ex.actor,
                "method": ex.method,
                "subject": ex.subject,
                "outcome": ex.outcome,
                "reason": ex.reason,
                "entry_json": entry.decode(),
                "leaf_hash": leaf_hash(entry),
                "entry_mac": mac,
            },
        )
        return int(result.scalar_one())


def _shift(store: Store, from_idx: int, by: int) -> None:
    """Renumber entries from ``from_idx`` on by ``by``, through negative indices so the unique
    constraint holds after every row (PostgreSQL checks it row by row)."""
    _sql(store, "UPDATE ledger_entries SET idx = -idx - 1 WHERE idx >= :f", f=from_idx)
    _sql(store, "UPDATE ledger_entries SET idx = -idx - 1 + :by WHERE idx < 0", by=by)


def test_entry_text_changed_with_its_leaf_hash_recomputed_is_named_by_index(
    store: Store, ledger: Ledger
) -> None:
    _sequenced(store, ledger)
    with store.read() as s:
        entry = s.scalar(select(LedgerEntry.entry_json).where(LedgerEntry.idx == 5))
    assert entry is not None and '"outcome":"OK"' in entry
    altered = entry.replace('"outcome":"OK"', '"outcome":"NO"').encode()
    _sql(
        store,
        "UPDATE ledger_entries SET entry_json = :e, leaf_hash = :h WHERE idx = 5",
        e=altered.decode(),
        h=leaf_hash(altered),
    )
    problems = _problems(store, ledger)
    entry_problems = [p for p in problems if p.startswith("entry ")]
    assert entry_problems == [
        "entry 5: entry_json does not match its authenticator: altered after it was written",
        "entry 5: column outcome is 'OK' but the entry says 'NO'",
    ]


def test_two_rows_swapped_are_both_named_by_index(store: Store, ledger: Ledger) -> None:
    _sequenced(store, ledger)
    _sql(store, "UPDATE ledger_entries SET idx = -1 WHERE idx = 1")
    _sql(store, "UPDATE ledger_entries SET idx = 1 WHERE idx = 6")
    _sql(store, "UPDATE ledger_entries SET idx = 6 WHERE idx = -1")
    problems = _problems(store, ledger)
    assert [p for p in problems if p.startswith("entry ")] == [
        f"entry {i}: not the entry the sequencer put at index {i} (its position authenticator "
        "does not match): moved, swapped or inserted"
        for i in (1, 6)
    ]


def test_a_forged_row_inserted_mid_log_is_named_and_so_is_the_first_entry_it_displaced(
    store: Store, ledger: Ledger
) -> None:
    _sequenced(store, ledger)
    _shift(store, 3, by=1)
    _forge_row(store, 99, idx=3)
    problems = _problems(store, ledger)
    named = [p for p in problems if p.startswith("entry ")]
    assert named[0] == "entry 3: carries no entry authenticator: not written by this gateway"
    assert named[1].startswith("entry 4: not the entry the sequencer put at index 4")


def test_a_genuine_entry_replayed_at_another_index_is_named(store: Store, ledger: Ledger) -> None:
    # A copy of a real row carries valid tags, but its position tag is for its own index.
    _sequenced(store, ledger)
    _shift(store, 2, by=1)
    _sql(
        store,
        "INSERT INTO ledger_entries (idx, at_ns, org, role, actor, method, subject, outcome, "
        "reason, entry_json, leaf_hash, entry_mac, position_mac) SELECT 2, at_ns, org, role, "
        "actor, method, subject, outcome, reason, entry_json, leaf_hash, entry_mac, position_mac "
        "FROM ledger_entries WHERE idx = 6",
    )
    named = [p for p in _problems(store, ledger) if p.startswith("entry ")]
    assert named[0].startswith("entry 2: not the entry the sequencer put at index 2")


def test_a_deleted_row_is_named_whether_or_not_the_rest_were_renumbered(
    store: Store, ledger: Ledger
) -> None:
    _sequenced(store, ledger)
    _sql(store, "DELETE FROM ledger_entries WHERE idx = 4")
    assert "entry 4 missing: indices jump from 3 to 5" in _problems(store, ledger)

    _shift(store, 5, by=-1)
    named = [p for p in _problems(store, ledger) if p.startswith("entry ")]
    assert named[0].startswith("entry 4: not the entry the sequencer put at index 4")


def test_a_forged_queued_row_is_reported_then_rejected_and_never_signed(
    store: Store, ledger: Ledger
) -> None:
    _sequenced(store, ledger, count=4)
    _queue(store, 4, 1)
    forged = _forge_row(store, 77, idx=None)
    other_key = EntryAuthenticator(b"\x42" * 32).entry_tag(canonical_entry(_exchange(78)))
    forged_with_a_guess = _forge_row(store, 78, idx=None, mac=other_key)
    _queue(store, 5, 2)  # genuine entries queued after the forgeries

    before = verify(store, ledger.vkey, AUTHENTICATOR)
    assert before.queued == 5
    assert [p for p in before.problems if p.startswith("queued")] == [
        f"queued row id {row}: no valid entry authenticator: not written by this gateway "
        "(the sequencer will refuse it)"
        for row in (forged, forged_with_a_guess)
    ]

    assert ledger.integrate() == 3  # the three genuine ones, not held up by the forgeries

    with store.read() as s:
        sequenced = s.execute(
            select(LedgerEntry.idx, LedgerEntry.actor).order_by(LedgerEntry.idx)
        ).all()
        rejected = s.execute(
            select(LedgerRejectedEntry.entry_id, LedgerRejectedEntry.reason).order_by(
                LedgerRejectedEntry.id
            )
        ).all()
        notes = list(s.scalars(select(LedgerCheckpoint.note)))
    assert [r.idx for r in sequenced] == list(range(7))
    assert [r.actor for r in sequenced[4:]] == [f"caseworker-{n:04d}" for n in (4, 5, 6)]
    assert rejected == [
        (forged, "queued without an entry authenticator: not written by this gateway"),
        (
            forged_with_a_guess,
            "entry authenticator does not match its entry_json: forged or altered",
        ),
    ]
    forged_leaves = {leaf_hash(canonical_entry(_exchange(n))) for n in (77, 78)}
    assert max(open_checkpoint(note, ledger.vkey).size for note in notes) == 7
    with store.read() as s:
        assert not forged_leaves & set(s.scalars(select(LedgerEntry.leaf_hash)))

    after = verify(store, ledger.vkey, AUTHENTICATOR)
    assert after.queued == 0 and after.rejected == 2 and after.tree_size == 7
    assert after.problems == [
        f"rejected row id {forged}: queued without an entry authenticator: not written by this "
        "gateway; never sequenced or signed (kept in ledger_rejected_entries)",
        f"rejected row id {forged_with_a_guess}: entry authenticator does not match its "
        "entry_json: forged or altered; never sequenced or signed (kept in "
        "ledger_rejected_entries)",
    ]


def test_a_queued_row_altered_after_it_was_written_is_rejected(
    store: Store, ledger: Ledger
) -> None:
    _queue(store, 0, 3)
    _sql(
        store,
        "UPDATE ledger_entries SET entry_json = replace(entry_json, 'caseworker-0001', "
        "'caseworker-9999') WHERE actor = 'caseworker-0001'",
    )
    assert ledger.integrate() == 2
    report = verify(store, ledger.vkey, AUTHENTICATOR)
    assert report.rejected == 1 and report.tree_size == 2


def test_verify_reports_entries_still_queued(store: Store, ledger: Ledger) -> None:
    _sequenced(store, ledger, count=3)
    _queue(store, 3, 2)
    report = verify(store, ledger.vkey, AUTHENTICATOR)
    assert report.ok and report.tree_size == 3 and report.queued == 2


def _roll_back_to(store: Store, size: int) -> None:
    """Restore the ledger as it was at ``size``: what restoring an old backup does."""
    with store.read() as s:
        leaves = list(
            s.scalars(
                select(LedgerEntry.leaf_hash)
                .where(LedgerEntry.idx < size)
                .order_by(LedgerEntry.idx)
            )
        )
    compact = CompactRange()
    compact.extend(leaves)
    with store.write() as s:
        s.execute(text("DELETE FROM ledger_entries WHERE idx >= :n"), {"n": size})
        s.execute(text("DELETE FROM ledger_checkpoints WHERE tree_size > :n"), {"n": size})
        state = s.get(LedgerState, 1)
        assert state is not None
        state.tree_size = size
        state.compact_range_json = compact.to_json()
        state.root_hash = compact.root()


def test_a_store_rolled_back_to_an_earlier_checkpoint_fails_against_the_trusted_one(
    store: Store, ledger: Ledger
) -> None:
    _queue(store, 0, 3)
    ledger.integrate()
    _queue(store, 3, 5)
    ledger.integrate()
    kept = ledger.latest_checkpoint()
    assert kept is not None and kept.size == 8
    assert verify(store, ledger.vkey, AUTHENTICATOR, trusted_checkpoint=kept.note).ok

    _roll_back_to(store, 3)

    assert verify(store, ledger.vkey, AUTHENTICATOR).ok  # consistent with itself
    problems = _problems(store, ledger, trusted=kept.note)
    assert problems == [
        "trusted checkpoint at size 8: the ledger now holds only 3 sequenced entries: the store "
        "was rolled back or truncated"
    ]


def test_a_fork_after_a_rollback_fails_against_the_trusted_checkpoint(
    store: Store, ledger: Ledger
) -> None:
    _queue(store, 0, 3)
    ledger.integrate()
    _queue(store, 3, 3)
    ledger.integrate()
    kept = ledger.latest_checkpoint()
    assert kept is not None and kept.size == 6
    _roll_back_to(store, 3)
    _queue(store, 50, 4)  # a different history from entry 3 on, signed by the real sequencer
    ledger.integrate()

    problems = _problems(store, ledger, trusted=kept.note)
    assert len(problems) == 1
    assert problems[0].startswith(
        "trusted checkpoint at size 6: the current tree of 7 entries does not extend it "
        "(a fork or a rewrite)"
    )


def test_the_ledger_extends_an_earlier_trusted_checkpoint(store: Store, ledger: Ledger) -> None:
    _queue(store, 0, 5)
    ledger.integrate()
    kept = ledger.latest_checkpoint()
    assert kept is not None
    _queue(store, 5, 6)
    ledger.integrate()
    report = verify(store, ledger.vkey, AUTHENTICATOR, trusted_checkpoint=kept.note)
    assert report.ok and report.trusted_size == 5 and report.tree_size == 11


def test_a_trusted_checkpoint_signed_by_another_key_is_refused(
    store: Store, ledger: Ledger
) -> None:
    _sequenced(store, ledger, count=4)
    latest = ledger.latest_checkpoint()
    assert latest is not None
    forged = sign_checkpoint(ORIGIN, latest.size, latest.root, Ed25519PrivateKey.generate())
    assert _problems(store, ledger, trusted=forged) == [
        f"trusted checkpoint: expected a signature by key {ORIGIN!r}, found none"
    ]
