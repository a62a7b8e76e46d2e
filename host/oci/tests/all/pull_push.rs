//! Push and pull round trips, digests, media types and refusals.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use robodev_oci::{
    ANNOTATION_CREATED, ANNOTATION_TITLE, Client, ClientOptions, Direction, DockerConfig, Error,
    MANIFEST_MEDIA_TYPE, Progress, Reference, Transport, WASM_CONFIG_MEDIA_TYPE,
    WASM_LAYER_MEDIA_TYPE,
};

use crate::support::{
    Registry, client, get_manifest, http, no_annotations, push_raw, push_wasm, sha256, wasm_file,
};

#[tokio::test]
async fn push_then_pull_by_tag_and_by_digest_byte_for_byte() {
    let registry = Registry::start().await;
    let wasm = wasm_file();
    let original = std::fs::read(&wasm).unwrap();
    let dir = tempfile::tempdir().unwrap();

    let uploads = Arc::new(Mutex::new(Vec::<Progress>::new()));
    let sink = uploads.clone();
    let pusher = Client::new(
        ClientOptions::new(dir.path().join("pusher"))
            .docker_config(DockerConfig::Disabled)
            .progress(Arc::new(move |p: &Progress| {
                sink.lock().unwrap().push(p.clone())
            })),
    );
    let reference = registry.reference("robodev/review-rules:1.0.0");
    let annotations = BTreeMap::from([(
        "org.opencontainers.image.source".to_owned(),
        "https://example.invalid/robodev".to_owned(),
    )]);
    let pushed = pusher.push(&wasm, &reference, annotations).await.unwrap();
    assert_eq!(pushed.layer_digest, sha256(&original));
    assert_eq!(pushed.size, original.len() as u64);
    assert_eq!(pushed.reference, reference.with_digest(&pushed.digest));
    let uploads = uploads.lock().unwrap().clone();
    let last = uploads.last().expect("upload progress was reported");
    assert_eq!(last.direction, Direction::Upload);
    assert_eq!((last.done, last.total), (pushed.size, pushed.size));
    assert_eq!(last.digest, pushed.layer_digest);
    assert_eq!(uploads.first().unwrap().done, 0);

    // What other OCI tools read: the layout and the annotations.
    let manifest = get_manifest(&registry.host(), "robodev/review-rules", "1.0.0").await;
    assert_eq!(manifest["mediaType"], MANIFEST_MEDIA_TYPE);
    assert_eq!(manifest["config"]["mediaType"], WASM_CONFIG_MEDIA_TYPE);
    assert_eq!(manifest["config"]["digest"], pushed.config_digest.as_str());
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["mediaType"], WASM_LAYER_MEDIA_TYPE);
    assert_eq!(layers[0]["digest"], pushed.layer_digest.as_str());
    assert_eq!(
        layers[0]["annotations"][ANNOTATION_TITLE],
        "review_rules.wasm"
    );
    let annotations = &manifest["annotations"];
    assert_eq!(annotations[ANNOTATION_TITLE], "review_rules.wasm");
    assert_eq!(
        annotations["org.opencontainers.image.source"],
        "https://example.invalid/robodev"
    );
    let created = annotations[ANNOTATION_CREATED].as_str().unwrap();
    let created = humantime::parse_rfc3339(created).unwrap();
    let age = std::time::SystemTime::now()
        .duration_since(created)
        .unwrap();
    assert!(age.as_secs() < 600, "created {age:?} ago");
    // The config blob is the CNCF Wasm config.
    let config = http(
        &registry.host(),
        "GET",
        &format!("/v2/robodev/review-rules/blobs/{}", pushed.config_digest),
        &[],
        b"",
    )
    .await
    .unwrap();
    let config: serde_json::Value = serde_json::from_slice(&config.body).unwrap();
    assert_eq!(config["architecture"], "wasm");
    assert_eq!(config["os"], "wasip2");
    assert_eq!(config["layerDigests"][0], pushed.layer_digest.as_str());
    // The spec's `component` description: what it exports and imports.
    assert_eq!(
        config["component"]["exports"],
        serde_json::json!(["robodev:review/backend@1.0.0"])
    );
    let imports = config["component"]["imports"].as_array().unwrap();
    assert!(
        imports.iter().any(|i| i == "robodev:host/log@1.1.0"),
        "{imports:?}"
    );

    // Pull by tag into a fresh cache: downloaded, byte for byte, with the push's digest.
    let downloads = Arc::new(Mutex::new(Vec::<Progress>::new()));
    let sink = downloads.clone();
    let puller = Client::new(
        ClientOptions::new(dir.path().join("puller"))
            .docker_config(DockerConfig::Disabled)
            .progress(Arc::new(move |p: &Progress| {
                sink.lock().unwrap().push(p.clone())
            })),
    );
    let pulled = puller.pull(&reference).await.unwrap();
    assert_eq!(pulled.digest, pushed.digest);
    assert_eq!(pulled.layer_digest, pushed.layer_digest);
    assert_eq!(pulled.size, original.len() as u64);
    assert_eq!(pulled.media_type, WASM_LAYER_MEDIA_TYPE);
    assert!(!pulled.from_cache && !pulled.offline);
    assert_eq!(
        pulled.reference.to_string(),
        format!("{reference}@{}", pushed.digest)
    );
    assert!(pulled.path.starts_with(dir.path().join("puller")));
    assert_eq!(std::fs::read(&pulled.path).unwrap(), original);
    let downloads = downloads.lock().unwrap().clone();
    let last = downloads.last().expect("download progress was reported");
    assert_eq!(last.direction, Direction::Download);
    assert_eq!((last.done, last.total), (pulled.size, pulled.size));

    // The same client again: the manifest is asked for, the layer comes from the cache.
    let again = puller.pull(&reference).await.unwrap();
    assert!(again.from_cache && !again.offline);
    assert_eq!(again.digest, pushed.digest);
    assert_eq!(again.path, pulled.path);

    // By digest alone, into another fresh cache.
    let by_digest = Reference::parse(&format!(
        "oci://{}/robodev/review-rules@{}",
        registry.host(),
        pushed.digest
    ))
    .unwrap();
    let other = client(&dir.path().join("by-digest"));
    let pulled = other.pull(&by_digest).await.unwrap();
    assert_eq!(pulled.digest, pushed.digest);
    assert!(!pulled.from_cache);
    assert_eq!(std::fs::read(&pulled.path).unwrap(), original);

    // Tag and the right pinned digest.
    let pinned = other.pull(&pushed.reference).await.unwrap();
    assert_eq!(pinned.digest, pushed.digest);
    assert_eq!(std::fs::read(&pinned.path).unwrap(), original);

    // Pushing the same file again uploads no layer, and the new manifest is pulled.
    let second = pusher
        .push(
            &wasm,
            &registry.reference("robodev/review-rules:1.0.1"),
            no_annotations(),
        )
        .await
        .unwrap();
    assert_eq!(second.layer_digest, pushed.layer_digest);
    let pulled = other
        .pull(&registry.reference("robodev/review-rules:1.0.1"))
        .await
        .unwrap();
    assert_eq!(pulled.digest, second.digest);
    assert!(pulled.from_cache, "the layer was already cached");
}

