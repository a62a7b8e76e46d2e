//! The admin HTTP API: what an operator (or Prometheus) asks a running robodev.
//!
//! | route | answer |
//! |---|---|
//! | `GET /api/v1/plugins` | every plugin, like `robodev plugins list --json`: `{"plugins": [...]}`; plugins still loading have health `loading` |
//! | `POST /api/v1/plugins/{name}/toggle` | switches the plugin off (or on again); answers its new state |
//! | `POST /api/v1/plugins/{name}/reload` | loads the plugin again from the config beside the running version and swaps it in (409 with the reason when the load fails: the old version keeps serving) |
//! | `POST /api/v1/plugins/{name}/rollback` | swaps back to the version the last reload replaced (409 when there is none) |
//! | `GET /metrics` | the Prometheus text of [`Metrics`] |
//! | `GET /healthz` | liveness: `{"status":"ok"}` while robodev serves requests |
//! | `GET /readyz` | readiness: 200 `{"status":"ready"}`, or 503 with the reasons (plugins still loading, the [`Readiness`] conditions: the loop not wired yet, the lease's state not known) |
//!
//! **Auth.** Every `/api/v1/` route needs `Authorization: Bearer <token>`; the token is
//! compared in constant time. A request without one gets 401 with
//! `WWW-Authenticate: Bearer realm="robodev"`, a wrong one 401 with `error="invalid_token"`.
//! A client (an IPv4 address, an IPv6 /64) that sent [`AUTH_FAILURE_LIMIT`] wrong tokens
//! within [`AUTH_FAILURE_WINDOW`] gets 429 with `Retry-After` on every `/api/v1/` request
//! until that window ends, without its token being looked at; other clients are not affected.
//! Wrong tokens are logged as warnings naming the client, never the token: a client's first
//! at once, then a count every [`AUTH_LOG_INTERVAL`] (and when the server stops).
//! `/metrics`, `/healthz` and `/readyz` need no token (Prometheus and the kubelet's probes
//! call them): they show plugin names, versions, call counts and readiness, nothing secret,
//! and change nothing. Listen on loopback (the
//! config's default) unless the network in front of robodev is trusted.
//!
//! **Names.** A plugin is named as in the config. Two built-ins of different interfaces can
//! share a name (ticketing `local` and engine `local`): then `?interface=engine` says which;
//! without it such a name answers 409. A plugin that is still loading answers 503.
//!
//! **Errors** are JSON, `{"error": "..."}`: 404 for an unknown path or plugin, 405 (with
//! `Allow`) for a wrong method (HEAD included: no route answers it), 408 for a body that does
//! not arrive within [`BODY_READ_TIMEOUT`], 413 for a body over [`MAX_BODY_BYTES`] (on any
//! path, before the token is looked at), 429 as above. Request heads are bounded too
//! ([`MAX_HEAD_BYTES`], [`HEAD_READ_TIMEOUT`]).
//!
//! **Who does what.**
//! - axum's `Router` matches paths and methods, and runs the token check as a middleware on
//!   the `/api/v1` paths only (unknown ones included, so 401 comes before 404 and 405).
//! - By hand, the accept loop and the connection manager (the `connections` module): axum's
//!   own `serve` has no per-client caps, no closing of idle connections to make room.
//! - By hand, the wrong-token throttle (the `throttle` module): it counts failed tokens per
//!   client; tower's rate limits count all requests, of all clients together.
//! - By hand, the 405 answers: axum's have no body (ours are JSON like every error), and axum
//!   answers HEAD with a GET route.
//! - By hand, a plugin's name is read from the path as sent: axum's `Path` percent-decodes it,
//!   and refuses one that is not UTF-8 once decoded.
//!
//! **Connections** are bounded so that no client, idle or slow, can keep the API or
//! `/metrics` from answering:
//!
//! | bound | default | when reached |
//! |---|---|---|
//! | connections of one client | [`MAX_CONNECTIONS_PER_CLIENT`] | the client's own longest idle connection is closed to make room |
//! | connections in all | [`MAX_CONNECTIONS`] | an idle connection of the client holding the most is closed to make room |
//! | silence (no request being sent or answered) | [`IDLE_TIMEOUT`] | the connection is closed |
//! | a request head, from the connection's start or its previous answer | [`HEAD_READ_TIMEOUT`] | the connection is closed |
//!
//! So a new connection never waits for a slot: room is made by closing an idle connection
//! (one receiving a request head only when none is idle), never one whose request is being
//! answered; only when every candidate is answering is the new connection closed at once. A
//! client (say a loopback Prometheus) that holds many idle connections thus only ever closes
//! its own. Behind a proxy every request comes from the proxy's address: it is then one client.
//!
//! ```no_run
//! # async fn run(registry: robodev_registry::Registry) -> std::io::Result<()> {
//! use std::sync::Arc;
//! use robodev_registry::admin::{self, AdminState};
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9464").await?;
//! let registry = Arc::new(registry);
//! let state = AdminState {
//!     metrics: registry.metrics().clone(),
//!     plugins: registry,
//!     token: "from the secrets backend".into(),
//!     // Without a reloader, reload and rollback answer 501.
//!     reloader: None,
//!     readiness: admin::Readiness::new(),
//! };
//! admin::serve(listener, state, async { let _ = tokio::signal::ctrl_c().await; }).await;
//! # Ok(()) }
//! ```

