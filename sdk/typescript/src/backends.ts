// One base class per robodev interface. Extend it, set `name` and `version`, and implement the
// methods you offer (camelCase, each taking the request object and returning the response
// object or a promise of it). Methods left out answer UNIMPLEMENTED; `Handshake` is answered
// from `name`, `version` and the interface's version.
import type {
  ExecutionEngineMethods,
  HumanApprovalBackendMethods,
  NotificationChannelMethods,
  ReviewBackendMethods,
  SCMBackendMethods,
  SecretsBackendMethods,
  TicketingBackendMethods,
} from "./generated/methods";

/** What every backend shares: its identity and the interface it serves. */
export abstract class Backend {
  /** The plugin's name, as robodev shows it (`plugins list`). */
  name = "plugin";
  /** The plugin's own version (semver). */
  version = "0.0.0";
  /** The interface's key (`ticketing`, `notifications`, ...). */
  abstract readonly interfaceKey: string;
  /** The interface's major version this plugin implements. */
  abstract readonly interfaceVersion: number;
  /** The gRPC service, `robodev.v1.<Name>`. */
  abstract readonly service: string;
  /** Called once when the host stops the plugin (Shutdown or SIGTERM), before the server
   * stops: close sessions, flush buffers. The process exits when it settles. */
  onShutdown(): void | Promise<void> {}
}

export interface TicketingBackend extends TicketingBackendMethods {}
/** robodev.v1.TicketingBackend: pollReadyTickets, markInProgress, markComplete, markFailed,
 * addComment. */
export abstract class TicketingBackend extends Backend {
  readonly interfaceKey = "ticketing";
  readonly interfaceVersion: number = 1;
  readonly service = "robodev.v1.TicketingBackend";
}

export interface NotificationChannel extends NotificationChannelMethods {}
/** robodev.v1.NotificationChannel: notify, notifyStart, notifyComplete. */
export abstract class NotificationChannel extends Backend {
  readonly interfaceKey = "notifications";
  readonly interfaceVersion: number = 1;
  readonly service = "robodev.v1.NotificationChannel";
}

export interface HumanApprovalBackend extends HumanApprovalBackendMethods {}
/** robodev.v1.HumanApprovalBackend: requestApproval, cancelPending. */
export abstract class HumanApprovalBackend extends Backend {
  readonly interfaceKey = "approval";
  readonly interfaceVersion: number = 1;
  readonly service = "robodev.v1.HumanApprovalBackend";
}

export interface SecretsBackend extends SecretsBackendMethods {}
/** robodev.v1.SecretsBackend: getSecret, getSecrets, buildEnvVars. */
export abstract class SecretsBackend extends Backend {
  readonly interfaceKey = "secrets";
  readonly interfaceVersion: number = 1;
  readonly service = "robodev.v1.SecretsBackend";
}

export interface ReviewBackend extends ReviewBackendMethods {}
/** robodev.v1.ReviewBackend: reviewDiff, getGateResult. */
export abstract class ReviewBackend extends Backend {
  readonly interfaceKey = "review";
  readonly interfaceVersion: number = 1;
  readonly service = "robodev.v1.ReviewBackend";
}

export interface SCMBackend extends SCMBackendMethods {}
/** robodev.v1.SCMBackend (interface version 2). */
export abstract class SCMBackend extends Backend {
  readonly interfaceKey = "scm";
  readonly interfaceVersion: number = 2;
  readonly service = "robodev.v1.SCMBackend";
}

export interface ExecutionEngine extends ExecutionEngineMethods {}
/** robodev.v1.ExecutionEngine: buildExecutionSpec, buildPrompt. */
export abstract class ExecutionEngine extends Backend {
  readonly interfaceKey = "engine";
  readonly interfaceVersion: number = 1;
  readonly service = "robodev.v1.ExecutionEngine";
}
