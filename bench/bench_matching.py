"""Matching benchmark: ranking a case over a directory of projects, beside a bare scan.

For directories of 1,000 and 5,000 synthetic projects (random kinds, groups, streets, some
communities, eligibility rules and capacity) and profiles of synthetic cases, measures
``gateway.projects.matching.rank_projects`` per case against the baseline of a bare linear scan
of the same list that keeps the projects serving the case's street (the least any matcher must
do), and prints both rates and their ratio. No target in DESIGN.md; this says what a
MatchCharities call spends in matching beside its policy decision (~1 ms) and case decryption.
Run: .venv/bin/python bench/bench_matching.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gateway.cases import age_on  # noqa: E402
from gateway.clock import NS_PER_DAY  # noqa: E402
from gateway.privacy.generalise import income_band  # noqa: E402
from gateway.projects.matching import CaseProfile, rank_projects  # noqa: E402
from gateway.projects.model import INCOME_BANDS, Eligibility, Project  # noqa: E402
from gateway.services import convert  # noqa: E402
from gateway.synthetic import STREETS, synthetic_cases  # noqa: E402

KINDS = ("material", "cash", "visits_and_care", "psychological", "rehabilitation", "insurance")
GROUPS = ("elderly_dependent", "minor", "disabled", "seriously_ill")
HARDSHIPS = ("low_income", "minimum_living", "serious_illness", "disability", "education")
NOW = 1_795_804_588_684_864_892


def directory(n: int, rng: random.Random) -> list[Project]:
    out = []
    for i in range(n):
        streets = tuple(rng.sample(STREETS, rng.randint(1, 4)))
        total = rng.randint(5, 100)
        out.append(
            Project(
                project_id=f"proj-{i:06d}",
                org_id=rng.choice(("charity-sunshine", "charity-harbour")),
                name=f"项目{i}",
                description="",
                kinds=tuple(rng.sample(KINDS, rng.randint(1, 3))),
                target_groups=tuple(rng.sample(GROUPS, rng.choice((0, 0, 1, 2)))),
                streets=streets,
                communities=(),
                starts_at_ns=NOW - 30 * NS_PER_DAY,
                ends_at_ns=NOW + rng.randint(-10, 200) * NS_PER_DAY,
                capacity_total=total,
                capacity_remaining=rng.randint(0, total),
                waitlist_open=rng.random() < 0.3,
                eligibility=Eligibility(
                    max_age=rng.choice((0, 0, 18, 60)),
                    hardship_types=tuple(rng.sample(HARDSHIPS, rng.choice((0, 0, 1)))),
                    max_income_band=rng.choice(("", "", *INCOME_BANDS)),
                ),
            )
        )
    return out


def profiles(n: int) -> list[CaseProfile]:
    today = date(2026, 11, 28)
    out = []
    for case in synthetic_cases(n, seed=5, today=today):
        record = convert.case_to_record(case)
        out.append(
            CaseProfile(
                needs=tuple(record["needs"]),
                special_groups=tuple(record["special_groups"]),
                hardship_types=tuple(record["hardship_types"]),
                street=record["street"],
                community=record["community"],
                age_years=age_on(record["birth_date"], today),
                income_band=income_band(
                    record["monthly_income"], max(record["household_size"], 1), 80_000
                ),
            )
        )
    return out


def rate(work, cases: list[CaseProfile], seconds: float) -> float:  # type: ignore[no-untyped-def]
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for case in cases:
            work(case)
        done += len(cases)
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    cases = profiles(50)
    print(f"{'projects':>9} {'rank (cases/s)':>15} {'bare scan (cases/s)':>20} {'ratio':>6}")
    for n in (1_000, 5_000):
        projects = directory(n, random.Random(n))
        ranked = rate(lambda c, p=projects: rank_projects(p, c, NOW, 10), cases, args.seconds)
        bare = rate(
            lambda c, p=projects: [x for x in p if c.street in x.streets], cases, args.seconds
        )
        print(f"{n:>9,} {ranked:>15,.0f} {bare:>20,.0f} {ranked / bare:>6.2f}")


if __name__ == "__main__":
    main()
