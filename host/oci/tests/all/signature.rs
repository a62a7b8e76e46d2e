//! Signatures in cosign's formats, checked against the openssl CLI (blobs) and a real registry
//! (artifacts): what one signs, the other verifies.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use robodev_oci::bundle::{
    ANNOTATION_BUNDLE_CONTENT, ANNOTATION_BUNDLE_PREDICATE_TYPE, BUNDLE_V03_MEDIA_TYPE,
    BundleError, COSIGN_SIGN_PREDICATE_TYPE, sign_bundle_dsse,
};
use robodev_oci::signature::{
    SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE, sign_artifact, sign_artifact_with, sign_blob,
    sign_blob_file, signature_path, signature_tag, verify_artifact, verify_artifact_with,
    verify_blob, verify_blob_file,
};
use robodev_oci::{
    BundlePolicy, Client, Error, Pushed, Reference, SignatureError, SignatureFormat, SigningFormat,
    TrustedKeys, Verified,
};

use robodev_test_support::cosign::{self, cosign, run as run_cosign};
use robodev_test_support::openssl::KeyPair;

use crate::support::{Registry, client, get_manifest, http, sha256, wasm_file};

/// A key pair in robodev-oci's terms.
trait KeyPairExt {
    /// The public key as the only trusted one.
    fn trusted(&self) -> TrustedKeys;
    /// `sha256:` + hex of the public key's DER, computed by openssl.
    fn fingerprint(&self) -> String;
}

impl KeyPairExt for KeyPair {
    fn trusted(&self) -> TrustedKeys {
        TrustedKeys::from_pem_files([&self.public]).unwrap()
    }

    fn fingerprint(&self) -> String {
        sha256(&self.public_der())
    }
}

/// A copy of the test component in `dir`, to sign and tamper with.
fn plugin_file(dir: &Path) -> PathBuf {
    let file = dir.join("review_rules.wasm");
    std::fs::copy(wasm_file(), &file).unwrap();
    file
}

/// `openssl dgst -sha256 -sign KEY FILE | base64 -w0 > FILE.sig`: cosign sign-blob's format,
/// made by standard tools only.
fn openssl_sign(key: &KeyPair, file: &Path) {
    let script = r#"openssl dgst -sha256 -sign "$1" "$2" | base64 -w0 > "$2.sig""#;
    let out = Command::new("bash")
        .args(["-c", script, "sign"])
        .args([&key.private, file])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl_sign failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn blob_signed_by_openssl_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let key = KeyPair::generate(dir.path(), "release");
    let file = plugin_file(dir.path());
    openssl_sign(&key, &file);

    let signer = verify_blob_file(&file, &key.trusted()).await.unwrap();
    assert_eq!(signer.name, key.public.display().to_string());
    assert_eq!(signer.fingerprint, key.fingerprint());

    // The same check on bytes and the signature text.
    let signature = std::fs::read_to_string(signature_path(&file)).unwrap();
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(
        verify_blob(&bytes, &signature, &key.trusted()).unwrap(),
        signer
    );
}

#[tokio::test]
async fn blob_signed_by_robodev_verifies_with_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let key = KeyPair::generate(dir.path(), "release");
    let file = plugin_file(dir.path());
    let sig = sign_blob_file(&file, &key.private_pem()).await.unwrap();
    assert_eq!(sig, signature_path(&file));
    assert_eq!(sig.file_name().unwrap(), "review_rules.wasm.sig");

    let der = dir.path().join("sig.der");
    std::fs::write(&der, BASE64.decode(std::fs::read(&sig).unwrap()).unwrap()).unwrap();
    let openssl_verify = |file: &Path| {
        Command::new("openssl")
            .args(["dgst", "-sha256", "-verify"])
            .arg(&key.public)
            .arg("-signature")
            .arg(&der)
            .arg(file)
            .output()
            .unwrap()
    };
    let out = openssl_verify(&file);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Verified OK");

    // openssl refuses it for other bytes: the signature covers exactly the file.
    let other = dir.path().join("other.wasm");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.push(0);
    std::fs::write(&other, &bytes).unwrap();
    assert!(!openssl_verify(&other).status.success());

    // sign_blob gives the same format for bytes in memory.
    let signature = sign_blob(&bytes, &key.private_pem()).unwrap();
    verify_blob(&bytes, &signature, &key.trusted()).unwrap();
}

