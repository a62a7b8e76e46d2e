//! Sigstore bundles (robodev_oci::bundle): what robodev's signer writes verifies, and every
//! kind of tampering is refused with its own error. With a cosign v3 binary
//! (scripts/build-cosign), bundles cosign writes are verified too, and cosign verifies what
//! robodev writes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on broken invariants"
)]

mod cosign;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};
use robodev_oci::bundle::{
    BUNDLE_V03_MEDIA_TYPE, BundleError, BundlePolicy, BundleVersion, COSIGN_SIGN_PREDICATE_TYPE,
    LocalLog, MAX_BUNDLE_BYTES, key_hint, sign_bundle_blob, sign_bundle_dsse, verify_blob_bundle,
    verify_bundle,
};
use robodev_oci::signature::TrustedKeys;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// The DER prefix of a P-256 SubjectPublicKeyInfo; the uncompressed point follows.
const SPKI_P256_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A signer's key pair: PKCS#8 private PEM, public PEM, public DER.
struct Pair {
    private: String,
    public: String,
    spki: Vec<u8>,
}

fn key_pair() -> Pair {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let mut spki = SPKI_P256_PREFIX.to_vec();
    spki.extend_from_slice(pair.public_key().as_ref());
    let pem = |label: &str, der: &[u8]| {
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            BASE64.encode(der)
        )
    };
    Pair {
        private: pem("PRIVATE KEY", pkcs8.as_ref()),
        public: pem("PUBLIC KEY", &spki),
        spki,
    }
}

fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn keys(pem: &str) -> TrustedKeys {
    TrustedKeys::from_pem(pem).unwrap()
}

fn no_log() -> BundlePolicy {
    BundlePolicy::default()
}

fn trusting(log: &LocalLog, require_tlog: bool) -> BundlePolicy {
    BundlePolicy::new(keys(&log.public_key_pem()), require_tlog)
}

/// Edits a bundle's JSON.
fn edit(bundle: &[u8], change: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(bundle).unwrap();
    change(&mut value);
    serde_json::to_vec(&value).unwrap()
}

fn decode(value: &Value) -> Vec<u8> {
    BASE64.decode(value.as_str().unwrap()).unwrap()
}

#[test]
fn dsse_bundle_is_what_cosign_writes_and_verifies() {
    let signer = key_pair();
    let digest = digest_of(b"manifest");
    let bundle = sign_bundle_dsse(&digest, &signer.private, None).unwrap();

    let value: Value = serde_json::from_slice(&bundle).unwrap();
    assert_eq!(value["mediaType"], BUNDLE_V03_MEDIA_TYPE);
    assert_eq!(
        value["verificationMaterial"]["publicKey"]["hint"],
        key_hint(&signer.spki)
    );
    assert_eq!(
        value["dsseEnvelope"]["payloadType"],
        "application/vnd.in-toto+json"
    );
    let statement: Value =
        serde_json::from_slice(&decode(&value["dsseEnvelope"]["payload"])).unwrap();
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(statement["predicateType"], COSIGN_SIGN_PREDICATE_TYPE);
    assert_eq!(
        statement["subject"][0]["digest"]["sha256"],
        digest.trim_start_matches("sha256:")
    );

    let verified = verify_bundle(&bundle, &digest, &keys(&signer.public), &no_log()).unwrap();
    assert_eq!(verified.key.name, "inline key 1");
    assert_eq!(verified.version, BundleVersion::V0_3);
    assert_eq!(
        verified.predicate_type.as_deref(),
        Some(COSIGN_SIGN_PREDICATE_TYPE)
    );
    assert!(verified.tlog.is_empty());
}

#[test]
fn log_entries_verify_at_every_position_of_a_growing_log() {
    let signer = key_pair();
    let log = LocalLog::generate("log.robodev.test").unwrap();
    let policy = trusting(&log, true);
    let trusted = keys(&signer.public);
    // Entries 0..6: proofs through trees of 1 to 7 leaves, both kinds of entry.
    for i in 0u8..7 {
        let blob = [i; 10];
        let (verified, expected_kind_dsse) = if i % 2 == 0 {
            let digest = digest_of(&blob);
            let bundle = sign_bundle_dsse(&digest, &signer.private, Some(&log)).unwrap();
            (
                verify_bundle(&bundle, &digest, &trusted, &policy).unwrap(),
                true,
            )
        } else {
            let bundle = sign_bundle_blob(&blob, &signer.private, Some(&log)).unwrap();
            (
                verify_blob_bundle(&bundle, &blob, &trusted, &policy).unwrap(),
                false,
            )
        };
        assert_eq!(verified.tlog.len(), 1);
        let entry = &verified.tlog[0];
        assert_eq!(entry.log_index, i64::from(i));
        assert!(entry.promise && entry.proof);
        assert_eq!(entry.log.fingerprint, format!("sha256:{}", log.log_id()));
        assert_eq!(verified.predicate_type.is_some(), expected_kind_dsse);
    }
}

