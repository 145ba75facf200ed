"""ResourceService: charities' projects, the capacity pre-flight and matching.

Translates between the API's messages and ``gateway.projects``; every call is one exchange
(policy decision, store, ledger entry). Publishing is a write; listing, the capacity question and
matching only read. Matching reads the case inside the gateway and answers with projects, scores
and reasons only.
"""

from __future__ import annotations

from typing import Any

import grpc
from sqlalchemy.orm import Session

from aidbridge.v1 import common_pb2, resources_pb2, resources_pb2_grpc
from gateway import cases, errors
from gateway.clock import to_date
from gateway.exchange import Call, remember
from gateway.policy.catalogue import Catalogue
from gateway.privacy.generalise import income_band
from gateway.projects import repository
from gateway.projects.capacity import CapacityQuestion, query_capacity
from gateway.projects.matching import CaseProfile, rank_projects
from gateway.projects.model import Eligibility, Project
from gateway.projects.validate import validate_project
from gateway.services import convert
from gateway.services.base import Servicer
from gateway.services.cases import case_resource, open_case, seal_subject

DEFAULT_PAGE = 50
MAX_PAGE = 500
DEFAULT_MATCHES = 10
MAX_MATCHES = 50

_INCOME_BANDS = {
    resources_pb2.INCOME_BAND_BELOW_LINE: "below-line",
    resources_pb2.INCOME_BAND_UP_TO_1_5X_LINE: "1-1.5x-line",
    resources_pb2.INCOME_BAND_UP_TO_2X_LINE: "1.5-2x-line",
    resources_pb2.INCOME_BAND_ABOVE_2X_LINE: "above-2x-line",
}
_INCOME_BANDS_BACK = {v: k for k, v in _INCOME_BANDS.items()}
_CAPACITY = {
    "has-capacity": resources_pb2.CAPACITY_STATUS_HAS_CAPACITY,
    "no-capacity": resources_pb2.CAPACITY_STATUS_NO_CAPACITY,
    "waitlist": resources_pb2.CAPACITY_STATUS_WAITLIST,
    "assessment-needed": resources_pb2.CAPACITY_STATUS_ASSESSMENT_NEEDED,
}


def _names(enum: Any, values: Any) -> tuple[str, ...]:
    return tuple(convert._enum_name(enum, v) for v in values if v)


def _values(enum: Any, names: tuple[str, ...]) -> list[int]:
    return [convert._enum_value(enum, n) for n in names]


def project_from_message(
    message: resources_pb2.Project, *, project_id: str, org_id: str
) -> Project:
    rule = message.eligibility
    return Project(
        project_id=project_id,
        org_id=org_id,
        name=message.name,
        description=message.description,
        kinds=_names(common_pb2.HelpKind, message.services),
        target_groups=_names(common_pb2.SpecialGroup, message.eligible_groups),
        streets=tuple(s.strip() for s in message.streets),
        communities=tuple((c.street.strip(), c.name.strip()) for c in message.communities),
        starts_at_ns=convert.from_timestamp(message.starts_at)
        if message.HasField("starts_at")
        else 0,
        ends_at_ns=convert.from_timestamp(message.ends_at) if message.HasField("ends_at") else 0,
        capacity_total=message.capacity,
        capacity_remaining=message.capacity_remaining,
        waitlist_open=message.waitlist_open,
        eligibility=Eligibility(
            special_groups=_names(common_pb2.SpecialGroup, rule.special_groups),
            min_age=rule.min_age,
            max_age=rule.max_age,
            hardship_types=_names(common_pb2.HardshipType, rule.hardship_types),
            max_income_band=_INCOME_BANDS.get(rule.max_income_band, ""),
            assessment_required=rule.assessment_required,
        ),
    )


