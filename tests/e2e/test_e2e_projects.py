"""Projects, the capacity pre-flight and matching through a real gateway over mutual TLS, on
SQLite and PostgreSQL: charities publish and update only their own projects, government and
charities list them, bad input is refused naming the field and ledgered with nothing kept, the
capacity question carries no identifier, and matching answers with projects and reasons only."""

from __future__ import annotations

import time

import grpc
import pytest
from sqlalchemy import func, select

from aidbridge.v1 import cases_pb2, common_pb2, resources_pb2
from gateway.clock import NS_PER_DAY
from gateway.services.convert import timestamp
from gateway.store.models import LedgerEntry, Project, ProjectRevision
from tests.conftest import start_gateway
from tests.e2e.flow import CHARITY_A, CHARITY_B, COMPLIANCE, GOV, adults

H = common_pb2
R = resources_pb2
GYQ = "观音桥街道"
# One instant for every project of a run, so that a retry carries the same content.
NOW = time.time_ns()


@pytest.fixture(params=["sqlite", "postgresql"])
def gw(request, tmp_path):
    from gateway.workdir import init_workdir
    from tests.conftest import fresh_postgres_url

    db_url = "" if request.param == "sqlite" else fresh_postgres_url()
    yield from start_gateway(init_workdir(tmp_path / "work", db_url=db_url))


def a_project(**fields) -> R.Project:
    now = NOW
    base = dict(
        name="冬季送温暖",
        description="为困难家庭送去米面油和棉被",
        services=[H.HELP_KIND_MATERIAL, H.HELP_KIND_VISITS_AND_CARE],
        streets=[GYQ],
        eligible_groups=[],
        capacity=20,
        capacity_remaining=12,
        starts_at=timestamp(now - 30 * NS_PER_DAY),
        ends_at=timestamp(now + 120 * NS_PER_DAY),
    )
    base.update(fields)
    return R.Project(**base)


def publish(client, request_id: str, project: R.Project) -> R.Project:
    return client.resources.PublishProject(
        R.PublishProjectRequest(request_id=request_id, project=project)
    )


