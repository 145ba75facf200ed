"""The store's bound (``store_timeout_s``): read from aidbridge.toml or the environment like every
setting, refused unless positive, and carried into the store and its group commit."""

from __future__ import annotations

import pytest

from gateway.config import ConfigError, load_config
from gateway.store import Store
from gateway.store.group_commit import GroupCommitWriter


def test_the_store_bound_defaults_to_five_seconds_and_follows_the_environment(
    tmp_path, monkeypatch
):
    assert load_config(tmp_path).store_timeout_s == 5.0
    monkeypatch.setenv("AIDBRIDGE_STORE_TIMEOUT_S", "1.5")
    assert load_config(tmp_path).store_timeout_s == 1.5


@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_a_store_bound_that_is_not_positive_is_refused_naming_the_setting(tmp_path, value):
    with pytest.raises(ConfigError, match="store_timeout_s"):
        load_config(tmp_path, store_timeout_s=value)


def test_the_writer_and_the_sqlite_busy_timeout_follow_the_store_bound(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.db'}", timeout_s=1.5)
    writer = GroupCommitWriter(store)
    try:
        assert writer.timeout_s == 1.5
        with store.read() as session:
            assert session.connection().exec_driver_sql("PRAGMA busy_timeout").scalar() == 1500
    finally:
        writer.close()
        store.dispose()
