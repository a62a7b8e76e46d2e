//! [`Client`]: pull and push, with the cache and the offline fallback.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncReadExt as _;

use crate::Error;
use crate::auth::{Credentials, DockerConfig};
use crate::cache::{BlobState, Cache, io_error, sha256_digest};
use crate::error::bounded;
use crate::manifest::{
    ANNOTATION_CREATED, ANNOTATION_TITLE, ComponentDescription, MAX_DESCRIBED_BYTES, Refusal,
    WASM_CONFIG_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE, WasmConfig, WasmKind, image_manifest,
};
use crate::meter::TransferLimits;
use crate::progress::{Direction, ProgressFn, ProgressReporter};
use crate::reference::{Reference, Transport};
use crate::referrers::Descriptor;
use crate::registry::{Access, Session, plain_http_allowed};
use crate::transport::{self, ReqBody};

/// The largest layer a pull accepts, so a hostile or mistaken manifest cannot fill the disk.
/// Real components are kilobytes to tens of megabytes (an 18 MB componentize-py component).
pub const MAX_LAYER_BYTES: u64 = 1024 * 1024 * 1024;

/// The HTTP statuses (502 Bad Gateway, 503 Service Unavailable, 504 Gateway Timeout) that a
/// pull treats like an unreachable registry, falling back to the cache.
const GATEWAY_UNAVAILABLE_FIRST: u16 = 502;
const GATEWAY_UNAVAILABLE_LAST: u16 = 504;

/// How a [`Client`] reaches registries and where it caches.
///
/// ```
/// use robodev_oci::{ClientOptions, Credentials};
///
/// let options = ClientOptions::new("/var/cache/robodev/oci")
///     .credentials("ghcr.io", Credentials::basic("robot", "token"))
///     .insecure_host("registry.lan:5000");
/// assert!(!options.insecure);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct ClientOptions {
    /// The cache directory (created when first needed). See the crate docs for its layout.
    pub cache_dir: PathBuf,
    /// Credentials per registry, keyed as [`Reference::registry`] names it (`host[:port]`,
    /// lowercase; `docker.io` for Docker Hub). They win over the docker config file, and go to
    /// no other registry.
    pub credentials: BTreeMap<String, Credentials>,
    /// Where to read docker's `config.json` from, for registries without explicit credentials.
    pub docker_config: DockerConfig,
    /// Allow plain HTTP to every registry (for test setups only: credentials and content then
    /// travel in the clear, and content integrity rests on digests alone). This permits
    /// `oci+http://` references to any host; `oci://` references to hosts not in
    /// [`insecure_hosts`](Self::insecure_hosts) still use HTTPS.
    pub insecure: bool,
    /// Registries (`host` or `host:port`) that `oci://` references reach over plain HTTP and
    /// `oci+http://` references may name. Loopback registries never need to be listed.
    pub insecure_hosts: Vec<String>,
    /// Called with the progress of every blob transfer (it is also logged with `tracing` at
    /// debug level), and with its stalls (logged as warnings when there is no callback).
    pub progress: Option<ProgressFn>,
    /// The overall deadline of one pull or push, and the stall rule of its transfers.
    pub limits: TransferLimits,
    /// PEM files of CA certificates trusted in addition to the webpki roots (a private
    /// registry's CA). A file that cannot be read or holds no certificate fails every pull and
    /// push with [`Error::Tls`].
    pub ca_files: Vec<PathBuf>,
    /// Where docker credential helpers (`docker-credential-NAME`, named by the docker config's
    /// `credsStore` and `credHelpers`) are looked for, in `PATH` form; `None` means the
    /// process's `PATH`.
    pub credential_helper_path: Option<std::ffi::OsString>,
    /// The blob cache's size cap, bytes ([`DEFAULT_CACHE_BYTES`] by default): past it the
    /// least recently used blobs are removed (a tag whose blob went is pulled again).
    pub cache_max_bytes: u64,
}

/// The OCI blob cache's default size cap: 4 GiB.
pub const DEFAULT_CACHE_BYTES: u64 = 4 << 30;

