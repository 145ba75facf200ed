"""The project record and its parts, as plain values (names as the catalogue spells them).

Kinds of help, special groups and hardship types use the names ``gateway.services.convert``
gives the API's enums (``material``, ``minor``, ``low_income``); income bands are those of
``gateway.privacy.generalise.income_band``. Times are integer nanoseconds (UTC).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

# Lowest first: a project open "up to" a band takes every band at or below it.
INCOME_BANDS: tuple[str, ...] = ("below-line", "1-1.5x-line", "1.5-2x-line", "above-2x-line")

# The HL7 Gravity SDOH capacity check's answers, best first.
HAS_CAPACITY = "has-capacity"
ASSESSMENT_NEEDED = "assessment-needed"
WAITLIST = "waitlist"
NO_CAPACITY = "no-capacity"
CAPACITY_ORDER: tuple[str, ...] = (HAS_CAPACITY, ASSESSMENT_NEEDED, WAITLIST, NO_CAPACITY)


@dataclass(frozen=True)
class Eligibility:
    """Who may be helped; every part optional, all given parts must hold."""

    special_groups: tuple[str, ...] = ()  # the person is in one of them
    min_age: int = 0  # 0: no lower bound
    max_age: int = 0  # 0: no upper bound
    hardship_types: tuple[str, ...] = ()  # the person has one of them
    max_income_band: str = ""  # at or below this band; "": any income
    assessment_required: bool = False

    @property
    def needs_the_person(self) -> bool:
        """Whether deciding it needs more than a kind, a group and an area."""
        return bool(
            self.min_age
            or self.max_age
            or self.hardship_types
            or self.max_income_band
            or self.assessment_required
        )


@dataclass(frozen=True)
class Project:
    project_id: str
    org_id: str
    name: str
    description: str
    kinds: tuple[str, ...]
    target_groups: tuple[str, ...]  # whom it is for; empty: anyone
    streets: tuple[str, ...]
    communities: tuple[tuple[str, str], ...]  # (street, community): narrows that street
    starts_at_ns: int
    ends_at_ns: int
    capacity_total: int
    capacity_remaining: int
    waitlist_open: bool = False
    eligibility: Eligibility = field(default_factory=Eligibility)
    updated_at_ns: int = 0

    def active_at(self, now_ns: int) -> bool:
        return self.starts_at_ns <= now_ns < self.ends_at_ns

    def serves(self, street: str, community: str = "") -> bool:
        """The area test: the street is served, and where the project names communities of that
        street, the community is one of them (an unknown community is then not served)."""
        if street not in self.streets:
            return False
        if not self.communities:
            return True
        named = {c for s, c in self.communities if s == street}
        return not named or community in named

    @property
    def capacity_used(self) -> int:
        return self.capacity_total - self.capacity_remaining

    def with_updates(self, **changes: Any) -> Project:
        return replace(self, **changes)


def to_document(project: Project) -> str:
    """The stored form (JSON); what the store keeps in columns is repeated here, so one
    document is the whole project."""
    return json.dumps(asdict(project), ensure_ascii=False, sort_keys=True)


def from_document(text: str) -> Project:
    doc = json.loads(text)
    eligibility = doc.pop("eligibility", {}) or {}
    return Project(
        project_id=doc["project_id"],
        org_id=doc["org_id"],
        name=doc["name"],
        description=doc.get("description", ""),
        kinds=tuple(doc["kinds"]),
        target_groups=tuple(doc.get("target_groups", ())),
        streets=tuple(doc["streets"]),
        communities=tuple((s, c) for s, c in doc.get("communities", ())),
        starts_at_ns=int(doc["starts_at_ns"]),
        ends_at_ns=int(doc["ends_at_ns"]),
        capacity_total=int(doc["capacity_total"]),
        capacity_remaining=int(doc["capacity_remaining"]),
        waitlist_open=bool(doc.get("waitlist_open", False)),
        eligibility=Eligibility(
            special_groups=tuple(eligibility.get("special_groups", ())),
            min_age=int(eligibility.get("min_age", 0)),
            max_age=int(eligibility.get("max_age", 0)),
            hardship_types=tuple(eligibility.get("hardship_types", ())),
            max_income_band=str(eligibility.get("max_income_band", "")),
            assessment_required=bool(eligibility.get("assessment_required", False)),
        ),
        updated_at_ns=int(doc.get("updated_at_ns", 0)),
    )
