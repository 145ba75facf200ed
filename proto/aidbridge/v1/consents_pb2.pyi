import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GrantorKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GRANTOR_KIND_UNSPECIFIED: _ClassVar[GrantorKind]
    GRANTOR_KIND_SUBJECT: _ClassVar[GrantorKind]
    GRANTOR_KIND_GUARDIAN: _ClassVar[GrantorKind]

class AccessMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCESS_MODE_UNSPECIFIED: _ClassVar[AccessMode]
    ACCESS_MODE_VIEW: _ClassVar[AccessMode]
    ACCESS_MODE_STORE: _ClassVar[AccessMode]

class ConsentState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONSENT_STATE_UNSPECIFIED: _ClassVar[ConsentState]
    CONSENT_STATE_ACTIVE: _ClassVar[ConsentState]
    CONSENT_STATE_WITHDRAWN: _ClassVar[ConsentState]
    CONSENT_STATE_EXPIRED: _ClassVar[ConsentState]
    CONSENT_STATE_SUPERSEDED: _ClassVar[ConsentState]
    CONSENT_STATE_ENTERED_IN_ERROR: _ClassVar[ConsentState]
    CONSENT_STATE_NOT_YET_VALID: _ClassVar[ConsentState]
GRANTOR_KIND_UNSPECIFIED: GrantorKind
GRANTOR_KIND_SUBJECT: GrantorKind
GRANTOR_KIND_GUARDIAN: GrantorKind
ACCESS_MODE_UNSPECIFIED: AccessMode
ACCESS_MODE_VIEW: AccessMode
ACCESS_MODE_STORE: AccessMode
CONSENT_STATE_UNSPECIFIED: ConsentState
CONSENT_STATE_ACTIVE: ConsentState
CONSENT_STATE_WITHDRAWN: ConsentState
CONSENT_STATE_EXPIRED: ConsentState
CONSENT_STATE_SUPERSEDED: ConsentState
CONSENT_STATE_ENTERED_IN_ERROR: ConsentState
CONSENT_STATE_NOT_YET_VALID: ConsentState

class Grantor(_message.Message):
    __slots__ = ("kind", "name", "relationship", "verification_method")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RELATIONSHIP_FIELD_NUMBER: _ClassVar[int]
    VERIFICATION_METHOD_FIELD_NUMBER: _ClassVar[int]
    kind: GrantorKind
    name: str
    relationship: str
    verification_method: str
    def __init__(self, kind: _Optional[_Union[GrantorKind, str]] = ..., name: _Optional[str] = ..., relationship: _Optional[str] = ..., verification_method: _Optional[str] = ...) -> None: ...

class Notice(_message.Message):
    __slots__ = ("version", "sha256")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    version: str
    sha256: str
    def __init__(self, version: _Optional[str] = ..., sha256: _Optional[str] = ...) -> None: ...

class Evidence(_message.Message):
    __slots__ = ("form_sha256", "witness")
    FORM_SHA256_FIELD_NUMBER: _ClassVar[int]
    WITNESS_FIELD_NUMBER: _ClassVar[int]
    form_sha256: str
    witness: str
    def __init__(self, form_sha256: _Optional[str] = ..., witness: _Optional[str] = ...) -> None: ...

class Consent(_message.Message):
    __slots__ = ("consent_id", "version", "case_id", "grantor", "recipient_org", "purpose", "categories", "fields", "access_mode", "valid_from", "valid_until", "retention_days", "notice", "evidence", "state", "supersedes", "recorded_by_org", "recorded_by_actor", "recorded_at", "signature", "key_id")
    CONSENT_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    GRANTOR_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_ORG_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    ACCESS_MODE_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    RETENTION_DAYS_FIELD_NUMBER: _ClassVar[int]
    NOTICE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDES_FIELD_NUMBER: _ClassVar[int]
    RECORDED_BY_ORG_FIELD_NUMBER: _ClassVar[int]
    RECORDED_BY_ACTOR_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    consent_id: str
    version: int
    case_id: str
    grantor: Grantor
    recipient_org: str
    purpose: str
    categories: _containers.RepeatedScalarFieldContainer[str]
    fields: _containers.RepeatedScalarFieldContainer[str]
    access_mode: AccessMode
    valid_from: _timestamp_pb2.Timestamp
    valid_until: _timestamp_pb2.Timestamp
    retention_days: int
    notice: Notice
    evidence: Evidence
    state: ConsentState
    supersedes: str
    recorded_by_org: str
    recorded_by_actor: str
    recorded_at: _timestamp_pb2.Timestamp
    signature: str
    key_id: str
    def __init__(self, consent_id: _Optional[str] = ..., version: _Optional[int] = ..., case_id: _Optional[str] = ..., grantor: _Optional[_Union[Grantor, _Mapping]] = ..., recipient_org: _Optional[str] = ..., purpose: _Optional[str] = ..., categories: _Optional[_Iterable[str]] = ..., fields: _Optional[_Iterable[str]] = ..., access_mode: _Optional[_Union[AccessMode, str]] = ..., valid_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., retention_days: _Optional[int] = ..., notice: _Optional[_Union[Notice, _Mapping]] = ..., evidence: _Optional[_Union[Evidence, _Mapping]] = ..., state: _Optional[_Union[ConsentState, str]] = ..., supersedes: _Optional[str] = ..., recorded_by_org: _Optional[str] = ..., recorded_by_actor: _Optional[str] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., signature: _Optional[str] = ..., key_id: _Optional[str] = ...) -> None: ...

