//! The admin HTTP API: what an operator (or Prometheus) asks a running robodev.
//!
//! | route | answer |
//! |---|---|
//! | `GET /api/v1/plugins` | every plugin, like `robodev plugins list --json`: `{"plugins": [...]}` |
//! | `POST /api/v1/plugins/{name}/toggle` | switches the plugin off (or on again); answers its new state |
//! | `POST /api/v1/plugins/{name}/reload` | loads the plugin again from the config beside the running version and swaps it in (409 with the reason when the load fails: the old version keeps serving) |
//! | `POST /api/v1/plugins/{name}/rollback` | swaps back to the version the last reload replaced (409 when there is none) |
//! | `GET /metrics` | the Prometheus text of [`Metrics`] |
//!
//! **Auth.** Every `/api/v1/` route needs `Authorization: Bearer <token>`; the token is
//! compared in constant time. A request without one gets 401 with
//! `WWW-Authenticate: Bearer realm="robodev"`, a wrong one 401 with `error="invalid_token"`.
//! `/metrics` needs no token, so that Prometheus can scrape it: it shows plugin names,
//! versions and call counts, nothing secret, and changes nothing. Listen on loopback (the
//! config's default) unless the network in front of robodev is trusted.
//!
//! **Names.** A plugin is named as in the config. Two built-ins of different interfaces can
//! share a name (ticketing `local` and engine `local`): then `?interface=engine` says which;
//! without it such a name answers 409.
//!
//! **Errors** are JSON, `{"error": "..."}`: 404 for an unknown path or plugin, 405 (with
//! `Allow`) for a wrong method, 413 for a body over [`MAX_BODY_BYTES`]. Request heads are
//! bounded too ([`MAX_HEAD_BYTES`], [`HEAD_READ_TIMEOUT`]).
//!
//! ```no_run
//! # async fn run(registry: robodev_controller::registry::Registry) -> std::io::Result<()> {
//! use std::sync::Arc;
//! use robodev_controller::admin::{self, AdminState};
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9464").await?;
//! let registry = Arc::new(registry);
//! let state = AdminState {
//!     metrics: registry.metrics().clone(),
//!     plugins: registry,
//!     token: "from the secrets backend".into(),
//!     // Without a reloader, reload and rollback answer 501.
//!     reloader: None,
//! };
//! admin::serve(listener, state, async { let _ = tokio::signal::ctrl_c().await; }).await;
//! # Ok(()) }
//! ```

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use robodev_core::Interface;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::metered::Switches;
use crate::metrics::{self, Metrics};
use crate::registry::{Entry, LoadFailure, Registry};

/// The largest request body accepted (no route takes one; a client may still send one).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// The largest request head (request line and headers) accepted; hyper's smallest setting.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// How long a client may take to send a request head before its connection is closed; an
/// idle keep-alive connection waiting for its next request is closed after this too, so idle
/// clients cannot hold all [`MAX_CONNECTIONS`] slots.
pub const HEAD_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once; further ones wait to be accepted.
pub const MAX_CONNECTIONS: usize = 64;
/// How long open connections get to finish their requests once shutdown begins.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How long to wait before accepting again after `accept` failed (e.g. out of descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What the 501 of `reload` and `rollback` says when the server has no reloader.
pub const NOT_AVAILABLE: &str = "hot reload is not available yet: robodev cannot reload or roll back a plugin while it runs; change robodev-config.yaml and restart robodev";

/// The plugins the admin API shows and switches, at one moment.
#[derive(Debug, Clone, Default)]
pub struct PluginsView {
    /// The loaded plugins.
    pub entries: Vec<Arc<Entry>>,
    /// The plugins that did not load.
    pub failures: Vec<LoadFailure>,
    /// The operator's switches, shared with the metering layer.
    pub switches: Switches,
}

impl PluginsView {
    /// The plugins of `registry`, with `switches`.
    pub fn of(registry: &Registry, switches: Switches) -> PluginsView {
        PluginsView {
            entries: registry.entries(),
            failures: registry.failures().to_vec(),
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
}

impl std::fmt::Debug for AdminState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("AdminState").finish_non_exhaustive()
    }
}

/// Serves the admin API on `listener` until `shutdown` completes, then lets open connections
/// finish their requests for up to [`SHUTDOWN_GRACE`] and returns.
pub async fn serve(
    listener: TcpListener,
    state: AdminState,
    shutdown: impl Future<Output = ()> + Send,
) {
    if state.token.is_empty() {
        tracing::warn!("the admin API's token is empty: every /api/v1/ request will be refused");
    }
    let state = Arc::new(state);
    let (stop, stopped) = watch::channel(false);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        // Wait for a free slot first, so an accepted connection is served at once.
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                // The semaphore is never closed.
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            () = &mut shutdown => break,
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
        let state = state.clone();
        let mut stopped = stopped.clone();
        connections.spawn(async move {
            let _permit = permit;
            let service = service_fn(move |request| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(&state, request).await) }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_READ_TIMEOUT)
                .max_buf_size(MAX_HEAD_BYTES)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                // Only `serve` sends, once, when shutdown begins.
                _ = stopped.changed() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, "admin API connection ended: {e}");
            }
        });
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
}