impl ClientOptions {
    /// Options with a cache in `cache_dir`, no explicit credentials, the docker config file in
    /// its usual place, and TLS required except for loopback registries.
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        Self {
            cache_dir: cache_dir.into(),
            credentials: BTreeMap::new(),
            docker_config: DockerConfig::Default,
            insecure: false,
            insecure_hosts: Vec::new(),
            progress: None,
            limits: TransferLimits::default(),
            ca_files: Vec::new(),
            credential_helper_path: None,
            cache_max_bytes: DEFAULT_CACHE_BYTES,
        }
    }

    /// Trusts the CA certificates in the PEM file `path` too.
    #[must_use]
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_files.push(path.into());
        self
    }

    /// Looks for docker credential helpers in these directories (`PATH` form) instead of the
    /// process's `PATH`.
    #[must_use]
    pub fn credential_helper_path(mut self, path: impl Into<std::ffi::OsString>) -> Self {
        self.credential_helper_path = Some(path.into());
        self
    }

    /// The usual cache directory: `$XDG_CACHE_HOME/robodev/oci`, else
    /// `$HOME/.cache/robodev/oci`; `None` when neither variable is set.
    pub fn default_cache_dir() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|h| !h.is_empty())
                    .map(|h| Path::new(&h).join(".cache"))
            })?;
        Some(base.join("robodev").join("oci"))
    }

    /// Adds credentials for `registry` (`host[:port]`; Docker Hub as `docker.io`, and
    /// `index.docker.io` is taken to mean it too).
    #[must_use]
    pub fn credentials(mut self, registry: impl Into<String>, credentials: Credentials) -> Self {
        let mut registry = registry.into().to_ascii_lowercase();
        if registry == "index.docker.io" {
            registry = "docker.io".to_owned();
        }
        self.credentials.insert(registry, credentials);
        self
    }

    /// Sets where the docker config file is read from.
    #[must_use]
    pub fn docker_config(mut self, docker_config: DockerConfig) -> Self {
        self.docker_config = docker_config;
        self
    }

    /// Allows (or forbids) plain HTTP to every registry.
    #[must_use]
    pub fn insecure(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }

    /// Allows plain HTTP to `host` (`host` or `host:port`).
    #[must_use]
    pub fn insecure_host(mut self, host: impl Into<String>) -> Self {
        self.insecure_hosts.push(host.into());
        self
    }

    /// Sets the progress callback.
    #[must_use]
    pub fn progress(mut self, progress: ProgressFn) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Sets the overall deadline of one pull or push (default
    /// [`crate::limits::DEFAULT_TRANSFER_TIMEOUT`]).
    #[must_use]
    pub fn transfer_timeout(mut self, timeout: Duration) -> Self {
        self.limits.timeout = timeout;
        self
    }

    /// Sets the deadline and the stall rule.
    #[must_use]
    pub fn transfer_limits(mut self, limits: TransferLimits) -> Self {
        self.limits = limits;
        self
    }
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("cache_dir", &self.cache_dir)
            .field("credentials", &self.credentials)
            .field("docker_config", &self.docker_config)
            .field("insecure", &self.insecure)
            .field("insecure_hosts", &self.insecure_hosts)
            .field("progress", &self.progress.as_ref().map(|_| "Fn"))
            .field("limits", &self.limits)
            .field("ca_files", &self.ca_files)
            .field("credential_helper_path", &self.credential_helper_path)
            .finish()
    }
}

/// What a pull produced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pulled {
    /// The reference pinned to the manifest digest (log or show this one).
    pub reference: Reference,
    /// The `.wasm` in the cache (`CACHE_DIR/blobs/sha256/<hex>`, no extension). Read it, never
    /// modify it: it is shared by every pull of that content.
    pub path: PathBuf,
    /// The manifest digest the reference resolved to.
    pub digest: String,
    /// The Wasm layer's digest (the sha256 of the file at `path`).
    pub layer_digest: String,
    /// The Wasm layer's media type, as the artifact declares it.
    pub media_type: String,
    /// The Wasm layer's size in bytes.
    pub size: u64,
    /// The layer came from the cache: no layer bytes were downloaded.
    pub from_cache: bool,
    /// The registry could not be reached; the digest is the one the tag resolved to when last
    /// pulled (a warning was logged). Always implies `from_cache`.
    pub offline: bool,
}

