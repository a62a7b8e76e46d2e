"""The plugin side of hashicorp/go-plugin's gRPC protocol, for any robodev backend.

- the magic cookie ROBODEV_PLUGIN=robodev, else go-plugin's 3-line message on stderr, exit 1;
- app protocol version 1 (answered even when PLUGIN_PROTOCOL_VERSIONS lacks it: the host then
  reports the mismatch);
- a unix socket in a fresh directory (under PLUGIN_UNIX_SOCKET_DIR when set, group
  PLUGIN_UNIX_SOCKET_GROUP when set), or TCP on 127.0.0.1 in PLUGIN_MIN_PORT..PLUGIN_MAX_PORT
  when ROBODEV_PLUGIN_NETWORK=tcp, announced by the handshake line
  `1|1|unix|<path>|grpc|<cert>`, the first and only thing written to stdout;
- AutoMTLS when PLUGIN_CLIENT_CERT is set (see _tls);
- go-plugin's own services: grpc.health.v1.Health ("plugin" and "" SERVING),
  plugin.GRPCController/Shutdown (replies, then stops and exits 0), plugin.GRPCBroker/StartStream
  (accepted and drained), plugin.GRPCStdio/StreamStdio (open and empty: nothing is written to
  stdout after the handshake, logs go to the real stderr);
- SIGINT ignored (as go-plugin plugins do); SIGTERM stops the server, removes the socket and
  ends the process by SIGTERM, as a Go plugin would.
"""

import base64
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
from concurrent import futures

import grpc

from . import _log, _tls
from .backends import Backend
from .errors import PluginError
from .proto import (
    grpc_broker_pb2_grpc,
    grpc_controller_pb2,
    grpc_controller_pb2_grpc,
    grpc_stdio_pb2_grpc,
    health_pb2,
    health_pb2_grpc,
)

APP_PROTOCOL_VERSION = 1
CORE_PROTOCOL_VERSION = 1
COOKIE_KEY = "ROBODEV_PLUGIN"
COOKIE_VALUE = "robodev"
NOT_A_PLUGIN_MESSAGE = (
    "This binary is a plugin. These are not meant to be executed directly.\n"
    "Please execute the program that consumes these plugins, which will\n"
    "load any plugins automatically\n"
)


def _check_cookie():
    if os.environ.get(COOKIE_KEY) != COOKIE_VALUE:
        sys.stderr.write(NOT_A_PLUGIN_MESSAGE)
        sys.stderr.flush()
        os._exit(1)


def _negotiate_app_version():
    """1, the only version: go-plugin serves the highest common version, or else its lowest and
    lets the host report the mismatch; with one version both rules give 1."""
    offered = []
    for item in os.environ.get("PLUGIN_PROTOCOL_VERSIONS", "").split(","):
        item = item.strip()
        if not item:
            continue
        try:
            offered.append(int(item))
        except ValueError:
            _log.warn("ignoring an invalid protocol version from the host", version=item)
    if offered and APP_PROTOCOL_VERSION not in offered:
        _log.warn(
            "the host accepts none of this plugin's protocol versions",
            host_versions=offered,
            plugin_versions=[APP_PROTOCOL_VERSION],
        )
    return APP_PROTOCOL_VERSION


