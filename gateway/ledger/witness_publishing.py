"""The gateway's side of witnessing: ask each configured witness to cosign the latest
checkpoint (C2SP tlog-witness ``add-checkpoint``, with an RFC 9162 consistency proof from the
last checkpoint that witness cosigned), keep the cosignatures it returns (verified, C2SP
tlog-cosignature v1), and publish checkpoints with them — only once ``quorum`` witnesses have
cosigned one, if the deployment says so.

Witnesses are asked from a worker of their own, never from a call: a witness that is down, slow
or refusing delays publication only; exchanges and their ledger entries go on as before. A
witness that answers 409 with its own size is asked again from that size; one that reports a
size above the gateway's tree, or refuses a checkpoint, is logged as an error: that is what a
witness is for.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.clock import Clock
from gateway.config import WitnessEndpoint
from gateway.ledger.checkpoint import _split_note
from gateway.ledger.cosignature import (
    CosignatureError,
    WitnessKey,
    parse_witness_vkey,
    verify_cosignature_lines,
    with_signatures,
)
from gateway.ledger.sequencer import Ledger, SignedCheckpoint, latest_checkpoint
from gateway.ledger.witness import SIZE_CONTENT_TYPE, add_checkpoint_body
from gateway.ledger.witness_http import WitnessResponse, post_add_checkpoint
from gateway.store import Store, StoreUnavailable
from gateway.store.models import LedgerCheckpoint, LedgerCosignature

log = structlog.get_logger(__name__)

_MIN_BACKOFF_S = 0.5
_MAX_BACKOFF_S = 30.0


@dataclass(frozen=True)
class ConfiguredWitness:
    name: str
    key: WitnessKey
    url: str


@dataclass(frozen=True)
class PublishedCheckpoint:
    """A checkpoint as published: its note with the cosignatures collected, and by whom."""

    note: str
    size: int
    root: bytes
    cosigned_by: tuple[str, ...]


class WitnessConfigError(ValueError):
    """A configured witness's vkey is malformed or does not carry its name."""


def configured_witnesses(endpoints: Sequence[WitnessEndpoint]) -> tuple[ConfiguredWitness, ...]:
    found = []
    for endpoint in endpoints:
        try:
            key = parse_witness_vkey(endpoint.vkey)
        except CosignatureError as exc:
            raise WitnessConfigError(f"witness {endpoint.name!r}: {exc.message}") from exc
        if key.name != endpoint.name:
            raise WitnessConfigError(
                f"witness {endpoint.name!r}: its vkey names {key.name!r}; expected the same name"
            )
        if not endpoint.url.startswith(("http://", "https://")):
            raise WitnessConfigError(
                f"witness {endpoint.name!r}: expected an http:// or https:// url, "
                f"found {endpoint.url!r}"
            )
        found.append(ConfiguredWitness(endpoint.name, key, endpoint.url))
    return tuple(found)


