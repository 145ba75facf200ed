"""Matching a case to projects, inside the gateway, on its own directory.

The case's profile (what it needs, its special groups and hardship types, its street and
community, age and income band) is read from the case record here and never leaves: the
answer names projects, scores and reasons only, and goes to the government side that holds the
case. No charity learns anything until a consent names it (DESIGN.md, Consent).

A project is a candidate when it runs now, serves the case's street (and community, where it
names communities), offers at least one kind of help the case needs, is for one of the case's
groups (when it is for particular groups), its eligibility holds on the case, and it has a place
free or a waitlist open. Candidates are ranked by points, each with its reason:

- kinds: up to 40, in proportion to the needs it covers;
- target group: 20 when the project is for a group the person is in;
- hardship: 10 when its eligibility is aimed at a hardship the person has;
- area: 10 when it names the case's community, 5 when it serves the whole street;
- places: up to 20, in proportion to the share of places still free.

Projects with a place free rank before those with only a waitlist; ties go to more places free,
then to the project id, so the ranking is the same on every run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gateway.projects.model import HAS_CAPACITY, INCOME_BANDS, WAITLIST, Project

KIND_POINTS = 40
GROUP_POINTS = 20
HARDSHIP_POINTS = 10
COMMUNITY_POINTS = 10
STREET_POINTS = 5
PLACE_POINTS = 20


@dataclass(frozen=True)
class CaseProfile:
    """What matching reads of a case; built inside the gateway, never sent."""

    needs: tuple[str, ...]
    special_groups: tuple[str, ...]
    hardship_types: tuple[str, ...]
    street: str
    community: str
    age_years: int
    income_band: str  # one of INCOME_BANDS, "" when unknown


@dataclass(frozen=True)
class Match:
    project: Project
    score: int
    reasons: tuple[str, ...]
    capacity: str  # has-capacity | waitlist
    rank: int = 0


@dataclass(frozen=True)
class _CaseSets:
    """The case's lists as sets, built once per ranking rather than once per project."""

    needs: frozenset[str]
    groups: frozenset[str]
    hardships: frozenset[str]

    @classmethod
    def of(cls, case: CaseProfile) -> _CaseSets:
        return cls(
            frozenset(case.needs), frozenset(case.special_groups), frozenset(case.hardship_types)
        )


def exclusion(project: Project, case: CaseProfile, now_ns: int) -> str | None:
    """Why ``project`` cannot take the case, or None when it can (the first reason found)."""
    return _exclusion(project, case, _CaseSets.of(case), now_ns)


def _exclusion(project: Project, case: CaseProfile, sets: _CaseSets, now_ns: int) -> str | None:
    rule = project.eligibility
    if not project.active_at(now_ns):
        return "not running now"
    if not project.serves(case.street, case.community):
        return "does not serve the case's area"
    if sets.needs and sets.needs.isdisjoint(project.kinds):
        return "offers none of the kinds needed"
    if project.target_groups and sets.groups.isdisjoint(project.target_groups):
        return "is for other groups"
    if rule.special_groups and sets.groups.isdisjoint(rule.special_groups):
        return "eligibility: special group"
    if rule.min_age and case.age_years < rule.min_age:
        return "eligibility: age"
    if rule.max_age and case.age_years > rule.max_age:
        return "eligibility: age"
    if rule.hardship_types and sets.hardships.isdisjoint(rule.hardship_types):
        return "eligibility: hardship type"
    if rule.max_income_band and not _income_within(case.income_band, rule.max_income_band):
        return "eligibility: income"
    if project.capacity_remaining <= 0 and not project.waitlist_open:
        return "no place free and no waitlist"
    return None


def score(project: Project, case: CaseProfile) -> tuple[int, tuple[str, ...]]:
    """The points of a candidate and the reason for each."""
    points = 0
    reasons: list[str] = []
    if case.needs:
        covered = [k for k in case.needs if k in project.kinds]
        gained = KIND_POINTS * len(covered) // len(case.needs)
        points += gained
        reasons.append(
            f"offers {len(covered)} of {len(case.needs)} kinds needed "
            f"({', '.join(covered)}): +{gained}"
        )
    else:
        reasons.append("the case names no kind of help needed: +0")
    groups = [g for g in project.target_groups if g in case.special_groups]
    if groups:
        points += GROUP_POINTS
        reasons.append(f"is for the group {groups[0]}: +{GROUP_POINTS}")
    aimed = [h for h in project.eligibility.hardship_types if h in case.hardship_types]
    if aimed:
        points += HARDSHIP_POINTS
        reasons.append(f"is aimed at the hardship {aimed[0]}: +{HARDSHIP_POINTS}")
    if (case.street, case.community) in project.communities:
        points += COMMUNITY_POINTS
        reasons.append(f"serves the community {case.community}: +{COMMUNITY_POINTS}")
    else:
        points += STREET_POINTS
        reasons.append(f"serves the street {case.street}: +{STREET_POINTS}")
    if project.capacity_remaining > 0:
        gained = PLACE_POINTS * project.capacity_remaining // max(project.capacity_total, 1)
        points += gained
        reasons.append(
            f"{project.capacity_remaining} of {project.capacity_total} places free: +{gained}"
        )
    else:
        reasons.append("no place free, waitlist open: +0")
    if project.eligibility.assessment_required:
        reasons.append("the charity assesses the case before taking it")
    return points, tuple(reasons)


def rank_projects(
    projects: Iterable[Project], case: CaseProfile, now_ns: int, limit: int
) -> Sequence[Match]:
    """The candidates for ``case``, best first, at most ``limit``."""
    matches = []
    sets = _CaseSets.of(case)
    for project in projects:
        if _exclusion(project, case, sets, now_ns) is not None:
            continue
        points, reasons = score(project, case)
        capacity = HAS_CAPACITY if project.capacity_remaining > 0 else WAITLIST
        matches.append(Match(project, points, reasons, capacity))
    matches.sort(
        key=lambda m: (
            m.capacity != HAS_CAPACITY,
            -m.score,
            -m.project.capacity_remaining,
            m.project.project_id,
        )
    )
    return [
        Match(m.project, m.score, m.reasons, m.capacity, rank=i)
        for i, m in enumerate(matches[:limit], start=1)
    ]


def _income_within(band: str, highest: str) -> bool:
    # An unknown income does not pass an income rule: fail closed.
    if band not in INCOME_BANDS:
        return False
    return INCOME_BANDS.index(band) <= INCOME_BANDS.index(highest)
