//! Sigstore bundles: the signature format cosign v3 writes by default, checked against
//! [`TrustedKeys`], and made the same way.
//!
//! A bundle ([`BUNDLE_V03_MEDIA_TYPE`], the protobuf-specs `Bundle` message in its JSON form)
//! holds one signature, the material to verify it, and optionally transparency-log entries:
//!
//! - **`dsseEnvelope`**: what `cosign sign --key cosign.key IMAGE@DIGEST` makes for an OCI
//!   artifact. The envelope's payload is an in-toto Statement v1 whose subject is the signed
//!   manifest's digest and whose predicate type is [`COSIGN_SIGN_PREDICATE_TYPE`] (an
//!   attestation has another one); its payload type is [`IN_TOTO_PAYLOAD_TYPE`]; the signature
//!   is ECDSA P-256 SHA-256 (ASN.1 DER) over the DSSE pre-authentication encoding
//!   `DSSEv1 LEN(type) type LEN(payload) payload`. cosign attaches the bundle to the artifact
//!   as an OCI 1.1 referrer: a manifest whose `artifactType` is the bundle media type, whose
//!   one layer is the bundle, with the annotations [`ANNOTATION_BUNDLE_CONTENT`] =
//!   [`BUNDLE_CONTENT_DSSE`] and [`ANNOTATION_BUNDLE_PREDICATE_TYPE`]. Finding and attaching that
//!   referrer is [`crate::signature`]'s job ([`crate::signature::verify_artifact_with`],
//!   [`crate::signature::sign_artifact`]); this module reads and writes the bundle itself.
//! - **`messageSignature`**: what `cosign sign-blob --key cosign.key --bundle out.json FILE`
//!   writes: the file's SHA-256 (`messageDigest`) and the ECDSA signature over the file's
//!   bytes.
//!
//! The key is named by `verificationMaterial.publicKey.hint` (the base64 SHA-256 of its DER
//! SubjectPublicKeyInfo, [`key_hint`]), which is informational: every trusted key is tried.
//!
//! [`verify_bundle`] checks a bundle for an artifact digest (the DSSE form);
//! [`verify_blob_bundle`] checks one against a blob's bytes (both forms: ring verifies an
//! ECDSA signature over a message, not over a digest, so a message signature needs the blob).
//! [`sign_bundle_dsse`] and [`sign_bundle_blob`] write what cosign v3 writes.
//!
//! What is checked, and what is refused rather than ignored:
//!
//! - Media types v0.1, v0.2 and v0.3 (both spellings of v0.3) are read; anything else is
//!   [`BundleError::UnsupportedMediaType`]. Input above [`MAX_BUNDLE_BYTES`] is not parsed.
//! - Keyless bundles (`certificate`, `x509CertificateChain`: Fulcio certificates) are
//!   [`BundleError::Certificate`]: robodev verifies with trusted keys only.
//! - Transparency-log entries (Rekor v1 `hashedrekord` / `dsse` 0.0.1) are checked when present,
//!   against the log keys of [`BundlePolicy::log_keys`]: the log ID must be the SHA-256 of a
//!   configured log key ([`BundleError::UnknownLog`] otherwise, never a silent pass), the
//!   inclusion promise (the log's signed entry timestamp over the canonical JSON of
//!   `{body, integratedTime, logID, logIndex}`) and the inclusion proof (RFC 6962 Merkle path
//!   to a root hash, and that root's checkpoint signed by the log key) must verify, and the
//!   entry's body must describe this bundle: the same signature, the same key, the same
//!   payload hash or message digest ([`BundleError::TlogMismatch`]). As sigstore-go does, a
//!   v0.1 bundle's entries need a promise and a v0.2+ bundle's entries a proof. Rekor v2 entries
//!   (kind version 0.0.2, which need a timestamp authority's signed time) are refused with
//!   [`BundleError::TlogUnsupported`]. A bundle without entries passes unless
//!   [`BundlePolicy::require_tlog`].
//! - RFC 3161 timestamps are not checked (robodev's trusted keys have no validity period, so
//!   signing time decides nothing); how many there were is reported in
//!   [`BundleVerified::unchecked_timestamps`].
//!
//! Why no library: the `sigstore` crate (sigstore-rs 0.15) verifies bundles only for keyless
//! signing: its bundle verifier refuses `publicKey` verification material, which is the only
//! kind robodev accepts; and its `verify` feature pulls in its Fulcio and Rekor HTTP clients
//! (reqwest, openidconnect), x509-cert and protobuf-specs bindings, with openssl in its default
//! features. What robodev needs is a JSON format, DSSE's PAE, canonical JSON of four fields and
//! an RFC 6962 proof check, over the ECDSA P-256 that ring (already here for rustls) provides.
//!
//! ```
//! use robodev_oci::bundle::{BundlePolicy, LocalLog, sign_bundle_dsse, verify_bundle};
//! use robodev_oci::signature::TrustedKeys;
//!
//! # fn example(private_pem: &str, public_pem: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let digest = format!("sha256:{}", "ab".repeat(32));
//! let log = LocalLog::generate("test.log")?;
//! let bundle = sign_bundle_dsse(&digest, private_pem, Some(&log))?;
//!
//! let keys = TrustedKeys::from_pem(public_pem)?;
//! let policy = BundlePolicy::new(TrustedKeys::from_pem(&log.public_key_pem())?, true);
//! let verified = verify_bundle(&bundle, &digest, &keys, &policy)?;
//! println!("signed by {} and logged in {} entries", verified.key, verified.tlog.len());
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::bounded;
use crate::signature::{KeyId, SignatureError, SigningKey, TrustedKeys};

/// The media type cosign v3 writes (bundle v0.3), on the bundle and as the referrer manifest's
/// `artifactType` and layer media type.
pub const BUNDLE_V03_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The bundle media types read, and the version each names. v0.3 has two spellings; sigstore
/// clients write the first.
pub const BUNDLE_MEDIA_TYPES: [(&str, BundleVersion); 4] = [
    (BUNDLE_V03_MEDIA_TYPE, BundleVersion::V0_3),
    (
        "application/vnd.dev.sigstore.bundle+json;version=0.3",
        BundleVersion::V0_3,
    ),
    (
        "application/vnd.dev.sigstore.bundle+json;version=0.2",
        BundleVersion::V0_2,
    ),
    (
        "application/vnd.dev.sigstore.bundle+json;version=0.1",
        BundleVersion::V0_1,
    ),
];
/// The DSSE payload type of an in-toto statement, the only one accepted.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The `_type` of an in-toto Statement v1.
pub const IN_TOTO_STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// The `_type` of the in-toto Statement v0.1 that older cosign attestations carry: its subject
/// has the same shape, so it is read too.
pub const IN_TOTO_STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
/// The predicate type of the statement `cosign sign` signs (a plain signature, no claims).
pub const COSIGN_SIGN_PREDICATE_TYPE: &str = "https://sigstore.dev/cosign/sign/v1";
/// The referrer manifest annotation saying what the bundle holds.
pub const ANNOTATION_BUNDLE_CONTENT: &str = "dev.sigstore.bundle.content";
/// The value of [`ANNOTATION_BUNDLE_CONTENT`] for a DSSE envelope.
pub const BUNDLE_CONTENT_DSSE: &str = "dsse-envelope";
/// The referrer manifest annotation holding the statement's predicate type.
pub const ANNOTATION_BUNDLE_PREDICATE_TYPE: &str = "dev.sigstore.bundle.predicateType";
/// The largest bundle parsed. A cosign signature bundle is 2 to 10 KB (more with a
/// certificate chain); an attestation's predicate can be larger, but not a megabyte.
pub const MAX_BUNDLE_BYTES: usize = 1024 * 1024;
/// The most transparency-log entries read from one bundle (sigstore-go's limit too).
pub const MAX_TLOG_ENTRIES: usize = 32;
/// The most hashes in an inclusion proof: a path in a tree of 2^64 leaves.
const MAX_PROOF_HASHES: usize = 64;
/// The Rekor entry kind version this module checks (Rekor v1).
const REKOR_V1_ENTRY_VERSION: &str = "0.0.1";

