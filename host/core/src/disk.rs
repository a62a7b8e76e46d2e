//! Size caps of robodev's on-disk caches (the compile cache, the OCI blob cache): least
//! recently used entries go first. "Used" is a file's modification time, which the caches set
//! on every hit ([`touch`]); an entry in use by a running plugin is already in memory, so
//! removing its file takes nothing from it.

use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What [`prune_lru`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Files removed.
    pub removed: usize,
    /// Bytes they held.
    pub freed_bytes: u64,
    /// Files left.
    pub kept: usize,
    /// Bytes left.
    pub kept_bytes: u64,
}

/// Marks `path` as used now (its modification time), so that [`prune_lru`] keeps it longest.
/// Best effort: a cache entry that cannot be touched is only evicted sooner.
pub fn touch(path: &Path) {
    // Read-only is enough: setting explicit times needs the file's owner, not write access
    // (cache entries may be read-only).
    if let Ok(file) = std::fs::File::open(path) {
        let _ = file.set_modified(SystemTime::now());
    }
}

/// The regular files under `dir` (recursively) that `skip` does not exclude, with their size
/// and modification time.
fn entries(
    dir: &Path,
    skip: &dyn Fn(&Path) -> bool,
) -> io::Result<Vec<(PathBuf, u64, SystemTime)>> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        let read = match std::fs::read_dir(&dir) {
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in read.flatten() {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                dirs.push(path);
            } else if meta.is_file() && !skip(&path) {
                let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                out.push((path, meta.len(), used));
            }
        }
    }
    Ok(out)
}

/// How many files and bytes `dir` holds (recursively); nothing when it does not exist.
pub fn usage(dir: &Path) -> io::Result<(usize, u64)> {
    let all = entries(dir, &|_| false)?;
    Ok((all.len(), all.iter().map(|(_, size, _)| size).sum()))
}

/// Removes the least recently used files under `dir` until they total at most `max_bytes`.
/// Files for which `keep` is true (a write in progress, an entry just stored) count, but are
/// never removed. A file that cannot be removed is skipped.
pub fn prune_lru(dir: &Path, max_bytes: u64, keep: &dyn Fn(&Path) -> bool) -> io::Result<Pruned> {
    let mut all = entries(dir, &|_| false)?;
    let mut total: u64 = all.iter().map(|(_, size, _)| size).sum();
    // Oldest first; by name among equals, so the order does not depend on the directory's.
    all.sort_by(|a, b| a.2.cmp(&b.2).then_with(|| a.0.cmp(&b.0)));
    let mut pruned = Pruned::default();
    for (path, size, _) in all {
        if total > max_bytes && !keep(&path) && std::fs::remove_file(&path).is_ok() {
            total -= size;
            pruned.removed += 1;
            pruned.freed_bytes += size;
        } else {
            pruned.kept += 1;
        }
    }
    pruned.kept_bytes = total;
    Ok(pruned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_least_recently_used_go_first_until_the_rest_fits() {
        let dir = std::env::temp_dir().join(format!("robodev-disk-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let base = SystemTime::now() - Duration::from_secs(1000);
        for (i, name) in ["a", "b", "sub/c", "d.tmp"].iter().enumerate() {
            let path = dir.join(name);
            std::fs::write(&path, vec![0u8; 100]).unwrap();
            let file = std::fs::File::options().append(true).open(&path).unwrap();
            file.set_modified(base + Duration::from_secs(i as u64 * 10))
                .unwrap();
        }
        // `a` was used last.
        touch(&dir.join("a"));
        let skip_tmp = |p: &Path| p.extension().is_some_and(|e| e == "tmp");
        assert_eq!(usage(&dir).unwrap(), (4, 400));
        let pruned = prune_lru(&dir, 250, &skip_tmp).unwrap();
        assert_eq!(
            pruned,
            Pruned {
                removed: 2,
                freed_bytes: 200,
                kept: 2,
                kept_bytes: 200
            }
        );
        assert!(dir.join("a").exists() && dir.join("d.tmp").exists());
        assert!(!dir.join("b").exists() && !dir.join("sub/c").exists());
        // Nothing to do under the cap; a missing directory is empty.
        assert_eq!(prune_lru(&dir, 1000, &skip_tmp).unwrap().removed, 0);
        assert_eq!(usage(&dir.join("missing")).unwrap(), (0, 0));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