mod connections;
mod throttle;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, Request, State};
use axum::handler::Handler;
use axum::http::header::{self, HeaderValue};
use axum::http::{StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{MethodRouter, any, get, post};
use http_body_util::{BodyExt, Limited};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use robodev_core::Interface;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt;

use crate::calls::Switches;
use crate::metrics::{self, Metrics};
use crate::registry::{Entry, LoadFailure, Loading, Registry};

use self::connections::{Client, Connection, Connections, Heard, Slot};
use self::throttle::Throttle;

/// The largest request body accepted (no route takes one; a client may still send one).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// The largest request head (request line and headers) accepted; hyper's smallest setting.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// How long a client has to send a complete request head, counted from the connection's start
/// or its previous answer (hyper's header read timeout). A client that sends nothing at all
/// is closed sooner, after [`IDLE_TIMEOUT`].
pub const HEAD_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request's body (at most [`MAX_BODY_BYTES`]) may take to arrive: without it a
/// client trickling a body would hold its connection as "answering", which is never closed to
/// make room.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may stay silent (no request being sent or answered) before it is
/// closed: long enough for a client to reuse it for its next request right away, short
/// enough that idle keep-alive connections do not sit on slots. Shorter than
/// [`HEAD_READ_TIMEOUT`], which bounds clients that do send, slowly.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections open at once; at the bound an idle one is closed to make room (see the module
/// docs).
pub const MAX_CONNECTIONS: usize = 64;
/// Connections one client (an IPv4 address, an IPv6 /64) may have open at once; at the bound
/// its own longest idle connection is closed to make room. A quarter of [`MAX_CONNECTIONS`],
/// so that one client never takes every slot.
pub const MAX_CONNECTIONS_PER_CLIENT: usize = 16;
/// How long a connection closed to make room (or for being idle) gets to finish writing an
/// answer already on its way before it is dropped.
pub const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// Wrong bearer tokens a client may send within [`AUTH_FAILURE_WINDOW`]; then it gets 429
/// until the window ends. Enough for an operator's typos, far too few to guess a token.
pub const AUTH_FAILURE_LIMIT: u32 = 10;
/// The window of [`AUTH_FAILURE_LIMIT`]; it begins with a client's first wrong token.
pub const AUTH_FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// How often the wrong tokens not logged one by one are summarised in the log.
pub const AUTH_LOG_INTERVAL: Duration = Duration::from_secs(60);
/// Clients whose wrong tokens are counted one by one; beyond, they are counted (and refused)
/// together, so that a spray of addresses cannot grow the table without bound.
pub const MAX_TRACKED_CLIENTS: usize = 4096;
/// How long open connections get to finish their requests once shutdown begins.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How long to wait before accepting again after `accept` failed (e.g. out of descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What the 501 of `reload` and `rollback` says when the server has no reloader.
pub const NOT_AVAILABLE: &str = "hot reload is not available yet: robodev cannot reload or roll back a plugin while it runs; change robodev-config.yaml and restart robodev";

/// The bounds [`serve_with`] enforces. [`Limits::default`] is the documented constants, what
/// [`serve`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// [`MAX_CONNECTIONS`].
    pub max_connections: usize,
    /// [`MAX_CONNECTIONS_PER_CLIENT`].
    pub max_connections_per_client: usize,
    /// [`IDLE_TIMEOUT`].
    pub idle_timeout: Duration,
    /// [`HEAD_READ_TIMEOUT`].
    pub head_read_timeout: Duration,
    /// [`BODY_READ_TIMEOUT`].
    pub body_read_timeout: Duration,
    /// [`AUTH_FAILURE_LIMIT`].
    pub auth_failure_limit: u32,
    /// [`AUTH_FAILURE_WINDOW`].
    pub auth_failure_window: Duration,
    /// [`AUTH_LOG_INTERVAL`].
    pub auth_log_interval: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: MAX_CONNECTIONS,
            max_connections_per_client: MAX_CONNECTIONS_PER_CLIENT,
            idle_timeout: IDLE_TIMEOUT,
            head_read_timeout: HEAD_READ_TIMEOUT,
            body_read_timeout: BODY_READ_TIMEOUT,
            auth_failure_limit: AUTH_FAILURE_LIMIT,
            auth_failure_window: AUTH_FAILURE_WINDOW,
            auth_log_interval: AUTH_LOG_INTERVAL,
        }
    }
}

