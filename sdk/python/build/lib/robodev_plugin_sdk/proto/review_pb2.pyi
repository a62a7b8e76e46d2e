from . import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Severity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEVERITY_UNSPECIFIED: _ClassVar[Severity]
    SEVERITY_INFO: _ClassVar[Severity]
    SEVERITY_WARNING: _ClassVar[Severity]
    SEVERITY_ERROR: _ClassVar[Severity]
    SEVERITY_CRITICAL: _ClassVar[Severity]
SEVERITY_UNSPECIFIED: Severity
SEVERITY_INFO: Severity
SEVERITY_WARNING: Severity
SEVERITY_ERROR: Severity
SEVERITY_CRITICAL: Severity

class ReviewDiffRequest(_message.Message):
    __slots__ = ("task_run_id", "ticket", "diff", "branch_name", "repo_url", "result")
    TASK_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TICKET_FIELD_NUMBER: _ClassVar[int]
    DIFF_FIELD_NUMBER: _ClassVar[int]
    BRANCH_NAME_FIELD_NUMBER: _ClassVar[int]
    REPO_URL_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    task_run_id: str
    ticket: _common_pb2.Ticket
    diff: str
    branch_name: str
    repo_url: str
    result: _common_pb2.TaskResult
    def __init__(self, task_run_id: _Optional[str] = ..., ticket: _Optional[_Union[_common_pb2.Ticket, _Mapping]] = ..., diff: _Optional[str] = ..., branch_name: _Optional[str] = ..., repo_url: _Optional[str] = ..., result: _Optional[_Union[_common_pb2.TaskResult, _Mapping]] = ...) -> None: ...

class ReviewDiffResponse(_message.Message):
    __slots__ = ("review_id", "gate_result")
    REVIEW_ID_FIELD_NUMBER: _ClassVar[int]
    GATE_RESULT_FIELD_NUMBER: _ClassVar[int]
    review_id: str
    gate_result: GateResult
    def __init__(self, review_id: _Optional[str] = ..., gate_result: _Optional[_Union[GateResult, _Mapping]] = ...) -> None: ...

class GetGateResultRequest(_message.Message):
    __slots__ = ("review_id",)
    REVIEW_ID_FIELD_NUMBER: _ClassVar[int]
    review_id: str
    def __init__(self, review_id: _Optional[str] = ...) -> None: ...

class GetGateResultResponse(_message.Message):
    __slots__ = ("gate_result",)
    GATE_RESULT_FIELD_NUMBER: _ClassVar[int]
    gate_result: GateResult
    def __init__(self, gate_result: _Optional[_Union[GateResult, _Mapping]] = ...) -> None: ...

class GateResult(_message.Message):
    __slots__ = ("passed", "summary", "comments", "security_findings", "score")
    PASSED_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    COMMENTS_FIELD_NUMBER: _ClassVar[int]
    SECURITY_FINDINGS_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    passed: bool
    summary: str
    comments: _containers.RepeatedCompositeFieldContainer[ReviewComment]
    security_findings: _containers.RepeatedCompositeFieldContainer[SecurityFinding]
    score: int
    def __init__(self, passed: _Optional[bool] = ..., summary: _Optional[str] = ..., comments: _Optional[_Iterable[_Union[ReviewComment, _Mapping]]] = ..., security_findings: _Optional[_Iterable[_Union[SecurityFinding, _Mapping]]] = ..., score: _Optional[int] = ...) -> None: ...

class ReviewComment(_message.Message):
    __slots__ = ("file_path", "line", "severity", "message", "suggestion")
    FILE_PATH_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SUGGESTION_FIELD_NUMBER: _ClassVar[int]
    file_path: str
    line: int
    severity: Severity
    message: str
    suggestion: str
    def __init__(self, file_path: _Optional[str] = ..., line: _Optional[int] = ..., severity: _Optional[_Union[Severity, str]] = ..., message: _Optional[str] = ..., suggestion: _Optional[str] = ...) -> None: ...

class SecurityFinding(_message.Message):
    __slots__ = ("rule_id", "severity", "file_path", "line", "description", "cwe_id")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    FILE_PATH_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CWE_ID_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    severity: Severity
    file_path: str
    line: int
    description: str
    cwe_id: str
    def __init__(self, rule_id: _Optional[str] = ..., severity: _Optional[_Union[Severity, str]] = ..., file_path: _Optional[str] = ..., line: _Optional[int] = ..., description: _Optional[str] = ..., cwe_id: _Optional[str] = ...) -> None: ...
