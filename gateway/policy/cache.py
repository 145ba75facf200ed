"""A decision cache in front of a policy engine: what cannot have changed is not evaluated again.

Every decision says in which interval of time it holds (``holds``, computed by the policy in
``policies/aidbridge/holds.rego`` from the instants in its input: the consent's validity, the
subject's 14th and 18th birthdays). The same input but for ``now_ns`` gets the same decision
anywhere inside that interval, so the cache keeps a decision under

    key = (bundle revision, SHA-256 of the canonical JSON of the input without now_ns)

(sorted keys, no whitespace, UTF-8) and answers a later call with the same key only when
``from_ns <= now_ns < until_ns``. Everything else the decision depends on is in the key: a
withdrawn, superseded or expired consent, a new version, another caller, resource, state or age
is another input, and so a miss. The policy stays the single source of every decision.

Never kept: fail-closed denials (an engine fault, an unreachable engine, an undefined or
malformed decision: none of them carries ``holds``), a decision whose interval does not contain
its own call's time, inputs without an integer ``now_ns`` and inputs that are not JSON (both go
to the engine, which decides or refuses them). A reload clears the cache, and the key carries
the revision, so a decision of an old bundle is never served after a new one is in force.

A cached answer is a new decision: its own ``decision_id`` (the ledger records one per call) and
``cached_from``, the id of the evaluation it reuses, which the ledger entry records too.

Bounded (least recently used out first) and thread-safe: calls come from the gRPC thread pool.
A hit takes no lock (each dictionary operation is atomic under the GIL); storing and evicting
take one, never during an evaluation.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gateway.policy.engine import Decision, PolicyEngine, new_decision_id

__all__ = ["DecisionCache", "cache_key"]

DEFAULT_ENTRIES = 4096


def cache_key(revision: str, policy_input: Mapping[str, Any]) -> bytes | None:
    """The key of an input under a bundle revision; None when the input cannot be cached."""
    rest = {k: v for k, v in policy_input.items() if k != "now_ns"}
    try:
        text = json.dumps(
            rest, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
        body = text.encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError):
        return None  # not JSON: the engine refuses it, nothing to keep
    digest = hashlib.sha256(revision.encode("utf-8"))
    digest.update(b"\x00")
    # In pieces below hashlib's 2048 bytes, past which it lets go of the GIL: with other busy
    # threads, taking it back would cost a switch interval (5 ms) on every call.
    view = memoryview(body)
    for start in range(0, len(view), _PIECE):
        digest.update(view[start : start + _PIECE])
    return digest.digest()


_PIECE = 2000


@dataclasses.dataclass(frozen=True)
class _Entry:
    decision: Decision
    from_ns: int
    until_ns: int


class DecisionCache:
    """A ``PolicyEngine`` that asks ``engine`` only for what it has not decided already."""

    def __init__(self, engine: PolicyEngine, *, max_entries: int = DEFAULT_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries: expected at least 1, found {max_entries}")
        self.engine = engine
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def revision(self) -> str:
        return self.engine.revision

    def __len__(self) -> int:
        return len(self._entries)

    def decide(self, policy_input: Mapping[str, Any]) -> Decision:
        now = policy_input.get("now_ns")
        revision = self.engine.revision
        key = cache_key(revision, policy_input) if type(now) is int else None
        if key is None:
            return self.engine.decide(policy_input)
        assert isinstance(now, int)
        # The hit path takes no lock: each OrderedDict operation on bytes keys is one C call,
        # atomic under the GIL; a lock here convoys the threads whenever its holder is switched
        # out (bench_policy.py: p99 of milliseconds with 4 threads). Only writers lock.
        entry = self._entries.get(key)
        if entry is not None and entry.from_ns <= now < entry.until_ns:
            with contextlib.suppress(KeyError):  # evicted meanwhile: still a valid answer
                self._entries.move_to_end(key)
            self.hits += 1  # statistics only: a rare lost increment does not matter
            hit = entry.decision
            return dataclasses.replace(
                hit, decision_id=new_decision_id(), cached_from=hit.decision_id
            )
        self.misses += 1
        decision = self.engine.decide(policy_input)
        holds = decision.holds
        if (
            holds is not None
            and not decision.unavailable
            and holds[0] <= now < holds[1]
            and decision.revision == revision
        ):
            with self._lock:
                self._entries[key] = _Entry(decision, holds[0], holds[1])
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        return decision

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def reload(self, bundle_dir: str | Path) -> str:
        """Reload the engine's bundle, then forget every decision (of the old one or not)."""
        try:
            return self.engine.reload(bundle_dir)
        finally:
            self.clear()

    def close(self) -> None:
        close = getattr(self.engine, "close", None)
        if close is not None:
            close()
