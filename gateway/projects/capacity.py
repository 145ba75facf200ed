"""The capacity pre-flight: can a project take a case of this kind, group and area?

The question carries no identifier — a kind of help, a special group, a street (and community) —
so it can be asked before anyone's data is shared. Each project that offers the kind in the area
and is for the group answers with a value of the HL7 Gravity SDOH capacity check:
``has-capacity``; ``assessment-needed`` when places are free but its eligibility turns on what
the question does not say (age, income, hardship, the community when the project serves only
some of the street's, or an assessment of every case);
``waitlist`` when full with a waitlist open; ``no-capacity`` otherwise. The overall answer is
the best of them, ``no-capacity`` when no project fits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gateway.projects.model import (
    ASSESSMENT_NEEDED,
    CAPACITY_ORDER,
    HAS_CAPACITY,
    NO_CAPACITY,
    WAITLIST,
    Project,
)


@dataclass(frozen=True)
class CapacityQuestion:
    kinds: tuple[str, ...]
    street: str
    community: str = ""
    group: str = ""  # "": no special group
    org_id: str = ""
    project_id: str = ""


@dataclass(frozen=True)
class CapacityAnswer:
    project: Project
    status: str
    reasons: tuple[str, ...]


def fits(project: Project, question: CapacityQuestion, now_ns: int) -> bool:
    """Whether ``project`` is one the question is about: in scope, running now, offering one of
    the kinds in the area, and for the group (a project for no particular group is for all)."""
    if question.org_id and project.org_id != question.org_id:
        return False
    if question.project_id and project.project_id != question.project_id:
        return False
    if not project.active_at(now_ns):
        return False
    if question.community:
        if not project.serves(question.street, question.community):
            return False
    elif question.street not in project.streets:
        return False
    if not set(question.kinds) & set(project.kinds):
        return False
    return not project.target_groups or question.group in project.target_groups


def answer(project: Project, question: CapacityQuestion) -> CapacityAnswer:
    """One fitting project's answer, with its reasons."""
    rule = project.eligibility
    places = f"{project.capacity_remaining} of {project.capacity_total} places free"
    if project.capacity_remaining <= 0:
        if project.waitlist_open:
            return CapacityAnswer(project, WAITLIST, ("no place free", "waitlist open"))
        return CapacityAnswer(project, NO_CAPACITY, ("no place free", "no waitlist"))
    unsettled = []
    if not question.community and _names_communities(project, question.street):
        unsettled.append(f"serves only some communities of {question.street}")
    if rule.special_groups and question.group not in rule.special_groups:
        unsettled.append("eligibility depends on the special group")
    if rule.min_age or rule.max_age:
        unsettled.append("eligibility depends on age")
    if rule.hardship_types:
        unsettled.append("eligibility depends on the hardship type")
    if rule.max_income_band:
        unsettled.append("eligibility depends on income")
    if rule.assessment_required:
        unsettled.append("the charity assesses every case")
    if unsettled:
        return CapacityAnswer(project, ASSESSMENT_NEEDED, (places, *unsettled))
    return CapacityAnswer(project, HAS_CAPACITY, (places,))


def _names_communities(project: Project, street: str) -> bool:
    return any(s == street for s, _ in project.communities)


def query_capacity(
    projects: Iterable[Project], question: CapacityQuestion, now_ns: int
) -> tuple[str, Sequence[CapacityAnswer]]:
    """The overall answer and each fitting project's, best first (then most places free)."""
    answers = [answer(p, question) for p in projects if fits(p, question, now_ns)]
    answers.sort(
        key=lambda a: (
            CAPACITY_ORDER.index(a.status),
            -a.project.capacity_remaining,
            a.project.project_id,
        )
    )
    overall = answers[0].status if answers else NO_CAPACITY
    return overall, answers
