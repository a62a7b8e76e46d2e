//! Signature checks for plugins, in cosign's key-pair formats so that standard tools sign and
//! verify what robodev does.
//!
//! - **Blobs** (a `.wasm` file, a subprocess plugin binary): the detached signature file
//!   `<file>.sig` ([`signature_path`]) holds the base64 of an ASN.1 DER ECDSA P-256 signature
//!   over the SHA-256 of the file's bytes: what `cosign sign-blob --key cosign.key FILE` prints,
//!   and what `openssl dgst -sha256 -sign key.pem FILE | base64 -w0` writes.
//!   [`verify_blob`] / [`verify_blob_file`] check one, [`sign_blob`] / [`sign_blob_file`] make
//!   one. (A blob's Sigstore bundle, what `cosign sign-blob --bundle` writes, is
//!   [`crate::bundle`]'s.)
//! - **OCI artifacts**, in two formats, both checked by [`verify_artifact_with`] (and
//!   [`verify_artifact`], its default-policy form), which reports which one verified
//!   ([`Verified`], [`SignatureFormat`]):
//!   - **Sigstore bundles** attached as OCI referrers, what `cosign sign` v3 writes by default
//!     and what [`sign_artifact`] writes ([`SigningFormat::Bundle`]): an image manifest whose
//!     `subject` is the signed manifest, whose `artifactType` and one layer's media type are
//!     [`BUNDLE_V03_MEDIA_TYPE`], annotated `dev.sigstore.bundle.content: dsse-envelope` and
//!     `dev.sigstore.bundle.predicateType: https://sigstore.dev/cosign/sign/v1`; the layer is
//!     the bundle, a DSSE envelope over an in-toto statement naming the digest. They are found
//!     with [`Client::referrers`] (the OCI 1.1 referrers API, or on registries without it, as
//!     distribution 2.8, the index at the tag `sha256-HEX`), fetched within
//!     [`MAX_BUNDLE_BYTES`] (at most [`MAX_BUNDLES_CHECKED`] of them) and checked by
//!     [`crate::bundle::verify_bundle`] under a [`BundlePolicy`] (the transparency logs
//!     trusted).
//!   - **Simple signing**, cosign v2's default ([`SigningFormat::SimpleSigning`]): the
//!     signature of the manifest `sha256:HEX` is a manifest at the tag `sha256-HEX.sig`
//!     ([`signature_tag`]) of the same repository, with one layer per signature of media type
//!     [`SIMPLE_SIGNING_MEDIA_TYPE`]: its blob is the JSON payload naming the signed digest,
//!     its annotation [`SIGNATURE_ANNOTATION`] the base64 DER ECDSA P-256 signature over the
//!     payload's bytes.
//!
//!   Bundles are looked for first, then the `.sig` tag; one signature that verifies is enough.
//!   When none does, the error is the one signature's own, or [`SignatureError::Rejected`]
//!   with each one's reason; when there is none, [`SignatureError::Missing`] names both places.
//!
//! Keys are ECDSA P-256 in PEM: public keys as `PUBLIC KEY` (SubjectPublicKeyInfo, what
//! `cosign generate-key-pair` writes to `cosign.pub` and `openssl pkey -pubout` writes), private
//! keys as unencrypted PKCS#8 `PRIVATE KEY` (`openssl genpkey -algorithm EC -pkeyopt
//! ec_paramgen_curve:P-256`). cosign's own encrypted private key file (`cosign.key`,
//! `ENCRYPTED SIGSTORE PRIVATE KEY`) is not read: sign with cosign itself, or with a PKCS#8
//! key. Keyless signatures (Fulcio certificates) are refused: robodev trusts keys, not
//! identities.
//!
//! ```no_run
//! use robodev_oci::signature::{TrustedKeys, verify_artifact_with, verify_blob_file};
//! use robodev_oci::{BundlePolicy, Client, ClientOptions, Reference};
//!
//! # async fn example() -> Result<(), robodev_oci::signature::SignatureError> {
//! let keys = TrustedKeys::from_pem_files(["/etc/robodev/cosign.pub"])?;
//! let signer = verify_blob_file("plugins/notify".as_ref(), &keys).await?;
//! println!("plugins/notify is signed by {signer}");
//!
//! let client = Client::new(ClientOptions::new("/var/cache/robodev/oci"));
//! let reference = Reference::parse(
//!     "oci://ghcr.io/acme/notify:1.0.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
//! )?;
//! // No transparency log trusted: bundles with log entries are refused, others pass.
//! let policy = BundlePolicy::default();
//! let verified = verify_artifact_with(&client, &reference, &keys, &policy).await?;
//! println!("{reference}: {} signed by {}", verified.format, verified.key);
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, UnparsedPublicKey,
};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::bundle::{
    ANNOTATION_BUNDLE_CONTENT, ANNOTATION_BUNDLE_PREDICATE_TYPE, BUNDLE_CONTENT_DSSE,
    BUNDLE_MEDIA_TYPES, BUNDLE_V03_MEDIA_TYPE, BundleError, BundlePolicy, BundleVerified,
    COSIGN_SIGN_PREDICATE_TYPE, MAX_BUNDLE_BYTES, sign_bundle_dsse, verify_bundle,
};
use crate::cache::sha256_digest;
use crate::client::Client;
use crate::manifest::{ANNOTATION_CREATED, image_manifest, parse_image_manifest};
use crate::reference::Reference;
use crate::referrers::Descriptor;
use crate::registry::Access;
use crate::transport::ReqBody;
use oci_client::manifest::OciDescriptor;

/// What is appended to a file's name to name its detached signature (`notify.wasm.sig`).
pub const SIGNATURE_SUFFIX: &str = ".sig";
/// The media type of a cosign simple-signing layer: its blob is the signed payload.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding the base64 signature of the layer's payload.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The `critical.type` of a cosign image signature payload.
pub const PAYLOAD_TYPE: &str = "cosign container image signature";
/// The largest detached signature file read: a base64 P-256 signature is at most 96 bytes,
/// the rest is room for whitespace.
pub const MAX_SIGNATURE_FILE_BYTES: u64 = 4 * 1024;
/// The largest signature payload fetched from a registry: cosign's are about 250 bytes, plus
/// whatever `optional` annotations the signer added.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// The most Sigstore bundle referrers of one artifact fetched and checked: cosign adds one per
/// signing, so a handful is usual; a registry listing hundreds cannot make robodev fetch them
/// all. Those beyond it are counted in [`SignatureError::Rejected::unchecked`].
pub const MAX_BUNDLES_CHECKED: usize = 16;

