//! Notifications `webhook`: every notification is POSTed as JSON to a URL.
//!
//! ```yaml
//! notifications:
//!   - backend: webhook
//!     config:
//!       url: https://hooks.example.com/robodev   # required, http or https
//!       headers: {Authorization: Bearer abc}     # optional, sent with every request
//!       timeout_ms: 5000                         # optional, whole exchange; default 5000
//!       ca_file: certs/internal-ca.pem           # optional, extra CA certificates (PEM)
//! ```
//!
//! The body (`Content-Type: application/json`) is
//!
//! ```json
//! {"event":"notify_start","message":null,"ticket":{"id":"42",...},"taskRunId":"run-1",
//!  "engine":"claude-code","result":null}
//! ```
//!
//! with `event` one of `notify`, `notify_start`, `notify_complete`; `ticket` and `result` are
//! the proto3 JSON of the core types; keys that do not apply to the event are `null`.
//!
//! Outcomes: a 2xx answer is success. Any other status is a domain error, `UNAVAILABLE` for
//! 5xx and 429 (worth retrying) and `FAILED_PRECONDITION` otherwise, with the start of the
//! answer's body in the message (at most [`ERROR_BODY_CHARS`] characters; a huge answer is
//! not read to its end). Redirects are not followed: a 3xx is an answer like any other, so a
//! notification (and its headers, which may hold credentials) never goes anywhere but `url`.
//! Failing to connect, a TLS failure or no answer within `timeout_ms` is a transport failure.
//! Nothing is retried here: the caller decides. Each notification uses its own connection:
//! they are rare, and a fresh connection never trips over one the server closed meanwhile.
//!
//! The HTTP client is reqwest (HTTP/1.1). Proxies come from the environment, read once when
//! the backend is created, with curl's rules: `HTTP_PROXY` (or `http_proxy`) for http URLs,
//! `HTTPS_PROXY` (or `https_proxy`) for https URLs (tunnelled with `CONNECT`), `ALL_PROXY`
//! for both when the specific one is unset, and `NO_PROXY` (or `no_proxy`): comma-separated
//! host names (a name also matches its subdomains), IP addresses or CIDR ranges, or `*`, that
//! are reached directly. Note that loopback is proxied too unless `NO_PROXY` lists it.
//!
//! https uses rustls with the ring provider (passed explicitly: robodev installs no
//! process-wide default) and trusts the Mozilla root certificates (`webpki-roots`) plus, when
//! `ca_file` is set, every certificate of that PEM file (relative to the config file's
//! directory): the way to reach a server whose certificate an internal CA issued, or a
//! self-signed one. The file is read when the backend is created; a file that cannot be read
//! or holds no usable certificate is an error naming `ca_file`. Header values are treated as
//! secrets: they appear in no log, message or `Debug` output, and the URL appears in messages
//! without its query string.

use std::collections::BTreeMap;
use std::error::Error as _;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{StatusCode, Url};
use robodev_core::notifications::{
    Backend, NotifyCompleteRequest, NotifyRequest, NotifyStartRequest,
};
use robodev_core::{Cause, Empty, Error, ErrorCode, Failure, Interface, PluginInfo};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{BuiltinConfigError, BuiltinContext, Schema, host_error, plugin_error};

/// The built-in's name.
pub const NAME: &str = "webhook";

/// The default of `timeout_ms`: connecting, sending and reading the answer together.
pub const DEFAULT_TIMEOUT_MS: u64 = 5000;

/// How many characters of an error answer's body the error message quotes.
pub const ERROR_BODY_CHARS: usize = 200;

/// How many bytes of an error answer's body are read (enough for [`ERROR_BODY_CHARS`]
/// characters of any UTF-8), so that a huge answer is not read to its end.
const ERROR_BODY_READ_BYTES: usize = ERROR_BODY_CHARS * 4;

/// Headers robodev sets itself; configuring them would break the request.
const RESERVED_HEADERS: [&str; 5] = [
    "host",
    "content-type",
    "content-length",
    "transfer-encoding",
    "connection",
];