def refused(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


def ledgered(gw, method: str) -> list[tuple[str, str]]:
    with gw.app.store.read() as session:
        return [
            (o, r)
            for o, r in session.execute(
                select(LedgerEntry.outcome, LedgerEntry.reason)
                .where(LedgerEntry.method == f"aidbridge.v1.ResourceService/{method}")
                .order_by(LedgerEntry.id)
            )
        ]


def count(gw, model) -> int:
    with gw.app.store.read() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_a_charity_publishes_and_updates_its_project_and_everyone_lists_it(gw):
    charity = gw.client(CHARITY_A)
    created = publish(charity, "p-1", a_project())
    assert created.project_id.startswith("proj-") and created.org_id == CHARITY_A
    assert created.capacity == 20 and created.capacity_remaining == 12
    assert created.updated_at.seconds > 0

    again = publish(charity, "p-1", a_project())  # a retry: the same answer, nothing new
    assert again == created
    err = refused(lambda: publish(charity, "p-1", a_project(name="另一个项目")))
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS and "p-1" in err.details()
    updated = publish(
        charity,
        "p-1-update",
        a_project(project_id=created.project_id, capacity_remaining=3, waitlist_open=True),
    )
    assert updated.project_id == created.project_id and updated.capacity_remaining == 3
    assert count(gw, Project) == 1 and count(gw, ProjectRevision) == 2

    for org in (GOV, CHARITY_B):
        listed = gw.client(org).resources.ListProjects(R.ListProjectsRequest())
        assert [(p.project_id, p.capacity_remaining) for p in listed.projects] == [
            (created.project_id, 3)
        ]
    by_street = gw.client(GOV).resources.ListProjects(R.ListProjectsRequest(street="五宝镇"))
    assert list(by_street.projects) == []
    err = refused(lambda: gw.client(COMPLIANCE).resources.ListProjects(R.ListProjectsRequest()))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED


def test_projects_are_listed_in_pages_and_by_kind_and_ended_ones_only_on_request(gw):
    charity = gw.client(CHARITY_A)
    ids = sorted(
        publish(charity, f"p-{i}", a_project(name=f"项目{i}")).project_id for i in range(3)
    )
    ended = publish(
        charity,
        "old",
        a_project(
            name="去年冬季", starts_at=timestamp(NOW - 400 * NS_PER_DAY),
            ends_at=timestamp(NOW - 30 * NS_PER_DAY),
        ),
    )  # fmt: skip
    gov = gw.client(GOV)
    first = gov.resources.ListProjects(
        R.ListProjectsRequest(page=common_pb2.PageRequest(page_size=2))
    )
    assert [p.project_id for p in first.projects] == ids[:2] and first.next_page_token
    rest = gov.resources.ListProjects(
        R.ListProjectsRequest(
            page=common_pb2.PageRequest(page_size=2, page_token=first.next_page_token)
        )
    )
    assert [p.project_id for p in rest.projects] == ids[2:] and not rest.next_page_token
    every = gov.resources.ListProjects(R.ListProjectsRequest(include_ended=True))
    assert ended.project_id in [p.project_id for p in every.projects]
    cash = gov.resources.ListProjects(R.ListProjectsRequest(kind=H.HELP_KIND_CASH))
    assert list(cash.projects) == []


def test_a_charity_cannot_touch_another_charitys_project_and_the_refusal_is_ledgered(gw):
    mine = publish(gw.client(CHARITY_A), "p-1", a_project())
    other = gw.client(CHARITY_B)

    err = refused(lambda: publish(other, "steal", a_project(project_id=mine.project_id)))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert f"project {mine.project_id} does not belong to {CHARITY_B}" in err.details()
    err = refused(lambda: publish(other, "in-its-name", a_project(org_id=CHARITY_A)))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    err = refused(lambda: publish(gw.client(GOV), "gov", a_project()))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    err = refused(lambda: publish(other, "ghost", a_project(project_id="proj-nope")))
    assert err.code() == grpc.StatusCode.NOT_FOUND and "proj-nope" in err.details()

    assert [o for o, _ in ledgered(gw, "PublishProject")] == [
        "OK",
        "PERMISSION_DENIED",
        "PERMISSION_DENIED",
        "PERMISSION_DENIED",
        "NOT_FOUND",
    ]
    listed = gw.client(GOV).resources.ListProjects(R.ListProjectsRequest())
    assert [p.org_id for p in listed.projects] == [CHARITY_A]
    assert count(gw, ProjectRevision) == 1


BAD_PROJECTS = [
    ("outside the district", dict(streets=["渝中区解放碑街道"]), "project.streets"),
    ("outside its service area", dict(streets=["五宝镇"]), "project.streets"),
    ("unknown community", dict(communities=[R.Community(street=GYQ, name="解放碑社区")]),
     "project.communities"),
    ("capacity below zero", dict(capacity=-1), "project.capacity"),
    ("remaining below zero", dict(capacity_remaining=-2), "project.capacity_remaining"),
    ("remaining above total", dict(capacity=5, capacity_remaining=6),
     "project.capacity_remaining"),
    ("period ends before it starts", dict(ends_at=timestamp(1_700_000_000 * 10**9)),
     "project.ends_at"),
    ("no period", dict(starts_at=None), "project.starts_at"),
    ("no kind of help", dict(services=[]), "project.services"),
    ("no name", dict(name=" "), "project.name"),
    ("age range upside down", dict(eligibility=R.Eligibility(min_age=60, max_age=18)),
     "project.eligibility.min_age"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "fields", "field"), BAD_PROJECTS, ids=[b[0] for b in BAD_PROJECTS]
)
def test_bad_projects_are_refused_naming_the_field_and_ledgered(gw, what, fields, field):
    charity = gw.client(CHARITY_B)  # charity-harbour: four streets, not 五宝镇
    project = a_project(**{k: v for k, v in fields.items() if v is not None})
    for name in [k for k, v in fields.items() if v is None]:
        project.ClearField(name)
    err = refused(lambda: publish(charity, "bad", project))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, what
    assert field in err.details(), err.details()
    assert count(gw, Project) == 0 and count(gw, ProjectRevision) == 0
    assert ledgered(gw, "PublishProject") == [("INVALID_ARGUMENT", err.details())]


def test_capacity_question_carries_no_identifier_and_answers_with_gravity_values(gw):
    charity = gw.client(CHARITY_A)
    open_ = publish(
        charity,
        "a",
        a_project(name="助老送餐", eligible_groups=[H.SPECIAL_GROUP_ELDERLY_DEPENDENT]),
    )
    assessed = publish(
        charity,
        "b",
        a_project(
            name="大病关怀", eligibility=R.Eligibility(max_income_band=R.INCOME_BAND_BELOW_LINE)
        ),
    )
    full = publish(
        gw.client(CHARITY_B),
        "c",
        a_project(name="心理陪伴", capacity_remaining=0, waitlist_open=True),
    )
    gov = gw.client(GOV)

    def ask(**fields) -> R.QueryCapacityResponse:
        base = dict(services=[H.HELP_KIND_MATERIAL], street=GYQ)
        base.update(fields)
        return gov.resources.QueryCapacity(R.QueryCapacityRequest(**base))

    elderly = ask(group=H.SPECIAL_GROUP_ELDERLY_DEPENDENT)
    assert elderly.status == R.CAPACITY_STATUS_HAS_CAPACITY
    assert [(a.project_id, a.status) for a in elderly.answers] == [
        (open_.project_id, R.CAPACITY_STATUS_HAS_CAPACITY),
        (assessed.project_id, R.CAPACITY_STATUS_ASSESSMENT_NEEDED),
        (full.project_id, R.CAPACITY_STATUS_WAITLIST),
    ]
    assert list(elderly.answers[1].reasons) == [
        "12 of 20 places free",
        "eligibility depends on income",
    ]
    no_group = ask()
    assert no_group.status == R.CAPACITY_STATUS_ASSESSMENT_NEEDED  # 助老送餐 is for the elderly
    assert ask(org_id=CHARITY_B).status == R.CAPACITY_STATUS_WAITLIST
    assert ask(street="五宝镇").status == R.CAPACITY_STATUS_NO_CAPACITY
    assert list(ask(street="五宝镇").answers) == []
    # A charity may ask too.
    assert charity.resources.QueryCapacity(
        R.QueryCapacityRequest(services=[H.HELP_KIND_MATERIAL], street=GYQ)
    ).status

    for fields, field in (
        (dict(street="渝中区解放碑街道"), "street"),
        (dict(street=""), "street"),
        (dict(services=[]), "services"),
        (dict(community="解放碑社区"), "community"),
    ):
        err = refused(lambda fields=fields: ask(**fields))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and field in err.details()
    err = refused(lambda: ask(project_id="proj-nope"))
    assert err.code() == grpc.StatusCode.NOT_FOUND and "project_id" in err.details()
    outcomes = [o for o, _ in ledgered(gw, "QueryCapacity")]
    assert outcomes.count("INVALID_ARGUMENT") == 4 and outcomes.count("OK") == 6
    assert outcomes.count("NOT_FOUND") == 1
    # The ledger entries of the question name no subject: it had none.
    with gw.app.store.read() as session:
        subjects = session.scalars(
            select(LedgerEntry.subject).where(LedgerEntry.method.like("%QueryCapacity"))
        ).all()
    assert set(subjects) == {""}


def test_matching_ranks_projects_for_a_case_and_nothing_about_the_person_leaves(gw):
    gov = gw.client(GOV)
    person = adults(1, seed=23)[0]
    street = person.person.street
    case_id = gov.cases.RegisterCase(
        cases_pb2.RegisterCaseRequest(request_id="case", case=person)
    ).case_id
    needs = list(person.needs) or [H.HELP_KIND_MATERIAL]
    sunshine = gw.client(CHARITY_A)  # serves the whole district
    best = publish(sunshine, "best", a_project(name="全面帮扶", services=needs, streets=[street]))
    partial = publish(
        sunshine,
        "partial",
        a_project(name="部分帮扶", services=needs[:1], streets=[street], capacity_remaining=1),
    )
    publish(
        sunshine,
        "elsewhere",
        a_project(
            name="外街",
            services=needs,
            streets=[s for s in ("五宝镇", "鱼嘴镇") if s != street][:1],
        ),
    )
    publish(
        sunshine,
        "full",
        a_project(name="满员", services=needs, streets=[street], capacity_remaining=0),
    )

    response = gov.resources.MatchCharities(R.MatchCharitiesRequest(case_id=case_id))
    expected = [best.project_id, partial.project_id]
    assert [m.project_id for m in response.matches] == expected
    assert [m.rank for m in response.matches] == [1, 2]
    first = response.matches[0]
    assert first.org_id == CHARITY_A and first.project_name == "全面帮扶"
    assert first.capacity == R.CAPACITY_STATUS_HAS_CAPACITY
    assert first.reasons[0].startswith(
        f"offers {len(set(needs))} of {len(set(needs))} kinds needed"
    )
    assert first.score >= response.matches[1].score

    wire = response.SerializeToString()
    for value in (
        person.person.name,
        person.person.resident_id,
        person.person.phone,
        person.person.address,
        person.person.birth_date,
        case_id,
    ):
        assert value.encode() not in wire, value
    # The call is ledgered with the case's subject pseudonym, not the person.
    with gw.app.store.read() as session:
        subject, outcome = session.execute(
            select(LedgerEntry.subject, LedgerEntry.outcome).where(
                LedgerEntry.method.like("%MatchCharities")
            )
        ).one()
    assert outcome == "OK" and subject == gw.app.ledger_subject(person.person.resident_id)

    for client, code in (
        (gw.client(CHARITY_A), grpc.StatusCode.PERMISSION_DENIED),
        (gw.client(COMPLIANCE), grpc.StatusCode.PERMISSION_DENIED),
    ):
        err = refused(
            lambda client=client: client.resources.MatchCharities(
                R.MatchCharitiesRequest(case_id=case_id)
            )
        )
        assert err.code() == code
    err = refused(
        lambda: gov.resources.MatchCharities(R.MatchCharitiesRequest(case_id="case-nope"))
    )
    assert err.code() == grpc.StatusCode.NOT_FOUND
    err = refused(
        lambda: gov.resources.MatchCharities(R.MatchCharitiesRequest(case_id=case_id, limit=51))
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "limit" in err.details()