/// The config media type of cosign's signature manifests (an empty OCI image config).
const SIGNATURE_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// The DER prefix of a SubjectPublicKeyInfo for an uncompressed P-256 point:
/// SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (66 bytes, 0 unused bits) }.
/// Every P-256 `PUBLIC KEY` cosign and openssl write starts so; what follows is the point.
const SPKI_P256_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
/// The length of an uncompressed P-256 point (`04 || X || Y`).
const P256_POINT_LEN: usize = 65;
/// The longest DER ECDSA P-256 signature: SEQUENCE of two INTEGERs of at most 33 bytes.
const MAX_DER_SIGNATURE_LEN: usize = 72;

/// Why a signature was not accepted, or could not be made.
///
/// [`Missing`](Self::Missing), [`Invalid`](Self::Invalid), [`Untrusted`](Self::Untrusted) and
/// [`WrongDigest`](Self::WrongDigest) are verdicts on the plugin: refuse to load it.
/// [`Key`](Self::Key) is a configuration error, [`Io`](Self::Io) and [`Oci`](Self::Oci) are
/// failures to look.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// No signature was found where it was looked for.
    #[error("{subject} is not signed: no signature at {location}")]
    Missing {
        /// What should have been signed: a file's path or a reference.
        subject: String,
        /// Where the signature was looked for: the `.sig` file, or the registry tag.
        location: String,
    },

    /// A signature was found but is malformed: not base64, not a DER ECDSA signature, or (for
    /// an artifact) a signature manifest or payload not in cosign's format.
    #[error("invalid signature for {subject}: {reason}")]
    Invalid {
        /// What the signature is for.
        subject: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The signature is well-formed, but none of the trusted keys verifies it: the content was
    /// changed after signing, or someone else signed it.
    #[error(
        "the signature of {subject} is not from a trusted key (tried {})",
        if tried.is_empty() { "none: no key is trusted".to_owned() } else { tried.join(", ") }
    )]
    Untrusted {
        /// What the signature is for.
        subject: String,
        /// The trusted keys tried, as [`KeyId`]s are displayed.
        tried: Vec<String>,
    },

    /// A trusted key signed the payload, but the payload names another manifest digest: a
    /// signature copied from another artifact.
    #[error("the signature found for {subject} signs {signed}, not {expected}")]
    WrongDigest {
        /// The artifact being verified.
        subject: String,
        /// The digest being verified.
        expected: String,
        /// The digest the payload names.
        signed: String,
    },

    /// A Sigstore bundle attached to the artifact (the referrer `referrer`) was found, and it
    /// is the only signature found, but it is refused: [`BundleError`] says why.
    #[error("{subject}: the Sigstore bundle {referrer} is refused: {source}")]
    Bundle {
        /// The artifact being verified.
        subject: String,
        /// The digest of the referrer manifest holding the bundle.
        referrer: String,
        /// Why the bundle is refused (boxed: a [`BundleError`] can hold a `SignatureError`).
        #[source]
        source: Box<BundleError>,
    },

    /// Several signatures were found (Sigstore bundles, a `.sig` manifest) and none is
    /// accepted: each one's reason, in the order they were checked.
    #[error(
        "no signature of {subject} is accepted ({} checked{}): {}",
        reasons.len(),
        if *unchecked > 0 { format!(", {unchecked} more not checked") } else { String::new() },
        reasons.iter().enumerate().map(|(i, r)| format!("[{}] {r}", i + 1)).collect::<Vec<_>>().join("; ")
    )]
    Rejected {
        /// The artifact being verified.
        subject: String,
        /// Why each signature is refused, at most [`MAX_BUNDLES_CHECKED`] + 1.
        reasons: Vec<String>,
        /// Bundles listed beyond [`MAX_BUNDLES_CHECKED`], not fetched.
        unchecked: usize,
    },

    /// A key could not be read or is not an ECDSA P-256 key in a supported format.
    #[error("key {key}: {reason}")]
    Key {
        /// The key file, or a description of an inline key.
        key: String,
        /// What is wrong.
        reason: String,
    },

    /// Reading the file to verify or its signature, or writing a signature, failed.
    #[error("{context} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. `reading the file to verify`.
        context: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The registry could not be asked (or refused a push), or the reference is not pinned.
    #[error(transparent)]
    Oci(#[from] Error),
}

/// Which trusted key verified a signature: its name and the sha256 of its DER
/// SubjectPublicKeyInfo (the same bytes as `openssl pkey -pubin -outform DER`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct KeyId {
    /// The key file's path, or `inline key N` for keys given as text.
    pub name: String,
    /// `sha256:` and the hex SHA-256 of the key's DER SubjectPublicKeyInfo.
    pub fingerprint: String,
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.fingerprint)
    }
}

/// A signature of an artifact that verified: the key, and where and in what format it was.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The trusted key that made the signature.
    pub key: KeyId,
    /// The signature's format and where it was found.
    pub format: SignatureFormat,
}

/// The format of a verified artifact signature.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureFormat {
    /// A Sigstore bundle attached as an OCI referrer (`cosign sign` v3's default).
    Bundle {
        /// The digest of the referrer manifest holding the bundle.
        referrer: String,
        /// What the bundle check found: version, transparency-log entries.
        bundle: BundleVerified,
    },
    /// cosign's simple-signing manifest at the tag `sha256-HEX.sig` (cosign v2's default).
    SimpleSigning {
        /// The tag.
        tag: String,
    },
}

impl SignatureFormat {
    /// `bundle` or `simple-signing`: the names `robodev plugin sign --format` takes.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Bundle { .. } => SigningFormat::Bundle.name(),
            Self::SimpleSigning { .. } => SigningFormat::SimpleSigning.name(),
        }
    }
}

impl fmt::Display for SignatureFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bundle { referrer, bundle } => {
                write!(f, "Sigstore bundle (referrer {referrer}")?;
                match bundle.tlog.len() {
                    0 => write!(f, ", no transparency-log entry)"),
                    n => write!(f, ", {n} transparency-log entries verified)"),
                }
            }
            Self::SimpleSigning { tag } => write!(f, "cosign simple signing (tag {tag})"),
        }
    }
}