/// What a push produced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pushed {
    /// The reference pinned to the manifest digest: pull this to get exactly what was pushed.
    pub reference: Reference,
    /// The manifest digest.
    pub digest: String,
    /// The Wasm layer's digest.
    pub layer_digest: String,
    /// The config blob's digest.
    pub config_digest: String,
    /// The Wasm layer's size in bytes.
    pub size: u64,
}

/// An OCI registry client for Wasm component artifacts. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub options: ClientOptions,
    /// The HTTP clients, or why they could not be made (a bad CA file), reported by every
    /// pull and push.
    pub http: Result<Http, (PathBuf, String)>,
    pub cache: Cache,
}

/// robodev's HTTP client for the distribution API, and oci-client for the authentication
/// exchange (one per URL scheme of the registry: oci-client fixes it per client).
pub(crate) struct Http {
    pub transport: transport::Transport,
    pub oci_https: oci_client::Client,
    pub oci_http: oci_client::Client,
}

impl Http {
    fn new(options: &ClientOptions) -> Result<Self, (PathBuf, String)> {
        let tls = transport::rustls_config(&options.ca_files)?;
        let insecure = options.insecure;
        let hosts = options.insecure_hosts.clone();
        let transport = transport::Transport::new(tls, move |authority, host| {
            plain_http_allowed(insecure, &hosts, authority, host)
        })
        .map_err(|e| (PathBuf::new(), e))?;
        let mut extra_root_certificates = Vec::new();
        for path in &options.ca_files {
            let data = std::fs::read(path).map_err(|e| (path.clone(), e.to_string()))?;
            extra_root_certificates.push(oci_client::client::Certificate {
                encoding: oci_client::client::CertificateEncoding::Pem,
                data,
            });
        }
        let oci = |protocol| {
            let config = oci_client::client::ClientConfig {
                protocol,
                extra_root_certificates: extra_root_certificates.clone(),
                read_timeout: Some(transport::BODY_IDLE_TIMEOUT),
                connect_timeout: Some(transport::CONNECT_TIMEOUT),
                user_agent: concat!("robodev-oci/", env!("CARGO_PKG_VERSION")),
                ..Default::default()
            };
            oci_client::Client::try_from(config).map_err(|e| (PathBuf::new(), e.to_string()))
        };
        Ok(Self {
            transport,
            oci_https: oci(oci_client::client::ClientProtocol::Https)?,
            oci_http: oci(oci_client::client::ClientProtocol::Http)?,
        })
    }
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inner")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Inner {
    pub fn plain_http_allowed(&self, authority: &str, host: &str) -> bool {
        plain_http_allowed(
            self.options.insecure,
            &self.options.insecure_hosts,
            authority,
            host,
        )
    }
}

impl Client {
    /// A client with these options. Nothing is touched until the first pull or push.
    pub fn new(options: ClientOptions) -> Self {
        crate::tls::install_default_provider();
        let cache = Cache::new(options.cache_dir.clone()).with_max_bytes(options.cache_max_bytes);
        let http = Http::new(&options);
        Self {
            inner: Arc::new(Inner {
                options,
                http,
                cache,
            }),
        }
    }

