import datetime

from aidbridge.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Person(_message.Message):
    __slots__ = ("resident_id", "name", "phone", "address", "street", "community", "birth_date", "sex")
    RESIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    STREET_FIELD_NUMBER: _ClassVar[int]
    COMMUNITY_FIELD_NUMBER: _ClassVar[int]
    BIRTH_DATE_FIELD_NUMBER: _ClassVar[int]
    SEX_FIELD_NUMBER: _ClassVar[int]
    resident_id: str
    name: str
    phone: str
    address: str
    street: str
    community: str
    birth_date: str
    sex: _common_pb2.Sex
    def __init__(self, resident_id: _Optional[str] = ..., name: _Optional[str] = ..., phone: _Optional[str] = ..., address: _Optional[str] = ..., street: _Optional[str] = ..., community: _Optional[str] = ..., birth_date: _Optional[str] = ..., sex: _Optional[_Union[_common_pb2.Sex, str]] = ...) -> None: ...

class Relative(_message.Message):
    __slots__ = ("name", "relationship")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RELATIONSHIP_FIELD_NUMBER: _ClassVar[int]
    name: str
    relationship: str
    def __init__(self, name: _Optional[str] = ..., relationship: _Optional[str] = ...) -> None: ...

class Case(_message.Message):
    __slots__ = ("case_id", "person", "relatives", "hardship_types", "special_groups", "severity", "household_size", "monthly_income_fen", "assistance_status", "health_condition", "disability", "needs", "narrative", "office_id", "registered_at", "lacks_capacity")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    PERSON_FIELD_NUMBER: _ClassVar[int]
    RELATIVES_FIELD_NUMBER: _ClassVar[int]
    HARDSHIP_TYPES_FIELD_NUMBER: _ClassVar[int]
    SPECIAL_GROUPS_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    HOUSEHOLD_SIZE_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_INCOME_FEN_FIELD_NUMBER: _ClassVar[int]
    ASSISTANCE_STATUS_FIELD_NUMBER: _ClassVar[int]
    HEALTH_CONDITION_FIELD_NUMBER: _ClassVar[int]
    DISABILITY_FIELD_NUMBER: _ClassVar[int]
    NEEDS_FIELD_NUMBER: _ClassVar[int]
    NARRATIVE_FIELD_NUMBER: _ClassVar[int]
    OFFICE_ID_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    LACKS_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    person: Person
    relatives: _containers.RepeatedCompositeFieldContainer[Relative]
    hardship_types: _containers.RepeatedScalarFieldContainer[_common_pb2.HardshipType]
    special_groups: _containers.RepeatedScalarFieldContainer[_common_pb2.SpecialGroup]
    severity: _common_pb2.Severity
    household_size: int
    monthly_income_fen: int
    assistance_status: str
    health_condition: str
    disability: str
    needs: _containers.RepeatedScalarFieldContainer[_common_pb2.HelpKind]
    narrative: str
    office_id: str
    registered_at: _timestamp_pb2.Timestamp
    lacks_capacity: bool
    def __init__(self, case_id: _Optional[str] = ..., person: _Optional[_Union[Person, _Mapping]] = ..., relatives: _Optional[_Iterable[_Union[Relative, _Mapping]]] = ..., hardship_types: _Optional[_Iterable[_Union[_common_pb2.HardshipType, str]]] = ..., special_groups: _Optional[_Iterable[_Union[_common_pb2.SpecialGroup, str]]] = ..., severity: _Optional[_Union[_common_pb2.Severity, str]] = ..., household_size: _Optional[int] = ..., monthly_income_fen: _Optional[int] = ..., assistance_status: _Optional[str] = ..., health_condition: _Optional[str] = ..., disability: _Optional[str] = ..., needs: _Optional[_Iterable[_Union[_common_pb2.HelpKind, str]]] = ..., narrative: _Optional[str] = ..., office_id: _Optional[str] = ..., registered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lacks_capacity: _Optional[bool] = ...) -> None: ...

class RegisterCaseRequest(_message.Message):
    __slots__ = ("request_id", "case")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CASE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    case: Case
    def __init__(self, request_id: _Optional[str] = ..., case: _Optional[_Union[Case, _Mapping]] = ...) -> None: ...

class RegisterCaseResponse(_message.Message):
    __slots__ = ("case_id",)
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    def __init__(self, case_id: _Optional[str] = ...) -> None: ...

class GetCaseRequest(_message.Message):
    __slots__ = ("case_id",)
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    def __init__(self, case_id: _Optional[str] = ...) -> None: ...