/// The format [`sign_artifact_with`] writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SigningFormat {
    /// A Sigstore bundle attached as an OCI referrer, as `cosign sign` v3 writes by default.
    #[default]
    Bundle,
    /// cosign's simple-signing manifest at `sha256-HEX.sig`, as cosign v2 wrote (and v3 with
    /// `--new-bundle-format=false`).
    SimpleSigning,
}

impl SigningFormat {
    /// `bundle` or `simple-signing`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bundle => "bundle",
            Self::SimpleSigning => "simple-signing",
        }
    }
}

/// One trusted public key.
#[derive(Debug, Clone)]
struct TrustedKey {
    id: KeyId,
    /// The uncompressed point, as ring takes it.
    point: Vec<u8>,
}

/// The public keys whose signatures are accepted. A signature verified by any one of them is
/// accepted.
///
/// ```
/// use robodev_oci::signature::TrustedKeys;
///
/// let pem = "-----BEGIN PUBLIC KEY-----\n\
///     MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE3hmVVKYO4L1zc6gWnotnLLHPuvf7\n\
///     upqzDeXeOO3RiNFaRlHXa612GIRJ+eGlcjFKxOLJvh32Yf+S8OBA9xa7LA==\n\
///     -----END PUBLIC KEY-----\n";
/// let keys = TrustedKeys::from_pem(pem)?;
/// assert_eq!(keys.ids().count(), 1);
/// # Ok::<(), robodev_oci::signature::SignatureError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys {
    keys: Vec<TrustedKey>,
}

impl TrustedKeys {
    /// No trusted key: every verification fails with [`SignatureError::Untrusted`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The `PUBLIC KEY` blocks of `pem` (one or more), named `inline key 1`, `inline key 2`...
    ///
    /// # Errors
    /// [`SignatureError::Key`] when there is no `PUBLIC KEY` block or one is not an ECDSA
    /// P-256 key.
    pub fn from_pem(pem: &str) -> Result<Self, SignatureError> {
        let mut keys = Self::new();
        keys.add_pem("inline key", pem, true)?;
        Ok(keys)
    }

    /// The `PUBLIC KEY` blocks of every file in `paths` (cosign.pub files), each named by its
    /// file's path. The files are read synchronously: load keys when loading configuration,
    /// not on an async runtime's thread.
    ///
    /// # Errors
    /// [`SignatureError::Key`] naming the file that cannot be read, has no `PUBLIC KEY` block,
    /// or holds a key that is not ECDSA P-256.
    pub fn from_pem_files<I, P>(paths: I) -> Result<Self, SignatureError>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<Path>,
    {
        let mut keys = Self::new();
        for path in paths {
            let path = path.as_ref();
            let name = path.display().to_string();
            let pem = std::fs::read_to_string(path).map_err(|e| SignatureError::Key {
                key: name.clone(),
                reason: format!("cannot read it: {e}"),
            })?;
            keys.add_pem(&name, &pem, false)?;
        }
        Ok(keys)
    }

    /// Adds the `PUBLIC KEY` blocks of `pem`; `numbered` appends ` N` to `name`.
    fn add_pem(&mut self, name: &str, pem: &str, numbered: bool) -> Result<(), SignatureError> {
        let key_error = |reason: String| SignatureError::Key {
            key: name.to_owned(),
            reason,
        };
        let blocks = pem_blocks(pem).map_err(key_error)?;
        let mut found = 0;
        for (label, der) in blocks {
            if label != "PUBLIC KEY" {
                continue;
            }
            found += 1;
            let name = if numbered {
                format!("{name} {}", self.keys.len() + 1)
            } else {
                name.to_owned()
            };
            let point = p256_point(&der).map_err(|reason| SignatureError::Key {
                key: name.clone(),
                reason,
            })?;
            self.keys.push(TrustedKey {
                id: KeyId {
                    name,
                    fingerprint: sha256_digest(&der),
                },
                point,
            });
        }
        if found == 0 {
            return Err(key_error(
                "no -----BEGIN PUBLIC KEY----- block (expected a PEM ECDSA P-256 public key, as \
                 cosign generate-key-pair writes to cosign.pub)"
                    .to_owned(),
            ));
        }
        Ok(())
    }

    /// The trusted keys, in the order they were given.
    pub fn ids(&self) -> impl Iterator<Item = &KeyId> {
        self.keys.iter().map(|k| &k.id)
    }

    /// Whether no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The first key that verifies `signature_b64` over `message`, for `subject`.
    /// `pub(crate)` for [`crate::bundle`], which checks DSSE and message signatures with it.
    pub(crate) fn verify(
        &self,
        subject: &str,
        message: &[u8],
        signature_b64: &str,
    ) -> Result<KeyId, SignatureError> {
        let invalid = |reason: String| SignatureError::Invalid {
            subject: subject.to_owned(),
            reason,
        };
        let signature = BASE64
            .decode(signature_b64.trim())
            .map_err(|e| invalid(format!("the signature is not base64: {e}")))?;
        check_der_signature(&signature).map_err(|reason| {
            invalid(format!(
                "the signature is not an ASN.1 DER ECDSA signature: {reason}"
            ))
        })?;
        self.keys
            .iter()
            .find(|key| {
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &key.point)
                    .verify(message, &signature)
                    .is_ok()
            })
            .map(|key| key.id.clone())
            .ok_or_else(|| SignatureError::Untrusted {
                subject: subject.to_owned(),
                tried: self.keys.iter().map(|k| k.id.to_string()).collect(),
            })
    }
}

/// `<file>.sig`: where a blob's detached signature is looked for.
pub fn signature_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(SIGNATURE_SUFFIX);
    PathBuf::from(name)
}

/// Checks `signature_b64` (cosign sign-blob's output) over `bytes` with the trusted keys, and
/// returns the key that verified it.
///
/// # Errors
/// [`SignatureError::Invalid`] when the signature is not base64 DER; [`SignatureError::Untrusted`]
/// when no trusted key verifies it. The subject named is `blob sha256:HEX`.
pub fn verify_blob(
    bytes: &[u8],
    signature_b64: &str,
    keys: &TrustedKeys,
) -> Result<KeyId, SignatureError> {
    let subject = format!("blob {}", sha256_digest(bytes));
    keys.verify(&subject, bytes, signature_b64)
}

/// Signs `bytes` with the PKCS#8 P-256 key in `private_pem`: the base64 DER signature, as
/// `cosign sign-blob --key` prints it.
///
/// # Errors
/// [`SignatureError::Key`] when `private_pem` is not an unencrypted PKCS#8 P-256 key.
pub fn sign_blob(bytes: &[u8], private_pem: &str) -> Result<String, SignatureError> {
    let key = SigningKey::from_pem(private_pem)?;
    key.sign(bytes)
}