#[tokio::test]
async fn tampered_blob_is_untrusted() {
    let dir = tempfile::tempdir().unwrap();
    let key = KeyPair::generate(dir.path(), "release");
    let file = plugin_file(dir.path());
    openssl_sign(&key, &file);
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&file, &bytes).unwrap();

    let err = verify_blob_file(&file, &key.trusted()).await.unwrap_err();
    let message = err.to_string();
    match err {
        SignatureError::Untrusted { subject, tried } => {
            assert_eq!(subject, file.display().to_string());
            assert_eq!(
                tried,
                vec![format!("{} ({})", key.public.display(), key.fingerprint())]
            );
        }
        other => panic!("expected Untrusted, got {other:?}"),
    }
    assert!(message.contains("is not from a trusted key"), "{message}");
    assert!(message.contains("review_rules.wasm"), "{message}");
}

#[tokio::test]
async fn blob_signed_by_another_key_is_untrusted() {
    let dir = tempfile::tempdir().unwrap();
    let trusted = KeyPair::generate(dir.path(), "release");
    let stranger = KeyPair::generate(dir.path(), "stranger");
    let file = plugin_file(dir.path());
    openssl_sign(&stranger, &file);

    let err = verify_blob_file(&file, &trusted.trusted())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SignatureError::Untrusted { tried, .. } if tried.len() == 1),
        "{err:?}"
    );
    // Trusting both keys accepts it, and names the one that verified.
    let both = TrustedKeys::from_pem_files([&trusted.public, &stranger.public]).unwrap();
    let signer = verify_blob_file(&file, &both).await.unwrap();
    assert_eq!(signer.name, stranger.public.display().to_string());
}

#[tokio::test]
async fn missing_and_malformed_blob_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let key = KeyPair::generate(dir.path(), "release");
    let file = plugin_file(dir.path());

    let err = verify_blob_file(&file, &key.trusted()).await.unwrap_err();
    assert!(err.to_string().contains("is not signed"), "{err}");
    match err {
        SignatureError::Missing { subject, location } => {
            assert_eq!(subject, file.display().to_string());
            assert_eq!(location, signature_path(&file).display().to_string());
        }
        other => panic!("expected Missing, got {other:?}"),
    }

    std::fs::write(signature_path(&file), "not base64!").unwrap();
    let err = verify_blob_file(&file, &key.trusted()).await.unwrap_err();
    assert!(
        matches!(&err, SignatureError::Invalid { reason, .. } if reason.contains("not base64")),
        "{err:?}"
    );
    std::fs::write(
        signature_path(&file),
        BASE64.encode(b"forty bytes of nothing at all"),
    )
    .unwrap();
    let err = verify_blob_file(&file, &key.trusted()).await.unwrap_err();
    assert!(
        matches!(&err, SignatureError::Invalid { reason, .. } if reason.contains("DER")),
        "{err:?}"
    );
}

#[test]
fn unreadable_keys_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.pub");
    match TrustedKeys::from_pem_files([&missing]) {
        Err(SignatureError::Key { key, reason }) => {
            assert_eq!(key, missing.display().to_string());
            assert!(reason.contains("cannot read it"), "{reason}");
        }
        other => panic!("expected Key, got {other:?}"),
    }
    // A private key where a public one is expected.
    let pair = KeyPair::generate(dir.path(), "release");
    let err = TrustedKeys::from_pem_files([&pair.private]).unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "key {}: no -----BEGIN PUBLIC KEY",
            pair.private.display()
        )),
        "{err}"
    );
    // A public key where the private one is expected.
    let err = sign_blob(b"x", &std::fs::read_to_string(&pair.public).unwrap()).unwrap_err();
    assert!(
        matches!(&err, SignatureError::Key { reason, .. } if reason.contains("PKCS#8")),
        "{err:?}"
    );
}

