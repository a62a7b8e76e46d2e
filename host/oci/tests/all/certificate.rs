//! A refused registry certificate is not an outage: a pull whose tag is in the cache still
//! fails with `Error::Certificate` instead of serving the cached copy offline.

use robodev_oci::{Client, ClientOptions, DockerConfig, Error};

use crate::support::{Registry, TestCa, no_annotations, wasm_file};

#[tokio::test]
async fn a_refused_certificate_is_not_served_from_the_cache() {
    let ca = TestCa::new("robodev test CA");
    let registry = Registry::start_with_tls(&ca, false).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();
    let cache = dir.path().join("cache");
    let options = || ClientOptions::new(&cache).docker_config(DockerConfig::Disabled);
    let reference = registry.reference("robodev/cert:1.0.0");

    // Pushed and pulled while the CA is trusted: the tag is in the cache.
    let trusting = Client::new(options().ca_file(&ca_file));
    trusting
        .push(&wasm_file(), &reference, no_annotations())
        .await
        .unwrap();
    assert!(!trusting.pull(&reference).await.unwrap().offline);

    // The same cache without the CA: refused, naming the registry and the reason.
    let err = Client::new(options()).pull(&reference).await.unwrap_err();
    let Error::Certificate {
        registry: r,
        host,
        reason,
        ..
    } = &err
    else {
        panic!("expected Certificate, got {err:?}");
    };
    assert_eq!(
        (r.as_str(), host.as_str(), reason.as_str()),
        (
            registry.host().as_str(),
            registry.host().as_str(),
            "UnknownIssuer"
        )
    );
    assert!(err.to_string().contains("ClientOptions::ca_files"), "{err}");
}
