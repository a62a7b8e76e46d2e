// ts-ticketing: a hashicorp/go-plugin gRPC ticketing plugin written with robodev's TypeScript
// SDK (sdk/typescript, @robodev/plugin-sdk), implementing the behaviour every interop test
// plugin shares (examples/plugins/README.md). The SDK does go-plugin's side of the protocol.
//
// Test hooks: ROBODEV_TEST_PID_FILE (write the pid at start), ROBODEV_TEST_INTERFACE_VERSION
// (claim another interface version in Handshake).
import { writeFileSync } from "node:fs";

import {
  type AddCommentRequest__Output,
  InvalidArgument,
  type Json,
  log,
  type MarkInProgressRequest__Output,
  NotFound,
  type PollReadyTicketsRequest__Output,
  type PollReadyTicketsResponse,
  serve,
  type Ticket,
  TicketingBackend,
  toStruct,
} from "@robodev/plugin-sdk";

const REPO_URL = "https://git.example.com/acme/app.git";
const KNOWN_IDS = ["T-1", "T-2", "T-3"];

function ticket(
  id: string,
  title: string,
  description: string,
  ticketType: string,
  labels: string[],
  raw: { [key: string]: Json } | null,
): Ticket {
  return {
    id,
    title,
    description,
    ticketType,
    labels,
    repoUrl: REPO_URL,
    externalUrl: "https://tracker.example.com/" + id,
    ...(raw ? { raw: toStruct(raw) } : {}),
  };
}

const BASE: Ticket[] = [
  ticket("T-1", "Fix login bug", "Users cannot log in with SSO.", "bug_fix", ["robodev", "backend"], {
    priority: "high",
    points: 3,
    nested: { ok: true },
    tags: ["a", "b"],
    none: null,
  }),
  ticket("T-2", "Update README", "The install section is out of date.", "documentation", ["robodev", "docs"], {
    priority: "low",
  }),
  ticket("T-3", "Refactor billing", "Split the billing module.", "refactor", ["backend"], null),
];

const BULK: Ticket[] = Array.from({ length: 200 }, (_, i) =>
  ticket(`B-${i}`, `Bulk ${i}`, "x".repeat(512), "bulk", ["bulk"], { index: i }),
);

function known(id: string): void {
  if (!id) throw new InvalidArgument("ticket_id is empty");
  if (!KNOWN_IDS.includes(id)) throw new NotFound(`no ticket ${id}`);
}

class Ticketing extends TicketingBackend {
  name = "ts-ticketing";
  version = "1.0.0";
  readonly interfaceVersion = Number(process.env.ROBODEV_TEST_INTERFACE_VERSION ?? "1");

  async pollReadyTickets(request: PollReadyTicketsRequest__Output): Promise<PollReadyTicketsResponse> {
    let tickets = request.labels.includes("bulk")
      ? BULK
      : BASE.filter((t) => request.labels.every((l) => t.labels?.includes(l)));
    if (request.maxResults > 0) tickets = tickets.slice(0, request.maxResults);
    log.info("polled tickets", { count: tickets.length });
    return { tickets };
  }

  async markInProgress(request: MarkInProgressRequest__Output) {
    known(request.ticketId);
    return {};
  }

  async markComplete(request: { ticketId: string }) {
    known(request.ticketId);
    return {};
  }

  async markFailed(request: { ticketId: string }) {
    known(request.ticketId);
    return {};
  }

  async addComment(request: AddCommentRequest__Output) {
    if (request.comment === "chaos:sleep") {
      // A plugin that stops answering (the host's tests kill robodev meanwhile).
      await new Promise((resolve) => setTimeout(resolve, 3_600_000));
    }
    known(request.ticketId);
    return {};
  }
}

// Go plugins write their test pid file in main(), before plugin.Serve checks the cookie.
if (process.env.ROBODEV_TEST_PID_FILE) writeFileSync(process.env.ROBODEV_TEST_PID_FILE, String(process.pid));
void serve(new Ticketing());
