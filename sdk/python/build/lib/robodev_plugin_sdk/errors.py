"""Errors a plugin raises from a method: each becomes the gRPC status robodev's contract asks
for (robodev maps it to its error kind: not_found, invalid_argument, ...)."""

import grpc


class PluginError(Exception):
    """A failure with a gRPC status code; raise it (or a subclass) from any method."""

    code = grpc.StatusCode.INTERNAL

    def __init__(self, message, code=None):
        super().__init__(message)
        self.message = str(message)
        if code is not None:
            self.code = code


class NotFound(PluginError):
    """The ticket, secret, request, ... does not exist (NOT_FOUND)."""

    code = grpc.StatusCode.NOT_FOUND


class InvalidArgument(PluginError):
    """The request is malformed (INVALID_ARGUMENT)."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class PermissionDenied(PluginError):
    """The plugin's credentials do not allow it (PERMISSION_DENIED)."""

    code = grpc.StatusCode.PERMISSION_DENIED


class Unavailable(PluginError):
    """The system behind the plugin cannot be reached now; worth retrying (UNAVAILABLE)."""

    code = grpc.StatusCode.UNAVAILABLE


class Unimplemented(PluginError):
    """This plugin does not offer the method (UNIMPLEMENTED)."""

    code = grpc.StatusCode.UNIMPLEMENTED
