"""k-anonymity of a released set (gateway.privacy.release): generalised level by level, rows
that cannot reach k suppressed, a set already k-anonymous left as decided."""

from __future__ import annotations

from gateway.privacy import release


def row(age_band: str, area: str = "观音桥街道南桥社区", household: int = 3, groups=()) -> dict:
    return {
        "age_band": age_band,
        "sex": "female",
        "area": area,
        "household_size": household,
        "special_groups": list(groups),
        "_resident_id": "x",
    }


def test_a_set_already_k_anonymous_is_released_as_decided() -> None:
    rows = [row("40-49") for _ in range(5)]
    out, outcome = release.anonymise(rows, 5)
    assert out == rows
    assert (outcome.k_before, outcome.level, outcome.suppressed) == (5, 0, 0)
    assert outcome.describe(5) == "k-anonymity 5 ≥ 5: released as decided"


def test_a_small_group_is_widened_first() -> None:
    rows = [row("40-49")] * 3 + [row("50-59")] * 2
    out, outcome = release.anonymise(rows, 5)
    assert outcome.level == 1 and outcome.k_after == 5
    assert {r["age_band"] for r in out if r} == {"40-59"}
    assert {r["area"] for r in out if r} == {"观音桥街道"}
    assert all(r["household_size"] == 3 for r in out if r)


def test_the_second_level_withholds_household_size_and_names_the_district() -> None:
    rows = [row("20-29", household=h) for h in (1, 2)] + [row("40-49", household=4)] * 3
    out, outcome = release.anonymise(rows, 5)
    assert outcome.level == 2
    assert all(r is not None and "household_size" not in r for r in out)
    assert {r["area"] for r in out if r} == {release.DISTRICT}
    assert release.withheld_fields(rows[0], out[0]) == {"household_size"}  # type: ignore[arg-type]


def test_rows_below_k_at_the_last_level_are_suppressed() -> None:
    rows = [row("40-49")] * 5 + [row("80+")]
    out, outcome = release.anonymise(rows, 5)
    assert out[-1] is None and outcome.suppressed == 1
    assert outcome.k_after >= 5
    assert "1 suppressed" in outcome.describe(5)


def test_minors_and_the_oldest_stay_in_their_own_bands() -> None:
    assert release.wider_age_band("6-13", 1) == "0-17"
    assert release.wider_age_band("80+", 1) == "80+"
    assert release.wider_age_band("80+", 2) == "60+"
    assert release.wider_age_band("60-69", 1) == "60-79"
    assert release.wider_age_band("30-39", 2) == "18-59"