def project_message(project: Project) -> resources_pb2.Project:
    rule = project.eligibility
    return resources_pb2.Project(
        project_id=project.project_id,
        org_id=project.org_id,
        name=project.name,
        description=project.description,
        services=_values(common_pb2.HelpKind, project.kinds),
        streets=list(project.streets),
        eligible_groups=_values(common_pb2.SpecialGroup, project.target_groups),
        capacity=project.capacity_total,
        communities=[resources_pb2.Community(street=s, name=c) for s, c in project.communities],
        starts_at=convert.timestamp(project.starts_at_ns),
        ends_at=convert.timestamp(project.ends_at_ns),
        capacity_remaining=project.capacity_remaining,
        eligibility=resources_pb2.Eligibility(
            special_groups=_values(common_pb2.SpecialGroup, rule.special_groups),
            min_age=rule.min_age,
            max_age=rule.max_age,
            hardship_types=_values(common_pb2.HardshipType, rule.hardship_types),
            max_income_band=_INCOME_BANDS_BACK.get(rule.max_income_band, 0),
            assessment_required=rule.assessment_required,
        ),
        waitlist_open=project.waitlist_open,
        updated_at=convert.timestamp(project.updated_at_ns),
    )


def case_profile(record: dict[str, Any], *, now_ns: int, catalogue: Catalogue) -> CaseProfile:
    """What matching reads of a case record (inside the gateway)."""
    size = int(record.get("household_size", 0))
    band = (
        income_band(int(record.get("monthly_income", 0)), size, catalogue.minimum_living_line_fen)
        if size >= 1
        else ""
    )
    return CaseProfile(
        needs=tuple(record.get("needs", ())),
        special_groups=tuple(record.get("special_groups", ())),
        hardship_types=tuple(record.get("hardship_types", ())),
        street=record.get("street", ""),
        community=record.get("community", ""),
        age_years=cases.age_on(record["birth_date"], to_date(now_ns)),
        income_band=band,
    )


def _page_size(page: common_pb2.PageRequest) -> int:
    size = page.page_size or DEFAULT_PAGE
    if not 0 < size <= MAX_PAGE:
        raise errors.InvalidArgument(
            f"page.page_size must be between 1 and {MAX_PAGE}", field="page.page_size"
        )
    return size


def _check_area(catalogue: Catalogue, street: str, community: str, *, required: bool) -> None:
    if not street:
        if required:
            raise errors.InvalidArgument("street is required", field="street")
        if community:
            raise errors.InvalidArgument("community needs its street", field="community")
        return
    if street not in catalogue.streets:
        raise errors.InvalidArgument(
            f"street {street!r} is not a street of this district", field="street"
        )
    if community and community not in catalogue.communities.get(street, ()):
        raise errors.InvalidArgument(
            f"community {community!r} is not a community of {street}", field="community"
        )


