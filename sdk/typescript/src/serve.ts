// The plugin side of hashicorp/go-plugin's gRPC protocol, for any robodev backend:
// - the magic cookie ROBODEV_PLUGIN=robodev, else go-plugin's 3-line message on stderr, exit 1;
// - app protocol version 1 (answered even when PLUGIN_PROTOCOL_VERSIONS lacks it: the host then
//   reports the mismatch);
// - a unix socket in a fresh directory (under PLUGIN_UNIX_SOCKET_DIR when set, group
//   PLUGIN_UNIX_SOCKET_GROUP when set), or TCP on 127.0.0.1 when ROBODEV_PLUGIN_NETWORK=tcp,
//   announced by the handshake line `1|1|unix|<path>|grpc|<cert>`, the first and only thing
//   written to stdout (console.* goes to the log afterwards);
// - AutoMTLS when PLUGIN_CLIENT_CERT is set (see tls.ts);
// - go-plugin's own services: grpc.health.v1.Health ("plugin" and "" SERVING),
//   plugin.GRPCController/Shutdown (replies, then stops and exits 0), plugin.GRPCBroker/StartStream
//   (accepted and drained), plugin.GRPCStdio/StreamStdio (open and empty);
// - SIGINT ignored (as go-plugin plugins do); SIGTERM stops the server, removes the socket and
//   ends the process by SIGTERM, as a Go plugin would.
import { chownSync, chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

import { Backend } from "./backends";
import { PluginError } from "./errors";
import * as log from "./log";
import { serverCredentials } from "./tls";

const APP_PROTOCOL_VERSION = 1;
const CORE_PROTOCOL_VERSION = 1;
const NOT_A_PLUGIN_MESSAGE =
  "This binary is a plugin. These are not meant to be executed directly.\n" +
  "Please execute the program that consumes these plugins, which will\n" +
  "load any plugins automatically\n";

/** The package's .proto files (copied in at build time). */
const PROTO_DIR = resolve(__dirname, "..", "proto");

function loadServices(): Record<string, grpc.ServiceDefinition> {
  const files = [
    "ticketing.proto",
    "notifications.proto",
    "approval.proto",
    "secrets.proto",
    "review.proto",
    "scm.proto",
    "engine.proto",
    "grpc_broker.proto",
    "grpc_controller.proto",
    "grpc_stdio.proto",
    "health.proto",
  ];
  const definition = protoLoader.loadSync(files, {
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: [PROTO_DIR, join(PROTO_DIR, "plugin"), join(PROTO_DIR, "grpc", "health", "v1")],
  });
  const services: Record<string, grpc.ServiceDefinition> = {};
  for (const [name, value] of Object.entries(definition)) {
    if (value && typeof value === "object" && !("format" in value)) {
      services[name] = value as grpc.ServiceDefinition;
    }
  }
  return services;
}

function negotiateAppVersion(): number {
  const offered: number[] = [];
  for (const item of (process.env.PLUGIN_PROTOCOL_VERSIONS ?? "").split(",")) {
    const trimmed = item.trim();
    if (!trimmed) continue;
    const n = Number(trimmed);
    if (Number.isInteger(n)) offered.push(n);
    else log.warn("ignoring an invalid protocol version from the host", { version: trimmed });
  }
  if (offered.length > 0 && !offered.includes(APP_PROTOCOL_VERSION)) {
    log.warn("the host accepts none of this plugin's protocol versions", {
      host_versions: offered,
      plugin_versions: [APP_PROTOCOL_VERSION],
    });
  }
  return APP_PROTOCOL_VERSION;
}

function statusOf(err: unknown, method: string): Partial<grpc.StatusObject> {
  if (err instanceof PluginError) {
    log.debug("call refused", { method, code: grpc.status[err.code], error: err.message });
    return { code: err.code, details: err.message };
  }
  const message = err instanceof Error ? err.message : String(err);
  log.error("method failed", { method, error: err instanceof Error ? (err.stack ?? message) : message });
  return { code: grpc.status.INTERNAL, details: `${method}: ${message}` };
}

function socketGroup(path: string): void {
  const group = process.env.PLUGIN_UNIX_SOCKET_GROUP;
  if (!group) return;
  let gid = Number(group);
  if (!Number.isInteger(gid)) {
    const line = readFileSync("/etc/group", "utf8")
      .split("\n")
      .find((l) => l.split(":")[0] === group);
    if (!line) throw new Error(`PLUGIN_UNIX_SOCKET_GROUP ${group}: no such group`);
    gid = Number(line.split(":")[2]);
  }
  chownSync(path, -1, gid);
  chmodSync(path, 0o660);
}

function bind(server: grpc.Server, target: string, credentials: grpc.ServerCredentials): Promise<number> {
  return new Promise((ok, fail) => server.bindAsync(target, credentials, (err, port) => (err ? fail(err) : ok(port))));
}

/** Options of `serve`. */
export interface ServeOptions {
  /** The interface (`ticketing`, `notifications`, ...; RoboDev's documented signature): checked
   * against the backend's base class when given. */
  interface?: string;
}

/** Serves `backend` (an instance of a subclass of one of the SDK's base classes) as a go-plugin
 * gRPC plugin until the host stops it, then exits the process. */
export async function serve(backend: Backend, options: ServeOptions = {}): Promise<never> {
  if (!(backend instanceof Backend)) {
    throw new TypeError("serve() takes an instance of a @robodev/plugin-sdk base class (TicketingBackend, ...)");
  }
  if (options.interface !== undefined && options.interface !== backend.interfaceKey) {
    throw new TypeError(
      `serve(..., { interface: "${options.interface}" }) but ${backend.constructor.name} is a ${backend.interfaceKey} backend`,
    );
  }
  log.configure(backend.name);
  if (process.env.ROBODEV_PLUGIN !== "robodev") {
    process.stderr.write(NOT_A_PLUGIN_MESSAGE);
    process.exit(1);
  }
  // Plugins ignore SIGINT: a Ctrl-C in the host's terminal reaches the whole process group.
  process.on("SIGINT", () => {});
  const appVersion = negotiateAppVersion();

  const services = loadServices();
  const service = services[backend.service];
  if (!service) throw new Error(`no service ${backend.service} in the SDK's protos`);
  const server = new grpc.Server();
  const open = new Set<{ end: () => void }>();
  let stopping = false;
  let socketDir: string | undefined;

  const cleanup = () => {
    if (socketDir) rmSync(socketDir, { recursive: true, force: true });
  };
  const stop = async (graceMs: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    try {
      await backend.onShutdown();
    } catch (err) {
      log.error("onShutdown failed", { error: String(err) });
    }
    for (const call of open) {
      try {
        call.end();
      } catch {
        // already gone
      }
    }
    await new Promise<void>((done) => {
      const force = setTimeout(() => {
        server.forceShutdown();
        done();
      }, graceMs);
      server.tryShutdown(() => {
        clearTimeout(force);
        done();
      });
    });
    cleanup();
  };

  // The backend's methods.
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const [method, definition] of Object.entries(service)) {
    const fullName = `${backend.service}/${method}`;
    if (definition.requestStream || definition.responseStream) {
      throw new Error(`${fullName} is a streaming method, which the SDK does not serve`);
    }
    const camel = method.charAt(0).toLowerCase() + method.slice(1);
    implementation[method] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      if (method === "Handshake") {
        callback(null, {
          interfaceVersion: backend.interfaceVersion,
          pluginName: backend.name,
          pluginVersion: backend.version,
        });
        return;
      }
      const fn = (backend as unknown as Record<string, unknown>)[camel];
      if (typeof fn !== "function") {
        callback({ code: grpc.status.UNIMPLEMENTED, details: `${backend.name} does not implement ${method}` });
        return;
      }
      Promise.resolve()
        .then(() => (fn as (request: unknown) => unknown).call(backend, call.request))
        .then(
          (response) => callback(null, response ?? {}),
          (err) => callback(statusOf(err, fullName)),
        );
    };
  }
  server.addService(service, implementation);

  // go-plugin's services.
  const holdOpen = (call: { end: () => void; on: (event: string, f: () => void) => unknown }) => {
    if (stopping) {
      call.end();
      return;
    }
    open.add(call);
    call.on("cancelled", () => open.delete(call));
    call.on("close", () => open.delete(call));
  };
  server.addService(services["grpc.health.v1.Health"], {
    Check: (call: grpc.ServerUnaryCall<{ service: string }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      if (call.request.service === "plugin" || call.request.service === "") {
        callback(null, { status: "SERVING" });
      } else {
        callback({ code: grpc.status.NOT_FOUND, details: `unknown service ${call.request.service}` });
      }
    },
    Watch: (call: grpc.ServerWritableStream<{ service: string }, unknown>) => {
      const known = call.request.service === "plugin" || call.request.service === "";
      call.write({ status: known ? "SERVING" : "SERVICE_UNKNOWN" });
      holdOpen(call);
    },
  });
  server.addService(services["plugin.GRPCBroker"], {
    StartStream: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
      // Go hosts open the broker stream right after dialing; no brokered connections are
      // offered: what the host announces is read and dropped until it closes its side.
      call.on("data", () => {});
      call.on("end", () => call.end());
      call.on("error", () => {});
      holdOpen(call);
    },
  });
  server.addService(services["plugin.GRPCStdio"], {
    StreamStdio: (call: grpc.ServerWritableStream<unknown, unknown>) => holdOpen(call),
  });
  server.addService(services["plugin.GRPCController"], {
    Shutdown: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      log.debug("shutdown requested by the host");
      callback(null, {});
      // After the reply is out: stop, then exit 0.
      setImmediate(() => {
        void stop(500).then(() => {
          log.debug("plugin exiting");
          process.exit(0);
        });
      });
    },
  });

  let credentials = grpc.ServerCredentials.createInsecure();
  let certField = "";
  const hostPem = process.env.PLUGIN_CLIENT_CERT ?? "";
  if (hostPem) {
    try {
      const tls = await serverCredentials(hostPem);
      credentials = tls.credentials;
      certField = tls.der.toString("base64").replace(/=+$/, "");
    } catch (err) {
      log.error("PLUGIN_CLIENT_CERT is not a PEM certificate", { error: String(err) });
      process.stderr.write(`failed to parse client certificate: ${err}\n`);
      process.exit(1);
    }
  }

  let network = "unix";
  let address: string;
  try {
    if (process.env.ROBODEV_PLUGIN_NETWORK === "tcp") {
      network = "tcp";
      const port = await bind(server, "127.0.0.1:0", credentials);
      address = `127.0.0.1:${port}`;
    } else {
      socketDir = mkdtempSync(join(process.env.PLUGIN_UNIX_SOCKET_DIR || tmpdir(), "plugin"));
      address = join(resolve(socketDir), "plugin.sock");
      await bind(server, `unix://${address}`, credentials);
      socketGroup(address);
    }
  } catch (err) {
    log.error("cannot serve", { network, error: String(err) });
    cleanup();
    process.exit(1);
  }

  process.on("SIGTERM", () => {
    log.debug("SIGTERM: stopping");
    void stop(0).then(() => {
      process.removeAllListeners("SIGTERM");
      process.kill(process.pid, "SIGTERM");
    });
  });

  log.debug("plugin address", { network, address });
  process.stdout.write(`${CORE_PROTOCOL_VERSION}|${appVersion}|${network}|${address}|grpc|${certField}\n`);
  log.captureConsole();
  // Runs until Shutdown or SIGTERM exits the process.
  return new Promise<never>(() => {});
}