/// The plugins the admin API shows and switches, at one moment.
#[derive(Debug, Clone, Default)]
pub struct PluginsView {
    /// The loaded plugins.
    pub entries: Vec<Arc<Entry>>,
    /// The plugins still loading.
    pub loading: Vec<Loading>,
    /// The plugins that did not load.
    pub failures: Vec<LoadFailure>,
    /// The operator's switches, shared with the metering layer.
    pub switches: Switches,
}

impl PluginsView {
    /// The plugins of `registry`, with `switches`.
    pub fn of(registry: &Registry, switches: Switches) -> PluginsView {
        let (entries, loading, failures) = registry.snapshot();
        PluginsView {
            entries,
            loading,
            failures,
            switches,
        }
    }
}

impl PluginCatalog for crate::registry::Registry {
    fn view(&self) -> PluginsView {
        PluginsView::of(self, self.switches().clone())
    }
}

/// Where the admin API reads the current plugins from on each request, so that whoever owns
/// them can replace them while the server runs. A [`PluginsView`] is a fixed one.
pub trait PluginCatalog: Send + Sync {
    /// The plugins now.
    fn view(&self) -> PluginsView;
}

impl PluginCatalog for PluginsView {
    fn view(&self) -> PluginsView {
        self.clone()
    }
}

/// Everything the admin API serves.
#[derive(Clone)]
pub struct AdminState {
    /// The plugins and their switches.
    pub plugins: Arc<dyn PluginCatalog>,
    /// The call metrics `/metrics` renders.
    pub metrics: Arc<Metrics>,
    /// The bearer token `/api/v1/` routes require. An empty token lets nobody in.
    pub token: String,
    /// What `reload` and `rollback` use; without one they answer 501.
    pub reloader: Option<Arc<crate::reload::Reloader>>,
    /// What `/readyz` checks besides the plugins.
    pub readiness: Arc<Readiness>,
}

/// What `/readyz` answers: ready once no plugin is still loading and every condition set here
/// holds (the daemon sets its own: the loop wired, the lease's state known).
#[derive(Debug, Default)]
pub struct Readiness {
    /// Condition name -> `None` when it holds, else why not.
    conditions: std::sync::Mutex<BTreeMap<String, Option<String>>>,
}

impl Readiness {
    /// No conditions yet.
    pub fn new() -> Arc<Readiness> {
        Arc::new(Readiness::default())
    }

    /// Records whether condition `name` holds (`Err`: why not).
    pub fn set(&self, name: &str, state: Result<(), String>) {
        let mut conditions = self
            .conditions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        conditions.insert(name.to_owned(), state.err());
    }

    /// Why robodev is not ready, if it is not.
    pub fn reasons(&self, view: &PluginsView) -> Vec<String> {
        let mut reasons: Vec<String> = self
            .conditions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter_map(|(name, why)| why.as_ref().map(|w| format!("{name}: {w}")))
            .collect();
        if !view.loading.is_empty() {
            let names: Vec<&str> = view.loading.iter().map(|l| l.name.as_str()).collect();
            reasons.push(format!("plugins still loading: {}", names.join(", ")));
        }
        reasons
    }
}

impl std::fmt::Debug for AdminState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("AdminState").finish_non_exhaustive()
    }
}

/// Serves the admin API on `listener` until `shutdown` completes, then lets open connections
/// finish their requests for up to [`SHUTDOWN_GRACE`] and returns. The bounds are the
/// documented constants ([`Limits::default`]).
pub async fn serve(
    listener: TcpListener,
    state: AdminState,
    shutdown: impl Future<Output = ()> + Send,
) {
    serve_with(listener, state, Limits::default(), shutdown).await;
}

/// What every connection of one server shares.
struct Server {
    state: AdminState,
    limits: Limits,
    connections: Arc<Mutex<Connections>>,
    throttle: Mutex<Throttle>,
    /// Connections closed at once since the last summary: every candidate slot was answering.
    refused: AtomicU64,
}