/// The `User-Agent` of every request.
const USER_AGENT: &str = concat!("robodev/", env!("CARGO_PKG_VERSION"));

const INTERFACE: Interface = Interface::Notifications;

const SCHEMA: Schema = Schema {
    name: NAME,
    known: &["url", "headers", "timeout_ms", "ca_file"],
    required: &["url"],
};

fn default_timeout_ms() -> u64 {
    DEFAULT_TIMEOUT_MS
}

/// The options of notifications `webhook`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Where to POST: `http://` or `https://`, no user info (put credentials in `headers`).
    pub url: String,
    /// Extra headers sent with every request. Their values are never logged.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// How long one notification may take, from connecting to reading the answer
    /// (default [`DEFAULT_TIMEOUT_MS`]).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// A PEM file of CA certificates trusted besides the Mozilla roots; relative to the config
    /// file's directory.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may be credentials: show the names only.
        f.debug_struct("Options")
            .field("url", &display_url(&self.url))
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("timeout_ms", &self.timeout_ms)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// Where a webhook goes, from a checked URL.
#[derive(Debug, Clone)]
struct Target {
    url: Url,
    /// The URL for messages: without its query, which often carries a token.
    display: String,
}

/// `url` without query string and fragment, for messages.
fn display_url(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

fn parse_target(url: &str) -> Result<Target, String> {
    let display = display_url(url);
    if !url.contains("://") {
        return Err("the URL must start with http:// or https://".to_owned());
    }
    let parsed = Url::parse(url).map_err(|e| format!("`{display}` is not a valid URL: {e}"))?;
    match parsed.scheme() {
        "http" | "https" => {}
        other => {
            return Err(format!(
                "the URL must start with http:// or https://, not {other}://"
            ));
        }
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(
            "the URL must not hold credentials; send them in `headers` (e.g. Authorization)"
                .to_owned(),
        );
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".to_owned());
    }
    Ok(Target {
        url: parsed,
        display: display.to_owned(),
    })
}

/// Parses the configured headers into the map sent with every request.
fn parse_headers(headers: &BTreeMap<String, String>) -> Result<HeaderMap, BuiltinConfigError> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let key = format!("headers.{name}");
        let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            BuiltinConfigError::new(&key, format!("`{name}` is not a valid HTTP header name"))
        })?;
        if RESERVED_HEADERS.contains(&header_name.as_str()) {
            return Err(BuiltinConfigError::new(
                &key,
                format!("robodev sets the header `{name}` itself"),
            ));
        }
        // Never quote the value: it may be a credential.
        let mut header_value = HeaderValue::from_str(value).map_err(|_| {
            BuiltinConfigError::new(
                &key,
                "the value is not a valid HTTP header value (it has a control character or a line break)",
            )
        })?;
        // Keeps the value out of reqwest's and hyper's own `Debug` output.
        header_value.set_sensitive(true);
        map.insert(header_name, header_value);
    }
    Ok(map)
}

impl Options {
    /// Parses and checks the options from a `config:` map. `ca_file` is only checked to be a
    /// path here; the file is read when the backend is created.
    pub fn from_config(config: &Value) -> Result<Options, BuiltinConfigError> {
        let options: Options = super::parse_options(&SCHEMA, config)?;
        parse_target(&options.url).map_err(|m| BuiltinConfigError::new("url", m))?;
        parse_headers(&options.headers)?;
        if options.timeout_ms == 0 {
            return Err(BuiltinConfigError::new(
                "timeout_ms",
                "must be more than 0 milliseconds",
            ));
        }
        if options
            .ca_file
            .as_ref()
            .is_some_and(|f| f.as_os_str().is_empty())
        {
            return Err(BuiltinConfigError::new(
                "ca_file",
                "must name a PEM file of CA certificates, not be empty (leave it out to trust the Mozilla roots only)",
            ));
        }
        Ok(options)
    }
}

/// Notifications `webhook`.
pub struct WebhookNotifier {
    target: Target,
    headers: HeaderMap,
    timeout: Duration,
    client: reqwest::Client,
}

