from aidbridge.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Project(_message.Message):
    __slots__ = ("project_id", "org_id", "name", "description", "services", "streets", "eligible_groups", "capacity")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    STREETS_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_GROUPS_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    org_id: str
    name: str
    description: str
    services: _containers.RepeatedScalarFieldContainer[_common_pb2.HelpKind]
    streets: _containers.RepeatedScalarFieldContainer[str]
    eligible_groups: _containers.RepeatedScalarFieldContainer[_common_pb2.SpecialGroup]
    capacity: int
    def __init__(self, project_id: _Optional[str] = ..., org_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., services: _Optional[_Iterable[_Union[_common_pb2.HelpKind, str]]] = ..., streets: _Optional[_Iterable[str]] = ..., eligible_groups: _Optional[_Iterable[_Union[_common_pb2.SpecialGroup, str]]] = ..., capacity: _Optional[int] = ...) -> None: ...

class PublishProjectRequest(_message.Message):
    __slots__ = ("request_id", "project")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    project: Project
    def __init__(self, request_id: _Optional[str] = ..., project: _Optional[_Union[Project, _Mapping]] = ...) -> None: ...

class ListProjectsRequest(_message.Message):
    __slots__ = ("org_id", "page")
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    org_id: str
    page: _common_pb2.PageRequest
    def __init__(self, org_id: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListProjectsResponse(_message.Message):
    __slots__ = ("projects", "next_page_token")
    PROJECTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    projects: _containers.RepeatedCompositeFieldContainer[Project]
    next_page_token: str
    def __init__(self, projects: _Optional[_Iterable[_Union[Project, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class MatchCharitiesRequest(_message.Message):
    __slots__ = ("case_id", "limit")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    limit: int
    def __init__(self, case_id: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class CharityMatch(_message.Message):
    __slots__ = ("org_id", "project_id", "score", "reasons")
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    org_id: str
    project_id: str
    score: float
    reasons: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, org_id: _Optional[str] = ..., project_id: _Optional[str] = ..., score: _Optional[float] = ..., reasons: _Optional[_Iterable[str]] = ...) -> None: ...

class MatchCharitiesResponse(_message.Message):
    __slots__ = ("matches",)
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    matches: _containers.RepeatedCompositeFieldContainer[CharityMatch]
    def __init__(self, matches: _Optional[_Iterable[_Union[CharityMatch, _Mapping]]] = ...) -> None: ...

class QueryCapacityRequest(_message.Message):
    __slots__ = ("services", "street")
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    STREET_FIELD_NUMBER: _ClassVar[int]
    services: _containers.RepeatedScalarFieldContainer[_common_pb2.HelpKind]
    street: str
    def __init__(self, services: _Optional[_Iterable[_Union[_common_pb2.HelpKind, str]]] = ..., street: _Optional[str] = ...) -> None: ...

class QueryCapacityResponse(_message.Message):
    __slots__ = ("projects",)
    PROJECTS_FIELD_NUMBER: _ClassVar[int]
    projects: _containers.RepeatedCompositeFieldContainer[Project]
    def __init__(self, projects: _Optional[_Iterable[_Union[Project, _Mapping]]] = ...) -> None: ...
