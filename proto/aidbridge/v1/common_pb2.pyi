from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HardshipType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HARDSHIP_TYPE_UNSPECIFIED: _ClassVar[HardshipType]
    HARDSHIP_TYPE_LOW_INCOME: _ClassVar[HardshipType]
    HARDSHIP_TYPE_MINIMUM_LIVING: _ClassVar[HardshipType]
    HARDSHIP_TYPE_EXTREME_POVERTY: _ClassVar[HardshipType]
    HARDSHIP_TYPE_SERIOUS_ILLNESS: _ClassVar[HardshipType]
    HARDSHIP_TYPE_DISABILITY: _ClassVar[HardshipType]
    HARDSHIP_TYPE_SUDDEN_DIFFICULTY: _ClassVar[HardshipType]
    HARDSHIP_TYPE_EDUCATION: _ClassVar[HardshipType]
    HARDSHIP_TYPE_HOUSING: _ClassVar[HardshipType]

class SpecialGroup(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SPECIAL_GROUP_UNSPECIFIED: _ClassVar[SpecialGroup]
    SPECIAL_GROUP_ELDERLY_DEPENDENT: _ClassVar[SpecialGroup]
    SPECIAL_GROUP_MINOR: _ClassVar[SpecialGroup]
    SPECIAL_GROUP_DISABLED: _ClassVar[SpecialGroup]
    SPECIAL_GROUP_SERIOUSLY_ILL: _ClassVar[SpecialGroup]

class Severity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEVERITY_UNSPECIFIED: _ClassVar[Severity]
    SEVERITY_LOW: _ClassVar[Severity]
    SEVERITY_MEDIUM: _ClassVar[Severity]
    SEVERITY_HIGH: _ClassVar[Severity]
    SEVERITY_URGENT: _ClassVar[Severity]

class HelpKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HELP_KIND_UNSPECIFIED: _ClassVar[HelpKind]
    HELP_KIND_MATERIAL: _ClassVar[HelpKind]
    HELP_KIND_CASH: _ClassVar[HelpKind]
    HELP_KIND_VISITS_AND_CARE: _ClassVar[HelpKind]
    HELP_KIND_PSYCHOLOGICAL: _ClassVar[HelpKind]
    HELP_KIND_REHABILITATION: _ClassVar[HelpKind]
    HELP_KIND_CAPACITY_BUILDING: _ClassVar[HelpKind]
    HELP_KIND_INSURANCE: _ClassVar[HelpKind]
    HELP_KIND_MEDICAL: _ClassVar[HelpKind]
    HELP_KIND_EDUCATION: _ClassVar[HelpKind]

class Sex(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEX_UNSPECIFIED: _ClassVar[Sex]
    SEX_FEMALE: _ClassVar[Sex]
    SEX_MALE: _ClassVar[Sex]

class Transform(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSFORM_UNSPECIFIED: _ClassVar[Transform]
    TRANSFORM_PLAIN: _ClassVar[Transform]
    TRANSFORM_PSEUDONYMISE: _ClassVar[Transform]
    TRANSFORM_GENERALISE: _ClassVar[Transform]
    TRANSFORM_MASK: _ClassVar[Transform]
    TRANSFORM_SCRUB: _ClassVar[Transform]
HARDSHIP_TYPE_UNSPECIFIED: HardshipType
HARDSHIP_TYPE_LOW_INCOME: HardshipType
HARDSHIP_TYPE_MINIMUM_LIVING: HardshipType
HARDSHIP_TYPE_EXTREME_POVERTY: HardshipType
HARDSHIP_TYPE_SERIOUS_ILLNESS: HardshipType
HARDSHIP_TYPE_DISABILITY: HardshipType
HARDSHIP_TYPE_SUDDEN_DIFFICULTY: HardshipType
HARDSHIP_TYPE_EDUCATION: HardshipType
HARDSHIP_TYPE_HOUSING: HardshipType
SPECIAL_GROUP_UNSPECIFIED: SpecialGroup
SPECIAL_GROUP_ELDERLY_DEPENDENT: SpecialGroup
SPECIAL_GROUP_MINOR: SpecialGroup
SPECIAL_GROUP_DISABLED: SpecialGroup
SPECIAL_GROUP_SERIOUSLY_ILL: SpecialGroup
SEVERITY_UNSPECIFIED: Severity
SEVERITY_LOW: Severity
SEVERITY_MEDIUM: Severity
SEVERITY_HIGH: Severity
SEVERITY_URGENT: Severity
HELP_KIND_UNSPECIFIED: HelpKind
HELP_KIND_MATERIAL: HelpKind
HELP_KIND_CASH: HelpKind
HELP_KIND_VISITS_AND_CARE: HelpKind
HELP_KIND_PSYCHOLOGICAL: HelpKind
HELP_KIND_REHABILITATION: HelpKind
HELP_KIND_CAPACITY_BUILDING: HelpKind
HELP_KIND_INSURANCE: HelpKind
HELP_KIND_MEDICAL: HelpKind
HELP_KIND_EDUCATION: HelpKind
SEX_UNSPECIFIED: Sex
SEX_FEMALE: Sex
SEX_MALE: Sex
TRANSFORM_UNSPECIFIED: Transform
TRANSFORM_PLAIN: Transform
TRANSFORM_PSEUDONYMISE: Transform
TRANSFORM_GENERALISE: Transform
TRANSFORM_MASK: Transform
TRANSFORM_SCRUB: Transform

class ReleasedField(_message.Message):
    __slots__ = ("field", "transform")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    TRANSFORM_FIELD_NUMBER: _ClassVar[int]
    field: str
    transform: Transform
    def __init__(self, field: _Optional[str] = ..., transform: _Optional[_Union[Transform, str]] = ...) -> None: ...

class PageRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...