    /// The options this client was made with.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// `http://REGISTRY` or `https://REGISTRY` for `reference`, refusing plain HTTP where it
    /// is not allowed before anything is sent.
    fn base_url(&self, reference: &Reference) -> Result<String, Error> {
        let registry = reference.registry();
        let allowed = self.inner.plain_http_allowed(registry, reference.host());
        let https = match reference.transport() {
            Transport::Https => true,
            Transport::Http if allowed => false,
            Transport::Http => {
                return Err(Error::Insecure {
                    reference: reference.to_string(),
                    host: registry.to_owned(),
                });
            }
            // Loopback registries (test and port-forwarded ones) rarely have certificates; a
            // host listed as insecure asked for plain HTTP by being listed. `insecure` alone
            // does not switch a public registry to HTTP: it only permits it.
            Transport::Auto => {
                !(reference.is_loopback()
                    || self
                        .inner
                        .options
                        .insecure_hosts
                        .iter()
                        .any(|h| h.eq_ignore_ascii_case(registry) || h == reference.host()))
            }
        };
        Ok(format!(
            "{}://{}",
            if https { "https" } else { "http" },
            reference.resolve_registry()
        ))
    }

    /// A session with `reference`'s repository, for requests other than pull and push (the
    /// signature module's).
    pub(crate) fn session<'a>(
        &'a self,
        reference: &'a Reference,
        access: Access,
    ) -> Result<Session<'a>, Error> {
        let base = self.base_url(reference)?;
        Session::new(&self.inner, reference, base, access)
    }

    /// Pulls the Wasm component `reference` names into the cache and returns where it is.
    ///
    /// The manifest is always asked for (a tag may have moved), unless the registry cannot be
    /// reached (no connection, or a gateway answering 502, 503 or 504): then the digest the tag last resolved to (or the pinned digest) is served from
    /// the cache, with a warning. Every blob is verified against its digest before use; the
    /// layer is downloaded only when the cache lacks it (or holds a damaged copy).
    ///
    /// # Errors
    /// [`Error::Insecure`] before any request when plain HTTP is not allowed;
    /// [`Error::Unauthorized`], [`Error::NotFound`], [`Error::Registry`] from the registry;
    /// [`Error::DigestMismatch`] when a pinned digest is not what the tag names, or content
    /// does not hash to its digest; [`Error::NotAWasmArtifact`] when the manifest has no single
    /// Wasm layer; [`Error::Offline`] when the registry is unreachable and the cache cannot
    /// stand in; [`Error::Certificate`] when the registry's certificate is refused (the cache
    /// never stands in for that); [`Error::TransferTimeout`] when the pull takes longer than
    /// [`ClientOptions::limits`] allow (if the manifest itself is what is too slow, the cache
    /// stands in when it can, as for an unreachable registry); [`Error::Io`] for the cache's
    /// files.
    pub async fn pull(&self, reference: &Reference) -> Result<Pulled, Error> {
        let base = self.base_url(reference)?;
        let mut session = Session::new(&self.inner, reference, base, Access::Pull)?;
        // By tag when there is one, so that a pinned digest is checked against the tag.
        let by = reference.tag().or(reference.digest()).unwrap_or_default();
        tracing::info!(reference = %reference, "pulling");
        match session.get_manifest(by).await {
            Ok((manifest, content_type)) => {
                self.pull_online(&mut session, reference, manifest, content_type)
                    .await
            }
            Err(Error::Offline { reason, .. }) => self.pull_offline(reference, reason).await,
            // A registry too slow to answer with a manifest is as good as down: the cache may
            // stand in; when it cannot, the user needs to know which limit tripped.
            Err(slow @ Error::TransferTimeout { .. }) => {
                match self.pull_offline(reference, slow.to_string()).await {
                    Err(Error::Offline { .. }) => Err(slow),
                    other => other,
                }
            }
            // A gateway in front of the registry saying it is down or unreachable (a
            // maintenance page, a dead backend) is an outage too, not an answer.
            Err(Error::Registry {
                status: status @ GATEWAY_UNAVAILABLE_FIRST..=GATEWAY_UNAVAILABLE_LAST,
                message,
                ..
            }) => {
                self.pull_offline(reference, format!("HTTP {status}: {message}"))
                    .await
            }
            Err(e) => Err(e),
        }
    }

    async fn pull_online(
        &self,
        session: &mut Session<'_>,
        reference: &Reference,
        manifest_bytes: Bytes,
        content_type: Option<String>,
    ) -> Result<Pulled, Error> {
        let digest = sha256_digest(&manifest_bytes);
        match (reference.tag(), reference.digest()) {
            (Some(tag), Some(pinned)) if pinned != digest => {
                return Err(Error::DigestMismatch {
                    reference: reference.to_string(),
                    what: format!("tag {tag} does not name the pinned digest"),
                    expected: pinned.to_owned(),
                    found: digest,
                });
            }
            (None, Some(pinned)) if pinned != digest => {
                return Err(Error::DigestMismatch {
                    reference: reference.to_string(),
                    what: "the manifest the registry served for the digest".to_owned(),
                    expected: pinned.to_owned(),
                    found: digest,
                });
            }
            _ => {}
        }
        let layer = wasm_layer(reference, &manifest_bytes, content_type.as_deref())?;

        let cache = &self.inner.cache;
        let (path, from_cache) = match cache.check_blob(reference, &layer.digest).await? {
            BlobState::Valid { .. } => (cache.blob_path(&layer.digest), true),
            state => {
                if let BlobState::Corrupt { found } = state {
                    tracing::warn!(
                        reference = %reference,
                        digest = %layer.digest,
                        found = %found,
                        "the cached layer was damaged; downloading it again"
                    );
                }
                let temp = session.download_blob(cache, &layer).await?;
                (cache.commit(reference, temp, &layer.digest).await?, false)
            }
        };
        // The manifest and the tag's record come after the layer, so the offline path never
        // finds a manifest whose layer never arrived.
        cache
            .write_blob(reference, &digest, &manifest_bytes)
            .await?;
        if let Some(tag) = reference.tag() {
            cache.write_tag(reference, tag, &digest).await?;
        }
        tracing::info!(
            reference = %reference,
            digest = %digest,
            layer = %layer.digest,
            size = layer.size,
            from_cache,
            "pulled"
        );
        Ok(Pulled {
            reference: reference.with_digest(&digest),
            path,
            digest,
            layer_digest: layer.digest,
            media_type: layer.media_type,
            size: layer.size,
            from_cache,
            offline: false,
        })
    }

    async fn pull_offline(&self, reference: &Reference, reason: String) -> Result<Pulled, Error> {
        let cache = &self.inner.cache;
        let offline = |cache_note: String| Error::Offline {
            reference: reference.to_string(),
            registry: reference.registry().to_owned(),
            reason: reason.clone(),
            cache: cache_note,
        };
        let digest = match (reference.digest(), reference.tag()) {
            (Some(pinned), _) => pinned.to_owned(),
            (None, Some(tag)) => match cache.read_tag(reference, tag).await? {
                Some(digest) => digest,
                None => {
                    return Err(offline(format!(
                        "tag {tag} was never pulled into the cache {}",
                        cache.root().display()
                    )));
                }
            },
            (None, None) => return Err(offline("the reference has no tag or digest".to_owned())),
        };
        let manifest_bytes = match cache.read_blob(reference, &digest).await? {
            Ok(bytes) => bytes,
            Err(BlobState::Corrupt { found }) => {
                return Err(offline(format!(
                    "the cached manifest {digest} was damaged (its sha256 is {found}) and has \
                     been removed"
                )));
            }
            Err(_) => {
                return Err(offline(format!(
                    "manifest {digest} is not in the cache {}",
                    cache.root().display()
                )));
            }
        };
        let layer = wasm_layer(reference, &manifest_bytes, None)?;
        match cache.check_blob(reference, &layer.digest).await? {
            BlobState::Valid { .. } => {}
            BlobState::Corrupt { found } => {
                return Err(offline(format!(
                    "the cached layer {} was damaged (its sha256 is {found}) and has been removed",
                    layer.digest
                )));
            }
            BlobState::Missing => {
                return Err(offline(format!(
                    "layer {} is not in the cache {}",
                    layer.digest,
                    cache.root().display()
                )));
            }
        }
        tracing::warn!(
            reference = %reference,
            digest = %digest,
            error = %reason,
            "registry {} unreachable: using the cached {digest}, which may be out of date",
            reference.registry()
        );
        Ok(Pulled {
            reference: reference.with_digest(&digest),
            path: cache.blob_path(&layer.digest),
            digest,
            layer_digest: layer.digest,
            media_type: layer.media_type,
            size: layer.size,
            from_cache: true,
            offline: true,
        })
    }

    /// Pushes the `.wasm` at `file` to `reference` (which must have a tag and no digest) as a
    /// CNCF Wasm artifact: a `application/vnd.wasm.config.v0+json` config, one
    /// `application/wasm` layer, and an OCI image manifest with the annotations
    /// `org.opencontainers.image.title` (the file name; also on the layer, where oras reads
    /// it) and `org.opencontainers.image.created` (now), plus `annotations`, which win over
    /// those two. Blobs the registry already has are not uploaded again.
    ///
    /// # Errors
    /// [`Error::InvalidReference`] for a reference without a tag or with a digest;
    /// [`Error::NotAWasmArtifact`] when the file is not WebAssembly; [`Error::Io`] reading it;
    /// [`Error::Insecure`], [`Error::Unauthorized`], [`Error::Registry`], [`Error::Offline`]
    /// from the registry; [`Error::TransferTimeout`] when the push takes longer than
    /// [`ClientOptions::limits`] allow.
    pub async fn push(
        &self,
        file: &Path,
        reference: &Reference,
        annotations: BTreeMap<String, String>,
    ) -> Result<Pushed, Error> {
        let Some(tag) = reference.tag() else {
            return Err(Error::InvalidReference {
                reference: reference.to_string(),
                reason: "a push needs a tag to push to".to_owned(),
            });
        };
        if reference.digest().is_some() {
            return Err(Error::InvalidReference {
                reference: reference.to_string(),
                reason: "a push cannot pin a digest: the manifest digest is computed from what is \
                         pushed, and returned"
                    .to_owned(),
            });
        }
        let base = self.base_url(reference)?;
        let (layer_digest, size, kind) = hash_wasm_file(reference, file).await?;
        let title = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "component.wasm".to_owned());
        let created = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();

        let config = serde_json::to_vec(&WasmConfig {
            created: created.clone(),
            architecture: "wasm",
            os: kind.os(),
            layer_digests: vec![layer_digest.clone()],
            component: describe(file, kind, size).await,
        })
        .map_err(|e| json_error(reference, e))?;
        let config_digest = sha256_digest(&config);

        let mut manifest_annotations = BTreeMap::from([
            (ANNOTATION_TITLE.to_owned(), title.clone()),
            (ANNOTATION_CREATED.to_owned(), created),
        ]);
        manifest_annotations.extend(annotations);
        let config_descriptor = Descriptor::of(WASM_CONFIG_MEDIA_TYPE, &config);
        let layer_descriptor = Descriptor {
            media_type: WASM_LAYER_MEDIA_TYPE.to_owned(),
            digest: layer_digest.clone(),
            size,
            artifact_type: None,
            annotations: BTreeMap::from([(ANNOTATION_TITLE.to_owned(), title)]),
        };
        let manifest = image_manifest(
            config_descriptor.to_oci(),
            vec![layer_descriptor.to_oci()],
            manifest_annotations,
        );
        let manifest = serde_json::to_vec(&manifest).map_err(|e| json_error(reference, e))?;
        let digest = sha256_digest(&manifest);

        tracing::info!(reference = %reference, file = %file.display(), size, "pushing");
        let mut session = Session::new(&self.inner, reference, base, Access::Push)?;
        if !session.blob_exists(&config_digest).await? {
            session
                .upload_blob(&config_digest, ReqBody::Bytes(Bytes::from(config)))
                .await?;
        }
        let mut progress = ProgressReporter::new(
            self.inner.options.progress.clone(),
            reference.to_string(),
            Direction::Upload,
            layer_digest.clone(),
            size,
        );
        if session.blob_exists(&layer_digest).await? {
            // Nothing to send: report the blob as done so a progress display completes.
            progress.report(size);
        } else {
            let body = ReqBody::File {
                path: file.to_owned(),
                len: size,
                progress,
            };
            session.upload_blob(&layer_digest, body).await?;
        }
        let reported = session.put_manifest(tag, Bytes::from(manifest)).await?;
        if let Some(reported) = reported.filter(|r| *r != digest) {
            return Err(Error::DigestMismatch {
                reference: reference.to_string(),
                what: "the registry stored the manifest under another digest".to_owned(),
                expected: digest,
                found: bounded(&reported),
            });
        }
        tracing::info!(reference = %reference, digest = %digest, "pushed");
        Ok(Pushed {
            reference: reference.with_digest(&digest),
            digest,
            layer_digest,
            config_digest,
            size,
        })
    }
}

