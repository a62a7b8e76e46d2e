//! Notifications `webhook`: every notification is POSTed as JSON to a URL.
//!
//! ```yaml
//! notifications:
//!   - backend: webhook
//!     config:
//!       url: https://hooks.example.com/robodev   # required, http or https
//!       headers: {Authorization: Bearer abc}     # optional, sent with every request
//!       timeout_ms: 5000                         # optional, whole exchange; default 5000
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
//! answer's body in the message. Failing to connect, a TLS failure or no answer within
//! `timeout_ms` is a transport failure. Each notification uses its own connection: they are
//! rare, and a fresh connection never trips over one the server closed meanwhile.
//!
//! https uses rustls with the ring provider and the Mozilla root certificates
//! (`webpki-roots`). Header values are treated as secrets: they appear in no log, message or
//! `Debug` output, and the URL appears in messages without its query string.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use robodev_core::notifications::{
    Backend, NotifyCompleteRequest, NotifyRequest, NotifyStartRequest,
};
use robodev_core::{Empty, Error, ErrorCode, Failure, Interface, PluginInfo};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::{BuiltinConfigError, Schema, host_error, plugin_error};

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

const INTERFACE: Interface = Interface::Notifications;

const SCHEMA: Schema = Schema {
    name: NAME,
    known: &["url", "headers", "timeout_ms"],
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
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may be credentials: show the names only.
        f.debug_struct("Options")
            .field("url", &display_url(&self.url))
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

/// Where a webhook goes, from a checked URL.
#[derive(Debug, Clone)]
struct Target {
    https: bool,
    /// Host to connect to (IPv6 without brackets).
    host: String,
    port: u16,
    /// The `Host` header: the URL's authority.
    authority: String,
    /// Origin-form request target, `/path?query`.
    path_and_query: String,
    /// The URL for messages: without its query, which often carries a token.
    display: String,
}

/// `url` without query string and fragment, for messages.
fn display_url(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

fn parse_target(url: &str) -> Result<Target, String> {
    if !url.contains("://") {
        return Err("the URL must start with http:// or https://".to_owned());
    }
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("`{}` is not a valid URL: {e}", display_url(url)))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        Some(other) => {
            return Err(format!(
                "the URL must start with http:// or https://, not {other}://"
            ));
        }
        None => return Err("the URL must start with http:// or https://".to_owned()),
    };
    let authority = uri
        .authority()
        .ok_or_else(|| "the URL has no host".to_owned())?;
    if authority.as_str().contains('@') {
        return Err(
            "the URL must not hold credentials; send them in `headers` (e.g. Authorization)"
                .to_owned(),
        );
    }
    let host = authority.host();
    if host.is_empty() {
        return Err("the URL has no host".to_owned());
    }
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    Ok(Target {
        https,
        host: host.to_owned(),
        port,
        authority: authority.as_str().to_owned(),
        path_and_query: uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
        display: display_url(url).to_owned(),
    })
}

/// Parses the configured headers; `Err((key, message))` names the offending one.
fn parse_headers(
    headers: &BTreeMap<String, String>,
) -> Result<Vec<(HeaderName, HeaderValue)>, BuiltinConfigError> {
    headers
        .iter()
        .map(|(name, value)| {
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
            header_value.set_sensitive(true);
            Ok((header_name, header_value))
        })
        .collect()
}

impl Options {
    /// Parses and checks the options from a `config:` map.
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
        Ok(options)
    }
}

/// Notifications `webhook`.
pub struct WebhookNotifier {
    target: Target,
    headers: Vec<(HeaderName, HeaderValue)>,
    timeout: Duration,
    /// Set for https URLs only.
    tls: Option<tokio_rustls::TlsConnector>,
}

