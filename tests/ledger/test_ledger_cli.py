"""`aidbridge init` and `aidbridge audit verify|checkpoint` as an officer uses them, on a real
work directory and its SQLite store: the key fingerprint init prints, pinning the verifying key
(a substituted key is refused), the trusted checkpoint that catches a rollback, queued and
rejected entries. Assertions are on exit codes and words, never on line wrapping."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text, update
from typer.testing import CliRunner

from gateway.cli import app as cli
from gateway.clock import SystemClock
from gateway.config import Config, load_config
from gateway.keys import KeyRing
from gateway.ledger.authenticator import EntryAuthenticator
from gateway.ledger.checkpoint import sign_checkpoint, verifier_key, vkey_fingerprint
from gateway.ledger.entry import Exchange, append
from gateway.ledger.log import Ledger
from gateway.ledger.pinning import KeyPinError, trusted_key
from gateway.ledger.rfc9162 import CompactRange
from gateway.store import Store
from gateway.store.models import LedgerCheckpoint, LedgerEntry, LedgerState

from .conftest import START_NS

runner = CliRunner()


class Officer:
    """The work directory's own store, keys and sequencer, without a running server."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.store = Store(config.database_url)
        self.store.migrate()
        keys = KeyRing.load(config.master_key_path)
        self.ledger = Ledger(
            self.store,
            keys.signing_key("checkpoint"),
            config.ledger_origin,
            SystemClock(),
            EntryAuthenticator.from_keyring(keys),
        )
        self.count = 0

    def queue(self, count: int) -> None:
        for _ in range(count):
            n = self.count
            self.count += 1
            ex = Exchange(
                at_ns=START_NS + n,
                org="civil-affairs-yubei",
                role="government",
                actor=f"caseworker-{n:04d}",
                cert_fingerprint=hashlib.sha256(str(n).encode()).hexdigest(),
                method="/aidbridge.v1.CaseService/RegisterCase",
            )
            with self.store.write() as s:
                append(s, ex, self.ledger.authenticator)

    def verify(self, *args: str) -> tuple[int, str]:
        result = runner.invoke(cli, ["audit", "verify", "--work", str(self.config.work_dir), *args])
        return result.exit_code, " ".join(result.output.split())  # words, not line breaks


@pytest.fixture
def officer(work: Config) -> Iterator[Officer]:
    o = Officer(work)
    yield o
    o.store.dispose()


def test_init_prints_and_records_the_ledger_key_fingerprint(tmp_path: Path) -> None:
    result = runner.invoke(cli, ["init", "--work", str(tmp_path / "gw")])
    assert result.exit_code == 0, result.output
    vkey = (tmp_path / "gw" / "keys" / "checkpoint.vkey").read_text(encoding="utf-8").strip()
    fingerprint = vkey_fingerprint(vkey)
    words = result.output.split()
    assert fingerprint in words and vkey in words
    recorded = tmp_path / "gw" / "keys" / "checkpoint.vkey.sha256"
    assert recorded.read_text(encoding="utf-8").strip() == fingerprint

    later = _officer_at(tmp_path / "gw")
    try:
        code, out = later.verify("--fingerprint", fingerprint)
    finally:
        later.store.dispose()
    assert code == 0, out
    assert f"fingerprint {fingerprint}), pinned by --fingerprint" in out
    # init ledgers the creation of its keys; the sequencer has not run yet
    assert "ledger verified: 0 entries, 1 queued" in out


def _officer_at(work_dir: Path) -> Officer:
    return Officer(load_config(work_dir))


def test_verify_without_a_pin_names_the_key_it_trusted_and_says_it_was_not_pinned(
    officer: Officer,
) -> None:
    officer.queue(3)
    officer.ledger.integrate()
    officer.queue(2)
    code, out = officer.verify()
    assert code == 0, out
    assert f"verifying key {officer.ledger.vkey} " in out
    assert "NOT pinned; pass --vkey or --fingerprint" in out
    assert "ledger verified: 4 entries, 2 queued (not yet sequenced)" in out


def test_a_ledger_re_signed_under_a_substituted_key_is_refused_when_the_original_is_pinned(
    officer: Officer,
) -> None:
    officer.queue(4)
    officer.ledger.integrate()
    original = officer.ledger.vkey
    original_fingerprint = vkey_fingerprint(original)
    # The intruder re-signs every checkpoint under a key of their own and replaces the key file.
    intruder = Ed25519PrivateKey.generate()
    origin = officer.config.ledger_origin
    with officer.store.write() as s:
        for cp in s.scalars(select(LedgerCheckpoint)):
            cp.note = sign_checkpoint(origin, cp.tree_size, cp.root_hash, intruder)
    substitute = verifier_key(origin, intruder.public_key())
    officer.config.vkey_path.write_text(substitute + "\n", encoding="utf-8")

    code, out = officer.verify()
    assert code == 0 and "NOT pinned" in out  # why the officer pins the key

    code, out = officer.verify("--vkey", original)
    assert code == 1
    assert f"is not the pinned key (fingerprint {original_fingerprint}): refusing to verify" in out

    code, out = officer.verify("--fingerprint", original_fingerprint)
    assert code == 1
    assert f"not the pinned {original_fingerprint}: refusing to verify" in out

    # Restoring the key file does not help the intruder: the notes are not signed by it.
    officer.config.vkey_path.write_text(original + "\n", encoding="utf-8")
    code, out = officer.verify("--vkey", original)
    assert code == 1
    assert f"checkpoint at size 5: expected a signature by key {origin!r}, found none" in out


