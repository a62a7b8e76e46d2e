//! The plugin side: [`serve`] turns any Rust implementation of a core `Backend` trait into a
//! go-plugin gRPC plugin binary that robodev, RoboDev's Go controller, or any go-plugin host
//! can launch.
//!
//! ```no_run
//! use std::sync::Arc;
//! use robodev_core::AnyBackend;
//! # struct Jira;
//! # #[async_trait::async_trait]
//! # impl robodev_core::ticketing::Backend for Jira {
//! #   async fn handshake(&self) -> Result<robodev_core::PluginInfo, robodev_core::Error> { todo!() }
//! #   async fn poll_ready_tickets(&self, _: robodev_core::ticketing::PollReadyTicketsRequest) -> Result<robodev_core::ticketing::PollReadyTicketsResponse, robodev_core::Error> { todo!() }
//! #   async fn mark_in_progress(&self, _: robodev_core::ticketing::MarkInProgressRequest) -> Result<robodev_core::Empty, robodev_core::Error> { todo!() }
//! #   async fn mark_complete(&self, _: robodev_core::ticketing::MarkCompleteRequest) -> Result<robodev_core::Empty, robodev_core::Error> { todo!() }
//! #   async fn mark_failed(&self, _: robodev_core::ticketing::MarkFailedRequest) -> Result<robodev_core::Empty, robodev_core::Error> { todo!() }
//! #   async fn add_comment(&self, _: robodev_core::ticketing::AddCommentRequest) -> Result<robodev_core::Empty, robodev_core::Error> { todo!() }
//! # }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), robodev_grpc::ServeError> {
//!     robodev_grpc::serve(AnyBackend::Ticketing(Arc::new(Jira))).await
//! }
//! ```
//!
//! What `serve` does, in go-plugin's order: checks the cookie (`ROBODEV_PLUGIN=robodev`;
//! without it, go-plugin's "This binary is a plugin" message on stderr and exit code 1);
//! logs as hclog JSON lines on stderr; listens on a fresh unix socket (owner-only directory,
//! under `PLUGIN_UNIX_SOCKET_DIR` when set) or on loopback TCP; with `PLUGIN_CLIENT_CERT`
//! set, serves AutoMTLS that accepts only that certificate; registers the interface's
//! service plus health (`plugin` → SERVING), the controller (`Shutdown`), stdio and the
//! broker; prints the handshake line; and from then on sends anything written to stdout to
//! the host through the stdio stream, draining it even when no host listens (go-plugin 1.0's
//! undrained pipes block a chatty plugin). It returns after `Shutdown` or SIGTERM; SIGINT is
//! ignored, as go-plugin plugins do, because a terminal's Ctrl-C goes to the host.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use robodev_core::AnyBackend;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{Notify, broadcast, mpsc};
use tokio_stream::wrappers::{BroadcastStream, ReceiverStream};
use tokio_stream::{Stream, StreamExt};
use tonic::transport::server::Connected;
use tonic::{Request, Response, Status};

use crate::client::{APP_PROTOCOL_VERSION, COOKIE_KEY, COOKIE_VALUE};
use crate::handshake::{self, Address};
use crate::{hclog, pb, services, tls};

/// go-plugin's message for a plugin binary run by hand (without the cookie).
pub const NOT_A_PROGRAM_MESSAGE: &str = "This binary is a plugin. These are not meant to be executed directly.\n\
Please execute the program that consumes these plugins, which will\n\
load any plugins automatically\n";

/// How long a stopping plugin lets in-flight replies (the `Shutdown` reply itself) drain.
const STOP_GRACE: Duration = Duration::from_millis(100);

/// Where the plugin listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Network {
    /// A unix socket (go-plugin's choice everywhere but Windows).
    #[default]
    Unix,
    /// TCP on 127.0.0.1, a port in `PLUGIN_MIN_PORT..=PLUGIN_MAX_PORT`.
    Tcp,
}

/// How [`serve_with`] serves.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The go-plugin app protocol version (RoboDev's is 1).
    pub app_protocol_version: u32,
    /// Unix socket or TCP.
    pub network: Network,
    /// Install the hclog JSON `tracing` subscriber on stderr (unless one is already set), with
    /// this `@module` name. `None` leaves logging to the caller.
    pub log_module: Option<String>,
    /// Send stdout to the host's stdio stream after the handshake (go-plugin does).
    pub capture_stdout: bool,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            app_protocol_version: APP_PROTOCOL_VERSION,
            network: Network::Unix,
            log_module: Some("plugin".to_owned()),
            capture_stdout: true,
        }
    }
}