#[tokio::test]
async fn a_wrong_pinned_digest_is_refused_naming_both_digests() {
    let registry = Registry::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = client(dir.path());
    let reference = registry.reference("robodev/pinned:1.0.0");
    let pushed = client
        .push(&wasm_file(), &reference, no_annotations())
        .await
        .unwrap();
    let wrong = format!("sha256:{}", "0".repeat(64));
    let err = client
        .pull(&reference.with_digest(&wrong))
        .await
        .unwrap_err();
    match &err {
        Error::DigestMismatch {
            reference: named,
            expected,
            found,
            ..
        } => {
            assert_eq!(expected, &wrong);
            assert_eq!(found, &pushed.digest);
            assert!(
                named.contains("robodev/pinned:1.0.0@sha256:0000"),
                "{named}"
            );
        }
        other => panic!("expected DigestMismatch, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(&wrong) && message.contains(&pushed.digest),
        "{message}"
    );
    // Nothing was cached for the refused pull.
    assert!(!dir.path().join("tags").exists());

    // A digest the registry does not have, without a tag.
    let missing =
        Reference::parse(&format!("oci://{}/robodev/pinned@{wrong}", registry.host())).unwrap();
    match client.pull(&missing).await.unwrap_err() {
        Error::NotFound {
            what, registry: r, ..
        } => {
            assert!(what.contains(&wrong), "{what}");
            assert_eq!(r, registry.host());
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn missing_tags_and_repositories_are_not_found() {
    let registry = Registry::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = client(dir.path());
    push_wasm(&client, &registry, "robodev/exists:1").await;
    match client
        .pull(&registry.reference("robodev/exists:2"))
        .await
        .unwrap_err()
    {
        Error::NotFound { what, .. } => {
            assert_eq!(what, "tag 2 of repository robodev/exists");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    match client
        .pull(&registry.reference("robodev/nothing-here:1"))
        .await
        .unwrap_err()
    {
        Error::NotFound { what, .. } => {
            assert!(what.contains("robodev/nothing-here"), "{what}");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn a_non_wasm_artifact_is_refused_listing_its_media_types() {
    let registry = Registry::start().await;
    let host = registry.host();
    // An image-like manifest: an image config and a gzip tar layer.
    push_raw(
        &host,
        "robodev/image",
        "1.0.0",
        (
            "application/vnd.oci.image.config.v1+json",
            br#"{"architecture":"amd64","os":"linux"}"#,
        ),
        &[(
            "application/vnd.oci.image.layer.v1.tar+gzip",
            b"\x1f\x8b not really a tarball",
        )],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let client = client(dir.path());
    match client
        .pull(&registry.reference("robodev/image:1.0.0"))
        .await
        .unwrap_err()
    {
        Error::NotAWasmArtifact { reference, found } => {
            assert_eq!(reference, format!("oci://{host}/robodev/image:1.0.0"));
            assert!(
                found.contains("application/vnd.oci.image.config.v1+json"),
                "{found}"
            );
            assert!(
                found.contains("application/vnd.oci.image.layer.v1.tar+gzip"),
                "{found}"
            );
            assert!(found.contains("no Wasm layer"), "{found}");
        }
        other => panic!("expected NotAWasmArtifact, got {other:?}"),
    }

    // Two Wasm layers: ambiguous, refused.
    let wasm = std::fs::read(wasm_file()).unwrap();
    push_raw(
        &host,
        "robodev/two",
        "1",
        (WASM_CONFIG_MEDIA_TYPE, b"{}"),
        &[
            (WASM_LAYER_MEDIA_TYPE, &wasm),
            (WASM_LAYER_MEDIA_TYPE, b"\0asm\x01\0\0\0"),
        ],
    )
    .await;
    match client
        .pull(&registry.reference("robodev/two:1"))
        .await
        .unwrap_err()
    {
        Error::NotAWasmArtifact { found, .. } => {
            assert!(found.contains("several Wasm layers"), "{found}")
        }
        other => panic!("expected NotAWasmArtifact, got {other:?}"),
    }
}

#[tokio::test]
async fn older_wasm_layer_media_types_are_accepted() {
    let registry = Registry::start().await;
    let host = registry.host();
    let wasm = std::fs::read(wasm_file()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (tag, config_type, layer_type) in [
        // wasm-to-oci, Spin
        (
            "content-v1",
            "application/vnd.wasm.config.v1+json",
            "application/vnd.wasm.content.layer.v1+wasm",
        ),
        // wasm-image-spec (WebAssembly Hub)
        (
            "module-v1",
            "application/vnd.module.wasm.config.v1+json",
            "application/vnd.module.wasm.content.layer.v1+wasm",
        ),
    ] {
        let digest = push_raw(
            &host,
            "robodev/legacy",
            tag,
            (config_type, b"{}"),
            &[(layer_type, &wasm)],
        )
        .await;
        let client = client(&dir.path().join(tag));
        let pulled = client
            .pull(&registry.reference(&format!("robodev/legacy:{tag}")))
            .await
            .unwrap();
        assert_eq!(pulled.digest, digest);
        assert_eq!(pulled.media_type, layer_type);
        assert_eq!(std::fs::read(&pulled.path).unwrap(), wasm);
    }
}

#[tokio::test]
async fn plain_http_to_a_non_loopback_host_is_refused_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let client = client(dir.path());
    let reference =
        Reference::parse("oci+http://registry.example.invalid:5000/acme/notify:1.0.0").unwrap();
    assert_eq!(reference.transport(), Transport::Http);
    let started = Instant::now();
    match client.pull(&reference).await.unwrap_err() {
        Error::Insecure { reference: r, host } => {
            assert_eq!(host, "registry.example.invalid:5000");
            assert_eq!(
                r,
                "oci+http://registry.example.invalid:5000/acme/notify:1.0.0"
            );
        }
        // Offline would mean it tried to connect (resolve the name, open a socket).
        other => panic!("expected Insecure, got {other:?}"),
    }
    match client
        .push(&wasm_file(), &reference, no_annotations())
        .await
        .unwrap_err()
    {
        Error::Insecure { host, .. } => assert_eq!(host, "registry.example.invalid:5000"),
        other => panic!("expected Insecure, got {other:?}"),
    }
    assert!(
        started.elapsed().as_millis() < 1000,
        "{:?}",
        started.elapsed()
    );
    assert!(
        !dir.path().exists() || std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing was written to the cache"
    );
}

#[tokio::test]
async fn loopback_transports_are_honoured() {
    let registry = Registry::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = client(dir.path());
    let pushed = push_wasm(&client, &registry, "robodev/t:1").await;
    // oci+http:// to loopback is allowed without any flag.
    let http_ref =
        Reference::parse(&format!("oci+http://{}/robodev/t:1", registry.host())).unwrap();
    assert_eq!(client.pull(&http_ref).await.unwrap().digest, pushed.digest);
    // oci+https:// insists on TLS, which this registry does not speak: a TLS failure, not a
    // silent fall back to HTTP.
    let https_ref =
        Reference::parse(&format!("oci+https://{}/robodev/t:2", registry.host())).unwrap();
    match client.pull(&https_ref).await.unwrap_err() {
        Error::Offline { reason, .. } => assert!(reason.contains("TLS"), "{reason}"),
        other => panic!("expected Offline, got {other:?}"),
    }
}

#[tokio::test]
async fn push_refuses_what_it_cannot_push() {
    let registry = Registry::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = client(&dir.path().join("cache"));
    let not_wasm = dir.path().join("notes.txt");
    std::fs::write(&not_wasm, "hello").unwrap();
    match client
        .push(
            &not_wasm,
            &registry.reference("robodev/x:1"),
            no_annotations(),
        )
        .await
        .unwrap_err()
    {
        Error::NotAWasmArtifact { found, .. } => {
            assert!(found.contains("notes.txt"), "{found}");
            assert!(found.contains("WebAssembly header"), "{found}");
        }
        other => panic!("expected NotAWasmArtifact, got {other:?}"),
    }
    let missing = dir.path().join("missing.wasm");
    match client
        .push(
            &missing,
            &registry.reference("robodev/x:1"),
            no_annotations(),
        )
        .await
        .unwrap_err()
    {
        Error::Io { path, source, .. } => {
            assert_eq!(path, missing);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected Io, got {other:?}"),
    }
    let pinned = registry
        .reference("robodev/x:1")
        .with_digest(&format!("sha256:{}", "a".repeat(64)));
    match client
        .push(&wasm_file(), &pinned, no_annotations())
        .await
        .unwrap_err()
    {
        Error::InvalidReference { reason, .. } => {
            assert!(reason.contains("cannot pin a digest"), "{reason}")
        }
        other => panic!("expected InvalidReference, got {other:?}"),
    }
    // None of these reached the registry.
    let catalog = http(&registry.host(), "GET", "/v2/_catalog", &[], b"")
        .await
        .unwrap();
    let catalog: serde_json::Value = serde_json::from_slice(&catalog.body).unwrap();
    assert_eq!(catalog["repositories"], serde_json::json!([]));
}
