from . import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetSecretRequest(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: str
    def __init__(self, key: _Optional[str] = ...) -> None: ...

class GetSecretResponse(_message.Message):
    __slots__ = ("value",)
    VALUE_FIELD_NUMBER: _ClassVar[int]
    value: str
    def __init__(self, value: _Optional[str] = ...) -> None: ...

class GetSecretsRequest(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, keys: _Optional[_Iterable[str]] = ...) -> None: ...

class GetSecretsResponse(_message.Message):
    __slots__ = ("secrets",)
    class SecretsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SECRETS_FIELD_NUMBER: _ClassVar[int]
    secrets: _containers.ScalarMap[str, str]
    def __init__(self, secrets: _Optional[_Mapping[str, str]] = ...) -> None: ...

class SecretRef(_message.Message):
    __slots__ = ("env_name", "secret_key")
    ENV_NAME_FIELD_NUMBER: _ClassVar[int]
    SECRET_KEY_FIELD_NUMBER: _ClassVar[int]
    env_name: str
    secret_key: str
    def __init__(self, env_name: _Optional[str] = ..., secret_key: _Optional[str] = ...) -> None: ...

class BuildEnvVarsRequest(_message.Message):
    __slots__ = ("secret_refs",)
    SECRET_REFS_FIELD_NUMBER: _ClassVar[int]
    secret_refs: _containers.RepeatedCompositeFieldContainer[SecretRef]
    def __init__(self, secret_refs: _Optional[_Iterable[_Union[SecretRef, _Mapping]]] = ...) -> None: ...

class EnvVar(_message.Message):
    __slots__ = ("name", "value", "secret_ref")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    SECRET_REF_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    secret_ref: SecretKeyRef
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ..., secret_ref: _Optional[_Union[SecretKeyRef, _Mapping]] = ...) -> None: ...

class SecretKeyRef(_message.Message):
    __slots__ = ("name", "key")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    name: str
    key: str
    def __init__(self, name: _Optional[str] = ..., key: _Optional[str] = ...) -> None: ...

class BuildEnvVarsResponse(_message.Message):
    __slots__ = ("env_vars",)
    ENV_VARS_FIELD_NUMBER: _ClassVar[int]
    env_vars: _containers.RepeatedCompositeFieldContainer[EnvVar]
    def __init__(self, env_vars: _Optional[_Iterable[_Union[EnvVar, _Mapping]]] = ...) -> None: ...