class CaseSummary(_message.Message):
    __slots__ = ("subject", "referral_id", "age_band", "sex", "area", "household_size", "income_band", "hardship_types", "special_groups", "severity", "assistance_status", "health_category", "disability_category", "needs", "narrative", "released", "consent_id", "purpose")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_ID_FIELD_NUMBER: _ClassVar[int]
    AGE_BAND_FIELD_NUMBER: _ClassVar[int]
    SEX_FIELD_NUMBER: _ClassVar[int]
    AREA_FIELD_NUMBER: _ClassVar[int]
    HOUSEHOLD_SIZE_FIELD_NUMBER: _ClassVar[int]
    INCOME_BAND_FIELD_NUMBER: _ClassVar[int]
    HARDSHIP_TYPES_FIELD_NUMBER: _ClassVar[int]
    SPECIAL_GROUPS_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    ASSISTANCE_STATUS_FIELD_NUMBER: _ClassVar[int]
    HEALTH_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    DISABILITY_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    NEEDS_FIELD_NUMBER: _ClassVar[int]
    NARRATIVE_FIELD_NUMBER: _ClassVar[int]
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    CONSENT_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    subject: str
    referral_id: str
    age_band: str
    sex: _common_pb2.Sex
    area: str
    household_size: int
    income_band: str
    hardship_types: _containers.RepeatedScalarFieldContainer[_common_pb2.HardshipType]
    special_groups: _containers.RepeatedScalarFieldContainer[_common_pb2.SpecialGroup]
    severity: _common_pb2.Severity
    assistance_status: str
    health_category: str
    disability_category: str
    needs: _containers.RepeatedScalarFieldContainer[_common_pb2.HelpKind]
    narrative: str
    released: _containers.RepeatedCompositeFieldContainer[_common_pb2.ReleasedField]
    consent_id: str
    purpose: str
    def __init__(self, subject: _Optional[str] = ..., referral_id: _Optional[str] = ..., age_band: _Optional[str] = ..., sex: _Optional[_Union[_common_pb2.Sex, str]] = ..., area: _Optional[str] = ..., household_size: _Optional[int] = ..., income_band: _Optional[str] = ..., hardship_types: _Optional[_Iterable[_Union[_common_pb2.HardshipType, str]]] = ..., special_groups: _Optional[_Iterable[_Union[_common_pb2.SpecialGroup, str]]] = ..., severity: _Optional[_Union[_common_pb2.Severity, str]] = ..., assistance_status: _Optional[str] = ..., health_category: _Optional[str] = ..., disability_category: _Optional[str] = ..., needs: _Optional[_Iterable[_Union[_common_pb2.HelpKind, str]]] = ..., narrative: _Optional[str] = ..., released: _Optional[_Iterable[_Union[_common_pb2.ReleasedField, _Mapping]]] = ..., consent_id: _Optional[str] = ..., purpose: _Optional[str] = ...) -> None: ...

class PullCaseSummaryRequest(_message.Message):
    __slots__ = ("referral_id", "purpose")
    REFERRAL_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    referral_id: str
    purpose: str
    def __init__(self, referral_id: _Optional[str] = ..., purpose: _Optional[str] = ...) -> None: ...

class StreamCaseSummariesRequest(_message.Message):
    __slots__ = ("purpose", "state", "severity", "updated_since_ns")
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    UPDATED_SINCE_NS_FIELD_NUMBER: _ClassVar[int]
    purpose: str
    state: str
    severity: _common_pb2.Severity
    updated_since_ns: int
    def __init__(self, purpose: _Optional[str] = ..., state: _Optional[str] = ..., severity: _Optional[_Union[_common_pb2.Severity, str]] = ..., updated_since_ns: _Optional[int] = ...) -> None: ...

class CaseSummaryPage(_message.Message):
    __slots__ = ("summaries", "last_referral_id")
    SUMMARIES_FIELD_NUMBER: _ClassVar[int]
    LAST_REFERRAL_ID_FIELD_NUMBER: _ClassVar[int]
    summaries: _containers.RepeatedCompositeFieldContainer[CaseSummary]
    last_referral_id: str
    def __init__(self, summaries: _Optional[_Iterable[_Union[CaseSummary, _Mapping]]] = ..., last_referral_id: _Optional[str] = ...) -> None: ...

class ContactDetails(_message.Message):
    __slots__ = ("subject", "referral_id", "name", "phone", "address", "released")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    subject: str
    referral_id: str
    name: str
    phone: str
    address: str
    released: _containers.RepeatedCompositeFieldContainer[_common_pb2.ReleasedField]
    def __init__(self, subject: _Optional[str] = ..., referral_id: _Optional[str] = ..., name: _Optional[str] = ..., phone: _Optional[str] = ..., address: _Optional[str] = ..., released: _Optional[_Iterable[_Union[_common_pb2.ReleasedField, _Mapping]]] = ...) -> None: ...

class GetContactDetailsRequest(_message.Message):
    __slots__ = ("referral_id", "purpose")
    REFERRAL_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    referral_id: str
    purpose: str
    def __init__(self, referral_id: _Optional[str] = ..., purpose: _Optional[str] = ...) -> None: ...
