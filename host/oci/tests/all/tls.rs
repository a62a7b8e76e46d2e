//! HTTPS registries of a private CA (docker-registry serving TLS with a certificate a test CA
//! issued): trusted through `ClientOptions::ca_files`, refused without them, and CA files that
//! cannot be used named in the error.

use std::path::{Path, PathBuf};

use robodev_oci::{Client, ClientOptions, Credentials, DockerConfig, Error, Reference};

use crate::support::{PASSWORD, Registry, TestCa, USER, no_annotations, wasm_file};

/// A client with its own cache under `dir`, the registry's credentials under both of its
/// names, and `ca_files`.
fn client(dir: &Path, registry: &Registry, ca_files: &[PathBuf]) -> Client {
    let mut options = ClientOptions::new(dir).docker_config(DockerConfig::Disabled);
    for host in [registry.host(), format!("localhost:{}", registry.port)] {
        options = options.credentials(host, Credentials::basic(USER, PASSWORD));
    }
    for path in ca_files {
        options = options.ca_file(path);
    }
    Client::new(options)
}

#[tokio::test]
async fn https_registry_of_a_private_ca_is_trusted_through_ca_files() {
    let ca = TestCa::new("robodev test CA");
    // HTTP Basic auth too: oci-client's own client answers the challenge over TLS, so it must
    // trust the CA files as well.
    let registry = Registry::start_with_tls(&ca, true).await;
    let dir = tempfile::tempdir().unwrap();
    // Two CAs in one file: every certificate in it is trusted, not just the first.
    let cas = dir.path().join("cas.pem");
    std::fs::write(&cas, format!("{}{}", TestCa::new("another CA").pem, ca.pem)).unwrap();
    let original = std::fs::read(wasm_file()).unwrap();

    let reference = registry.reference("robodev/tls:1.0.0");
    let pushed = client(
        &dir.path().join("pusher"),
        &registry,
        std::slice::from_ref(&cas),
    )
    .push(&wasm_file(), &reference, no_annotations())
    .await
    .unwrap();
    let puller = client(&dir.path().join("puller"), &registry, &[cas]);
    let pulled = puller.pull(&reference).await.unwrap();
    assert_eq!(pulled.digest, pushed.digest);
    assert!(!pulled.offline);
    assert_eq!(std::fs::read(&pulled.path).unwrap(), original);

    // The certificate names localhost as well: the same artifact under that name.
    let by_name = Reference::parse(&format!(
        "oci+https://localhost:{}/robodev/tls:1.0.0",
        registry.port
    ))
    .unwrap();
    let pulled = puller.pull(&by_name).await.unwrap();
    assert_eq!(pulled.digest, pushed.digest);
    assert_eq!(std::fs::read(&pulled.path).unwrap(), original);
}

#[tokio::test]
async fn https_registry_of_an_unknown_ca_is_refused_naming_the_registry_and_the_issuer() {
    let ca = TestCa::new("robodev test CA");
    let registry = Registry::start_with_tls(&ca, false).await;
    let host = registry.host();
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other.pem");
    std::fs::write(&other, TestCa::new("another CA").pem).unwrap();
    let reference = registry.reference("robodev/tls:1.0.0");

    // No CA file, and a CA file of another CA only: the webpki roots and that CA do not
    // include the registry's issuer.
    for (name, ca_files) in [("no-ca", vec![]), ("other-ca", vec![other])] {
        let client = client(&dir.path().join(name), &registry, &ca_files);
        let push = client
            .push(&wasm_file(), &reference, no_annotations())
            .await
            .unwrap_err();
        let pull = client.pull(&reference).await.unwrap_err();
        // A refused certificate is not an outage: no offline fall back, and the hint names
        // the CA files.
        for err in [push, pull] {
            let Error::Certificate {
                registry: r,
                host: h,
                reason,
                ..
            } = &err
            else {
                panic!("{name}: expected Certificate, got {err:?}");
            };
            assert_eq!(
                (r, h, reason.as_str()),
                (&host, &host, "UnknownIssuer"),
                "{name}"
            );
            assert_eq!(
                err.to_string(),
                format!(
                    "registry {host} for {reference}: the certificate of {host} is not trusted: \
                     UnknownIssuer (trust the CA that issued it with a PEM file in \
                     ClientOptions::ca_files: oci.ca_files in robodev-config.yaml, --ca-file on \
                     the command line)"
                ),
                "{name}"
            );
        }
    }
    // The client gave up on the handshake, not the registry (which logs each refusal as it
    // reads the alert: by now at least the first one).
    assert!(
        registry
            .log()
            .contains("remote error: tls: unknown certificate authority"),
        "{}",
        registry.log()
    );
}

#[tokio::test]
async fn ca_files_that_cannot_be_used_are_named() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens here: every failure below comes before a connection is tried.
    let reference = Reference::parse("oci+https://127.0.0.1:1/robodev/tls:1.0.0").unwrap();
    let ca = TestCa::new("robodev test CA");
    let file = |name: &str, content: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    };
    let cases = [
        (
            dir.path().join("missing.pem"),
            "cannot read it: No such file or directory (os error 2)",
        ),
        (
            file("key.pem", &ca.key_pem),
            "no PEM certificate in the file",
        ),
        (
            file("notes.txt", "trust me\n"),
            "no PEM certificate in the file",
        ),
        (
            file("cut.pem", &ca.pem[..ca.pem.find("-----END").unwrap()]),
            "not valid PEM: a `-----BEGIN CERTIFICATE-----` block has no \
             `-----END CERTIFICATE-----` line",
        ),
        (
            file(
                "junk.pem",
                "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
            ),
            "not a usable CA certificate: invalid peer certificate: BadEncoding",
        ),
    ];
    for (path, expected) in cases {
        // A good CA file before the bad one: the bad one is still named.
        let good = file("good.pem", &ca.pem);
        let client = Client::new(
            ClientOptions::new(dir.path().join("cache"))
                .docker_config(DockerConfig::Disabled)
                .ca_file(good)
                .ca_file(&path),
        );
        for err in [
            client.pull(&reference).await.unwrap_err(),
            client
                .push(&wasm_file(), &reference, no_annotations())
                .await
                .unwrap_err(),
        ] {
            let Error::Tls {
                reference: r,
                path: p,
                reason,
            } = &err
            else {
                panic!("{}: expected Tls, got {err:?}", path.display());
            };
            assert_eq!(
                (r, p, reason.as_str()),
                (&reference.to_string(), &path, expected)
            );
            assert_eq!(
                err.to_string(),
                format!("TLS setup for {reference}: {}: {expected}", path.display())
            );
        }
    }
}
