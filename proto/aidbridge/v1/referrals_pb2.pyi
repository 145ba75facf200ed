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

class ReferralState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REFERRAL_STATE_UNSPECIFIED: _ClassVar[ReferralState]
    REFERRAL_STATE_REQUESTED: _ClassVar[ReferralState]
    REFERRAL_STATE_ACCEPTED: _ClassVar[ReferralState]
    REFERRAL_STATE_REJECTED: _ClassVar[ReferralState]
    REFERRAL_STATE_IN_PROGRESS: _ClassVar[ReferralState]
    REFERRAL_STATE_ON_HOLD: _ClassVar[ReferralState]
    REFERRAL_STATE_COMPLETED: _ClassVar[ReferralState]
    REFERRAL_STATE_FAILED: _ClassVar[ReferralState]
    REFERRAL_STATE_CANCELLED: _ClassVar[ReferralState]
    REFERRAL_STATE_EXPIRED: _ClassVar[ReferralState]
    REFERRAL_STATE_CANCELLED_BY_WITHDRAWAL: _ClassVar[ReferralState]
REFERRAL_STATE_UNSPECIFIED: ReferralState
REFERRAL_STATE_REQUESTED: ReferralState
REFERRAL_STATE_ACCEPTED: ReferralState
REFERRAL_STATE_REJECTED: ReferralState
REFERRAL_STATE_IN_PROGRESS: ReferralState
REFERRAL_STATE_ON_HOLD: ReferralState
REFERRAL_STATE_COMPLETED: ReferralState
REFERRAL_STATE_FAILED: ReferralState
REFERRAL_STATE_CANCELLED: ReferralState
REFERRAL_STATE_EXPIRED: ReferralState
REFERRAL_STATE_CANCELLED_BY_WITHDRAWAL: ReferralState

