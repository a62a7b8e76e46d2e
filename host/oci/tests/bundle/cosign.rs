//! Interop with cosign v3, both ways: robodev verifies the bundles `cosign sign-blob` and
//! `cosign sign` write, and `cosign verify-blob` / `verify-blob-attestation` verify the
//! bundles robodev's signer writes, log entries included (through a trusted root naming the
//! [`LocalLog`]'s key).
//!
//! cosign comes from scripts/build-cosign (target/tools/bin/cosign), or `ROBODEV_COSIGN`. When
//! it is absent these tests say so on stderr and pass, unless `ROBODEV_REQUIRE_COSIGN=1`: building
//! cosign takes minutes and gigabytes, so the default suite does not. `cosign sign` also needs
//! a registry to ask about the image: Debian's docker-registry (scripts/build-oci-interop).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use robodev_oci::bundle::{
    BundleError, BundlePolicy, COSIGN_SIGN_PREDICATE_TYPE, LocalLog, sign_bundle_blob,
    sign_bundle_dsse, verify_blob_bundle, verify_bundle,
};
use robodev_oci::signature::TrustedKeys;

use super::{digest_of, key_pair};

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// The cosign binary, or `None` (having said why) when the test should pass without it.
fn cosign() -> Option<PathBuf> {
    let path = std::env::var_os("ROBODEV_COSIGN").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/bin/cosign"),
        PathBuf::from,
    );
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var("ROBODEV_REQUIRE_COSIGN").as_deref() != Ok("1"),
        "ROBODEV_REQUIRE_COSIGN=1 but there is no cosign at {} (run scripts/build-cosign)",
        path.display()
    );
    eprintln!(
        "skipped: no cosign at {} (run scripts/build-cosign to test against cosign v3)",
        path.display()
    );
    None
}

/// Runs cosign in `dir` with an empty key password and a private TUF cache; its output.
fn run(cosign: &Path, dir: &Path, args: &[&str]) -> Output {
    let output = Command::new(cosign)
        .args(args)
        .current_dir(dir)
        .env("COSIGN_PASSWORD", "")
        .env("TUF_ROOT", dir.join("tuf"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    eprintln!(
        "cosign {}: {}\n{}{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A cosign key pair (`cosign.key`, `cosign.pub`) and a signing config with no services (how
/// cosign v3 signs offline: `--tlog-upload=false` is refused with a signing config) in `dir`.
fn cosign_keys(cosign: &Path, dir: &Path) -> TrustedKeys {
    assert!(run(cosign, dir, &["generate-key-pair"]).status.success());
    assert!(
        run(
            cosign,
            dir,
            &["signing-config", "create", "--out", "offline.json"]
        )
        .status
        .success()
    );
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
    let registry = Registry::start(dir.path());
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

/// A docker-registry on 127.0.0.1 without authentication, killed when dropped.
struct Registry {
    child: Child,
    port: u16,
}

impl Registry {
    fn start(dir: &Path) -> Self {
        let mut last = String::new();
        for attempt in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let root = dir.join(format!("registry-{attempt}"));
            std::fs::create_dir_all(&root).unwrap();
            let config = root.join("config.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                    root.join("data").display()
                ),
            )
            .unwrap();
            let log = std::fs::File::create(root.join("log")).unwrap();
            let mut child = Command::new(REGISTRY_BIN)
                .arg("serve")
                .arg(&config)
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Self { child, port };
                }
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
            last = std::fs::read_to_string(root.join("log")).unwrap_or_default();
        }
        panic!("docker-registry did not start:\n{last}");
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
