"""docs/ledger-bundle.md against the code: its worked example is what ``write_bundle`` writes
for that ledger (byte for byte) and verifies as the document says; its header table names
exactly the fields the writer writes; its check names are the verifier's."""

from __future__ import annotations

import io
import json
import re
from functools import cache
from pathlib import Path

import pytest

import aidbridge_verify
from aidbridge_verify import LeafError, VerificationError, verify_stream
from tests.verify.doc_example import WITNESS, Example, example

DOC = Path(__file__).resolve().parents[2] / "docs" / "ledger-bundle.md"


@cache
def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _block(name: str) -> str:
    found = re.search(f"<!-- {name} -->\n```\n(.*?)```\n<!-- /{name} -->", _doc(), re.S)
    assert found, f"docs/ledger-bundle.md has no {name} block"
    return found.group(1)


@cache
def _made() -> Example:
    return example()


def test_the_worked_example_is_what_write_bundle_writes() -> None:
    made = _made()
    assert _block("example-log-vkey").strip() == made.log_vkey
    assert _block("example-witness-vkey").strip() == made.witness_vkey
    assert _block("example-bundle").encode("utf-8") == made.bundle


def test_the_worked_example_verifies_as_the_document_says() -> None:
    bundle = _block("example-bundle").encode("utf-8")
    vkey, witness = _block("example-log-vkey").strip(), _block("example-witness-vkey").strip()
    result = verify_stream(io.BytesIO(bundle), vkey=vkey, witnesses=[witness])
    assert (result.from_index, result.to_index, result.tree_size) == (1, 2, 3)
    assert result.cosigned_by == (WITNESS,) and result.key_pinned
    assert result.root.hex() in _doc()
    assert result.log_fingerprint[:8] + "…" in _doc()
    lines = bundle.split(b"\n")
    lines[3] = lines[3].replace(b"staff-017", b"staff-018")
    with pytest.raises(LeafError) as caught:
        verify_stream(io.BytesIO(b"\n".join(lines)), vkey=vkey, witnesses=[witness])
    assert caught.value.index == 1


def test_the_header_table_names_the_fields_the_writer_writes() -> None:
    table = _doc().split("<!-- header-fields -->")[1].split("<!-- /header-fields -->")[0]
    documented = re.findall(r"^\| `(\w+)` \|", table, re.M)
    header = json.loads(_made().bundle.split(b"\n")[1])
    assert sorted(documented) == sorted(header) and len(set(documented)) == len(documented)
    witness_fields = set(header["witnesses"][0])
    assert witness_fields == {"name", "vkey", "fingerprint"}
    row = next(line for line in table.splitlines() if line.startswith("| `witnesses`"))
    assert all(f"`{f}`" in row for f in witness_fields)


def test_the_check_names_are_the_verifiers() -> None:
    errors = [
        getattr(aidbridge_verify, name)
        for name in aidbridge_verify.__all__
        if isinstance(getattr(aidbridge_verify, name), type)
        and issubclass(getattr(aidbridge_verify, name), VerificationError)
        and getattr(aidbridge_verify, name) is not VerificationError
    ]
    names = _doc().split("Check names (`aidbridge_verify.errors`):")[1].split("\n\n")[0]
    names = " ".join(names.split())
    for error in errors:
        assert f"`{error.check}` ({error.__name__}" in names, error.__name__
