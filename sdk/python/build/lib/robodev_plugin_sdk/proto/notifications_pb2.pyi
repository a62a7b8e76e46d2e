from . import common_pb2 as _common_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NotifyRequest(_message.Message):
    __slots__ = ("message", "ticket")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TICKET_FIELD_NUMBER: _ClassVar[int]
    message: str
    ticket: _common_pb2.Ticket
    def __init__(self, message: _Optional[str] = ..., ticket: _Optional[_Union[_common_pb2.Ticket, _Mapping]] = ...) -> None: ...

class NotifyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class NotifyStartRequest(_message.Message):
    __slots__ = ("ticket", "task_run_id", "engine")
    TICKET_FIELD_NUMBER: _ClassVar[int]
    TASK_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    ticket: _common_pb2.Ticket
    task_run_id: str
    engine: str
    def __init__(self, ticket: _Optional[_Union[_common_pb2.Ticket, _Mapping]] = ..., task_run_id: _Optional[str] = ..., engine: _Optional[str] = ...) -> None: ...

class NotifyStartResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class NotifyCompleteRequest(_message.Message):
    __slots__ = ("ticket", "task_run_id", "result")
    TICKET_FIELD_NUMBER: _ClassVar[int]
    TASK_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ticket: _common_pb2.Ticket
    task_run_id: str
    result: _common_pb2.TaskResult
    def __init__(self, ticket: _Optional[_Union[_common_pb2.Ticket, _Mapping]] = ..., task_run_id: _Optional[str] = ..., result: _Optional[_Union[_common_pb2.TaskResult, _Mapping]] = ...) -> None: ...

class NotifyCompleteResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
