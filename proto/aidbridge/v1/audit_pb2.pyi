import datetime

from aidbridge.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LedgerEntry(_message.Message):
    __slots__ = ("index", "entry_json", "leaf_hash", "at", "org", "role", "actor", "method", "subject", "outcome", "reason", "inclusion")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    ENTRY_JSON_FIELD_NUMBER: _ClassVar[int]
    LEAF_HASH_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    INCLUSION_FIELD_NUMBER: _ClassVar[int]
    index: int
    entry_json: str
    leaf_hash: str
    at: _timestamp_pb2.Timestamp
    org: str
    role: str
    actor: str
    method: str
    subject: str
    outcome: str
    reason: str
    inclusion: InclusionProof
    def __init__(self, index: _Optional[int] = ..., entry_json: _Optional[str] = ..., leaf_hash: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., org: _Optional[str] = ..., role: _Optional[str] = ..., actor: _Optional[str] = ..., method: _Optional[str] = ..., subject: _Optional[str] = ..., outcome: _Optional[str] = ..., reason: _Optional[str] = ..., inclusion: _Optional[_Union[InclusionProof, _Mapping]] = ...) -> None: ...

class QueryLedgerRequest(_message.Message):
    __slots__ = ("org", "actor", "subject_resident_id", "method", "outcome", "since", "until", "page", "with_proofs")
    ORG_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_RESIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    WITH_PROOFS_FIELD_NUMBER: _ClassVar[int]
    org: str
    actor: str
    subject_resident_id: str
    method: str
    outcome: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    page: _common_pb2.PageRequest
    with_proofs: bool
    def __init__(self, org: _Optional[str] = ..., actor: _Optional[str] = ..., subject_resident_id: _Optional[str] = ..., method: _Optional[str] = ..., outcome: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., with_proofs: _Optional[bool] = ...) -> None: ...

class QueryLedgerResponse(_message.Message):
    __slots__ = ("entries", "next_page_token", "checkpoint")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[LedgerEntry]
    next_page_token: str
    checkpoint: Checkpoint
    def __init__(self, entries: _Optional[_Iterable[_Union[LedgerEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., checkpoint: _Optional[_Union[Checkpoint, _Mapping]] = ...) -> None: ...

class GetCheckpointRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Checkpoint(_message.Message):
    __slots__ = ("note", "tree_size", "root_hash", "cosigned_by")
    NOTE_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    ROOT_HASH_FIELD_NUMBER: _ClassVar[int]
    COSIGNED_BY_FIELD_NUMBER: _ClassVar[int]
    note: str
    tree_size: int
    root_hash: str
    cosigned_by: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, note: _Optional[str] = ..., tree_size: _Optional[int] = ..., root_hash: _Optional[str] = ..., cosigned_by: _Optional[_Iterable[str]] = ...) -> None: ...

class GetInclusionProofRequest(_message.Message):
    __slots__ = ("index", "tree_size")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    index: int
    tree_size: int
    def __init__(self, index: _Optional[int] = ..., tree_size: _Optional[int] = ...) -> None: ...

class InclusionProof(_message.Message):
    __slots__ = ("index", "tree_size", "hashes")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    HASHES_FIELD_NUMBER: _ClassVar[int]
    index: int
    tree_size: int
    hashes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, index: _Optional[int] = ..., tree_size: _Optional[int] = ..., hashes: _Optional[_Iterable[str]] = ...) -> None: ...

class GetConsistencyProofRequest(_message.Message):
    __slots__ = ("from_size", "to_size")
    FROM_SIZE_FIELD_NUMBER: _ClassVar[int]
    TO_SIZE_FIELD_NUMBER: _ClassVar[int]
    from_size: int
    to_size: int
    def __init__(self, from_size: _Optional[int] = ..., to_size: _Optional[int] = ...) -> None: ...

class ConsistencyProof(_message.Message):
    __slots__ = ("from_size", "to_size", "hashes")
    FROM_SIZE_FIELD_NUMBER: _ClassVar[int]
    TO_SIZE_FIELD_NUMBER: _ClassVar[int]
    HASHES_FIELD_NUMBER: _ClassVar[int]
    from_size: int
    to_size: int
    hashes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, from_size: _Optional[int] = ..., to_size: _Optional[int] = ..., hashes: _Optional[_Iterable[str]] = ...) -> None: ...

class VerifyLedgerRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VerifyLedgerResponse(_message.Message):
    __slots__ = ("ok", "tree_size", "root_hash", "problems")
    OK_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    ROOT_HASH_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    tree_size: int
    root_hash: str
    problems: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ok: _Optional[bool] = ..., tree_size: _Optional[int] = ..., root_hash: _Optional[str] = ..., problems: _Optional[_Iterable[str]] = ...) -> None: ...

class ExportLedgerRequest(_message.Message):
    __slots__ = ("from_index", "to_index")
    FROM_INDEX_FIELD_NUMBER: _ClassVar[int]
    TO_INDEX_FIELD_NUMBER: _ClassVar[int]
    from_index: int
    to_index: int
    def __init__(self, from_index: _Optional[int] = ..., to_index: _Optional[int] = ...) -> None: ...

class ExportLedgerChunk(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...

class GetAccessReportRequest(_message.Message):
    __slots__ = ("resident_id",)
    RESIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    resident_id: str
    def __init__(self, resident_id: _Optional[str] = ...) -> None: ...

class AccessReportLine(_message.Message):
    __slots__ = ("kind", "index", "at", "org", "actor", "method", "fields", "consent_id", "consent_version", "purpose", "entry_json", "inclusion", "org_name")
    KIND_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    CONSENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONSENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    ENTRY_JSON_FIELD_NUMBER: _ClassVar[int]
    INCLUSION_FIELD_NUMBER: _ClassVar[int]
    ORG_NAME_FIELD_NUMBER: _ClassVar[int]
    kind: str
    index: int
    at: _timestamp_pb2.Timestamp
    org: str
    actor: str
    method: str
    fields: _containers.RepeatedCompositeFieldContainer[_common_pb2.ReleasedField]
    consent_id: str
    consent_version: int
    purpose: str
    entry_json: str
    inclusion: InclusionProof
    org_name: str
    def __init__(self, kind: _Optional[str] = ..., index: _Optional[int] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., org: _Optional[str] = ..., actor: _Optional[str] = ..., method: _Optional[str] = ..., fields: _Optional[_Iterable[_Union[_common_pb2.ReleasedField, _Mapping]]] = ..., consent_id: _Optional[str] = ..., consent_version: _Optional[int] = ..., purpose: _Optional[str] = ..., entry_json: _Optional[str] = ..., inclusion: _Optional[_Union[InclusionProof, _Mapping]] = ..., org_name: _Optional[str] = ...) -> None: ...

class AccessReport(_message.Message):
    __slots__ = ("subject", "generated_at", "checkpoint", "lines")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    GENERATED_AT_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    subject: str
    generated_at: _timestamp_pb2.Timestamp
    checkpoint: Checkpoint
    lines: _containers.RepeatedCompositeFieldContainer[AccessReportLine]
    def __init__(self, subject: _Optional[str] = ..., generated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., checkpoint: _Optional[_Union[Checkpoint, _Mapping]] = ..., lines: _Optional[_Iterable[_Union[AccessReportLine, _Mapping]]] = ...) -> None: ...