#[test]
fn blob_bundle_is_what_cosign_sign_blob_writes_and_verifies() {
    let signer = key_pair();
    let bundle = sign_bundle_blob(b"plugin bytes", &signer.private, None).unwrap();
    let value: Value = serde_json::from_slice(&bundle).unwrap();
    let message = &value["messageSignature"];
    assert_eq!(message["messageDigest"]["algorithm"], "SHA2_256");
    assert_eq!(
        decode(&message["messageDigest"]["digest"]),
        Sha256::digest(b"plugin bytes").to_vec()
    );
    let verified =
        verify_blob_bundle(&bundle, b"plugin bytes", &keys(&signer.public), &no_log()).unwrap();
    assert_eq!(verified.predicate_type, None);

    // Another blob: named as such, before the signature is tried.
    match verify_blob_bundle(&bundle, b"other bytes", &keys(&signer.public), &no_log()) {
        Err(BundleError::WrongSubject {
            expected, signed, ..
        }) => {
            assert_eq!(expected, digest_of(b"other bytes"));
            assert_eq!(signed, digest_of(b"plugin bytes"));
        }
        other => panic!("expected WrongSubject, got {other:?}"),
    }
    // A message signature needs the bytes: a digest alone is refused, saying so.
    let err = verify_bundle(
        &bundle,
        &digest_of(b"plugin bytes"),
        &keys(&signer.public),
        &no_log(),
    )
    .unwrap_err();
    assert!(matches!(err, BundleError::NeedsBlob { .. }), "{err:?}");
    assert!(err.to_string().contains("verify_blob_bundle"), "{err}");
}

#[test]
fn tampered_payload_is_untrusted() {
    let signer = key_pair();
    let digest = digest_of(b"manifest");
    let bundle = sign_bundle_dsse(&digest, &signer.private, None).unwrap();
    // Point the statement at another artifact without re-signing.
    let other = digest_of(b"evil");
    let tampered = edit(&bundle, |v| {
        let payload = String::from_utf8(decode(&v["dsseEnvelope"]["payload"])).unwrap();
        let payload = payload.replace(
            digest.trim_start_matches("sha256:"),
            other.trim_start_matches("sha256:"),
        );
        v["dsseEnvelope"]["payload"] = json!(BASE64.encode(payload));
    });
    let err = verify_bundle(&tampered, &other, &keys(&signer.public), &no_log()).unwrap_err();
    match &err {
        BundleError::Untrusted { hint, tried, .. } => {
            assert_eq!(hint.as_deref(), Some(key_hint(&signer.spki).as_str()));
            assert_eq!(tried.len(), 1);
        }
        other => panic!("expected Untrusted, got {other:?}"),
    }
    assert!(
        err.to_string().contains("not signed by a trusted key"),
        "{err}"
    );
    // The payload type is part of what is signed too.
    let retyped = edit(&bundle, |v| {
        v["dsseEnvelope"]["payloadType"] = json!("application/vnd.cosign+json");
    });
    assert!(matches!(
        verify_bundle(&retyped, &digest, &keys(&signer.public), &no_log()),
        Err(BundleError::PayloadType { found, .. }) if found == "application/vnd.cosign+json"
    ));
}

