"""Matching and the capacity pre-flight on a hand-built directory: the expected ranking, the
reasons for each rank, every exclusion, and each capacity answer."""

from __future__ import annotations

import dataclasses

from gateway.projects.capacity import CapacityQuestion, query_capacity
from gateway.projects.matching import exclusion, rank_projects
from gateway.projects.model import Eligibility
from tests.projects.directory import DIRECTORY, ELDER, GYQ, NOW, project


def test_ranking_of_the_directory_for_an_elderly_case_with_reasons():
    matches = rank_projects(DIRECTORY, ELDER, NOW, limit=10)

    assert [(m.rank, m.project.project_id, m.score, m.capacity) for m in matches] == [
        (1, "p-elder-care", 80, "has-capacity"),
        (2, "p-low-income", 60, "has-capacity"),
        (3, "p-food", 45, "has-capacity"),
        (4, "p-waitlist", 65, "waitlist"),
    ]
    assert matches[0].reasons == (
        "offers 2 of 2 kinds needed (material, visits_and_care): +40",
        "is for the group elderly_dependent: +20",
        "serves the community 建新社区: +10",
        "10 of 20 places free: +10",
    )
    assert matches[1].reasons == (
        "offers 2 of 2 kinds needed (material, visits_and_care): +40",
        "is aimed at the hardship low_income: +10",
        f"serves the street {GYQ}: +5",
        "5 of 20 places free: +5",
    )
    assert matches[2].reasons == (
        "offers 1 of 2 kinds needed (material): +20",
        f"serves the street {GYQ}: +5",
        "20 of 20 places free: +20",
    )
    assert matches[3].reasons[-1] == "no place free, waitlist open: +0"


def test_each_excluded_project_is_excluded_for_its_reason():
    expected = {
        "p-full": "no place free and no waitlist",
        "p-other-street": "does not serve the case's area",
        "p-other-community": "does not serve the case's area",
        "p-other-kind": "offers none of the kinds needed",
        "p-for-minors": "is for other groups",
        "p-too-young": "eligibility: age",
        "p-richer-only": "eligibility: hardship type",
        "p-income": "eligibility: income",
        "p-ended": "not running now",
    }
    found = {p.project_id: exclusion(p, ELDER, NOW) for p in DIRECTORY}
    assert {k: v for k, v in found.items() if v is not None} == expected


def test_limit_keeps_the_best_and_ties_go_to_more_places_then_the_id():
    twins = [project("p-b", capacity_remaining=4), project("p-a", capacity_remaining=4)]
    bigger = project("p-c", capacity_total=40, capacity_remaining=8)  # same share free
    matches = rank_projects([*twins, bigger], ELDER, NOW, limit=2)
    assert [m.project.project_id for m in matches] == ["p-c", "p-a"]


def test_an_unknown_income_does_not_pass_an_income_rule():
    case = dataclasses.replace(ELDER, income_band="")
    rule = project("p-income-rule", eligibility=Eligibility(max_income_band="above-2x-line"))
    assert exclusion(rule, case, NOW) == "eligibility: income"


def test_capacity_answers_for_kind_group_and_area():
    question = CapacityQuestion(kinds=("material",), street=GYQ, group="elderly_dependent")
    overall, answers = query_capacity(DIRECTORY, question, NOW)
    statuses = {a.project.project_id: a.status for a in answers}
    assert overall == "has-capacity"
    assert statuses == {
        "p-food": "has-capacity",
        "p-elder-care": "assessment-needed",  # serves some communities; the question names none
        "p-low-income": "assessment-needed",
        "p-too-young": "assessment-needed",
        "p-richer-only": "assessment-needed",
        "p-income": "assessment-needed",
        "p-other-community": "assessment-needed",
        "p-waitlist": "waitlist",
        "p-full": "no-capacity",
    }
    assert answers[0].project.project_id == "p-food"
    care = next(a for a in answers if a.project.project_id == "p-elder-care")
    assert care.reasons == ("10 of 20 places free", f"serves only some communities of {GYQ}")
    in_community = CapacityQuestion(
        kinds=("material",), street=GYQ, community="建新社区", group="elderly_dependent"
    )
    statuses = {
        a.project.project_id: a.status for a in query_capacity(DIRECTORY, in_community, NOW)[1]
    }
    assert statuses["p-elder-care"] == "has-capacity"
    assert "p-other-community" not in statuses
    low = next(a for a in answers if a.project.project_id == "p-low-income")
    assert low.reasons == (
        "5 of 20 places free",
        "eligibility depends on the hardship type",
        "eligibility depends on income",
    )


def test_capacity_overall_answer_is_the_best_and_no_fit_is_no_capacity():
    def overall(*projects, **question):
        q = CapacityQuestion(**{"kinds": ("material",), "street": GYQ, **question})
        return query_capacity(projects, q, NOW)[0]

    full = project("p-full", capacity_remaining=0)
    waiting = project("p-wait", capacity_remaining=0, waitlist_open=True)
    assessed = project("p-assess", eligibility=Eligibility(assessment_required=True))
    assert overall(full) == "no-capacity"
    assert overall(full, waiting) == "waitlist"
    assert overall(full, waiting, assessed) == "assessment-needed"
    assert overall() == "no-capacity"
    assert overall(assessed, kinds=("cash",)) == "no-capacity"
    assert overall(project("p-minor", target_groups=("minor",))) == "no-capacity"
    assert overall(project("p-minor", target_groups=("minor",)), group="minor") == "has-capacity"
    assert overall(assessed, org_id="charity-harbour") == "no-capacity"
