// hclog JSON lines on stderr: what go-plugin hosts (robodev among them) parse and re-log.

const LEVELS = ["trace", "debug", "info", "warn", "error"] as const;
/** A log level, lowest first. */
export type Level = (typeof LEVELS)[number];

let moduleName = "plugin";
let threshold = LEVELS.indexOf("info");

/** Names the plugin in every line (`@module`) and sets the lowest level written (default:
 * ROBODEV_PLUGIN_LOG_LEVEL, else info). */
export function configure(module?: string, level?: string): void {
  if (module) moduleName = module;
  const wanted = (level ?? process.env.ROBODEV_PLUGIN_LOG_LEVEL ?? "info").toLowerCase();
  const index = LEVELS.indexOf(wanted as Level);
  threshold = index >= 0 ? index : LEVELS.indexOf("info");
}

function timestamp(): string {
  // hclog's layout 2006-01-02T15:04:05.000000Z07:00, in UTC.
  const iso = new Date().toISOString(); // 2026-01-02T03:04:05.678Z
  return iso.slice(0, 23) + "000Z";
}

/** Writes one hclog JSON line; never throws (a closed stderr must not fail a call). */
export function log(level: Level, message: string, fields: Record<string, unknown> = {}): void {
  if (LEVELS.indexOf(level) < threshold) return;
  const entry: Record<string, unknown> = { ...fields };
  entry["@level"] = level;
  entry["@message"] = message;
  entry["@module"] = moduleName;
  entry["@timestamp"] = timestamp();
  let line: string;
  try {
    line = JSON.stringify(entry);
  } catch {
    line = JSON.stringify({ "@level": level, "@message": message, "@module": moduleName, "@timestamp": timestamp() });
  }
  try {
    process.stderr.write(line + "\n");
  } catch {
    // the host went away
  }
}

export const trace = (message: string, fields?: Record<string, unknown>) => log("trace", message, fields);
export const debug = (message: string, fields?: Record<string, unknown>) => log("debug", message, fields);
export const info = (message: string, fields?: Record<string, unknown>) => log("info", message, fields);
export const warn = (message: string, fields?: Record<string, unknown>) => log("warn", message, fields);
export const error = (message: string, fields?: Record<string, unknown>) => log("error", message, fields);

/** Sends console.log/info/debug/warn/error to the log: after the handshake line, stdout is the
 * host's, not the plugin's. */
export function captureConsole(): void {
  const format = (args: unknown[]) =>
    args.map((a) => (typeof a === "string" ? a : a instanceof Error ? a.stack ?? a.message : JSON.stringify(a))).join(" ");
  console.log = (...args: unknown[]) => info(format(args));
  console.info = (...args: unknown[]) => info(format(args));
  console.debug = (...args: unknown[]) => debug(format(args));
  console.warn = (...args: unknown[]) => warn(format(args));
  console.error = (...args: unknown[]) => error(format(args));
}
