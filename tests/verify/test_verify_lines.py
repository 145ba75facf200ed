"""The leaf lines as docs/ledger-bundle.md specifies them, on synthetic bundles (no database):
every tree size and range up to 33 verifies, with a trusted checkpoint at every size before it;
and each way a line can break the grammar is refused with its check and index."""

from __future__ import annotations

import io

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from aidbridge_verify import (
    ConsistencyError,
    FormatError,
    LeafError,
    SequenceError,
    VerificationError,
    verify_stream,
)
from aidbridge_verify.bundle import MAX_LINE_BYTES, BundleWriter
from aidbridge_verify.merkle import leaf_hash, root_of
from tests.verify.synth import ORIGIN, entry_bytes, sign_note, vkey_of

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
VKEY = vkey_of(ORIGIN, KEY)


def _bundle(size: int, lo: int, hi: int, entries: list[bytes] | None = None) -> bytes:
    items = entries or [entry_bytes(n) for n in range(size)]
    leaves = [leaf_hash(e) for e in items]
    out = io.BytesIO()
    writer = BundleWriter(
        out,
        checkpoint_note=sign_note(ORIGIN, size, root_of(leaves), KEY),
        origin=ORIGIN,
        tree_size=size,
        from_index=lo,
        to_index=hi,
        log_vkey=VKEY,
    )
    for i, (leaf, entry) in enumerate(zip(leaves, items, strict=True)):
        writer.entry(leaf, entry) if lo <= i < hi else writer.hash(leaf)
    writer.finish()
    return out.getvalue()


def _note(size: int) -> str:
    return sign_note(ORIGIN, size, root_of([leaf_hash(entry_bytes(n)) for n in range(size)]), KEY)


def _verify(data: bytes, trusted: str | None = None) -> None:
    verify_stream(io.BytesIO(data), vkey=VKEY, trusted_checkpoint=trusted)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 16, 17, 31, 32, 33])
def test_every_range_verifies_and_extends_every_earlier_checkpoint(size: int) -> None:
    for lo, hi in {(0, size), (0, 1), (size - 1, size), (size // 3, size // 2 + 1)}:
        result = verify_stream(io.BytesIO(_bundle(size, lo, hi)), vkey=VKEY)
        assert (result.from_index, result.to_index, result.tree_size) == (lo, hi, size)
    whole = _bundle(size, 0, size)
    for earlier in range(size + 1):
        _verify(whole, _note(earlier))


def test_a_trusted_checkpoint_of_another_history_is_a_fork() -> None:
    other = [entry_bytes(n + 100) for n in range(4)]
    fork = sign_note(ORIGIN, 4, root_of([leaf_hash(e) for e in other]), KEY)
    with pytest.raises(ConsistencyError):
        _verify(_bundle(9, 0, 9), fork)


def _broken(data: bytes, index: int, change: bytes, into: bytes) -> VerificationError:
    lines = data.split(b"\n")
    assert change in lines[2 + index]
    lines[2 + index] = lines[2 + index].replace(change, into, 1)
    with pytest.raises(VerificationError) as caught:
        _verify(b"\n".join(lines))
    assert caught.value.index == index
    return caught.value


def _hex(data: bytes, index: int) -> bytes:
    return data.split(b"\n")[2 + index].split(b" ")[2]


def test_leaf_hashes_are_64_lower_case_hex_digits() -> None:
    data = _bundle(6, 2, 4)
    for index in (1, 3):  # an H line, an E line
        digits = _hex(data, index)
        upper = _broken(data, index, digits, digits.upper())
        assert isinstance(upper, FormatError) and "lower-case" in upper.message
        spaced = _broken(data, index, digits, digits[:10] + b"\t" + digits[11:])
        assert isinstance(spaced, FormatError) and "not hex" in spaced.message
        short = _broken(data, index, digits, digits[:-2])
        assert isinstance(short, FormatError) and "64-digit" in short.message


def test_indices_are_plain_decimal_in_sequence() -> None:
    data = _bundle(6, 2, 4)
    padded = _broken(data, 3, b"E 3 ", b"E 03 ")
    assert isinstance(padded, SequenceError)
    word = _broken(data, 4, b"H 4 ", b"H four ")
    assert isinstance(word, FormatError) and "expected index 4" in word.message


def test_a_line_of_the_wrong_kind_is_named() -> None:
    data = _bundle(6, 2, 4)
    lines = data.split(b"\n")
    entry_hex = _hex(data, 2)
    lines[2 + 2] = b"H 2 " + entry_hex  # the entry withheld inside the range
    with pytest.raises(SequenceError, match="it is missing") as caught:
        _verify(b"\n".join(lines))
    assert caught.value.index == 2
    lines = data.split(b"\n")
    lines[2 + 0] = lines[2 + 0].replace(b"H 0", b"E 0") + b" {}"
    with pytest.raises(FormatError, match="outside the range") as caught:
        _verify(b"\n".join(lines))
    assert caught.value.index == 0
    altered = _broken(data, 3, b'"outcome":"OK"', b'"outcome":"NO"')
    assert isinstance(altered, LeafError)


def test_line_length_and_termination_are_bounded() -> None:
    huge = [entry_bytes(0), b'{"pad":"' + b"x" * MAX_LINE_BYTES + b'"}', entry_bytes(2)]
    with pytest.raises(FormatError, match="longer than") as caught:
        _verify(_bundle(3, 0, 3, huge))
    assert caught.value.index == 1
    data = _bundle(3, 0, 3)
    cut = data[: data.index(b"\nend 3")]  # the last leaf line without its newline
    with pytest.raises(FormatError, match="not terminated") as caught:
        _verify(cut)
    assert caught.value.index == 2
    with pytest.raises(SequenceError, match="ends after 2 of 3"):
        _verify(data.replace(data.split(b"\n")[4] + b"\n", b""))


def test_a_header_is_strict_json_with_each_field_once() -> None:
    data = _bundle(3, 0, 3)
    magic, header, rest = data.split(b"\n", 2)
    twice = header[:-1] + b',"to":1}'  # another "to" after the real one
    with pytest.raises(FormatError, match="'to' appears twice"):
        _verify(b"\n".join([magic, twice, rest]))
    constant = header.replace(b'"exported_at_ns":0', b'"exported_at_ns":NaN')
    assert constant != header
    with pytest.raises(FormatError, match="NaN is not JSON"):
        _verify(b"\n".join([magic, constant, rest]))