/// One route's answer.
type Answer = Response<Full<Bytes>>;

/// An answer that ends a request early (an error), boxed to keep `Result`s small.
type Refusal = Box<Answer>;

async fn handle(state: &AdminState, request: Request<Incoming>) -> Answer {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let authorization = request.headers().get(header::AUTHORIZATION).cloned();

    // No route takes a body, but one is read (bounded) before answering, so that a client
    // sending a small one gets a clean answer rather than a reset connection; a body declared
    // too large is refused before a byte of it is read.
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
        )
    };
    let declared = hyper::body::Body::size_hint(request.body()).lower();
    if usize::try_from(declared).map_or(true, |n| n > MAX_BODY_BYTES) {
        return too_large();
    }
    let limited = Limited::new(request.into_body(), MAX_BODY_BYTES);
    if limited.collect().await.is_err() {
        return too_large();
    }

    if path == "/metrics" {
        if method != Method::GET {
            return not_allowed("GET");
        }
        let view = state.plugins.view();
        let text = state.metrics.render(
            view.entries.iter().map(|e| &**e),
            &view.failures,
            &view.switches,
        );
        return respond(StatusCode::OK, metrics::CONTENT_TYPE, text);
    }

    let Some(route) = path
        .strip_prefix("/api/v1/")
        .or_else(|| (path == "/api/v1").then_some(""))
    else {
        return error(StatusCode::NOT_FOUND, &format!("no route {path}"));
    };
    // Authenticated before anything else under /api/v1/, so that a caller without the token
    // learns nothing, not even which routes exist.
    if let Err(answer) = authenticate(&state.token, authorization.as_ref()) {
        return *answer;
    }
    let segments: Vec<&str> = route.split('/').collect();
    match segments.as_slice() {
        ["plugins"] => {
            if method != Method::GET {
                return not_allowed("GET");
            }
            json_answer(StatusCode::OK, list(&state.plugins.view()))
        }
        ["plugins", name, action @ ("toggle" | "reload" | "rollback")] => {
            if method != Method::POST {
                return not_allowed("POST");
            }
            let view = state.plugins.view();
            let entry = match find(&view, name, &query) {
                Ok(entry) => entry,
                Err(answer) => return *answer,
            };
            let Some(reloader) = &state.reloader else {
                return if *action == "toggle" {
                    toggle(&view, entry)
                } else {
                    error(StatusCode::NOT_IMPLEMENTED, NOT_AVAILABLE)
                };
            };
            let swapped = match *action {
                "toggle" => return toggle(&view, entry),
                "reload" => reloader.reload(Some(entry.interface), &entry.name).await,
                _ => reloader.rollback(entry.interface, &entry.name).await,
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
        _ => error(StatusCode::NOT_FOUND, &format!("no route {path}")),
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

fn toggle(view: &PluginsView, entry: &Entry) -> Answer {
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
fn list(view: &PluginsView) -> Value {
    let mut rows = Vec::new();
    for entry in &view.entries {
        let mut row = entry.to_json();
        row["enabled"] = view
            .switches
            .is_enabled(entry.interface, &entry.name)
            .into();
        rows.push(row);
    }
    rows.extend(view.failures.iter().map(LoadFailure::to_json));
    json!({ "plugins": rows })
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Answer {
    let mut answer = Response::new(Full::new(Bytes::from(body)));
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

/// Starts the admin API of `config.admin` over `registry`: its token is read from the
/// configured secrets backend under `token_secret`. `Ok(None)` when no admin API is configured.
pub async fn start(
    config: &crate::config::Config,
    registry: &Arc<crate::registry::Registry>,
    reloader: Arc<crate::reload::Reloader>,
) -> Result<Option<AdminHandle>, String> {
    let Some(settings) = &config.admin else {
        return Ok(None);
    };
    let token = match registry.resolve(&config.secrets) {
        Ok(robodev_core::AnyBackend::Secrets(secrets)) => secrets
            .get_secret(robodev_core::secrets::GetSecretRequest {
                key: settings.token_secret.clone(),
            })
            .await
            .map(|r| r.value)
            .map_err(|e| {
                format!(
                    "admin.token_secret: cannot read secret {:?}: {e}",
                    settings.token_secret
                )
            })?,
        Ok(_) => {
            return Err("admin.token_secret: the secrets backend is not a secrets backend".into());
        }
        Err(e) => return Err(format!("admin.token_secret: {e}")),
    };
    let listener = TcpListener::bind(settings.listen)
        .await
        .map_err(|e| format!("admin.listen: cannot listen on {}: {e}", settings.listen))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("admin.listen: {e}"))?;
    let state = AdminState {
        plugins: registry.clone(),
        metrics: registry.metrics().clone(),
        token,
        reloader: Some(reloader),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, state, async move {
        let _ = stopped.await;
    }));
    tracing::info!("admin API on http://{addr} (/api/v1/plugins, /metrics)");
    Ok(Some(AdminHandle { addr, stop, task }))
}