impl fmt::Debug for WebhookNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookNotifier")
            .field("url", &self.target.display)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl WebhookNotifier {
    /// A notifier with these (checked) options; reads `ca_file`, resolved against the config
    /// file's directory, and the proxy variables of the environment.
    pub async fn new(options: Options, context: &BuiltinContext) -> Result<Self, Error> {
        let invalid = |key: &str, message: String| {
            host_error(
                NAME,
                INTERFACE,
                format!("invalid option `{key}`: {message}"),
            )
        };
        let target = parse_target(&options.url).map_err(|m| invalid("url", m))?;
        let headers = parse_headers(&options.headers).map_err(|e| invalid(&e.key, e.message))?;
        let extra_roots = match &options.ca_file {
            Some(file) => read_ca_file(&context.resolve(file))
                .await
                .map_err(|m| invalid("ca_file", m))?,
            None => Vec::new(),
        };
        let tls = tls_config(extra_roots)?;
        let mut defaults = HeaderMap::new();
        defaults.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        // Each notification on its own connection (see the module docs); with no idle
        // connection kept, this only tells the server (or proxy) so.
        defaults.insert(header::CONNECTION, HeaderValue::from_static("close"));
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .user_agent(USER_AGENT)
            .default_headers(defaults)
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .pool_max_idle_per_host(0)
            // Best effort: a request is one small write, so Nagle only adds latency.
            .tcp_nodelay(true)
            .build()
            .map_err(|e| {
                host_error(
                    NAME,
                    INTERFACE,
                    format!("cannot set up the HTTP client: {}", chain(&e)),
                )
            })?;
        Ok(WebhookNotifier {
            target,
            headers,
            timeout: Duration::from_millis(options.timeout_ms),
            client,
        })
    }

    fn transport(&self, detail: String, source: Option<Cause>) -> Error {
        Error::Failed {
            plugin: NAME.to_owned(),
            interface: INTERFACE,
            failure: Failure::Transport { detail, source },
        }
    }

    /// POSTs one event and maps the answer onto the three outcomes.
    async fn post(&self, body: Value) -> Result<Empty, Error> {
        let body = serde_json::to_vec(&body).map_err(|e| {
            host_error(
                NAME,
                INTERFACE,
                format!("cannot encode the notification: {e}"),
            )
        })?;
        // Our own deadline rather than reqwest's: it covers reading the error body too, and
        // dropping the request on expiry closes its connection.
        let (status, answer) = tokio::time::timeout(self.timeout, self.exchange(body))
            .await
            .map_err(|_| {
                self.transport(
                    format!(
                        "webhook {} did not answer within {} ms",
                        self.target.display,
                        self.timeout.as_millis()
                    ),
                    None,
                )
            })??;
        if status.is_success() {
            return Ok(Empty {});
        }
        let code = if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            ErrorCode::Unavailable
        } else {
            ErrorCode::FailedPrecondition
        };
        let excerpt: String = answer.trim().chars().take(ERROR_BODY_CHARS).collect();
        Err(plugin_error(
            NAME,
            INTERFACE,
            code,
            format!(
                "webhook {} answered {status}: {excerpt}",
                self.target.display
            ),
        ))
    }

    /// Sends the request and reads the status, plus the start of the body when the status is
    /// not a success.
    async fn exchange(&self, body: Vec<u8>) -> Result<(StatusCode, String), Error> {
        let display = &self.target.display;
        let mut response = self
            .client
            .post(self.target.url.clone())
            .headers(self.headers.clone())
            .body(body)
            .send()
            .await
            .map_err(|e| {
                // reqwest's message holds the whole URL, query (often a token) included.
                let e = e.without_url();
                // Its own message ("error sending request") says less than ours: the cause
                // is in its sources.
                let cause = e.source().map_or_else(|| e.to_string(), chain);
                let detail = if let Some(tls) = tls_error(&e) {
                    format!("TLS handshake with webhook {display} failed: {tls}")
                } else if e.is_connect() {
                    format!("cannot connect to webhook {display}: {cause}")
                } else {
                    format!("webhook {display}: request failed: {cause}")
                };
                self.transport(detail, Some(Cause::new(e)))
            })?;
        let status = response.status();
        let mut answer = Vec::new();
        if !status.is_success() {
            // The body only decorates the error message: stop at the first problem.
            while answer.len() < ERROR_BODY_READ_BYTES {
                match response.chunk().await {
                    Ok(Some(chunk)) => answer.extend_from_slice(&chunk),
                    Ok(None) | Err(_) => break,
                }
            }
            answer.truncate(ERROR_BODY_READ_BYTES);
        }
        Ok((status, String::from_utf8_lossy(&answer).into_owned()))
    }
}