impl Server {
    /// Logs what was counted since the last summary.
    fn summarise(&self) {
        self.throttle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .summarise(Instant::now());
        let refused = self.refused.swap(0, Ordering::SeqCst);
        if refused > 0 {
            tracing::warn!(
                "admin API: {refused} connection(s) closed at once in the last {:?}: every slot \
                 they could take was answering a request",
                self.limits.auth_log_interval
            );
        }
    }
}

/// [`serve`] with other bounds.
pub async fn serve_with(
    listener: TcpListener,
    state: AdminState,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) {
    if state.token.is_empty() {
        tracing::warn!("the admin API's token is empty: every /api/v1/ request will be refused");
    }
    let server = Arc::new(Server {
        state,
        limits,
        connections: Arc::new(Mutex::new(Connections::default())),
        throttle: Mutex::new(Throttle::new(
            limits.auth_failure_limit,
            limits.auth_failure_window,
            limits.auth_log_interval,
        )),
        refused: AtomicU64::new(0),
    });
    let routes = router(server.clone());
    let (stop, stopped) = watch::channel(false);
    let mut connections = JoinSet::new();
    let every = limits.auth_log_interval.max(Duration::from_millis(1));
    let mut summaries = tokio::time::interval_at(Instant::now() + every, every);
    summaries.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        // Accepting never waits for a slot: room is made (or the connection closed) at once,
        // so the listen queue never fills behind idle clients.
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            _ = summaries.tick() => {
                server.summarise();
                continue;
            }
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("admin API: cannot accept a connection: {e}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        // Reap finished connections so the set stays as small as the open ones.
        while connections.try_join_next().is_some() {}
        let admitted = server
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .admit(
                Client::of(peer.ip()),
                limits.max_connections_per_client,
                limits.max_connections,
            );
        match admitted {
            Ok(connection) => {
                connections.spawn(serve_connection(
                    server.clone(),
                    routes.clone(),
                    stream,
                    peer,
                    connection,
                    stopped.clone(),
                ));
            }
            Err(refused) => {
                tracing::debug!(%peer, "admin API: connection closed at once: {refused}");
                server.refused.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        }
    }
    let _ = stop.send(true);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            "admin API: closing {} connection(s) still open after the shutdown grace period",
            connections.len()
        );
        connections.shutdown().await;
    }
    server.summarise();
}

/// How a connection's service loop ended.
enum End {
    /// hyper finished the connection.
    Done(hyper::Result<()>),
    /// The server closes it: once its answer in progress (if any) is written, within `grace`
    /// (`None`: the shutdown grace, enforced by `serve_with`).
    Close(Option<Duration>),
}

