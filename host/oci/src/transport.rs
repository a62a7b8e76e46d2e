//! The HTTP client: reqwest (HTTP/1.1 over rustls with the ring provider, the webpki roots and
//! [`crate::ClientOptions::ca_files`], proxies from the environment), with the waits bounded.
//!
//! reqwest does the connections, TLS, proxies and redirects (at most
//! [`crate::limits::MAX_REDIRECTS`], never to plain HTTP where it is not allowed, and without
//! the `Authorization` header once the host changes). What reqwest has no hook for stays here:
//! the wait for an answer while an upload is watched for a stall, and the reading of a body
//! chunk by chunk under the [`Budget`] and [`Meter`] of [`crate::meter`], which notice a pull or
//! push that takes too long in all or moves too little.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method};
use tokio::io::AsyncReadExt as _;
use tokio::time::Instant;

use crate::meter::{Budget, Meter, TransferLimit};
use crate::progress::{ProgressReporter, Stall};

/// How long to wait for a TCP connection (and then for the TLS handshake).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the response headers of a request without a file body.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
/// The slowest upload rate assumed when bounding a file upload's wait: the deadline is
/// [`RESPONSE_TIMEOUT`] plus the file's size at this rate.
pub const MIN_UPLOAD_BYTES_PER_SEC: u64 = 64 * 1024;
/// How long a response body may go without delivering a byte. (A body that delivers a byte
/// now and then is the stall rule's business: see [`crate::TransferLimits`].)
pub const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The size of the reads that feed an upload (and of its progress steps at the finest).
const UPLOAD_CHUNK: usize = 64 * 1024;

/// A request body that can be sent again (after an authentication challenge).
#[derive(Debug, Clone)]
pub(crate) enum ReqBody {
    /// No body.
    Empty,
    /// A small body in memory (manifests, configs).
    Bytes(Bytes),
    /// A file, streamed, with its length and the reporter of its progress.
    File {
        path: PathBuf,
        len: u64,
        progress: ProgressReporter,
    },
}

impl ReqBody {
    pub fn len(&self) -> u64 {
        match self {
            Self::Empty => 0,
            Self::Bytes(b) => b.len() as u64,
            Self::File { len, .. } => *len,
        }
    }

    /// The body to send; a file body counts the bytes it has handed to the connection in
    /// `sent`, which the wait for the answer reads to notice an upload that stalls.
    fn into_reqwest(self, sent: Arc<AtomicU64>) -> reqwest::Body {
        match self {
            Self::Empty => reqwest::Body::from(Vec::new()),
            Self::Bytes(bytes) => {
                // Handed to the connection whole (it is small).
                sent.store(bytes.len() as u64, Ordering::Relaxed);
                reqwest::Body::from(bytes)
            }
            Self::File {
                path,
                len,
                progress,
            } => {
                struct State {
                    path: PathBuf,
                    file: Option<tokio::fs::File>,
                    sent: u64,
                    len: u64,
                    progress: ProgressReporter,
                    counter: Arc<AtomicU64>,
                }
                let state = State {
                    path,
                    file: None,
                    sent: 0,
                    len,
                    progress,
                    counter: sent,
                };
                let stream = futures_util::stream::try_unfold(state, |mut state| async move {
                    if state.file.is_none() {
                        state.file = Some(tokio::fs::File::open(&state.path).await?);
                        state.progress.report(0);
                    }
                    let Some(file) = state.file.as_mut() else {
                        return Ok::<_, std::io::Error>(None);
                    };
                    let mut buf = vec![0; UPLOAD_CHUNK];
                    let n = file.read(&mut buf).await?;
                    if n == 0 {
                        if state.sent != state.len {
                            return Err(std::io::Error::other(format!(
                                "{} changed while being uploaded: {} bytes instead of {}",
                                state.path.display(),
                                state.sent,
                                state.len
                            )));
                        }
                        return Ok(None);
                    }
                    buf.truncate(n);
                    state.sent += n as u64;
                    state.counter.store(state.sent, Ordering::Relaxed);
                    state.progress.report(state.sent);
                    Ok(Some((Bytes::from(buf), state)))
                });
                reqwest::Body::wrap_stream(stream)
            }
        }
    }
}

