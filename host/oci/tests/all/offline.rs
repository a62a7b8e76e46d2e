//! Starting offline from the cache, and the cache's integrity checks.

use robodev_oci::Error;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::support::{Registry, capture_warnings, client, no_annotations, wasm_file};

#[tokio::test]
async fn an_unreachable_registry_is_served_from_the_cache_with_a_warning() {
    let (logs, _guard) = capture_warnings();

    let mut registry = Registry::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = client(dir.path());
    let original = std::fs::read(wasm_file()).unwrap();
    let v1 = registry.reference("robodev/offline:1.0.0");
    let v2 = registry.reference("robodev/offline:2.0.0");
    let pushed = client
        .push(&wasm_file(), &v1, no_annotations())
        .await
        .unwrap();
    client
        .push(&wasm_file(), &v2, no_annotations())
        .await
        .unwrap();
    let online = client.pull(&v1).await.unwrap();
    assert!(!online.offline && !online.from_cache);

    registry.stop();

    // The tag resolves to its last known digest, from the cache, and the user is told.
    let offline = client.pull(&v1).await.unwrap();
    assert!(offline.offline && offline.from_cache);
    assert_eq!(offline.digest, pushed.digest);
    assert_eq!(offline.path, online.path);
    assert_eq!(std::fs::read(&offline.path).unwrap(), original);
    let text = logs.text();
    assert!(text.contains("WARN"), "{text}");
    assert!(
        text.contains(&format!("registry {} unreachable", registry.host())),
        "{text}"
    );
    assert!(text.contains(&pushed.digest), "{text}");

    // A pinned reference is served too, by its digest.
    let pinned = client.pull(&v1.with_digest(&pushed.digest)).await.unwrap();
    assert!(pinned.offline);
    assert_eq!(pinned.digest, pushed.digest);

    // A tag never pulled (though pushed) cannot be resolved offline.
    match client.pull(&v2).await.unwrap_err() {
        Error::Offline {
            registry: r,
            reason,
            cache,
            ..
        } => {
            assert_eq!(r, registry.host());
            assert!(reason.contains("connect"), "{reason}");
            assert!(cache.contains("tag 2.0.0 was never pulled"), "{cache}");
        }
        other => panic!("expected Offline, got {other:?}"),
    }
    // Another cache has nothing at all.
    let empty = crate::support::client(&dir.path().join("empty"));
    assert!(matches!(
        empty.pull(&v1).await.unwrap_err(),
        Error::Offline { .. }
    ));
    // A push always needs the registry.
    match client
        .push(&wasm_file(), &v1, no_annotations())
        .await
        .unwrap_err()
    {
        Error::Offline { cache, .. } => {
            assert!(cache.contains("push needs the registry"), "{cache}")
        }
        other => panic!("expected Offline, got {other:?}"),
    }
}

#[tokio::test]
async fn a_damaged_cached_layer_is_fetched_again_or_refused_offline() {
    let mut registry = Registry::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = client(dir.path());
    let original = std::fs::read(wasm_file()).unwrap();
    let reference = registry.reference("robodev/damaged:1");
    client
        .push(&wasm_file(), &reference, no_annotations())
        .await
        .unwrap();
    let first = client.pull(&reference).await.unwrap();

    // Damage the cached layer (same length, one byte flipped).
    let mut bytes = original.clone();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&first.path, &bytes).unwrap();
    let repaired = client.pull(&reference).await.unwrap();
    assert!(!repaired.from_cache, "the damaged copy must not be used");
    assert_eq!(repaired.path, first.path);
    assert_eq!(std::fs::read(&repaired.path).unwrap(), original);

    // Damaged again, and now the registry is gone: refused, and the bad copy removed.
    std::fs::write(&first.path, b"\0asm garbage").unwrap();
    registry.stop();
    match client.pull(&reference).await.unwrap_err() {
        Error::Offline { cache, .. } => {
            assert!(cache.contains("damaged"), "{cache}");
            assert!(cache.contains(&first.layer_digest), "{cache}");
        }
        other => panic!("expected Offline, got {other:?}"),
    }
    assert!(!first.path.exists(), "the damaged blob was removed");
}

#[tokio::test]
async fn a_gateway_answering_503_counts_as_unreachable() {
    // It reaches the offline warning that the test above reads (see capture_warnings).
    let _warnings = capture_warnings();
    let mut registry = Registry::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = client(dir.path());
    let reference = registry.reference("robodev/maintenance:1");
    let pushed = client
        .push(&wasm_file(), &reference, no_annotations())
        .await
        .unwrap();
    client.pull(&reference).await.unwrap();
    registry.stop();

    // What a load balancer in front of a registry under maintenance answers, on the
    // registry's address.
    let listener = tokio::net::TcpListener::bind(registry.host())
        .await
        .unwrap();
    let gateway = tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let body = "down for maintenance";
                let response = format!(
                    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    let pulled = client.pull(&reference).await.unwrap();
    assert!(pulled.offline && pulled.from_cache);
    assert_eq!(pulled.digest, pushed.digest);
    match client
        .pull(&registry.reference("robodev/maintenance:2"))
        .await
        .unwrap_err()
    {
        Error::Offline { reason, .. } => {
            assert_eq!(reason, "HTTP 503: down for maintenance");
        }
        other => panic!("expected Offline, got {other:?}"),
    }
    gateway.abort();
}
