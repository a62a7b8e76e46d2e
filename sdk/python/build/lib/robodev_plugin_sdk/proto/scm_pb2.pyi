from . import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PullRequestState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PULL_REQUEST_STATE_UNSPECIFIED: _ClassVar[PullRequestState]
    PULL_REQUEST_STATE_OPEN: _ClassVar[PullRequestState]
    PULL_REQUEST_STATE_CLOSED: _ClassVar[PullRequestState]
    PULL_REQUEST_STATE_MERGED: _ClassVar[PullRequestState]
    PULL_REQUEST_STATE_DRAFT: _ClassVar[PullRequestState]

class CIStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CI_STATUS_UNSPECIFIED: _ClassVar[CIStatus]
    CI_STATUS_PENDING: _ClassVar[CIStatus]
    CI_STATUS_PASSING: _ClassVar[CIStatus]
    CI_STATUS_FAILING: _ClassVar[CIStatus]

class ReviewStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REVIEW_STATUS_UNSPECIFIED: _ClassVar[ReviewStatus]
    REVIEW_STATUS_PENDING: _ClassVar[ReviewStatus]
    REVIEW_STATUS_APPROVED: _ClassVar[ReviewStatus]
    REVIEW_STATUS_CHANGES_REQUESTED: _ClassVar[ReviewStatus]
PULL_REQUEST_STATE_UNSPECIFIED: PullRequestState
PULL_REQUEST_STATE_OPEN: PullRequestState
PULL_REQUEST_STATE_CLOSED: PullRequestState
PULL_REQUEST_STATE_MERGED: PullRequestState
PULL_REQUEST_STATE_DRAFT: PullRequestState
CI_STATUS_UNSPECIFIED: CIStatus
CI_STATUS_PENDING: CIStatus
CI_STATUS_PASSING: CIStatus
CI_STATUS_FAILING: CIStatus
REVIEW_STATUS_UNSPECIFIED: ReviewStatus
REVIEW_STATUS_PENDING: ReviewStatus
REVIEW_STATUS_APPROVED: ReviewStatus
REVIEW_STATUS_CHANGES_REQUESTED: ReviewStatus

class CreateBranchRequest(_message.Message):
    __slots__ = ("repo_url", "branch_name", "base_ref")
    REPO_URL_FIELD_NUMBER: _ClassVar[int]
    BRANCH_NAME_FIELD_NUMBER: _ClassVar[int]
    BASE_REF_FIELD_NUMBER: _ClassVar[int]
    repo_url: str
    branch_name: str
    base_ref: str
    def __init__(self, repo_url: _Optional[str] = ..., branch_name: _Optional[str] = ..., base_ref: _Optional[str] = ...) -> None: ...

class CreateBranchResponse(_message.Message):
    __slots__ = ("sha",)
    SHA_FIELD_NUMBER: _ClassVar[int]
    sha: str
    def __init__(self, sha: _Optional[str] = ...) -> None: ...

class CreatePullRequestRequest(_message.Message):
    __slots__ = ("repo_url", "title", "body", "head_branch", "base_branch", "labels", "draft")
    REPO_URL_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    HEAD_BRANCH_FIELD_NUMBER: _ClassVar[int]
    BASE_BRANCH_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    DRAFT_FIELD_NUMBER: _ClassVar[int]
    repo_url: str
    title: str
    body: str
    head_branch: str
    base_branch: str
    labels: _containers.RepeatedScalarFieldContainer[str]
    draft: bool
    def __init__(self, repo_url: _Optional[str] = ..., title: _Optional[str] = ..., body: _Optional[str] = ..., head_branch: _Optional[str] = ..., base_branch: _Optional[str] = ..., labels: _Optional[_Iterable[str]] = ..., draft: _Optional[bool] = ...) -> None: ...

class CreatePullRequestResponse(_message.Message):
    __slots__ = ("pull_request_url", "pull_request_id")
    PULL_REQUEST_URL_FIELD_NUMBER: _ClassVar[int]
    PULL_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    pull_request_url: str
    pull_request_id: str
    def __init__(self, pull_request_url: _Optional[str] = ..., pull_request_id: _Optional[str] = ...) -> None: ...