/// A registry, a directory, and a client with its cache in that directory: where each
/// artifact test starts.
async fn setup() -> (Registry, tempfile::TempDir, Client) {
    let registry = Registry::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = client(&dir.path().join("cache"));
    (registry, dir, client)
}

/// Pushes the test component to `acme/notify:tag`, with an annotation making its digest unique.
async fn push(client: &Client, registry: &Registry, tag: &str) -> Pushed {
    let reference = registry.reference(&format!("acme/notify:{tag}"));
    let annotations = BTreeMap::from([("test.tag".to_owned(), tag.to_owned())]);
    client
        .push(&wasm_file(), &reference, annotations)
        .await
        .unwrap()
}

/// Signs `reference` in cosign's older format (simple signing, a `.sig` tag); the signature
/// manifest's digest.
async fn sign_simple(client: &Client, reference: &Reference, private_pem: &str) -> String {
    sign_artifact_with(client, reference, private_pem, SigningFormat::SimpleSigning)
        .await
        .unwrap()
}

/// Verifies `reference` with the default bundle policy (no transparency log), which must
/// accept it.
async fn verify_default(client: &Client, reference: &Reference, keys: &TrustedKeys) -> Verified {
    verify_artifact_with(client, reference, keys, &BundlePolicy::default())
        .await
        .unwrap()
}

/// GETs a blob by raw HTTP.
async fn get_blob(registry: &Registry, repository: &str, digest: &str) -> Vec<u8> {
    let response = http(
        &registry.host(),
        "GET",
        &format!("/v2/{repository}/blobs/{digest}"),
        &[],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(response.status, 200, "{response:?}");
    response.body
}

#[tokio::test]
async fn artifact_signed_then_verified() {
    let (registry, dir, client) = setup().await;
    let key = KeyPair::generate(dir.path(), "release");
    let pushed = push(&client, &registry, "1.0.0").await;

    let sig_digest = sign_simple(&client, &pushed.reference, &key.private_pem()).await;
    let signer = verify_artifact(&client, &pushed.reference, &key.trusted())
        .await
        .unwrap();
    assert_eq!(signer.fingerprint, key.fingerprint());

    // What cosign reads: the tag, the layer, the payload, and a signature openssl accepts.
    let tag = signature_tag(&pushed.digest).unwrap();
    assert_eq!(
        tag,
        format!("sha256-{}.sig", pushed.digest.trim_start_matches("sha256:"))
    );
    let raw = http(
        &registry.host(),
        "GET",
        &format!("/v2/acme/notify/manifests/{tag}"),
        &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(raw.status, 200, "{raw:?}");
    assert_eq!(sha256(&raw.body), sig_digest);
    let manifest: serde_json::Value = serde_json::from_slice(&raw.body).unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["mediaType"], SIMPLE_SIGNING_MEDIA_TYPE);
    let payload = get_blob(
        &registry,
        "acme/notify",
        layers[0]["digest"].as_str().unwrap(),
    )
    .await;
    let parsed: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(
        parsed,
        serde_json::json!({
            "critical": {
                "identity": {"docker-reference": format!("{}/acme/notify", registry.host())},
                "image": {"docker-manifest-digest": pushed.digest},
                "type": "cosign container image signature",
            },
            "optional": null,
        })
    );
    let signature = layers[0]["annotations"][SIGNATURE_ANNOTATION]
        .as_str()
        .unwrap();
    std::fs::write(dir.path().join("payload.json"), &payload).unwrap();
    std::fs::write(
        dir.path().join("payload.sig.der"),
        BASE64.decode(signature).unwrap(),
    )
    .unwrap();
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(&key.public)
        .arg("-signature")
        .arg(dir.path().join("payload.sig.der"))
        .arg(dir.path().join("payload.json"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Verified OK");

    // A second signer adds a layer (cosign's behaviour); each key alone verifies.
    let second = KeyPair::generate(dir.path(), "second");
    sign_simple(&client, &pushed.reference, &second.private_pem()).await;
    let manifest = get_manifest(&registry.host(), "acme/notify", &tag).await;
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 2);
    for pair in [&key, &second] {
        let signer = verify_artifact(&client, &pushed.reference, &pair.trusted())
            .await
            .unwrap();
        assert_eq!(signer.fingerprint, pair.fingerprint());
    }

    // Verification needs a digest: a tag may move after the check.
    let unpinned = registry.reference("acme/notify:1.0.0");
    let err = verify_artifact(&client, &unpinned, &key.trusted())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SignatureError::Oci(Error::InvalidReference { reason, .. }) if reason.contains("pinned to a digest")),
        "{err:?}"
    );
}

