#!/usr/bin/env node
// {{name}}: a robodev ticketing plugin, made by `robodev plugin new`.
//
// Replace TICKETS and the method bodies with calls to your tracker's API. Two example tickets
// are there so that `robodev plugin test` has something to act on.
import {
  type AddCommentRequest__Output,
  InvalidArgument,
  log,
  type MarkCompleteRequest__Output,
  type MarkFailedRequest__Output,
  type MarkInProgressRequest__Output,
  NotFound,
  type PollReadyTicketsRequest__Output,
  serve,
  type Ticket,
  TicketingBackend,
} from "@robodev/plugin-sdk";

const TICKETS: Ticket[] = [
  { id: "EX-1", title: "An example bug", ticketType: "bug_fix", labels: ["robodev"], repoUrl: "https://git.example/acme/api" },
  { id: "EX-2", title: "An example upgrade", ticketType: "dependency_upgrade", labels: ["robodev"], repoUrl: "https://git.example/acme/api" },
];

function known(id: string): void {
  if (!id) throw new InvalidArgument("ticket_id is empty");
  if (!TICKETS.some((t) => t.id === id)) throw new NotFound(`no ticket ${id}`);
}

class Plugin extends TicketingBackend {
  name = "{{name}}";
  version = "0.1.0";

  async pollReadyTickets(request: PollReadyTicketsRequest__Output) {
    let tickets = TICKETS.filter((t) => request.labels.every((l) => t.labels?.includes(l)));
    if (request.maxResults > 0) tickets = tickets.slice(0, request.maxResults);
    return { tickets };
  }

  async markInProgress(request: MarkInProgressRequest__Output) {
    known(request.ticketId);
    log.info("in progress", { ticket: request.ticketId });
    return {};
  }

  async markComplete(request: MarkCompleteRequest__Output) {
    known(request.ticketId);
    log.info("complete", { ticket: request.ticketId, summary: request.result?.summary });
    return {};
  }

  async markFailed(request: MarkFailedRequest__Output) {
    known(request.ticketId);
    log.info("failed", { ticket: request.ticketId, reason: request.reason });
    return {};
  }

  async addComment(request: AddCommentRequest__Output) {
    known(request.ticketId);
    log.info("comment", { ticket: request.ticketId, comment: request.comment });
    return {};
  }
}

void serve(new Plugin(), { interface: "ticketing" });