/// A bundle format version, from its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum BundleVersion {
    /// v0.1: log entries carry an inclusion promise.
    V0_1,
    /// v0.2: log entries carry an inclusion proof.
    V0_2,
    /// v0.3: what cosign v3 writes; a single `certificate` instead of a chain.
    V0_3,
}

impl fmt::Display for BundleVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::V0_1 => "v0.1",
            Self::V0_2 => "v0.2",
            Self::V0_3 => "v0.3",
        })
    }
}

/// What a bundle is checked against besides the signer's keys: the transparency logs trusted.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct BundlePolicy {
    /// The public keys of the transparency logs whose entries are accepted (ECDSA P-256 PEM,
    /// as for signers; a log's ID is the SHA-256 of its key's DER). An entry from another log
    /// is refused, not skipped. For the public Sigstore Rekor, its key is in Sigstore's trusted
    /// root (`tlogs[].publicKey.rawBytes`, DER) or at `https://rekor.sigstore.dev/api/v1/log/publicKey`.
    pub log_keys: TrustedKeys,
    /// Whether a bundle needs at least one verified log entry. Without it, a bundle with no
    /// entries passes on its signature alone (`cosign sign --tlog-upload=false`).
    pub require_tlog: bool,
}

impl BundlePolicy {
    /// A policy trusting the logs of `log_keys`.
    pub fn new(log_keys: TrustedKeys, require_tlog: bool) -> Self {
        Self {
            log_keys,
            require_tlog,
        }
    }
}

/// A bundle that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BundleVerified {
    /// The trusted key that made the signature.
    pub key: KeyId,
    /// The bundle's format version.
    pub version: BundleVersion,
    /// The statement's predicate type for a DSSE bundle ([`COSIGN_SIGN_PREDICATE_TYPE`] for a
    /// signature, another for an attestation); `None` for a message signature.
    pub predicate_type: Option<String>,
    /// The transparency-log entries checked, in the bundle's order.
    pub tlog: Vec<TlogVerified>,
    /// RFC 3161 timestamps present but not checked.
    pub unchecked_timestamps: usize,
}

/// A transparency-log entry that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlogVerified {
    /// The log's key (from [`BundlePolicy::log_keys`]).
    pub log: KeyId,
    /// The entry's index in the log.
    pub log_index: i64,
    /// When the log says it integrated the entry (Unix seconds; 0 when not given).
    pub integrated_time: i64,
    /// Whether an inclusion promise (signed entry timestamp) was checked.
    pub promise: bool,
    /// Whether an inclusion proof and its signed checkpoint were checked.
    pub proof: bool,
}

/// Why a bundle was not accepted, or could not be made. Every variant names the subject: the
/// artifact digest or blob the bundle was checked for.
///
/// [`Malformed`](Self::Malformed), [`TooLarge`](Self::TooLarge),
/// [`UnsupportedMediaType`](Self::UnsupportedMediaType), [`Certificate`](Self::Certificate),
/// [`PayloadType`](Self::PayloadType), [`InvalidSignature`](Self::InvalidSignature),
/// [`Untrusted`](Self::Untrusted), [`WrongSubject`](Self::WrongSubject) and the `Tlog*`
/// variants are verdicts on the bundle: refuse the plugin. [`UnknownLog`](Self::UnknownLog)
/// and [`TlogRequired`](Self::TlogRequired) may also mean the policy lacks a log key.
/// [`NeedsBlob`](Self::NeedsBlob) is a caller error, [`Signing`](Self::Signing) a key error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The bundle is larger than [`MAX_BUNDLE_BYTES`]; it was not parsed.
    #[error("the Sigstore bundle for {subject} is {size} bytes; at most {max} are read")]
    TooLarge {
        /// What the bundle was checked for.
        subject: String,
        /// Its size.
        size: usize,
        /// [`MAX_BUNDLE_BYTES`].
        max: usize,
    },

    /// Not a Sigstore bundle: not JSON, a field missing or of the wrong type, not base64,
    /// a payload that is not an in-toto statement.
    #[error("the Sigstore bundle for {subject} is malformed: {reason}")]
    Malformed {
        /// What the bundle was checked for.
        subject: String,
        /// What is wrong, naming the field.
        reason: String,
    },

    /// The bundle's `mediaType` is not a version this module reads.
    #[error(
        "the Sigstore bundle for {subject} has media type {media_type:?}; robodev reads bundle \
         v0.1 to v0.3 ({BUNDLE_V03_MEDIA_TYPE} and the older \
         application/vnd.dev.sigstore.bundle+json;version=0.N)"
    )]
    UnsupportedMediaType {
        /// What the bundle was checked for.
        subject: String,
        /// The media type found (bounded).
        media_type: String,
    },

    /// The bundle is signed keylessly (a Fulcio certificate): robodev checks signatures made
    /// with trusted keys only.
    #[error(
        "the Sigstore bundle for {subject} carries {what} (keyless signing): robodev verifies \
         only signatures made with a trusted key (cosign sign --key), so it is refused"
    )]
    Certificate {
        /// What the bundle was checked for.
        subject: String,
        /// `a certificate` or `a certificate chain`.
        what: &'static str,
    },

    /// The DSSE envelope's payload is not an in-toto statement.
    #[error(
        "the Sigstore bundle for {subject} signs a payload of type {found:?}, not \
         {IN_TOTO_PAYLOAD_TYPE}"
    )]
    PayloadType {
        /// What the bundle was checked for.
        subject: String,
        /// The payload type found (bounded).
        found: String,
    },

    /// The signature is not base64 of an ASN.1 DER ECDSA signature, or there is not exactly
    /// one.
    #[error("invalid signature in the Sigstore bundle for {subject}: {reason}")]
    InvalidSignature {
        /// What the bundle was checked for.
        subject: String,
        /// What is wrong.
        reason: String,
    },

    /// No trusted key verifies the signature: the content changed after signing, or another
    /// key signed it.
    #[error(
        "the Sigstore bundle for {subject} is not signed by a trusted key ({}tried {})",
        hint.as_ref().map(|h| format!("its key hint is {h}; ")).unwrap_or_default(),
        if tried.is_empty() { "none: no key is trusted".to_owned() } else { tried.join(", ") }
    )]
    Untrusted {
        /// What the bundle was checked for.
        subject: String,
        /// The bundle's `publicKey.hint` (see [`key_hint`]), when given.
        hint: Option<String>,
        /// The trusted keys tried, as [`KeyId`]s are displayed.
        tried: Vec<String>,
    },

    /// A trusted key signed it, but for another artifact: the statement's subjects (or the
    /// message digest) do not include the expected digest.
    #[error("the Sigstore bundle found for {subject} signs {signed}, not {expected}")]
    WrongSubject {
        /// What the bundle was checked for.
        subject: String,
        /// The digest expected.
        expected: String,
        /// The digest(s) the bundle signs.
        signed: String,
    },

    /// A message-signature bundle was checked with [`verify_bundle`], which has only a digest.
    #[error(
        "the Sigstore bundle for {subject} is a message signature (cosign sign-blob), which is \
         checked against the blob's bytes: use verify_blob_bundle"
    )]
    NeedsBlob {
        /// What the bundle was checked for.
        subject: String,
    },

    /// A transparency-log entry is from a log whose key is not configured.
    #[error(
        "transparency log entry {log_index} in the Sigstore bundle for {subject} is from a log \
         whose key is not trusted (log ID {log_id}); add that log's public key (PEM) to the \
         trusted log keys (`transparency_log_keys` in robodev-config.yaml, `--log-key` on the \
         command line; for the public Sigstore Rekor, its key from Sigstore's trusted root \
         or https://rekor.sigstore.dev/api/v1/log/publicKey), or sign without a log \
         (--tlog-upload=false)"
    )]
    UnknownLog {
        /// What the bundle was checked for.
        subject: String,
        /// The entry's log index.
        log_index: i64,
        /// The log ID: hex SHA-256 of the log's DER public key.
        log_id: String,
    },

    /// A transparency-log entry's promise or proof does not verify, or it has neither.
    #[error("transparency log entry {log_index} in the Sigstore bundle for {subject}: {reason}")]
    TlogInvalid {
        /// What the bundle was checked for.
        subject: String,
        /// The entry's log index.
        log_index: i64,
        /// What failed.
        reason: String,
    },

    /// A transparency-log entry verifies, but describes another signature, key or payload.
    #[error(
        "transparency log entry {log_index} in the Sigstore bundle for {subject} does not \
         describe this bundle's signature: {reason}"
    )]
    TlogMismatch {
        /// What the bundle was checked for.
        subject: String,
        /// The entry's log index.
        log_index: i64,
        /// Which field differs.
        reason: String,
    },

    /// A transparency-log entry of a kind or version this module does not check.
    #[error(
        "transparency log entry {log_index} in the Sigstore bundle for {subject} is {kind} \
         {version}, which robodev does not check: {reason}"
    )]
    TlogUnsupported {
        /// What the bundle was checked for.
        subject: String,
        /// The entry's log index.
        log_index: i64,
        /// The entry kind (bounded).
        kind: String,
        /// The entry kind version (bounded).
        version: String,
        /// Why, and what to do.
        reason: String,
    },

    /// The policy requires a transparency-log entry and the bundle has none.
    #[error("the Sigstore bundle for {subject} has no transparency log entry, and one is required")]
    TlogRequired {
        /// What the bundle was checked for.
        subject: String,
    },

    /// Signing failed: the private key is unusable.
    #[error("cannot make a Sigstore bundle: {0}")]
    Signing(#[source] SignatureError),
}

