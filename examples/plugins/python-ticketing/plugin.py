#!/usr/bin/env python3
"""python-ticketing: a hashicorp/go-plugin gRPC plugin written in Python with grpcio.

It implements robodev.v1.TicketingBackend with the behaviour shared by every interop test
plugin (examples/plugins/README.md) and the plugin side of go-plugin's protocol by hand:

- the magic cookie ROBODEV_PLUGIN=robodev, else go-plugin's 3-line message on stderr, exit 1;
- app protocol version 1 (answered even when PLUGIN_PROTOCOL_VERSIONS lacks it: the host then
  reports the mismatch);
- a unix socket in a fresh temporary directory (under PLUGIN_UNIX_SOCKET_DIR when set, group
  PLUGIN_UNIX_SOCKET_GROUP when set), announced by the handshake line
  `1|1|unix|<path>|grpc|<cert>` as the first and only thing written to stdout;
- AutoMTLS when PLUGIN_CLIENT_CERT is set: a throwaway self-signed ECDSA P-256 certificate
  (CN=localhost, SAN localhost, CA:TRUE like Go's), the host's certificate as the only trusted
  root, client certificates required; the handshake's 6th field is the DER, base64 without
  padding. grpcio's TLS stack (BoringSSL) cannot take client authentication by a P-521 key (Go's
  AutoMTLS hosts use one), so for a host key on a curve other than P-256/P-384 the plugin serves
  TLS without client authentication and says so in a warn log line;
- go-plugin's own services: grpc.health.v1.Health ("plugin" and "" are SERVING),
  plugin.GRPCController/Shutdown (replies, then stops the server and exits 0),
  plugin.GRPCBroker/StartStream (accepted and drained: no brokered connections are offered),
  plugin.GRPCStdio/StreamStdio (accepted; it streams nothing and stays open until shutdown or
  until the host cancels it: this plugin writes nothing to stdout after the handshake and logs
  to the real stderr, as the protocol wants);
- hclog-style JSON log lines on stderr;
- SIGINT ignored (as go-plugin plugins do); SIGTERM stops the server, removes the socket and
  ends the process by SIGTERM like a Go plugin would (default disposition).

The generated stubs (scripts/build-python-plugins puts them in target/interop/python/gen/) are
flat modules (`ticketing_pb2`, `grpc_controller_pb2`, `health_pb2`, ...) and must be on
PYTHONPATH; the launcher written by that script takes care of it.
"""

import base64
import datetime
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time

PLUGIN_NAME = "python-ticketing"
PLUGIN_VERSION = "1.0.0"
# ROBODEV_TEST_INTERFACE_VERSION lets the host's tests see a plugin that claims another
# interface version in its Handshake answer.
INTERFACE_VERSION = int(os.environ.get("ROBODEV_TEST_INTERFACE_VERSION", "1"))
APP_PROTOCOL_VERSION = 1
CORE_PROTOCOL_VERSION = 1
COOKIE_KEY = "ROBODEV_PLUGIN"
COOKIE_VALUE = "robodev"

NOT_A_PLUGIN_MESSAGE = (
    "This binary is a plugin. These are not meant to be executed directly.\n"
    "Please execute the program that consumes these plugins, which will\n"
    "load any plugins automatically\n"
)

# ---- hclog-style JSON logging on stderr ------------------------------------------------------

_log_lock = threading.Lock()


