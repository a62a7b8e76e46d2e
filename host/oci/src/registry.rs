//! The OCI distribution API calls robodev makes.
//!
//! The requests go through robodev's reqwest client ([`crate::transport`]), which follows
//! redirects; a 401's challenge is answered through oci-client ([`oci_client::Client::auth`]:
//! the `WWW-Authenticate` parsing and the token service exchange). What stays here is what
//! oci-client cannot bound: its manifest and blob calls read whole bodies with no size cap, no
//! deadline or stall rule and no progress, and quote the registry's error bodies whole, so the
//! distribution calls themselves (manifests, blobs, uploads, referrers) are made here, each body
//! read under [`MAX_MANIFEST_BYTES`]-style caps and the transfer limits.

use bytes::{Bytes, BytesMut};
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use reqwest::Url;
use serde::Deserialize;

use crate::auth::Credentials;
use crate::cache::{Cache, TempBlob};
use crate::client::{Http, Inner};
use crate::error::bounded;
use crate::manifest::{MANIFEST_ACCEPT, MANIFEST_MEDIA_TYPE};
use crate::meter::{Budget, Meter};
use crate::progress::{Direction, ProgressReporter};
use crate::reference::{Reference, is_loopback_host};
use crate::referrers::Descriptor;
use crate::transport::{RESPONSE_TIMEOUT, ReqBody, TransportError, chain, next_chunk};
use crate::{Error, cache};

/// How many redirects a request follows (registries send blobs to object storage).
pub const MAX_REDIRECTS: usize = 5;
/// The largest manifest accepted: real ones are a few KiB; this bounds what a hostile registry
/// can make robodev hold in memory.
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;
/// The largest error body read.
const MAX_SMALL_BODY: usize = 64 * 1024;
/// How many of the entries of a registry's error body (`{"errors":[...]}`) an error quotes;
/// the others are counted.
const MAX_LISTED_ERRORS: usize = 3;

/// What a session does, which decides the token scope asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Pull,
    Push,
}

/// The requests of one pull or push against one repository, sharing one authorization and one
/// deadline.
pub(crate) struct Session<'a> {
    inner: &'a Inner,
    http: &'a Http,
    reference: &'a Reference,
    /// `http://host:port` or `https://host:port`.
    base: String,
    access: Access,
    /// The `Authorization` value in use, once a challenge was answered.
    authorization: Option<HeaderValue>,
    /// The credentials for this registry and where they came from; loaded on first challenge.
    credentials: Option<Option<(Credentials, String)>>,
    /// The deadline of the whole pull or push, which starts with the session.
    budget: Budget,
}

impl<'a> Session<'a> {
    pub fn new(
        inner: &'a Inner,
        reference: &'a Reference,
        base: String,
        access: Access,
    ) -> Result<Self, Error> {
        let http = inner.http.as_ref().map_err(|(path, reason)| Error::Tls {
            reference: reference.to_string(),
            path: path.clone(),
            reason: reason.clone(),
        })?;
        Ok(Self {
            inner,
            http,
            reference,
            base,
            access,
            authorization: None,
            credentials: None,
            budget: Budget::start(inner.options.limits),
        })
    }

    fn registry(&self) -> &str {
        self.reference.registry()
    }

    fn repository_url(&self, rest: &str) -> String {
        format!("{}/v2/{}/{rest}", self.base, self.reference.repository())
    }

    /// An [`Error::Offline`] for a transport failure; the pull may replace `cache` when it
    /// falls back to the cache.
    fn offline(&self, reason: String) -> Error {
        Error::Offline {
            reference: self.reference.to_string(),
            registry: self.registry().to_owned(),
            reason,
            cache: match self.access {
                Access::Pull => "the cache cannot stand in for it".to_owned(),
                Access::Push => "a push needs the registry".to_owned(),
            },
        }
    }

