//! Entry points for the fuzzers (`fuzz/`, and the corpus replay in `host/fuzz`): what a
//! registry, a config file or a signature sends robodev, parsed as robodev parses it. Each
//! takes any bytes and panics only on a bug.

use crate::bundle::{BundlePolicy, verify_blob_bundle, verify_bundle};
use crate::signature::{TrustedKeys, verify_blob};

/// An OCI reference as written in a config: parsed without panicking; one robodev accepts
/// prints to a reference that parses to the same.
pub fn reference(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(parsed) = crate::Reference::parse(&text) {
        let printed = parsed.to_string();
        let again = crate::Reference::parse(&printed)
            .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}, which is refused: {e}"));
        assert_eq!(again.to_string(), printed);
    }
}

/// A registry's manifest and its layer choice, and the component sniffing of a blob.
pub fn manifest(data: &[u8]) {
    let _ = crate::manifest::parse_image_manifest(data);
    for content_type in [None, Some("application/vnd.oci.image.manifest.v1+json")] {
        let _ = crate::manifest::wasm_layer(data, content_type);
    }
    let _ = crate::manifest::ComponentDescription::of(data);
}

/// A `WWW-Authenticate` header of a registry's 401.
pub fn auth_challenge(data: &[u8]) {
    let value = String::from_utf8_lossy(data);
    if let Some(realm) = crate::registry::bearer_realm(&value) {
        assert!(!realm.is_empty());
        assert!(value.contains(realm.as_str()));
    }
}

/// A docker `config.json`: its entry for a registry, as `pull` looks it up (credential
/// helpers are looked for in an empty `PATH`, so none runs).
pub fn docker_config(data: &[u8]) {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "robodev-fuzz-docker-config-{}-{}.json",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let _removed = RemoveOnDrop(path.clone());
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let config = crate::DockerConfig::File(path);
    for registry in ["ghcr.io", "docker.io", "localhost:5000"] {
        let _ = runtime.block_on(config.lookup(registry, Some(std::ffi::OsStr::new(""))));
    }
}

/// A signature or Sigstore bundle robodev is asked to trust, checked against `keys` (and
/// `keys` as transparency log keys). The first byte picks the format: a cosign blob signature
/// (`SIG\nBLOB`), a bundle over an artifact digest, a bundle over a blob (`BLOB` after the
/// first NUL), or a public key file.
pub fn signature(data: &[u8], keys: &TrustedKeys) {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let policy = BundlePolicy {
        log_keys: keys.clone(),
        require_tlog: kind & 0x80 != 0,
    };
    let split = |at: u8| match rest.iter().position(|b| *b == at) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    match kind % 4 {
        0 => {
            let (signature, blob) = split(b'\n');
            let _ = verify_blob(blob, &String::from_utf8_lossy(signature), keys);
        }
        1 => {
            let digest = format!("sha256:{}", "ab".repeat(32));
            let _ = verify_bundle(rest, &digest, keys, &policy);
        }
        2 => {
            let (bundle, blob) = split(0);
            let _ = verify_blob_bundle(bundle, blob, keys, &policy);
        }
        _ => {
            let _ = TrustedKeys::from_pem(&String::from_utf8_lossy(rest));
        }
    }
}

struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
