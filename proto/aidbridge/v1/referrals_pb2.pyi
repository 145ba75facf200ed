import datetime

from aidbridge.v1 import common_pb2 as _common_pb2
from aidbridge.v1 import consents_pb2 as _consents_pb2
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

class RejectionReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REJECTION_REASON_UNSPECIFIED: _ClassVar[RejectionReason]
    REJECTION_REASON_NO_CAPACITY: _ClassVar[RejectionReason]
    REJECTION_REASON_NOT_ELIGIBLE: _ClassVar[RejectionReason]
    REJECTION_REASON_CANNOT_REACH: _ClassVar[RejectionReason]
    REJECTION_REASON_DUPLICATE: _ClassVar[RejectionReason]
    REJECTION_REASON_OTHER: _ClassVar[RejectionReason]

class ReverseCloseReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REVERSE_CLOSE_REASON_UNSPECIFIED: _ClassVar[ReverseCloseReason]
    REVERSE_CLOSE_REASON_NOT_ELIGIBLE: _ClassVar[ReverseCloseReason]
    REVERSE_CLOSE_REASON_ALREADY_RECEIVING: _ClassVar[ReverseCloseReason]
    REVERSE_CLOSE_REASON_CANNOT_REACH: _ClassVar[ReverseCloseReason]
    REVERSE_CLOSE_REASON_DUPLICATE: _ClassVar[ReverseCloseReason]
    REVERSE_CLOSE_REASON_DECLINED_BY_PERSON: _ClassVar[ReverseCloseReason]
    REVERSE_CLOSE_REASON_OTHER: _ClassVar[ReverseCloseReason]
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
REJECTION_REASON_UNSPECIFIED: RejectionReason
REJECTION_REASON_NO_CAPACITY: RejectionReason
REJECTION_REASON_NOT_ELIGIBLE: RejectionReason
REJECTION_REASON_CANNOT_REACH: RejectionReason
REJECTION_REASON_DUPLICATE: RejectionReason
REJECTION_REASON_OTHER: RejectionReason
REVERSE_CLOSE_REASON_UNSPECIFIED: ReverseCloseReason
REVERSE_CLOSE_REASON_NOT_ELIGIBLE: ReverseCloseReason
REVERSE_CLOSE_REASON_ALREADY_RECEIVING: ReverseCloseReason
REVERSE_CLOSE_REASON_CANNOT_REACH: ReverseCloseReason
REVERSE_CLOSE_REASON_DUPLICATE: ReverseCloseReason
REVERSE_CLOSE_REASON_DECLINED_BY_PERSON: ReverseCloseReason
REVERSE_CLOSE_REASON_OTHER: ReverseCloseReason

class Referral(_message.Message):
    __slots__ = ("referral_id", "case_id", "subject", "from_org", "to_org", "consent_id", "purpose", "hardship_types", "severity", "fast_track", "state", "note", "created_at", "updated_at", "respond_by", "special_group", "hardship_type", "rejection_reason", "events", "help")
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
    SPECIAL_GROUP_FIELD_NUMBER: _ClassVar[int]
    HARDSHIP_TYPE_FIELD_NUMBER: _ClassVar[int]
    REJECTION_REASON_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    HELP_FIELD_NUMBER: _ClassVar[int]
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
    special_group: _common_pb2.SpecialGroup
    hardship_type: _common_pb2.HardshipType
    rejection_reason: RejectionReason
    events: _containers.RepeatedCompositeFieldContainer[ReferralEvent]
    help: _containers.RepeatedCompositeFieldContainer[HelpDelivered]
    def __init__(self, referral_id: _Optional[str] = ..., case_id: _Optional[str] = ..., subject: _Optional[str] = ..., from_org: _Optional[str] = ..., to_org: _Optional[str] = ..., consent_id: _Optional[str] = ..., purpose: _Optional[str] = ..., hardship_types: _Optional[_Iterable[_Union[_common_pb2.HardshipType, str]]] = ..., severity: _Optional[_Union[_common_pb2.Severity, str]] = ..., fast_track: _Optional[bool] = ..., state: _Optional[_Union[ReferralState, str]] = ..., note: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., respond_by: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., special_group: _Optional[_Union[_common_pb2.SpecialGroup, str]] = ..., hardship_type: _Optional[_Union[_common_pb2.HardshipType, str]] = ..., rejection_reason: _Optional[_Union[RejectionReason, str]] = ..., events: _Optional[_Iterable[_Union[ReferralEvent, _Mapping]]] = ..., help: _Optional[_Iterable[_Union[HelpDelivered, _Mapping]]] = ...) -> None: ...

