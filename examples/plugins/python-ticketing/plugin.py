#!/usr/bin/env python3
"""python-ticketing: a hashicorp/go-plugin gRPC ticketing plugin written with robodev's Python
SDK (sdk/python, `robodev_plugin_sdk`), implementing the behaviour every interop test plugin
shares (examples/plugins/README.md). The SDK does go-plugin's side of the protocol (cookie,
handshake line, AutoMTLS, health, Shutdown, stdio, hclog logs).

Test hooks: ROBODEV_TEST_PID_FILE (write the pid at start), ROBODEV_TEST_INTERFACE_VERSION
(claim another interface version in Handshake), ROBODEV_TEST_IGNORE_SHUTDOWN (answer Shutdown
but never exit: the host must kill it).
"""

import os
import time

from google.protobuf import struct_pb2

from robodev_plugin_sdk import InvalidArgument, NotFound, TicketingBackend, log, serve
from robodev_plugin_sdk.proto import common_pb2, ticketing_pb2

# ---- the ticketing backend -------------------------------------------------------------------

REPO_URL = "https://git.example.com/acme/app.git"
KNOWN_IDS = ("T-1", "T-2", "T-3")


def _ticket(pb, struct_pb2, id, title, description, ticket_type, labels, raw):
    ticket = pb.Ticket(
        id=id,
        title=title,
        description=description,
        ticket_type=ticket_type,
        labels=labels,
        repo_url=REPO_URL,
        external_url="https://tracker.example.com/" + id,
    )
    if raw is not None:
        value = struct_pb2.Struct()
        value.update(raw)
        ticket.raw.CopyFrom(value)
    return ticket


def base_tickets(pb, struct_pb2):
    return [
        _ticket(
            pb,
            struct_pb2,
            "T-1",
            "Fix login bug",
            "Users cannot log in with SSO.",
            "bug_fix",
            ["robodev", "backend"],
            {"priority": "high", "points": 3, "nested": {"ok": True}, "tags": ["a", "b"], "none": None},
        ),
        _ticket(
            pb,
            struct_pb2,
            "T-2",
            "Update README",
            "The install section is out of date.",
            "documentation",
            ["robodev", "docs"],
            {"priority": "low"},
        ),
        _ticket(
            pb,
            struct_pb2,
            "T-3",
            "Refactor billing",
            "Split the billing module.",
            "refactor",
            ["backend"],
            None,
        ),
    ]


def bulk_tickets(pb, struct_pb2):
    return [
        _ticket(
            pb,
            struct_pb2,
            "B-%d" % i,
            "Bulk %d" % i,
            "x" * 512,
            "bulk",
            ["bulk"],
            {"index": i},
        )
        for i in range(200)
    ]


class Ticketing(TicketingBackend):
    name = "python-ticketing"
    version = "1.0.0"
    interface_version = int(os.environ.get("ROBODEV_TEST_INTERFACE_VERSION", "1"))

    def PollReadyTickets(self, request, context):
        labels = list(request.labels)
        if "bulk" in labels:
            tickets = bulk_tickets(common_pb2, struct_pb2)
        else:
            tickets = [t for t in base_tickets(common_pb2, struct_pb2) if all(l in t.labels for l in labels)]
        if request.max_results > 0:
            tickets = tickets[: request.max_results]
        log.info("polled tickets", count=len(tickets))
        return ticketing_pb2.PollReadyTicketsResponse(tickets=tickets)

    @staticmethod
    def _known(ticket_id):
        if not ticket_id:
            raise InvalidArgument("ticket_id is empty")
        if ticket_id not in KNOWN_IDS:
            raise NotFound("no ticket %s" % ticket_id)

    def MarkInProgress(self, request, context):
        self._known(request.ticket_id)
        return ticketing_pb2.MarkInProgressResponse()

    def MarkComplete(self, request, context):
        self._known(request.ticket_id)
        return ticketing_pb2.MarkCompleteResponse()

    def MarkFailed(self, request, context):
        self._known(request.ticket_id)
        return ticketing_pb2.MarkFailedResponse()

    def AddComment(self, request, context):
        if request.comment == "chaos:sleep":
            # A plugin that stops answering (the host's tests kill robodev meanwhile).
            time.sleep(3600)
        self._known(request.ticket_id)
        return ticketing_pb2.AddCommentResponse()

    def on_shutdown(self):
        if os.environ.get("ROBODEV_TEST_IGNORE_SHUTDOWN"):
            # Answers Shutdown, then never stops: the host must SIGKILL it.
            time.sleep(3600)


if __name__ == "__main__":
    # Go plugins write their test pid file in main(), before plugin.Serve checks the cookie.
    path = os.environ.get("ROBODEV_TEST_PID_FILE")
    if path:
        with open(path, "w") as f:
            f.write(str(os.getpid()))
    serve(Ticketing())