class ConsentEvent(_message.Message):
    __slots__ = ("consent_id", "event", "at", "actor", "org", "reason")
    CONSENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    consent_id: str
    event: str
    at: _timestamp_pb2.Timestamp
    actor: str
    org: str
    reason: str
    def __init__(self, consent_id: _Optional[str] = ..., event: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ..., org: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RecordConsentRequest(_message.Message):
    __slots__ = ("request_id", "consent")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    consent: Consent
    def __init__(self, request_id: _Optional[str] = ..., consent: _Optional[_Union[Consent, _Mapping]] = ...) -> None: ...

class RecordConsentResponse(_message.Message):
    __slots__ = ("consent",)
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    consent: Consent
    def __init__(self, consent: _Optional[_Union[Consent, _Mapping]] = ...) -> None: ...

class GetConsentRequest(_message.Message):
    __slots__ = ("consent_id",)
    CONSENT_ID_FIELD_NUMBER: _ClassVar[int]
    consent_id: str
    def __init__(self, consent_id: _Optional[str] = ...) -> None: ...

class ListConsentsRequest(_message.Message):
    __slots__ = ("case_id", "state")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    state: ConsentState
    def __init__(self, case_id: _Optional[str] = ..., state: _Optional[_Union[ConsentState, str]] = ...) -> None: ...

class ListConsentsResponse(_message.Message):
    __slots__ = ("consents",)
    CONSENTS_FIELD_NUMBER: _ClassVar[int]
    consents: _containers.RepeatedCompositeFieldContainer[Consent]
    def __init__(self, consents: _Optional[_Iterable[_Union[Consent, _Mapping]]] = ...) -> None: ...

class WithdrawConsentRequest(_message.Message):
    __slots__ = ("request_id", "consent_id", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CONSENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    consent_id: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., consent_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class WithdrawConsentResponse(_message.Message):
    __slots__ = ("consent", "referrals_cancelled", "recipients_notified")
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    REFERRALS_CANCELLED_FIELD_NUMBER: _ClassVar[int]
    RECIPIENTS_NOTIFIED_FIELD_NUMBER: _ClassVar[int]
    consent: Consent
    referrals_cancelled: int
    recipients_notified: int
    def __init__(self, consent: _Optional[_Union[Consent, _Mapping]] = ..., referrals_cancelled: _Optional[int] = ..., recipients_notified: _Optional[int] = ...) -> None: ...

class MarkEnteredInErrorRequest(_message.Message):
    __slots__ = ("request_id", "consent_id", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CONSENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    consent_id: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., consent_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class GetConsentReceiptRequest(_message.Message):
    __slots__ = ("consent_id",)
    CONSENT_ID_FIELD_NUMBER: _ClassVar[int]
    consent_id: str
    def __init__(self, consent_id: _Optional[str] = ...) -> None: ...

class ConsentReceipt(_message.Message):
    __slots__ = ("json", "text")
    JSON_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    json: str
    text: str
    def __init__(self, json: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class ListConsentEventsRequest(_message.Message):
    __slots__ = ("consent_id",)
    CONSENT_ID_FIELD_NUMBER: _ClassVar[int]
    consent_id: str
    def __init__(self, consent_id: _Optional[str] = ...) -> None: ...

class ListConsentEventsResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[ConsentEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[ConsentEvent, _Mapping]]] = ...) -> None: ...

class Notification(_message.Message):
    __slots__ = ("notification_id", "kind", "consent_id", "subject", "created_at", "delete_by", "attested")
    NOTIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CONSENT_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DELETE_BY_FIELD_NUMBER: _ClassVar[int]
    ATTESTED_FIELD_NUMBER: _ClassVar[int]
    notification_id: str
    kind: str
    consent_id: str
    subject: str
    created_at: _timestamp_pb2.Timestamp
    delete_by: _timestamp_pb2.Timestamp
    attested: bool
    def __init__(self, notification_id: _Optional[str] = ..., kind: _Optional[str] = ..., consent_id: _Optional[str] = ..., subject: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., delete_by: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., attested: _Optional[bool] = ...) -> None: ...

class ListNotificationsRequest(_message.Message):
    __slots__ = ("include_attested",)
    INCLUDE_ATTESTED_FIELD_NUMBER: _ClassVar[int]
    include_attested: bool
    def __init__(self, include_attested: _Optional[bool] = ...) -> None: ...

class ListNotificationsResponse(_message.Message):
    __slots__ = ("notifications",)
    NOTIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    notifications: _containers.RepeatedCompositeFieldContainer[Notification]
    def __init__(self, notifications: _Optional[_Iterable[_Union[Notification, _Mapping]]] = ...) -> None: ...

class AttestDeletionRequest(_message.Message):
    __slots__ = ("request_id", "notification_id", "statement")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    notification_id: str
    statement: str
    def __init__(self, request_id: _Optional[str] = ..., notification_id: _Optional[str] = ..., statement: _Optional[str] = ...) -> None: ...

class AttestDeletionResponse(_message.Message):
    __slots__ = ("notification",)
    NOTIFICATION_FIELD_NUMBER: _ClassVar[int]
    notification: Notification
    def __init__(self, notification: _Optional[_Union[Notification, _Mapping]] = ...) -> None: ...

class ListOverdueDeletionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListOverdueDeletionsResponse(_message.Message):
    __slots__ = ("notifications",)
    NOTIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    notifications: _containers.RepeatedCompositeFieldContainer[Notification]
    def __init__(self, notifications: _Optional[_Iterable[_Union[Notification, _Mapping]]] = ...) -> None: ...
