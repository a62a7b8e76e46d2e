//! robodev-oci: Wasm components as OCI artifacts.
//!
//! A plugin's `component:` in robodev-config.yaml may be `oci://REGISTRY/REPO:TAG` (optionally
//! pinned, `...:TAG@sha256:DIGEST`). [`Client::pull`] fetches the artifact in the CNCF Wasm
//! layout (an OCI image manifest, config `application/vnd.wasm.config.v0+json`, one
//! `application/wasm` layer; older Wasm layer media types are accepted too, see
//! [`WASM_LAYER_MEDIA_TYPES`]) into a content-addressed cache and returns the path of the
//! `.wasm` and the digest it resolved to. [`Client::push`] publishes a `.wasm` in that layout.
//!
//! - Every blob is checked against its sha256 before it is stored or used; a pinned digest that
//!   the tag no longer names is refused ([`Error::DigestMismatch`], with both digests).
//! - A tag's last resolved digest is recorded, so robodev starts offline from its cache when the
//!   registry cannot be reached (the [`Pulled::offline`] flag, and a warning in the log).
//! - Credentials come from [`ClientOptions::credentials`] or docker's `config.json`
//!   ([`DockerConfig`]: its `credHelpers` and `credsStore` credential helpers, then `auths`); the
//!   registry's `WWW-Authenticate` challenge decides between HTTP Basic and a bearer token from
//!   its token service (that exchange is oci-client's).
//! - TLS (the webpki roots and [`ClientOptions::ca_files`]) is required except to loopback
//!   registries, or where the caller allows plain HTTP
//!   ([`ClientOptions::insecure_hosts`], [`ClientOptions::insecure`]); a refused plain-HTTP
//!   reference fails with [`Error::Insecure`] before anything is sent. A certificate that is
//!   refused (an unknown CA, expired, another name) is [`Error::Certificate`], never served
//!   from the cache: it is not an outage.
//! - Transfers report progress to [`ClientOptions::progress`] and as `tracing` debug events.
//! - A pull or push has an overall deadline, and a transfer that moves too little (fewer than
//!   so many bytes per window) is reported as stalled, then abandoned ([`TransferLimits`],
//!   [`Error::TransferTimeout`]), so a registry that trickles cannot hold robodev for ever.
//! - Text the registry controls (error bodies, media types, digests as written) is quoted in
//!   errors only up to [`MAX_QUOTED_CHARS`], and a manifest's layers are summarised by media
//!   type, so a hostile registry cannot make an error megabytes long.
//! - [`signature`] checks and makes cosign-format signatures against [`TrustedKeys`]: for
//!   artifacts, Sigstore bundles attached as OCI referrers (what cosign v3 writes, and
//!   robodev's default, [`SigningFormat::Bundle`]) and cosign v2's `sha256-HEX.sig` signature
//!   manifests, both accepted by [`signature::verify_artifact_with`], which says which
//!   ([`SignatureFormat`]); for blobs, detached `.sig` files. [`bundle`] reads and writes the
//!   bundles themselves (DSSE and message signatures, Rekor v1 log entries checked against the
//!   log keys of a [`BundlePolicy`]; keyless certificates and Rekor v2 refused), [`referrers`]
//!   finds and attaches referrers.
//!
//! What oci-client (the CNCF/ORAS client of Spin, wkg and Kubewarden) does here, and what
//! robodev keeps, one line each:
//! - oci-client: references' name grammar and Docker Hub's rules ([`oci_client::Reference`],
//!   see [`Reference`]); robodev keeps its schemes, the explicit registry and tag, the bounds
//!   and the errors naming the wrong part.
//! - oci-client: the manifest serde types ([`oci_client::manifest::OciImageManifest`],
//!   `OciDescriptor`); robodev keeps its [`Descriptor`] (u64 sizes, `artifactType`) and its
//!   referrers index, whose entries need `artifactType`, which oci-client's index entries lack.
//! - oci-client: the authentication exchange (the `WWW-Authenticate` challenge, the token
//!   service); robodev holds the realm to the plain-HTTP rule first.
//! - robodev: the HTTP client, reqwest (HTTP/1.1, rustls, proxies from `HTTP_PROXY`/
//!   `HTTPS_PROXY`/`NO_PROXY`, redirects held to the plain-HTTP rule).
//! - robodev: the distribution calls (manifests, blobs, uploads, referrers) over reqwest,
//!   because oci-client 0.15 reads whole bodies with no size cap, deadline, stall rule or
//!   progress, quotes error bodies whole, and follows redirects from HTTPS to HTTP; every body
//!   here is read chunk by chunk under the caps and the transfer limits above (see
//!   [`limits`]).
//! - robodev: the cache, digest pins and the offline start, credential helpers, and the
//!   process-wide rustls provider, ring ([`tls`]).
//!
//! ```no_run
//! use std::collections::BTreeMap;
//! use robodev_oci::{Client, ClientOptions, Reference};
//!
//! # async fn example() -> Result<(), robodev_oci::Error> {
//! let client = Client::new(ClientOptions::new("/var/cache/robodev/oci"));
//! let reference = Reference::parse("oci://127.0.0.1:5000/acme/notify:1.0.0")?;
//! let pushed = client
//!     .push("notify.wasm".as_ref(), &reference, BTreeMap::new())
//!     .await?;
//! let pulled = client.pull(&reference).await?;
//! assert_eq!(pulled.digest, pushed.digest);
//! println!("{} is {}", pulled.reference, pulled.path.display());
//! # Ok(())
//! # }
//! ```

mod auth;
pub mod bundle;
mod cache;
mod client;
mod error;
#[doc(hidden)]
pub mod fuzz;
mod manifest;
mod meter;
mod progress;
mod reference;
pub mod referrers;
mod registry;
pub mod signature;
pub mod tls;
mod transport;

pub use auth::{Credentials, DockerConfig};
pub use bundle::{BundleError, BundlePolicy, BundleVerified};
pub use client::{Client, ClientOptions, DEFAULT_CACHE_BYTES, MAX_LAYER_BYTES, Pulled, Pushed};
pub use error::{Error, MAX_QUOTED_CHARS};
pub use manifest::{
    ANNOTATION_CREATED, ANNOTATION_TITLE, DOCKER_MANIFEST_LIST_MEDIA_TYPE,
    DOCKER_MANIFEST_MEDIA_TYPE, INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE, MAX_LISTED_MEDIA_TYPES,
    WASM_CONFIG_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPES,
};
pub use meter::{TransferLimit, TransferLimits};
pub use progress::{Direction, PROGRESS_STEP, Progress, ProgressFn, Stall};
pub use reference::{MAX_REPOSITORY_LEN, MAX_TAG_LEN, Reference, Transport};
pub use referrers::Descriptor;
pub use signature::{KeyId, SignatureError, SignatureFormat, SigningFormat, TrustedKeys, Verified};

/// The limits on waiting for a registry and on what it sends.
pub mod limits {
    pub use crate::auth::{CREDENTIAL_HELPER_TIMEOUT, MAX_CREDENTIAL_HELPER_OUTPUT};
    pub use crate::meter::{
        DEFAULT_STALL_MIN_BYTES, DEFAULT_STALL_TIMEOUT, DEFAULT_STALL_WINDOW,
        DEFAULT_TRANSFER_TIMEOUT,
    };
    pub use crate::registry::{MAX_MANIFEST_BYTES, MAX_REDIRECTS};
    pub use crate::transport::{
        BODY_IDLE_TIMEOUT, CONNECT_TIMEOUT, MIN_UPLOAD_BYTES_PER_SEC, RESPONSE_TIMEOUT,
    };
}
