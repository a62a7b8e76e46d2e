//! The precompiled-component cache: compile once, deserialize after; corrupt or foreign
//! entries are detected, discarded and rebuilt.

use robodev_core::Interface;
use robodev_wasm::{Grants, LoadPath, PluginOptions, Runtime, RuntimeConfig};

use crate::{options, support};

fn opts() -> PluginOptions {
    options("chaos", Interface::Notifications, Grants::default())
}

#[tokio::test]
async fn second_load_uses_the_cache_and_bad_entries_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::new(RuntimeConfig {
        cache_dir: Some(dir.path().to_owned()),
        ..Default::default()
    })
    .unwrap();
    let path = support::guest("chaos");
    // Each plugin is dropped before the next load: a component a plugin still holds is shared
    // from memory, not read from the cache (see the next test).
    let first = rt.load(&path, opts()).await.unwrap();
    assert_eq!(first.load_path().0, LoadPath::Compiled);
    let digest = first.digest().to_owned();
    drop(first);
    let second = rt.load(&path, opts()).await.unwrap();
    assert_eq!(second.load_path().0, LoadPath::Cached);
    assert_eq!(second.digest(), digest);
    drop(second);

    let digest_hex = digest.trim_start_matches("sha256:").to_owned();
    let entry = rt.cache().unwrap().entry_path(&digest_hex, rt.engine());
    assert!(entry.exists());

    // Flip one byte in the artifact: the checksum catches it.
    let good = std::fs::read(&entry).unwrap();
    let mut bytes = good.clone();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&entry, &bytes).unwrap();
    let rebuilt = rt.load(&path, opts()).await.unwrap();
    assert_eq!(rebuilt.load_path().0, LoadPath::Rebuilt);
    let msg = rebuilt.backend();
    let out = msg
        .call_json("chaos", "notify", serde_json::json!({"message": "hi"}))
        .await
        .unwrap();
    assert_eq!(out, serde_json::json!({}));
    drop((msg, rebuilt));
    assert_eq!(
        rt.load(&path, opts()).await.unwrap().load_path().0,
        LoadPath::Cached
    );

    // Garbage in place of the entry (e.g. another tool's file), the entry cut short, the
    // artifact without its trailer (what wasmtime itself would write), and the format of an
    // older robodev (hash in front): each discarded and rebuilt, then cached again.
    let artifact = &good[..good.len() - 42];
    let mut v1 = b"RDVCWASM1\n".to_vec();
    v1.extend_from_slice(&good[good.len() - 32..]);
    v1.extend_from_slice(artifact);
    for (what, bad) in [
        ("garbage", b"not a cache entry".to_vec()),
        ("truncated", good[..good.len() / 3].to_vec()),
        ("no trailer", artifact.to_vec()),
        ("format 1", v1),
    ] {
        std::fs::write(&entry, &bad).unwrap();
        assert_eq!(
            rt.load(&path, opts()).await.unwrap().load_path().0,
            LoadPath::Rebuilt,
            "{what}"
        );
        assert_eq!(std::fs::read(&entry).unwrap(), good, "{what}: rewritten");
        assert_eq!(
            rt.load(&path, opts()).await.unwrap().load_path().0,
            LoadPath::Cached,
            "{what}"
        );
    }
}

/// The same component loaded under many names at once is compiled once (a config naming one
/// component under 100 names used to compile it 100 times); each load still gets a plugin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_components_loading_together_are_compiled_once() {
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let bytes = std::fs::read(support::guest("chaos")).unwrap();
    let loads = (0..20).map(|i| {
        let rt = rt.clone();
        let bytes = bytes.clone();
        tokio::spawn(async move { rt.load_bytes(&format!("chaos-{i}"), bytes).await })
    });
    let loads: Vec<_> = loads.collect();
    // Each plugin keeps what it loaded, as a registry's plugins do, until all have loaded:
    // loads wait for turns (four per core), so later ones may start after earlier ones
    // ended, and share their compile because it is still held.
    let mut loaded = Vec::new();
    for load in loads {
        loaded.push(load.await.unwrap().unwrap());
    }
    let paths: Vec<LoadPath> = loaded.iter().map(|l| l.load_path).collect();
    drop(loaded);
    assert_eq!(
        paths.iter().filter(|p| **p == LoadPath::Compiled).count(),
        1,
        "{paths:?}"
    );
    assert_eq!(
        paths.iter().filter(|p| **p == LoadPath::Shared).count(),
        19,
        "{paths:?}"
    );
    // Nothing holds the compile any more (each `Loaded` was dropped): a later load compiles
    // again (no cache configured).
    let later = rt.load_bytes("chaos-later", bytes).await.unwrap();
    assert_eq!(later.load_path, LoadPath::Compiled);
}