/// An error and its sources, `outer: inner: ...` (reqwest's and hyper's own messages are
/// terse: the cause is in the sources).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The rustls error among `e`'s sources, if the TLS handshake is what failed. It arrives
/// wrapped in `io::Error`s (two of them with reqwest 0.12), whose `source()` skips the wrapped
/// error itself, so each `io::Error` is unwrapped by hand.
fn tls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(e);
    while let Some(mut err) = next {
        while let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            err = inner;
        }
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        next = err.source();
    }
    None
}

/// The certificates of a PEM file: at least one, or a message saying what is wrong.
async fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = tokio::fs::read(path)
        .await
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{} is not valid PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{} holds no PEM certificate (a `-----BEGIN CERTIFICATE-----` block)",
            path.display()
        ));
    }
    // Checked here, not at the first handshake, so that a bad file is a config error.
    let mut store = rustls::RootCertStore::empty();
    for (i, cert) in certs.iter().enumerate() {
        store.add(cert.clone()).map_err(|e| {
            format!(
                "certificate {} of {} is not a usable CA certificate: {e}",
                i + 1,
                path.display()
            )
        })?;
    }
    Ok(certs)
}

/// The TLS config of every connection: the Mozilla roots plus `extra_roots` (checked by
/// [`read_ca_file`]), the ring provider passed explicitly so that robodev installs no
/// process-wide default (other crates may pick their own), HTTP/1.1 only (the client speaks
/// nothing else).
fn tls_config(extra_roots: Vec<CertificateDer<'static>>) -> Result<rustls::ClientConfig, Error> {
    let mut roots =
        rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    roots.add_parsable_certificates(extra_roots);
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| host_error(NAME, INTERFACE, format!("cannot set up TLS: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[async_trait]
impl Backend for WebhookNotifier {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        Ok(super::plugin_info(NAME))
    }

    async fn notify(&self, request: NotifyRequest) -> Result<Empty, Error> {
        self.post(json!({
            "event": "notify",
            "message": request.message,
            "ticket": request.ticket,
            "taskRunId": null,
            "engine": null,
            "result": null,
        }))
        .await
    }

    async fn notify_start(&self, request: NotifyStartRequest) -> Result<Empty, Error> {
        self.post(json!({
            "event": "notify_start",
            "message": null,
            "ticket": request.ticket,
            "taskRunId": request.task_run_id,
            "engine": request.engine,
            "result": null,
        }))
        .await
    }

    async fn notify_complete(&self, request: NotifyCompleteRequest) -> Result<Empty, Error> {
        self.post(json!({
            "event": "notify_complete",
            "message": null,
            "ticket": request.ticket,
            "taskRunId": request.task_run_id,
            "engine": null,
            "result": request.result,
        }))
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(config: Value) -> BuiltinConfigError {
        Options::from_config(&config).unwrap_err()
    }

    #[test]
    fn options() {
        let o = Options::from_config(&json!({"url": "http://127.0.0.1:9/hook"})).unwrap();
        assert_eq!(o.timeout_ms, DEFAULT_TIMEOUT_MS);
        assert!(o.headers.is_empty());
        assert_eq!(
            err(json!({})),
            BuiltinConfigError::new("url", "`webhook` requires the option `url`")
        );
        assert_eq!(
            err(json!({"url": "ftp://x/y"})),
            BuiltinConfigError::new(
                "url",
                "the URL must start with http:// or https://, not ftp://"
            )
        );
        assert_eq!(
            err(json!({"url": "example.com/hook"})),
            BuiltinConfigError::new("url", "the URL must start with http:// or https://")
        );
        assert_eq!(
            err(json!({"url": "https://u:p@example.com/hook"})),
            BuiltinConfigError::new(
                "url",
                "the URL must not hold credentials; send them in `headers` (e.g. Authorization)"
            )
        );
        assert_eq!(
            err(json!({"url": "http://x", "timeout_ms": 0})),
            BuiltinConfigError::new("timeout_ms", "must be more than 0 milliseconds")
        );
        assert_eq!(
            err(json!({"url": "http://x", "timeout_ms": -1})),
            BuiltinConfigError::new("timeout_ms", "invalid value: integer `-1`, expected u64")
        );
        assert_eq!(
            err(json!({"url": "http://x", "timeout": 10})),
            BuiltinConfigError::new(
                "timeout",
                "unknown option `timeout` of `webhook`; did you mean `timeout_ms`?"
            )
        );
        assert_eq!(
            err(json!({"url": "http://x", "headers": {"Bad Name": "v"}})),
            BuiltinConfigError::new(
                "headers.Bad Name",
                "`Bad Name` is not a valid HTTP header name"
            )
        );
        assert_eq!(
            err(json!({"url": "http://x", "headers": {"Content-Type": "text/plain"}})),
            BuiltinConfigError::new(
                "headers.Content-Type",
                "robodev sets the header `Content-Type` itself"
            )
        );
        let e = err(json!({"url": "http://x", "headers": {"Authorization": "Bearer s3cret\n"}}));
        assert_eq!(e.key, "headers.Authorization");
        assert!(!e.message.contains("s3cret"), "{}", e.message);
    }

    #[test]
    fn ca_file_must_not_be_empty() {
        let o = Options::from_config(&json!({"url": "https://x", "ca_file": "ca.pem"})).unwrap();
        assert_eq!(o.ca_file, Some(PathBuf::from("ca.pem")));
        assert_eq!(
            err(json!({"url": "https://x", "ca_file": ""})),
            BuiltinConfigError::new(
                "ca_file",
                "must name a PEM file of CA certificates, not be empty (leave it out to trust the Mozilla roots only)"
            )
        );
        assert_eq!(
            err(json!({"url": "https://x", "ca_file": ["a.pem"]})).key,
            "ca_file"
        );
    }

    #[test]
    fn targets() {
        let t = parse_target("http://127.0.0.1:8080/hooks/x?token=abc").unwrap();
        assert_eq!(t.url.scheme(), "http");
        assert_eq!(
            (t.url.host_str(), t.url.port_or_known_default()),
            (Some("127.0.0.1"), Some(8080))
        );
        assert_eq!(t.url.path(), "/hooks/x");
        assert_eq!(t.url.query(), Some("token=abc"));
        assert_eq!(t.display, "http://127.0.0.1:8080/hooks/x");
        let t = parse_target("https://[::1]").unwrap();
        assert_eq!(t.url.scheme(), "https");
        assert_eq!(
            (t.url.host_str(), t.url.port_or_known_default()),
            (Some("[::1]"), Some(443))
        );
        assert_eq!(t.url.path(), "/");
        assert_eq!(
            parse_target("http://").unwrap_err(),
            "`http://` is not a valid URL: empty host"
        );
    }

    #[tokio::test]
    async fn debug_hides_header_values() {
        let o = Options::from_config(&json!({
            "url": "http://x/h?token=t0k3n",
            "headers": {"Authorization": "Bearer s3cret"}
        }))
        .unwrap();
        let context = BuiltinContext {
            config_dir: PathBuf::from("/nonexistent"),
            state_dir: PathBuf::from("/nonexistent"),
        };
        let shown = format!(
            "{o:?} {:?}",
            WebhookNotifier::new(o.clone(), &context).await.unwrap()
        );
        assert!(shown.contains("Authorization") || shown.contains("authorization"));
        assert!(
            !shown.contains("s3cret") && !shown.contains("t0k3n"),
            "{shown}"
        );
    }

    #[test]
    fn tls_config_offers_http1_only() {
        let config = tls_config(Vec::new()).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }
}
