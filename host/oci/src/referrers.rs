//! OCI 1.1 referrers: artifacts (signatures, attestations, Sigstore bundles) that point at a
//! manifest through their `subject`.
//!
//! [`Client::referrers`] lists them with the referrers API (`GET /v2/NAME/referrers/DIGEST`)
//! and, where the registry has none (it answers 404, as distribution 2.8 does), with the
//! referrers tag schema: the image index at tag `sha256-HEX`. [`Client::push_referrer`] pushes
//! an image manifest with `subject` and `artifactType` and, for registries without the API,
//! adds it to that index too. [`Client::fetch_blob_bounded`] reads one of their blobs.
//!
//! ```no_run
//! # async fn example(client: robodev_oci::Client) -> Result<(), robodev_oci::Error> {
//! use std::collections::BTreeMap;
//! use robodev_oci::Reference;
//!
//! let subject = Reference::parse("oci://127.0.0.1:5000/acme/notify@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")?;
//! let bundle = b"{}".to_vec();
//! client
//!     .push_referrer(&subject, "application/vnd.dev.sigstore.bundle.v0.3+json",
//!         "application/vnd.dev.sigstore.bundle.v0.3+json", bundle, BTreeMap::new())
//!     .await?;
//! for found in client.referrers(&subject, Some("application/vnd.dev.sigstore.bundle.v0.3+json")).await? {
//!     let manifest = client.fetch_manifest_bounded(&subject, &found.digest).await?;
//!     # let _ = manifest;
//! }
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;

use bytes::Bytes;
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use serde::{Deserialize, Serialize};

use crate::cache::sha256_digest;
use crate::client::Client;
use crate::error::bounded;
use crate::manifest::{INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE, image_manifest};
use crate::registry::Access;
use crate::transport::ReqBody;
use crate::{Error, Reference};

/// The media type and (empty, `{}`) content of the config of an artifact manifest without a
/// config of its own (OCI 1.1 image spec).
pub const EMPTY_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
const EMPTY_CONFIG: &[u8] = b"{}";
/// The most referrers listed for one subject; a registry listing more is refused.
pub const MAX_REFERRERS: usize = 1000;

/// A content descriptor, as a referrers list or manifest gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Descriptor {
    /// The media type of the content.
    pub media_type: String,
    /// `sha256:HEX` of the content.
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
    /// For a referrer: its artifact type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Its annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    /// oci-client's descriptor as robodev's: its size must not be negative (oci-client reads
    /// sizes as `i64`). `urls` are dropped: robodev fetches from the registry only.
    pub(crate) fn from_oci(oci: &OciDescriptor) -> Result<Self, String> {
        let size = u64::try_from(oci.size).map_err(|_| {
            format!(
                "the descriptor of {} has size {}",
                bounded(&oci.digest),
                oci.size
            )
        })?;
        Ok(Self {
            media_type: oci.media_type.clone(),
            digest: oci.digest.clone(),
            size,
            artifact_type: None,
            annotations: oci.annotations.clone().unwrap_or_default(),
        })
    }

    /// This descriptor as oci-client's, for a manifest robodev writes (`artifactType`, which
    /// oci-client's descriptor lacks, is left out: robodev sets it on manifests and index
    /// entries only).
    pub(crate) fn to_oci(&self) -> OciDescriptor {
        OciDescriptor {
            media_type: self.media_type.clone(),
            digest: self.digest.clone(),
            // Sizes come from bytes in memory or a file: far below i64::MAX.
            size: i64::try_from(self.size).unwrap_or(i64::MAX),
            urls: None,
            annotations: (!self.annotations.is_empty()).then(|| self.annotations.clone()),
        }
    }

    /// A descriptor of `media_type` for these bytes.
    pub fn of(media_type: impl Into<String>, bytes: &[u8]) -> Self {
        Self {
            media_type: media_type.into(),
            digest: sha256_digest(bytes),
            size: bytes.len() as u64,
            artifact_type: None,
            annotations: BTreeMap::new(),
        }
    }
}

/// A referrers list or referrers tag schema index. robodev's, not oci-client's
/// `OciImageIndex`: its entries lack `artifactType`, which referrers are filtered by and which
/// the tag schema's index must carry.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Index {
    schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

/// The referrers tag schema's tag for `digest`: `sha256-HEX`.
fn fallback_tag(reference: &Reference, digest: &str) -> Result<String, Error> {
    digest
        .strip_prefix("sha256:")
        .filter(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|hex| format!("sha256-{hex}"))
        .ok_or_else(|| Error::InvalidReference {
            reference: reference.to_string(),
            reason: format!("{:?} is not a sha256 digest", bounded(digest)),
        })
}