/// Serves one connection until it ends, it has been idle for the idle timeout, it is closed
/// to make room, or the server stops.
async fn serve_connection(
    server: Arc<Server>,
    routes: Router,
    stream: TcpStream,
    peer: SocketAddr,
    connection: Arc<Connection>,
    mut stopped: watch::Receiver<bool>,
) {
    let _slot = Slot::new(server.connections.clone(), &connection);
    let limits = server.limits;
    let service = {
        let connection = connection.clone();
        service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            // Taken as soon as hyper has the request head: from then on this connection is
            // answering, and is not closed to make room.
            let answering = connection.answering();
            request.extensions_mut().insert(Peer(peer));
            let answer = routes.clone().oneshot(request);
            async move {
                let answer = answer.await;
                drop(answering);
                answer
            }
        })
    };
    let http = http1::Builder::new()
        // A client may shut down its sending side once its request is out (`nc -N`, scripts):
        // without this, hyper takes that end-of-stream for the client going away and drops the
        // request it has just read, answering nothing.
        .half_close(true)
        .timer(TokioTimer::new())
        .header_read_timeout(limits.head_read_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .serve_connection(
            TokioIo::new(Heard::new(stream, connection.clone())),
            service,
        );
    tokio::pin!(http);
    let end = loop {
        // While the connection is answering or receiving, look again after a full timeout:
        // it cannot have been idle for longer by then.
        let wake = connection
            .idle_deadline(limits.idle_timeout)
            .unwrap_or_else(|| Instant::now() + limits.idle_timeout);
        tokio::select! {
            result = http.as_mut() => break End::Done(result),
            // Only `serve_with` sends, once, when shutdown begins.
            _ = stopped.changed() => break End::Close(None),
            () = connection.evicted() => {
                tracing::debug!(%peer, "admin API: closing an idle connection to make room");
                break End::Close(Some(CLOSE_GRACE));
            }
            () = tokio::time::sleep_until(wake) => {
                if connection
                    .idle_deadline(limits.idle_timeout)
                    .is_some_and(|deadline| deadline <= Instant::now())
                {
                    tracing::debug!(%peer, "admin API: closing a connection idle for {:?}", limits.idle_timeout);
                    break End::Close(Some(CLOSE_GRACE));
                }
            }
        }
    };
    let result = match end {
        End::Done(result) => result,
        End::Close(grace) => {
            // An idle connection closes at once; one writing an answer finishes it first.
            http.as_mut().graceful_shutdown();
            match grace {
                None => http.await,
                Some(grace) => tokio::time::timeout(grace, http).await.unwrap_or(Ok(())),
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, "admin API connection ended: {e}");
    }
}

/// One route's answer.
type Answer = Response;

/// An answer that ends a request early (an error), boxed to keep `Result`s small.
type Refusal = Box<Answer>;

/// The peer of a request's connection, put in its extensions for the token check.
#[derive(Debug, Clone, Copy)]
struct Peer(SocketAddr);

/// The admin API's routes, over the state every connection of `server` shares.
fn router(server: Arc<Server>) -> Router {
    // Every path under /api/v1, the ones no route takes included, is behind the token: a
    // caller without it learns nothing, not even which routes exist.
    let api = Router::new()
        .route("/api/v1/plugins", get_only(list))
        .route("/api/v1/plugins/{name}/toggle", post_only(toggle))
        .route("/api/v1/plugins/{name}/reload", post_only(reload))
        .route("/api/v1/plugins/{name}/rollback", post_only(rollback))
        .route("/api/v1", any(no_route))
        // A catch-all matches at least one character: `/api/v1/` is a route of its own.
        .route("/api/v1/", any(no_route))
        .route("/api/v1/{*rest}", any(no_route))
        .layer(middleware::from_fn_with_state(
            server.clone(),
            require_token,
        ));
    Router::new()
        .route("/metrics", get_only(render_metrics))
        .route("/healthz", get_only(healthz))
        .route("/readyz", get_only(readyz))
        .merge(api)
        .fallback(no_route)
        // On every path, before the token: see `read_body`.
        .layer(middleware::from_fn_with_state(server.clone(), read_body))
        .with_state(server)
}

/// `handler` for GET, and 405 for every other method, HEAD too (axum would answer HEAD with
/// the GET handler).
fn get_only<H, T>(handler: H) -> MethodRouter<Arc<Server>>
where
    H: Handler<T, Arc<Server>>,
    T: 'static,
{
    get(handler)
        .head(|| async { not_allowed("GET") })
        .fallback(|| async { not_allowed("GET") })
}

/// `handler` for POST, and 405 for every other method.
fn post_only<H, T>(handler: H) -> MethodRouter<Arc<Server>>
where
    H: Handler<T, Arc<Server>>,
    T: 'static,
{
    post(handler).fallback(|| async { not_allowed("POST") })
}

/// No route takes a body, but one is read (bounded) before answering, so that a client
/// sending a small one gets a clean answer rather than a reset connection; a body declared
/// too large is refused before a byte of it is read.
async fn read_body(State(server): State<Arc<Server>>, request: Request, next: Next) -> Answer {
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
        )
    };
    let (parts, body) = request.into_parts();
    let declared = hyper::body::Body::size_hint(&body).lower();
    if usize::try_from(declared).map_or(true, |n| n > MAX_BODY_BYTES) {
        return too_large();
    }
    let limited = Limited::new(body, MAX_BODY_BYTES);
    let timeout = server.limits.body_read_timeout;
    match tokio::time::timeout(timeout, limited.collect()).await {
        Ok(Ok(body)) => {
            next.run(Request::from_parts(parts, Body::from(body.to_bytes())))
                .await
        }
        Ok(Err(_)) => too_large(),
        Err(_) => error(
            StatusCode::REQUEST_TIMEOUT,
            &format!("the request body did not arrive within {timeout:?}"),
        ),
    }
}

/// The token check of the `/api/v1` routes. A client that guessed wrong too often is refused
/// before its token is looked at: it learns nothing more until its window ends.
async fn require_token(
    State(server): State<Arc<Server>>,
    Extension(Peer(peer)): Extension<Peer>,
    request: Request,
    next: Next,
) -> Answer {
    let client = Client::of(peer.ip());
    let locked = server
        .throttle
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .refused(client, Instant::now());
    if let Some(wait) = locked {
        return too_many_wrong_tokens(wait);
    }
    let authorization = request.headers().get(header::AUTHORIZATION);
    if let Err(answer) = authenticate(&server.state.token, authorization) {
        // A request without a token is no guess; one with a wrong token (or scheme) is.
        if authorization.is_some() {
            server
                .throttle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .wrong_token(client, Instant::now());
        }
        return *answer;
    }
    next.run(request).await
}

