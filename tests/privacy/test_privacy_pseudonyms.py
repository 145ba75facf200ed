"""Per-recipient pseudonyms and the resident-id index: format, normalisation, unlinkability
across recipients, and no trace of the id in what leaves."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from gateway.keys import KeyRing
from gateway.privacy.pseudonyms import pseudonym_for, subject_index

from .synthetic import KEYS, TEST_MASTER, resident_ids

PSEUDONYM = re.compile(r"k1\.[a-z2-7]{32}")
recipients = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz-"), min_size=1, max_size=24)


def test_a_pseudonym_is_the_truncated_hmac_of_the_id_in_lower_base32() -> None:
    rid = "11010519491231002X"
    mac = hmac.new(KEYS.pseudonym_key("charity-a"), rid.encode(), hashlib.sha256).digest()
    expected = "k1." + base64.b32encode(mac[:20]).decode().lower()
    assert pseudonym_for(KEYS, "charity-a", rid) == expected
    assert PSEUDONYM.fullmatch(expected)


def test_a_lower_case_x_or_spaces_name_the_same_person() -> None:
    plain = pseudonym_for(KEYS, "charity-a", "11010519491231002X")
    assert pseudonym_for(KEYS, "charity-a", "11010519491231002x") == plain
    assert pseudonym_for(KEYS, "charity-a", " 110105 19491231 002X ") == plain


def test_the_ledger_pseudonym_is_recomputable_from_the_id_and_the_master_key() -> None:
    # What a compliance officer's query does: a fresh ring from the same master key.
    officer = KeyRing(TEST_MASTER)
    rid = "11010519491231002X"
    assert pseudonym_for(officer, "ledger", rid) == pseudonym_for(KEYS, "ledger", rid)
    assert pseudonym_for(KEYS, "ledger", rid) != pseudonym_for(KEYS, "charity-a", rid)


def test_pseudonyms_carry_the_key_version() -> None:
    rotated = KeyRing(TEST_MASTER, version="k2")
    assert pseudonym_for(rotated, "charity-a", "11010519491231002X").startswith("k2.")


def test_an_empty_subject_id_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        pseudonym_for(KEYS, "charity-a", "  ")


def test_the_index_is_the_full_hmac_under_the_index_key() -> None:
    rid = "11010519491231002X"
    mac = hmac.new(KEYS.index_key(), rid.encode(), hashlib.sha256).digest()
    index = subject_index(KEYS, rid.lower())
    assert index == "k1." + base64.b32encode(mac).decode().rstrip("=").lower()
    assert len(index) <= 80  # the store's column


@given(rid=resident_ids(), first=recipients, second=recipients)
def test_pseudonyms_of_one_person_differ_across_recipients(
    rid: str, first: str, second: str
) -> None:
    if first != second:
        assert pseudonym_for(KEYS, first, rid) != pseudonym_for(KEYS, second, rid)
    assert pseudonym_for(KEYS, first, rid) != subject_index(KEYS, rid)


@given(rid=resident_ids(), recipient=recipients)
def test_pseudonyms_are_stable_for_the_same_inputs(rid: str, recipient: str) -> None:
    again = KeyRing(TEST_MASTER)
    assert pseudonym_for(KEYS, recipient, rid) == pseudonym_for(again, recipient, rid)
    assert PSEUDONYM.fullmatch(pseudonym_for(KEYS, recipient, rid))


@given(rid=resident_ids(), recipient=recipients)
def test_pseudonyms_never_contain_the_id_or_a_run_of_its_digits(rid: str, recipient: str) -> None:
    for value in (pseudonym_for(KEYS, recipient, rid), subject_index(KEYS, rid)):
        assert rid.lower() not in value
        # Region code, birth date, any six consecutive characters of the id: none survive.
        for start in range(len(rid) - 5):
            assert rid[start : start + 6].lower() not in value


@given(first=resident_ids(), second=resident_ids(), recipient=recipients)
def test_different_people_get_different_pseudonyms(first: str, second: str, recipient: str) -> None:
    assume(first != second)
    assert pseudonym_for(KEYS, recipient, first) != pseudonym_for(KEYS, recipient, second)
