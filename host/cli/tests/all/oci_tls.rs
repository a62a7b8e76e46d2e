//! `--ca-file` of `plugin push|pull|inspect|call` against an HTTPS registry of a private CA:
//! without it the certificate is refused (exit 2, naming the registry, the reason and the
//! flag), even for a pull whose tag is in the cache; with it everything works.

use robodev_test_support::registry::{Auth, Registry, ensure_tools};
use robodev_test_support::tls::TestCa;

use crate::{code, robodev, stderr};

#[test]
fn ca_file_trusts_a_private_ca_and_its_absence_is_not_an_outage() {
    ensure_tools();
    let ca = TestCa::new("robodev CLI test CA");
    let registry = Registry::start_with(&Auth::None, Some(&ca));
    let dirs = tempfile::tempdir().unwrap();
    let ca_file = dirs.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();
    let ca_file = ca_file.display().to_string();
    let reference = registry.reference("acme/review-gate:1.0.0");
    let wasm = crate::guests::guest("review_rules").display().to_string();
    let host = registry.host();
    let refused = |out: &std::process::Output| {
        assert_eq!(code(out), 2, "{}", stderr(out));
        let err = stderr(out);
        assert!(
            err.contains(&format!(
                "the certificate of {host} is not trusted: UnknownIssuer"
            )) && err.contains("--ca-file"),
            "{err}"
        );
        assert!(!err.contains("cannot reach"), "{err}");
    };

    refused(&robodev(
        dirs.path(),
        &["plugin", "push", &wasm, &reference],
    ));
    let out = robodev(
        dirs.path(),
        &["plugin", "push", &wasm, &reference, "--ca-file", &ca_file],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = robodev(
        dirs.path(),
        &["plugin", "pull", &reference, "--ca-file", &ca_file],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // The tag is in the cache now: still refused, not served offline.
    refused(&robodev(dirs.path(), &["plugin", "pull", &reference]));

    // An oci+https:// SOURCE of plugin inspect and plugin call.
    let out = robodev(
        dirs.path(),
        &["plugin", "inspect", &reference, "--ca-file", &ca_file],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = robodev(dirs.path(), &["plugin", "inspect", &reference]);
    assert_ne!(code(&out), 0);
    assert!(
        stderr(&out).contains("not trusted: UnknownIssuer"),
        "{}",
        stderr(&out)
    );
}
