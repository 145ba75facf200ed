import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Relationship(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RELATIONSHIP_UNSPECIFIED: _ClassVar[Relationship]
    RELATIONSHIP_SPOUSE: _ClassVar[Relationship]
    RELATIONSHIP_PARENT: _ClassVar[Relationship]
    RELATIONSHIP_CHILD: _ClassVar[Relationship]
    RELATIONSHIP_SIBLING: _ClassVar[Relationship]
    RELATIONSHIP_OTHER_RELATIVE: _ClassVar[Relationship]
    RELATIONSHIP_CLOSE_FRIEND: _ClassVar[Relationship]
    RELATIONSHIP_OTHER_CLOSE: _ClassVar[Relationship]
RELATIONSHIP_UNSPECIFIED: Relationship
RELATIONSHIP_SPOUSE: Relationship
RELATIONSHIP_PARENT: Relationship
RELATIONSHIP_CHILD: Relationship
RELATIONSHIP_SIBLING: Relationship
RELATIONSHIP_OTHER_RELATIVE: Relationship
RELATIONSHIP_CLOSE_FRIEND: Relationship
RELATIONSHIP_OTHER_CLOSE: Relationship

class Declaration(_message.Message):
    __slots__ = ("declaration_id", "org", "actor", "relationship", "declared_at", "withdrawn_at")
    DECLARATION_ID_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    RELATIONSHIP_FIELD_NUMBER: _ClassVar[int]
    DECLARED_AT_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWN_AT_FIELD_NUMBER: _ClassVar[int]
    declaration_id: str
    org: str
    actor: str
    relationship: Relationship
    declared_at: _timestamp_pb2.Timestamp
    withdrawn_at: _timestamp_pb2.Timestamp
    def __init__(self, declaration_id: _Optional[str] = ..., org: _Optional[str] = ..., actor: _Optional[str] = ..., relationship: _Optional[_Union[Relationship, str]] = ..., declared_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., withdrawn_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DeclareRelationshipRequest(_message.Message):
    __slots__ = ("request_id", "relative_resident_id", "relationship")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RELATIVE_RESIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    RELATIONSHIP_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    relative_resident_id: str
    relationship: Relationship
    def __init__(self, request_id: _Optional[str] = ..., relative_resident_id: _Optional[str] = ..., relationship: _Optional[_Union[Relationship, str]] = ...) -> None: ...

class WithdrawDeclarationRequest(_message.Message):
    __slots__ = ("request_id", "declaration_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DECLARATION_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    declaration_id: str
    def __init__(self, request_id: _Optional[str] = ..., declaration_id: _Optional[str] = ...) -> None: ...

class ActionDecision(_message.Message):
    __slots__ = ("action_id", "method", "requested_by", "decided_by", "verdict", "decided_at")
    ACTION_ID_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    action_id: str
    method: str
    requested_by: str
    decided_by: str
    verdict: str
    decided_at: _timestamp_pb2.Timestamp
    def __init__(self, action_id: _Optional[str] = ..., method: _Optional[str] = ..., requested_by: _Optional[str] = ..., decided_by: _Optional[str] = ..., verdict: _Optional[str] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ApproveActionRequest(_message.Message):
    __slots__ = ("request_id", "action_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    action_id: str
    def __init__(self, request_id: _Optional[str] = ..., action_id: _Optional[str] = ...) -> None: ...

class RejectActionRequest(_message.Message):
    __slots__ = ("request_id", "action_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    action_id: str
    def __init__(self, request_id: _Optional[str] = ..., action_id: _Optional[str] = ...) -> None: ...

class Flag(_message.Message):
    __slots__ = ("flag_id", "index", "at", "org", "actor", "method", "outcome", "flags", "resolved", "resolution_note", "resolved_by", "details")
    class DetailsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    FLAG_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_NOTE_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_BY_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    flag_id: str
    index: int
    at: _timestamp_pb2.Timestamp
    org: str
    actor: str
    method: str
    outcome: str
    flags: _containers.RepeatedScalarFieldContainer[str]
    resolved: bool
    resolution_note: str
    resolved_by: str
    details: _containers.ScalarMap[str, str]
    def __init__(self, flag_id: _Optional[str] = ..., index: _Optional[int] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., org: _Optional[str] = ..., actor: _Optional[str] = ..., method: _Optional[str] = ..., outcome: _Optional[str] = ..., flags: _Optional[_Iterable[str]] = ..., resolved: _Optional[bool] = ..., resolution_note: _Optional[str] = ..., resolved_by: _Optional[str] = ..., details: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListFlagsRequest(_message.Message):
    __slots__ = ("open_only", "limit", "flag")
    OPEN_ONLY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    FLAG_FIELD_NUMBER: _ClassVar[int]
    open_only: bool
    limit: int
    flag: str
    def __init__(self, open_only: _Optional[bool] = ..., limit: _Optional[int] = ..., flag: _Optional[str] = ...) -> None: ...

class ListFlagsResponse(_message.Message):
    __slots__ = ("flags",)
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    flags: _containers.RepeatedCompositeFieldContainer[Flag]
    def __init__(self, flags: _Optional[_Iterable[_Union[Flag, _Mapping]]] = ...) -> None: ...

class ResolveFlagRequest(_message.Message):
    __slots__ = ("request_id", "flag_id", "note")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    FLAG_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    flag_id: str
    note: str
    def __init__(self, request_id: _Optional[str] = ..., flag_id: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...
