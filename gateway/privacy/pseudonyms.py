"""Per-recipient pseudonyms and the store's resident-id index (DESIGN.md "Privacy transforms").

A pseudonym is HMAC-SHA256 (RFC 2104) of the normalised subject id under the recipient's own key
(HKDF-derived, ``gateway.keys``), truncated to 160 bits, base32 (RFC 4648 §6) in lower case
without padding, and prefixed with the key version: ``k1.<32 characters>``. Two recipients get
unrelated pseudonyms for the same person, so they cannot link their records; the recipient
"ledger" gives the pseudonym a compliance officer recomputes from a resident id. A keyed hash
is required: the space of resident ids is about 2^38 and an unkeyed hash falls to brute force.

New pseudonyms are issued in the current key version (``aidbridge keys rotate`` moves it on); the
ledger's pseudonyms stay at ``k1``, since the compliance officer's queries recompute them. A
pseudonym is resolved back to its subject by recomputing it for candidate subjects under the
version it names (``resolve_pseudonym``), unless the recipient has retired that version.
"""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Iterable
from typing import TypeVar

from gateway.keys import DEFAULT_VERSION, KeyRing

T = TypeVar("T")

# 160 bits: collisions need ~2^80 subjects, far beyond any population.
_PSEUDONYM_BYTES = 20
_PSEUDONYM_FORM = re.compile(r"(k[1-9][0-9]{0,5})\.([a-z2-7]{32})")


class PseudonymNotFound(LookupError):
    """A pseudonym that resolves to no subject: malformed, of an unknown or retired key
    version, or issued to nobody the caller may resolve."""


def normalise_subject_id(subject_id: str) -> str:
    """The form a resident id is hashed in: no spaces, check character "X" in upper case.

    Ids typed as "11010519491231002x" or "110105 19491231 002X" are the same person.
    """
    return "".join(subject_id.split()).upper()


def pseudonym_for(
    keys: KeyRing, recipient: str, subject_id: str, version: str | None = None
) -> str:
    """``recipient``'s pseudonym of ``subject_id`` in key ``version`` (the current one if none);
    deterministic for the triple."""
    version = version or keys.versions.current()
    mac = _mac(keys.pseudonym_key(recipient, version), subject_id)
    return f"{version}.{_base32(mac[:_PSEUDONYM_BYTES])}"


def ledger_pseudonym(keys: KeyRing, ledger_recipient: str, subject_id: str) -> str:
    """The ledger's pseudonym of ``subject_id``: always key ``k1``, never rotated."""
    return pseudonym_for(keys, ledger_recipient, subject_id, DEFAULT_VERSION)


def pseudonym_version(pseudonym: str) -> str:
    """The key version a pseudonym names (``"k2"`` of ``"k2.abc…"``)."""
    match = _PSEUDONYM_FORM.fullmatch(pseudonym)
    if match is None:
        raise PseudonymNotFound(
            f"expected a pseudonym like 'k1.<32 base32 characters>', found {pseudonym[:60]!r}"
        )
    return match.group(1)


def resolve_pseudonym(
    keys: KeyRing, recipient: str, pseudonym: str, candidates: Iterable[tuple[str, T]]
) -> T:
    """The candidate ``(subject_id, value)`` whose subject ``recipient`` knows as
    ``pseudonym``, under the key version the pseudonym names. Raises ``PseudonymNotFound``
    if the version is unknown or retired for ``recipient``, or no candidate matches."""
    version = pseudonym_version(pseudonym)
    state = keys.versions.state()
    if not state.known(version):
        raise PseudonymNotFound(
            f"pseudonym {pseudonym!r} names key version {version}, which does not exist "
            f"(the current version is {state.current})"
        )
    if state.is_retired(recipient, version):
        raise PseudonymNotFound(
            f"pseudonym {pseudonym!r} is of key version {version}, retired for {recipient}; "
            "it no longer resolves"
        )
    key = keys.pseudonym_key(recipient, version)
    wanted = pseudonym.encode()
    for subject_id, value in candidates:
        found = f"{version}.{_base32(_mac(key, subject_id)[:_PSEUDONYM_BYTES])}"
        if hmac.compare_digest(found.encode(), wanted):
            return value
    raise PseudonymNotFound(f"pseudonym {pseudonym!r} of {recipient} names no known subject")


def subject_index(keys: KeyRing, resident_id: str) -> str:
    """Lookup key of a resident id in the store: the full 256-bit MAC, since an index must
    not collide."""
    return f"{keys.version}.{_base32(_mac(keys.index_key(), resident_id))}"


def _mac(key: bytes, subject_id: str) -> bytes:
    normalised = normalise_subject_id(subject_id)
    if not normalised:
        raise ValueError("expected a subject id to pseudonymise, found an empty one")
    return hmac.digest(key, normalised.encode(), "sha256")


def _base32(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=").lower()