#[test]
fn tampered_signature_is_refused() {
    let signer = key_pair();
    let digest = digest_of(b"manifest");
    let bundle = sign_bundle_dsse(&digest, &signer.private, None).unwrap();
    let flip_last = edit(&bundle, |v| {
        let mut sig = decode(&v["dsseEnvelope"]["signatures"][0]["sig"]);
        *sig.last_mut().unwrap() ^= 1;
        v["dsseEnvelope"]["signatures"][0]["sig"] = json!(BASE64.encode(sig));
    });
    assert!(matches!(
        verify_bundle(&flip_last, &digest, &keys(&signer.public), &no_log()),
        Err(BundleError::Untrusted { .. })
    ));
    let garbled = edit(&bundle, |v| {
        v["dsseEnvelope"]["signatures"][0]["sig"] = json!(BASE64.encode(b"not DER"));
    });
    assert!(matches!(
        verify_bundle(&garbled, &digest, &keys(&signer.public), &no_log()),
        Err(BundleError::InvalidSignature { reason, .. }) if reason.contains("DER")
    ));
    let two = edit(&bundle, |v| {
        let sig = v["dsseEnvelope"]["signatures"][0].clone();
        v["dsseEnvelope"]["signatures"] = json!([sig.clone(), sig]);
    });
    assert!(matches!(
        verify_bundle(&two, &digest, &keys(&signer.public), &no_log()),
        Err(BundleError::InvalidSignature { reason, .. }) if reason.contains("2 signatures")
    ));
}

#[test]
fn bundle_for_another_artifact_is_refused() {
    let signer = key_pair();
    let signed = digest_of(b"manifest A");
    let bundle = sign_bundle_dsse(&signed, &signer.private, None).unwrap();
    let expected = digest_of(b"manifest B");
    let err = verify_bundle(&bundle, &expected, &keys(&signer.public), &no_log()).unwrap_err();
    match &err {
        BundleError::WrongSubject {
            expected: e,
            signed: s,
            ..
        } => {
            assert_eq!(e, &expected);
            assert_eq!(s, &signed);
        }
        other => panic!("expected WrongSubject, got {other:?}"),
    }
    assert!(err.to_string().contains(&signed), "{err}");
}

#[test]
fn untrusted_key_is_refused_naming_the_keys_tried() {
    let signer = key_pair();
    let stranger = key_pair();
    let digest = digest_of(b"manifest");
    let bundle = sign_bundle_dsse(&digest, &signer.private, None).unwrap();
    let err = verify_bundle(&bundle, &digest, &keys(&stranger.public), &no_log()).unwrap_err();
    assert!(
        matches!(&err, BundleError::Untrusted { tried, .. } if tried.len() == 1),
        "{err:?}"
    );
    assert!(
        verify_bundle(&bundle, &digest, &TrustedKeys::new(), &no_log())
            .unwrap_err()
            .to_string()
            .contains("no key is trusted")
    );
    // Among several trusted keys, the one that signed is found.
    let both = keys(&format!("{}{}", stranger.public, signer.public));
    assert_eq!(
        verify_bundle(&bundle, &digest, &both, &no_log())
            .unwrap()
            .key
            .name,
        "inline key 2"
    );
}

#[test]
fn keyless_bundles_are_refused() {
    let signer = key_pair();
    let digest = digest_of(b"manifest");
    let bundle = sign_bundle_dsse(&digest, &signer.private, None).unwrap();
    for (material, what) in [
        (
            json!({ "certificate": { "rawBytes": "MIIB" } }),
            "a certificate",
        ),
        (
            json!({ "x509CertificateChain": { "certificates": [{ "rawBytes": "MIIB" }] } }),
            "a certificate chain",
        ),
    ] {
        let keyless = edit(&bundle, |v| v["verificationMaterial"] = material);
        let err = verify_bundle(&keyless, &digest, &keys(&signer.public), &no_log()).unwrap_err();
        assert!(
            matches!(&err, BundleError::Certificate { what: w, .. } if *w == what),
            "{err:?}"
        );
        assert!(err.to_string().contains("keyless"), "{err}");
    }
}

#[test]
fn entry_from_an_unconfigured_log_is_refused_saying_how_to_configure_it() {
    let signer = key_pair();
    let log = LocalLog::generate("log.robodev.test").unwrap();
    let other_log = LocalLog::generate("another log").unwrap();
    let digest = digest_of(b"manifest");
    let bundle = sign_bundle_dsse(&digest, &signer.private, Some(&log)).unwrap();
    for policy in [no_log(), trusting(&other_log, false)] {
        let err = verify_bundle(&bundle, &digest, &keys(&signer.public), &policy).unwrap_err();
        match &err {
            BundleError::UnknownLog { log_id, .. } => assert_eq!(log_id, &log.log_id()),
            other => panic!("expected UnknownLog, got {other:?}"),
        }
        let message = err.to_string();
        assert!(message.contains("add that log's public key"), "{message}");
        assert!(message.contains("--tlog-upload=false"), "{message}");
    }
}