def test_a_replaced_key_file_is_refused_against_the_fingerprint_recorded_at_init(
    officer: Officer,
) -> None:
    record = officer.config.vkey_path.with_name("checkpoint.vkey.sha256")
    record.write_text(vkey_fingerprint(officer.ledger.vkey) + "\n", encoding="utf-8")
    substitute = verifier_key(
        officer.config.ledger_origin, Ed25519PrivateKey.generate().public_key()
    )
    officer.config.vkey_path.write_text(substitute + "\n", encoding="utf-8")
    code, out = officer.verify()
    assert code == 1
    assert "is not the one recorded at init" in out and "refusing to verify" in out


def test_vkey_may_be_given_as_a_file(officer: Officer, tmp_path: Path) -> None:
    kept = tmp_path / "kept.vkey"
    kept.write_text(officer.ledger.vkey + "\n", encoding="utf-8")
    code, out = officer.verify("--vkey", str(kept))
    assert code == 0, out
    assert "pinned by --vkey" in out


def test_a_malformed_pin_is_refused_naming_the_option(officer: Officer) -> None:
    code, out = officer.verify("--fingerprint", "abc")
    assert code == 1 and "expected a fingerprint of 64 hex digits, found 'abc'" in out
    code, out = officer.verify("--vkey", "not-a-key")
    assert code == 1 and "vkey: expected a verifier key" in out


def test_verify_with_a_kept_checkpoint_catches_a_rollback_of_the_store(
    officer: Officer, tmp_path: Path
) -> None:
    officer.queue(2)
    officer.ledger.integrate()
    officer.queue(3)
    officer.ledger.integrate()
    kept = tmp_path / "kept-checkpoint.txt"
    result = runner.invoke(
        cli, ["audit", "checkpoint", "--work", str(officer.config.work_dir), "--out", str(kept)]
    )
    assert result.exit_code == 0, result.output
    assert "checkpoint of 6 entries written" in " ".join(result.output.split())

    code, out = officer.verify("--trusted-checkpoint", str(kept))
    assert code == 0, out
    assert "the ledger extends the trusted checkpoint of 6 entries" in out

    # Restore the store as it was at 3 entries (init's and the first 2: an old backup),
    # consistent with itself.
    with officer.store.write() as s:
        s.execute(text("DELETE FROM ledger_entries WHERE idx >= 3"))
        s.execute(text("DELETE FROM ledger_checkpoints WHERE tree_size > 3"))
        s.execute(text("DELETE FROM ledger_state"))
    _rebuild_state(officer)
    code, out = officer.verify()
    assert code == 0, out
    code, out = officer.verify("--trusted-checkpoint", str(kept))
    assert code == 1
    assert "trusted checkpoint at size 6: the ledger now holds only 3 sequenced entries" in out
    assert "rolled back" in out


def _rebuild_state(officer: Officer) -> None:
    with officer.store.write() as s:
        leaves = list(s.scalars(select(LedgerEntry.leaf_hash).order_by(LedgerEntry.idx)))
        compact = CompactRange()
        compact.extend(leaves)
        s.add(
            LedgerState(
                id=1,
                tree_size=compact.size,
                compact_range_json=compact.to_json(),
                root_hash=compact.root(),
            )
        )


def test_verify_names_a_forged_queued_row_and_then_its_rejection(officer: Officer) -> None:
    officer.queue(2)
    with officer.store.write() as s:
        s.execute(update(LedgerEntry).where(LedgerEntry.id == 2).values(entry_mac=b"\x00" * 32))
    code, out = officer.verify()
    assert code == 1
    assert "queued row id 2: no valid entry authenticator" in out
    assert officer.ledger.integrate() == 2  # the entry of init's keys, and the genuine one
    code, out = officer.verify()
    assert code == 1
    assert "rejected row id 2: entry authenticator does not match" in out
    assert "2 entries, 0 queued (not yet sequenced), 1 rejected" in out


def test_checkpoint_of_an_empty_ledger_is_a_clear_error(officer: Officer) -> None:
    result = runner.invoke(cli, ["audit", "checkpoint", "--work", str(officer.config.work_dir)])
    assert result.exit_code == 1
    assert "no signed checkpoint yet" in " ".join(result.output.split())


def test_trusted_key_prefers_the_pin_and_refuses_any_other_key() -> None:
    mine = verifier_key("aidbridge.test/ledger", Ed25519PrivateKey.generate().public_key())
    other = verifier_key("aidbridge.test/ledger", Ed25519PrivateKey.generate().public_key())
    assert trusted_key(mine).pinned_by == ""
    assert trusted_key(mine, pinned_vkey=mine).pinned_by == "--vkey"
    assert trusted_key(None, pinned_vkey=mine).vkey == mine
    pinned = trusted_key(mine, pinned_fingerprint="SHA256:" + vkey_fingerprint(mine).upper())
    assert pinned.pinned_by == "--fingerprint"
    with pytest.raises(KeyPinError, match="is not the pinned key"):
        trusted_key(other, pinned_vkey=mine)
    with pytest.raises(KeyPinError, match="not the pinned fingerprint"):
        trusted_key(None, pinned_vkey=mine, pinned_fingerprint=vkey_fingerprint(other))
    with pytest.raises(KeyPinError, match="expected a verifier key: pass --vkey"):
        trusted_key(None)