/// The one Wasm layer of the manifest `bytes`, with a valid digest and a size under
/// [`MAX_LAYER_BYTES`].
fn wasm_layer(
    reference: &Reference,
    bytes: &[u8],
    content_type: Option<&str>,
) -> Result<Descriptor, Error> {
    let invalid = |message: String| Error::Registry {
        reference: reference.to_string(),
        registry: reference.registry().to_owned(),
        status: 200,
        message,
    };
    let layer =
        crate::manifest::wasm_layer(bytes, content_type).map_err(|refusal| match refusal {
            Refusal::Invalid(why) => invalid(format!(
                "the manifest is not valid OCI manifest JSON: {why}"
            )),
            Refusal::NotWasm(found) => Error::NotAWasmArtifact {
                reference: reference.to_string(),
                found,
            },
        })?;
    crate::reference::parse_digest(&layer.digest)
        .map_err(|reason| invalid(format!("the Wasm layer's {reason}")))?;
    if layer.size > MAX_LAYER_BYTES {
        return Err(invalid(format!(
            "the Wasm layer is {} bytes; at most {MAX_LAYER_BYTES} are accepted",
            layer.size
        )));
    }
    Ok(layer)
}

fn json_error(reference: &Reference, e: serde_json::Error) -> Error {
    Error::Io {
        reference: reference.to_string(),
        context: "serializing the manifest",
        path: PathBuf::new(),
        source: std::io::Error::other(e),
    }
}

