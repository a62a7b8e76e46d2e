//! The on-disk cache of precompiled components, keyed by the component's sha256 digest and
//! the engine's compatibility hash (wasmtime version, target, compiler settings), so a second
//! load deserializes instead of compiling.
//!
//! Why not wasmtime's own cache (`Config::cache`): it tells the caller neither whether a load
//! compiled or came from the cache (robodev reports that: `plugin inspect`, the load log, the
//! compile-once sharing) nor lets robodev check an entry before the `unsafe` deserialize; and
//! its files, compression and cleanup worker are its own. What robodev needs is this file.
//!
//! Each entry is `RDVCWASM1\n`, the 32-byte BLAKE3 hash of the payload, then the payload
//! (`Component::serialize`). An entry whose header or hash does not match (corrupt, truncated,
//! written by something else) or that the engine rejects (foreign) is deleted and rebuilt.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::Engine;
use wasmtime::component::Component;

const MAGIC: &[u8] = b"RDVCWASM1\n";

/// How a component came to be ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadPath {
    /// Compiled with Cranelift (no cache configured, or nothing cached yet).
    Compiled,
    /// Deserialized from the cache.
    Cached,
    /// A cache entry was unusable; it was discarded and the component recompiled.
    Rebuilt,
    /// Compiled (or loaded) once for another plugin with the same component (the same
    /// digest), loading at the same time or already loaded, and shared: one compiled copy in
    /// memory however many plugins use it.
    Shared,
}

/// The compile cache's default size cap: 2 GiB (a compiled component is a few times its
/// `.wasm`: 1-100 MB).
pub const DEFAULT_COMPILE_CACHE_BYTES: u64 = 2 << 30;

/// The precompiled-component cache directory.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
    max_bytes: u64,
}

/// Stable hex digest of the engine's compatibility hash.
pub(crate) fn engine_key(engine: &Engine) -> String {
    // std's SipHasher with fixed keys is deterministic within one build of the host, which is
    // exactly the scope in which a compiled artifact may be reused.
    #[expect(
        deprecated,
        reason = "a fixed-key hasher is needed; SipHasher is the std one"
    )]
    let mut h = std::hash::SipHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{:016x}", h.finish())
}

impl CompileCache {
    /// A cache in `dir` (created on first store).
    pub fn new(dir: impl Into<PathBuf>) -> CompileCache {
        CompileCache {
            dir: dir.into(),
            max_bytes: DEFAULT_COMPILE_CACHE_BYTES,
        }
    }

    /// The same cache with a size cap of `max_bytes`.
    pub fn with_max_bytes(mut self, max_bytes: u64) -> CompileCache {
        self.max_bytes = max_bytes;
        self
    }

    /// Removes the least recently used entries until the cache holds at most `max_bytes`
    /// (writes in progress are left alone).
    pub fn prune(&self, max_bytes: u64) -> std::io::Result<robodev_core::disk::Pruned> {
        robodev_core::disk::prune_lru(&self.dir, max_bytes, &|path| {
            path.extension().is_none_or(|e| e != "cwasm")
        })
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of the entry for a component digest (hex sha256) under an engine.
    pub fn entry_path(&self, digest_hex: &str, engine: &Engine) -> PathBuf {
        self.dir
            .join(format!("{digest_hex}-{}.cwasm", engine_key(engine)))
    }

    /// The cached component, or `Err(reason)` if an entry existed but was unusable (it is
    /// deleted), or `Ok(None)` if there is no entry.
    pub(crate) fn load(
        &self,
        engine: &Engine,
        digest_hex: &str,
    ) -> Result<Option<Component>, String> {
        let path = self.entry_path(digest_hex, engine);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let verified = bytes
            .strip_prefix(MAGIC)
            .filter(|rest| rest.len() >= 32)
            .and_then(|rest| {
                let (hash, payload) = rest.split_at(32);
                (blake3::hash(payload).as_bytes() == hash).then_some(payload)
            });
        let Some(payload) = verified else {
            let _ = std::fs::remove_file(&path);
            return Err(format!(
                "{} is corrupt (header or checksum mismatch); discarded",
                path.display()
            ));
        };
        // SAFETY: `Component::deserialize` must only see bytes produced by
        // `Component::serialize` of a compatible engine. The payload passed the BLAKE3 check
        // against the hash this host wrote beside it, so it is exactly what `store` wrote
        // from `Component::serialize`; wasmtime itself rejects artifacts of other engines.
        #[expect(unsafe_code, reason = "deserializing a checksummed artifact we wrote")]
        let component = unsafe { Component::deserialize(engine, payload) };
        match component {
            Ok(c) => {
                robodev_core::disk::touch(&path);
                Ok(Some(c))
            }
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                Err(format!(
                    "{} was rejected by the engine ({e}); discarded",
                    path.display()
                ))
            }
        }
    }

    /// Writes the entry for a compiled component (atomically; failures are returned for
    /// logging, never fatal to the load).
    pub(crate) fn store(
        &self,
        engine: &Engine,
        digest_hex: &str,
        component: &Component,
    ) -> Result<(), String> {
        let payload = component
            .serialize()
            .map_err(|e| format!("cannot serialize component: {e}"))?;
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        let path = self.entry_path(digest_hex, engine);
        // Unique per process and per write: two loads of one component may race to store it.
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let n = WRITES.fetch_add(1, Ordering::Relaxed);
        let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
        let mut bytes = Vec::with_capacity(MAGIC.len() + 32 + payload.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(blake3::hash(&payload).as_bytes());
        bytes.extend_from_slice(&payload);
        std::fs::write(&tmp, &bytes)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        // Keep under the cap; the entry just written is the most recently used.
        match self.prune(self.max_bytes) {
            Ok(p) if p.removed > 0 => tracing::info!(
                "compile cache over its cap of {} MiB: removed {} least recently used entr{} ({} MiB)",
                self.max_bytes >> 20,
                p.removed,
                if p.removed == 1 { "y" } else { "ies" },
                p.freed_bytes >> 20
            ),
            Ok(_) => {}
            Err(e) => return Err(format!("cannot prune {}: {e}", self.dir.display())),
        }
        Ok(())
    }
}