#[test]
fn entry_whose_body_describes_another_signature_is_refused() {
    let signer = key_pair();
    let log = LocalLog::generate("log.robodev.test").unwrap();
    let policy = trusting(&log, true);
    let trusted = keys(&signer.public);
    let digest_a = digest_of(b"manifest A");
    let digest_b = digest_of(b"manifest B");
    let bundle_a = sign_bundle_dsse(&digest_a, &signer.private, Some(&log)).unwrap();
    let bundle_b = sign_bundle_dsse(&digest_b, &signer.private, Some(&log)).unwrap();
    // A genuine, log-signed entry, but for bundle A: moved into bundle B.
    let a: Value = serde_json::from_slice(&bundle_a).unwrap();
    let spliced = edit(&bundle_b, |v| {
        v["verificationMaterial"]["tlogEntries"] = a["verificationMaterial"]["tlogEntries"].clone();
    });
    match verify_bundle(&spliced, &digest_b, &trusted, &policy) {
        Err(BundleError::TlogMismatch { reason, .. }) => {
            assert!(reason.contains("hash"), "{reason}");
        }
        other => panic!("expected TlogMismatch, got {other:?}"),
    }
    // A blob's hashedrekord entry does not describe a DSSE bundle either.
    let blob_bundle = sign_bundle_blob(b"blob", &signer.private, Some(&log)).unwrap();
    let blob: Value = serde_json::from_slice(&blob_bundle).unwrap();
    let wrong_kind = edit(&bundle_b, |v| {
        v["verificationMaterial"]["tlogEntries"] =
            blob["verificationMaterial"]["tlogEntries"].clone();
    });
    assert!(matches!(
        verify_bundle(&wrong_kind, &digest_b, &trusted, &policy),
        Err(BundleError::TlogMismatch { reason, .. }) if reason.contains("hashedrekord")
    ));
}

#[test]
fn tampered_log_entries_are_refused() {
    let signer = key_pair();
    let log = LocalLog::generate("log.robodev.test").unwrap();
    let policy = trusting(&log, true);
    let trusted = keys(&signer.public);
    let digest = digest_of(b"manifest");
    // Two earlier entries, so that the proof has hashes to tamper with.
    for i in 0..2u8 {
        sign_bundle_blob(&[i], &signer.private, Some(&log)).unwrap();
    }
    let bundle = sign_bundle_dsse(&digest, &signer.private, Some(&log)).unwrap();
    type Tamper = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Tamper)> = vec![
        (
            "inclusion promise",
            Box::new(|e| e["integratedTime"] = json!("1")),
        ),
        (
            "inclusion proof",
            Box::new(|e| {
                let mut hash = decode(&e["inclusionProof"]["hashes"][0]);
                hash[0] ^= 1;
                e["inclusionProof"]["hashes"][0] = json!(BASE64.encode(hash));
            }),
        ),
        (
            "checkpoint",
            Box::new(|e| {
                let checkpoint = e["inclusionProof"]["checkpoint"]["envelope"]
                    .as_str()
                    .unwrap()
                    .replacen("log.robodev.test - ", "log.robodev.tesu - ", 1);
                e["inclusionProof"]["checkpoint"]["envelope"] = json!(checkpoint);
            }),
        ),
        (
            "neither",
            Box::new(|e| {
                let entry = e.as_object_mut().unwrap();
                entry.remove("inclusionPromise");
                entry.remove("inclusionProof");
            }),
        ),
        (
            "need an inclusion proof",
            Box::new(|e| {
                e.as_object_mut().unwrap().remove("inclusionProof");
            }),
        ),
    ];
    for (expected, change) in cases {
        let tampered = edit(&bundle, |v| {
            change(&mut v["verificationMaterial"]["tlogEntries"][0])
        });
        match verify_bundle(&tampered, &digest, &trusted, &policy) {
            Err(BundleError::TlogInvalid {
                reason, log_index, ..
            }) => {
                assert!(reason.contains(expected), "{expected}: {reason}");
                assert_eq!(log_index, 2);
            }
            other => panic!("{expected}: expected TlogInvalid, got {other:?}"),
        }
    }
    // A v0.1 bundle's entries carry a promise and need no proof.
    let v01 = edit(&bundle, |v| {
        v["mediaType"] = json!("application/vnd.dev.sigstore.bundle+json;version=0.1");
        v["verificationMaterial"]["tlogEntries"][0]
            .as_object_mut()
            .unwrap()
            .remove("inclusionProof");
    });
    let verified = verify_bundle(&v01, &digest, &trusted, &policy).unwrap();
    assert_eq!(verified.version, BundleVersion::V0_1);
    assert!(verified.tlog[0].promise && !verified.tlog[0].proof);
}