/// Checks the file `file` against its detached signature `<file>.sig` ([`signature_path`]).
/// The file is read into memory whole: ring hashes the message itself, and plugin files are
/// at most tens of megabytes.
///
/// # Errors
/// [`SignatureError::Missing`] when there is no `<file>.sig`; [`SignatureError::Io`] when either
/// file cannot be read; otherwise as [`verify_blob`], naming the file.
pub async fn verify_blob_file(file: &Path, keys: &TrustedKeys) -> Result<KeyId, SignatureError> {
    let sig_path = signature_path(file);
    let subject = file.display().to_string();
    let signature = match tokio::fs::metadata(&sig_path).await {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SignatureError::Missing {
                subject,
                location: sig_path.display().to_string(),
            });
        }
        Err(e) => return Err(io_error("reading the signature", &sig_path, e)),
        Ok(meta) if meta.len() > MAX_SIGNATURE_FILE_BYTES => {
            return Err(SignatureError::Invalid {
                subject,
                reason: format!(
                    "{} is {} bytes; a signature file has at most {MAX_SIGNATURE_FILE_BYTES}",
                    sig_path.display(),
                    meta.len()
                ),
            });
        }
        Ok(_) => tokio::fs::read(&sig_path)
            .await
            .map_err(|e| io_error("reading the signature", &sig_path, e))?,
    };
    let signature = String::from_utf8(signature).map_err(|_| SignatureError::Invalid {
        subject: subject.clone(),
        reason: format!("{} is not text (base64)", sig_path.display()),
    })?;
    let bytes = tokio::fs::read(file)
        .await
        .map_err(|e| io_error("reading the file to verify", file, e))?;
    keys.verify(&subject, &bytes, &signature)
}

/// Signs the file `file` and writes the signature to `<file>.sig`; returns that path.
///
/// # Errors
/// [`SignatureError::Key`] for an unusable key; [`SignatureError::Io`] reading or writing.
pub async fn sign_blob_file(file: &Path, private_pem: &str) -> Result<PathBuf, SignatureError> {
    let key = SigningKey::from_pem(private_pem)?;
    let bytes = tokio::fs::read(file)
        .await
        .map_err(|e| io_error("reading the file to sign", file, e))?;
    let signature = key.sign(&bytes)?;
    let sig_path = signature_path(file);
    tokio::fs::write(&sig_path, signature)
        .await
        .map_err(|e| io_error("writing the signature", &sig_path, e))?;
    Ok(sig_path)
}

/// The tag cosign stores the signatures of the manifest `digest` (`sha256:HEX`) at:
/// `sha256-HEX.sig`.
///
/// # Errors
/// [`Error::InvalidReference`] when `digest` is not `sha256:` and 64 lowercase hex digits.
pub fn signature_tag(digest: &str) -> Result<String, Error> {
    let digest =
        crate::reference::parse_digest(digest).map_err(|reason| Error::InvalidReference {
            reference: digest.to_owned(),
            reason,
        })?;
    Ok(format!(
        "{}{SIGNATURE_SUFFIX}",
        digest.replacen(':', "-", 1)
    ))
}

/// The simple-signing payload.
#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    critical: Critical,
    /// Signer-chosen annotations; cosign writes `null` when there are none.
    #[serde(default)]
    optional: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Critical {
    identity: Identity,
    image: Image,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Identity {
    #[serde(rename = "docker-reference")]
    docker_reference: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Image {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: String,
}

/// The digest `reference` is pinned to, or an error saying verification needs one.
fn pinned_digest<'r>(reference: &'r Reference, action: &str) -> Result<&'r str, SignatureError> {
    reference.digest().ok_or_else(|| {
        SignatureError::Oci(Error::InvalidReference {
            reference: reference.to_string(),
            reason: format!(
                "{action} needs a reference pinned to a digest (…@sha256:DIGEST): a tag may move"
            ),
        })
    })
}

/// Checks the signatures of the artifact `reference` (pinned to a digest) with the trusted
/// keys and the default [`BundlePolicy`] (no transparency log trusted: a bundle carrying log
/// entries is refused, one without passes on its signature), and returns the key that verified
/// one. See [`verify_artifact_with`], which also says which format verified.
///
/// # Errors
/// As [`verify_artifact_with`].
pub async fn verify_artifact(
    client: &Client,
    reference: &Reference,
    keys: &TrustedKeys,
) -> Result<KeyId, SignatureError> {
    verify_artifact_with(client, reference, keys, &BundlePolicy::default())
        .await
        .map(|verified| verified.key)
}