def _timestamp():
    """Now in hclog's layout 2006-01-02T15:04:05.000000Z07:00 (local time, like Go's)."""
    now = datetime.datetime.now().astimezone()
    offset = now.utcoffset() or datetime.timedelta(0)
    if offset == datetime.timedelta(0):
        zone = "Z"
    else:
        minutes = int(offset.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "-"
        minutes = abs(minutes)
        zone = "%s%02d:%02d" % (sign, minutes // 60, minutes % 60)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + "%06d" % now.microsecond + zone


def log(level, message, **fields):
    """Writes one hclog JSON line: @level, @message, @module, @timestamp, then the fields."""
    entry = dict(fields)
    entry["@level"] = level
    entry["@message"] = message
    entry["@module"] = PLUGIN_NAME
    entry["@timestamp"] = _timestamp()
    line = json.dumps(entry, sort_keys=True, separators=(",", ":"), default=str) + "\n"
    with _log_lock:
        try:
            sys.stderr.write(line)
            sys.stderr.flush()
        except (OSError, ValueError):
            pass  # stderr closed (the host went away): logging must never fail a call


# ---- the go-plugin launch protocol -----------------------------------------------------------


def check_cookie():
    if os.environ.get(COOKIE_KEY) != COOKIE_VALUE:
        sys.stderr.write(NOT_A_PLUGIN_MESSAGE)
        sys.stderr.flush()
        os._exit(1)


def negotiate_app_version():
    """The app protocol version to serve: 1, the only one this plugin has.

    go-plugin serves the highest version both sides know, or else its lowest one and lets the
    host report the mismatch; with a single version both rules give 1."""
    offered = []
    for item in os.environ.get("PLUGIN_PROTOCOL_VERSIONS", "").split(","):
        item = item.strip()
        if not item:
            continue
        try:
            offered.append(int(item))
        except ValueError:
            log("warn", "ignoring an invalid protocol version from the host", version=item)
    if offered and APP_PROTOCOL_VERSION not in offered:
        log(
            "warn",
            "the host accepts none of this plugin's protocol versions",
            host_versions=offered,
            plugin_versions=[APP_PROTOCOL_VERSION],
        )
    return APP_PROTOCOL_VERSION


def write_pid_file():
    path = os.environ.get("ROBODEV_TEST_PID_FILE")
    if path:
        with open(path, "w") as f:
            f.write(str(os.getpid()))


def make_certificate():
    """A throwaway self-signed ECDSA P-256 certificate shaped like go-plugin's AutoMTLS one.

    Returns (key PEM, certificate PEM, certificate DER)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "RoboDev"),
            x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
        ]
    )
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(seconds=30))
        .not_valid_after(now + datetime.timedelta(hours=262980))  # 30 years, as Go's
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM), cert.public_bytes(serialization.Encoding.DER)


def load_client_certificate(pem):
    """The host's certificate from PLUGIN_CLIENT_CERT; fails like a Go plugin (error, exit 1)
    when it is not a PEM certificate."""
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as err:
        log("error", "PLUGIN_CLIENT_CERT is not a PEM certificate", error=str(err))
        sys.stderr.write("failed to parse client certificate: %s\n" % err)
        sys.stderr.flush()
        os._exit(1)


def client_key_usable(cert):
    """Whether grpcio's TLS stack (BoringSSL) can verify client authentication by this key.

    A BoringSSL server asks only for ecdsa_secp256r1_sha256, ecdsa_secp384r1_sha384 and RSA
    signatures in its CertificateRequest. A host whose key is on another curve (Go's AutoMTLS
    always makes P-521 keys) cannot sign with any of them: it sends no certificate and a server
    that requires one closes the connection (PEER_DID_NOT_RETURN_A_CERTIFICATE)."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return True
    return isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in ("secp256r1", "secp384r1")


def apply_socket_group(path):
    """Gives the socket to PLUGIN_UNIX_SOCKET_GROUP (a name or a gid), mode 0660, as go-plugin."""
    group = os.environ.get("PLUGIN_UNIX_SOCKET_GROUP")
    if not group:
        return
    try:
        import grp

        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError:
            gid = int(group)
        os.chown(path, -1, gid)
        os.chmod(path, 0o660)
    except (ValueError, OSError) as err:
        log("error", "cannot give the socket to PLUGIN_UNIX_SOCKET_GROUP", group=group, error=str(err))
        raise SystemExit(1)


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


# ---- serving ---------------------------------------------------------------------------------


def main():
    # Go plugins write their test pid file in main(), before plugin.Serve checks the cookie.
    write_pid_file()
    check_cookie()
    # go-plugin plugins ignore SIGINT: a Ctrl-C in the host's terminal reaches the whole process
    # group, and the host is the one to stop its plugins.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    terminate = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: terminate.set())

    app_version = negotiate_app_version()

    from concurrent import futures

    import grpc
    from google.protobuf import struct_pb2

    import common_pb2
    import grpc_broker_pb2_grpc
    import grpc_controller_pb2
    import grpc_controller_pb2_grpc
    import grpc_stdio_pb2_grpc
    import health_pb2
    import health_pb2_grpc
    import ticketing_pb2
    import ticketing_pb2_grpc

    shutting_down = threading.Event()  # Shutdown was called or SIGTERM arrived
    stopped = threading.Event()  # the server has stopped: time to exit 0

    class Ticketing(ticketing_pb2_grpc.TicketingBackendServicer):
        def Handshake(self, request, context):
            return common_pb2.HandshakeResponse(
                interface_version=INTERFACE_VERSION,
                plugin_name=PLUGIN_NAME,
                plugin_version=PLUGIN_VERSION,
            )

        def PollReadyTickets(self, request, context):
            labels = list(request.labels)
            if "bulk" in labels:
                tickets = bulk_tickets(common_pb2, struct_pb2)
            else:
                tickets = [
                    t for t in base_tickets(common_pb2, struct_pb2) if all(l in t.labels for l in labels)
                ]
            if request.max_results > 0:
                tickets = tickets[: request.max_results]
            log("info", "polled tickets", count=len(tickets))
            return ticketing_pb2.PollReadyTicketsResponse(tickets=tickets)

        def _known(self, ticket_id, context):
            if ticket_id not in KNOWN_IDS:
                context.abort(grpc.StatusCode.NOT_FOUND, "no ticket %s" % ticket_id)

        def MarkInProgress(self, request, context):
            self._known(request.ticket_id, context)
            return ticketing_pb2.MarkInProgressResponse()

        def MarkComplete(self, request, context):
            self._known(request.ticket_id, context)
            return ticketing_pb2.MarkCompleteResponse()

        def MarkFailed(self, request, context):
            self._known(request.ticket_id, context)
            return ticketing_pb2.MarkFailedResponse()

        def AddComment(self, request, context):
            if request.comment == "chaos:sleep":
                # A plugin that stops answering (the host's tests kill robodev meanwhile).
                time.sleep(3600)
            self._known(request.ticket_id, context)
            return ticketing_pb2.AddCommentResponse()

    def hold_open(context):
        """Blocks a streaming call until shutdown or until the caller goes away."""
        while context.is_active() and not shutting_down.wait(0.25):
            pass

    HEALTHY = ("plugin", "")

    class Health(health_pb2_grpc.HealthServicer):
        def Check(self, request, context):
            if request.service not in HEALTHY:
                context.abort(grpc.StatusCode.NOT_FOUND, "unknown service %s" % request.service)
            return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)

        def Watch(self, request, context):
            if request.service in HEALTHY:
                yield health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)
            else:
                yield health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVICE_UNKNOWN)
            hold_open(context)
            if shutting_down.is_set() and context.is_active() and request.service in HEALTHY:
                yield health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.NOT_SERVING)

    class Broker(grpc_broker_pb2_grpc.GRPCBrokerServicer):
        def StartStream(self, request_iterator, context):
            # Go hosts open the broker stream right after dialing. This plugin offers and uses no
            # brokered connections: read what the host announces (on another thread) until it
            # closes its side, and keep the stream open until then or until shutdown.
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
            # Nothing is written to stdout after the handshake and logs go to the real stderr, so
            # there is nothing to forward: the stream stays open, empty, until shutdown.
            hold_open(context)
            return
            yield

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="rpc"))

    def stop_server(grace):
        def run():
            server.stop(grace).wait()
            stopped.set()

        threading.Thread(target=run, name="stop", daemon=True).start()

    stop_lock = threading.Lock()

    def begin_shutdown(grace):
        with stop_lock:
            if shutting_down.is_set():
                return
            shutting_down.set()
        stop_server(grace)

    class Controller(grpc_controller_pb2_grpc.GRPCControllerServicer):
        def Shutdown(self, request, context):
            log("debug", "shutdown requested by the host")
            if os.environ.get("ROBODEV_TEST_IGNORE_SHUTDOWN"):
                # A plugin that answers Shutdown but never exits (the host must SIGKILL it).
                return grpc_controller_pb2.Empty()
            # Stop from another thread so this reply still goes out: stop() lets calls in flight
            # finish within the grace period and cancels the streams still open after it.
            begin_shutdown(grace=0.5)
            return grpc_controller_pb2.Empty()

    ticketing_pb2_grpc.add_TicketingBackendServicer_to_server(Ticketing(), server)
    health_pb2_grpc.add_HealthServicer_to_server(Health(), server)
    grpc_broker_pb2_grpc.add_GRPCBrokerServicer_to_server(Broker(), server)
    grpc_controller_pb2_grpc.add_GRPCControllerServicer_to_server(Controller(), server)
    grpc_stdio_pb2_grpc.add_GRPCStdioServicer_to_server(Stdio(), server)

    cert_field = ""
    client_pem = os.environ.get("PLUGIN_CLIENT_CERT", "")
    credentials = None
    if client_pem:
        client_pem = client_pem.encode()
        client_cert = load_client_certificate(client_pem)
        require_client_auth = client_key_usable(client_cert)
        if not require_client_auth:
            # Requiring a certificate the host cannot present would refuse every connection, so
            # accept TLS without client authentication: the host still authenticates this plugin
            # by its pinned certificate, and the socket lives in a directory only this user can
            # enter (mode 0700).
            key = client_cert.public_key()
            log(
                "warn",
                "the host's AutoMTLS key cannot authenticate to grpcio's TLS stack: "
                "serving TLS without client authentication",
                key=getattr(getattr(key, "curve", None), "name", type(key).__name__),
            )
        key_pem, cert_pem, cert_der = make_certificate()
        credentials = grpc.ssl_server_credentials(
            [(key_pem, cert_pem)],
            root_certificates=client_pem,
            require_client_auth=require_client_auth,
        )
        cert_field = base64.b64encode(cert_der).decode().rstrip("=")

    socket_dir = tempfile.mkdtemp(prefix="plugin", dir=os.environ.get("PLUGIN_UNIX_SOCKET_DIR") or None)
    socket_path = os.path.join(os.path.abspath(socket_dir), "plugin.sock")

    def cleanup():
        shutil.rmtree(socket_dir, ignore_errors=True)

    try:
        address = "unix:" + socket_path
        if credentials is None:
            server.add_insecure_port(address)
        else:
            server.add_secure_port(address, credentials)
        server.start()
        apply_socket_group(socket_path)
    except BaseException as err:
        log("error", "cannot serve on the unix socket", address=socket_path, error=str(err))
        cleanup()
        sys.exit(1)

    log("debug", "plugin address", network="unix", address=socket_path)
    sys.stdout.write(
        "%d|%d|unix|%s|grpc|%s\n" % (CORE_PROTOCOL_VERSION, app_version, socket_path, cert_field)
    )
    sys.stdout.flush()

    # Wait in short slices: Python runs signal handlers on the main thread between them.
    while not stopped.wait(0.2):
        if terminate.is_set():
            log("debug", "SIGTERM: stopping")
            begin_shutdown(grace=0)
            stopped.wait(2)
            cleanup()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            os._exit(143)
    cleanup()
    log("debug", "plugin exiting")
    # os._exit: a worker thread still blocked in a cancelled stream must not hold up the exit.
    os._exit(0)


if __name__ == "__main__":
    main()