impl fmt::Debug for WebhookNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookNotifier")
            .field("url", &self.target.display)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl WebhookNotifier {
    /// A notifier with these (checked) options.
    pub fn new(options: Options) -> Result<Self, Error> {
        let invalid = |e: BuiltinConfigError| {
            host_error(
                NAME,
                INTERFACE,
                format!("invalid option `{}`: {}", e.key, e.message),
            )
        };
        let target =
            parse_target(&options.url).map_err(|m| invalid(BuiltinConfigError::new("url", m)))?;
        let headers = parse_headers(&options.headers).map_err(invalid)?;
        let tls = if target.https {
            Some(tls_connector()?)
        } else {
            None
        };
        Ok(WebhookNotifier {
            target,
            headers,
            timeout: Duration::from_millis(options.timeout_ms),
            tls,
        })
    }

    fn transport(&self, detail: String) -> Error {
        Error::Failed {
            plugin: NAME.to_owned(),
            interface: INTERFACE,
            failure: Failure::Transport { detail },
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
        let (status, answer) = tokio::time::timeout(self.timeout, self.exchange(body))
            .await
            .map_err(|_| {
                self.transport(format!(
                    "webhook {} did not answer within {} ms",
                    self.target.display,
                    self.timeout.as_millis()
                ))
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

    /// Connects (with TLS for https), sends the request and reads the status, plus the start
    /// of the body when the status is not a success.
    async fn exchange(&self, body: Vec<u8>) -> Result<(StatusCode, String), Error> {
        let t = &self.target;
        let tcp = TcpStream::connect((t.host.as_str(), t.port))
            .await
            .map_err(|e| self.transport(format!("cannot connect to webhook {}: {e}", t.display)))?;
        // Best effort: a request is one small write, so Nagle only adds latency.
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => self.send(tcp, body).await,
            Some(connector) => {
                let name =
                    rustls::pki_types::ServerName::try_from(t.host.clone()).map_err(|e| {
                        self.transport(format!(
                            "webhook {}: invalid TLS server name: {e}",
                            t.display
                        ))
                    })?;
                let tls = connector.connect(name, tcp).await.map_err(|e| {
                    self.transport(format!(
                        "TLS handshake with webhook {} failed: {e}",
                        t.display
                    ))
                })?;
                self.send(tls, body).await
            }
        }
    }

    async fn send<S>(&self, stream: S, body: Vec<u8>) -> Result<(StatusCode, String), Error>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let t = &self.target;
        let failed = |what: &str, e: hyper::Error| {
            self.transport(format!("webhook {}: {what}: {}", t.display, chain(&e)))
        };
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| failed("HTTP handshake failed", e))?;
        // The connection is driven by its own task; aborting it on every exit path (timeout
        // included) closes the socket instead of leaving the task waiting for the server.
        let driver = AbortOnDrop(tokio::spawn(async move {
            let _ = connection.await;
        }));
        let mut request = Request::post(t.path_and_query.as_str())
            .header(header::HOST, t.authority.as_str())
            .header(header::CONTENT_TYPE, "application/json")
            .header(
                header::USER_AGENT,
                concat!("robodev/", env!("CARGO_PKG_VERSION")),
            )
            .header(header::CONNECTION, "close")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| {
                host_error(
                    NAME,
                    INTERFACE,
                    format!("cannot build the request to {}: {e}", t.display),
                )
            })?;
        for (name, value) in &self.headers {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| failed("request failed", e))?;
        let status = response.status();
        let mut answer = Vec::new();
        if !status.is_success() {
            let mut body = response.into_body();
            // The body only decorates the error message: stop at the first problem.
            while answer.len() < ERROR_BODY_READ_BYTES {
                match body.frame().await {
                    Some(Ok(frame)) => {
                        if let Some(data) = frame.data_ref() {
                            answer.extend_from_slice(data);
                        }
                    }
                    Some(Err(_)) | None => break,
                }
            }
        }
        drop(driver);
        Ok((status, String::from_utf8_lossy(&answer).into_owned()))
    }
}

/// A task that is aborted when this is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An error and its sources, `outer: inner: ...` (hyper's own messages are terse).
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

/// A TLS connector trusting the Mozilla roots. The ring provider is passed explicitly so that
/// robodev installs no process-wide default (other crates may pick their own).
fn tls_connector() -> Result<tokio_rustls::TlsConnector, Error> {
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| host_error(NAME, INTERFACE, format!("cannot set up TLS: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
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
    fn targets() {
        let t = parse_target("http://127.0.0.1:8080/hooks/x?token=abc").unwrap();
        assert!(!t.https);
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 8080));
        assert_eq!(t.authority, "127.0.0.1:8080");
        assert_eq!(t.path_and_query, "/hooks/x?token=abc");
        assert_eq!(t.display, "http://127.0.0.1:8080/hooks/x");
        let t = parse_target("https://[::1]").unwrap();
        assert!(t.https);
        assert_eq!((t.host.as_str(), t.port), ("::1", 443));
        assert_eq!(t.path_and_query, "/");
    }

    #[test]
    fn debug_hides_header_values() {
        let o = Options::from_config(&json!({
            "url": "http://x/h?token=t0k3n",
            "headers": {"Authorization": "Bearer s3cret"}
        }))
        .unwrap();
        let shown = format!("{o:?} {:?}", WebhookNotifier::new(o.clone()).unwrap());
        assert!(shown.contains("Authorization") || shown.contains("authorization"));
        assert!(
            !shown.contains("s3cret") && !shown.contains("t0k3n"),
            "{shown}"
        );
    }

    #[test]
    fn https_targets_get_a_tls_connector() {
        let n = WebhookNotifier::new(
            Options::from_config(&json!({"url": "https://example.com"})).unwrap(),
        )
        .unwrap();
        assert!(n.tls.is_some());
    }
}
