"""Projects in the store: the current state in ``projects`` and every published state in
``project_revisions`` (append-only), so a past period's capacity can be read as it was."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import errors
from gateway.projects.model import Project, from_document, to_document
from gateway.store.models import Project as ProjectRow
from gateway.store.models import ProjectRevision


def new_project_id() -> str:
    return "proj-" + uuid.uuid4().hex[:20]


def get_row(session: Session, project_id: str, *, field: str = "project.project_id") -> ProjectRow:
    row = session.get(ProjectRow, project_id) if project_id else None
    if row is None:
        raise errors.NotFound(f"{field}: project {project_id!r} not found", field=field)
    return row


def get_project(session: Session, project_id: str) -> Project:
    return from_document(get_row(session, project_id).body_json)


def save(session: Session, project: Project, *, actor: str, now_ns: int) -> Project:
    """Insert or update ``project`` (its ``project_id`` decides) and append its revision."""
    project = project.with_updates(updated_at_ns=now_ns)
    document = to_document(project)
    row = session.get(ProjectRow, project.project_id)
    if row is None:
        row = ProjectRow(
            project_id=project.project_id,
            org_id=project.org_id,
            body_json=document,
            created_at_ns=now_ns,
            revision=0,
        )
        session.add(row)
    row.body_json = document
    row.starts_at_ns = project.starts_at_ns
    row.ends_at_ns = project.ends_at_ns
    row.capacity_total = project.capacity_total
    row.capacity_remaining = project.capacity_remaining
    row.updated_at_ns = now_ns
    row.revision = (row.revision or 0) + 1
    session.flush()
    session.add(
        ProjectRevision(
            project_id=project.project_id,
            revision=row.revision,
            body_json=document,
            at_ns=now_ns,
            actor=actor,
        )
    )
    return project


def list_projects(
    session: Session,
    *,
    org_id: str = "",
    active_at_ns: int | None = None,
    after: str = "",
    limit: int | None = None,
) -> list[Project]:
    """Projects by id; only ``org_id``'s, only those whose period holds ``active_at_ns`` (an
    ended or not yet started one is left out), only ids after ``after`` (paging)."""
    query = select(ProjectRow.body_json).order_by(ProjectRow.project_id)
    if org_id:
        query = query.where(ProjectRow.org_id == org_id)
    if active_at_ns is not None:
        query = query.where(
            ProjectRow.starts_at_ns <= active_at_ns, ProjectRow.ends_at_ns > active_at_ns
        )
    if after:
        query = query.where(ProjectRow.project_id > after)
    if limit is not None:
        query = query.limit(limit)
    return [from_document(text) for text in session.scalars(query)]


def projects_as_of(session: Session, at_ns: int) -> Sequence[Project]:
    """Every project as its last revision before ``at_ns`` left it (the report's view)."""
    latest: dict[str, tuple[int, str]] = {}
    rows = session.execute(
        select(ProjectRevision.project_id, ProjectRevision.revision, ProjectRevision.body_json)
        .where(ProjectRevision.at_ns < at_ns)
        .order_by(ProjectRevision.project_id, ProjectRevision.revision)
    )
    for project_id, revision, body in rows:
        latest[project_id] = (revision, body)
    return [from_document(body) for _, body in (latest[k] for k in sorted(latest))]
