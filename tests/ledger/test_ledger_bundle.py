"""Export bundles written from a real store and checked by the standalone verifier: a clean
bundle verifies (whole tree, a sub-range, with cosignatures, against a trusted checkpoint), and
every tampering is detected and named — the check that failed and, where one entry is to blame,
its index."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from aidbridge_verify import (
    ConsistencyError,
    CosignatureError,
    FormatError,
    InclusionError,
    KeyError_,
    LeafError,
    RollbackError,
    SequenceError,
    SignatureError,
    VerificationError,
    verify_bundle,
)
from gateway.ledger.checkpoint import sign_checkpoint
from gateway.ledger.cosignature import cosign, note_body, with_signatures, witness_vkey
from gateway.ledger.entry import Exchange, append
from gateway.ledger.export import ExportRangeError, write_bundle
from gateway.ledger.log import Ledger
from gateway.ledger.witness_publishing import PublishedCheckpoint, cosigned_checkpoint
from gateway.store import Store
from tests.ledger.conftest import AUTHENTICATOR, ORIGIN, START_NS

WITNESS = "supervision.jiangbei.test/witness"


def _grow(store: Store, ledger: Ledger, count: int) -> int:
    with store.write() as s:
        for n in range(count):
            append(
                s,
                Exchange(
                    at_ns=START_NS + n,
                    org="jb-civil-affairs",
                    role="government",
                    actor=f"cw-{n:03d}",
                    cert_fingerprint="0" * 64,
                    method="aidbridge.v1.CaseService/GetCase",
                ),
                AUTHENTICATOR,
            )
    ledger.drain()
    latest = ledger.latest_checkpoint()
    assert latest is not None
    return latest.size


def _published(store: Store, size: int) -> PublishedCheckpoint:
    with store.read() as s:
        published = cosigned_checkpoint(s, size)
    assert published is not None
    return published


def _export(
    store: Store,
    ledger: Ledger,
    path: Path,
    published: PublishedCheckpoint,
    lo: int = 0,
    hi: int = 0,
) -> Path:
    with store.read() as s, open(path, "wb") as out:
        write_bundle(s, out, published, ledger.vkey, from_index=lo, to_index=hi)
    return path


@pytest.fixture
def bundle(store: Store, ledger: Ledger, tmp_path: Path) -> Path:
    size = _grow(store, ledger, 12)
    return _export(store, ledger, tmp_path / "ledger.bundle", _published(store, size))


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


def _rewrite(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _failure(path: Path, **kwargs: object) -> VerificationError:
    with pytest.raises(VerificationError) as caught:
        verify_bundle(path, **kwargs)  # type: ignore[arg-type]
    return caught.value


def test_a_clean_bundle_verifies_with_the_pinned_key(bundle: Path, ledger: Ledger) -> None:
    result = verify_bundle(bundle, vkey=ledger.vkey)
    assert (result.from_index, result.to_index, result.tree_size) == (0, 12, 12)
    assert result.key_pinned
    latest = ledger.latest_checkpoint()
    assert latest is not None and result.root == latest.root
    assert not verify_bundle(bundle).key_pinned


def test_a_sub_range_carries_only_its_entries_and_verifies(
    store: Store, ledger: Ledger, tmp_path: Path
) -> None:
    size = _grow(store, ledger, 10)
    path = _export(store, ledger, tmp_path / "part.bundle", _published(store, size), 3, 7)
    kinds = [line[:1] for line in _lines(path)[2:-1]]
    assert kinds == [b"H"] * 3 + [b"E"] * 4 + [b"H"] * 3
    result = verify_bundle(path, vkey=ledger.vkey)
    assert (result.from_index, result.to_index) == (3, 7)


def test_a_range_beyond_the_checkpoint_is_refused_naming_the_field(
    store: Store, ledger: Ledger
) -> None:
    size = _grow(store, ledger, 4)
    with store.read() as s, pytest.raises(ExportRangeError, match="to_index"):
        write_bundle(s, io.BytesIO(), _published(store, size), ledger.vkey, to_index=size + 1)


def _entry_line(lines: list[bytes], index: int) -> int:
    return 2 + index


def test_an_altered_entry_is_named(bundle: Path, ledger: Ledger) -> None:
    lines = _lines(bundle)
    at = _entry_line(lines, 5)
    lines[at] = lines[at].replace(b"cw-005", b"cw-999")
    failure = _failure(_rewrite(bundle, lines), vkey=ledger.vkey)
    assert isinstance(failure, LeafError)
    assert (failure.check, failure.index) == ("leaf", 5)


def test_an_entry_altered_with_its_leaf_hash_recomputed_fails_the_signed_root(
    bundle: Path, ledger: Ledger
) -> None:
    import hashlib

    lines = _lines(bundle)
    at = _entry_line(lines, 5)
    kind, index, _, entry = lines[at].split(b" ", 3)
    entry = entry.replace(b"cw-005", b"cw-999")
    leaf = hashlib.sha256(b"\x00" + entry).hexdigest().encode()
    lines[at] = b" ".join([kind, index, leaf, entry])
    failure = _failure(_rewrite(bundle, lines), vkey=ledger.vkey)
    assert isinstance(failure, InclusionError) and failure.check == "inclusion"


def test_a_missing_entry_is_named(bundle: Path, ledger: Ledger) -> None:
    lines = _lines(bundle)
    del lines[_entry_line(lines, 4)]
    failure = _failure(_rewrite(bundle, lines), vkey=ledger.vkey)
    assert isinstance(failure, SequenceError)
    assert failure.index == 4 and "entries 4–4 are missing" in failure.message


def test_reordered_entries_are_named(bundle: Path, ledger: Ledger) -> None:
    lines = _lines(bundle)
    a, b = _entry_line(lines, 6), _entry_line(lines, 7)
    lines[a], lines[b] = lines[b], lines[a]
    failure = _failure(_rewrite(bundle, lines), vkey=ledger.vkey)
    assert isinstance(failure, SequenceError) and failure.index == 6
    assert "found index 7 where 6 was due" in failure.message


def test_an_inserted_entry_is_named(bundle: Path, ledger: Ledger) -> None:
    lines = _lines(bundle)
    at = _entry_line(lines, 3)
    lines.insert(at + 1, lines[at])  # a second entry 3
    failure = _failure(_rewrite(bundle, lines), vkey=ledger.vkey)
    assert isinstance(failure, SequenceError) and failure.index == 4
    assert "found index 3 where 4 was due" in failure.message


def test_an_entry_appended_after_the_tree_is_named(bundle: Path, ledger: Ledger) -> None:
    lines = _lines(bundle)
    lines.append(lines[_entry_line(lines, 0)])
    failure = _failure(_rewrite(bundle, lines), vkey=ledger.vkey)
    assert isinstance(failure, SequenceError) and "lines after 'end 12'" in failure.message


def test_a_truncated_bundle_is_named(bundle: Path, ledger: Ledger) -> None:
    lines = _lines(bundle)[:-3]
    failure = _failure(_rewrite(bundle, lines), vkey=ledger.vkey)
    assert isinstance(failure, SequenceError) and failure.index == 10


def test_a_checkpoint_signed_by_another_key_is_refused(
    store: Store, ledger: Ledger, tmp_path: Path
) -> None:
    size = _grow(store, ledger, 6)
    real = _published(store, size)
    intruder = Ed25519PrivateKey.generate()
    forged = PublishedCheckpoint(
        note=sign_checkpoint(ORIGIN, size, real.root, intruder),
        size=size,
        root=real.root,
        cosigned_by=(),
    )
    from gateway.ledger.checkpoint import verifier_key

    intruder_vkey = verifier_key(ORIGIN, intruder.public_key())
    path = tmp_path / "forged.bundle"
    with store.read() as s, open(path, "wb") as out:
        write_bundle(s, out, forged, intruder_vkey)
    failure = _failure(path, vkey=ledger.vkey)
    assert isinstance(failure, SignatureError) and failure.check == "signature"
    assert "expected a signature by the log key" in failure.message
    # The bundle checks out against the key it names; only the pin tells it apart.
    assert not verify_bundle(path).key_pinned


def test_a_bundle_naming_another_key_than_the_pinned_one_is_refused(
    store: Store, ledger: Ledger, tmp_path: Path
) -> None:
    size = _grow(store, ledger, 3)
    other = Ed25519PrivateKey.generate()
    from gateway.ledger.checkpoint import verifier_key

    path = tmp_path / "named.bundle"
    with store.read() as s, open(path, "wb") as out:
        write_bundle(s, out, _published(store, size), verifier_key(ORIGIN, other.public_key()))
    failure = _failure(path, vkey=ledger.vkey)
    assert isinstance(failure, KeyError_) and failure.check == "key"


def _cosigned(
    published: PublishedCheckpoint, name: str, key: Ed25519PrivateKey
) -> PublishedCheckpoint:
    line = cosign(note_body(published.note), name, key, int(time.time()))
    return PublishedCheckpoint(
        note=with_signatures(published.note, [line]),
        size=published.size,
        root=published.root,
        cosigned_by=(name,),
    )


def test_required_cosignatures_are_checked(store: Store, ledger: Ledger, tmp_path: Path) -> None:
    size = _grow(store, ledger, 5)
    witness_key = Ed25519PrivateKey.generate()
    wvkey = witness_vkey(WITNESS, witness_key.public_key())
    path = _export(
        store,
        ledger,
        tmp_path / "c.bundle",
        _cosigned(_published(store, size), WITNESS, witness_key),
    )
    result = verify_bundle(path, vkey=ledger.vkey, witnesses=[wvkey])
    assert result.cosigned_by == (WITNESS,)

    other = Ed25519PrivateKey.generate()
    absent = witness_vkey("federation.test/witness", other.public_key())
    failure = _failure(path, vkey=ledger.vkey, witnesses=[wvkey, absent])
    assert isinstance(failure, CosignatureError)
    assert "expected a cosignature by witness 'federation.test/witness'" in failure.message

    bare = _export(store, ledger, tmp_path / "bare.bundle", _published(store, size))
    failure = _failure(bare, vkey=ledger.vkey, witnesses=[wvkey])
    assert isinstance(failure, CosignatureError) and failure.check == "cosignature"


def test_a_forged_cosignature_is_refused(store: Store, ledger: Ledger, tmp_path: Path) -> None:
    size = _grow(store, ledger, 5)
    witness_key = Ed25519PrivateKey.generate()
    wvkey = witness_vkey(WITNESS, witness_key.public_key())
    published = _published(store, size)
    # A real cosignature by the witness, but of another checkpoint, moved onto this one.
    other_body = f"{ORIGIN}\n{size + 1}\n{'A' * 43}=\n"
    line = cosign(other_body, WITNESS, witness_key, int(time.time()))
    moved = PublishedCheckpoint(with_signatures(published.note, [line]), size, published.root, ())
    path = _export(store, ledger, tmp_path / "f.bundle", moved)
    failure = _failure(path, vkey=ledger.vkey, witnesses=[wvkey])
    assert isinstance(failure, CosignatureError)
    assert f"the cosignature by {WITNESS!r} does not verify" in failure.message


def test_the_bundle_extends_a_checkpoint_trusted_earlier(
    store: Store, ledger: Ledger, tmp_path: Path
) -> None:
    first = _grow(store, ledger, 5)
    trusted = _published(store, first).note
    size = _grow(store, ledger, 7)
    path = _export(store, ledger, tmp_path / "later.bundle", _published(store, size), 8, 12)
    result = verify_bundle(path, vkey=ledger.vkey, trusted_checkpoint=trusted)
    assert result.trusted_size == first
    same = verify_bundle(path, vkey=ledger.vkey, trusted_checkpoint=_published(store, size).note)
    assert same.trusted_size == size


def test_a_rollback_against_a_trusted_checkpoint_is_named(
    store: Store, ledger: Ledger, tmp_path: Path
) -> None:
    first = _grow(store, ledger, 5)
    size = _grow(store, ledger, 7)
    trusted = _published(store, size).note
    # A bundle of the older, smaller tree (as a store restored from an old backup would give).
    old = _export(store, ledger, tmp_path / "old.bundle", _published(store, first))
    failure = _failure(old, vkey=ledger.vkey, trusted_checkpoint=trusted)
    assert isinstance(failure, RollbackError) and failure.check == "rollback"
    assert f"the trusted checkpoint has {size} entries, the bundle's tree only {first}" in str(
        failure
    )


def test_a_rewritten_history_against_a_trusted_checkpoint_is_a_fork(
    store: Store, ledger: Ledger, signing_key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    size = _grow(store, ledger, 9)
    # The officer kept a checkpoint of 4 entries whose root the bundle's first 4 do not give.
    forged = sign_checkpoint(ORIGIN, 4, b"\x07" * 32, signing_key)
    path = _export(store, ledger, tmp_path / "b.bundle", _published(store, size))
    failure = _failure(path, vkey=ledger.vkey, trusted_checkpoint=forged)
    assert isinstance(failure, ConsistencyError) and failure.check == "consistency"
    assert "the first 4 leaves give root" in failure.message


def test_header_bounds_are_checked_before_any_leaf(bundle: Path, ledger: Ledger) -> None:
    import json

    lines = _lines(bundle)
    header = json.loads(lines[1])
    header["to"] = header["tree_size"] + 1
    lines[1] = json.dumps(header).encode()
    failure = _failure(_rewrite(bundle, lines), vkey=ledger.vkey)
    assert isinstance(failure, FormatError) and "header field 'to'" in failure.message


def test_a_bundle_of_another_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.bundle"
    path.write_bytes(b"aidbridge-ledger-bundle/v2\n{}\n")
    failure = _failure(path)
    assert isinstance(failure, FormatError) and "first line" in failure.message