class _Errors(grpc.ServerInterceptor):
    """PluginError (NotFound, InvalidArgument, ...) raised by a method becomes its status."""

    def intercept_service(self, continuation, details):
        handler = continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary
        method = details.method

        def behaviour(request, context):
            try:
                return inner(request, context)
            except PluginError as err:
                _log.debug("call refused", method=method, code=err.code.name, error=err.message)
                context.abort(err.code, err.message)
            except NotImplementedError as err:
                context.abort(grpc.StatusCode.UNIMPLEMENTED, str(err) or "%s is not implemented" % method)

        return grpc.unary_unary_rpc_method_handler(
            behaviour,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def _apply_socket_group(path):
    """Gives the socket to PLUGIN_UNIX_SOCKET_GROUP (a name or a gid), mode 0660, as go-plugin."""
    group = os.environ.get("PLUGIN_UNIX_SOCKET_GROUP")
    if not group:
        return
    import grp

    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        gid = int(group)
    os.chown(path, -1, gid)
    os.chmod(path, 0o660)


def _free_tcp_port():
    """A port in PLUGIN_MIN_PORT..PLUGIN_MAX_PORT (go-plugin's defaults 10000..25000) that is
    free now."""
    low = int(os.environ.get("PLUGIN_MIN_PORT") or 10000)
    high = int(os.environ.get("PLUGIN_MAX_PORT") or 25000)
    for port in range(low, high + 1):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise OSError("no free TCP port in %d..%d" % (low, high))


def serve(backend, *, interface=None, name=None, version=None, workers=32, install_logging=True):
    """Serves `backend` (an instance of one of robodev_plugin_sdk's base classes) as a go-plugin
    gRPC plugin until the host stops it, then exits the process.

    `interface` ("ticketing", "notifications", ...; RoboDev's documented signature) is checked
    against the backend's base class when given. `name` and `version` override the backend's
    `name` and `version` attributes (its Handshake answers with them). With `install_logging`,
    Python's `logging` writes hclog lines too. Never returns."""
    if not isinstance(backend, Backend) or backend._register is None:
        raise TypeError(
            "serve() takes an instance of a robodev_plugin_sdk base class (TicketingBackend, "
            "NotificationChannel, ...), not %r" % type(backend).__name__
        )
    if interface is not None and interface != backend.interface:
        raise TypeError(
            "serve(interface=%r) but %s is a %s backend (it extends %s)"
            % (interface, type(backend).__name__, backend.interface, type(backend).__mro__[1].__name__)
        )
    if name:
        backend.name = name
    if version:
        backend.version = version
    _log.configure(module=backend.name)
    if install_logging:
        import logging

        root = logging.getLogger()
        if not any(isinstance(h, _log.HclogHandler) for h in root.handlers):
            root.addHandler(_log.HclogHandler())
            root.setLevel(logging.DEBUG)

    _check_cookie()
    # Plugins ignore SIGINT: a Ctrl-C in the host's terminal reaches the whole process group,
    # and the host is the one to stop its plugins.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    terminate = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: terminate.set())
    app_version = _negotiate_app_version()

    shutting_down = threading.Event()  # Shutdown was called or SIGTERM arrived
    stopped = threading.Event()  # the server has stopped: time to exit 0

    def hold_open(context):
        """Blocks a streaming call until shutdown or until the caller goes away."""
        while context.is_active() and not shutting_down.wait(0.25):
            pass

    healthy = ("plugin", "")

    class Health(health_pb2_grpc.HealthServicer):
        def Check(self, request, context):
            if request.service not in healthy:
                context.abort(grpc.StatusCode.NOT_FOUND, "unknown service %s" % request.service)
            return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)

        def Watch(self, request, context):
            serving = request.service in healthy
            yield health_pb2.HealthCheckResponse(
                status=health_pb2.HealthCheckResponse.SERVING
                if serving
                else health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
            )
            hold_open(context)
            if shutting_down.is_set() and context.is_active() and serving:
                yield health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.NOT_SERVING)

    class Broker(grpc_broker_pb2_grpc.GRPCBrokerServicer):
        def StartStream(self, request_iterator, context):
            # Go hosts open the broker stream right after dialing. No brokered connections are
            # offered: read what the host announces until it closes its side.
            def drain():
                try:
                    for _ in request_iterator:
                        pass
                except Exception:  # cancelled by shutdown or by the host
                    pass

            threading.Thread(target=drain, name="broker-drain", daemon=True).start()
            hold_open(context)
            return
            yield  # a (silent) response stream

    class Stdio(grpc_stdio_pb2_grpc.GRPCStdioServicer):
        def StreamStdio(self, request, context):
            hold_open(context)
            return
            yield

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rpc"),
        interceptors=[_Errors()],
    )
    stop_lock = threading.Lock()

    def begin_shutdown(grace):
        with stop_lock:
            if shutting_down.is_set():
                return
            shutting_down.set()

        def run():
            try:
                backend.on_shutdown()
            except Exception as err:  # the plugin's own code: logged, the stop goes on
                _log.error("on_shutdown failed", error=repr(err))
            server.stop(grace).wait()
            stopped.set()

        threading.Thread(target=run, name="stop", daemon=True).start()

    class Controller(grpc_controller_pb2_grpc.GRPCControllerServicer):
        def Shutdown(self, request, context):
            _log.debug("shutdown requested by the host")
            # Stopped from another thread so this reply still goes out: stop() lets calls in
            # flight finish within the grace period and cancels the streams still open.
            begin_shutdown(grace=0.5)
            return grpc_controller_pb2.Empty()

    backend._register(backend, server)
    health_pb2_grpc.add_HealthServicer_to_server(Health(), server)
    grpc_broker_pb2_grpc.add_GRPCBrokerServicer_to_server(Broker(), server)
    grpc_controller_pb2_grpc.add_GRPCControllerServicer_to_server(Controller(), server)
    grpc_stdio_pb2_grpc.add_GRPCStdioServicer_to_server(Stdio(), server)

    cert_field = ""
    credentials = None
    client_pem = os.environ.get("PLUGIN_CLIENT_CERT", "")
    if client_pem:
        credentials, cert_der = _tls.server_credentials(client_pem.encode())
        cert_field = base64.b64encode(cert_der).decode().rstrip("=")

    socket_dir = None
    network = os.environ.get("ROBODEV_PLUGIN_NETWORK", "unix")
    try:
        if network == "tcp":
            address = "127.0.0.1:%d" % _free_tcp_port()
            target = address
        else:
            socket_dir = tempfile.mkdtemp(prefix="plugin", dir=os.environ.get("PLUGIN_UNIX_SOCKET_DIR") or None)
            address = os.path.join(os.path.abspath(socket_dir), "plugin.sock")
            target = "unix:" + address
            network = "unix"
        if credentials is None:
            server.add_insecure_port(target)
        else:
            server.add_secure_port(target, credentials)
        server.start()
        if network == "unix":
            _apply_socket_group(address)
    except BaseException as err:
        _log.error("cannot serve", network=network, error=str(err))
        if socket_dir:
            shutil.rmtree(socket_dir, ignore_errors=True)
        sys.exit(1)

    def cleanup():
        if socket_dir:
            shutil.rmtree(socket_dir, ignore_errors=True)

    _log.debug("plugin address", network=network, address=address)
    sys.stdout.write("%d|%d|%s|%s|grpc|%s\n" % (CORE_PROTOCOL_VERSION, app_version, network, address, cert_field))
    sys.stdout.flush()

    # Wait in short slices: Python runs signal handlers on the main thread between them.
    while not stopped.wait(0.2):
        if terminate.is_set():
            _log.debug("SIGTERM: stopping")
            begin_shutdown(grace=0)
            stopped.wait(2)
            cleanup()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            os._exit(143)
    cleanup()
    _log.debug("plugin exiting")
    # os._exit: a worker thread still blocked in a cancelled stream must not hold up the exit.
    os._exit(0)