async fn no_route(uri: Uri) -> Answer {
    error(StatusCode::NOT_FOUND, &format!("no route {}", uri.path()))
}

async fn render_metrics(State(server): State<Arc<Server>>) -> Answer {
    let state = &server.state;
    let view = state.plugins.view();
    let plugins: Vec<_> = view.entries.iter().map(|e| e.sample()).collect();
    let failures: Vec<_> = view.failures.iter().map(LoadFailure::sample).collect();
    let text = state.metrics.render(&plugins, &failures, &view.switches);
    respond(StatusCode::OK, metrics::CONTENT_TYPE, text)
}

/// Liveness: the process serves requests.
async fn healthz() -> Answer {
    json_answer(StatusCode::OK, json!({ "status": "ok" }))
}

/// Readiness: 200 when ready, 503 with the reasons otherwise.
async fn readyz(State(server): State<Arc<Server>>) -> Answer {
    let state = &server.state;
    let reasons = state.readiness.reasons(&state.plugins.view());
    if reasons.is_empty() {
        json_answer(StatusCode::OK, json!({ "status": "ready" }))
    } else {
        json_answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "status": "not ready", "reasons": reasons }),
        )
    }
}

async fn list(State(server): State<Arc<Server>>) -> Answer {
    json_answer(StatusCode::OK, list_json(&server.state.plugins.view()))
}

/// What a `POST /api/v1/plugins/{name}/ACTION` asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Toggle,
    Reload,
    Rollback,
}

async fn toggle(State(server): State<Arc<Server>>, uri: Uri) -> Answer {
    act(&server.state, &uri, Action::Toggle).await
}

async fn reload(State(server): State<Arc<Server>>, uri: Uri) -> Answer {
    act(&server.state, &uri, Action::Reload).await
}

async fn rollback(State(server): State<Arc<Server>>, uri: Uri) -> Answer {
    act(&server.state, &uri, Action::Rollback).await
}

/// The `{name}` of `/api/v1/plugins/{name}/ACTION`, as sent: not percent-decoded (axum's
/// `Path` would decode it, and refuse one that is not UTF-8 once decoded).
fn plugin_name(uri: &Uri) -> &str {
    // The route matched, so the name is the segment before the action (possibly empty).
    uri.path().rsplit('/').nth(1).unwrap_or_default()
}

async fn act(state: &AdminState, uri: &Uri, action: Action) -> Answer {
    let view = state.plugins.view();
    let entry = match find(&view, plugin_name(uri), uri.query().unwrap_or_default()) {
        Ok(entry) => entry,
        Err(answer) => return *answer,
    };
    let swapped = match (action, &state.reloader) {
        (Action::Toggle, _) => return toggle_switch(&view, entry),
        (_, None) => return error(StatusCode::NOT_IMPLEMENTED, NOT_AVAILABLE),
        (Action::Reload, Some(reloader)) => {
            reloader.reload(Some(entry.interface), &entry.name).await
        }
        (Action::Rollback, Some(reloader)) => reloader.rollback(entry.interface, &entry.name).await,
    };
    match swapped {
        Ok(s) => json_answer(
            StatusCode::OK,
            json!({
                "name": s.plugin,
                "interface": s.interface.name(),
                "from": s.from,
                "to": s.to,
            }),
        ),
        // The old version keeps serving; the reason is the load's error.
        Err(e) => json_answer(
            StatusCode::CONFLICT,
            json!({ "error": e.to_string(), "detail": e.to_json() }),
        ),
    }
}

/// Checks the bearer token: `Err` is the 401 to answer.
fn authenticate(token: &str, authorization: Option<&HeaderValue>) -> Result<(), Refusal> {
    let Some(value) = authorization else {
        let mut answer = error(
            StatusCode::UNAUTHORIZED,
            "this route needs an Authorization: Bearer <token> header",
        );
        answer.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"robodev\""),
        );
        return Err(Box::new(answer));
    };
    let given = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    match given {
        Some(given) if !token.is_empty() && same_secret(given, token) => Ok(()),
        _ => {
            let mut answer = error(StatusCode::UNAUTHORIZED, "invalid bearer token");
            answer.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"robodev\", error=\"invalid_token\""),
            );
            Err(Box::new(answer))
        }
    }
}