class WitnessPublisher:
    """Collects cosignatures from ``witnesses`` and publishes checkpoints (see module doc)."""

    def __init__(
        self,
        store: Store,
        ledger: Ledger,
        witnesses: Sequence[ConfiguredWitness],
        clock: Clock,
        *,
        quorum: int = 0,
        timeout_s: float = 2.0,
    ) -> None:
        if not 0 <= quorum <= len(witnesses):
            raise WitnessConfigError(f"expected a quorum of 0 to {len(witnesses)}, found {quorum}")
        self._store = store
        self._ledger = ledger
        self.witnesses = tuple(witnesses)
        self._clock = clock
        self.quorum = quorum
        self._timeout_s = timeout_s
        # A witness that cannot be reached is asked again after a back-off (doubling up to
        # _MAX_BACKOFF_S), so a long outage does not fill the log; a success resets it.
        self._backoff_s: dict[str, float] = {}
        self._next_try: dict[str, float] = {}

    def collect(self) -> dict[str, str]:
        """Ask every witness that has not cosigned the latest checkpoint; returns, per witness
        asked, what happened ("cosigned N", or why not). Never raises for a witness's fault."""
        with self._store.read() as s:
            latest = latest_checkpoint(s)
            held = _latest_per_witness(s)
        if latest is None:
            return {}
        outcomes = {}
        now = time.monotonic()
        for witness in self.witnesses:
            last = held.get(witness.name, 0)
            if last >= latest.size or now < self._next_try.get(witness.name, 0.0):
                continue
            try:
                outcomes[witness.name] = self._ask(witness, latest, last)
            except (OSError, StoreUnavailable, CosignatureError, ValueError) as exc:
                outcomes[witness.name] = f"failed: {type(exc).__name__}: {exc}"
                backoff = min(
                    self._backoff_s.get(witness.name, _MIN_BACKOFF_S / 2) * 2, _MAX_BACKOFF_S
                )
                self._backoff_s[witness.name] = backoff
                self._next_try[witness.name] = time.monotonic() + backoff
                log.warning(
                    "witness.unreachable",
                    witness=witness.name,
                    error=str(exc)[:200],
                    retry_in_s=round(backoff, 2),
                )
            else:
                self._backoff_s.pop(witness.name, None)
                self._next_try.pop(witness.name, None)
        return outcomes

    def _ask(self, witness: ConfiguredWitness, latest: SignedCheckpoint, old: int) -> str:
        response = self._submit(witness, latest, old)
        if response.status == 409 and response.content_type == SIZE_CONTENT_TYPE:
            size_text = response.body.strip()
            witness_size = int(size_text) if size_text.isdigit() else -1
            if not 0 <= witness_size <= latest.size:
                log.error(
                    "witness.ahead_of_log",
                    witness=witness.name,
                    witness_size=size_text[:40],
                    log_size=latest.size,
                )
                return f"refused: the witness has cosigned size {size_text[:40]}, above ours"
            response = self._submit(witness, latest, witness_size)
        if response.status != 200:
            log.error(
                "witness.refused",
                witness=witness.name,
                status=response.status,
                size=latest.size,
                reason=response.body[:300],
            )
            return f"refused: HTTP {response.status}: {response.body.strip()[:300]}"
        body, _ = _split_note(latest.note)
        lines = [line for line in response.body.split("\n") if line]
        cosignature = verify_cosignature_lines(body, lines, witness.key)
        with self._store.write() as s:
            s.merge(
                LedgerCosignature(
                    tree_size=latest.size,
                    witness=witness.name,
                    key_id=witness.key.key_id.hex(),
                    timestamp_s=cosignature.timestamp,
                    line=cosignature.line,
                    received_at_ns=self._clock.now_ns(),
                )
            )
        log.info("witness.cosigned", witness=witness.name, size=latest.size)
        return f"cosigned {latest.size}"

    def _submit(
        self, witness: ConfiguredWitness, latest: SignedCheckpoint, old: int
    ) -> WitnessResponse:
        proof = self._ledger.consistency_proof(old, latest.size) if 0 < old < latest.size else []
        body = add_checkpoint_body(old, proof, latest.note)
        return post_add_checkpoint(witness.url, body, self._timeout_s)

    def published(self, session: Session) -> PublishedCheckpoint | None:
        """The checkpoint to publish now (see ``published_checkpoint``)."""
        return published_checkpoint(session, self.witnesses, self.quorum)


def published_checkpoint(
    session: Session, witnesses: Sequence[ConfiguredWitness], quorum: int
) -> PublishedCheckpoint | None:
    """The latest checkpoint with at least ``quorum`` cosignatures by ``witnesses`` (quorum 0:
    the latest), with every cosignature collected for it; None if there is none yet."""
    if quorum == 0:
        latest = latest_checkpoint(session)
        return cosigned_checkpoint(session, latest.size) if latest is not None else None
    keyed = {w.name: w.key.key_id.hex() for w in witnesses}
    rows = session.execute(
        select(LedgerCosignature.tree_size, LedgerCosignature.witness, LedgerCosignature.key_id)
        .where(LedgerCosignature.witness.in_(list(keyed)))
        .order_by(LedgerCosignature.tree_size.desc())
    )
    counts: dict[int, int] = {}
    for tree_size, name, key_id in rows:
        if keyed.get(name) != key_id:
            continue  # cosigned with a key this deployment no longer trusts
        counts[tree_size] = counts.get(tree_size, 0) + 1
        if counts[tree_size] >= quorum:
            return cosigned_checkpoint(session, tree_size)
    return None


def cosigned_checkpoint(session: Session, size: int) -> PublishedCheckpoint | None:
    """The signed checkpoint of ``size`` with every cosignature collected for it (None: no
    checkpoint of that size was signed)."""
    row = session.execute(
        select(LedgerCheckpoint.note, LedgerCheckpoint.root_hash).where(
            LedgerCheckpoint.tree_size == size
        )
    ).first()
    if row is None:
        return None
    cosignatures = session.execute(
        select(LedgerCosignature.witness, LedgerCosignature.line)
        .where(LedgerCosignature.tree_size == size)
        .order_by(LedgerCosignature.witness)
    ).all()
    return PublishedCheckpoint(
        note=with_signatures(row.note, [c.line for c in cosignatures]),
        size=size,
        root=row.root_hash,
        cosigned_by=tuple(c.witness for c in cosignatures),
    )


def cosigned_note(session: Session, size: int) -> str | None:
    """The note of the checkpoint of ``size`` carrying the gateway's signature and every
    witness cosignature collected for it (signed-note lines, tlog-cosignature v1), for export
    bundles; None if no checkpoint of that size was signed."""
    published = cosigned_checkpoint(session, size)
    return published.note if published else None


def _latest_per_witness(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(LedgerCosignature.witness, func.max(LedgerCosignature.tree_size)).group_by(
            LedgerCosignature.witness
        )
    )
    return {name: int(size) for name, size in rows}
