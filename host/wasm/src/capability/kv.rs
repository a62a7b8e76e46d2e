//! `robodev:host/kv`, granted by `kv: true`: the per-plugin key-value store, an in-memory map, written through
//! to one file per plugin on every change (write to a temporary file, fsync, rename), so that a
//! value is durable once `set` returns and a crash mid-write never corrupts the store.
//!
//! File format: `ROBODEVKV1\n`, then for each entry a little-endian `u32` key length, the key
//! bytes (UTF-8), a `u32` value length and the value bytes.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

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

/// Why `increment` failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AtomicError {
    /// Storing failed.
    #[error(transparent)]
    Kv(#[from] KvError),
    /// The value is not a counter, or the sum overflows.
    #[error("{0}")]
    NotACounter(String),
}

/// One plugin's store. One per file in the process: every load of a plugin (a hot reload
/// keeps the old version serving its calls in flight) shares it, so no two writers race on the
/// file.
#[derive(Debug)]
pub struct KvStore {
    path: PathBuf,
    map: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
}

/// The stores open in this process, by file.
static OPEN: std::sync::Mutex<BTreeMap<PathBuf, Weak<KvStore>>> =
    std::sync::Mutex::new(BTreeMap::new());

impl KvStore {
    /// The file of plugin `name`'s store in `dir`: `<name>.kv`, with every character other
    /// than ASCII letters, digits, `-` and `_` replaced by `_`.
    pub fn file(dir: &Path, name: &str) -> PathBuf {
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
        dir.join(format!("{safe}.kv"))
    }