/// The 429 of a client that sent too many wrong tokens: `Retry-After` is when its window ends.
fn too_many_wrong_tokens(wait: Duration) -> Answer {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let mut answer = error(
        StatusCode::TOO_MANY_REQUESTS,
        &format!(
            "too many requests with a wrong bearer token from this address; retry in {seconds} s"
        ),
    );
    answer
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    answer
}

/// Compares two secrets in time independent of where they differ and of their lengths:
/// both are hashed to 32 bytes, and the digests compared without an early exit.
fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The entry `name` (of `?interface=` when given), or the answer saying why there is none.
fn find<'a>(view: &'a PluginsView, name: &str, query: &str) -> Result<&'a Arc<Entry>, Refusal> {
    let interface = match query_value(query, "interface") {
        Some(i) => match i.parse::<Interface>() {
            Ok(i) => Some(i),
            Err(_) => {
                let names = Interface::ALL.map(Interface::name);
                return Err(Box::new(error(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "unknown interface {i:?}; expected one of: {}",
                        names.join(", ")
                    ),
                )));
            }
        },
        None => None,
    };
    let matching: Vec<&Arc<Entry>> = view
        .entries
        .iter()
        .filter(|e| e.name == name && interface.is_none_or(|i| e.interface == i))
        .collect();
    match matching.as_slice() {
        [entry] => Ok(entry),
        [] if view
            .loading
            .iter()
            .any(|l| l.name == name && interface.is_none_or(|i| l.interface == i)) =>
        {
            Err(Box::new(error(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("plugin {name:?} is still loading; see GET /api/v1/plugins"),
            )))
        }
        [] => {
            let mut message = format!("no loaded plugin named {name:?}");
            if let Some(i) = interface {
                message.push_str(&format!(" of interface {i}"));
            }
            if view.failures.iter().any(|f| f.name == name) {
                message.push_str(" (it did not load; see GET /api/v1/plugins)");
            }
            Err(Box::new(error(StatusCode::NOT_FOUND, &message)))
        }
        several => {
            let interfaces: Vec<&str> = several.iter().map(|e| e.interface.name()).collect();
            Err(Box::new(error(
                StatusCode::CONFLICT,
                &format!(
                    "{name:?} names plugins of several interfaces ({}); add ?interface=NAME",
                    interfaces.join(", ")
                ),
            )))
        }
    }
}

/// The value of `key` in a query string (`a=1&b=2`); values here are plain names, so no
/// percent-decoding is needed (an encoded one simply matches nothing).
fn query_value<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

fn toggle_switch(view: &PluginsView, entry: &Entry) -> Answer {
    let Some(switch) = view.switches.get(entry.interface, &entry.name) else {
        return error(
            StatusCode::CONFLICT,
            &format!(
                "{} plugin {:?} has no off switch (its calls are not metered)",
                entry.interface, entry.name
            ),
        );
    };
    let enabled = switch.toggle();
    tracing::warn!(
        plugin = %entry.name,
        interface = entry.interface.name(),
        "plugin {} by an operator (admin API)",
        if enabled { "enabled" } else { "disabled" }
    );
    json_answer(
        StatusCode::OK,
        json!({
            "name": entry.name,
            "interface": entry.interface.name(),
            "enabled": enabled,
        }),
    )
}

