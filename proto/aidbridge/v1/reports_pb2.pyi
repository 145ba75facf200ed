from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class GetLinkageReportRequest(_message.Message):
    __slots__ = ("period",)
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    period: str
    def __init__(self, period: _Optional[str] = ...) -> None: ...

class LinkageReport(_message.Message):
    __slots__ = ("period", "json", "html", "streets")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    HTML_FIELD_NUMBER: _ClassVar[int]
    STREETS_FIELD_NUMBER: _ClassVar[int]
    period: str
    json: str
    html: str
    streets: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, period: _Optional[str] = ..., json: _Optional[str] = ..., html: _Optional[str] = ..., streets: _Optional[_Iterable[str]] = ...) -> None: ...