/// The key hint cosign writes for a public key: base64 of the SHA-256 of its DER
/// SubjectPublicKeyInfo.
pub fn key_hint(spki_der: &[u8]) -> String {
    BASE64.encode(Sha256::digest(spki_der))
}

/// Checks the DSSE bundle `bundle` for the artifact whose manifest digest is
/// `expected_digest` (`sha256:HEX`): its signature by one of `keys`, that its statement's
/// subject is `expected_digest`, and its log entries under `policy`.
///
/// # Errors
/// A [`BundleError`] saying what was refused; [`BundleError::NeedsBlob`] for a message
/// signature; [`BundleError::Malformed`] when `expected_digest` is not `sha256:` and 64
/// lowercase hex digits.
pub fn verify_bundle(
    bundle: &[u8],
    expected_digest: &str,
    keys: &TrustedKeys,
    policy: &BundlePolicy,
) -> Result<BundleVerified, BundleError> {
    let subject = format!("artifact {}", bounded(expected_digest));
    crate::reference::parse_digest(expected_digest).map_err(|reason| BundleError::Malformed {
        subject: subject.clone(),
        reason: format!("the expected {reason}"),
    })?;
    Verification {
        subject,
        digest: expected_digest.to_owned(),
        blob: None,
        keys,
        policy,
    }
    .run(bundle)
}

/// Checks the bundle `bundle` for the blob `blob`: a message signature over its bytes (what
/// `cosign sign-blob --bundle` writes), or a DSSE statement whose subject is its SHA-256.
///
/// # Errors
/// A [`BundleError`] saying what was refused.
pub fn verify_blob_bundle(
    bundle: &[u8],
    blob: &[u8],
    keys: &TrustedKeys,
    policy: &BundlePolicy,
) -> Result<BundleVerified, BundleError> {
    let digest = sha256_digest(blob);
    Verification {
        subject: format!("blob {digest}"),
        digest,
        blob: Some(blob),
        keys,
        policy,
    }
    .run(bundle)
}

/// Signs the artifact digest `expected_digest` (`sha256:HEX`) as `cosign sign --key` v3 does:
/// a v0.3 bundle with a DSSE envelope of an in-toto statement naming the digest, predicate
/// type [`COSIGN_SIGN_PREDICATE_TYPE`]; with `log`, a `dsse` entry with inclusion promise and
/// proof. Returns the bundle's JSON.
///
/// # Errors
/// [`BundleError::Signing`] when `private_pem` is not an unencrypted PKCS#8 P-256 key;
/// [`BundleError::Malformed`] when `expected_digest` is not a sha256 digest.
pub fn sign_bundle_dsse(
    expected_digest: &str,
    private_pem: &str,
    log: Option<&LocalLog>,
) -> Result<Vec<u8>, BundleError> {
    let subject = format!("artifact {}", bounded(expected_digest));
    let hex = crate::reference::parse_digest(expected_digest)
        .map_err(|reason| BundleError::Malformed {
            subject: subject.clone(),
            reason,
        })?
        .trim_start_matches("sha256:")
        .to_owned();
    let key = SigningKey::from_pem(private_pem).map_err(BundleError::Signing)?;
    let statement = serde_json::json!({
        "_type": IN_TOTO_STATEMENT_V1,
        "subject": [{ "digest": { "sha256": hex }, "annotations": {} }],
        "predicateType": COSIGN_SIGN_PREDICATE_TYPE,
        "predicate": {},
    });
    let payload = statement.to_string().into_bytes();
    let signature = key
        .sign(&pae(IN_TOTO_PAYLOAD_TYPE, &payload))
        .map_err(BundleError::Signing)?;
    let public_der = key.public_key_der();
    let mut bundle = serde_json::json!({
        "mediaType": BUNDLE_V03_MEDIA_TYPE,
        "verificationMaterial": { "publicKey": { "hint": key_hint(&public_der) } },
        "dsseEnvelope": {
            "payload": BASE64.encode(&payload),
            "payloadType": IN_TOTO_PAYLOAD_TYPE,
            "signatures": [{ "sig": signature }],
        },
    });
    if let Some(log) = log {
        // What Rekor v1 stores for a DSSE envelope (dsse v0.0.1, canonicalized): the hashes of
        // the envelope and payload, and each signature with its verifier's PEM.
        let envelope = serde_json::to_vec(&bundle["dsseEnvelope"]).unwrap_or_default();
        let body = serde_json::json!({
            "apiVersion": REKOR_V1_ENTRY_VERSION,
            "kind": "dsse",
            "spec": {
                "envelopeHash": { "algorithm": "sha256", "value": hex::encode(Sha256::digest(&envelope)) },
                "payloadHash": { "algorithm": "sha256", "value": hex::encode(Sha256::digest(&payload)) },
                "signatures": [{
                    "signature": signature,
                    "verifier": BASE64.encode(public_pem(&public_der)),
                }],
            },
        });
        bundle["verificationMaterial"]["tlogEntries"] =
            serde_json::json!([log.append("dsse", &body)?]);
    }
    Ok(bundle.to_string().into_bytes())
}

