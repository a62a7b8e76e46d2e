// @robodev/plugin-sdk: write robodev (and RoboDev) subprocess plugins in TypeScript.
//
//   import { serve, TicketingBackend, NotFound } from "@robodev/plugin-sdk";
//
//   class Jira extends TicketingBackend {
//     name = "jira";
//     version = "1.0.0";
//     async pollReadyTickets(request) { return { tickets: [] }; }
//   }
//   serve(new Jira());
//
// The result is a hashicorp/go-plugin gRPC plugin: robodev, RoboDev's Go controller and any
// go-plugin host launch it (through an executable that runs `node` on it).
export {
  Backend,
  ExecutionEngine,
  HumanApprovalBackend,
  NotificationChannel,
  ReviewBackend,
  SCMBackend,
  SecretsBackend,
  TicketingBackend,
} from "./backends";
export type * from "./generated/methods";
export { InvalidArgument, NotFound, PermissionDenied, PluginError, Unavailable, Unimplemented } from "./errors";
export * as log from "./log";
export { serve } from "./serve";
export type { ServeOptions } from "./serve";
export { fromStruct, fromValue, toStruct, toValue } from "./struct";
export type { Json } from "./struct";
export type * from "./generated/types";
