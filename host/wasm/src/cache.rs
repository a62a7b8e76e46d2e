//! The on-disk cache of precompiled components, keyed by the component's sha256 digest and
//! the engine's compatibility hash (wasmtime version, target, compiler settings), so a second
//! load deserializes instead of compiling.
//!
//! Why not wasmtime's own cache (`Config::cache`): it tells the caller neither whether a load
//! compiled or came from the cache (robodev reports that: `plugin inspect`, the load log, the
//! compile-once sharing) nor lets robodev check an entry before the `unsafe` deserialize; and
//! its files, compression and cleanup worker are its own. What robodev needs is this file.
//!
//! Each entry is the artifact (`Component::serialize`) followed by a trailer: `RDVCWASM2\n`
//! and the 32-byte BLAKE3 hash of the artifact. A load checks the hash by streaming the file
//! (read in 64 KiB pieces, never held whole), then maps the file (`deserialize_file`) instead
//! of copying it into memory: a mapped artifact's unchanged pages are the file's own pages in
//! the page cache, shared and reclaimable, so 1,000 cached components no longer hold 1,000
//! copies in anonymous memory (issue 15). wasmtime reads the artifact's ELF by its own
//! offsets; the trailer after it is never looked at.
//!
//! An entry whose trailer or hash does not match (corrupt, truncated, written by something
//! else or by an older robodev with the hash in front) or that the engine rejects (foreign)
//! is deleted and rebuilt. Entries are written to a temporary file and renamed into place,
//! so a mapped entry's file is never changed under the mapping: a later store or a prune
//! replaces or unlinks the name, not the file.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::Engine;
use wasmtime::component::Component;

const MAGIC: &[u8] = b"RDVCWASM2\n";
/// The format before the artifact was mapped: `RDVCWASM1\n`, the hash, then the artifact.
const MAGIC_V1: &[u8] = b"RDVCWASM1\n";
const TRAILER_LEN: u64 = MAGIC.len() as u64 + 32;

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
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        match verify(&file) {
            Ok(true) => {}
            Ok(false) => {
                let _ = std::fs::remove_file(&path);
                let what = if starts_with(&file, MAGIC_V1) {
                    "was written by an older robodev (format 1)"
                } else {
                    "is corrupt (trailer or checksum mismatch)"
                };
                return Err(format!("{} {what}; discarded", path.display()));
            }
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        }
        // SAFETY: `Component::deserialize_file` must only see a file produced from
        // `Component::serialize` of a compatible engine, never changed while mapped. The file
        // just passed the BLAKE3 check against the hash this host wrote after the artifact,
        // so it is what `store` wrote; it is opened again through this descriptor, so it is
        // the very file checked even if a store renamed another over its name since; entries
        // are only ever replaced by rename, never written in place; and wasmtime itself
        // rejects artifacts of other engines.
        #[expect(unsafe_code, reason = "mapping a checksummed artifact we wrote")]
        let component = unsafe { Component::deserialize_file(engine, reopen(&file, &path)) };
        drop(file);
        match component {
            Ok(c) => {
                robodev_core::disk::touch(&path);
                Ok(Some(c))
            }
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                Err(format!(
                    "{} was rejected by the engine ({e:#}); discarded",
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
        let written = std::fs::File::create(&tmp).and_then(|mut f| {
            use std::io::Write;
            f.write_all(&payload)?;
            f.write_all(MAGIC)?;
            f.write_all(blake3::hash(&payload).as_bytes())
        });
        if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, &path)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(format!("cannot write {}: {e}", path.display()));
        }
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

/// Whether `file` ends in a trailer whose hash is that of everything before it. Streams the
/// file through the hasher.
fn verify(file: &std::fs::File) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let len = file.metadata()?.len();
    let Some(artifact) = len.checked_sub(TRAILER_LEN) else {
        return Ok(false);
    };
    let mut reader = file;
    reader.seek(SeekFrom::Start(0))?;
    let mut hasher = blake3::Hasher::new();
    let copied = std::io::copy(&mut reader.take(artifact), &mut hasher)?;
    let mut trailer = [0u8; TRAILER_LEN as usize];
    reader.read_exact(&mut trailer)?;
    let (magic, hash) = trailer.split_at(MAGIC.len());
    Ok(copied == artifact && magic == MAGIC && hasher.finalize().as_bytes() == hash)
}

/// Whether `file` begins with `prefix`.
fn starts_with(file: &std::fs::File, prefix: &[u8]) -> bool {
    use std::os::unix::fs::FileExt;
    let mut head = vec![0u8; prefix.len()];
    file.read_exact_at(&mut head, 0).is_ok() && head == prefix
}

/// A path that opens the same file as `file`: its descriptor under `/proc/self/fd` where
/// that exists (Linux), else `path`.
fn reopen(file: &std::fs::File, path: &Path) -> PathBuf {
    use std::os::fd::AsRawFd;
    let by_fd = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    if by_fd.exists() {
        by_fd
    } else {
        path.to_owned()
    }
}
