import datetime

from aidbridge.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IncomeBand(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INCOME_BAND_UNSPECIFIED: _ClassVar[IncomeBand]
    INCOME_BAND_BELOW_LINE: _ClassVar[IncomeBand]
    INCOME_BAND_UP_TO_1_5X_LINE: _ClassVar[IncomeBand]
    INCOME_BAND_UP_TO_2X_LINE: _ClassVar[IncomeBand]
    INCOME_BAND_ABOVE_2X_LINE: _ClassVar[IncomeBand]

class CapacityStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CAPACITY_STATUS_UNSPECIFIED: _ClassVar[CapacityStatus]
    CAPACITY_STATUS_HAS_CAPACITY: _ClassVar[CapacityStatus]
    CAPACITY_STATUS_NO_CAPACITY: _ClassVar[CapacityStatus]
    CAPACITY_STATUS_WAITLIST: _ClassVar[CapacityStatus]
    CAPACITY_STATUS_ASSESSMENT_NEEDED: _ClassVar[CapacityStatus]
INCOME_BAND_UNSPECIFIED: IncomeBand
INCOME_BAND_BELOW_LINE: IncomeBand
INCOME_BAND_UP_TO_1_5X_LINE: IncomeBand
INCOME_BAND_UP_TO_2X_LINE: IncomeBand
INCOME_BAND_ABOVE_2X_LINE: IncomeBand
CAPACITY_STATUS_UNSPECIFIED: CapacityStatus
CAPACITY_STATUS_HAS_CAPACITY: CapacityStatus
CAPACITY_STATUS_NO_CAPACITY: CapacityStatus
CAPACITY_STATUS_WAITLIST: CapacityStatus
CAPACITY_STATUS_ASSESSMENT_NEEDED: CapacityStatus

class Project(_message.Message):
    __slots__ = ("project_id", "org_id", "name", "description", "services", "streets", "eligible_groups", "capacity", "communities", "starts_at", "ends_at", "capacity_remaining", "eligibility", "waitlist_open", "updated_at")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    STREETS_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_GROUPS_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    COMMUNITIES_FIELD_NUMBER: _ClassVar[int]
    STARTS_AT_FIELD_NUMBER: _ClassVar[int]
    ENDS_AT_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_REMAINING_FIELD_NUMBER: _ClassVar[int]
    ELIGIBILITY_FIELD_NUMBER: _ClassVar[int]
    WAITLIST_OPEN_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    org_id: str
    name: str
    description: str
    services: _containers.RepeatedScalarFieldContainer[_common_pb2.HelpKind]
    streets: _containers.RepeatedScalarFieldContainer[str]
    eligible_groups: _containers.RepeatedScalarFieldContainer[_common_pb2.SpecialGroup]
    capacity: int
    communities: _containers.RepeatedCompositeFieldContainer[Community]
    starts_at: _timestamp_pb2.Timestamp
    ends_at: _timestamp_pb2.Timestamp
    capacity_remaining: int
    eligibility: Eligibility
    waitlist_open: bool
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, project_id: _Optional[str] = ..., org_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., services: _Optional[_Iterable[_Union[_common_pb2.HelpKind, str]]] = ..., streets: _Optional[_Iterable[str]] = ..., eligible_groups: _Optional[_Iterable[_Union[_common_pb2.SpecialGroup, str]]] = ..., capacity: _Optional[int] = ..., communities: _Optional[_Iterable[_Union[Community, _Mapping]]] = ..., starts_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ends_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., capacity_remaining: _Optional[int] = ..., eligibility: _Optional[_Union[Eligibility, _Mapping]] = ..., waitlist_open: _Optional[bool] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Community(_message.Message):
    __slots__ = ("street", "name")
    STREET_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    street: str
    name: str
    def __init__(self, street: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class Eligibility(_message.Message):
    __slots__ = ("special_groups", "min_age", "max_age", "hardship_types", "max_income_band", "assessment_required")
    SPECIAL_GROUPS_FIELD_NUMBER: _ClassVar[int]
    MIN_AGE_FIELD_NUMBER: _ClassVar[int]
    MAX_AGE_FIELD_NUMBER: _ClassVar[int]
    HARDSHIP_TYPES_FIELD_NUMBER: _ClassVar[int]
    MAX_INCOME_BAND_FIELD_NUMBER: _ClassVar[int]
    ASSESSMENT_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    special_groups: _containers.RepeatedScalarFieldContainer[_common_pb2.SpecialGroup]
    min_age: int
    max_age: int
    hardship_types: _containers.RepeatedScalarFieldContainer[_common_pb2.HardshipType]
    max_income_band: IncomeBand
    assessment_required: bool
    def __init__(self, special_groups: _Optional[_Iterable[_Union[_common_pb2.SpecialGroup, str]]] = ..., min_age: _Optional[int] = ..., max_age: _Optional[int] = ..., hardship_types: _Optional[_Iterable[_Union[_common_pb2.HardshipType, str]]] = ..., max_income_band: _Optional[_Union[IncomeBand, str]] = ..., assessment_required: _Optional[bool] = ...) -> None: ...

class ProjectCapacity(_message.Message):
    __slots__ = ("project_id", "org_id", "name", "status", "reasons")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    org_id: str
    name: str
    status: CapacityStatus
    reasons: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, project_id: _Optional[str] = ..., org_id: _Optional[str] = ..., name: _Optional[str] = ..., status: _Optional[_Union[CapacityStatus, str]] = ..., reasons: _Optional[_Iterable[str]] = ...) -> None: ...

class PublishProjectRequest(_message.Message):
    __slots__ = ("request_id", "project")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    project: Project
    def __init__(self, request_id: _Optional[str] = ..., project: _Optional[_Union[Project, _Mapping]] = ...) -> None: ...

class ListProjectsRequest(_message.Message):
    __slots__ = ("org_id", "page", "street", "kind", "include_ended")
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    STREET_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_ENDED_FIELD_NUMBER: _ClassVar[int]
    org_id: str
    page: _common_pb2.PageRequest
    street: str
    kind: _common_pb2.HelpKind
    include_ended: bool
    def __init__(self, org_id: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., street: _Optional[str] = ..., kind: _Optional[_Union[_common_pb2.HelpKind, str]] = ..., include_ended: _Optional[bool] = ...) -> None: ...

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
    __slots__ = ("org_id", "project_id", "score", "reasons", "project_name", "capacity", "rank")
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    PROJECT_NAME_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    org_id: str
    project_id: str
    score: float
    reasons: _containers.RepeatedScalarFieldContainer[str]
    project_name: str
    capacity: CapacityStatus
    rank: int
    def __init__(self, org_id: _Optional[str] = ..., project_id: _Optional[str] = ..., score: _Optional[float] = ..., reasons: _Optional[_Iterable[str]] = ..., project_name: _Optional[str] = ..., capacity: _Optional[_Union[CapacityStatus, str]] = ..., rank: _Optional[int] = ...) -> None: ...

class MatchCharitiesResponse(_message.Message):
    __slots__ = ("matches",)
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    matches: _containers.RepeatedCompositeFieldContainer[CharityMatch]
    def __init__(self, matches: _Optional[_Iterable[_Union[CharityMatch, _Mapping]]] = ...) -> None: ...

class QueryCapacityRequest(_message.Message):
    __slots__ = ("services", "street", "group", "community", "org_id", "project_id")
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    STREET_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    COMMUNITY_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    services: _containers.RepeatedScalarFieldContainer[_common_pb2.HelpKind]
    street: str
    group: _common_pb2.SpecialGroup
    community: str
    org_id: str
    project_id: str
    def __init__(self, services: _Optional[_Iterable[_Union[_common_pb2.HelpKind, str]]] = ..., street: _Optional[str] = ..., group: _Optional[_Union[_common_pb2.SpecialGroup, str]] = ..., community: _Optional[str] = ..., org_id: _Optional[str] = ..., project_id: _Optional[str] = ...) -> None: ...

class QueryCapacityResponse(_message.Message):
    __slots__ = ("projects", "status", "answers")
    PROJECTS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    projects: _containers.RepeatedCompositeFieldContainer[Project]
    status: CapacityStatus
    answers: _containers.RepeatedCompositeFieldContainer[ProjectCapacity]
    def __init__(self, projects: _Optional[_Iterable[_Union[Project, _Mapping]]] = ..., status: _Optional[_Union[CapacityStatus, str]] = ..., answers: _Optional[_Iterable[_Union[ProjectCapacity, _Mapping]]] = ...) -> None: ...
