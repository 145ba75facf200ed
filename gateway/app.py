"""The gateway's parts, assembled once at start from a ``Config``: store, keys, cipher, policy
engine, catalogue, ledger and clock. Services receive this object; nothing else is global."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

from gateway.clock import Clock, SystemClock
from gateway.config import Config
from gateway.keys import KeyRing
from gateway.ledger.authenticator import EntryAuthenticator
from gateway.ledger.checkpoint import verifier_key
from gateway.ledger.log import Ledger
from gateway.ledger.witness_publishing import WitnessPublisher, configured_witnesses
from gateway.policy.catalogue import Catalogue
from gateway.policy.engine import PolicyEngine, load_engine
from gateway.privacy.crypto import FieldCipher
from gateway.privacy.pseudonyms import ledger_pseudonym, pseudonym_for, subject_index
from gateway.store import Store, idempotency
from gateway.store.group_commit import GroupCommitWriter

LEDGER_RECIPIENT = "ledger"

# The ways a prepared write call goes (``gateway.exchange.run_prepared_exchange``): prepared
# (the writer only checked and stored what the call brought), stale (what it read changed
# before the writer took it: it ran inside the writer) or unprepared (it could not be prepared,
# e.g. held for a second approval: it ran inside the writer).
PREPARED, STALE, UNPREPARED = "prepared", "stale", "unprepared"


class WritePaths:
    """How many write calls took each way, by method: what shows the share of calls the writer
    only checks, and how often a race sends one back into it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def add(self, method: str, path: str) -> None:
        with self._lock:
            self._counts[(method, path)] += 1

    def of(self, method: str) -> dict[str, int]:
        """The counts of ``method`` by way (a way never taken is 0)."""
        with self._lock:
            return {path: self._counts[(method, path)] for path in (PREPARED, STALE, UNPREPARED)}


@dataclass
class Gateway:
    config: Config
    store: Store
    keys: KeyRing
    cipher: FieldCipher
    engine: PolicyEngine
    catalogue: Catalogue
    ledger: Ledger
    clock: Clock
    writer: GroupCommitWriter
    # Witness cosignatures and checkpoint publication (k of n), gateway.ledger.witness_publishing.
    publisher: WitnessPublisher
    write_paths: WritePaths = field(default_factory=WritePaths)

    @classmethod
    def open(
        cls,
        config: Config,
        *,
        clock: Clock | None = None,
        engine: PolicyEngine | None = None,
        prepare: bool = True,
    ) -> Gateway:
        """Assemble the gateway. ``prepare=False``: the store was brought up to date already
        (``prepare_store``, by the supervisor of several worker processes, once for all)."""
        clock = clock or SystemClock()
        store = Store(config.database_url, timeout_s=config.store_timeout_s)
        keys = KeyRing.load(config.master_key_path)
        if prepare:
            _prepare(store, keys)
        ledger = Ledger(
            store,
            keys.signing_key("checkpoint"),
            config.ledger_origin,
            clock,
            EntryAuthenticator.from_keyring(keys),
        )
        cipher = FieldCipher.from_keyring(keys)
        return cls(
            config=config,
            store=store,
            keys=keys,
            cipher=cipher,
            engine=engine
            or load_engine(
                config.bundle_path,
                opa_url=config.opa_url or None,
                timeout_s=config.opa_timeout_s,
                cache_entries=config.decision_cache_entries,
            ),
            catalogue=Catalogue.load(config.bundle_path),
            ledger=ledger,
            clock=clock,
            writer=GroupCommitWriter(store),
            publisher=WitnessPublisher(
                store,
                ledger,
                configured_witnesses(config.witnesses),
                clock,
                quorum=config.witness_quorum,
                timeout_s=config.witness_timeout_s,
            ),
        )

    @property
    def vkey(self) -> str:
        return verifier_key(self.config.ledger_origin, self.keys.public_key("checkpoint"))

    def pseudonym(self, recipient: str, resident_id: str) -> str:
        return pseudonym_for(self.keys, recipient, resident_id)

    def ledger_subject(self, resident_id: str) -> str:
        return ledger_pseudonym(self.keys, LEDGER_RECIPIENT, resident_id)

    def subject_index(self, resident_id: str) -> str:
        return subject_index(self.keys, resident_id)

    def ledger_subject_of_index(self, index: str) -> str:
        """The ledger's name for the subject of a case known only by its store index: a refused
        release names its subject so, without decrypting the case. The index's key version is
        left out (the index key does not rotate), so a case stored under any version gives the
        same name; a compliance query by resident id looks for both names."""
        return ledger_pseudonym(self.keys, LEDGER_RECIPIENT, "index:" + index.split(".", 1)[-1])

    def current_index(self, index: str) -> str:
        """A case's store index as ``subject_index`` gives it today (the index key does not
        rotate, only the version it is written under): what a conflict declaration names, so a
        decision finds a declared relative without decrypting the case."""
        return f"{self.keys.version}.{index.split('.', 1)[-1]}"

    def ledger_subjects(self, resident_id: str) -> tuple[str, str]:
        """Both names the ledger may give the person with ``resident_id``."""
        return (
            self.ledger_subject(resident_id),
            self.ledger_subject_of_index(self.subject_index(resident_id)),
        )

    def close(self) -> None:
        self.writer.close()
        self.store.dispose()


def prepare_store(config: Config) -> None:
    """What ``Gateway.open`` does to the store before serving, done once: the newest schema, and
    responses kept for idempotency by a store written before they were sealed, sealed now."""
    store = Store(config.database_url, timeout_s=config.store_timeout_s)
    try:
        _prepare(store, KeyRing.load(config.master_key_path))
    finally:
        store.dispose()


def _prepare(store: Store, keys: KeyRing) -> None:
    store.migrate(keys)
    idempotency.seal_plain_rows(store, FieldCipher.from_keyring(keys))
