"""A hand-built directory of projects, and cases to match against it (synthetic)."""

from __future__ import annotations

from gateway.clock import NS_PER_DAY
from gateway.projects.matching import CaseProfile
from gateway.projects.model import Eligibility, Project

NOW = 1_795_804_588_684_864_892  # 2026-11-28
START = NOW - 30 * NS_PER_DAY
END = NOW + 150 * NS_PER_DAY
GYQ = "观音桥街道"
HXJ = "华新街街道"


def project(project_id: str, **fields: object) -> Project:
    base: dict[str, object] = dict(
        project_id=project_id,
        org_id="charity-sunshine",
        name=project_id,
        description="",
        kinds=("material",),
        target_groups=(),
        streets=(GYQ,),
        communities=(),
        starts_at_ns=START,
        ends_at_ns=END,
        capacity_total=20,
        capacity_remaining=10,
    )
    base.update(fields)
    return Project(**base)  # type: ignore[arg-type]


DIRECTORY = (
    # Covers both needs, for the elderly, in the case's community, 10 of 20 free: 40+20+10+10.
    project(
        "p-elder-care",
        kinds=("material", "visits_and_care"),
        target_groups=("elderly_dependent",),
        communities=((GYQ, "建新社区"),),
    ),
    # One need of two, whole street, all 20 free: 20+5+20.
    project("p-food", org_id="charity-harbour", capacity_remaining=20),
    # Both needs, aimed at low income, whole street, 5 of 20 free: 40+10+5+5.
    project(
        "p-low-income",
        kinds=("material", "visits_and_care", "cash"),
        eligibility=Eligibility(hardship_types=("low_income",), max_income_band="1-1.5x-line"),
        capacity_remaining=5,
    ),
    # Full, waitlist open: ranks after every project with a place, however many points.
    project(
        "p-waitlist",
        kinds=("material", "visits_and_care"),
        target_groups=("elderly_dependent",),
        capacity_remaining=0,
        waitlist_open=True,
    ),
    # Each of these is excluded, for the reason its name gives.
    project("p-full", capacity_remaining=0),
    project("p-other-street", streets=(HXJ,)),
    project("p-other-community", communities=((GYQ, "北城社区"),)),
    project("p-other-kind", kinds=("education",)),
    project("p-for-minors", target_groups=("minor",)),
    project("p-too-young", eligibility=Eligibility(max_age=60)),
    project("p-richer-only", eligibility=Eligibility(hardship_types=("disability",))),
    project("p-income", eligibility=Eligibility(max_income_band="below-line")),
    project("p-ended", starts_at_ns=START - 200 * NS_PER_DAY, ends_at_ns=START),
)

ELDER = CaseProfile(
    needs=("material", "visits_and_care"),
    special_groups=("elderly_dependent",),
    hardship_types=("low_income",),
    street=GYQ,
    community="建新社区",
    age_years=78,
    income_band="1-1.5x-line",
)