/// Why a plugin could not serve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// Listening, writing the handshake or redirecting stdout failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// AutoMTLS could not be set up (for instance a malformed `PLUGIN_CLIENT_CERT`).
    #[error("AutoMTLS: {0}")]
    Tls(String),
    /// The gRPC server failed.
    #[error("gRPC server: {0}")]
    Server(#[from] tonic::transport::Error),
}

fn io_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServeError {
    let what = what.into();
    move |source| ServeError::Io { what, source }
}

/// Serves `backend` as a go-plugin plugin with [`ServeOptions::default`]. See the module docs.
pub async fn serve(backend: AnyBackend) -> Result<(), ServeError> {
    serve_with(backend, ServeOptions::default()).await
}

/// Serves `backend` as a go-plugin plugin. Exits the process with code 1 when the cookie is
/// missing, like go-plugin; otherwise returns when the host asks the plugin to stop.
pub async fn serve_with(backend: AnyBackend, options: ServeOptions) -> Result<(), ServeError> {
    if std::env::var(COOKIE_KEY).as_deref() != Ok(COOKIE_VALUE) {
        let _ = std::io::stderr().write_all(NOT_A_PROGRAM_MESSAGE.as_bytes());
        std::process::exit(1);
    }
    if let Some(module) = &options.log_module {
        hclog::init(module);
    }
    let offered = std::env::var("PLUGIN_PROTOCOL_VERSIONS").unwrap_or_default();
    if !offered.is_empty()
        && !offered
            .split(',')
            .any(|v| v.trim().parse::<u32>().ok() == Some(options.app_protocol_version))
    {
        // go-plugin serves its own version anyway and lets the host report the mismatch.
        tracing::warn!(
            offered = %offered,
            serving = options.app_protocol_version,
            "the host offers no app protocol version this plugin serves"
        );
    }

    let tls = match std::env::var("PLUGIN_CLIENT_CERT") {
        Ok(pem) if !pem.is_empty() => {
            let client = tls::cert_from_pem(&pem).map_err(ServeError::Tls)?;
            let identity = tls::Identity::generate().map_err(ServeError::Tls)?;
            let config = tls::server_config(&identity, client).map_err(ServeError::Tls)?;
            Some((identity.cert, Arc::new(config)))
        }
        _ => None,
    };

    let stop = Arc::new(Notify::new());
    let stdio = broadcast::channel::<pb::plugin::StdioData>(256).0;
    let mut routes = tonic::service::RoutesBuilder::default();
    services::add_service(&mut routes, backend);
    routes
        .add_service(pb::health::health_server::HealthServer::new(Health))
        .add_service(
            pb::plugin::grpc_controller_server::GrpcControllerServer::new(Controller(stop.clone())),
        )
        .add_service(pb::plugin::grpc_stdio_server::GrpcStdioServer::new(Stdio(
            stdio.clone(),
        )))
        .add_service(pb::plugin::grpc_broker_server::GrpcBrokerServer::new(
            Broker,
        ));

    let (listener, address, _socket_dir) = listen(options.network)?;
    let incoming = accept(listener, tls.as_ref().map(|(_, c)| c.clone()));
    let line = handshake::format(
        options.app_protocol_version,
        &address,
        tls.as_ref().map(|(cert, _)| cert.as_ref()),
    );
    {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(line.as_bytes())
            .and_then(|()| stdout.flush())
            .map_err(io_error("writing the handshake line"))?;
    }
    if options.capture_stdout {
        capture_stdout(stdio)?;
    }
    tracing::debug!(address = ?address, tls = tls.is_some(), "plugin serving");

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(io_error("installing the SIGTERM handler"))?;
    // Installing a handler is what ignores SIGINT; it is never read.
    let _interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(io_error("installing the SIGINT handler"))?;
    let server = tonic::transport::Server::builder()
        .add_routes(routes.routes())
        .serve_with_incoming(incoming);
    tokio::select! {
        result = server => result?,
        () = stop.notified() => {
            tracing::debug!("plugin stopping: Shutdown requested");
            tokio::time::sleep(STOP_GRACE).await;
        }
        _ = terminate.recv() => tracing::debug!("plugin stopping: SIGTERM"),
    }
    Ok(())
}