    /// The error for a request or body that did not complete: [`Error::Offline`] when the
    /// registry failed us, [`Error::TransferTimeout`] when a limit tripped while `what` was
    /// being transferred (`total` bytes expected, when known).
    fn transport_error(
        &self,
        e: TransportError,
        what: &str,
        direction: Direction,
        total: Option<u64>,
    ) -> Error {
        match e {
            TransportError::Failed(reason) => self.offline(reason),
            TransportError::Insecure(host) => Error::Insecure {
                reference: self.reference.to_string(),
                host: bounded(&host),
            },
            TransportError::Certificate { host, reason } => self.certificate(&host, reason),
            TransportError::Limit { limit, done } => Error::TransferTimeout {
                reference: self.reference.to_string(),
                registry: self.registry().to_owned(),
                what: what.to_owned(),
                direction,
                done,
                total,
                limit: Box::new(limit),
            },
        }
    }

    /// An [`Error::Certificate`]: `host`'s certificate was refused for `reason`.
    fn certificate(&self, host: &str, reason: String) -> Error {
        Error::Certificate {
            reference: self.reference.to_string(),
            registry: self.registry().to_owned(),
            host: bounded(host),
            reason,
        }
    }

    /// A meter for a body starting now, against this session's deadline.
    fn meter(&self) -> Meter {
        Meter::new(self.budget, tokio::time::Instant::now())
    }

    fn unauthorized(&self, registry: &str, status: StatusCode) -> Error {
        Error::Unauthorized {
            reference: self.reference.to_string(),
            registry: bounded(registry),
            status: status.as_u16(),
            credentials: self
                .credentials
                .as_ref()
                .and_then(|c| c.as_ref())
                .map(|(_, source)| source.clone()),
        }
    }

