//! `robodev cache usage|prune`: the two caches' sizes and caps, pruned least recently used
//! first, to the config's caps or the sizes given.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::{code, json_out, robodev_command, stderr};

/// A file of `mib` MiB at `path`, last used `age` ago.
fn entry(path: &Path, mib: usize, age: u64) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, vec![7u8; mib << 20]).unwrap();
    let file = std::fs::File::open(path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(age))
        .unwrap();
}

fn cache(d: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["cache"];
    all.extend(args);
    let config = d.join("robodev-config.yaml");
    all.extend(["--json", "--config", config.to_str().unwrap()]);
    let out = robodev_command(d, &all)
        .env("ROBODEV_CACHE_DIR", d.join("components"))
        .env("ROBODEV_OCI_CACHE_DIR", d.join("oci"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    json_out(&out)
}

fn row<'v>(v: &'v serde_json::Value, name: &str) -> &'v serde_json::Value {
    v["caches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["cache"] == name)
        .unwrap()
}

#[test]
fn caches_are_pruned_least_recently_used_first_to_their_caps() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (name, age) in [("old", 300), ("mid", 200), ("new", 100)] {
        entry(&d.join(format!("components/{name}.cwasm")), 1, age);
    }
    entry(&d.join("oci/blobs/sha256/aaaa"), 1, 50);
    entry(&d.join("oci/blobs/sha256/bbbb"), 1, 10);
    // Caps from the config.
    std::fs::write(
        d.join("robodev-config.yaml"),
        "cache_mb: 2\noci: { cache_mb: 1 }\nticketing: { backend: local, config: { file: t.yaml } }\n\
         engines: { default: local, local: { command: [./agent.sh] } }\n",
    )
    .unwrap();

    let usage = cache(d, &["usage"]);
    assert_eq!(row(&usage, "compile")["entries"], 3);
    assert_eq!(row(&usage, "compile")["bytes"], 3 << 20);
    assert_eq!(row(&usage, "compile")["capBytes"], 2 << 20);
    assert_eq!(row(&usage, "oci")["entries"], 2);
    assert_eq!(row(&usage, "oci")["capBytes"], 1 << 20);

    // To the caps: the oldest compiled component and the older blob go.
    let pruned = cache(d, &["prune"]);
    assert_eq!(row(&pruned, "compile")["removed"], 1);
    assert_eq!(row(&pruned, "oci")["removed"], 1);
    assert!(!d.join("components/old.cwasm").exists());
    assert!(d.join("components/mid.cwasm").exists() && d.join("components/new.cwasm").exists());
    assert!(!d.join("oci/blobs/sha256/aaaa").exists() && d.join("oci/blobs/sha256/bbbb").exists());

    // To a size given: only the most recent fits in 1 MiB.
    let pruned = cache(d, &["prune", "--compile-mb", "1"]);
    assert_eq!(row(&pruned, "compile")["removed"], 1);
    assert!(d.join("components/new.cwasm").exists());

    // Everything.
    let pruned = cache(d, &["prune", "--all"]);
    assert_eq!(row(&pruned, "compile")["entries"], 0);
    assert_eq!(row(&pruned, "oci")["entries"], 0);
}