/// Signs the blob `blob` as `cosign sign-blob --key --bundle` v3 does: a v0.3 bundle with a
/// message signature (the blob's SHA-256 and the ECDSA signature over its bytes); with `log`,
/// a `hashedrekord` entry with inclusion promise and proof. Returns the bundle's JSON.
///
/// # Errors
/// [`BundleError::Signing`] when `private_pem` is not an unencrypted PKCS#8 P-256 key.
pub fn sign_bundle_blob(
    blob: &[u8],
    private_pem: &str,
    log: Option<&LocalLog>,
) -> Result<Vec<u8>, BundleError> {
    let key = SigningKey::from_pem(private_pem).map_err(BundleError::Signing)?;
    let signature = key.sign(blob).map_err(BundleError::Signing)?;
    let public_der = key.public_key_der();
    let digest = Sha256::digest(blob);
    let mut bundle = serde_json::json!({
        "mediaType": BUNDLE_V03_MEDIA_TYPE,
        "verificationMaterial": { "publicKey": { "hint": key_hint(&public_der) } },
        "messageSignature": {
            "messageDigest": { "algorithm": "SHA2_256", "digest": BASE64.encode(digest) },
            "signature": signature,
        },
    });
    if let Some(log) = log {
        let body = serde_json::json!({
            "apiVersion": REKOR_V1_ENTRY_VERSION,
            "kind": "hashedrekord",
            "spec": {
                "data": { "hash": { "algorithm": "sha256", "value": hex::encode(digest) } },
                "signature": {
                    "content": signature,
                    "publicKey": { "content": BASE64.encode(public_pem(&public_der)) },
                },
            },
        });
        bundle["verificationMaterial"]["tlogEntries"] =
            serde_json::json!([log.append("hashedrekord", &body)?]);
    }
    Ok(bundle.to_string().into_bytes())
}

/// A transparency log kept in memory: what a test, or an air-gapped stand-in for Rekor, does.
/// It appends entries to an RFC 6962 Merkle tree, and for each returns a Rekor v1 style bundle
/// entry: an inclusion promise (a signed entry timestamp) and an inclusion proof to a
/// checkpoint it signs, all with its own ECDSA P-256 key. Trust it by putting
/// [`public_key_pem`](Self::public_key_pem) into [`BundlePolicy::log_keys`].
pub struct LocalLog {
    key: SigningKey,
    /// The name signing checkpoints (a word, like Rekor's host name).
    name: String,
    /// The checkpoints' first line: `NAME - TREE_ID`, Rekor v1's shape, which verifiers use to
    /// tell a v1 checkpoint from a v2 one.
    origin: String,
    /// The leaf hashes, in order.
    leaves: Mutex<Vec<[u8; 32]>>,
}

impl fmt::Debug for LocalLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalLog")
            .field("origin", &self.origin)
            .field("log_id", &self.log_id())
            .finish_non_exhaustive()
    }
}

impl LocalLog {
    /// A log with a fresh key, named `name` in its checkpoints (as Rekor's are by
    /// `rekor.sigstore.dev`; whitespace in it becomes `-`, since a signed note's signer name is
    /// one word).
    ///
    /// # Errors
    /// [`BundleError::Signing`] when no randomness is available.
    pub fn generate(name: &str) -> Result<Self, BundleError> {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &rng,
        )
        .map_err(|_| {
            BundleError::Signing(SignatureError::Key {
                key: "the log's key".to_owned(),
                reason: "generating it failed (no randomness available)".to_owned(),
            })
        })?;
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            BASE64.encode(pkcs8.as_ref())
        );
        Self::from_pem(&pem, name)
    }

    /// A log signing with the PKCS#8 P-256 key `private_pem`, named `name` (see
    /// [`generate`](Self::generate)).
    ///
    /// # Errors
    /// [`BundleError::Signing`] when the key is unusable.
    pub fn from_pem(private_pem: &str, name: &str) -> Result<Self, BundleError> {
        let mut name = name.split_whitespace().collect::<Vec<_>>().join("-");
        if name.is_empty() {
            name = "local-log".to_owned();
        }
        let key = SigningKey::from_pem(private_pem).map_err(BundleError::Signing)?;
        // Rekor's tree IDs are 63-bit numbers; this one is the key's, so it is stable.
        let id = Sha256::digest(key.public_key_der());
        let tree_id =
            u64::from_be_bytes([id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7]]) >> 1;
        Ok(Self {
            key,
            origin: format!("{name} - {tree_id}"),
            name,
            leaves: Mutex::new(Vec::new()),
        })
    }

    /// The log's public key, PEM: what [`BundlePolicy::log_keys`] needs.
    pub fn public_key_pem(&self) -> String {
        public_pem(&self.key.public_key_der())
    }

    /// The log's ID: the hex SHA-256 of its DER public key.
    pub fn log_id(&self) -> String {
        hex::encode(Sha256::digest(self.key.public_key_der()))
    }

    /// Appends `body` (a Rekor entry of `kind`) and returns its bundle `tlogEntries` item.
    fn append(
        &self,
        kind: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, BundleError> {
        let body = body.to_string().into_bytes();
        let (index, size, path, root) = {
            // A poisoned lock only means another append panicked; the leaves are still whole.
            let mut leaves = self
                .leaves
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            leaves.push(leaf_hash(&body));
            let index = leaves.len() - 1;
            (
                index,
                leaves.len(),
                merkle_path(index, &leaves),
                merkle_root(&leaves),
            )
        };
        let log_id = Sha256::digest(self.key.public_key_der());
        let integrated_time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let index = i64::try_from(index).unwrap_or(i64::MAX);
        let set = self
            .key
            .sign(set_payload(&body, integrated_time, &hex::encode(log_id), index).as_bytes())
            .map_err(BundleError::Signing)?;
        let note = format!("{}\n{size}\n{}\n", self.origin, BASE64.encode(root));
        let note_signature = BASE64
            .decode(
                self.key
                    .sign(note.as_bytes())
                    .map_err(BundleError::Signing)?,
            )
            .unwrap_or_default();
        let mut hinted = log_id[..4].to_vec();
        hinted.extend_from_slice(&note_signature);
        let checkpoint = format!("{note}\n\u{2014} {} {}\n", self.name, BASE64.encode(hinted));
        Ok(serde_json::json!({
            "logIndex": index.to_string(),
            "logId": { "keyId": BASE64.encode(log_id) },
            "kindVersion": { "kind": kind, "version": REKOR_V1_ENTRY_VERSION },
            "integratedTime": integrated_time.to_string(),
            "inclusionPromise": { "signedEntryTimestamp": set },
            "inclusionProof": {
                "logIndex": index.to_string(),
                "rootHash": BASE64.encode(root),
                "treeSize": size.to_string(),
                "hashes": path.iter().map(|h| BASE64.encode(h)).collect::<Vec<_>>(),
                "checkpoint": { "envelope": checkpoint },
            },
            "canonicalizedBody": BASE64.encode(&body),
        }))
    }
}