/// `{"plugins": [...]}`: the rows of `robodev plugins list --json`, plus `enabled`.
fn list_json(view: &PluginsView) -> Value {
    let mut rows = Vec::new();
    for entry in &view.entries {
        let mut row = entry.to_json();
        row["enabled"] = view
            .switches
            .is_enabled(entry.interface, &entry.name)
            .into();
        rows.push(row);
    }
    rows.extend(view.loading.iter().map(Loading::to_json));
    rows.extend(view.failures.iter().map(LoadFailure::to_json));
    json!({ "plugins": rows })
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Answer {
    let mut answer = Response::new(Body::from(body));
    *answer.status_mut() = status;
    answer
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    answer
}

fn json_answer(status: StatusCode, value: Value) -> Answer {
    let mut body = value.to_string();
    body.push('\n');
    respond(status, "application/json", body)
}

fn error(status: StatusCode, message: &str) -> Answer {
    json_answer(status, json!({ "error": message }))
}

fn not_allowed(allow: &'static str) -> Answer {
    let mut answer = error(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("this route takes {allow} only"),
    );
    answer
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_by_value() {
        assert!(same_secret("s3cret", "s3cret"));
        assert!(!same_secret("s3cret", "s3creT"));
        assert!(!same_secret("s3cret", "s3cret-and-more"));
        assert!(!same_secret("", "s3cret"));
    }

    #[test]
    fn bearer_tokens_are_parsed_strictly() {
        let header = |v: &str| HeaderValue::from_str(v).ok();
        assert!(authenticate("t0ken", header("Bearer t0ken").as_ref()).is_ok());
        assert!(authenticate("t0ken", header("bearer t0ken").as_ref()).is_ok());
        assert!(authenticate("t0ken", header("Basic t0ken").as_ref()).is_err());
        assert!(authenticate("t0ken", header("Bearer").as_ref()).is_err());
        assert!(authenticate("t0ken", header("t0ken").as_ref()).is_err());
        // An empty configured token lets nobody in, not even an empty bearer.
        assert!(authenticate("", header("Bearer ").as_ref()).is_err());
        let missing = authenticate("t0ken", None).err();
        assert_eq!(
            missing
                .as_ref()
                .and_then(|a| a.headers().get(header::WWW_AUTHENTICATE)),
            Some(&HeaderValue::from_static("Bearer realm=\"robodev\""))
        );
    }

    #[test]
    fn query_values() {
        assert_eq!(query_value("interface=engine", "interface"), Some("engine"));
        assert_eq!(query_value("a=1&interface=scm", "interface"), Some("scm"));
        assert_eq!(query_value("", "interface"), None);
        assert_eq!(query_value("interface", "interface"), None);
    }
}

/// A running admin API (see [`start`]).
#[derive(Debug)]
pub struct AdminHandle {
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl AdminHandle {
    /// Stops the server (open requests get their grace period).
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Why the admin API did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The token could not be read from the secrets backend.
    #[error("admin.token_secret: cannot read secret {key:?}: {source}")]
    Token {
        /// `token_secret`.
        key: String,
        /// Why.
        #[source]
        source: robodev_core::Error,
    },
    /// The configured secrets backend is not available as one.
    #[error("admin.token_secret: {0}")]
    SecretsBackend(#[source] robodev_core::Error),
    /// The listen address could not be bound.
    #[error("admin.listen: cannot listen on {addr}: {source}")]
    Listen {
        /// `listen`.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Starts the admin API of `config.admin` over `registry`: its token is read from the
/// configured secrets backend under `token_secret` (once that backend has loaded, when
/// `registry` is still loading). `Ok(None)` when no admin API is configured.
pub async fn start(
    config: &crate::spec::HostConfig,
    registry: &Arc<crate::registry::Registry>,
    reloader: Arc<crate::reload::Reloader>,
    readiness: Arc<Readiness>,
) -> Result<Option<AdminHandle>, StartError> {
    let Some(settings) = &config.admin else {
        return Ok(None);
    };
    // The token is in the secrets backend: only that backend is waited for, not the other
    // plugins (which may be slow to load: the API shows them as loading).
    let secrets = config.secrets.name();
    if registry.is_loading(Interface::Secrets, secrets) {
        tracing::info!(
            "admin API: waiting for the secrets backend {secrets:?} to load (it holds the admin token)"
        );
        registry
            .wait_until(|r| !r.is_loading(Interface::Secrets, secrets))
            .await;
    }
    let token = match registry.resolve(&config.secrets) {
        Ok(robodev_core::AnyBackend::Secrets(secrets)) => secrets
            .get_secret(robodev_core::secrets::GetSecretRequest {
                key: settings.token_secret.clone(),
            })
            .await
            .map(|r| r.value)
            .map_err(|source| StartError::Token {
                key: settings.token_secret.clone(),
                source,
            })?,
        Ok(other) => {
            // Validation makes this impossible; said plainly if it ever happens.
            return Err(StartError::SecretsBackend(robodev_core::Error::Load {
                plugin: secrets.to_owned(),
                message: format!("it serves {}, not secrets", other.interface()),
                source: None,
            }));
        }
        Err(e) => return Err(StartError::SecretsBackend(e)),
    };
    let listen = |source| StartError::Listen {
        addr: settings.listen,
        source,
    };
    let listener = TcpListener::bind(settings.listen).await.map_err(listen)?;
    let addr = listener.local_addr().map_err(listen)?;
    let state = AdminState {
        plugins: registry.clone(),
        metrics: registry.metrics().clone(),
        token,
        reloader: Some(reloader),
        readiness,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, state, async move {
        let _ = stopped.await;
    }));
    tracing::info!("admin API on http://{addr} (/api/v1/plugins, /metrics)");
    Ok(Some(AdminHandle { addr, stop, task }))
}