/// A component is compiled once however many plugins use it, one after the other too (a
/// config naming it under many names, a reload of an unchanged file): while a plugin holds the
/// compile, a load of the same digest shares it; once none does, it is forgotten.
#[tokio::test]
async fn plugins_of_one_digest_share_one_compile_while_any_lives() {
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let path = support::guest("chaos");
    let first = rt.load(&path, opts()).await.unwrap();
    assert_eq!(first.load_path().0, LoadPath::Compiled);
    let others: Vec<_> = load_many(&rt, &path, 50).await;
    assert!(
        others.iter().all(|p| p.load_path().0 == LoadPath::Shared),
        "{:?}",
        others.iter().map(|p| p.load_path()).collect::<Vec<_>>()
    );
    // Another component is compiled on its own.
    let webhook = rt
        .load(&support::guest("notify_webhook"), opts())
        .await
        .unwrap();
    assert_eq!(webhook.load_path().0, LoadPath::Compiled);
    // The shared compile serves calls in every plugin.
    let out = others[49]
        .backend()
        .call_json("chaos", "notify", serde_json::json!({"message": "hi"}))
        .await
        .unwrap();
    assert_eq!(out, serde_json::json!({}));
    // The first plugin gone, the others still hold it.
    drop(first);
    assert_eq!(
        rt.load(&path, opts()).await.unwrap().load_path().0,
        LoadPath::Shared
    );
    drop(others);
    assert_eq!(
        rt.load(&path, opts()).await.unwrap().load_path().0,
        LoadPath::Compiled
    );
}

/// `n` plugins of the component at `path`, loaded one after the other.
async fn load_many(
    rt: &Runtime,
    path: &std::path::Path,
    n: usize,
) -> Vec<robodev_wasm::WasmPlugin> {
    let mut out = Vec::new();
    for i in 0..n {
        let mut o = opts();
        o.name = format!("chaos-{i}");
        out.push(rt.load(path, o).await.unwrap());
    }
    out
}

#[tokio::test]
async fn the_cache_keeps_under_its_cap_dropping_the_least_recently_used() {
    let dir = tempfile::tempdir().unwrap();
    // Measure one entry, then cap the cache at a little more than the largest of two.
    let probe = Runtime::new(RuntimeConfig {
        cache_dir: Some(dir.path().join("probe")),
        ..Default::default()
    })
    .unwrap();
    let chaos = support::guest("chaos");
    let webhook = support::guest("notify_webhook");
    let mut sizes = Vec::new();
    for path in [&chaos, &webhook] {
        let loaded = probe.load(path, opts()).await.unwrap();
        let hex = loaded.digest().trim_start_matches("sha256:").to_owned();
        sizes.push(
            std::fs::metadata(probe.cache().unwrap().entry_path(&hex, probe.engine()))
                .unwrap()
                .len(),
        );
    }
    let cap = sizes.iter().max().unwrap() + 1024;
    assert!(cap < sizes.iter().sum::<u64>());
    let rt = Runtime::new(RuntimeConfig {
        cache_dir: Some(dir.path().join("capped")),
        cache_max_bytes: Some(cap),
        ..Default::default()
    })
    .unwrap();
    let (chaos_entry, how) = entry(&rt, &chaos).await;
    assert_eq!(how, LoadPath::Compiled);
    assert!(chaos_entry.exists());
    // The second component's entry does not fit beside the first: the older goes.
    let (webhook_entry, _) = entry(&rt, &webhook).await;
    assert!(webhook_entry.exists());
    assert!(
        !chaos_entry.exists(),
        "the least recently used entry was kept"
    );
    // Used again, it is compiled again and now the other one goes.
    assert_eq!(entry(&rt, &chaos).await.1, LoadPath::Compiled);
    assert!(chaos_entry.exists() && !webhook_entry.exists());
    // A hit marks it used: the cached one survives.
    assert_eq!(entry(&rt, &chaos).await.1, LoadPath::Cached);
}

/// Loads `path` in `rt`: its cache entry's file, and how it was loaded.
async fn entry(rt: &Runtime, path: &std::path::Path) -> (std::path::PathBuf, LoadPath) {
    let loaded = rt.load(path, opts()).await.unwrap();
    let hex = loaded.digest().trim_start_matches("sha256:").to_owned();
    (
        rt.cache().unwrap().entry_path(&hex, rt.engine()),
        loaded.load_path().0,
    )
}

/// Loads take turns: a bounded number run at once (so 1,000 plugins loading together do not
/// read 1,000 components into memory first); a load waits while every turn is held and goes
/// on when one is given back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loads_wait_for_a_turn_while_every_turn_is_held() {
    use std::time::Duration;
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut held = Vec::new();
    while let Ok(turn) = tokio::time::timeout(Duration::from_millis(50), rt.load_turn()).await {
        held.push(turn);
        assert!(held.len() <= 64 * cores, "turns are not bounded");
    }
    assert!(!held.is_empty());
    let bytes = std::fs::read(support::guest("chaos")).unwrap();
    let mut load = std::pin::pin!(rt.load_bytes("waiting", bytes));
    assert!(
        tokio::time::timeout(Duration::from_millis(300), load.as_mut())
            .await
            .is_err(),
        "a load ran with every turn held"
    );
    held.pop();
    let loaded = load.await.unwrap();
    assert_eq!(loaded.load_path, LoadPath::Compiled);
}