/// One verification in progress.
struct Verification<'a> {
    subject: String,
    /// `sha256:HEX` of the artifact or blob.
    digest: String,
    blob: Option<&'a [u8]>,
    keys: &'a TrustedKeys,
    policy: &'a BundlePolicy,
}

/// What the signature check established, for the log entries to be compared with.
struct Signed {
    key: KeyId,
    signature: Vec<u8>,
    /// For DSSE: the SHA-256 of the payload; for a message signature: the message digest.
    hash: [u8; 32],
    dsse: bool,
}

impl Verification<'_> {
    fn malformed(&self, reason: impl Into<String>) -> BundleError {
        BundleError::Malformed {
            subject: self.subject.clone(),
            reason: reason.into(),
        }
    }

    fn run(&self, bytes: &[u8]) -> Result<BundleVerified, BundleError> {
        if bytes.len() > MAX_BUNDLE_BYTES {
            return Err(BundleError::TooLarge {
                subject: self.subject.clone(),
                size: bytes.len(),
                max: MAX_BUNDLE_BYTES,
            });
        }
        let bundle: RawBundle = serde_json::from_slice(bytes)
            .map_err(|e| self.malformed(format!("not a bundle: {}", bounded(&e.to_string()))))?;
        let version = BUNDLE_MEDIA_TYPES
            .iter()
            .find(|(media_type, _)| *media_type == bundle.media_type)
            .map(|(_, version)| *version)
            .ok_or_else(|| BundleError::UnsupportedMediaType {
                subject: self.subject.clone(),
                media_type: bounded(&bundle.media_type),
            })?;
        let material = bundle
            .verification_material
            .ok_or_else(|| self.malformed("no verificationMaterial"))?;
        if material.certificate.is_some() {
            return Err(self.certificate("a certificate"));
        }
        if material.x509_certificate_chain.is_some() {
            return Err(self.certificate("a certificate chain"));
        }
        let hint = material
            .public_key
            .ok_or_else(|| {
                self.malformed("verificationMaterial has no publicKey (nor a certificate)")
            })?
            .hint
            .filter(|h| !h.is_empty());

        let (signed, predicate_type) = match (bundle.dsse_envelope, bundle.message_signature) {
            (Some(envelope), None) => {
                let (signed, predicate_type) = self.check_dsse(&envelope, hint.as_deref())?;
                (signed, Some(predicate_type))
            }
            (None, Some(message)) => (self.check_message(&message, hint.as_deref())?, None),
            (Some(_), Some(_)) => {
                return Err(self.malformed("both dsseEnvelope and messageSignature are present"));
            }
            (None, None) => return Err(self.malformed("neither dsseEnvelope nor messageSignature")),
        };

        if material.tlog_entries.len() > MAX_TLOG_ENTRIES {
            return Err(self.malformed(format!(
                "{} transparency log entries; at most {MAX_TLOG_ENTRIES} are read",
                material.tlog_entries.len()
            )));
        }
        let mut tlog: Vec<TlogVerified> = Vec::new();
        for entry in &material.tlog_entries {
            let verified = self.check_entry(entry, version, &signed)?;
            if tlog
                .iter()
                .any(|t| t.log == verified.log && t.log_index == verified.log_index)
            {
                return Err(self.malformed(format!(
                    "transparency log entry {} appears twice",
                    verified.log_index
                )));
            }
            tlog.push(verified);
        }
        if tlog.is_empty() && self.policy.require_tlog {
            return Err(BundleError::TlogRequired {
                subject: self.subject.clone(),
            });
        }
        Ok(BundleVerified {
            key: signed.key,
            version,
            predicate_type,
            tlog,
            unchecked_timestamps: material
                .timestamp_verification_data
                .map_or(0, |t| t.rfc3161_timestamps.len()),
        })
    }

    fn certificate(&self, what: &'static str) -> BundleError {
        BundleError::Certificate {
            subject: self.subject.clone(),
            what,
        }
    }

    /// Verifies `signature_b64` over `message` with the trusted keys.
    fn check_signature(
        &self,
        message: &[u8],
        signature_b64: &str,
        hint: Option<&str>,
    ) -> Result<(KeyId, Vec<u8>), BundleError> {
        let key = self
            .keys
            .verify(&self.subject, message, signature_b64)
            .map_err(|e| match e {
                SignatureError::Untrusted { tried, .. } => BundleError::Untrusted {
                    subject: self.subject.clone(),
                    hint: hint.map(bounded),
                    tried,
                },
                SignatureError::Invalid { reason, .. } => BundleError::InvalidSignature {
                    subject: self.subject.clone(),
                    reason,
                },
                other => BundleError::InvalidSignature {
                    subject: self.subject.clone(),
                    reason: other.to_string(),
                },
            })?;
        // verify() decoded it already; it is base64.
        let signature = BASE64.decode(signature_b64.trim()).unwrap_or_default();
        Ok((key, signature))
    }

    fn check_dsse(
        &self,
        envelope: &RawEnvelope,
        hint: Option<&str>,
    ) -> Result<(Signed, String), BundleError> {
        if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
            return Err(BundleError::PayloadType {
                subject: self.subject.clone(),
                found: bounded(&envelope.payload_type),
            });
        }
        let [signature] = envelope.signatures.as_slice() else {
            return Err(BundleError::InvalidSignature {
                subject: self.subject.clone(),
                reason: format!(
                    "the DSSE envelope has {} signatures; cosign writes exactly one",
                    envelope.signatures.len()
                ),
            });
        };
        let payload = BASE64
            .decode(envelope.payload.as_bytes())
            .map_err(|e| self.malformed(format!("dsseEnvelope.payload is not base64: {e}")))?;
        // The signature first, so that nothing unauthenticated is read.
        let (key, signature) =
            self.check_signature(&pae(&envelope.payload_type, &payload), &signature.sig, hint)?;
        let statement: Statement = serde_json::from_slice(&payload).map_err(|e| {
            self.malformed(format!(
                "the signed payload is not an in-toto statement: {}",
                bounded(&e.to_string())
            ))
        })?;
        if statement.kind != IN_TOTO_STATEMENT_V1 && statement.kind != IN_TOTO_STATEMENT_V01 {
            return Err(self.malformed(format!(
                "the signed statement's _type is {:?}, not {IN_TOTO_STATEMENT_V1:?}",
                bounded(&statement.kind)
            )));
        }
        let expected_hex = self.digest.trim_start_matches("sha256:");
        if !statement
            .subject
            .iter()
            .any(|s| s.digest.get("sha256").map(String::as_str) == Some(expected_hex))
        {
            let signed: Vec<String> = statement
                .subject
                .iter()
                .take(4)
                .map(|s| {
                    s.digest
                        .iter()
                        .map(|(alg, hex)| format!("{alg}:{hex}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            return Err(BundleError::WrongSubject {
                subject: self.subject.clone(),
                expected: self.digest.clone(),
                signed: if signed.is_empty() {
                    "no subject".to_owned()
                } else {
                    bounded(&signed.join(", "))
                },
            });
        }
        Ok((
            Signed {
                key,
                signature,
                hash: Sha256::digest(&payload).into(),
                dsse: true,
            },
            statement.predicate_type,
        ))
    }

    fn check_message(
        &self,
        message: &RawMessageSignature,
        hint: Option<&str>,
    ) -> Result<Signed, BundleError> {
        let Some(blob) = self.blob else {
            return Err(BundleError::NeedsBlob {
                subject: self.subject.clone(),
            });
        };
        let digest = message
            .message_digest
            .as_ref()
            .ok_or_else(|| self.malformed("messageSignature has no messageDigest"))?;
        if digest.algorithm != "SHA2_256" {
            return Err(self.malformed(format!(
                "messageSignature.messageDigest.algorithm is {:?}; only SHA2_256 is supported",
                bounded(&digest.algorithm)
            )));
        }
        let signed: [u8; 32] = BASE64
            .decode(digest.digest.as_bytes())
            .ok()
            .and_then(|d| d.try_into().ok())
            .ok_or_else(|| {
                self.malformed("messageSignature.messageDigest.digest is not base64 of 32 bytes")
            })?;
        let actual: [u8; 32] = Sha256::digest(blob).into();
        // The digest is not what is signed (the bytes are), but it is what the log entry names:
        // both must be this blob's. A bundle for another blob is reported as such first.
        if signed != actual {
            return Err(BundleError::WrongSubject {
                subject: self.subject.clone(),
                expected: self.digest.clone(),
                signed: format!("sha256:{}", hex::encode(signed)),
            });
        }
        let (key, signature) = self.check_signature(blob, &message.signature, hint)?;
        Ok(Signed {
            key,
            signature,
            hash: actual,
            dsse: false,
        })
    }

    fn check_entry(
        &self,
        entry: &RawTlogEntry,
        version: BundleVersion,
        signed: &Signed,
    ) -> Result<TlogVerified, BundleError> {
        let log_index = entry.log_index;
        let invalid = |reason: String| BundleError::TlogInvalid {
            subject: self.subject.clone(),
            log_index,
            reason,
        };
        let mismatch = |reason: String| BundleError::TlogMismatch {
            subject: self.subject.clone(),
            log_index,
            reason,
        };
        let kind = &entry.kind_version.kind;
        let kind_version = &entry.kind_version.version;
        if kind_version != REKOR_V1_ENTRY_VERSION
            || !matches!(kind.as_str(), "hashedrekord" | "dsse")
        {
            let reason = if kind_version == "0.0.2" {
                "Rekor v2 entries, whose time comes from a timestamp authority, are not checked \
                 yet; sign with a Rekor v1 log or without a log (--tlog-upload=false)"
            } else {
                "only Rekor v1 hashedrekord and dsse 0.0.1 entries, which cosign writes, are \
                 checked"
            };
            return Err(BundleError::TlogUnsupported {
                subject: self.subject.clone(),
                log_index,
                kind: bounded(kind),
                version: bounded(kind_version),
                reason: reason.to_owned(),
            });
        }
        let log_id = BASE64
            .decode(entry.log_id.key_id.as_bytes())
            .map_err(|e| invalid(format!("logId.keyId is not base64: {e}")))?;
        let log_id = hex::encode(log_id);
        let fingerprint = format!("sha256:{log_id}");
        let Some(log) = self
            .policy
            .log_keys
            .ids()
            .find(|id| id.fingerprint == fingerprint)
            .cloned()
        else {
            return Err(BundleError::UnknownLog {
                subject: self.subject.clone(),
                log_index,
                log_id: bounded(&log_id),
            });
        };
        let body = BASE64
            .decode(entry.canonicalized_body.as_bytes())
            .map_err(|e| invalid(format!("canonicalizedBody is not base64: {e}")))?;

        // The log vouches for the body first; only then is the body read.
        let promise = match &entry.inclusion_promise {
            Some(promise) => {
                let payload = set_payload(&body, entry.integrated_time, &log_id, log_index);
                self.check_log_signature(&log, payload.as_bytes(), &promise.signed_entry_timestamp)
                    .map_err(|reason| {
                        invalid(format!(
                            "its inclusion promise (signed entry timestamp) {reason}"
                        ))
                    })?;
                true
            }
            None => false,
        };
        let proof = match &entry.inclusion_proof {
            Some(proof) => {
                self.check_proof(&log, &body, proof)
                    .map_err(|reason| invalid(format!("its inclusion proof {reason}")))?;
                true
            }
            None => false,
        };
        match (version, promise, proof) {
            (_, false, false) => {
                return Err(invalid(
                    "it has neither an inclusion promise nor an inclusion proof".to_owned(),
                ));
            }
            (BundleVersion::V0_1, false, _) => {
                return Err(invalid(
                    "a v0.1 bundle's entries need an inclusion promise".to_owned(),
                ));
            }
            (BundleVersion::V0_2 | BundleVersion::V0_3, _, false) => {
                return Err(invalid(format!(
                    "a {version} bundle's entries need an inclusion proof"
                )));
            }
            _ => {}
        }

        let body: RekorBody = serde_json::from_slice(&body).map_err(|e| {
            mismatch(format!(
                "its body is not a Rekor entry: {}",
                bounded(&e.to_string())
            ))
        })?;
        if &body.kind != kind || &body.api_version != kind_version {
            return Err(mismatch(format!(
                "its body is {} {}, its kindVersion {kind} {kind_version}",
                bounded(&body.kind),
                bounded(&body.api_version)
            )));
        }
        let (hash, signature, verifier) = match (kind.as_str(), signed.dsse) {
            ("hashedrekord", false) => {
                let spec: HashedRekordSpec = serde_json::from_value(body.spec).map_err(|e| {
                    mismatch(format!(
                        "its hashedrekord spec: {}",
                        bounded(&e.to_string())
                    ))
                })?;
                (
                    spec.data.hash,
                    spec.signature.content,
                    spec.signature.public_key.content,
                )
            }
            ("dsse", true) => {
                let spec: DsseSpec = serde_json::from_value(body.spec)
                    .map_err(|e| mismatch(format!("its dsse spec: {}", bounded(&e.to_string()))))?;
                let [one] = <[DsseSpecSignature; 1]>::try_from(spec.signatures).map_err(|s| {
                    mismatch(format!(
                        "its dsse spec has {} signatures, the bundle one",
                        s.len()
                    ))
                })?;
                (spec.payload_hash, one.signature, one.verifier)
            }
            (kind, _) => {
                return Err(mismatch(format!(
                    "it is a {kind} entry, for a {} bundle",
                    if signed.dsse {
                        "DSSE"
                    } else {
                        "message signature"
                    }
                )));
            }
        };
        if hash.algorithm != "sha256" || hash.value != hex::encode(signed.hash) {
            return Err(mismatch(format!(
                "it logs the hash {}:{}, the bundle's {} is sha256:{}",
                bounded(&hash.algorithm),
                bounded(&hash.value),
                if signed.dsse { "payload" } else { "message" },
                hex::encode(signed.hash)
            )));
        }
        if BASE64.decode(signature.trim()).ok().as_deref() != Some(signed.signature.as_slice()) {
            return Err(mismatch("it logs another signature".to_owned()));
        }
        let logged_key = BASE64
            .decode(verifier.as_bytes())
            .ok()
            .and_then(|pem| String::from_utf8(pem).ok())
            .and_then(|pem| TrustedKeys::from_pem(&pem).ok())
            .and_then(|keys| keys.ids().next().map(|id| id.fingerprint.clone()));
        if logged_key.as_deref() != Some(signed.key.fingerprint.as_str()) {
            return Err(mismatch(format!(
                "it logs the key {}, the signature is by {}",
                logged_key.unwrap_or_else(|| "(not a P-256 PEM public key)".to_owned()),
                signed.key.fingerprint
            )));
        }
        Ok(TlogVerified {
            log,
            log_index,
            integrated_time: entry.integrated_time,
            promise,
            proof,
        })
    }

    /// Checks `signature_b64` over `message` by the log key `log` alone.
    fn check_log_signature(
        &self,
        log: &KeyId,
        message: &[u8],
        signature_b64: &str,
    ) -> Result<(), String> {
        match self
            .policy
            .log_keys
            .verify(&self.subject, message, signature_b64)
        {
            Ok(key) if key.fingerprint == log.fingerprint => Ok(()),
            Ok(key) => Err(format!("is signed by the log key {key}, not by {log}")),
            Err(SignatureError::Untrusted { .. }) => {
                Err(format!("does not verify with the log key {log}"))
            }
            Err(e) => Err(format!("is not a signature: {e}")),
        }
    }

    /// Checks an RFC 6962 inclusion proof of `body` and the checkpoint signing its root.
    fn check_proof(
        &self,
        log: &KeyId,
        body: &[u8],
        proof: &RawInclusionProof,
    ) -> Result<(), String> {
        if proof.hashes.len() > MAX_PROOF_HASHES {
            return Err(format!(
                "has {} hashes; at most {MAX_PROOF_HASHES}",
                proof.hashes.len()
            ));
        }
        let decode32 = |what: &str, b64: &str| -> Result<[u8; 32], String> {
            BASE64
                .decode(b64.as_bytes())
                .ok()
                .and_then(|h| <[u8; 32]>::try_from(h).ok())
                .ok_or_else(|| format!("has a {what} that is not base64 of 32 bytes"))
        };
        let root = decode32("rootHash", &proof.root_hash)?;
        let path = proof
            .hashes
            .iter()
            .map(|h| decode32("hash", h))
            .collect::<Result<Vec<_>, _>>()?;
        let index =
            u64::try_from(proof.log_index).map_err(|_| "has a negative logIndex".to_owned())?;
        let size =
            u64::try_from(proof.tree_size).map_err(|_| "has a negative treeSize".to_owned())?;
        let computed = root_from_path(index, size, leaf_hash(body), &path)?;
        if computed != root {
            return Err(format!(
                "leads to the root {}, not to its rootHash {}",
                hex::encode(computed),
                hex::encode(root)
            ));
        }
        let envelope = &proof
            .checkpoint
            .as_ref()
            .ok_or_else(|| "has no checkpoint".to_owned())?
            .envelope;
        // A signed note: the text, a blank line, then `— NAME BASE64(4-byte key hint || sig)`
        // lines. One of them must be the log key's.
        let split = envelope
            .rfind("\n\n")
            .ok_or_else(|| "has a checkpoint that is not a signed note".to_owned())?;
        let (note, signatures) = (&envelope[..=split], &envelope[split + 2..]);
        let mut lines = note.lines();
        let (_origin, note_size, note_root) = (lines.next(), lines.next(), lines.next());
        if note_size.and_then(|s| s.parse::<u64>().ok()) != Some(size)
            || note_root.and_then(|r| BASE64.decode(r).ok()).as_deref() != Some(root.as_slice())
        {
            return Err(format!(
                "has a checkpoint for another tree than size {size}, root {}",
                hex::encode(root)
            ));
        }
        let log_hint = hex::decode(log.fingerprint.trim_start_matches("sha256:"))
            .ok()
            .and_then(|id| id.get(..4).map(<[u8]>::to_vec))
            .unwrap_or_default();
        let mut tried = false;
        for line in signatures.lines() {
            let Some(signature) = line
                .strip_prefix("\u{2014} ")
                .and_then(|rest| rest.rsplit_once(' '))
                .and_then(|(_name, b64)| BASE64.decode(b64).ok())
            else {
                continue;
            };
            if signature.len() > 4 && signature[..4] == log_hint[..] {
                tried = true;
                let der = BASE64.encode(&signature[4..]);
                if self.check_log_signature(log, note.as_bytes(), &der).is_ok() {
                    return Ok(());
                }
            }
        }
        Err(if tried {
            format!("has a checkpoint whose signature does not verify with the log key {log}")
        } else {
            format!("has a checkpoint not signed by the log key {log}")
        })
    }
}

