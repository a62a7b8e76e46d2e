//! HTTP/1.1 over TCP or TLS (rustls with the ring provider and the webpki roots), one
//! connection per request.
//!
//! A pull or push makes a handful of requests, so a connection pool would save little and add a
//! cache of half-closed sockets; what matters is bounded waiting, hence the timeouts below,
//! which notice silence, and the [`Budget`] and [`Meter`] of [`crate::meter`], which notice a
//! pull or push that takes too long in all or moves too little.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::BodyExt as _;
use http_body_util::combinators::BoxBody;
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite};
use tokio::net::TcpStream;
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
    fn into_http(self, sent: Arc<AtomicU64>) -> BoxBody<Bytes, std::io::Error> {
        match self {
            Self::Empty => http_body_util::Empty::new()
                .map_err(|never| match never {})
                .boxed(),
            Self::Bytes(bytes) => {
                // Handed to the connection whole (it is small).
                sent.store(bytes.len() as u64, Ordering::Relaxed);
                http_body_util::Full::new(bytes)
                    .map_err(|never| match never {})
                    .boxed()
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
                        return Ok(None);
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
                    Ok(Some((Frame::data(Bytes::from(buf)), state)))
                });
                http_body_util::StreamBody::new(stream).boxed()
            }
        }
    }
}

/// Why a request got no HTTP answer, or a body did not arrive whole.
#[derive(Debug, Clone)]
pub(crate) enum TransportError {
    /// The registry could not be reached or the connection failed: the reason.
    Failed(String),
    /// A limit of the pull or push tripped, after `done` bytes of the request body went out
    /// (of an upload) or of the response body came in (of a download).
    Limit { limit: TransferLimit, done: u64 },
}

impl TransportError {
    fn failed(reason: impl Into<String>) -> Self {
        Self::Failed(reason.into())
    }
}

/// The HTTP client: a TLS configuration and the request function.
#[derive(Clone)]
pub(crate) struct Transport {
    tls: tokio_rustls::TlsConnector,
}

impl Transport {
    pub fn new() -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        #[expect(
            clippy::expect_used,
            reason = "ring supports TLS 1.2 and 1.3, the safe default versions, so this cannot fail"
        )]
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Self {
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
        }
    }

    /// Sends one request to the absolute URL `url`; `request` carries the method and headers
    /// (its URI is replaced by the origin form of `url`, and `Host` is set). Every wait is
    /// bounded by its own timeout and by `budget`'s deadline; a file body is also held to the
    /// stall rule while it is being sent.
    pub async fn send(
        &self,
        url: &Uri,
        mut request: Request<()>,
        body: ReqBody,
        budget: &Budget,
    ) -> Result<Response<Incoming>, TransportError> {
        let https = match url.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            other => {
                return Err(TransportError::failed(format!(
                    "unsupported URL scheme {other:?}"
                )));
            }
        };
        let authority = url
            .authority()
            .ok_or_else(|| TransportError::failed(format!("URL {url} has no host")))?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let origin: Uri = url
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .parse()
            .map_err(|e| TransportError::failed(format!("URL {url}: {e}")))?;
        *request.uri_mut() = origin;
        let host_header = http::HeaderValue::from_str(authority.as_str())
            .map_err(|e| TransportError::failed(format!("URL {url}: {e}")))?;
        request
            .headers_mut()
            .insert(http::header::HOST, host_header);
        if !matches!(body, ReqBody::Empty) || request.method() == http::Method::PUT {
            request
                .headers_mut()
                .insert(http::header::CONTENT_LENGTH, body.len().into());
        }
        let sent = Arc::new(AtomicU64::new(0));
        let (wait, upload) = match &body {
            ReqBody::File { len, progress, .. } => (
                RESPONSE_TIMEOUT + Duration::from_secs(len / MIN_UPLOAD_BYTES_PER_SEC),
                Some(Upload {
                    sent: sent.clone(),
                    len: *len,
                    progress: progress.clone(),
                }),
            ),
            _ => (RESPONSE_TIMEOUT, None),
        };
        let (parts, ()) = request.into_parts();
        let request = Request::from_parts(parts, body.into_http(sent));

        let connect_by = budget.bound(Instant::now(), CONNECT_TIMEOUT);
        let tcp = tokio::time::timeout_at(connect_by, TcpStream::connect((host, port)))
            .await
            .map_err(|_| {
                expired_or(budget, || {
                    format!("no TCP connection to {authority} within {CONNECT_TIMEOUT:?}")
                })
            })?
            .map_err(|e| TransportError::failed(format!("cannot connect to {authority}: {e}")))?;
        // Small requests (HEADs, manifest GETs) would otherwise wait on Nagle's algorithm.
        let _ = tcp.set_nodelay(true);
        if https {
            let name = rustls::pki_types::ServerName::try_from(host.to_owned()).map_err(|e| {
                TransportError::failed(format!("{host} is not a TLS server name: {e}"))
            })?;
            let handshake_by = budget.bound(Instant::now(), CONNECT_TIMEOUT);
            let tls = tokio::time::timeout_at(handshake_by, self.tls.connect(name, tcp))
                .await
                .map_err(|_| {
                    expired_or(budget, || {
                        format!("no TLS handshake with {authority} within {CONNECT_TIMEOUT:?}")
                    })
                })?
                .map_err(|e| {
                    TransportError::failed(format!("TLS handshake with {authority}: {e}"))
                })?;
            exchange(tls, request, wait, budget, upload, authority.as_str()).await
        } else {
            exchange(tcp, request, wait, budget, upload, authority.as_str()).await
        }
    }
}