class Referral(_message.Message):
    __slots__ = ("referral_id", "case_id", "subject", "from_org", "to_org", "consent_id", "purpose", "hardship_types", "severity", "fast_track", "state", "note", "created_at", "updated_at", "respond_by")
    REFERRAL_ID_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    FROM_ORG_FIELD_NUMBER: _ClassVar[int]
    TO_ORG_FIELD_NUMBER: _ClassVar[int]
    CONSENT_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    HARDSHIP_TYPES_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    FAST_TRACK_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    RESPOND_BY_FIELD_NUMBER: _ClassVar[int]
    referral_id: str
    case_id: str
    subject: str
    from_org: str
    to_org: str
    consent_id: str
    purpose: str
    hardship_types: _containers.RepeatedScalarFieldContainer[_common_pb2.HardshipType]
    severity: _common_pb2.Severity
    fast_track: bool
    state: ReferralState
    note: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    respond_by: _timestamp_pb2.Timestamp
    def __init__(self, referral_id: _Optional[str] = ..., case_id: _Optional[str] = ..., subject: _Optional[str] = ..., from_org: _Optional[str] = ..., to_org: _Optional[str] = ..., consent_id: _Optional[str] = ..., purpose: _Optional[str] = ..., hardship_types: _Optional[_Iterable[_Union[_common_pb2.HardshipType, str]]] = ..., severity: _Optional[_Union[_common_pb2.Severity, str]] = ..., fast_track: _Optional[bool] = ..., state: _Optional[_Union[ReferralState, str]] = ..., note: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., respond_by: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateReferralRequest(_message.Message):
    __slots__ = ("request_id", "case_id", "to_org", "consent_id", "purpose", "note", "respond_within_days")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    TO_ORG_FIELD_NUMBER: _ClassVar[int]
    CONSENT_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    RESPOND_WITHIN_DAYS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    case_id: str
    to_org: str
    consent_id: str
    purpose: str
    note: str
    respond_within_days: int
    def __init__(self, request_id: _Optional[str] = ..., case_id: _Optional[str] = ..., to_org: _Optional[str] = ..., consent_id: _Optional[str] = ..., purpose: _Optional[str] = ..., note: _Optional[str] = ..., respond_within_days: _Optional[int] = ...) -> None: ...

class CreateReferralResponse(_message.Message):
    __slots__ = ("referral",)
    REFERRAL_FIELD_NUMBER: _ClassVar[int]
    referral: Referral
    def __init__(self, referral: _Optional[_Union[Referral, _Mapping]] = ...) -> None: ...

class ListReferralsRequest(_message.Message):
    __slots__ = ("state", "page")
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    state: ReferralState
    page: _common_pb2.PageRequest
    def __init__(self, state: _Optional[_Union[ReferralState, str]] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListReferralsResponse(_message.Message):
    __slots__ = ("referrals", "next_page_token")
    REFERRALS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    referrals: _containers.RepeatedCompositeFieldContainer[Referral]
    next_page_token: str
    def __init__(self, referrals: _Optional[_Iterable[_Union[Referral, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetReferralRequest(_message.Message):
    __slots__ = ("referral_id",)
    REFERRAL_ID_FIELD_NUMBER: _ClassVar[int]
    referral_id: str
    def __init__(self, referral_id: _Optional[str] = ...) -> None: ...

class UpdateReferralStateRequest(_message.Message):
    __slots__ = ("request_id", "referral_id", "state", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    referral_id: str
    state: ReferralState
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., referral_id: _Optional[str] = ..., state: _Optional[_Union[ReferralState, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class HelpDelivered(_message.Message):
    __slots__ = ("help_id", "referral_id", "kind", "value_fen", "description", "delivered_at")
    HELP_ID_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FEN_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_AT_FIELD_NUMBER: _ClassVar[int]
    help_id: str
    referral_id: str
    kind: _common_pb2.HelpKind
    value_fen: int
    description: str
    delivered_at: _timestamp_pb2.Timestamp
    def __init__(self, help_id: _Optional[str] = ..., referral_id: _Optional[str] = ..., kind: _Optional[_Union[_common_pb2.HelpKind, str]] = ..., value_fen: _Optional[int] = ..., description: _Optional[str] = ..., delivered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RecordHelpRequest(_message.Message):
    __slots__ = ("request_id", "help")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    HELP_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    help: HelpDelivered
    def __init__(self, request_id: _Optional[str] = ..., help: _Optional[_Union[HelpDelivered, _Mapping]] = ...) -> None: ...

class ReverseReferral(_message.Message):
    __slots__ = ("reverse_referral_id", "from_org", "to_office", "subject_name", "subject_resident_id", "subject_phone", "reason", "state", "outcome_note", "created_at")
    REVERSE_REFERRAL_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_ORG_FIELD_NUMBER: _ClassVar[int]
    TO_OFFICE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_NAME_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_RESIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_PHONE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_NOTE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    reverse_referral_id: str
    from_org: str
    to_office: str
    subject_name: str
    subject_resident_id: str
    subject_phone: str
    reason: str
    state: str
    outcome_note: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, reverse_referral_id: _Optional[str] = ..., from_org: _Optional[str] = ..., to_office: _Optional[str] = ..., subject_name: _Optional[str] = ..., subject_resident_id: _Optional[str] = ..., subject_phone: _Optional[str] = ..., reason: _Optional[str] = ..., state: _Optional[str] = ..., outcome_note: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateReverseReferralRequest(_message.Message):
    __slots__ = ("request_id", "referral")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    referral: ReverseReferral
    def __init__(self, request_id: _Optional[str] = ..., referral: _Optional[_Union[ReverseReferral, _Mapping]] = ...) -> None: ...

class ListReverseReferralsRequest(_message.Message):
    __slots__ = ("page",)
    PAGE_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListReverseReferralsResponse(_message.Message):
    __slots__ = ("referrals", "next_page_token")
    REFERRALS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    referrals: _containers.RepeatedCompositeFieldContainer[ReverseReferral]
    next_page_token: str
    def __init__(self, referrals: _Optional[_Iterable[_Union[ReverseReferral, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ReportReverseOutcomeRequest(_message.Message):
    __slots__ = ("request_id", "reverse_referral_id", "state", "outcome_note")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REVERSE_REFERRAL_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_NOTE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    reverse_referral_id: str
    state: str
    outcome_note: str
    def __init__(self, request_id: _Optional[str] = ..., reverse_referral_id: _Optional[str] = ..., state: _Optional[str] = ..., outcome_note: _Optional[str] = ...) -> None: ...