#[test]
fn rekor_v2_entries_are_refused_with_a_reason() {
    let signer = key_pair();
    let log = LocalLog::generate("log.robodev.test").unwrap();
    let digest = digest_of(b"manifest");
    let bundle = sign_bundle_dsse(&digest, &signer.private, Some(&log)).unwrap();
    let v2 = edit(&bundle, |v| {
        v["verificationMaterial"]["tlogEntries"][0]["kindVersion"] =
            json!({ "kind": "hashedrekord", "version": "0.0.2" });
    });
    match verify_bundle(&v2, &digest, &keys(&signer.public), &trusting(&log, false)) {
        Err(BundleError::TlogUnsupported { reason, .. }) => {
            assert!(reason.contains("Rekor v2"), "{reason}");
        }
        other => panic!("expected TlogUnsupported, got {other:?}"),
    }
}

#[test]
fn a_required_log_entry_must_be_there() {
    let signer = key_pair();
    let log = LocalLog::generate("log.robodev.test").unwrap();
    let digest = digest_of(b"manifest");
    let bundle = sign_bundle_dsse(&digest, &signer.private, None).unwrap();
    assert!(matches!(
        verify_bundle(
            &bundle,
            &digest,
            &keys(&signer.public),
            &trusting(&log, true)
        ),
        Err(BundleError::TlogRequired { .. })
    ));
    assert!(
        verify_bundle(
            &bundle,
            &digest,
            &keys(&signer.public),
            &trusting(&log, false)
        )
        .is_ok()
    );
}

#[test]
fn oversized_garbage_and_unknown_versions_are_refused() {
    let signer = key_pair();
    let trusted = keys(&signer.public);
    let digest = digest_of(b"manifest");

    let huge = vec![b' '; MAX_BUNDLE_BYTES + 1];
    assert!(matches!(
        verify_bundle(&huge, &digest, &trusted, &no_log()),
        Err(BundleError::TooLarge { size, max, .. }) if size == MAX_BUNDLE_BYTES + 1 && max == MAX_BUNDLE_BYTES
    ));
    for garbage in [&b"not json"[..], b"{}", b"[1,2]", b"{\"mediaType\": 3}"] {
        assert!(
            matches!(
                verify_bundle(garbage, &digest, &trusted, &no_log()),
                Err(BundleError::Malformed { .. })
            ),
            "{}",
            String::from_utf8_lossy(garbage)
        );
    }
    let bundle = sign_bundle_dsse(&digest, &signer.private, None).unwrap();
    let future = edit(&bundle, |v| {
        v["mediaType"] = json!("application/vnd.dev.sigstore.bundle.v0.4+json");
    });
    assert!(matches!(
        verify_bundle(&future, &digest, &trusted, &no_log()),
        Err(BundleError::UnsupportedMediaType { media_type, .. }) if media_type.ends_with("v0.4+json")
    ));
    let no_content = edit(&bundle, |v| {
        v.as_object_mut().unwrap().remove("dsseEnvelope");
    });
    assert!(matches!(
        verify_bundle(&no_content, &digest, &trusted, &no_log()),
        Err(BundleError::Malformed { reason, .. }) if reason.contains("neither")
    ));
    assert!(matches!(
        verify_bundle(&bundle, "sha256:short", &trusted, &no_log()),
        Err(BundleError::Malformed { .. })
    ));
    // protobuf JSON's other spelling of field names and numbers is read too.
    let snake = String::from_utf8(bundle)
        .unwrap()
        .replace("verificationMaterial", "verification_material")
        .replace("dsseEnvelope", "dsse_envelope")
        .replace("payloadType", "payload_type");
    assert!(verify_bundle(snake.as_bytes(), &digest, &trusted, &no_log()).is_ok());
}