    /// Opens (or creates) the store file [`KvStore::file`], or returns the store this process
    /// already has open for it.
    pub fn open(dir: &Path, name: &str) -> Result<Arc<KvStore>, KvError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| KvError::Io(format!("cannot create {}: {e}", dir.display())))?;
        let file = KvStore::file(dir, name);
        let path = std::path::absolute(&file).unwrap_or(file);
        let mut open = OPEN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(store) = open.get(&path).and_then(Weak::upgrade) {
            return Ok(store);
        }
        let map = match std::fs::read(&path) {
            Ok(bytes) => decode(&bytes)
                .map_err(|e| KvError::Io(format!("{} is corrupt: {e}", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(KvError::Io(format!("cannot read {}: {e}", path.display()))),
        };
        let store = Arc::new(KvStore {
            path: path.clone(),
            map: Arc::new(Mutex::new(map)),
        });
        open.retain(|_, store| store.strong_count() > 0);
        open.insert(path, Arc::downgrade(&store));
        Ok(store)
    }

    /// The content of plugin `name`'s store in `dir`, read without opening it for writing
    /// (`robodev plugin kv`); `None` if it has no store file there.
    pub fn read(dir: &Path, name: &str) -> Result<Option<BTreeMap<String, Vec<u8>>>, KvError> {
        let path = KvStore::file(dir, name);
        match std::fs::read(&path) {
            Ok(bytes) => decode(&bytes)
                .map(Some)
                .map_err(|e| KvError::Io(format!("{} is corrupt: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(KvError::Io(format!("cannot read {}: {e}", path.display()))),
        }
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
        check_sizes(key, &value)?;
        let key = key.to_owned();
        self.change(move |map| {
            map.insert(key, value);
            Ok((true, ()))
        })
        .await
    }

    /// Removes `key`; durable on return.
    pub async fn delete(&self, key: &str) -> Result<(), KvError> {
        let key = key.to_owned();
        self.change(move |map| Ok((map.remove(&key).is_some(), ())))
            .await
    }

    /// Adds `delta` to the counter under `key` (its decimal text; absent counts as 0) and
    /// returns the new value; atomic and durable on return.
    pub async fn increment(&self, key: &str, delta: i64) -> Result<i64, AtomicError> {
        check_sizes(key, &[])?;
        let key = key.to_owned();
        self.change(move |map| {
            let current = match map.get(&key) {
                None => 0,
                Some(bytes) => std::str::from_utf8(bytes)
                    .ok()
                    .and_then(|text| text.parse::<i64>().ok())
                    .ok_or_else(|| {
                        AtomicError::NotACounter(format!(
                            "`{key}` holds {}, not the decimal text of a signed 64-bit integer",
                            describe(bytes)
                        ))
                    })?,
            };
            let value = current.checked_add(delta).ok_or_else(|| {
                AtomicError::NotACounter(format!(
                    "`{key}` is {current}: adding {delta} overflows a signed 64-bit integer"
                ))
            })?;
            map.insert(key, value.to_string().into_bytes());
            Ok((true, value))
        })
        .await
    }

    /// Replaces the value under `key` with `new` (deletes it for `None`) if it is `expected`
    /// (`None`: absent); returns whether it did. Atomic and durable on return.
    pub async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<Vec<u8>>,
    ) -> Result<bool, KvError> {
        check_sizes(key, new.as_deref().unwrap_or_default())?;
        let key = key.to_owned();
        let expected = expected.map(<[u8]>::to_vec);
        self.change(move |map| {
            if map.get(&key) != expected.as_ref() {
                return Ok((false, false));
            }
            match new {
                Some(value) => map.insert(key, value),
                None => map.remove(&key),
            };
            Ok((true, true))
        })
        .await
    }

    /// Applies `change` to a copy of the store (it returns whether it changed it, and its
    /// answer) and commits the copy: persisted, then made the store's content, all under the
    /// lock. The commit runs in a task of its own, so a call cut off by its deadline neither
    /// lets the next writer in while its write is still going nor leaves the file and memory
    /// disagreeing.
    async fn change<T, E, F>(&self, change: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<KvError> + Send + 'static,
        F: FnOnce(&mut BTreeMap<String, Vec<u8>>) -> Result<(bool, T), E> + Send + 'static,
    {
        let map = Arc::clone(&self.map);
        let path = self.path.clone();
        tokio::spawn(async move {
            let mut current = map.lock_owned().await;
            let mut next = current.clone();
            let (changed, answer) = change(&mut next)?;
            if changed {
                let size: usize = next.iter().map(|(k, v)| k.len() + v.len()).sum();
                if size > MAX_STORE_BYTES {
                    return Err(KvError::TooLarge(format!(
                        "the store would hold {size} bytes, the limit is {MAX_STORE_BYTES}"
                    ))
                    .into());
                }
                persist(&path, &next).await?;
                *current = next;
            }
            Ok(answer)
        })
        .await
        .map_err(|e| E::from(KvError::Io(format!("the store's writer task failed: {e}"))))?
    }
}

async fn persist(path: &Path, map: &BTreeMap<String, Vec<u8>>) -> Result<(), KvError> {
    let bytes = encode(map);
    let file = path.to_owned();
    tokio::task::spawn_blocking(move || write_atomic(&file, &bytes))
        .await
        .map_err(|e| KvError::Io(format!("writer task failed: {e}")))?
        .map_err(|e| KvError::Io(format!("cannot write {}: {e}", path.display())))
}

fn check_sizes(key: &str, value: &[u8]) -> Result<(), KvError> {
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
    Ok(())
}

/// A stored value for a message: its text if short UTF-8, else its size.
fn describe(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if text.len() <= 40 => format!("{text:?}"),
        _ => format!("{} bytes", bytes.len()),
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

fn atomic_error(e: AtomicError) -> host_api::kv::AtomicError {
    match e {
        AtomicError::Kv(KvError::TooLarge(m)) => host_api::kv::AtomicError::TooLarge(m),
        AtomicError::Kv(KvError::Io(m)) => host_api::kv::AtomicError::Io(m),
        AtomicError::NotACounter(m) => host_api::kv::AtomicError::NotACounter(m),
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

    async fn increment(
        &mut self,
        key: String,
        delta: i64,
    ) -> Result<i64, host_api::kv::AtomicError> {
        let Ok(store) = self.kv() else {
            return Err(host_api::kv::AtomicError::Denied);
        };
        store.increment(&key, delta).await.map_err(atomic_error)
    }

    async fn compare_and_swap(
        &mut self,
        key: String,
        expected: Option<Vec<u8>>,
        new: Option<Vec<u8>>,
    ) -> Result<bool, host_api::kv::AtomicError> {
        let Ok(store) = self.kv() else {
            return Err(host_api::kv::AtomicError::Denied);
        };
        store
            .compare_and_swap(&key, expected.as_deref(), new)
            .await
            .map_err(|e| atomic_error(e.into()))
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

        let path = kv.path().to_owned();
        drop(kv);
        std::fs::write(&path, b"garbage").unwrap();
        let err = KvStore::open(dir.path(), "jira").unwrap_err();
        assert!(err.to_string().contains("corrupt"), "{err}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn increment_and_compare_and_swap_are_atomic_and_say_what_was_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let kv = KvStore::open(dir.path(), "count").unwrap();
        // 40 concurrent increments on a multi-threaded runtime lose nothing.
        let tasks: Vec<_> = (0..40)
            .map(|_| {
                let kv = kv.clone();
                tokio::spawn(async move { kv.increment("n", 1).await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(kv.get("n").await, Some(b"40".to_vec()));
        assert_eq!(kv.increment("n", -50).await, Ok(-10));

        kv.set("text", b"hello".to_vec()).await.unwrap();
        let Err(AtomicError::NotACounter(message)) = kv.increment("text", 1).await else {
            panic!("a text value must not count");
        };
        assert!(message.contains("`text` holds \"hello\""), "{message}");
        kv.set("max", i64::MAX.to_string().into_bytes())
            .await
            .unwrap();
        let Err(AtomicError::NotACounter(message)) = kv.increment("max", 1).await else {
            panic!("overflow must be refused");
        };
        assert!(message.contains("overflows"), "{message}");
        assert_eq!(kv.get("max").await, Some(i64::MAX.to_string().into_bytes()));

        // Absent → created; stale expectation → refused; delete by swapping to none.
        assert_eq!(
            kv.compare_and_swap("c", None, Some(b"1".to_vec())).await,
            Ok(true)
        );
        assert_eq!(
            kv.compare_and_swap("c", None, Some(b"2".to_vec())).await,
            Ok(false)
        );
        assert_eq!(
            kv.compare_and_swap("c", Some(b"0"), Some(b"2".to_vec()))
                .await,
            Ok(false)
        );
        assert_eq!(
            kv.compare_and_swap("c", Some(b"1"), Some(b"2".to_vec()))
                .await,
            Ok(true)
        );
        assert_eq!(kv.get("c").await, Some(b"2".to_vec()));
        assert_eq!(kv.compare_and_swap("c", Some(b"2"), None).await, Ok(true));
        assert_eq!(kv.get("c").await, None);
        let big = vec![0u8; MAX_VALUE_BYTES + 1];
        assert!(matches!(
            kv.compare_and_swap("c", None, Some(big)).await,
            Err(KvError::TooLarge(_))
        ));

        // Counters survive a restart like any value.
        drop(kv);
        let kv = KvStore::open(dir.path(), "count").unwrap();
        assert_eq!(kv.increment("n", 0).await, Ok(-10));
    }
}