#[tokio::test]
async fn artifact_refusals() {
    let (registry, dir, client) = setup().await;
    let key = KeyPair::generate(dir.path(), "release");
    let stranger = KeyPair::generate(dir.path(), "stranger");
    let signed = push(&client, &registry, "signed").await;
    let other = push(&client, &registry, "other").await;
    assert_ne!(signed.digest, other.digest);

    // Unsigned: Missing, naming both places looked: the referrers and the `.sig` tag.
    let err = verify_artifact(&client, &other.reference, &key.trusted())
        .await
        .unwrap_err();
    let other_tag = signature_tag(&other.digest).unwrap();
    match &err {
        SignatureError::Missing { subject, location } => {
            assert_eq!(subject, &other.reference.to_string());
            assert!(
                location.contains("no Sigstore bundle among the referrers"),
                "{location}"
            );
            assert!(
                location.contains(&format!("the tag {}", other_tag.trim_end_matches(".sig"))),
                "{location}"
            );
            assert!(
                location.ends_with(&format!("no tag {other_tag}")),
                "{location}"
            );
        }
        other => panic!("expected Missing, got {other:?}"),
    }

    // Signed by a key that is not trusted: Untrusted.
    sign_simple(&client, &signed.reference, &key.private_pem()).await;
    let err = verify_artifact(&client, &signed.reference, &stranger.trusted())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SignatureError::Untrusted { subject, tried } if *subject == signed.reference.to_string() && tried.len() == 1),
        "{err:?}"
    );
    assert!(err.to_string().contains(&stranger.fingerprint()), "{err}");

    // The signature of `signed` copied to `other`'s signature tag: WrongDigest, even though a
    // trusted key made it.
    let signed_tag = signature_tag(&signed.digest).unwrap();
    let copied = http(
        &registry.host(),
        "GET",
        &format!("/v2/acme/notify/manifests/{signed_tag}"),
        &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(copied.status, 200, "{copied:?}");
    let put = http(
        &registry.host(),
        "PUT",
        &format!("/v2/acme/notify/manifests/{other_tag}"),
        &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
        &copied.body,
    )
    .await
    .unwrap();
    assert_eq!(put.status, 201, "{put:?}");
    let err = verify_artifact(&client, &other.reference, &key.trusted())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("signs"), "{err}");
    match err {
        SignatureError::WrongDigest {
            subject,
            expected,
            signed: found,
        } => {
            assert_eq!(subject, other.reference.to_string());
            assert_eq!(expected, other.digest);
            assert_eq!(found, signed.digest);
        }
        other => panic!("expected WrongDigest, got {other:?}"),
    }

    // Signing what the registry does not hold is refused before anything is pushed.
    let absent = Reference::parse(&format!(
        "oci://{}/acme/notify@sha256:{}",
        registry.host(),
        "0".repeat(64)
    ))
    .unwrap();
    let err = sign_artifact(&client, &absent, &key.private_pem())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SignatureError::Oci(Error::NotFound { .. })),
        "{err:?}"
    );
}

