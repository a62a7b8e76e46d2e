"""{{name}}: a robodev ticketing plugin, made by `robodev plugin new`.

Replace TICKETS and the method bodies with calls to your tracker's API. Two example tickets are
there so that `robodev plugin test` has something to act on.
"""

from robodev_plugin_sdk import InvalidArgument, NotFound, TicketingBackend, log, serve
from robodev_plugin_sdk.proto import common_pb2, ticketing_pb2

TICKETS = {
    "EX-1": common_pb2.Ticket(
        id="EX-1",
        title="An example bug",
        ticket_type="bug_fix",
        labels=["robodev"],
        repo_url="https://git.example/acme/api",
    ),
    "EX-2": common_pb2.Ticket(
        id="EX-2",
        title="An example upgrade",
        ticket_type="dependency_upgrade",
        labels=["robodev"],
        repo_url="https://git.example/acme/api",
    ),
}


def known(ticket_id):
    if not ticket_id:
        raise InvalidArgument("ticket_id is empty")
    if ticket_id not in TICKETS:
        raise NotFound("no ticket %s" % ticket_id)


class Plugin(TicketingBackend):
    name = "{{name}}"
    version = "0.1.0"

    def PollReadyTickets(self, request, context):
        tickets = [t for t in TICKETS.values() if all(label in t.labels for label in request.labels)]
        if request.max_results > 0:
            tickets = tickets[: request.max_results]
        return ticketing_pb2.PollReadyTicketsResponse(tickets=tickets)

    def MarkInProgress(self, request, context):
        known(request.ticket_id)
        log.info("in progress", ticket=request.ticket_id)
        return ticketing_pb2.MarkInProgressResponse()

    def MarkComplete(self, request, context):
        known(request.ticket_id)
        log.info("complete", ticket=request.ticket_id, summary=request.result.summary)
        return ticketing_pb2.MarkCompleteResponse()

    def MarkFailed(self, request, context):
        known(request.ticket_id)
        log.info("failed", ticket=request.ticket_id, reason=request.reason)
        return ticketing_pb2.MarkFailedResponse()

    def AddComment(self, request, context):
        known(request.ticket_id)
        log.info("comment", ticket=request.ticket_id, comment=request.comment)
        return ticketing_pb2.AddCommentResponse()


def main():
    serve(Plugin(), interface="ticketing")


if __name__ == "__main__":
    main()
