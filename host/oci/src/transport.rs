//! HTTP/1.1 over TCP or TLS (rustls with the ring provider and the webpki roots), one
//! connection per request.
//!
//! A pull or push makes a handful of requests, so a connection pool would save little and add a
//! cache of half-closed sockets; what matters is bounded waiting, hence the timeouts below.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::BodyExt as _;
use http_body_util::combinators::BoxBody;
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite};
use tokio::net::TcpStream;

use crate::progress::ProgressReporter;

/// How long to wait for a TCP connection (and then for the TLS handshake).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the response headers of a request without a file body.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
/// The slowest upload rate assumed when bounding a file upload's wait: the deadline is
/// [`RESPONSE_TIMEOUT`] plus the file's size at this rate.
pub const MIN_UPLOAD_BYTES_PER_SEC: u64 = 64 * 1024;
/// How long a response body may go without delivering a byte.
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
    fn len(&self) -> u64 {
        match self {
            Self::Empty => 0,
            Self::Bytes(b) => b.len() as u64,
            Self::File { len, .. } => *len,
        }
    }

    fn into_http(self) -> BoxBody<Bytes, std::io::Error> {
        match self {
            Self::Empty => http_body_util::Empty::new()
                .map_err(|never| match never {})
                .boxed(),
            Self::Bytes(bytes) => http_body_util::Full::new(bytes)
                .map_err(|never| match never {})
                .boxed(),
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
                }
                let state = State {
                    path,
                    file: None,
                    sent: 0,
                    len,
                    progress,
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
                    state.progress.report(state.sent);
                    Ok(Some((Frame::data(Bytes::from(buf)), state)))
                });
                http_body_util::StreamBody::new(stream).boxed()
            }
        }
    }
}

/// Why a request got no HTTP answer.
#[derive(Debug, Clone)]
pub(crate) struct TransportError(pub String);

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
    /// (its URI is replaced by the origin form of `url`, and `Host` is set).
    pub async fn send(
        &self,
        url: &Uri,
        mut request: Request<()>,
        body: ReqBody,
    ) -> Result<Response<Incoming>, TransportError> {
        let https = match url.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            other => return Err(TransportError(format!("unsupported URL scheme {other:?}"))),
        };
        let authority = url
            .authority()
            .ok_or_else(|| TransportError(format!("URL {url} has no host")))?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let origin: Uri = url
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .parse()
            .map_err(|e| TransportError(format!("URL {url}: {e}")))?;
        *request.uri_mut() = origin;
        let host_header = http::HeaderValue::from_str(authority.as_str())
            .map_err(|e| TransportError(format!("URL {url}: {e}")))?;
        request
            .headers_mut()
            .insert(http::header::HOST, host_header);
        if !matches!(body, ReqBody::Empty) || request.method() == http::Method::PUT {
            request
                .headers_mut()
                .insert(http::header::CONTENT_LENGTH, body.len().into());
        }
        let deadline = match &body {
            ReqBody::File { len, .. } => {
                RESPONSE_TIMEOUT + Duration::from_secs(len / MIN_UPLOAD_BYTES_PER_SEC)
            }
            _ => RESPONSE_TIMEOUT,
        };
        let (parts, ()) = request.into_parts();
        let request = Request::from_parts(parts, body.into_http());

        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host, port)))
            .await
            .map_err(|_| {
                TransportError(format!(
                    "no TCP connection to {authority} within {CONNECT_TIMEOUT:?}"
                ))
            })?
            .map_err(|e| TransportError(format!("cannot connect to {authority}: {e}")))?;
        // Small requests (HEADs, manifest GETs) would otherwise wait on Nagle's algorithm.
        let _ = tcp.set_nodelay(true);
        if https {
            let name = rustls::pki_types::ServerName::try_from(host.to_owned())
                .map_err(|e| TransportError(format!("{host} is not a TLS server name: {e}")))?;
            let tls = tokio::time::timeout(CONNECT_TIMEOUT, self.tls.connect(name, tcp))
                .await
                .map_err(|_| {
                    TransportError(format!(
                        "no TLS handshake with {authority} within {CONNECT_TIMEOUT:?}"
                    ))
                })?
                .map_err(|e| TransportError(format!("TLS handshake with {authority}: {e}")))?;
            exchange(tls, request, deadline, authority.as_str()).await
        } else {
            exchange(tcp, request, deadline, authority.as_str()).await
        }
    }
}

async fn exchange<S>(
    stream: S,
    request: Request<BoxBody<Bytes, std::io::Error>>,
    deadline: Duration,
    authority: &str,
) -> Result<Response<Incoming>, TransportError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| TransportError(format!("HTTP handshake with {authority}: {e}")))?;
    // The connection task ends when the response body is consumed or dropped.
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "registry connection closed with an error");
        }
    });
    tokio::time::timeout(deadline, sender.send_request(request))
        .await
        .map_err(|_| TransportError(format!("no answer from {authority} within {deadline:?}")))?
        .map_err(|e| TransportError(format!("request to {authority} failed: {e}")))
}

/// The next chunk of a response body, waiting at most [`BODY_IDLE_TIMEOUT`]; `None` at the end.
pub(crate) async fn next_chunk(body: &mut Incoming) -> Result<Option<Bytes>, TransportError> {
    loop {
        let frame = tokio::time::timeout(BODY_IDLE_TIMEOUT, body.frame())
            .await
            .map_err(|_| {
                TransportError(format!(
                    "the response body stalled for {BODY_IDLE_TIMEOUT:?}"
                ))
            })?;
        match frame {
            None => return Ok(None),
            Some(Err(e)) => return Err(TransportError(format!("reading the response: {e}"))),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    return Ok(Some(data));
                }
                // Trailers carry nothing robodev reads.
            }
        }
    }
}