class CreateReferralRequest(_message.Message):
    __slots__ = ("request_id", "case_id", "to_org", "consent_id", "purpose", "note", "respond_within_days", "hardship_type", "special_group", "severity")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    TO_ORG_FIELD_NUMBER: _ClassVar[int]
    CONSENT_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    RESPOND_WITHIN_DAYS_FIELD_NUMBER: _ClassVar[int]
    HARDSHIP_TYPE_FIELD_NUMBER: _ClassVar[int]
    SPECIAL_GROUP_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    case_id: str
    to_org: str
    consent_id: str
    purpose: str
    note: str
    respond_within_days: int
    hardship_type: _common_pb2.HardshipType
    special_group: _common_pb2.SpecialGroup
    severity: _common_pb2.Severity
    def __init__(self, request_id: _Optional[str] = ..., case_id: _Optional[str] = ..., to_org: _Optional[str] = ..., consent_id: _Optional[str] = ..., purpose: _Optional[str] = ..., note: _Optional[str] = ..., respond_within_days: _Optional[int] = ..., hardship_type: _Optional[_Union[_common_pb2.HardshipType, str]] = ..., special_group: _Optional[_Union[_common_pb2.SpecialGroup, str]] = ..., severity: _Optional[_Union[_common_pb2.Severity, str]] = ...) -> None: ...

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
    __slots__ = ("request_id", "referral_id", "state", "reason", "rejection_reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REJECTION_REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    referral_id: str
    state: ReferralState
    reason: str
    rejection_reason: RejectionReason
    def __init__(self, request_id: _Optional[str] = ..., referral_id: _Optional[str] = ..., state: _Optional[_Union[ReferralState, str]] = ..., reason: _Optional[str] = ..., rejection_reason: _Optional[_Union[RejectionReason, str]] = ...) -> None: ...

class HelpDelivered(_message.Message):
    __slots__ = ("help_id", "referral_id", "kind", "value_fen", "description", "delivered_at", "minutes", "project_id", "org", "recorded_at")
    HELP_ID_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FEN_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_AT_FIELD_NUMBER: _ClassVar[int]
    MINUTES_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    help_id: str
    referral_id: str
    kind: _common_pb2.HelpKind
    value_fen: int
    description: str
    delivered_at: _timestamp_pb2.Timestamp
    minutes: int
    project_id: str
    org: str
    recorded_at: _timestamp_pb2.Timestamp
    def __init__(self, help_id: _Optional[str] = ..., referral_id: _Optional[str] = ..., kind: _Optional[_Union[_common_pb2.HelpKind, str]] = ..., value_fen: _Optional[int] = ..., description: _Optional[str] = ..., delivered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., minutes: _Optional[int] = ..., project_id: _Optional[str] = ..., org: _Optional[str] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RecordHelpRequest(_message.Message):
    __slots__ = ("request_id", "help")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    HELP_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    help: HelpDelivered
    def __init__(self, request_id: _Optional[str] = ..., help: _Optional[_Union[HelpDelivered, _Mapping]] = ...) -> None: ...

class ReverseReferral(_message.Message):
    __slots__ = ("reverse_referral_id", "from_org", "to_office", "subject_name", "subject_resident_id", "subject_phone", "reason", "state", "outcome_note", "created_at", "consent", "purpose", "suspected_aid", "street", "close_reason", "application_id", "updated_at", "events")
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
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    SUSPECTED_AID_FIELD_NUMBER: _ClassVar[int]
    STREET_FIELD_NUMBER: _ClassVar[int]
    CLOSE_REASON_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
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
    consent: ReverseReferralConsent
    purpose: str
    suspected_aid: _common_pb2.HardshipType
    street: str
    close_reason: ReverseCloseReason
    application_id: str
    updated_at: _timestamp_pb2.Timestamp
    events: _containers.RepeatedCompositeFieldContainer[ReverseReferralEvent]
    def __init__(self, reverse_referral_id: _Optional[str] = ..., from_org: _Optional[str] = ..., to_office: _Optional[str] = ..., subject_name: _Optional[str] = ..., subject_resident_id: _Optional[str] = ..., subject_phone: _Optional[str] = ..., reason: _Optional[str] = ..., state: _Optional[str] = ..., outcome_note: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., consent: _Optional[_Union[ReverseReferralConsent, _Mapping]] = ..., purpose: _Optional[str] = ..., suspected_aid: _Optional[_Union[_common_pb2.HardshipType, str]] = ..., street: _Optional[str] = ..., close_reason: _Optional[_Union[ReverseCloseReason, str]] = ..., application_id: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., events: _Optional[_Iterable[_Union[ReverseReferralEvent, _Mapping]]] = ...) -> None: ...

class CreateReverseReferralRequest(_message.Message):
    __slots__ = ("request_id", "referral")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    referral: ReverseReferral
    def __init__(self, request_id: _Optional[str] = ..., referral: _Optional[_Union[ReverseReferral, _Mapping]] = ...) -> None: ...

class ListReverseReferralsRequest(_message.Message):
    __slots__ = ("page", "state")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    state: str
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., state: _Optional[str] = ...) -> None: ...

class ListReverseReferralsResponse(_message.Message):
    __slots__ = ("referrals", "next_page_token")
    REFERRALS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    referrals: _containers.RepeatedCompositeFieldContainer[ReverseReferral]
    next_page_token: str
    def __init__(self, referrals: _Optional[_Iterable[_Union[ReverseReferral, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ReportReverseOutcomeRequest(_message.Message):
    __slots__ = ("request_id", "reverse_referral_id", "state", "outcome_note", "close_reason", "application_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REVERSE_REFERRAL_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_NOTE_FIELD_NUMBER: _ClassVar[int]
    CLOSE_REASON_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    reverse_referral_id: str
    state: str
    outcome_note: str
    close_reason: ReverseCloseReason
    application_id: str
    def __init__(self, request_id: _Optional[str] = ..., reverse_referral_id: _Optional[str] = ..., state: _Optional[str] = ..., outcome_note: _Optional[str] = ..., close_reason: _Optional[_Union[ReverseCloseReason, str]] = ..., application_id: _Optional[str] = ...) -> None: ...

class ResolvePseudonymRequest(_message.Message):
    __slots__ = ("recipient_org", "pseudonym")
    RECIPIENT_ORG_FIELD_NUMBER: _ClassVar[int]
    PSEUDONYM_FIELD_NUMBER: _ClassVar[int]
    recipient_org: str
    pseudonym: str
    def __init__(self, recipient_org: _Optional[str] = ..., pseudonym: _Optional[str] = ...) -> None: ...

class ResolvePseudonymResponse(_message.Message):
    __slots__ = ("referral_ids", "case_ids", "key_version")
    REFERRAL_IDS_FIELD_NUMBER: _ClassVar[int]
    CASE_IDS_FIELD_NUMBER: _ClassVar[int]
    KEY_VERSION_FIELD_NUMBER: _ClassVar[int]
    referral_ids: _containers.RepeatedScalarFieldContainer[str]
    case_ids: _containers.RepeatedScalarFieldContainer[str]
    key_version: str
    def __init__(self, referral_ids: _Optional[_Iterable[str]] = ..., case_ids: _Optional[_Iterable[str]] = ..., key_version: _Optional[str] = ...) -> None: ...

class ReferralEvent(_message.Message):
    __slots__ = ("event_id", "referral_id", "state", "at", "org", "actor", "reason", "rejection_reason")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REJECTION_REASON_FIELD_NUMBER: _ClassVar[int]
    event_id: int
    referral_id: str
    state: ReferralState
    at: _timestamp_pb2.Timestamp
    org: str
    actor: str
    reason: str
    rejection_reason: RejectionReason
    def __init__(self, event_id: _Optional[int] = ..., referral_id: _Optional[str] = ..., state: _Optional[_Union[ReferralState, str]] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., org: _Optional[str] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ..., rejection_reason: _Optional[_Union[RejectionReason, str]] = ...) -> None: ...

class ListReferralEventsRequest(_message.Message):
    __slots__ = ("after_event_id", "page_size", "referral_id")
    AFTER_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_ID_FIELD_NUMBER: _ClassVar[int]
    after_event_id: int
    page_size: int
    referral_id: str
    def __init__(self, after_event_id: _Optional[int] = ..., page_size: _Optional[int] = ..., referral_id: _Optional[str] = ...) -> None: ...

class ListReferralEventsResponse(_message.Message):
    __slots__ = ("events", "last_event_id")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    LAST_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[ReferralEvent]
    last_event_id: int
    def __init__(self, events: _Optional[_Iterable[_Union[ReferralEvent, _Mapping]]] = ..., last_event_id: _Optional[int] = ...) -> None: ...

class ReverseReferralConsent(_message.Message):
    __slots__ = ("grantor", "notice", "evidence", "recipient_office", "purpose", "valid_from", "valid_until", "signature", "signing_key_id")
    GRANTOR_FIELD_NUMBER: _ClassVar[int]
    NOTICE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_OFFICE_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    SIGNING_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    grantor: _consents_pb2.Grantor
    notice: _consents_pb2.Notice
    evidence: _consents_pb2.Evidence
    recipient_office: str
    purpose: str
    valid_from: _timestamp_pb2.Timestamp
    valid_until: _timestamp_pb2.Timestamp
    signature: str
    signing_key_id: str
    def __init__(self, grantor: _Optional[_Union[_consents_pb2.Grantor, _Mapping]] = ..., notice: _Optional[_Union[_consents_pb2.Notice, _Mapping]] = ..., evidence: _Optional[_Union[_consents_pb2.Evidence, _Mapping]] = ..., recipient_office: _Optional[str] = ..., purpose: _Optional[str] = ..., valid_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., signature: _Optional[str] = ..., signing_key_id: _Optional[str] = ...) -> None: ...

class ReverseReferralEvent(_message.Message):
    __slots__ = ("state", "at", "org", "actor", "reason_code")
    STATE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    state: str
    at: _timestamp_pb2.Timestamp
    org: str
    actor: str
    reason_code: str
    def __init__(self, state: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., org: _Optional[str] = ..., actor: _Optional[str] = ..., reason_code: _Optional[str] = ...) -> None: ...