class ResourceService(Servicer, resources_pb2_grpc.ResourceServiceServicer):
    async def PublishProject(
        self, request: resources_pb2.PublishProjectRequest, context: grpc.aio.ServicerContext
    ) -> resources_pb2.Project:
        return await self.run(context, request, self._publish)

    def _publish(self, session: Session, call: Call) -> resources_pb2.Project:
        request: resources_pb2.PublishProjectRequest = call.request  # type: ignore[assignment]
        given = request.project
        if given.project_id:
            # An update: the owner is whoever published it first, whatever the message says.
            owner = repository.get_row(session, given.project_id).org_id
        else:
            owner = given.org_id or call.caller.org
        call.decide(resource={"kind": "project", "id": given.project_id, "owner_org": owner})
        if given.org_id and given.org_id != owner:
            raise errors.InvalidArgument(
                f"project.org_id {given.org_id} is not the project's owner {owner}",
                field="project.org_id",
            )

        def produce() -> resources_pb2.Project:
            project = project_from_message(
                given,
                project_id=given.project_id or repository.new_project_id(),
                org_id=owner,
            )
            project = validate_project(project, call.app.catalogue)
            saved = repository.save(session, project, actor=call.caller.actor, now_ns=call.now_ns)
            return project_message(saved)

        return remember(session, call, request.request_id, resources_pb2.Project, produce)

    async def ListProjects(
        self, request: resources_pb2.ListProjectsRequest, context: grpc.aio.ServicerContext
    ) -> resources_pb2.ListProjectsResponse:
        return await self.run_read(context, request, self._list)

    def _list(self, session: Session, call: Call) -> resources_pb2.ListProjectsResponse:
        request: resources_pb2.ListProjectsRequest = call.request  # type: ignore[assignment]
        size = _page_size(request.page)
        _check_area(call.app.catalogue, request.street, "", required=False)
        call.decide(resource={"kind": "none"})
        kind = convert._enum_name(common_pb2.HelpKind, request.kind) if request.kind else ""
        found: list[Project] = []
        for project in repository.list_projects(
            session,
            org_id=request.org_id,
            active_at_ns=None if request.include_ended else call.now_ns,
            after=request.page.page_token,
        ):
            if request.street and request.street not in project.streets:
                continue
            if kind and kind not in project.kinds:
                continue
            found.append(project)
            if len(found) > size:
                break
        response = resources_pb2.ListProjectsResponse(
            projects=[project_message(p) for p in found[:size]]
        )
        if len(found) > size:
            response.next_page_token = found[size - 1].project_id
        return response

    async def QueryCapacity(
        self, request: resources_pb2.QueryCapacityRequest, context: grpc.aio.ServicerContext
    ) -> resources_pb2.QueryCapacityResponse:
        return await self.run_read(context, request, self._capacity)

    def _capacity(self, session: Session, call: Call) -> resources_pb2.QueryCapacityResponse:
        request: resources_pb2.QueryCapacityRequest = call.request  # type: ignore[assignment]
        kinds = _names(common_pb2.HelpKind, request.services)
        if not kinds:
            raise errors.InvalidArgument(
                "services: at least one kind of help is required", field="services"
            )
        _check_area(call.app.catalogue, request.street, request.community, required=True)
        call.decide(resource={"kind": "none"})
        if request.project_id:
            repository.get_row(session, request.project_id, field="project_id")
        question = CapacityQuestion(
            kinds=kinds,
            street=request.street,
            community=request.community,
            group=convert._enum_name(common_pb2.SpecialGroup, request.group)
            if request.group
            else "",
            org_id=request.org_id,
            project_id=request.project_id,
        )
        projects = repository.list_projects(
            session, org_id=request.org_id, active_at_ns=call.now_ns
        )
        overall, answers = query_capacity(projects, question, call.now_ns)
        return resources_pb2.QueryCapacityResponse(
            projects=[project_message(a.project) for a in answers],
            status=_CAPACITY[overall],
            answers=[
                resources_pb2.ProjectCapacity(
                    project_id=a.project.project_id,
                    org_id=a.project.org_id,
                    name=a.project.name,
                    status=_CAPACITY[a.status],
                    reasons=list(a.reasons),
                )
                for a in answers
            ],
        )

    async def MatchCharities(
        self, request: resources_pb2.MatchCharitiesRequest, context: grpc.aio.ServicerContext
    ) -> resources_pb2.MatchCharitiesResponse:
        return await self.run_read(context, request, self._match)

    def _match(self, session: Session, call: Call) -> resources_pb2.MatchCharitiesResponse:
        request: resources_pb2.MatchCharitiesRequest = call.request  # type: ignore[assignment]
        limit = request.limit or DEFAULT_MATCHES
        if not 0 < limit <= MAX_MATCHES:
            raise errors.InvalidArgument(
                f"limit must be between 1 and {MAX_MATCHES}", field="limit"
            )
        row = cases.get_case(session, request.case_id)
        seal_subject(call, row)
        call.decide(resource=case_resource(row))
        record = open_case(call, row)
        profile = case_profile(record, now_ns=call.now_ns, catalogue=call.app.catalogue)
        projects = repository.list_projects(session, active_at_ns=call.now_ns)
        matches = rank_projects(projects, profile, call.now_ns, limit)
        return resources_pb2.MatchCharitiesResponse(
            matches=[
                resources_pb2.CharityMatch(
                    org_id=m.project.org_id,
                    project_id=m.project.project_id,
                    score=float(m.score),
                    reasons=list(m.reasons),
                    project_name=m.project.name,
                    capacity=_CAPACITY[m.capacity],
                    rank=m.rank,
                )
                for m in matches
            ]
        )