/// Why a request got no HTTP answer, or a body did not arrive whole.
#[derive(Debug, Clone)]
pub(crate) enum TransportError {
    /// The registry could not be reached or the connection failed: the reason.
    Failed(String),
    /// A redirect went to plain HTTP on a host that may not have it (the host).
    Insecure(String),
    /// The TLS handshake refused the certificate of `host` (`host[:port]`): not a network
    /// failure that may pass, so never a reason to serve from the cache.
    Certificate { host: String, reason: String },
    /// A limit of the pull or push tripped, after `done` bytes of the request body went out
    /// (of an upload) or of the response body came in (of a download).
    Limit { limit: TransferLimit, done: u64 },
}

impl TransportError {
    fn failed(reason: impl Into<String>) -> Self {
        Self::Failed(reason.into())
    }
}

/// Why the redirect policy refused to follow a redirect (carried inside reqwest's error).
#[derive(Debug)]
enum RedirectRefused {
    /// Plain HTTP to this host (`host[:port]`) is not allowed.
    Insecure(String),
    /// More than [`crate::limits::MAX_REDIRECTS`].
    TooMany,
}

impl std::fmt::Display for RedirectRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Insecure(host) => write!(f, "redirect to plain HTTP on {host}"),
            Self::TooMany => write!(f, "more than {} redirects", crate::registry::MAX_REDIRECTS),
        }
    }
}

impl std::error::Error for RedirectRefused {}

/// The HTTP client and the request function.
#[derive(Clone)]
pub(crate) struct Transport {
    client: reqwest::Client,
}

