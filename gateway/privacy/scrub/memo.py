"""Scrubbed texts remembered, so that a text released again under the same known values is not
scrubbed again: a charity streaming its live referrals receives the same narratives on every
stream, and scrubbing is the largest part of a summary's cost.

The result of ``scrub_narrative`` depends on the text and the known values only, so it is
remembered under a digest of exactly those. The digest is keyed (BLAKE2b with a key drawn when
the process starts and never stored), so the memo holds no plain text of what was scrubbed and
its keys cannot be matched against guessed notes or identifiers; what it holds is the scrubbed
text, which is what the release sends. It is bounded (least recently used out first) and lives
as long as the process.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable

from gateway.privacy.scrub import KnownValue, scrub_narrative

# Notes of a few hundred characters: a few megabytes at most.
DEFAULT_ENTRIES = 4096
# Shorter texts cost less to scrub than to look up.
_MIN_LENGTH = 32


class ScrubMemo:
    def __init__(self, entries: int = DEFAULT_ENTRIES) -> None:
        if entries < 1:
            raise ValueError("a scrub memo holds at least one entry")
        self._entries = entries
        self._key = os.urandom(32)
        self._lock = threading.Lock()
        self._scrubbed: OrderedDict[bytes, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._scrubbed)

    def scrub(self, text: str, known: Iterable[KnownValue | str] = ()) -> str:
        """``scrub_narrative(text, known)``, from the memo when the same text was scrubbed of
        the same known values before."""
        if len(text) < _MIN_LENGTH:
            return scrub_narrative(text, known)
        known = tuple(known)
        digest = self._digest(text, known)
        with self._lock:
            found = self._scrubbed.get(digest)
            if found is not None:
                self._scrubbed.move_to_end(digest)
                return found
        scrubbed = scrub_narrative(text, known)
        with self._lock:
            self._scrubbed[digest] = scrubbed
            if len(self._scrubbed) > self._entries:
                self._scrubbed.popitem(last=False)
        return scrubbed

    def _digest(self, text: str, known: tuple[KnownValue | str, ...]) -> bytes:
        # Every part length-prefixed, so that no text and known values can write the same
        # bytes as another text with other known values.
        h = hashlib.blake2b(key=self._key, digest_size=32)
        parts: list[str] = [text]
        for value in known:
            if isinstance(value, KnownValue):
                parts += ("v", str(value.text), str(value.tag))
            else:
                parts += ("s", str(value))
        for part in parts:
            raw = part.encode("utf-8", "surrogatepass")
            h.update(len(raw).to_bytes(8, "big"))
            h.update(raw)
        return h.digest()


# The gateway's one memo: releases of case narratives and of the texts of a disclosure.
MEMO = ScrubMemo()