fn subject_digest(subject: &Reference) -> Result<&str, Error> {
    subject.digest().ok_or_else(|| Error::InvalidReference {
        reference: subject.to_string(),
        reason: "referrers are listed for a manifest digest: pin it with @sha256:...".to_owned(),
    })
}

fn parse_index(subject: &Reference, what: &str, bytes: &[u8]) -> Result<Index, Error> {
    let index: Index = serde_json::from_slice(bytes).map_err(|e| Error::Registry {
        reference: subject.to_string(),
        registry: subject.registry().to_owned(),
        status: 200,
        message: format!("{what} is not OCI index JSON: {}", bounded(&e.to_string())),
    })?;
    if index.manifests.len() > MAX_REFERRERS {
        return Err(Error::Registry {
            reference: subject.to_string(),
            registry: subject.registry().to_owned(),
            status: 200,
            message: format!(
                "{what} lists {} manifests, more than the {MAX_REFERRERS} accepted",
                index.manifests.len()
            ),
        });
    }
    Ok(index)
}

impl Client {
    /// The referrers of the manifest `subject` pins (by digest), optionally only those of
    /// `artifact_type`: from the OCI 1.1 referrers API, or, when the registry answers it with
    /// 404, from the referrers tag schema's index (tag `sha256-HEX`; none when that tag does
    /// not exist). Bodies are capped at [`crate::limits::MAX_MANIFEST_BYTES`] and the list at
    /// [`MAX_REFERRERS`].
    ///
    /// # Errors
    /// [`Error::InvalidReference`] when `subject` has no digest; the registry errors of
    /// [`Client::pull`].
    pub async fn referrers(
        &self,
        subject: &Reference,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>, Error> {
        let digest = subject_digest(subject)?;
        let mut session = self.session(subject, Access::Pull)?;
        let index = match session.get_referrers(digest, artifact_type).await? {
            Some(bytes) => parse_index(subject, "the referrers list", &bytes)?,
            None => {
                let tag = fallback_tag(subject, digest)?;
                match session.get_manifest(&tag).await {
                    Ok((bytes, _)) => {
                        parse_index(subject, &format!("the referrers index {tag}"), &bytes)?
                    }
                    Err(Error::NotFound { .. }) => return Ok(Vec::new()),
                    Err(e) => return Err(e),
                }
            }
        };
        // A registry may ignore the filter (it then omits the `OCI-Filters-Applied` header):
        // filtering again costs nothing.
        Ok(index
            .manifests
            .into_iter()
            .filter(|d| artifact_type.is_none_or(|t| d.artifact_type.as_deref() == Some(t)))
            .collect())
    }

    /// The blob `descriptor` names, from `reference`'s repository, read into memory: at most
    /// `max_bytes` (and at most its declared size), and checked against its digest.
    ///
    /// # Errors
    /// [`Error::DigestMismatch`] when the content does not hash to the digest;
    /// [`Error::Registry`] when it is larger than allowed; the registry errors of
    /// [`Client::pull`].
    pub async fn fetch_blob_bounded(
        &self,
        reference: &Reference,
        descriptor: &Descriptor,
        max_bytes: usize,
    ) -> Result<Vec<u8>, Error> {
        if descriptor.size > max_bytes as u64 {
            return Err(Error::Registry {
                reference: reference.to_string(),
                registry: reference.registry().to_owned(),
                status: 0,
                message: format!(
                    "blob {} is {} bytes, more than the {max_bytes} accepted",
                    bounded(&descriptor.digest),
                    descriptor.size
                ),
            });
        }
        let mut session = self.session(reference, Access::Pull)?;
        let limit = usize::try_from(descriptor.size).unwrap_or(max_bytes);
        Ok(session
            .get_small_blob(&descriptor.digest, limit)
            .await?
            .to_vec())
    }

    /// The manifest `digest` of `reference`'s repository (at most
    /// [`crate::limits::MAX_MANIFEST_BYTES`]), checked against the digest: for reading a
    /// referrer listed by [`Client::referrers`].
    ///
    /// # Errors
    /// As for [`Client::fetch_blob_bounded`].
    pub async fn fetch_manifest_bounded(
        &self,
        reference: &Reference,
        digest: &str,
    ) -> Result<Vec<u8>, Error> {
        let mut session = self.session(reference, Access::Pull)?;
        let (bytes, _) = session.get_manifest(digest).await?;
        let found = sha256_digest(&bytes);
        if found != digest {
            return Err(Error::DigestMismatch {
                reference: reference.to_string(),
                what: "manifest downloaded from the registry".to_owned(),
                expected: digest.to_owned(),
                found,
            });
        }
        Ok(bytes.to_vec())
    }

    /// Pushes an artifact that refers to `subject` (pinned by digest): an OCI image manifest
    /// with `artifactType` `artifact_type`, the empty config, one layer of `layer_media_type`
    /// holding `layer`, `annotations`, and `subject`. For registries without the referrers API
    /// it also adds the manifest to the referrers tag schema's index (tag `sha256-HEX`:
    /// fetched, appended to, pushed back; a concurrent writer can lose an entry, as with every
    /// client of that schema). Returns the artifact manifest's digest.
    ///
    /// # Errors
    /// [`Error::InvalidReference`] when `subject` has no digest; [`Error::NotFound`] when the
    /// registry does not hold the subject; the registry errors of [`Client::push`].
    pub async fn push_referrer(
        &self,
        subject: &Reference,
        artifact_type: &str,
        layer_media_type: &str,
        layer: Vec<u8>,
        annotations: BTreeMap<String, String>,
    ) -> Result<String, Error> {
        let digest = subject_digest(subject)?.to_owned();
        let mut session = self.session(subject, Access::Push)?;
        let (subject_bytes, subject_type) = session.get_manifest(&digest).await?;
        let subject_descriptor = Descriptor {
            media_type: subject_type.unwrap_or_else(|| MANIFEST_MEDIA_TYPE.to_owned()),
            ..Descriptor::of("", &subject_bytes)
        };
        let layer_descriptor = Descriptor::of(layer_media_type, &layer);
        let config = Descriptor::of(EMPTY_CONFIG_MEDIA_TYPE, EMPTY_CONFIG);
        for (blob, descriptor) in [(EMPTY_CONFIG.to_vec(), &config), (layer, &layer_descriptor)] {
            if !session.blob_exists(&descriptor.digest).await? {
                session
                    .upload_blob(&descriptor.digest, ReqBody::Bytes(Bytes::from(blob)))
                    .await?;
            }
        }
        let manifest = OciImageManifest {
            artifact_type: Some(artifact_type.to_owned()),
            subject: Some(subject_descriptor.to_oci()),
            ..image_manifest(
                config.to_oci(),
                vec![layer_descriptor.to_oci()],
                annotations.clone(),
            )
        };
        let bytes = to_json(subject, &manifest)?;
        let manifest_digest = sha256_digest(&bytes);
        let size = bytes.len() as u64;
        session
            .put_manifest_as(&manifest_digest, Bytes::from(bytes), MANIFEST_MEDIA_TYPE)
            .await?;
        // A registry with the API indexes the subject itself; one without answers 404.
        if session.get_referrers(&digest, None).await?.is_some() {
            return Ok(manifest_digest);
        }
        let tag = fallback_tag(subject, &digest)?;
        let mut index = match session.get_manifest(&tag).await {
            Ok((bytes, _)) => parse_index(subject, &format!("the referrers index {tag}"), &bytes)?,
            Err(Error::NotFound { .. }) => Index {
                schema_version: 2,
                media_type: Some(INDEX_MEDIA_TYPE.to_owned()),
                manifests: Vec::new(),
            },
            Err(e) => return Err(e),
        };
        if !index.manifests.iter().any(|d| d.digest == manifest_digest) {
            index.manifests.push(Descriptor {
                media_type: MANIFEST_MEDIA_TYPE.to_owned(),
                digest: manifest_digest.clone(),
                size,
                artifact_type: Some(artifact_type.to_owned()),
                annotations,
            });
        }
        let bytes = to_json(subject, &index)?;
        session
            .put_manifest_as(&tag, Bytes::from(bytes), INDEX_MEDIA_TYPE)
            .await?;
        tracing::info!(subject = %subject, digest = %manifest_digest, artifact_type, "pushed a referrer");
        Ok(manifest_digest)
    }
}

fn to_json(subject: &Reference, value: &impl Serialize) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(value).map_err(|e| Error::Registry {
        reference: subject.to_string(),
        registry: subject.registry().to_owned(),
        status: 0,
        message: format!("encoding a manifest: {e}"),
    })
}