    /// Sends a request to the registry, answering one authentication challenge; reqwest
    /// follows redirects. `what` names what is asked for, for errors.
    async fn request(
        &mut self,
        method: Method,
        url: &str,
        headers: &[(http::HeaderName, &str)],
        body: ReqBody,
        what: &str,
    ) -> Result<reqwest::Response, Error> {
        let direction = if method == Method::GET || method == Method::HEAD {
            Direction::Download
        } else {
            Direction::Upload
        };
        let total = (!matches!(body, ReqBody::Empty)).then(|| body.len());
        let registry_origin = self.parse_url(url)?.origin();
        let mut answered_challenge = false;
        loop {
            let mut map = HeaderMap::new();
            for (name, value) in headers {
                let value = HeaderValue::from_str(value)
                    .map_err(|_| self.protocol_error(0, format!("invalid {name} header value")))?;
                map.insert(name.clone(), value);
            }
            // reqwest drops it when a redirect leaves the registry's host.
            if let Some(auth) = &self.authorization {
                map.insert(AUTHORIZATION, auth.clone());
            }
            tracing::trace!(%method, %url, "registry request");
            let response = self
                .http
                .transport
                .send(method.clone(), url, map, body.clone(), &self.budget)
                .await
                .map_err(|e| self.transport_error(e, what, direction, total))?;
            let status = response.status();
            let same_origin = response.url().origin() == registry_origin;
            if status == StatusCode::UNAUTHORIZED && same_origin && !answered_challenge {
                answered_challenge = true;
                if self.answer_challenge(&response).await? {
                    continue;
                }
                return Err(self.unauthorized(self.registry(), status));
            }
            if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                let host = if same_origin {
                    self.registry().to_owned()
                } else {
                    authority(response.url())
                };
                return Err(self.unauthorized(&host, status));
            }
            return Ok(response);
        }
    }

    fn parse_url(&self, url: &str) -> Result<Url, Error> {
        Url::parse(url)
            .map_err(|e| self.protocol_error(0, format!("invalid URL {:?}: {e}", bounded(url))))
    }

    /// Refuses plain HTTP to a host that may not have it (an upload location or a token
    /// realm).
    fn check_transport(&self, url: &Url) -> Result<(), Error> {
        if url.scheme() == "https" {
            return Ok(());
        }
        let authority = authority(url);
        let host = url.host_str().unwrap_or_default();
        if url.scheme() == "http" && self.inner.plain_http_allowed(&authority, host) {
            Ok(())
        } else {
            Err(Error::Insecure {
                reference: self.reference.to_string(),
                host: bounded(&authority),
            })
        }
    }

    fn protocol_error(&self, status: u16, message: String) -> Error {
        Error::Registry {
            reference: self.reference.to_string(),
            registry: self.registry().to_owned(),
            status,
            message,
        }
    }

    async fn credentials(&mut self) -> Result<Option<(Credentials, String)>, Error> {
        if let Some(known) = &self.credentials {
            return Ok(known.clone());
        }
        let registry = self.registry().to_owned();
        let found = if let Some(given) = self.inner.options.credentials.get(&registry) {
            Some((given.clone(), "ClientOptions::credentials".to_owned()))
        } else {
            self.inner
                .options
                .docker_config
                .lookup(
                    &registry,
                    self.inner.options.credential_helper_path.as_deref(),
                )
                .await
                .map_err(|e| e.into_error(self.reference))?
        };
        self.credentials = Some(found.clone());
        Ok(found)
    }

    /// Sets `authorization` from a 401's challenge; `false` when there is nothing to answer
    /// with (no credentials for a Basic challenge, or no usable challenge).
    async fn answer_challenge(&mut self, response: &reqwest::Response) -> Result<bool, Error> {
        let credentials = self.credentials().await?;
        if let Some((Credentials::Bearer(token), _)) = &credentials {
            let value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                self.protocol_error(0, "the bearer token is not a valid header value".to_owned())
            })?;
            self.authorization = Some(value);
            return Ok(true);
        }
        let basic = credentials.as_ref().and_then(|(c, _)| match c {
            Credentials::Basic { username, password } => Some((username.clone(), password.clone())),
            _ => None,
        });
        let realm = response
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(bearer_realm);
        if let Some(realm) = realm {
            // oci-client sends the credentials to the realm whatever its scheme: the plain
            // HTTP rule is applied to it here first.
            let realm_url = self.parse_url(&realm).map_err(|_| {
                self.protocol_error(
                    401,
                    format!(
                        "the token realm {:?} is not an http(s) URL",
                        bounded(&realm)
                    ),
                )
            })?;
            self.check_transport(&realm_url)?;
            if let Some(token) = self.fetch_token(&realm_url, basic.clone()).await? {
                let value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                    self.protocol_error(0, "the token service sent an invalid token".to_owned())
                })?;
                self.authorization = Some(value);
                return Ok(true);
            }
        }
        // A Basic challenge, or none at all, is answered with Basic (registries that omit the
        // header, as some proxies strip it, accept that).
        if let Some((username, password)) = basic {
            let header = Credentials::basic(username, password).basic_header();
            let value = header
                .and_then(|h| HeaderValue::from_str(&h).ok())
                .ok_or_else(|| {
                    self.protocol_error(
                        0,
                        "the credentials are not a valid header value".to_owned(),
                    )
                })?;
            self.authorization = Some(value);
            return Ok(true);
        }
        Ok(false)
    }

    /// Gets a bearer token through oci-client (the registry's challenge, then its token
    /// service, asked for this session's scope); `None` when the registry wants no token.
    async fn fetch_token(
        &mut self,
        realm: &Url,
        basic: Option<(String, String)>,
    ) -> Result<Option<String>, Error> {
        let realm_host = bounded(&authority(realm));
        let oci = if self.base.starts_with("https://") {
            &self.http.oci_https
        } else {
            &self.http.oci_http
        };
        let target = oci_client::Reference::with_tag(
            self.registry().to_owned(),
            self.reference.repository().to_owned(),
            "latest".to_owned(),
        );
        let auth = match basic {
            Some((username, password)) => {
                oci_client::secrets::RegistryAuth::Basic(username, password)
            }
            None => oci_client::secrets::RegistryAuth::Anonymous,
        };
        // Ask for what this session needs, not what the first request's challenge named: a
        // push's first request is a HEAD, whose challenge asks only for `pull`.
        let operation = match self.access {
            Access::Pull => oci_client::RegistryOperation::Pull,
            Access::Push => oci_client::RegistryOperation::Push,
        };
        let now = tokio::time::Instant::now();
        let answer_by = self.budget.bound(now, RESPONSE_TIMEOUT);
        let answer = tokio::time::timeout_at(answer_by, oci.auth(&target, &auth, operation)).await;
        let what = format!("token from {realm_host}");
        match answer {
            Err(_) => Err(match self.budget.expired(tokio::time::Instant::now()) {
                Some(limit) => self.transport_error(
                    TransportError::Limit { limit, done: 0 },
                    &what,
                    Direction::Download,
                    None,
                ),
                None => self.offline(format!(
                    "token service {realm_host}: no answer within {RESPONSE_TIMEOUT:?}"
                )),
            }),
            Ok(Ok(token)) => Ok(token.filter(|t| !t.is_empty())),
            Ok(Err(oci_client::errors::OciDistributionError::AuthenticationFailure(_))) => {
                Err(self.unauthorized(&realm_host, StatusCode::UNAUTHORIZED))
            }
            Ok(Err(oci_client::errors::OciDistributionError::RequestError(e))) => {
                Err(match crate::transport::certificate_failure(&e) {
                    Some(reason) => self.certificate(&realm_host, reason),
                    None => self.offline(format!("token service {realm_host}: {}", chain(&e))),
                })
            }
            Ok(Err(e)) => Err(self.protocol_error(
                0,
                format!("token service {realm_host}: {}", bounded(&e.to_string())),
            )),
        }
    }

    /// Reads a whole body of at most `limit` bytes; `what` names it for errors and stall
    /// warnings (there is no progress callback for these small bodies).
    async fn read_limited(
        &self,
        response: reqwest::Response,
        limit: usize,
        what: &str,
    ) -> Result<Bytes, Error> {
        let status = response.status().as_u16();
        let total = response
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let mut body = response;
        let mut out = BytesMut::new();
        let mut meter = self.meter();
        let on_stall = |done: u64, stall: crate::progress::Stall| {
            tracing::warn!(
                reference = %self.reference,
                done,
                "{what} from registry {}: {stall}",
                self.registry()
            );
        };
        while let Some(chunk) = next_chunk(&mut body, &mut meter, on_stall)
            .await
            .map_err(|e| self.transport_error(e, what, Direction::Download, total))?
        {
            if out.len() + chunk.len() > limit {
                return Err(self
                    .protocol_error(status, format!("the response is larger than {limit} bytes")));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out.freeze())
    }

    async fn read_small(&self, response: reqwest::Response, what: &str) -> Result<Bytes, Error> {
        self.read_limited(response, MAX_SMALL_BODY, what).await
    }

    /// Turns an unexpected answer into an error; `what` names the thing asked for (for 404).
    async fn fail(&self, response: reqwest::Response, what: String) -> Error {
        let status = response.status();
        let body = match self
            .read_small(response, &format!("the error answer for {what}"))
            .await
        {
            Ok(body) => body,
            Err(e) => return e,
        };
        if status == StatusCode::NOT_FOUND {
            let code = error_codes(&body);
            let what = if code.iter().any(|c| c == "NAME_UNKNOWN") {
                format!("repository {}", self.reference.repository())
            } else {
                what
            };
            return Error::NotFound {
                reference: self.reference.to_string(),
                registry: self.registry().to_owned(),
                what,
            };
        }
        self.protocol_error(status.as_u16(), error_message(&body))
    }

    /// GETs the manifest named by `tag_or_digest`: its bytes and `Content-Type`.
    pub async fn get_manifest(
        &mut self,
        tag_or_digest: &str,
    ) -> Result<(Bytes, Option<String>), Error> {
        let url = self.repository_url(&format!("manifests/{tag_or_digest}"));
        let what = format!("manifest {tag_or_digest}");
        let response = self
            .request(
                Method::GET,
                &url,
                &[(ACCEPT, MANIFEST_ACCEPT)],
                ReqBody::Empty,
                &what,
            )
            .await?;
        if response.status() != StatusCode::OK {
            let what = if tag_or_digest.starts_with("sha256:") {
                format!(
                    "manifest {tag_or_digest} of repository {}",
                    self.reference.repository()
                )
            } else {
                format!(
                    "tag {tag_or_digest} of repository {}",
                    self.reference.repository()
                )
            };
            return Err(self.fail(response, what).await);
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned());
        let bytes = self
            .read_limited(response, MAX_MANIFEST_BYTES, &what)
            .await?;
        Ok((bytes, content_type))
    }

    /// GETs the small blob `digest` (at most `limit` bytes) into memory, checking its digest:
    /// for signature payloads, which are never cached.
    pub async fn get_small_blob(&mut self, digest: &str, limit: usize) -> Result<Bytes, Error> {
        let url = self.repository_url(&format!("blobs/{digest}"));
        let what = format!("blob {digest}");
        let response = self
            .request(Method::GET, &url, &[], ReqBody::Empty, &what)
            .await?;
        if response.status() != StatusCode::OK {
            let what = format!(
                "blob {digest} of repository {}",
                self.reference.repository()
            );
            return Err(self.fail(response, what).await);
        }
        let bytes = self.read_limited(response, limit, &what).await?;
        let found = cache::sha256_digest(&bytes);
        if found != digest {
            return Err(Error::DigestMismatch {
                reference: self.reference.to_string(),
                what: "blob downloaded from the registry".to_owned(),
                expected: digest.to_owned(),
                found,
            });
        }
        Ok(bytes)
    }

    /// Downloads the blob `layer` into a cache temp file, checking its size and digest.
    pub async fn download_blob(
        &mut self,
        cache: &Cache,
        layer: &Descriptor,
    ) -> Result<TempBlob, Error> {
        let url = self.repository_url(&format!("blobs/{}", layer.digest));
        let what = format!("blob {}", layer.digest);
        let response = self
            .request(Method::GET, &url, &[], ReqBody::Empty, &what)
            .await?;
        if response.status() != StatusCode::OK {
            let what = format!(
                "blob {} of repository {}",
                layer.digest,
                self.reference.repository()
            );
            return Err(self.fail(response, what).await);
        }
        let mut progress = ProgressReporter::new(
            self.inner.options.progress.clone(),
            self.reference.to_string(),
            Direction::Download,
            layer.digest.clone(),
            layer.size,
        );
        progress.report(0);
        let mut temp = cache.temp_blob(self.reference).await?;
        let mut body = response;
        let mut meter = self.meter();
        while let Some(chunk) = next_chunk(&mut body, &mut meter, |done, stall| {
            progress.report_stall(done, stall);
        })
        .await
        .map_err(|e| match e {
            TransportError::Failed(reason) => {
                self.offline(format!("downloading {}: {reason}", layer.digest))
            }
            limit => self.transport_error(limit, &what, Direction::Download, Some(layer.size)),
        })? {
            if temp.written + chunk.len() as u64 > layer.size {
                return Err(Error::DigestMismatch {
                    reference: self.reference.to_string(),
                    what: format!(
                        "layer longer than the {} bytes its manifest declares",
                        layer.size
                    ),
                    expected: layer.digest.clone(),
                    found: "(download stopped)".to_owned(),
                });
            }
            temp.write(&chunk).await.map_err(|e| {
                cache::io_error(self.reference, "writing cache temp file", temp.path(), e)
            })?;
            progress.report(temp.written);
        }
        let found = temp.digest();
        if found != layer.digest || temp.written != layer.size {
            return Err(Error::DigestMismatch {
                reference: self.reference.to_string(),
                what: format!(
                    "layer downloaded from the registry ({} bytes, manifest says {})",
                    temp.written, layer.size
                ),
                expected: layer.digest.clone(),
                found,
            });
        }
        Ok(temp)
    }

    /// Whether the registry already has the blob `digest` (HEAD).
    pub async fn blob_exists(&mut self, digest: &str) -> Result<bool, Error> {
        let url = self.repository_url(&format!("blobs/{digest}"));
        let response = self
            .request(
                Method::HEAD,
                &url,
                &[],
                ReqBody::Empty,
                &format!("blob {digest}"),
            )
            .await?;
        match response.status() {
            StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.fail(response, format!("blob {digest}")).await),
        }
    }

    /// Uploads a blob: POST starts an upload session, one PUT sends the whole blob and its
    /// digest (the distribution spec's monolithic upload, which every registry supports).
    pub async fn upload_blob(&mut self, digest: &str, body: ReqBody) -> Result<(), Error> {
        let url = self.repository_url("blobs/uploads/");
        let what = format!("upload of blob {digest}");
        let response = self
            .request(Method::POST, &url, &[], ReqBody::Empty, &what)
            .await?;
        if response.status() != StatusCode::ACCEPTED {
            return Err(self
                .fail(
                    response,
                    format!("repository {}", self.reference.repository()),
                )
                .await);
        }
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| {
                self.protocol_error(202, "the upload session has no Location".to_owned())
            })?;
        let base = self.parse_url(&url)?;
        let mut put = base.join(&location).map_err(|_| {
            self.protocol_error(
                202,
                format!("invalid upload Location {:?}", bounded(&location)),
            )
        })?;
        put.query_pairs_mut().append_pair("digest", digest);
        if put.origin() != base.origin() {
            // The upload may continue elsewhere, but never in the clear unless allowed.
            self.check_transport(&put)?;
        }
        let put = put.to_string();
        let response = self
            .request(
                Method::PUT,
                &put,
                &[(CONTENT_TYPE, "application/octet-stream")],
                body,
                &what,
            )
            .await?;
        if response.status() != StatusCode::CREATED {
            return Err(self
                .fail(response, format!("upload of blob {digest}"))
                .await);
        }
        Ok(())
    }

    /// PUTs an image manifest under `tag`; returns the digest the registry reports, if any.
    pub async fn put_manifest(
        &mut self,
        tag: &str,
        manifest: Bytes,
    ) -> Result<Option<String>, Error> {
        self.put_manifest_as(tag, manifest, MANIFEST_MEDIA_TYPE)
            .await
    }

    /// GETs the OCI 1.1 referrers list of `digest` (an image index, at most
    /// [`MAX_MANIFEST_BYTES`]); `None` when the registry has no referrers API (404).
    pub async fn get_referrers(
        &mut self,
        digest: &str,
        artifact_type: Option<&str>,
    ) -> Result<Option<Bytes>, Error> {
        let mut url = self.parse_url(&self.repository_url(&format!("referrers/{digest}")))?;
        if let Some(artifact_type) = artifact_type {
            url.query_pairs_mut()
                .append_pair("artifactType", artifact_type);
        }
        let what = format!("referrers of {digest}");
        let response = self
            .request(
                Method::GET,
                url.as_str(),
                &[(ACCEPT, crate::manifest::INDEX_MEDIA_TYPE)],
                ReqBody::Empty,
                &what,
            )
            .await?;
        match response.status() {
            StatusCode::OK => Ok(Some(
                self.read_limited(response, MAX_MANIFEST_BYTES, &what)
                    .await?,
            )),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(self.fail(response, what).await),
        }
    }

    /// PUTs a manifest of `media_type` under `tag` (or digest); returns the digest the
    /// registry reports, if any.
    pub async fn put_manifest_as(
        &mut self,
        tag: &str,
        manifest: Bytes,
        media_type: &str,
    ) -> Result<Option<String>, Error> {
        let url = self.repository_url(&format!("manifests/{tag}"));
        let response = self
            .request(
                Method::PUT,
                &url,
                &[(CONTENT_TYPE, media_type)],
                ReqBody::Bytes(manifest),
                &format!("manifest {tag}"),
            )
            .await?;
        if response.status() != StatusCode::CREATED {
            return Err(self.fail(response, format!("tag {tag}")).await);
        }
        Ok(response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned))
    }
}

