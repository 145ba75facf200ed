"""The rules a published project must meet. Each failure is an ``InvalidArgument`` naming the
field of the API (``project.streets``, ``project.capacity``, …) and what was found."""

from __future__ import annotations

from typing import TypeVar

from gateway import errors
from gateway.clock import NS_PER_DAY, iso
from gateway.policy.catalogue import Catalogue
from gateway.projects.model import INCOME_BANDS, Project

T = TypeVar("T")

MAX_PERIOD_DAYS = 5 * 366
MAX_AGE = 150
MAX_CAPACITY = 1_000_000


def validate_project(project: Project, catalogue: Catalogue) -> Project:
    """Check ``project`` against the catalogue (the district's streets and communities, the
    owner's service area); return it with its lists de-duplicated, in the order given."""
    if not project.name.strip():
        raise errors.InvalidArgument("project.name is required", field="project.name")
    if not project.kinds:
        raise errors.InvalidArgument(
            "project.services: at least one kind of help is required", field="project.services"
        )
    _check_area(project, catalogue)
    _check_period(project)
    _check_capacity(project)
    _check_eligibility(project)
    return project.with_updates(
        name=project.name.strip(),
        kinds=_unique(project.kinds),
        target_groups=_unique(project.target_groups),
        streets=_unique(project.streets),
        communities=_unique(project.communities),
    )


def _check_area(project: Project, catalogue: Catalogue) -> None:
    if not project.streets:
        raise errors.InvalidArgument(
            "project.streets: a project serves at least one street", field="project.streets"
        )
    owner = catalogue.org(project.org_id)
    service_area = set(owner.streets) if owner is not None else set()
    for street in project.streets:
        if street not in catalogue.streets:
            raise errors.InvalidArgument(
                f"project.streets: {street!r} is not a street of this district",
                field="project.streets",
            )
        if street not in service_area:
            raise errors.InvalidArgument(
                f"project.streets: {street} is outside {project.org_id}'s registered service area",
                field="project.streets",
            )
    for street, community in project.communities:
        if street not in project.streets:
            raise errors.InvalidArgument(
                f"project.communities: {community} names street {street!r}, which the project "
                "does not serve",
                field="project.communities",
            )
        if community not in catalogue.communities.get(street, ()):
            raise errors.InvalidArgument(
                f"project.communities: {community!r} is not a community of {street}",
                field="project.communities",
            )


def _check_period(project: Project) -> None:
    if not project.starts_at_ns:
        raise errors.InvalidArgument("project.starts_at is required", field="project.starts_at")
    if not project.ends_at_ns:
        raise errors.InvalidArgument("project.ends_at is required", field="project.ends_at")
    if project.ends_at_ns <= project.starts_at_ns:
        raise errors.InvalidArgument(
            f"project.ends_at {iso(project.ends_at_ns)} is not after project.starts_at "
            f"{iso(project.starts_at_ns)}",
            field="project.ends_at",
        )
    if project.ends_at_ns - project.starts_at_ns > MAX_PERIOD_DAYS * NS_PER_DAY:
        raise errors.InvalidArgument(
            f"project.ends_at: a project period is at most {MAX_PERIOD_DAYS} days",
            field="project.ends_at",
        )


def _check_capacity(project: Project) -> None:
    if project.capacity_total < 0:
        raise errors.InvalidArgument(
            f"project.capacity must not be below zero, found {project.capacity_total}",
            field="project.capacity",
        )
    if project.capacity_total > MAX_CAPACITY:
        raise errors.InvalidArgument(
            f"project.capacity is at most {MAX_CAPACITY}", field="project.capacity"
        )
    if project.capacity_remaining < 0:
        raise errors.InvalidArgument(
            f"project.capacity_remaining must not be below zero, found "
            f"{project.capacity_remaining}",
            field="project.capacity_remaining",
        )
    if project.capacity_remaining > project.capacity_total:
        raise errors.InvalidArgument(
            f"project.capacity_remaining {project.capacity_remaining} exceeds "
            f"project.capacity {project.capacity_total}",
            field="project.capacity_remaining",
        )


def _check_eligibility(project: Project) -> None:
    rule = project.eligibility
    for name, value in (("min_age", rule.min_age), ("max_age", rule.max_age)):
        if not 0 <= value <= MAX_AGE:
            raise errors.InvalidArgument(
                f"project.eligibility.{name} must be between 0 and {MAX_AGE}, found {value}",
                field=f"project.eligibility.{name}",
            )
    if rule.max_age and rule.min_age > rule.max_age:
        raise errors.InvalidArgument(
            f"project.eligibility.min_age {rule.min_age} is above max_age {rule.max_age}",
            field="project.eligibility.min_age",
        )
    if rule.max_income_band and rule.max_income_band not in INCOME_BANDS:
        raise errors.InvalidArgument(
            f"project.eligibility.max_income_band {rule.max_income_band!r} is not one of "
            f"{', '.join(INCOME_BANDS)}",
            field="project.eligibility.max_income_band",
        )


def _unique(values: tuple[T, ...]) -> tuple[T, ...]:
    return tuple(dict.fromkeys(values))
