// Errors a plugin throws from a method: each becomes the gRPC status robodev's contract asks
// for (robodev maps it to its error kind: not_found, invalid_argument, ...).
import { status } from "@grpc/grpc-js";

/** A failure with a gRPC status code; throw it (or a subclass) from any method. */
export class PluginError extends Error {
  constructor(message: string, readonly code: status = status.INTERNAL) {
    super(message);
    this.name = "PluginError";
  }
}

/** The ticket, secret, request, ... does not exist (NOT_FOUND). */
export class NotFound extends PluginError {
  constructor(message: string) {
    super(message, status.NOT_FOUND);
    this.name = "NotFound";
  }
}

/** The request is malformed (INVALID_ARGUMENT). */
export class InvalidArgument extends PluginError {
  constructor(message: string) {
    super(message, status.INVALID_ARGUMENT);
    this.name = "InvalidArgument";
  }
}

/** The plugin's credentials do not allow it (PERMISSION_DENIED). */
export class PermissionDenied extends PluginError {
  constructor(message: string) {
    super(message, status.PERMISSION_DENIED);
    this.name = "PermissionDenied";
  }
}

/** The system behind the plugin cannot be reached now; worth retrying (UNAVAILABLE). */
export class Unavailable extends PluginError {
  constructor(message: string) {
    super(message, status.UNAVAILABLE);
    this.name = "Unavailable";
  }
}

/** This plugin does not offer the method (UNIMPLEMENTED). */
export class Unimplemented extends PluginError {
  constructor(message: string) {
    super(message, status.UNIMPLEMENTED);
    this.name = "Unimplemented";
  }
}