/// The rustls configuration of every robodev-oci connection: ring, the webpki roots and
/// `ca_files` (PEM, each may hold several certificates). Errors name the file.
pub(crate) fn rustls_config(
    ca_files: &[PathBuf],
) -> Result<rustls::ClientConfig, (PathBuf, String)> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for path in ca_files {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| (path.clone(), pem_error(&e)))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| (path.clone(), pem_error(&e)))?;
        if certs.is_empty() {
            return Err((path.clone(), "no PEM certificate in the file".to_owned()));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| (path.clone(), format!("not a usable CA certificate: {e}")))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| (PathBuf::new(), e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// A CA file's reading error in words: rustls-pki-types shows markers and lines as byte
/// arrays.
fn pem_error(e: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error as Pem;
    match e {
        Pem::Io(e) => format!("cannot read it: {e}"),
        Pem::MissingSectionEnd { end_marker } => {
            let label = String::from_utf8_lossy(end_marker);
            format!(
                "not valid PEM: a `-----BEGIN {label}-----` block has no `-----END {label}-----` line"
            )
        }
        Pem::IllegalSectionStart { line } => format!(
            "not valid PEM: malformed line {:?}",
            crate::error::bounded(&String::from_utf8_lossy(line))
        ),
        Pem::Base64Decode(e) => format!("not valid PEM: bad base64 ({e})"),
        other => format!("not valid PEM: {other}"),
    }
}

impl Transport {
    /// The client; `plain_http_allowed(authority, host)` decides where a redirect may go
    /// without TLS.
    pub fn new(
        tls: rustls::ClientConfig,
        plain_http_allowed: impl Fn(&str, &str) -> bool + Send + Sync + 'static,
    ) -> Result<Self, String> {
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > crate::registry::MAX_REDIRECTS {
                return attempt.error(RedirectRefused::TooMany);
            }
            let url = attempt.url();
            if url.scheme() != "https" {
                let host = url.host_str().unwrap_or_default().to_owned();
                let authority = match url.port() {
                    Some(port) => format!("{host}:{port}"),
                    None => host.clone(),
                };
                if url.scheme() != "http" || !plain_http_allowed(&authority, &host) {
                    return attempt.error(RedirectRefused::Insecure(authority));
                }
            }
            attempt.follow()
        });
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .http1_only()
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .redirect(policy)
            .user_agent(concat!("robodev-oci/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { client })
    }

    /// Sends one request to the absolute URL `url`. Every wait is bounded by its own timeout
    /// and by `budget`'s deadline; a file body is also held to the stall rule while it is
    /// being sent.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: ReqBody,
        budget: &Budget,
    ) -> Result<reqwest::Response, TransportError> {
        let sent = Arc::new(AtomicU64::new(0));
        let (wait, upload) = match &body {
            ReqBody::File { len, progress, .. } => (
                RESPONSE_TIMEOUT + Duration::from_secs(len / MIN_UPLOAD_BYTES_PER_SEC),
                Some(Upload {
                    len: *len,
                    progress: progress.clone(),
                }),
            ),
            _ => (RESPONSE_TIMEOUT, None),
        };
        let mut request = self.client.request(method.clone(), url).headers(headers);
        if !matches!(body, ReqBody::Empty) || method == Method::PUT {
            // A streamed file goes with its length, not chunked: registries want the length.
            request = request.header(http::header::CONTENT_LENGTH, body.len());
            request = request.body(body.into_reqwest(sent.clone()));
        }
        let start = Instant::now();
        let answer_by = budget.bound(start, wait);
        let mut meter = Meter::new(*budget, start);
        let sent = || sent.load(Ordering::Relaxed);
        let response = request.send();
        tokio::pin!(response);
        loop {
            let now = Instant::now();
            let mut wake = answer_by;
            // Only while the body is still going out: once it is all sent, the registry may
            // take its time to hash and store it, bounded by the answer timeout and the
            // deadline.
            if let Some(up) = upload.as_ref().filter(|u| sent() < u.len) {
                let done = sent();
                meter.record(now, done);
                match meter.check(now) {
                    Err(limit) => return Err(TransportError::Limit { limit, done }),
                    Ok(Some(stall)) => up.progress.report_stall(done, stall),
                    Ok(None) => {}
                }
                wake = wake.min(meter.next_check(now));
            }
            if let Some(limit) = budget.expired(now) {
                return Err(TransportError::Limit {
                    limit,
                    done: sent(),
                });
            }
            if now >= answer_by {
                return Err(TransportError::failed(format!(
                    "no answer from {} within {wait:?}",
                    host_of(url)
                )));
            }
            if let Ok(answer) = tokio::time::timeout_at(wake, &mut response).await {
                return answer.map_err(|e| request_error(&e, url));
            }
        }
    }
}

/// `host[:port]` of `url`, for messages.
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest)
}