enum Listener {
    Unix(tokio::net::UnixListener),
    Tcp(tokio::net::TcpListener),
}

/// Binds the listener; the returned directory (unix) is removed when dropped.
fn listen(network: Network) -> Result<(Listener, Address, Option<tempfile::TempDir>), ServeError> {
    match network {
        Network::Unix => {
            let parent = std::env::var_os("PLUGIN_UNIX_SOCKET_DIR")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(std::env::temp_dir);
            // tempfile creates the directory owner-only (0700): no other local user can
            // connect to the socket.
            let dir = tempfile::Builder::new()
                .prefix("plugin")
                .tempdir_in(&parent)
                .map_err(io_error(format!(
                    "creating a socket directory in {}",
                    parent.display()
                )))?;
            let path = dir.path().join("plugin.sock");
            let listener = tokio::net::UnixListener::bind(&path)
                .map_err(io_error(format!("listening on {}", path.display())))?;
            Ok((Listener::Unix(listener), Address::Unix(path), Some(dir)))
        }
        Network::Tcp => {
            let port = |key: &str, default: u16| {
                std::env::var(key)
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(default)
            };
            let (min, max) = (
                port("PLUGIN_MIN_PORT", 10000),
                port("PLUGIN_MAX_PORT", 25000),
            );
            let mut last = None;
            for p in min..=max {
                let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, p));
                match std::net::TcpListener::bind(addr) {
                    Ok(l) => {
                        l.set_nonblocking(true)
                            .map_err(io_error("configuring the TCP listener"))?;
                        let l = tokio::net::TcpListener::from_std(l)
                            .map_err(io_error("configuring the TCP listener"))?;
                        return Ok((Listener::Tcp(l), Address::Tcp(addr), None));
                    }
                    Err(e) => last = Some(e),
                }
            }
            Err(ServeError::Io {
                what: format!("no free TCP port in {min}..={max}"),
                source: last.unwrap_or_else(|| std::io::Error::other("empty port range")),
            })
        }
    }
}

/// Accepted connections (TLS handshakes run concurrently, so a slow one blocks nobody).
fn accept(
    listener: Listener,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> impl Stream<Item = Result<Conn, std::io::Error>> {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let io: Box<dyn Io> = match &listener {
                Listener::Unix(l) => match l.accept().await {
                    Ok((s, _)) => Box::new(s),
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        continue;
                    }
                },
                Listener::Tcp(l) => match l.accept().await {
                    Ok((s, _)) => {
                        let _ = s.set_nodelay(true);
                        Box::new(s)
                    }
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        continue;
                    }
                },
            };
            let tx = tx.clone();
            match &tls {
                None => {
                    if tx.send(Ok(Conn(io))).await.is_err() {
                        return;
                    }
                }
                Some(config) => {
                    let acceptor = tokio_rustls::TlsAcceptor::from(config.clone());
                    tokio::spawn(async move {
                        match acceptor.accept(io).await {
                            Ok(stream) => {
                                let _ = tx.send(Ok(Conn(Box::new(stream)))).await;
                            }
                            // A connection closed before its first byte is the host checking
                            // who serves the socket (SO_PEERCRED), not a failed handshake.
                            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                                tracing::debug!(
                                    "a connection closed before its TLS handshake: {e}"
                                );
                            }
                            Err(e) => tracing::warn!("TLS handshake with the host failed: {e}"),
                        }
                    });
                }
            }
        }
    });
    ReceiverStream::new(rx)
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// One accepted connection, plain or TLS.
struct Conn(Box<dyn Io>);