/// Checks the signatures of the artifact `reference` (which must be pinned to a digest) in
/// both formats, and returns the first that verifies:
///
/// 1. Sigstore bundles attached as OCI referrers (what `cosign sign` v3 writes): the referrers
///    of the digest ([`Client::referrers`]: the referrers API, else the tag `sha256-HEX`) whose
///    artifact type is a bundle media type, at most [`MAX_BUNDLES_CHECKED`] of them, each
///    checked by [`crate::bundle::verify_bundle`] against `keys` and `policy`;
/// 2. cosign's simple-signing manifest at the tag `sha256-HEX.sig` (cosign v2's default).
///
/// The payload's `docker-reference` is not compared with `reference`, as cosign does not by
/// default: a signature stays valid when the artifact is copied to a mirror.
///
/// # Errors
/// [`SignatureError::Missing`] when neither place holds a signature (the message names both);
/// when exactly one signature was found and refused, its own error
/// ([`SignatureError::Bundle`], or [`SignatureError::Invalid`] / [`SignatureError::Untrusted`] /
/// [`SignatureError::WrongDigest`] for a `.sig` manifest, whose signatures count as one);
/// [`SignatureError::Rejected`] naming each one's reason when several were found and none
/// verifies; [`SignatureError::Oci`] when the registry cannot be asked, or the reference is
/// not pinned.
pub async fn verify_artifact_with(
    client: &Client,
    reference: &Reference,
    keys: &TrustedKeys,
    policy: &BundlePolicy,
) -> Result<Verified, SignatureError> {
    let digest = pinned_digest(reference, "verifying a signature")?;
    let tag = signature_tag(digest)?;
    let subject = reference.to_string();

    let listed: Vec<crate::referrers::Descriptor> = client
        .referrers(reference, None)
        .await?
        .into_iter()
        .filter(|d| d.artifact_type.as_deref().is_some_and(is_bundle_media_type))
        .collect();
    let mut refusals = Vec::new();
    for found in listed.iter().take(MAX_BUNDLES_CHECKED) {
        match verify_referrer(client, reference, digest, &found.digest, keys, policy).await {
            Ok(bundle) => {
                tracing::info!(reference = %reference, key = %bundle.key, referrer = %found.digest, "Sigstore bundle verified");
                return Ok(Verified {
                    key: bundle.key.clone(),
                    format: SignatureFormat::Bundle {
                        referrer: found.digest.clone(),
                        bundle,
                    },
                });
            }
            Err(e) => refusals.push(e),
        }
    }
    let unchecked = listed.len().saturating_sub(MAX_BUNDLES_CHECKED);

    match verify_simple_signing(client, reference, &subject, digest, &tag, keys).await {
        Ok(key) => {
            tracing::info!(reference = %reference, key = %key, tag = %tag, "signature verified");
            return Ok(Verified {
                key,
                format: SignatureFormat::SimpleSigning { tag },
            });
        }
        Err(SignatureError::Missing { .. }) if refusals.is_empty() => {
            return Err(SignatureError::Missing {
                subject,
                location: format!(
                    "{}/{}: no Sigstore bundle among the referrers of {digest} (referrers API, \
                     then the tag {}), and no tag {tag}",
                    reference.registry(),
                    reference.repository(),
                    tag.trim_end_matches(SIGNATURE_SUFFIX),
                ),
            });
        }
        Err(SignatureError::Missing { .. }) => {}
        // Not a verdict on a signature: the registry failed us.
        Err(e @ SignatureError::Oci(_)) => return Err(e),
        Err(e) => refusals.push(e),
    }
    if refusals.len() == 1
        && unchecked == 0
        && let Some(only) = refusals.pop()
    {
        return Err(only);
    }
    Err(SignatureError::Rejected {
        subject,
        reasons: refusals.iter().map(ToString::to_string).collect(),
        unchecked,
    })
}

/// Whether `media_type` is one of the Sigstore bundle media types read.
fn is_bundle_media_type(media_type: &str) -> bool {
    BUNDLE_MEDIA_TYPES.iter().any(|(m, _)| *m == media_type)
}

/// Fetches the referrer manifest `referrer` and its bundle layer, and checks the bundle.
async fn verify_referrer(
    client: &Client,
    reference: &Reference,
    digest: &str,
    referrer: &str,
    keys: &TrustedKeys,
    policy: &BundlePolicy,
) -> Result<BundleVerified, SignatureError> {
    let refused = |reason: String| SignatureError::Invalid {
        subject: reference.to_string(),
        reason: format!(
            "the Sigstore bundle referrer {}: {reason}",
            crate::error::bounded(referrer)
        ),
    };
    let manifest = client
        .fetch_manifest_bounded(reference, referrer)
        .await
        .map_err(|e| refused(e.to_string()))?;
    let manifest = parse_image_manifest(&manifest)
        .map_err(|why| refused(format!("not OCI manifest JSON: {why}")))?;
    let Some(layer) = manifest
        .layers
        .iter()
        .find(|l| is_bundle_media_type(&l.media_type))
    else {
        return Err(refused(
            "no layer of a Sigstore bundle media type".to_owned(),
        ));
    };
    let descriptor = Descriptor::from_oci(layer).map_err(refused)?;
    let bundle = client
        .fetch_blob_bounded(reference, &descriptor, MAX_BUNDLE_BYTES)
        .await
        .map_err(|e| refused(e.to_string()))?;
    verify_bundle(&bundle, digest, keys, policy).map_err(|source| SignatureError::Bundle {
        subject: reference.to_string(),
        referrer: referrer.to_owned(),
        source: Box::new(source),
    })
}

/// Checks the simple-signing manifest at `tag`; [`SignatureError::Missing`] when there is none.
/// When it holds several signatures, one that verifies is enough; otherwise the error reported
/// is the most telling one ([`SignatureError::WrongDigest`], then
/// [`SignatureError::Untrusted`], then [`SignatureError::Invalid`]).
async fn verify_simple_signing(
    client: &Client,
    reference: &Reference,
    subject: &str,
    digest: &str,
    tag: &str,
    keys: &TrustedKeys,
) -> Result<KeyId, SignatureError> {
    let invalid = |reason: String| SignatureError::Invalid {
        subject: subject.to_owned(),
        reason,
    };
    let mut session = client.session(reference, Access::Pull)?;
    let (manifest, _) = match session.get_manifest(tag).await {
        Ok(found) => found,
        Err(Error::NotFound { .. }) => {
            return Err(SignatureError::Missing {
                subject: subject.to_owned(),
                location: format!(
                    "tag {tag} of {}/{}",
                    reference.registry(),
                    reference.repository()
                ),
            });
        }
        Err(e) => return Err(e.into()),
    };
    let manifest = parse_image_manifest(&manifest).map_err(|why| {
        invalid(format!(
            "the signature manifest {tag} is not OCI JSON: {why}"
        ))
    })?;
    let layers: Vec<Descriptor> = manifest
        .layers
        .iter()
        .filter(|l| l.media_type == SIMPLE_SIGNING_MEDIA_TYPE)
        .map(Descriptor::from_oci)
        .collect::<Result<_, _>>()
        .map_err(|why| invalid(format!("the signature manifest {tag}: {why}")))?;
    if layers.is_empty() {
        return Err(invalid(format!(
            "the signature manifest {tag} has no layer of media type {SIMPLE_SIGNING_MEDIA_TYPE}"
        )));
    }
    let mut failures = Vec::new();
    for layer in layers {
        match verify_layer(&mut session, subject, digest, &layer, keys).await {
            Ok(key) => return Ok(key),
            // Not a verdict on the signature: the registry failed us.
            Err(e @ SignatureError::Oci(_)) => return Err(e),
            Err(e) => failures.push(e),
        }
    }
    let rank = |e: &SignatureError| match e {
        SignatureError::WrongDigest { .. } => 0,
        SignatureError::Untrusted { .. } => 1,
        _ => 2,
    };
    failures.sort_by_key(rank);
    Err(failures
        .into_iter()
        .next()
        .unwrap_or_else(|| invalid("no signature layer".to_owned())))
}