class GetPullRequestStatusRequest(_message.Message):
    __slots__ = ("repo_url", "pull_request_id")
    REPO_URL_FIELD_NUMBER: _ClassVar[int]
    PULL_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    repo_url: str
    pull_request_id: str
    def __init__(self, repo_url: _Optional[str] = ..., pull_request_id: _Optional[str] = ...) -> None: ...

class GetPullRequestStatusResponse(_message.Message):
    __slots__ = ("state", "mergeable", "ci_status", "review_status", "pull_request_url")
    STATE_FIELD_NUMBER: _ClassVar[int]
    MERGEABLE_FIELD_NUMBER: _ClassVar[int]
    CI_STATUS_FIELD_NUMBER: _ClassVar[int]
    REVIEW_STATUS_FIELD_NUMBER: _ClassVar[int]
    PULL_REQUEST_URL_FIELD_NUMBER: _ClassVar[int]
    state: PullRequestState
    mergeable: bool
    ci_status: CIStatus
    review_status: ReviewStatus
    pull_request_url: str
    def __init__(self, state: _Optional[_Union[PullRequestState, str]] = ..., mergeable: _Optional[bool] = ..., ci_status: _Optional[_Union[CIStatus, str]] = ..., review_status: _Optional[_Union[ReviewStatus, str]] = ..., pull_request_url: _Optional[str] = ...) -> None: ...

class ListReviewCommentsRequest(_message.Message):
    __slots__ = ("pr_url",)
    PR_URL_FIELD_NUMBER: _ClassVar[int]
    pr_url: str
    def __init__(self, pr_url: _Optional[str] = ...) -> None: ...

class ListReviewCommentsResponse(_message.Message):
    __slots__ = ("comments",)
    COMMENTS_FIELD_NUMBER: _ClassVar[int]
    comments: _containers.RepeatedCompositeFieldContainer[ReviewCommentProto]
    def __init__(self, comments: _Optional[_Iterable[_Union[ReviewCommentProto, _Mapping]]] = ...) -> None: ...

class ReviewCommentProto(_message.Message):
    __slots__ = ("id", "thread_id", "author", "body", "file_path", "line", "created_unix")
    ID_FIELD_NUMBER: _ClassVar[int]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    FILE_PATH_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_FIELD_NUMBER: _ClassVar[int]
    id: str
    thread_id: str
    author: str
    body: str
    file_path: str
    line: int
    created_unix: int
    def __init__(self, id: _Optional[str] = ..., thread_id: _Optional[str] = ..., author: _Optional[str] = ..., body: _Optional[str] = ..., file_path: _Optional[str] = ..., line: _Optional[int] = ..., created_unix: _Optional[int] = ...) -> None: ...

class ReplyToCommentRequest(_message.Message):
    __slots__ = ("pr_url", "comment_id", "body")
    PR_URL_FIELD_NUMBER: _ClassVar[int]
    COMMENT_ID_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    pr_url: str
    comment_id: str
    body: str
    def __init__(self, pr_url: _Optional[str] = ..., comment_id: _Optional[str] = ..., body: _Optional[str] = ...) -> None: ...

class ReplyToCommentResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ResolveThreadRequest(_message.Message):
    __slots__ = ("pr_url", "thread_id")
    PR_URL_FIELD_NUMBER: _ClassVar[int]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    pr_url: str
    thread_id: str
    def __init__(self, pr_url: _Optional[str] = ..., thread_id: _Optional[str] = ...) -> None: ...

class ResolveThreadResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetDiffRequest(_message.Message):
    __slots__ = ("repo_url", "base_branch", "branch_name")
    REPO_URL_FIELD_NUMBER: _ClassVar[int]
    BASE_BRANCH_FIELD_NUMBER: _ClassVar[int]
    BRANCH_NAME_FIELD_NUMBER: _ClassVar[int]
    repo_url: str
    base_branch: str
    branch_name: str
    def __init__(self, repo_url: _Optional[str] = ..., base_branch: _Optional[str] = ..., branch_name: _Optional[str] = ...) -> None: ...

class GetDiffResponse(_message.Message):
    __slots__ = ("diff",)
    DIFF_FIELD_NUMBER: _ClassVar[int]
    diff: str
    def __init__(self, diff: _Optional[str] = ...) -> None: ...