/// The sha256 digest and size of a WebAssembly file, and what kind of binary it is.
/// The `component` description of the file being pushed: `None` for a core module, a
/// component over [`MAX_DESCRIBED_BYTES`], or one that does not parse (the push goes on; the
/// description is for readers of the registry, robodev reads the component itself).
async fn describe(file: &Path, kind: WasmKind, size: u64) -> Option<ComponentDescription> {
    if kind != WasmKind::Component || size > MAX_DESCRIBED_BYTES {
        return None;
    }
    let file = file.to_owned();
    tokio::task::spawn_blocking(move || {
        let bytes = std::fs::read(&file).ok()?;
        ComponentDescription::of(&bytes)
    })
    .await
    .ok()
    .flatten()
}

async fn hash_wasm_file(
    reference: &Reference,
    file: &Path,
) -> Result<(String, u64, WasmKind), Error> {
    let mut f = tokio::fs::File::open(file)
        .await
        .map_err(|e| io_error(reference, "opening the file to push", file, e))?;
    let mut hasher = Sha256::new();
    let mut header = Vec::with_capacity(8);
    let mut size = 0u64;
    let mut buf = vec![0; 256 * 1024];
    loop {
        let n = f
            .read(&mut buf)
            .await
            .map_err(|e| io_error(reference, "reading the file to push", file, e))?;
        if n == 0 {
            break;
        }
        if header.len() < 8 {
            let take = (8 - header.len()).min(n);
            header.extend_from_slice(&buf[..take]);
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    let Some(kind) = WasmKind::detect(&header) else {
        return Err(Error::NotAWasmArtifact {
            reference: reference.to_string(),
            found: format!(
                "{} does not start with the WebAssembly header (\\0asm)",
                file.display()
            ),
        });
    };
    Ok((
        format!("sha256:{}", hex::encode(hasher.finalize())),
        size,
        kind,
    ))
}