/// Checks one simple-signing layer: its signature over the payload, then the digest it names.
/// The signature comes first so that nothing unauthenticated is trusted.
async fn verify_layer(
    session: &mut crate::registry::Session<'_>,
    subject: &str,
    digest: &str,
    layer: &Descriptor,
    keys: &TrustedKeys,
) -> Result<KeyId, SignatureError> {
    let invalid = |reason: String| SignatureError::Invalid {
        subject: subject.to_owned(),
        reason,
    };
    let Some(signature) = layer.annotations.get(SIGNATURE_ANNOTATION) else {
        return Err(invalid(format!(
            "the signature layer {} has no {SIGNATURE_ANNOTATION} annotation",
            crate::error::bounded(&layer.digest)
        )));
    };
    crate::reference::parse_digest(&layer.digest)
        .map_err(|reason| invalid(format!("the signature layer's {reason}")))?;
    if layer.size > MAX_PAYLOAD_BYTES as u64 {
        return Err(invalid(format!(
            "the signature payload is {} bytes; at most {MAX_PAYLOAD_BYTES} are accepted",
            layer.size
        )));
    }
    let payload = session
        .get_small_blob(&layer.digest, MAX_PAYLOAD_BYTES)
        .await?;
    let key = keys.verify(subject, &payload, signature)?;
    let parsed: Payload = serde_json::from_slice(&payload).map_err(|e| {
        invalid(format!(
            "the payload {} is not a cosign simple-signing payload: {}",
            layer.digest,
            crate::error::bounded(&e.to_string())
        ))
    })?;
    if parsed.critical.kind != PAYLOAD_TYPE {
        return Err(invalid(format!(
            "the payload's type is {:?}, not {PAYLOAD_TYPE:?}",
            crate::error::bounded(&parsed.critical.kind)
        )));
    }
    let signed = parsed.critical.image.docker_manifest_digest;
    if signed != digest {
        return Err(SignatureError::WrongDigest {
            subject: subject.to_owned(),
            expected: digest.to_owned(),
            signed: crate::error::bounded(&signed),
        });
    }
    Ok(key)
}

/// Signs the artifact `reference` (pinned to a digest, which must exist in the registry) with
/// the PKCS#8 P-256 key in `private_pem`, in the default format, a Sigstore bundle attached as
/// a referrer (see [`sign_artifact_with`]). Returns the pushed manifest's digest.
///
/// # Errors
/// As [`sign_artifact_with`].
pub async fn sign_artifact(
    client: &Client,
    reference: &Reference,
    private_pem: &str,
) -> Result<String, SignatureError> {
    sign_artifact_with(client, reference, private_pem, SigningFormat::default()).await
}

/// Signs the artifact `reference` (pinned to a digest, which must exist in the registry) with
/// the PKCS#8 P-256 key in `private_pem`, in `format`, and pushes the signature as cosign does:
///
/// - [`SigningFormat::Bundle`] (cosign v3's default): a Sigstore bundle v0.3 whose DSSE
///   envelope signs an in-toto statement naming the digest
///   ([`crate::bundle::sign_bundle_dsse`], no transparency-log entry: `cosign verify` needs
///   `--insecure-ignore-tlog`), pushed as an OCI referrer of the artifact
///   ([`Client::push_referrer`]) with artifact type and layer media type
///   [`BUNDLE_V03_MEDIA_TYPE`] and cosign's annotations. Each call adds a referrer.
/// - [`SigningFormat::SimpleSigning`] (cosign v2's default): a simple-signing layer added to
///   the manifest at `sha256-HEX.sig` (created if absent; an identical signature already there
///   is not added twice).
///
/// Returns the pushed manifest's digest (the referrer, or the `.sig` manifest).
///
/// # Errors
/// [`SignatureError::Key`] for an unusable key (before anything is sent);
/// [`SignatureError::Oci`] when the reference is not pinned, the artifact does not exist, or
/// the registry refuses the push; [`SignatureError::Invalid`] when the existing signature
/// manifest is not OCI JSON.
pub async fn sign_artifact_with(
    client: &Client,
    reference: &Reference,
    private_pem: &str,
    format: SigningFormat,
) -> Result<String, SignatureError> {
    match format {
        SigningFormat::Bundle => sign_bundle_referrer(client, reference, private_pem).await,
        SigningFormat::SimpleSigning => sign_simple_signing(client, reference, private_pem).await,
    }
}

/// Signs as [`SigningFormat::Bundle`].
async fn sign_bundle_referrer(
    client: &Client,
    reference: &Reference,
    private_pem: &str,
) -> Result<String, SignatureError> {
    let digest = pinned_digest(reference, "signing")?;
    let bundle = sign_bundle_dsse(digest, private_pem, None).map_err(|e| match e {
        BundleError::Signing(key_error) => key_error,
        // The digest is a pinned reference's, so sha256 and 64 hex digits: not reached.
        other => SignatureError::Oci(Error::InvalidReference {
            reference: reference.to_string(),
            reason: other.to_string(),
        }),
    })?;
    attach_bundle(client, reference, bundle).await
}

/// Attaches `bundle`, a Sigstore bundle (DSSE) made elsewhere, to the artifact `reference`
/// (pinned to a digest) as cosign v3 does: an OCI referrer with artifact type and layer media
/// type [`BUNDLE_V03_MEDIA_TYPE`] and cosign's annotations. Nothing checks the bundle here;
/// [`verify_artifact_with`] does when the artifact is used. Returns the referrer's digest.
///
/// # Errors
/// [`SignatureError::Oci`] when the reference is not pinned, the artifact does not exist, or
/// the registry refuses the push.
pub async fn attach_bundle(
    client: &Client,
    reference: &Reference,
    bundle: Vec<u8>,
) -> Result<String, SignatureError> {
    pinned_digest(reference, "attaching a signature")?;
    let created = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    // What cosign v3 writes on its referrer manifest.
    let annotations = BTreeMap::from([
        (
            ANNOTATION_BUNDLE_CONTENT.to_owned(),
            BUNDLE_CONTENT_DSSE.to_owned(),
        ),
        (
            ANNOTATION_BUNDLE_PREDICATE_TYPE.to_owned(),
            COSIGN_SIGN_PREDICATE_TYPE.to_owned(),
        ),
        (ANNOTATION_CREATED.to_owned(), created),
    ]);
    let referrer = client
        .push_referrer(
            reference,
            BUNDLE_V03_MEDIA_TYPE,
            BUNDLE_V03_MEDIA_TYPE,
            bundle,
            annotations,
        )
        .await?;
    tracing::info!(reference = %reference, referrer = %referrer, "signed (Sigstore bundle)");
    Ok(referrer)
}