impl Connected for Conn {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Points fd 1 at a pipe that a thread drains into the stdio broadcast, in chunks of at most
/// 1 KiB (go-plugin's size). With no subscriber the data is dropped, never blocking.
fn capture_stdout(stdio: broadcast::Sender<pb::plugin::StdioData>) -> Result<(), ServeError> {
    let (read, write) = nix::unistd::pipe().map_err(|e| ServeError::Io {
        what: "creating the stdout pipe".to_owned(),
        source: e.into(),
    })?;
    let _ = std::io::stdout().flush();
    nix::unistd::dup2_stdout(&write).map_err(|e| ServeError::Io {
        what: "redirecting stdout".to_owned(),
        source: e.into(),
    })?;
    drop(write);
    std::thread::Builder::new()
        .name("plugin-stdout".to_owned())
        .spawn(move || {
            let mut read = std::fs::File::from(read);
            let mut buf = [0u8; 1024];
            while let Ok(n) = read.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let _ = stdio.send(pb::plugin::StdioData {
                    channel: pb::plugin::stdio_data::Channel::Stdout as i32,
                    data: buf[..n].to_vec(),
                });
            }
        })
        .map_err(io_error("starting the stdout thread"))?;
    Ok(())
}

/// gRPC health: the plugin's server (service `plugin`, or the whole server `""`) is serving.
struct Health;

fn health_of(service: &str) -> Result<pb::health::HealthCheckResponse, Status> {
    use pb::health::health_check_response::ServingStatus;
    if service.is_empty() || service == "plugin" {
        Ok(pb::health::HealthCheckResponse {
            status: ServingStatus::Serving as i32,
        })
    } else {
        Err(Status::not_found(format!("unknown service {service:?}")))
    }
}

#[tonic::async_trait]
impl pb::health::health_server::Health for Health {
    async fn check(
        &self,
        request: Request<pb::health::HealthCheckRequest>,
    ) -> Result<Response<pb::health::HealthCheckResponse>, Status> {
        health_of(&request.get_ref().service).map(Response::new)
    }

    type WatchStream =
        Pin<Box<dyn Stream<Item = Result<pb::health::HealthCheckResponse, Status>> + Send>>;

    async fn watch(
        &self,
        request: Request<pb::health::HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        use pb::health::health_check_response::ServingStatus;
        let first =
            health_of(&request.get_ref().service).unwrap_or(pb::health::HealthCheckResponse {
                status: ServingStatus::ServiceUnknown as i32,
            });
        // The status never changes while the plugin runs.
        let stream = tokio_stream::once(Ok(first)).chain(tokio_stream::pending());
        Ok(Response::new(Box::pin(stream)))
    }
}

/// go-plugin's controller: `Shutdown` stops the plugin after replying.
struct Controller(Arc<Notify>);

#[tonic::async_trait]
impl pb::plugin::grpc_controller_server::GrpcController for Controller {
    async fn shutdown(
        &self,
        _request: Request<pb::plugin::Empty>,
    ) -> Result<Response<pb::plugin::Empty>, Status> {
        self.0.notify_one();
        Ok(Response::new(pb::plugin::Empty {}))
    }
}

/// go-plugin's stdio stream: what the plugin writes to stdout after the handshake.
struct Stdio(broadcast::Sender<pb::plugin::StdioData>);

#[tonic::async_trait]
impl pb::plugin::grpc_stdio_server::GrpcStdio for Stdio {
    type StreamStdioStream =
        Pin<Box<dyn Stream<Item = Result<pb::plugin::StdioData, Status>> + Send>>;

    async fn stream_stdio(
        &self,
        _request: Request<()>,
    ) -> Result<Response<Self::StreamStdioStream>, Status> {
        // A subscriber that falls behind loses the oldest chunks rather than blocking the
        // plugin.
        let stream = BroadcastStream::new(self.0.subscribe()).filter_map(|r| r.ok().map(Ok));
        Ok(Response::new(Box::pin(stream)))
    }
}

/// go-plugin's broker: Go hosts open its stream right after connecting. robodev's plugins
/// offer no extra connections, so it only keeps the stream open and reads what comes.
struct Broker;

#[tonic::async_trait]
impl pb::plugin::grpc_broker_server::GrpcBroker for Broker {
    type StartStreamStream =
        Pin<Box<dyn Stream<Item = Result<pb::plugin::ConnInfo, Status>> + Send>>;

    async fn start_stream(
        &self,
        request: Request<tonic::Streaming<pb::plugin::ConnInfo>>,
    ) -> Result<Response<Self::StartStreamStream>, Status> {
        let mut inbound = request.into_inner();
        tokio::spawn(async move { while let Ok(Some(_)) = inbound.message().await {} });
        Ok(Response::new(Box::pin(tokio_stream::pending())))
    }
}