/// DSSE's pre-authentication encoding: `DSSEv1 LEN(type) type LEN(payload) payload`.
fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// What a Rekor v1 signed entry timestamp signs: the RFC 8785 canonical JSON of the entry's
/// base64 body, integrated time, hex log ID and index (keys in that sorted order; base64 and hex
/// need no escaping).
fn set_payload(body: &[u8], integrated_time: i64, log_id_hex: &str, log_index: i64) -> String {
    format!(
        "{{\"body\":\"{}\",\"integratedTime\":{integrated_time},\"logID\":\"{log_id_hex}\",\"logIndex\":{log_index}}}",
        BASE64.encode(body)
    )
}

/// The PEM of a DER SubjectPublicKeyInfo, in 64-column lines as Go's encoder writes it.
fn public_pem(der: &[u8]) -> String {
    let b64 = BASE64.encode(der);
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(chunk));
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    pem
}

fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// RFC 6962 leaf hash: SHA-256(0x00 || leaf).
fn leaf_hash(leaf: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(leaf);
    hasher.finalize().into()
}

/// RFC 6962 interior node hash: SHA-256(0x01 || left || right).
fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The largest power of two below `n` (n > 1).
fn split_point(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// RFC 6962 MTH over leaf hashes (at least one).
fn merkle_root(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves {
        [] => Sha256::digest([]).into(),
        [one] => *one,
        _ => {
            let k = split_point(leaves.len());
            node_hash(&merkle_root(&leaves[..k]), &merkle_root(&leaves[k..]))
        }
    }
}

/// RFC 6962 PATH(index, leaves): the audit path, leaf side first.
fn merkle_path(index: usize, leaves: &[[u8; 32]]) -> Vec<[u8; 32]> {
    if leaves.len() <= 1 {
        return Vec::new();
    }
    let k = split_point(leaves.len());
    if index < k {
        let mut path = merkle_path(index, &leaves[..k]);
        path.push(merkle_root(&leaves[k..]));
        path
    } else {
        let mut path = merkle_path(index - k, &leaves[k..]);
        path.push(merkle_root(&leaves[..k]));
        path
    }
}

/// The root an inclusion proof leads to (RFC 9162 section 2.1.3.2).
fn root_from_path(
    index: u64,
    size: u64,
    leaf: [u8; 32],
    path: &[[u8; 32]],
) -> Result<[u8; 32], String> {
    if index >= size {
        return Err(format!(
            "has logIndex {index} outside a tree of size {size}"
        ));
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = leaf;
    for p in path {
        if sn == 0 {
            return Err("has more hashes than the tree is deep".to_owned());
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err("has fewer hashes than the tree is deep".to_owned());
    }
    Ok(r)
}

/// protobuf JSON writes 64-bit integers as strings; numbers are accepted too.
fn int64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Int {
        Number(i64),
        Text(String),
    }
    match Int::deserialize(deserializer)? {
        Int::Number(n) => Ok(n),
        Int::Text(s) => s.parse().map_err(serde::de::Error::custom),
    }
}

// The bundle's JSON form (protobuf JSON: camelCase names, the proto names accepted too, unknown
// fields ignored as protobuf readers do; what must be refused is read explicitly).

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBundle {
    #[serde(alias = "media_type")]
    media_type: String,
    #[serde(alias = "verification_material")]
    verification_material: Option<RawMaterial>,
    #[serde(alias = "dsse_envelope")]
    dsse_envelope: Option<RawEnvelope>,
    #[serde(alias = "message_signature")]
    message_signature: Option<RawMessageSignature>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMaterial {
    #[serde(alias = "public_key")]
    public_key: Option<RawPublicKey>,
    certificate: Option<serde_json::Value>,
    #[serde(alias = "x509_certificate_chain")]
    x509_certificate_chain: Option<serde_json::Value>,
    #[serde(default, alias = "tlog_entries")]
    tlog_entries: Vec<RawTlogEntry>,
    #[serde(alias = "timestamp_verification_data")]
    timestamp_verification_data: Option<RawTimestamps>,
}

#[derive(Deserialize)]
struct RawPublicKey {
    hint: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTimestamps {
    #[serde(default, alias = "rfc3161_timestamps")]
    rfc3161_timestamps: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEnvelope {
    payload: String,
    #[serde(alias = "payload_type")]
    payload_type: String,
    #[serde(default)]
    signatures: Vec<RawDsseSignature>,
}

#[derive(Deserialize)]
struct RawDsseSignature {
    sig: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMessageSignature {
    #[serde(alias = "message_digest")]
    message_digest: Option<RawHashOutput>,
    signature: String,
}

#[derive(Deserialize)]
struct RawHashOutput {
    algorithm: String,
    digest: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTlogEntry {
    #[serde(deserialize_with = "int64", alias = "log_index")]
    log_index: i64,
    #[serde(alias = "log_id")]
    log_id: RawLogId,
    #[serde(alias = "kind_version")]
    kind_version: RawKindVersion,
    #[serde(default, deserialize_with = "int64", alias = "integrated_time")]
    integrated_time: i64,
    #[serde(alias = "inclusion_promise")]
    inclusion_promise: Option<RawPromise>,
    #[serde(alias = "inclusion_proof")]
    inclusion_proof: Option<RawInclusionProof>,
    #[serde(alias = "canonicalized_body")]
    canonicalized_body: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    #[serde(alias = "key_id")]
    key_id: String,
}

#[derive(Deserialize)]
struct RawKindVersion {
    kind: String,
    version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPromise {
    #[serde(alias = "signed_entry_timestamp")]
    signed_entry_timestamp: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawInclusionProof {
    #[serde(deserialize_with = "int64", alias = "log_index")]
    log_index: i64,
    #[serde(alias = "root_hash")]
    root_hash: String,
    #[serde(deserialize_with = "int64", alias = "tree_size")]
    tree_size: i64,
    #[serde(default)]
    hashes: Vec<String>,
    checkpoint: Option<RawCheckpoint>,
}

#[derive(Deserialize)]
struct RawCheckpoint {
    envelope: String,
}

/// An in-toto statement, as far as it is read.
#[derive(Deserialize)]
struct Statement {
    #[serde(rename = "_type")]
    kind: String,
    #[serde(default)]
    subject: Vec<StatementSubject>,
    #[serde(rename = "predicateType")]
    predicate_type: String,
}

#[derive(Deserialize)]
struct StatementSubject {
    #[serde(default)]
    digest: BTreeMap<String, String>,
}

/// A Rekor v1 entry body (`canonicalizedBody`).
#[derive(Deserialize)]
struct RekorBody {
    #[serde(rename = "apiVersion")]
    api_version: String,
    kind: String,
    spec: serde_json::Value,
}

#[derive(Deserialize, Serialize)]
struct RekorHash {
    algorithm: String,
    value: String,
}

#[derive(Deserialize)]
struct HashedRekordSpec {
    data: HashedRekordData,
    signature: HashedRekordSignature,
}

#[derive(Deserialize)]
struct HashedRekordData {
    hash: RekorHash,
}

#[derive(Deserialize)]
struct HashedRekordSignature {
    content: String,
    #[serde(rename = "publicKey")]
    public_key: HashedRekordKey,
}

#[derive(Deserialize)]
struct HashedRekordKey {
    content: String,
}

#[derive(Deserialize)]
struct DsseSpec {
    #[serde(rename = "payloadHash")]
    payload_hash: RekorHash,
    signatures: Vec<DsseSpecSignature>,
}

#[derive(Deserialize)]
struct DsseSpecSignature {
    signature: String,
    verifier: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn merkle_proofs_verify_for_every_leaf_of_every_size() {
        for size in 1..=17usize {
            let leaves: Vec<[u8; 32]> = (0..size).map(|i| leaf_hash(&[i as u8])).collect();
            let root = merkle_root(&leaves);
            for index in 0..size {
                let path = merkle_path(index, &leaves);
                assert_eq!(
                    root_from_path(index as u64, size as u64, leaves[index], &path).unwrap(),
                    root,
                    "size {size} index {index}"
                );
                if size > 1 {
                    let other = leaves[(index + 1) % size];
                    assert_ne!(
                        root_from_path(index as u64, size as u64, other, &path).ok(),
                        Some(root)
                    );
                }
            }
        }
        assert!(root_from_path(3, 3, [0; 32], &[]).is_err());
        assert!(root_from_path(0, 2, [0; 32], &[]).is_err());
    }

    #[test]
    fn set_payload_is_canonical() {
        assert_eq!(
            set_payload(b"{}", 7, "ab", 3),
            r#"{"body":"e30=","integratedTime":7,"logID":"ab","logIndex":3}"#
        );
    }
}