/// Signs as [`SigningFormat::SimpleSigning`].
async fn sign_simple_signing(
    client: &Client,
    reference: &Reference,
    private_pem: &str,
) -> Result<String, SignatureError> {
    let digest = pinned_digest(reference, "signing")?;
    let tag = signature_tag(digest)?;
    let key = SigningKey::from_pem(private_pem)?;
    let payload = serde_json::to_vec(&Payload {
        critical: Critical {
            identity: Identity {
                // cosign (go-containerregistry) names Docker Hub `index.docker.io`.
                docker_reference: format!(
                    "{}/{}",
                    reference.resolve_registry(),
                    reference.repository()
                ),
            },
            image: Image {
                docker_manifest_digest: digest.to_owned(),
            },
            kind: PAYLOAD_TYPE.to_owned(),
        },
        optional: None,
    })
    .map_err(|e| json_error(reference, e))?;
    let signature = key.sign(&payload)?;
    let payload_digest = sha256_digest(&payload);

    let mut session = client.session(reference, Access::Push)?;
    // Signing what the registry does not hold would publish a signature for nothing.
    session.get_manifest(digest).await?;
    let mut layers = match session.get_manifest(&tag).await {
        Ok((bytes, _)) => {
            parse_image_manifest(&bytes)
                .map_err(|why| SignatureError::Invalid {
                    subject: reference.to_string(),
                    reason: format!("the signature manifest {tag} is not OCI JSON: {why}"),
                })?
                .layers
        }
        Err(Error::NotFound { .. }) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let layer = Descriptor {
        annotations: BTreeMap::from([(SIGNATURE_ANNOTATION.to_owned(), signature)]),
        ..Descriptor::of(SIMPLE_SIGNING_MEDIA_TYPE, &payload)
    }
    .to_oci();
    // The layers of other signers stay as they were written (oci-client keeps their `urls`).
    let same = |l: &OciDescriptor| {
        (&l.media_type, &l.digest, l.size, &l.annotations)
            == (
                &layer.media_type,
                &layer.digest,
                layer.size,
                &layer.annotations,
            )
    };
    if !layers.iter().any(same) {
        layers.push(layer);
    }
    if !session.blob_exists(&payload_digest).await? {
        session
            .upload_blob(&payload_digest, ReqBody::Bytes(Bytes::from(payload)))
            .await?;
    }
    // cosign's config: an empty image config whose diff_ids list the layers.
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "",
        "os": "",
        "config": {},
        "rootfs": {
            "type": "layers",
            "diff_ids": layers.iter().map(|l| l.digest.as_str()).collect::<Vec<_>>(),
        },
    }))
    .map_err(|e| json_error(reference, e))?;
    let config_descriptor = Descriptor::of(SIGNATURE_CONFIG_MEDIA_TYPE, &config);
    let config_digest = config_descriptor.digest.clone();
    if !session.blob_exists(&config_digest).await? {
        session
            .upload_blob(&config_digest, ReqBody::Bytes(Bytes::from(config)))
            .await?;
    }
    let manifest = serde_json::to_vec(&image_manifest(
        config_descriptor.to_oci(),
        layers,
        BTreeMap::new(),
    ))
    .map_err(|e| json_error(reference, e))?;
    let manifest_digest = sha256_digest(&manifest);
    let reported = session.put_manifest(&tag, Bytes::from(manifest)).await?;
    if let Some(reported) = reported.filter(|r| *r != manifest_digest) {
        return Err(Error::DigestMismatch {
            reference: reference.to_string(),
            what: "the registry stored the signature manifest under another digest".to_owned(),
            expected: manifest_digest,
            found: crate::error::bounded(&reported),
        }
        .into());
    }
    tracing::info!(reference = %reference, tag = %tag, digest = %manifest_digest, "signed");
    Ok(manifest_digest)
}

/// A parsed private key (`pub(crate)` for [`crate::bundle`]'s signer).
pub(crate) struct SigningKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
}

impl SigningKey {
    pub(crate) fn from_pem(pem: &str) -> Result<Self, SignatureError> {
        let key_error = |reason: String| SignatureError::Key {
            key: "the private key".to_owned(),
            reason,
        };
        let blocks = pem_blocks(pem).map_err(key_error)?;
        let Some((_, der)) = blocks.iter().find(|(label, _)| label == "PRIVATE KEY") else {
            let labels: Vec<&str> = blocks.iter().map(|(l, _)| l.as_str()).collect();
            let hint = if labels.iter().any(|l| l.starts_with("ENCRYPTED")) {
                "encrypted private keys (cosign.key included) are not supported: sign with cosign, \
                 or use an unencrypted PKCS#8 key"
            } else if labels.contains(&"EC PRIVATE KEY") {
                "a SEC1 EC PRIVATE KEY; convert it with `openssl pkcs8 -topk8 -nocrypt`"
            } else {
                "no -----BEGIN PRIVATE KEY----- block"
            };
            return Err(key_error(format!(
                "{hint} (expected an unencrypted PKCS#8 ECDSA P-256 key, as `openssl genpkey \
                 -algorithm EC -pkeyopt ec_paramgen_curve:P-256` writes)"
            )));
        };
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, der, &rng)
            .map_err(|e| key_error(format!("not a PKCS#8 ECDSA P-256 key: {e}")))?;
        Ok(Self { pair, rng })
    }

    /// The DER SubjectPublicKeyInfo of the key's public half, as `cosign.pub` holds it.
    pub(crate) fn public_key_der(&self) -> Vec<u8> {
        use ring::signature::KeyPair as _;
        let mut spki = SPKI_P256_PREFIX.to_vec();
        spki.extend_from_slice(self.pair.public_key().as_ref());
        spki
    }

    /// The base64 DER signature of `message`.
    pub(crate) fn sign(&self, message: &[u8]) -> Result<String, SignatureError> {
        let signature = self
            .pair
            .sign(&self.rng, message)
            .map_err(|_| SignatureError::Key {
                key: "the private key".to_owned(),
                reason: "signing failed (no randomness available)".to_owned(),
            })?;
        Ok(BASE64.encode(signature.as_ref()))
    }
}

