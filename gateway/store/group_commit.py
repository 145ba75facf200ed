"""Group commit: the write units of many concurrent calls share one transaction, so one
durable commit (one fsync on SQLite) serves a whole batch.

Each unit runs inside a SAVEPOINT of its own: a unit that fails is rolled back alone and its
caller gets its exception; the others commit. A unit's caller is answered only after the batch
has committed — so "written" always means durable. If the commit itself fails, every caller in
the batch gets StoreUnavailable and nothing of the batch is kept.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from gateway.store.db import Store, StoreUnavailable, describe

T = TypeVar("T")

_STOP = object()


class GroupCommitWriter:
    def __init__(self, store: Store, *, max_batch: int = 256) -> None:
        self.store = store
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="group-commit", daemon=True)
        self._thread.start()

    def submit(self, unit: Callable[[Session], T]) -> T:
        """Run ``unit`` in the next batch; block until that batch is durable; return its result
        or raise its exception."""
        if not self._thread.is_alive():
            raise StoreUnavailable("the store's writer has stopped")
        future: Future[T] = Future()
        self._queue.put((unit, future))
        return future.result()

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                    break
                batch.append(more)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[tuple[Callable[[Session], Any], Future[Any]]]) -> None:
        outcomes: list[tuple[Future[Any], bool, Any]] = []
        try:
            with self.store.write() as session:
                for unit, future in batch:
                    savepoint = session.begin_nested()
                    try:
                        result = unit(session)
                        savepoint.commit()
                        outcomes.append((future, True, result))
                    except BaseException as exc:  # the unit's caller gets it; the batch goes on
                        if savepoint.is_active:
                            savepoint.rollback()
                        if isinstance(exc, SQLAlchemyError):
                            exc = StoreUnavailable(describe(exc))
                        outcomes.append((future, False, exc))
        except BaseException as exc:
            failure = exc if isinstance(exc, StoreUnavailable) else StoreUnavailable(str(exc))
            for _unit, future in batch:
                future.set_exception(failure)
            return
        for future, ok, value in outcomes:
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