/// `host[:port]` of `url`.
fn authority(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// The realm of a `Bearer` challenge in one `WWW-Authenticate` value, if it is one. Only the
/// realm is read here (to hold it to the plain HTTP rule); oci-client reads the challenge
/// itself.
pub(crate) fn bearer_realm(value: &str) -> Option<String> {
    let (scheme, params) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let start = params.to_ascii_lowercase().find("realm=")? + "realm=".len();
    let rest = &params[start..];
    let realm = match rest.strip_prefix('"') {
        Some(quoted) => quoted.split('"').next()?,
        None => rest.split(',').next()?.trim(),
    };
    (!realm.is_empty()).then(|| realm.to_owned())
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<ErrorEntry>,
}

#[derive(Deserialize)]
struct ErrorEntry {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

fn error_codes(body: &[u8]) -> Vec<String> {
    serde_json::from_slice::<ErrorBody>(body)
        .map(|b| b.errors.into_iter().map(|e| e.code).collect())
        .unwrap_or_default()
}

/// The registry's error messages (`{"errors":[{"code","message"}]}`: the first
/// [`MAX_LISTED_ERRORS`], each cut to [`crate::error::MAX_QUOTED_CHARS`]), or the body's text
/// (cut the same way).
fn error_message(body: &[u8]) -> String {
    if let Ok(parsed) = serde_json::from_slice::<ErrorBody>(body)
        && !parsed.errors.is_empty()
    {
        let mut shown = parsed
            .errors
            .iter()
            .take(MAX_LISTED_ERRORS)
            .map(|e| bounded(&format!("{}: {}", e.code, e.message)))
            .collect::<Vec<_>>()
            .join("; ");
        if parsed.errors.len() > MAX_LISTED_ERRORS {
            shown.push_str(&format!(
                "; and {} more errors",
                parsed.errors.len() - MAX_LISTED_ERRORS
            ));
        }
        return shown;
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        "(no message)".to_owned()
    } else {
        bounded(text)
    }
}

/// Whether plain HTTP to `host` is allowed for this client: loopback, or declared insecure.
pub(crate) fn plain_http_allowed(
    insecure: bool,
    insecure_hosts: &[String],
    authority: &str,
    host: &str,
) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    insecure
        || is_loopback_host(bare)
        || insecure_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(authority) || h.eq_ignore_ascii_case(bare))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bearer_realms() {
        assert_eq!(
            bearer_realm(r#"Bearer realm="https://auth.example/token",service="reg""#).as_deref(),
            Some("https://auth.example/token")
        );
        assert_eq!(
            bearer_realm("bearer service=x, realm=http://127.0.0.1:1/t").as_deref(),
            Some("http://127.0.0.1:1/t")
        );
        assert_eq!(bearer_realm(r#"Basic realm="registry""#), None);
    }

    #[test]
    fn error_messages() {
        let body =
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#;
        assert_eq!(error_message(body), "MANIFEST_UNKNOWN: manifest unknown");
        assert_eq!(error_codes(body), vec!["MANIFEST_UNKNOWN".to_owned()]);
        assert_eq!(error_message(b"  "), "(no message)");
        assert_eq!(error_message(b"oops"), "oops");
    }

    #[test]
    fn error_messages_are_bounded() {
        let long = "x".repeat(100_000);
        let text = error_message(long.as_bytes());
        assert!(text.len() < 300, "{} chars", text.len());
        assert!(text.ends_with("(99800 more characters)"), "{text}");

        let entries: Vec<_> = (0..5000)
            .map(|i| serde_json::json!({"code": "DENIED", "message": format!("{i} {long}")}))
            .collect();
        let body = serde_json::to_vec(&serde_json::json!({ "errors": entries })).unwrap();
        let text = error_message(&body);
        assert!(text.len() < 1000, "{} chars", text.len());
        assert!(text.starts_with("DENIED: 0 xxx"), "{text}");
        assert!(text.ends_with("; and 4997 more errors"), "{text}");
    }

    #[test]
    fn plain_http_rules() {
        let none: Vec<String> = Vec::new();
        assert!(plain_http_allowed(
            false,
            &none,
            "127.0.0.1:5000",
            "127.0.0.1"
        ));
        assert!(plain_http_allowed(false, &none, "[::1]:5000", "[::1]"));
        assert!(plain_http_allowed(
            false,
            &none,
            "localhost:5000",
            "localhost"
        ));
        assert!(!plain_http_allowed(
            false,
            &none,
            "reg.example:5000",
            "reg.example"
        ));
        assert!(plain_http_allowed(
            true,
            &none,
            "reg.example:5000",
            "reg.example"
        ));
        let listed = vec!["reg.example:5000".to_owned()];
        assert!(plain_http_allowed(
            false,
            &listed,
            "reg.example:5000",
            "reg.example"
        ));
        assert!(!plain_http_allowed(
            false,
            &listed,
            "other.example",
            "other.example"
        ));
    }
}
