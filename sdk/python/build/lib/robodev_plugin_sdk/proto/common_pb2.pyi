from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HandshakeRequest(_message.Message):
    __slots__ = ("interface_version",)
    INTERFACE_VERSION_FIELD_NUMBER: _ClassVar[int]
    interface_version: int
    def __init__(self, interface_version: _Optional[int] = ...) -> None: ...

class HandshakeResponse(_message.Message):
    __slots__ = ("interface_version", "plugin_name", "plugin_version")
    INTERFACE_VERSION_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_NAME_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_VERSION_FIELD_NUMBER: _ClassVar[int]
    interface_version: int
    plugin_name: str
    plugin_version: str
    def __init__(self, interface_version: _Optional[int] = ..., plugin_name: _Optional[str] = ..., plugin_version: _Optional[str] = ...) -> None: ...

class Ticket(_message.Message):
    __slots__ = ("id", "title", "description", "ticket_type", "labels", "repo_url", "external_url", "raw")
    ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TICKET_TYPE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    REPO_URL_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_URL_FIELD_NUMBER: _ClassVar[int]
    RAW_FIELD_NUMBER: _ClassVar[int]
    id: str
    title: str
    description: str
    ticket_type: str
    labels: _containers.RepeatedScalarFieldContainer[str]
    repo_url: str
    external_url: str
    raw: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., ticket_type: _Optional[str] = ..., labels: _Optional[_Iterable[str]] = ..., repo_url: _Optional[str] = ..., external_url: _Optional[str] = ..., raw: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class TaskResult(_message.Message):
    __slots__ = ("success", "merge_request_url", "branch_name", "summary", "token_usage", "cost_estimate_usd", "exit_code")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    MERGE_REQUEST_URL_FIELD_NUMBER: _ClassVar[int]
    BRANCH_NAME_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    TOKEN_USAGE_FIELD_NUMBER: _ClassVar[int]
    COST_ESTIMATE_USD_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    success: bool
    merge_request_url: str
    branch_name: str
    summary: str
    token_usage: TokenUsage
    cost_estimate_usd: float
    exit_code: int
    def __init__(self, success: _Optional[bool] = ..., merge_request_url: _Optional[str] = ..., branch_name: _Optional[str] = ..., summary: _Optional[str] = ..., token_usage: _Optional[_Union[TokenUsage, _Mapping]] = ..., cost_estimate_usd: _Optional[float] = ..., exit_code: _Optional[int] = ...) -> None: ...

class TokenUsage(_message.Message):
    __slots__ = ("input_tokens", "output_tokens")
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    input_tokens: int
    output_tokens: int
    def __init__(self, input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ...) -> None: ...