/// A reqwest error as a [`TransportError`]: a refused redirect keeps its reason; everything
/// else failed to reach the registry.
fn request_error(e: &reqwest::Error, url: &str) -> TransportError {
    if let Some(reason) = certificate_failure(e) {
        return TransportError::Certificate {
            host: host_of(url).to_owned(),
            reason,
        };
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    let mut tls = false;
    while let Some(cause) = source {
        tls |= rustls_error(cause).is_some();
        if let Some(refused) = cause.downcast_ref::<RedirectRefused>() {
            return match refused {
                RedirectRefused::Insecure(host) => TransportError::Insecure(host.clone()),
                RedirectRefused::TooMany => TransportError::failed(refused.to_string()),
            };
        }
        source = cause.source();
    }
    if tls {
        return TransportError::failed(format!(
            "TLS handshake with {} failed: {}",
            host_of(url),
            chain(e)
        ));
    }
    if e.is_connect() && url.starts_with("https://") {
        // The TCP connect or the TLS handshake (reqwest does not always say which).
        return TransportError::failed(format!(
            "cannot connect to {} over TLS: {}",
            host_of(url),
            chain(e)
        ));
    }
    TransportError::failed(format!("request to {} failed: {}", host_of(url), chain(e)))
}

/// The rustls error `cause` is or wraps: rustls errors reach reqwest's callers inside an
/// io::Error (hyper's, around tokio-rustls's), whose `source` skips what it wraps.
fn rustls_error<'e>(cause: &'e (dyn std::error::Error + 'static)) -> Option<&'e rustls::Error> {
    let mut current: &(dyn std::error::Error + 'static) = cause;
    loop {
        if let Some(rustls) = current.downcast_ref::<rustls::Error>() {
            return Some(rustls);
        }
        let inner = current.downcast_ref::<std::io::Error>()?.get_ref()?;
        current = inner;
    }
}

/// Why the peer's certificate was refused (`UnknownIssuer`, `Expired`, `NotValidForName`...),
/// when that is what ended the request `e` (robodev's or oci-client's).
pub(crate) fn certificate_failure(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(cause) = source {
        if let Some(rustls::Error::InvalidCertificate(why)) = rustls_error(cause) {
            return Some(crate::error::bounded(&why.to_string()));
        }
        source = cause.source();
    }
    None
}

/// An error and its causes, `: `-separated (reqwest's own message is only the outermost).
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

/// A file body on its way out: what the wait for the answer watches for a stall.
struct Upload {
    len: u64,
    progress: ProgressReporter,
}

/// The next chunk of a response body; `None` at the end. Fails when the body sends nothing
/// for [`BODY_IDLE_TIMEOUT`], or when `meter`'s deadline or stall rule trips (with the bytes
/// received so far); `on_stall` hears of each stall report, with the bytes received.
pub(crate) async fn next_chunk(
    body: &mut reqwest::Response,
    meter: &mut Meter,
    mut on_stall: impl FnMut(u64, Stall),
) -> Result<Option<Bytes>, TransportError> {
    let idle_until = Instant::now() + BODY_IDLE_TIMEOUT;
    loop {
        let wake = meter.next_check(Instant::now()).min(idle_until);
        // What has arrived is counted before the limits are applied: after a pause of this
        // process (not of the registry), the bytes waiting in the socket are not a stall.
        // (`chunk` is cancel-safe: a chunk is taken only when it is returned.)
        let data = match tokio::time::timeout_at(wake, body.chunk()).await {
            Err(_) => None,
            Ok(Ok(None)) => return Ok(None),
            Ok(Err(e)) => {
                return Err(TransportError::failed(format!(
                    "reading the response: {}",
                    chain(&e)
                )));
            }
            Ok(Ok(Some(data))) => Some(data),
        };
        let now = Instant::now();
        if let Some(data) = &data {
            meter.add(now, data.len() as u64);
        }
        match meter.check(now) {
            Err(limit) => {
                return Err(TransportError::Limit {
                    limit,
                    done: meter.total(),
                });
            }
            Ok(Some(stall)) => on_stall(meter.total(), stall),
            Ok(None) => {}
        }
        if data.is_some() {
            return Ok(data);
        }
        if now >= idle_until {
            return Err(TransportError::failed(format!(
                "the response body sent nothing for {BODY_IDLE_TIMEOUT:?}"
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_files_are_read_or_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let (path, _) = rustls_config(std::slice::from_ref(&missing)).unwrap_err();
        assert_eq!(path, missing);

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let (path, reason) = rustls_config(std::slice::from_ref(&empty)).unwrap_err();
        assert_eq!(
            (path, reason.as_str()),
            (empty, "no PEM certificate in the file")
        );

        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["robodev-test-ca".to_owned()]).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, params.self_signed(&key).unwrap().pem()).unwrap();
        assert!(rustls_config(&[ca]).is_ok());
    }
}
