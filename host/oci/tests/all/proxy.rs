//! Proxies from the environment (`HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY`, as reqwest reads
//! them): pushes and pulls go through a forward proxy, or past it where `NO_PROXY` says so.
//!
//! The environment is process-wide and read when a client is built, so every case runs its
//! push and pull in a child process: this test binary again, running this same test, given the
//! case in [`CHILD_CASE`] and only the proxy variables of the case.

use std::path::PathBuf;

use robodev_oci::{Client, ClientOptions, Credentials, DockerConfig, Reference};
use robodev_test_support::child;
use robodev_test_support::forward_proxy::ForwardProxy;
use serde_json::json;

use crate::support::{PASSWORD, Registry, TestCa, USER, no_annotations, wasm_file};

/// Set in a child: the case, as JSON (`reference`, `ca_file`, `credentials`).
const CHILD_CASE: &str = "ROBODEV_TEST_OCI_PROXY_CASE";

/// The child's part: push the test component to the case's reference, pull it into another
/// cache, and compare.
async fn push_and_pull(case: &serde_json::Value) {
    let reference = Reference::parse(case["reference"].as_str().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = |name: &str| {
        let mut options =
            ClientOptions::new(dir.path().join(name)).docker_config(DockerConfig::Disabled);
        if let Some(ca) = case["ca_file"].as_str() {
            options = options.ca_file(ca);
        }
        if case["credentials"] == true {
            options = options.credentials(reference.registry(), Credentials::basic(USER, PASSWORD));
        }
        Client::new(options)
    };
    let pushed = client("pusher")
        .push(&wasm_file(), &reference, no_annotations())
        .await
        .unwrap();
    let pulled = client("puller").pull(&reference).await.unwrap();
    assert_eq!(pulled.digest, pushed.digest);
    assert_eq!(
        std::fs::read(&pulled.path).unwrap(),
        std::fs::read(wasm_file()).unwrap()
    );
}

/// Runs the case in a child with only the proxy variables `env`; fails unless it passed.
async fn in_child(case: serde_json::Value, env: &[(&str, String)]) {
    let mut command = tokio::process::Command::from(child::rerun(
        "proxy::push_and_pull_use_the_proxy_from_the_environment",
        (CHILD_CASE, &case.to_string()),
        env,
    ));
    let out = command.kill_on_drop(true).output().await.unwrap();
    child::assert_passed(&out, &format!("{case}, {env:?}"));
}

#[tokio::test]
async fn push_and_pull_use_the_proxy_from_the_environment() {
    if let Ok(case) = std::env::var(CHILD_CASE) {
        push_and_pull(&serde_json::from_str(&case).unwrap()).await;
        return;
    }
    let proxy = ForwardProxy::start();

    // HTTP_PROXY: a plain-HTTP loopback registry is reached through the proxy (reqwest does
    // not exempt loopback by itself), every request in absolute form.
    let registry = Registry::start().await;
    let reference = registry.reference("robodev/proxied:1.0.0");
    in_child(
        json!({"reference": reference.to_string()}),
        &[("HTTP_PROXY", proxy.url())],
    )
    .await;
    let seen = proxy.seen();
    let base = format!("http://{}/v2/robodev/proxied", registry.host());
    for line in [
        format!("PUT {base}/manifests/1.0.0 HTTP/1.1"),
        format!("GET {base}/manifests/1.0.0 HTTP/1.1"),
    ] {
        assert!(seen.contains(&line), "{line} not in {seen:#?}");
    }
    let uploads = seen
        .iter()
        .filter(|l| l.starts_with(&format!("POST {base}/blobs/uploads/")))
        .count();
    assert!(uploads >= 2, "the config and the layer: {seen:#?}");
    assert!(
        seen.iter().all(|l| l
            .split(' ')
            .nth(1)
            .unwrap()
            .starts_with(&format!("http://{}/", registry.host()))),
        "{seen:#?}"
    );

    // NO_PROXY naming the registry's host: the same proxy is set, and not used.
    let before = proxy.seen().len();
    let reference = registry.reference("robodev/direct:1.0.0");
    in_child(
        json!({"reference": reference.to_string()}),
        &[
            ("http_proxy", proxy.url()),
            ("NO_PROXY", "localhost,127.0.0.1".to_owned()),
        ],
    )
    .await;
    assert_eq!(proxy.seen().len(), before, "{:#?}", &proxy.seen()[before..]);

    // HTTPS_PROXY: an HTTPS registry (of a private CA, with HTTP Basic auth, so oci-client's
    // own client answers the challenge) is reached through CONNECT tunnels, and its
    // certificate is still checked end to end against the CA file.
    let ca = TestCa::new("robodev test CA");
    let dir = tempfile::tempdir().unwrap();
    let ca_file: PathBuf = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();
    let tls_registry = Registry::start_with_tls(&ca, true).await;
    let reference = tls_registry.reference("robodev/tunnelled:1.0.0");
    let before = proxy.seen().len();
    in_child(
        json!({"reference": reference.to_string(), "ca_file": ca_file, "credentials": true}),
        &[("HTTPS_PROXY", proxy.url())],
    )
    .await;
    let tunnels = &proxy.seen()[before..];
    assert!(!tunnels.is_empty(), "no request went through the proxy");
    assert!(
        tunnels
            .iter()
            .all(|l| *l == format!("CONNECT {} HTTP/1.1", tls_registry.host())),
        "{tunnels:#?}"
    );
}
