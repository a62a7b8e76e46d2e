from . import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PollReadyTicketsRequest(_message.Message):
    __slots__ = ("labels", "max_results")
    LABELS_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    labels: _containers.RepeatedScalarFieldContainer[str]
    max_results: int
    def __init__(self, labels: _Optional[_Iterable[str]] = ..., max_results: _Optional[int] = ...) -> None: ...

class PollReadyTicketsResponse(_message.Message):
    __slots__ = ("tickets",)
    TICKETS_FIELD_NUMBER: _ClassVar[int]
    tickets: _containers.RepeatedCompositeFieldContainer[_common_pb2.Ticket]
    def __init__(self, tickets: _Optional[_Iterable[_Union[_common_pb2.Ticket, _Mapping]]] = ...) -> None: ...

class MarkInProgressRequest(_message.Message):
    __slots__ = ("ticket_id",)
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    def __init__(self, ticket_id: _Optional[str] = ...) -> None: ...

class MarkInProgressResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class MarkCompleteRequest(_message.Message):
    __slots__ = ("ticket_id", "result")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    result: _common_pb2.TaskResult
    def __init__(self, ticket_id: _Optional[str] = ..., result: _Optional[_Union[_common_pb2.TaskResult, _Mapping]] = ...) -> None: ...

class MarkCompleteResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class MarkFailedRequest(_message.Message):
    __slots__ = ("ticket_id", "reason")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    reason: str
    def __init__(self, ticket_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class MarkFailedResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AddCommentRequest(_message.Message):
    __slots__ = ("ticket_id", "comment")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    comment: str
    def __init__(self, ticket_id: _Optional[str] = ..., comment: _Optional[str] = ...) -> None: ...

class AddCommentResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
