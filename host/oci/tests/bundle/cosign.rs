//! Interop with cosign v3, both ways: robodev verifies the bundles `cosign sign-blob` and
//! `cosign sign` write, and `cosign verify-blob` / `verify-blob-attestation` verify the
//! bundles robodev's signer writes, log entries included (through a trusted root naming the
//! [`LocalLog`]'s key).
//!
//! cosign comes from scripts/build-cosign (target/tools/bin/cosign), or `ROBODEV_COSIGN`. When
//! it is absent these tests say so on stderr and pass, unless `ROBODEV_REQUIRE_COSIGN=1`: building
//! cosign takes minutes and gigabytes, so the default suite does not (robodev-test-support's
//! `cosign`). `cosign sign` also needs a registry to ask about the image: Debian's
//! docker-registry (scripts/build-oci-interop), skipped when it is not installed.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use robodev_oci::bundle::{
    BundleError, BundlePolicy, COSIGN_SIGN_PREDICATE_TYPE, LocalLog, sign_bundle_blob,
    sign_bundle_dsse, verify_blob_bundle, verify_bundle,
};
use robodev_oci::signature::TrustedKeys;
use robodev_test_support::cosign::{self, cosign, run};
use robodev_test_support::registry::{Auth, REGISTRY_BIN, Registry};

use super::{digest_of, key_pair};

/// A cosign key pair (`cosign.key`, `cosign.pub`) and an offline signing config
/// (`offline.json`) in `dir`; the public key, trusted.
fn cosign_keys(cosign: &Path, dir: &Path) -> TrustedKeys {
    cosign::setup(cosign, dir);
    TrustedKeys::from_pem_files([dir.join("cosign.pub")]).unwrap()
}

#[test]
fn robodev_verifies_cosign_sign_blob_bundles() {
    let Some(cosign) = cosign() else { return };
    let dir = tempfile::tempdir().unwrap();
    let keys = cosign_keys(&cosign, dir.path());
    std::fs::write(dir.path().join("plugin.wasm"), b"\0asm plugin").unwrap();
    let signed = run(
        &cosign,
        dir.path(),
        &[
            "sign-blob",
            "--key",
            "cosign.key",
            "--signing-config",
            "offline.json",
            "--bundle",
            "plugin.wasm.sigstore.json",
            "--yes",
            "plugin.wasm",
        ],
    );
    assert!(signed.status.success());
    let bundle = std::fs::read(dir.path().join("plugin.wasm.sigstore.json")).unwrap();

    let policy = BundlePolicy::default();
    let verified = verify_blob_bundle(&bundle, b"\0asm plugin", &keys, &policy).unwrap();
    assert!(
        verified.key.name.ends_with("cosign.pub"),
        "{}",
        verified.key
    );
    assert_eq!(verified.predicate_type, None);
    assert!(matches!(
        verify_blob_bundle(&bundle, b"\0asm plugin!", &keys, &policy),
        Err(BundleError::WrongSubject { .. })
    ));
    assert!(matches!(
        verify_blob_bundle(&bundle, b"\0asm plugin", &TrustedKeys::new(), &policy),
        Err(BundleError::Untrusted { .. })
    ));
}

#[test]
fn robodev_verifies_cosign_sign_bundles() {
    let Some(cosign) = cosign() else { return };
    if !Path::new(REGISTRY_BIN).is_file() {
        eprintln!("skipped: no {REGISTRY_BIN} (run scripts/build-oci-interop)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let keys = cosign_keys(&cosign, dir.path());
    let registry = Registry::start_with(&Auth::None, None);
    // cosign asks the registry about the image; one it does not hold is signed as "unknown",
    // and --upload=false keeps the bundle local (attaching it is the registry client's job).
    let digest = digest_of(b"a manifest");
    let image = format!("127.0.0.1:{}/acme/notify@{digest}", registry.port);
    let signed = run(
        &cosign,
        dir.path(),
        &[
            "sign",
            "--key",
            "cosign.key",
            "--signing-config",
            "offline.json",
            "--upload=false",
            "--bundle",
            "image.sigstore.json",
            "--allow-http-registry",
            "--yes",
            &image,
        ],
    );
    assert!(signed.status.success());
    let bundle = std::fs::read(dir.path().join("image.sigstore.json")).unwrap();

    let policy = BundlePolicy::default();
    let verified = verify_bundle(&bundle, &digest, &keys, &policy).unwrap();
    assert_eq!(
        verified.predicate_type.as_deref(),
        Some(COSIGN_SIGN_PREDICATE_TYPE)
    );
    assert!(matches!(
        verify_bundle(&bundle, &digest_of(b"another manifest"), &keys, &policy),
        Err(BundleError::WrongSubject { .. })
    ));
}

#[test]
fn cosign_verifies_robodev_bundles() {
    let Some(cosign) = cosign() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    let signer = key_pair();
    std::fs::write(path.join("signer.pub"), &signer.public).unwrap();
    let log = LocalLog::generate("log.robodev.test").unwrap();
    std::fs::write(path.join("trusted_root.json"), trusted_root(&log)).unwrap();
    let blob = b"plugin bytes\n";
    std::fs::write(path.join("plugin"), blob).unwrap();
    // Earlier entries, so that the inclusion proofs cosign checks are not trivial.
    for i in 0..4u8 {
        sign_bundle_blob(&[i], &signer.private, Some(&log)).unwrap();
    }
    let bundles = [
        (
            "blob-logged.json",
            sign_bundle_blob(blob, &signer.private, Some(&log)),
        ),
        ("blob.json", sign_bundle_blob(blob, &signer.private, None)),
        (
            "dsse-logged.json",
            sign_bundle_dsse(&digest_of(blob), &signer.private, Some(&log)),
        ),
        (
            "dsse.json",
            sign_bundle_dsse(&digest_of(blob), &signer.private, None),
        ),
    ];
    for (name, bundle) in bundles {
        std::fs::write(path.join(name), bundle.unwrap()).unwrap();
        let command = if name.starts_with("blob") {
            "verify-blob"
        } else {
            "verify-blob-attestation"
        };
        let mut args = vec![command, "--key", "signer.pub", "--bundle", name];
        if name.contains("logged") {
            args.extend(["--trusted-root", "trusted_root.json"]);
        } else {
            args.push("--insecure-ignore-tlog");
        }
        if command == "verify-blob-attestation" {
            args.extend(["--type", COSIGN_SIGN_PREDICATE_TYPE]);
        }
        args.push("plugin");
        let output = run(&cosign, path, &args);
        assert!(output.status.success(), "cosign refused {name}");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(said.contains("Verified OK"), "{name}: {said}");
    }
}

/// A Sigstore trusted root naming `log` as its only transparency log (what `cosign
/// --trusted-root` reads).
fn trusted_root(log: &LocalLog) -> String {
    let der: String = log
        .public_key_pem()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let log_id = BASE64.encode(hex::decode(log.log_id()).unwrap());
    serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [{
            "baseUrl": "https://log.robodev.test",
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": der,
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": { "start": "2020-01-01T00:00:00Z" },
            },
            "logId": { "keyId": log_id },
        }],
        "certificateAuthorities": [],
        "ctlogs": [],
        "timestampAuthorities": [],
    })
    .to_string()
}
