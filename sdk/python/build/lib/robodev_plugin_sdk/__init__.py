"""robodev_plugin_sdk: write robodev (and RoboDev) subprocess plugins in Python.

    from robodev_plugin_sdk import TicketingBackend, NotFound, serve
    from robodev_plugin_sdk.proto import ticketing_pb2

    class Jira(TicketingBackend):
        name = "jira"
        version = "1.0.0"

        def PollReadyTickets(self, request, context):
            return ticketing_pb2.PollReadyTicketsResponse(tickets=[...])

    if __name__ == "__main__":
        serve(Jira())

The result is a hashicorp/go-plugin gRPC plugin: robodev, RoboDev's Go controller and any
go-plugin host launch it (point their config at a launcher script that runs it). Logs: `log`
(hclog JSON lines on stderr) or Python's `logging`, which serve() routes there.
"""

from . import _log as log
from ._serve import serve
from .backends import (
    Backend,
    ExecutionEngine,
    HumanApprovalBackend,
    NotificationChannel,
    ReviewBackend,
    SCMBackend,
    SecretsBackend,
    TicketingBackend,
)
from .errors import (
    InvalidArgument,
    NotFound,
    PermissionDenied,
    PluginError,
    Unavailable,
    Unimplemented,
)

__version__ = "0.1.0"

__all__ = [
    "Backend",
    "ExecutionEngine",
    "HumanApprovalBackend",
    "InvalidArgument",
    "NotFound",
    "NotificationChannel",
    "PermissionDenied",
    "PluginError",
    "ReviewBackend",
    "SCMBackend",
    "SecretsBackend",
    "TicketingBackend",
    "Unavailable",
    "Unimplemented",
    "log",
    "serve",
]