/// The blocks of a PEM text: label and decoded DER, in order.
fn pem_blocks(pem: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut blocks = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in pem.lines().map(str::trim) {
        match &mut current {
            None => {
                if let Some(label) = line
                    .strip_prefix("-----BEGIN ")
                    .and_then(|l| l.strip_suffix("-----"))
                {
                    current = Some((label.to_owned(), String::new()));
                }
            }
            Some((label, body)) => {
                if let Some(end) = line
                    .strip_prefix("-----END ")
                    .and_then(|l| l.strip_suffix("-----"))
                {
                    if end != label {
                        return Err(format!("PEM block BEGIN {label} ends with END {end}"));
                    }
                    let der = BASE64
                        .decode(body.as_bytes())
                        .map_err(|e| format!("PEM block {label} is not valid base64: {e}"))?;
                    blocks.push((label.clone(), der));
                    current = None;
                } else if !line.contains(':') {
                    // Lines with ':' are RFC 1421 headers (encryption parameters), not data.
                    body.push_str(line);
                }
            }
        }
    }
    if let Some((label, _)) = current {
        return Err(format!("PEM block {label} has no END line"));
    }
    Ok(blocks)
}

/// The uncompressed point of a DER SubjectPublicKeyInfo holding a P-256 key.
fn p256_point(spki: &[u8]) -> Result<Vec<u8>, String> {
    match spki.strip_prefix(&SPKI_P256_PREFIX[..]) {
        Some(point) if point.len() == P256_POINT_LEN && point[0] == 0x04 => Ok(point.to_vec()),
        _ => Err(
            "not an ECDSA P-256 public key with an uncompressed point (only P-256 keys, as \
             cosign generate-key-pair and openssl write, are supported)"
                .to_owned(),
        ),
    }
}

/// Checks the shape of a DER ECDSA signature, `SEQUENCE { INTEGER r, INTEGER s }`, so that a
/// garbled signature is reported as invalid rather than as signed by an unknown key.
fn check_der_signature(der: &[u8]) -> Result<(), String> {
    if der.len() < 8 || der.len() > MAX_DER_SIGNATURE_LEN {
        return Err(format!(
            "{} bytes; a P-256 signature is 8 to {MAX_DER_SIGNATURE_LEN}",
            der.len()
        ));
    }
    if der[0] != 0x30 || usize::from(der[1]) != der.len() - 2 {
        return Err("not a DER SEQUENCE of its length".to_owned());
    }
    let mut rest = &der[2..];
    for name in ["r", "s"] {
        match rest {
            [0x02, len, tail @ ..] if *len > 0 && usize::from(*len) <= tail.len() => {
                rest = &tail[usize::from(*len)..];
            }
            _ => return Err(format!("{name} is not a DER INTEGER")),
        }
    }
    if rest.is_empty() {
        Ok(())
    } else {
        Err("trailing bytes after the two INTEGERs".to_owned())
    }
}

fn io_error(context: &'static str, path: &Path, source: std::io::Error) -> SignatureError {
    SignatureError::Io {
        context,
        path: path.to_owned(),
        source,
    }
}

fn json_error(reference: &Reference, e: serde_json::Error) -> SignatureError {
    SignatureError::Oci(Error::Io {
        reference: reference.to_string(),
        context: "serializing the signature",
        path: PathBuf::new(),
        source: std::io::Error::other(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh key pair: the private key as PKCS#8 PEM, the public key as SPKI PEM.
    fn key_pair() -> (String, String) {
        use ring::signature::KeyPair as _;
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let mut spki = SPKI_P256_PREFIX.to_vec();
        spki.extend_from_slice(pair.public_key().as_ref());
        let pem = |label: &str, der: &[u8]| {
            format!(
                "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
                BASE64.encode(der)
            )
        };
        (pem("PRIVATE KEY", pkcs8.as_ref()), pem("PUBLIC KEY", &spki))
    }

    #[test]
    fn sign_then_verify() {
        let (private, public) = key_pair();
        let (_, other) = key_pair();
        let keys = TrustedKeys::from_pem(&format!("{other}{public}")).unwrap();
        let signature = sign_blob(b"plugin", &private).unwrap();
        let key = verify_blob(b"plugin", &signature, &keys).unwrap();
        assert_eq!(key.name, "inline key 2");
        assert!(matches!(
            verify_blob(b"plugin!", &signature, &keys),
            Err(SignatureError::Untrusted { tried, .. }) if tried.len() == 2
        ));
        assert!(matches!(
            verify_blob(b"plugin", "%%%", &keys),
            Err(SignatureError::Invalid { reason, .. }) if reason.contains("not base64")
        ));
        assert!(matches!(
            verify_blob(b"plugin", &signature, &TrustedKeys::new()),
            Err(SignatureError::Untrusted { tried, .. }) if tried.is_empty()
        ));
    }

    #[test]
    fn key_errors() {
        let (private, public) = key_pair();
        let reason = |r: Result<TrustedKeys, SignatureError>| match r {
            Err(SignatureError::Key { reason, .. }) => reason,
            other => panic!("expected Key, got {other:?}"),
        };
        assert!(reason(TrustedKeys::from_pem(&private)).contains("no -----BEGIN PUBLIC KEY"));
        assert!(reason(TrustedKeys::from_pem(&public[..40])).contains("no END line"));
        let rsa_like = "-----BEGIN PUBLIC KEY-----\nMAoGCCqGSM49AwEH\n-----END PUBLIC KEY-----\n";
        assert!(reason(TrustedKeys::from_pem(rsa_like)).contains("not an ECDSA P-256"));
        for (pem, expected) in [
            (public.as_str(), "no -----BEGIN PRIVATE KEY"),
            (
                "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
                "encrypted private keys",
            ),
        ] {
            match sign_blob(b"x", pem) {
                Err(SignatureError::Key { reason, .. }) => {
                    assert!(reason.contains(expected), "{reason}");
                }
                other => panic!("expected Key, got {other:?}"),
            }
        }
    }

    #[test]
    fn signature_tags() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(
            signature_tag(&digest).unwrap(),
            format!("sha256-{}.sig", "ab".repeat(32))
        );
        assert!(signature_tag("sha256:xyz").is_err());
        assert_eq!(
            signature_path(Path::new("/p/notify.wasm")),
            Path::new("/p/notify.wasm.sig")
        );
    }

    #[test]
    fn der_shapes() {
        assert!(check_der_signature(&[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]).is_ok());
        assert!(check_der_signature(&[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x02, 0x01]).is_err());
        assert!(check_der_signature(b"not a signature at all").is_err());
    }
}
