"""The detectors' settings: sane defaults, and a bad value refused naming the setting."""

from __future__ import annotations

import re

import pytest

from gateway.config import ConfigError, load_config


def test_the_defaults_compare_the_last_hour_with_a_week_and_need_twenty_calls(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = load_config(tmp_path)
    assert (config.volume_window_s, config.volume_bucket_s) == (3600, 300)
    assert (config.volume_history_days, config.volume_floor, config.volume_ratio) == (7, 20, 0.5)
    assert config.duplicate_help_days == 30


@pytest.mark.parametrize(
    ("setting", "value", "says"),
    [
        ("volume_floor", 0, "volume_floor: expected 1 or more"),
        ("volume_ratio", 0.0, "volume_ratio: expected > 0"),
        ("volume_window_s", 1000, "a multiple of volume_bucket_s (300)"),
        ("volume_window_s", 172_800, "at most a day"),
        ("duplicate_help_days", -1, "duplicate_help_days: expected 1 or more"),
    ],
)
def test_a_bad_detector_setting_is_refused_naming_it(tmp_path, setting, value, says) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "aidbridge.toml").write_text(f"{setting} = {value!r}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(says)):
        load_config(tmp_path)