/// The deadline error if `budget`'s deadline has passed, else the timeout `reason`.
fn expired_or(budget: &Budget, reason: impl FnOnce() -> String) -> TransportError {
    match budget.expired(Instant::now()) {
        Some(limit) => TransportError::Limit { limit, done: 0 },
        None => TransportError::failed(reason()),
    }
}

/// A file body on its way out: what the wait for the answer watches for a stall.
struct Upload {
    /// Bytes handed to the connection so far (written by the body stream).
    sent: Arc<AtomicU64>,
    len: u64,
    progress: ProgressReporter,
}

async fn exchange<S>(
    stream: S,
    request: Request<BoxBody<Bytes, std::io::Error>>,
    wait: Duration,
    budget: &Budget,
    upload: Option<Upload>,
    authority: &str,
) -> Result<Response<Incoming>, TransportError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| TransportError::failed(format!("HTTP handshake with {authority}: {e}")))?;
    // The connection task ends when the response body is consumed or dropped.
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "registry connection closed with an error");
        }
    });
    let start = Instant::now();
    let answer_by = budget.bound(start, wait);
    let mut meter = Meter::new(*budget, start);
    let sent = || {
        upload
            .as_ref()
            .map_or(0, |u| u.sent.load(Ordering::Relaxed))
    };
    let response = sender.send_request(request);
    tokio::pin!(response);
    loop {
        let now = Instant::now();
        let mut wake = answer_by;
        // Only while the body is still going out: once it is all sent, the registry may take
        // its time to hash and store it, bounded by the answer timeout and the deadline.
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
                "no answer from {authority} within {wait:?}"
            )));
        }
        if let Ok(answer) = tokio::time::timeout_at(wake, &mut response).await {
            return answer.map_err(|e| {
                TransportError::failed(format!("request to {authority} failed: {e}"))
            });
        }
    }
}

/// The next chunk of a response body; `None` at the end. Fails when the body sends nothing
/// for [`BODY_IDLE_TIMEOUT`], or when `meter`'s deadline or stall rule trips (with the bytes
/// received so far); `on_stall` hears of each stall report, with the bytes received.
pub(crate) async fn next_chunk(
    body: &mut Incoming,
    meter: &mut Meter,
    mut on_stall: impl FnMut(u64, Stall),
) -> Result<Option<Bytes>, TransportError> {
    let idle_until = Instant::now() + BODY_IDLE_TIMEOUT;
    loop {
        let wake = meter.next_check(Instant::now()).min(idle_until);
        // What has arrived is counted before the limits are applied: after a pause of this
        // process (not of the registry), the bytes waiting in the socket are not a stall.
        let data = match tokio::time::timeout_at(wake, body.frame()).await {
            Err(_) => None,
            Ok(None) => return Ok(None),
            Ok(Some(Err(e))) => {
                return Err(TransportError::failed(format!("reading the response: {e}")));
            }
            // Trailers carry nothing robodev reads: they count as no data.
            Ok(Some(Ok(frame))) => frame.into_data().ok(),
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
