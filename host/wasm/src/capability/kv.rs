//! `robodev:host/kv`, granted by `kv: true`: the per-plugin key-value store, an in-memory map, written through
//! to one file per plugin on every change (write to a temporary file, fsync, rename), so that a
//! value is durable once `set` returns and a crash mid-write never corrupts the store.
//!
//! File format: `ROBODEVKV1\n`, then for each entry a little-endian `u32` key length, the key
//! bytes (UTF-8), a `u32` value length and the value bytes.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::Mutex;
use wasmtime::component::{HasSelf, Linker};

use crate::bindings::host_api;
use crate::state::StoreState;

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;
/// Largest store (sum of keys and values), in bytes.
pub const MAX_STORE_BYTES: usize = 64 * 1024 * 1024;

const MAGIC: &[u8] = b"ROBODEVKV1\n";

/// The WIT interface this capability implements.
pub(crate) const WIT: &str = "robodev:host/kv";

/// Registers the capability's host functions.
pub(crate) fn add_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    host_api::kv::add_to_linker::<_, HasSelf<StoreState>>(linker, |s| s)
}

/// Why a key-value operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    /// A key, value or the whole store is over its limit.
    #[error("{0}")]
    TooLarge(String),
    /// Reading or writing the store failed.
    #[error("{0}")]
    Io(String),
}

/// One plugin's store.
#[derive(Debug)]
pub struct KvStore {
    path: PathBuf,
    map: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl KvStore {
    /// Opens (or creates) the store file `dir/<name>.kv`.
    pub fn open(dir: &Path, name: &str) -> Result<Arc<KvStore>, KvError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| KvError::Io(format!("cannot create {}: {e}", dir.display())))?;
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!("{safe}.kv"));
        let map = match std::fs::read(&path) {
            Ok(bytes) => decode(&bytes)
                .map_err(|e| KvError::Io(format!("{} is corrupt: {e}", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(KvError::Io(format!("cannot read {}: {e}", path.display()))),
        };
        Ok(Arc::new(KvStore {
            path,
            map: Mutex::new(map),
        }))
    }

    /// The file backing the store.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The value under `key`.
    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.map.lock().await.get(key).cloned()
    }

    /// Keys starting with `prefix`, sorted.
    pub async fn list_keys(&self, prefix: &str) -> Vec<String> {
        self.map
            .lock()
            .await
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Stores `value` under `key`; durable on return.
    pub async fn set(&self, key: &str, value: Vec<u8>) -> Result<(), KvError> {
        if key.len() > MAX_KEY_BYTES {
            return Err(KvError::TooLarge(format!(
                "key is {} bytes, the limit is {MAX_KEY_BYTES}",
                key.len()
            )));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(KvError::TooLarge(format!(
                "value is {} bytes, the limit is {MAX_VALUE_BYTES}",
                value.len()
            )));
        }
        let mut map = self.map.lock().await;
        let mut next = map.clone();
        next.insert(key.to_owned(), value);
        let size: usize = next.iter().map(|(k, v)| k.len() + v.len()).sum();
        if size > MAX_STORE_BYTES {
            return Err(KvError::TooLarge(format!(
                "the store would hold {size} bytes, the limit is {MAX_STORE_BYTES}"
            )));
        }
        self.persist(&next).await?;
        *map = next;
        Ok(())
    }

    /// Removes `key`; durable on return.
    pub async fn delete(&self, key: &str) -> Result<(), KvError> {
        let mut map = self.map.lock().await;
        if !map.contains_key(key) {
            return Ok(());
        }
        let mut next = map.clone();
        next.remove(key);
        self.persist(&next).await?;
        *map = next;
        Ok(())
    }

    async fn persist(&self, map: &BTreeMap<String, Vec<u8>>) -> Result<(), KvError> {
        let bytes = encode(map);
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || write_atomic(&path, &bytes))
            .await
            .map_err(|e| KvError::Io(format!("writer task failed: {e}")))?
            .map_err(|e| KvError::Io(format!("cannot write {}: {e}", self.path.display())))
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("kv.tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    // Make the rename itself durable.
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn encode(map: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    for (k, v) in map {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        out.extend_from_slice(v);
    }
    out
}

fn decode(bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut rest = bytes
        .strip_prefix(MAGIC)
        .ok_or_else(|| "missing ROBODEVKV1 header".to_owned())?;
    let mut map = BTreeMap::new();
    fn take<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if rest.len() < n {
            return Err("truncated entry".to_owned());
        }
        let (head, tail) = rest.split_at(n);
        *rest = tail;
        Ok(head)
    }
    fn take_len(rest: &mut &[u8]) -> Result<usize, String> {
        let b = take(rest, 4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
    while !rest.is_empty() {
        let klen = take_len(&mut rest)?;
        let key = std::str::from_utf8(take(&mut rest, klen)?)
            .map_err(|_| "key is not UTF-8".to_owned())?
            .to_owned();
        let vlen = take_len(&mut rest)?;
        let value = take(&mut rest, vlen)?.to_vec();
        map.insert(key, value);
    }
    Ok(map)
}

impl StoreState {
    fn kv(&self) -> Result<&Arc<KvStore>, host_api::kv::KvError> {
        self.plugin.kv.as_ref().ok_or_else(|| {
            // The WIT error carries no text: the log says what grants it. Debug, not warn: a
            // plugin may use the store only when granted (review-rules keeps gate results in
            // it if it can), and that is no operator's problem.
            tracing::debug!(
                plugin = %self.plugin.name,
                "denied the key-value store: the plugin's config does not grant it (set `kv: true` in its plugins: entry)"
            );
            host_api::kv::KvError::Denied
        })
    }
}

fn kv_error(e: KvError) -> host_api::kv::KvError {
    match e {
        KvError::TooLarge(m) => host_api::kv::KvError::TooLarge(m),
        KvError::Io(m) => host_api::kv::KvError::Io(m),
    }
}

impl host_api::kv::Host for StoreState {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, host_api::kv::KvError> {
        Ok(self.kv()?.get(&key).await)
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), host_api::kv::KvError> {
        self.kv()?.set(&key, value).await.map_err(kv_error)
    }

    async fn delete(&mut self, key: String) -> Result<(), host_api::kv::KvError> {
        self.kv()?.delete(&key).await.map_err(kv_error)
    }

    async fn list_keys(&mut self, prefix: String) -> Result<Vec<String>, host_api::kv::KvError> {
        Ok(self.kv()?.list_keys(&prefix).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn values_survive_reopen_and_bad_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let kv = KvStore::open(dir.path(), "jira").unwrap();
        kv.set("a/1", b"one".to_vec()).await.unwrap();
        kv.set("a/2", b"two".to_vec()).await.unwrap();
        kv.set("b", vec![]).await.unwrap();
        kv.delete("a/1").await.unwrap();
        drop(kv);
        let kv = KvStore::open(dir.path(), "jira").unwrap();
        assert_eq!(kv.get("a/2").await, Some(b"two".to_vec()));
        assert_eq!(kv.get("a/1").await, None);
        assert_eq!(kv.list_keys("a/").await, vec!["a/2".to_owned()]);
        assert_eq!(kv.list_keys("").await.len(), 2);
        let big = vec![0u8; MAX_VALUE_BYTES + 1];
        assert!(matches!(kv.set("x", big).await, Err(KvError::TooLarge(_))));

        std::fs::write(kv.path(), b"garbage").unwrap();
        let err = KvStore::open(dir.path(), "jira").unwrap_err();
        assert!(err.to_string().contains("corrupt"), "{err}");
    }
}
