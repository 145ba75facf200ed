"""Per-recipient pseudonyms and the store's resident-id index (DESIGN.md "Privacy transforms").

A pseudonym is HMAC-SHA256 (RFC 2104) of the normalised subject id under the recipient's own key
(HKDF-derived, ``gateway.keys``), truncated to 160 bits, base32 (RFC 4648 §6) in lower case
without padding, and prefixed with the key version: ``k1.<32 characters>``. Two recipients get
unrelated pseudonyms for the same person, so they cannot link their records; the recipient
"ledger" gives the pseudonym a compliance officer recomputes from a resident id. A keyed hash
is required: the space of resident ids is about 2^38 and an unkeyed hash falls to brute force.
"""

from __future__ import annotations

import base64
import hmac

from gateway.keys import KeyRing

# 160 bits: collisions need ~2^80 subjects, far beyond any population.
_PSEUDONYM_BYTES = 20


def normalise_subject_id(subject_id: str) -> str:
    """The form a resident id is hashed in: no spaces, check character "X" in upper case.

    Ids typed as "11010519491231002x" or "110105 19491231 002X" are the same person.
    """
    return "".join(subject_id.split()).upper()


def pseudonym_for(keys: KeyRing, recipient: str, subject_id: str) -> str:
    """``recipient``'s pseudonym of ``subject_id``; deterministic for the pair."""
    mac = _mac(keys.pseudonym_key(recipient), subject_id)
    return f"{keys.version}.{_base32(mac[:_PSEUDONYM_BYTES])}"


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