/// The raw manifest (or index) at `reference` (a tag or digest) of `repository`.
async fn raw_manifest(registry: &Registry, repository: &str, reference: &str) -> serde_json::Value {
    let response = http(
        &registry.host(),
        "GET",
        &format!("/v2/{repository}/manifests/{reference}"),
        &[(
            "Accept",
            "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json",
        )],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(response.status, 200, "{response:?}");
    serde_json::from_slice(&response.body).unwrap()
}

#[tokio::test]
async fn bundle_signed_by_default_then_found_through_the_referrers_tag_and_verified() {
    let (registry, dir, client) = setup().await;
    let key = KeyPair::generate(dir.path(), "release");
    let pushed = push(&client, &registry, "1.0.0").await;

    let referrer = sign_artifact(&client, &pushed.reference, &key.private_pem())
        .await
        .unwrap();

    // docker-registry 2.8 has no referrers API: the bundle is listed at the tag `sha256-HEX`,
    // in a manifest shaped as cosign v3's (artifact type, one bundle layer, annotations).
    let hex = pushed.digest.trim_start_matches("sha256:");
    let index = raw_manifest(&registry, "acme/notify", &format!("sha256-{hex}")).await;
    let listed = index["manifests"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["digest"], referrer.as_str());
    assert_eq!(listed[0]["artifactType"], BUNDLE_V03_MEDIA_TYPE);
    let manifest = raw_manifest(&registry, "acme/notify", &referrer).await;
    assert_eq!(manifest["artifactType"], BUNDLE_V03_MEDIA_TYPE);
    assert_eq!(manifest["subject"]["digest"], pushed.digest.as_str());
    assert_eq!(manifest["layers"][0]["mediaType"], BUNDLE_V03_MEDIA_TYPE);
    assert_eq!(
        manifest["annotations"][ANNOTATION_BUNDLE_CONTENT],
        "dsse-envelope"
    );
    assert_eq!(
        manifest["annotations"][ANNOTATION_BUNDLE_PREDICATE_TYPE],
        COSIGN_SIGN_PREDICATE_TYPE
    );
    // No `.sig` tag was written.
    let tags = http(
        &registry.host(),
        "GET",
        "/v2/acme/notify/tags/list",
        &[],
        b"",
    )
    .await
    .unwrap();
    assert!(
        !String::from_utf8_lossy(&tags.body).contains(".sig"),
        "{tags:?}"
    );

    let verified = verify_default(&client, &pushed.reference, &key.trusted()).await;
    assert_eq!(verified.key.fingerprint, key.fingerprint());
    match &verified.format {
        SignatureFormat::Bundle {
            referrer: found,
            bundle,
        } => {
            assert_eq!(found, &referrer);
            assert!(bundle.tlog.is_empty());
        }
        other => panic!("expected a bundle, got {other:?}"),
    }
    assert_eq!(verified.format.name(), "bundle");
    // The default-policy wrapper returns the key, as before.
    let signer = verify_artifact(&client, &pushed.reference, &key.trusted())
        .await
        .unwrap();
    assert_eq!(signer.fingerprint, key.fingerprint());
}

#[tokio::test]
async fn bundle_refusals_name_each_reason() {
    let (registry, dir, client) = setup().await;
    let key = KeyPair::generate(dir.path(), "release");
    let stranger = KeyPair::generate(dir.path(), "stranger");
    let signed = push(&client, &registry, "signed").await;
    let tampered = push(&client, &registry, "tampered").await;
    sign_artifact(&client, &signed.reference, &key.private_pem())
        .await
        .unwrap();

    // Untrusted key: the one bundle's own error, naming the referrer and the key tried.
    let err = verify_artifact(&client, &signed.reference, &stranger.trusted())
        .await
        .unwrap_err();
    match &err {
        SignatureError::Bundle { source, .. } => assert!(
            matches!(**source, BundleError::Untrusted { ref tried, .. } if tried.len() == 1),
            "{source:?}"
        ),
        other => panic!("expected Bundle, got {other:?}"),
    }
    assert!(err.to_string().contains(&stranger.fingerprint()), "{err}");
    assert!(
        err.to_string().contains("not signed by a trusted key"),
        "{err}"
    );

    // A bundle whose signature has one byte flipped, pushed as a referrer of another artifact.
    let good = sign_bundle_dsse(&tampered.digest, &key.private_pem(), None).unwrap();
    let mut value: serde_json::Value = serde_json::from_slice(&good).unwrap();
    let mut sig = BASE64
        .decode(
            value["dsseEnvelope"]["signatures"][0]["sig"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    *sig.last_mut().unwrap() ^= 1;
    value["dsseEnvelope"]["signatures"][0]["sig"] = BASE64.encode(sig).into();
    let bad_referrer = client
        .push_referrer(
            &tampered.reference,
            BUNDLE_V03_MEDIA_TYPE,
            BUNDLE_V03_MEDIA_TYPE,
            serde_json::to_vec(&value).unwrap(),
            BTreeMap::new(),
        )
        .await
        .unwrap();
    let err = verify_artifact(&client, &tampered.reference, &key.trusted())
        .await
        .unwrap_err();
    match &err {
        SignatureError::Bundle {
            referrer, source, ..
        } => {
            assert_eq!(referrer, &bad_referrer);
            assert!(
                matches!(**source, BundleError::Untrusted { .. }),
                "{source:?}"
            );
        }
        other => panic!("expected Bundle, got {other:?}"),
    }

    // A bundle made for `signed`, attached to `tampered` too: it signs another digest.
    let copied = sign_bundle_dsse(&signed.digest, &key.private_pem(), None).unwrap();
    client
        .push_referrer(
            &tampered.reference,
            BUNDLE_V03_MEDIA_TYPE,
            BUNDLE_V03_MEDIA_TYPE,
            copied,
            BTreeMap::new(),
        )
        .await
        .unwrap();
    // Garbage in a bundle layer.
    client
        .push_referrer(
            &tampered.reference,
            BUNDLE_V03_MEDIA_TYPE,
            BUNDLE_V03_MEDIA_TYPE,
            b"not a bundle".to_vec(),
            BTreeMap::new(),
        )
        .await
        .unwrap();
    let err = verify_artifact(&client, &tampered.reference, &key.trusted())
        .await
        .unwrap_err();
    let message = err.to_string();
    match &err {
        SignatureError::Rejected {
            reasons, unchecked, ..
        } => {
            assert_eq!(reasons.len(), 3, "{reasons:?}");
            assert_eq!(*unchecked, 0);
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert!(message.contains("3 checked"), "{message}");
    assert!(message.contains("not signed by a trusted key"), "{message}");
    assert!(
        message.contains(&format!("signs {}", signed.digest)),
        "{message}"
    );
    assert!(message.contains("malformed"), "{message}");

    // A valid signature among refused ones is enough.
    sign_artifact(&client, &tampered.reference, &key.private_pem())
        .await
        .unwrap();
    let verified = verify_default(&client, &tampered.reference, &key.trusted()).await;
    assert_eq!(verified.key.fingerprint, key.fingerprint());
}

#[tokio::test]
async fn both_formats_attached_either_verifies() {
    let (registry, dir, client) = setup().await;
    let bundle_key = KeyPair::generate(dir.path(), "bundle");
    let legacy_key = KeyPair::generate(dir.path(), "legacy");
    let stranger = KeyPair::generate(dir.path(), "stranger");
    let pushed = push(&client, &registry, "both").await;
    sign_artifact_with(
        &client,
        &pushed.reference,
        &bundle_key.private_pem(),
        SigningFormat::Bundle,
    )
    .await
    .unwrap();
    sign_simple(&client, &pushed.reference, &legacy_key.private_pem()).await;
    let policy = BundlePolicy::default();

    let verified = verify_artifact_with(&client, &pushed.reference, &bundle_key.trusted(), &policy)
        .await
        .unwrap();
    assert_eq!(verified.format.name(), "bundle");
    assert_eq!(verified.key.fingerprint, bundle_key.fingerprint());

    let verified = verify_artifact_with(&client, &pushed.reference, &legacy_key.trusted(), &policy)
        .await
        .unwrap();
    let tag = signature_tag(&pushed.digest).unwrap();
    assert_eq!(verified.format, SignatureFormat::SimpleSigning { tag });
    assert_eq!(verified.key.fingerprint, legacy_key.fingerprint());
    assert!(verified.format.to_string().contains("simple signing"));

    // Neither trusted: both reasons.
    let err = verify_artifact_with(&client, &pushed.reference, &stranger.trusted(), &policy)
        .await
        .unwrap_err();
    match &err {
        SignatureError::Rejected { reasons, .. } => {
            assert_eq!(reasons.len(), 2, "{reasons:?}");
            assert!(reasons[0].contains("Sigstore bundle"), "{}", reasons[0]);
            assert!(
                reasons[1].contains("is not from a trusted key"),
                "{}",
                reasons[1]
            );
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
}

/// `HOST/REPO@sha256:...`: how cosign names an image.
fn image_name(reference: &Reference) -> String {
    format!(
        "{}/{}@{}",
        reference.registry(),
        reference.repository(),
        reference.digest().unwrap()
    )
}

#[tokio::test]
async fn what_cosign_v3_signs_in_the_registry_robodev_verifies() {
    let Some(cosign) = cosign() else { return };
    let (registry, dir, client) = setup().await;
    let stranger = KeyPair::generate(dir.path(), "stranger");
    let pushed = push(&client, &registry, "cosigned").await;
    cosign::setup(&cosign, dir.path());

    // cosign v3's defaults otherwise: the new bundle format, attached in the registry (here
    // through the referrers tag schema: docker-registry 2.8 has no referrers API).
    let signed = run_cosign(
        &cosign,
        dir.path(),
        &[
            "sign",
            "--key",
            "cosign.key",
            "--signing-config",
            "offline.json",
            "--allow-http-registry",
            "--yes",
            &image_name(&pushed.reference),
        ],
    );
    assert!(signed.status.success());
    let hex = pushed.digest.trim_start_matches("sha256:");
    let index = raw_manifest(&registry, "acme/notify", &format!("sha256-{hex}")).await;
    assert_eq!(index["manifests"][0]["artifactType"], BUNDLE_V03_MEDIA_TYPE);

    let keys = TrustedKeys::from_pem_files([dir.path().join("cosign.pub")]).unwrap();
    let verified =
        verify_artifact_with(&client, &pushed.reference, &keys, &BundlePolicy::default())
            .await
            .unwrap();
    assert!(
        verified.key.name.ends_with("cosign.pub"),
        "{}",
        verified.key
    );
    match &verified.format {
        SignatureFormat::Bundle { referrer, bundle } => {
            assert_eq!(index["manifests"][0]["digest"], referrer.as_str());
            assert_eq!(
                bundle.predicate_type.as_deref(),
                Some(COSIGN_SIGN_PREDICATE_TYPE)
            );
        }
        other => panic!("expected a bundle, got {other:?}"),
    }

    // Another key: refused, naming the key tried.
    let err = verify_artifact(&client, &pushed.reference, &stranger.trusted())
        .await
        .unwrap_err();
    assert!(matches!(err, SignatureError::Bundle { .. }), "{err:?}");
    assert!(err.to_string().contains(&stranger.fingerprint()), "{err}");
}

#[tokio::test]
async fn what_robodev_signs_in_the_registry_cosign_v3_verifies() {
    let Some(cosign) = cosign() else { return };
    let (registry, dir, client) = setup().await;
    let key = KeyPair::generate(dir.path(), "release");
    let stranger = KeyPair::generate(dir.path(), "stranger");
    let bundled = push(&client, &registry, "bundled").await;
    let legacy = push(&client, &registry, "legacy").await;
    sign_artifact(&client, &bundled.reference, &key.private_pem())
        .await
        .unwrap();
    sign_simple(&client, &legacy.reference, &key.private_pem()).await;

    let verify = |reference: &Reference, public: &Path, extra: &[&str]| {
        let mut args = vec![
            "verify".to_owned(),
            "--key".to_owned(),
            public.display().to_string(),
            "--insecure-ignore-tlog".to_owned(),
            "--allow-http-registry".to_owned(),
        ];
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        args.push(image_name(reference));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_cosign(&cosign, dir.path(), &args)
    };
    let out = verify(&bundled.reference, &key.public, &[]);
    assert!(out.status.success(), "cosign refused robodev's bundle");
    let claims: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        claims[0]["critical"]["image"]["docker-manifest-digest"],
        bundled.digest.as_str()
    );
    assert!(
        !verify(&bundled.reference, &stranger.public, &[])
            .status
            .success()
    );
    // The older format, as cosign v3 reads it when told to.
    let out = verify(
        &legacy.reference,
        &key.public,
        &["--new-bundle-format=false"],
    );
    assert!(out.status.success(), "cosign refused robodev's .sig");
}
