"""Persistence: SQLAlchemy 2 on SQLite (WAL, the embedded default) or PostgreSQL, with Alembic
migrations. ``Store`` hands out transactions; the tables are in ``models``."""

from gateway.store.db import Store, StoreRefused, StoreUnavailable

__all__ = ["Store", "StoreRefused", "StoreUnavailable"]
