"""One base class per robodev interface. Subclass it, set `name` and `version`, and implement
the methods (each takes the request message and the gRPC context and returns the response
message; see the `robodev_plugin_sdk.proto` stubs for their fields). Methods left out answer
UNIMPLEMENTED; `Handshake` is answered from `name`, `version` and the interface's version."""

from .proto import (
    approval_pb2_grpc,
    common_pb2,
    engine_pb2_grpc,
    notifications_pb2_grpc,
    review_pb2_grpc,
    scm_pb2_grpc,
    secrets_pb2_grpc,
    ticketing_pb2_grpc,
)


class Backend:
    """What every backend shares: the plugin's identity and the Handshake it answers."""

    #: The plugin's name, as robodev shows it (`plugins list`).
    name = "plugin"
    #: The plugin's own version (semver).
    version = "0.0.0"
    #: The interface's key ("ticketing", "notifications", ...); set by each base class.
    interface = ""
    #: The interface's major version this plugin implements; set by each base class.
    interface_version = 1
    # The generated function that registers the servicer on a grpc.Server.
    _register = None

    def on_shutdown(self):
        """Called once when the host stops the plugin (Shutdown, or SIGTERM), after the
        reply and before the server stops: close sessions, flush buffers. The process exits
        when it returns (a host kills a plugin that takes longer than its grace period, 2 s
        for Go hosts)."""

    def Handshake(self, request, context):
        return common_pb2.HandshakeResponse(
            interface_version=self.interface_version,
            plugin_name=self.name,
            plugin_version=self.version,
        )


class TicketingBackend(Backend, ticketing_pb2_grpc.TicketingBackendServicer):
    """robodev.v1.TicketingBackend: PollReadyTickets, MarkInProgress, MarkComplete, MarkFailed,
    AddComment."""

    interface = "ticketing"
    interface_version = 1
    _register = staticmethod(ticketing_pb2_grpc.add_TicketingBackendServicer_to_server)


class NotificationChannel(Backend, notifications_pb2_grpc.NotificationChannelServicer):
    """robodev.v1.NotificationChannel: Notify, NotifyStart, NotifyComplete."""

    interface = "notifications"
    interface_version = 1
    _register = staticmethod(notifications_pb2_grpc.add_NotificationChannelServicer_to_server)


class HumanApprovalBackend(Backend, approval_pb2_grpc.HumanApprovalBackendServicer):
    """robodev.v1.HumanApprovalBackend: RequestApproval, CancelPending."""

    interface = "approval"
    interface_version = 1
    _register = staticmethod(approval_pb2_grpc.add_HumanApprovalBackendServicer_to_server)


class SecretsBackend(Backend, secrets_pb2_grpc.SecretsBackendServicer):
    """robodev.v1.SecretsBackend: GetSecret, GetSecrets, BuildEnvVars."""

    interface = "secrets"
    interface_version = 1
    _register = staticmethod(secrets_pb2_grpc.add_SecretsBackendServicer_to_server)


class ReviewBackend(Backend, review_pb2_grpc.ReviewBackendServicer):
    """robodev.v1.ReviewBackend: ReviewDiff, GetGateResult."""

    interface = "review"
    interface_version = 1
    _register = staticmethod(review_pb2_grpc.add_ReviewBackendServicer_to_server)


class SCMBackend(Backend, scm_pb2_grpc.SCMBackendServicer):
    """robodev.v1.SCMBackend (interface version 2)."""

    interface = "scm"
    interface_version = 2
    _register = staticmethod(scm_pb2_grpc.add_SCMBackendServicer_to_server)


class ExecutionEngine(Backend, engine_pb2_grpc.ExecutionEngineServicer):
    """robodev.v1.ExecutionEngine: BuildExecutionSpec, BuildPrompt."""

    interface = "engine"
    interface_version = 1
    _register = staticmethod(engine_pb2_grpc.add_ExecutionEngineServicer_to_server)


ALL = (
    TicketingBackend,
    NotificationChannel,
    HumanApprovalBackend,
    SecretsBackend,
    ReviewBackend,
    SCMBackend,
    ExecutionEngine,
)
