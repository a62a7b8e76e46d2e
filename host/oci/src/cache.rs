//! The content-addressed cache on disk.
//!
//! ```text
//! CACHE_DIR/blobs/sha256/<hex>                   manifests and layers, named by their sha256
//! CACHE_DIR/tags/<registry>/<repository>/<tag>   the digest the tag last resolved to
//! CACHE_DIR/tmp/                                  downloads in progress
//! ```
//!
//! A blob is written to `tmp/` while its sha256 is computed, and renamed into `blobs/` only
//! when the digest matches, so `blobs/` never holds a partial file under a final name. Blobs are
//! re-hashed every time they are used: a file damaged on disk is found, removed and fetched
//! again rather than run. A tag's record is written after its manifest and layer are in place,
//! so a recorded tag can always be served offline unless its files were removed since.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::{Error, Reference};

/// Distinguishes temp files of one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// What the cache holds under a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BlobState {
    /// Nothing.
    Missing,
    /// A file with that digest, of this size.
    Valid { size: u64 },
    /// A file whose content has another digest (now removed).
    Corrupt { found: String },
}

/// `sha256:<hex>` of `bytes`.
pub(crate) fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The cache rooted at a directory.
#[derive(Debug, Clone)]
pub(crate) struct Cache {
    root: PathBuf,
    max_bytes: u64,
}

/// A file being written under `tmp/`, removed when dropped unless committed.
pub(crate) struct TempBlob {
    path: PathBuf,
    pub file: tokio::fs::File,
    hasher: Sha256,
    pub written: u64,
    committed: bool,
}

impl TempBlob {
    /// Appends `data` to the file and to the running digest.
    pub async fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.file.write_all(data).await?;
        self.hasher.update(data);
        self.written += data.len() as u64;
        Ok(())
    }

    /// The temp file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The digest of everything written.
    pub fn digest(&self) -> String {
        format!("sha256:{}", hex::encode(self.hasher.clone().finalize()))
    }
}

impl Drop for TempBlob {
    fn drop(&mut self) {
        if !self.committed {
            // A failed or abandoned download: its bytes are useless, don't leave them.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Cache {
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            max_bytes: crate::client::DEFAULT_CACHE_BYTES,
        }
    }

    /// The same cache with a size cap of `max_bytes`.
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Removes the least recently used blobs until they total at most `max_bytes`, never
    /// `keep` (a blob just stored, about to be read).
    pub fn prune(
        &self,
        max_bytes: u64,
        keep: Option<&Path>,
    ) -> std::io::Result<robodev_core::disk::Pruned> {
        robodev_core::disk::prune_lru(&self.root.join("blobs"), max_bytes, &|path| {
            keep.is_some_and(|k| k == path)
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob `digest` (already validated as `sha256:<64 hex>`) lives.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.root.join("blobs").join("sha256").join(hex)
    }

    /// Where the digest a tag last resolved to is recorded. The parts were validated by
    /// [`Reference::parse`]: none is empty, `.` or `..`, or holds a `/` of its own.
    fn tag_path(&self, reference: &Reference, tag: &str) -> PathBuf {
        let mut path = self.root.join("tags").join(reference.registry());
        for component in reference.repository().split('/') {
            path.push(component);
        }
        path.push(tag);
        path
    }

    /// Hashes the cached blob `digest`; a file with other content is removed.
    pub async fn check_blob(
        &self,
        reference: &Reference,
        digest: &str,
    ) -> Result<BlobState, Error> {
        let path = self.blob_path(digest);
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BlobState::Missing),
            Err(e) => return Err(io_error(reference, "opening cached blob", &path, e)),
        };
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0; 256 * 1024];
        loop {
            let n = file
                .read(&mut buf)
                .await
                .map_err(|e| io_error(reference, "reading cached blob", &path, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            size += n as u64;
        }
        let found = format!("sha256:{}", hex::encode(hasher.finalize()));
        if found == digest {
            robodev_core::disk::touch(&path);
            return Ok(BlobState::Valid { size });
        }
        discard_damaged(reference, &path, digest, &found).await?;
        Ok(BlobState::Corrupt { found })
    }

    /// The cached blob `digest` if present and intact (a damaged one is removed).
    pub async fn read_blob(
        &self,
        reference: &Reference,
        digest: &str,
    ) -> Result<Result<Bytes, BlobState>, Error> {
        let path = self.blob_path(digest);
        let bytes = match tokio::fs::read(&path).await {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Err(BlobState::Missing));
            }
            Err(e) => return Err(io_error(reference, "reading cached blob", &path, e)),
        };
        let found = sha256_digest(&bytes);
        if found == digest {
            robodev_core::disk::touch(&path);
            return Ok(Ok(Bytes::from(bytes)));
        }
        discard_damaged(reference, &path, digest, &found).await?;
        Ok(Err(BlobState::Corrupt { found }))
    }

    /// A new temp file under `tmp/`.
    pub async fn temp_blob(&self, reference: &Reference) -> Result<TempBlob, Error> {
        let dir = self.root.join("tmp");
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| io_error(reference, "creating cache directory", &dir, e))?;
        let path = dir.join(format!(
            "{}-{}.partial",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(|e| io_error(reference, "creating cache temp file", &path, e))?;
        Ok(TempBlob {
            path,
            file,
            hasher: Sha256::new(),
            written: 0,
            committed: false,
        })
    }

    /// Moves a complete temp file to `blobs/` under `digest`, which the caller has compared
    /// with [`TempBlob::digest`].
    pub async fn commit(
        &self,
        reference: &Reference,
        mut temp: TempBlob,
        digest: &str,
    ) -> Result<PathBuf, Error> {
        temp.file
            .flush()
            .await
            .map_err(|e| io_error(reference, "writing cache temp file", &temp.path, e))?;
        let dest = self.blob_path(digest);
        if let Some(dir) = dest.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| io_error(reference, "creating cache directory", dir, e))?;
        }
        // rename() replaces atomically: a concurrent pull of the same blob wins or loses whole.
        tokio::fs::rename(&temp.path, &dest)
            .await
            .map_err(|e| io_error(reference, "moving blob into the cache", &dest, e))?;
        temp.committed = true;
        match self.prune(self.max_bytes, Some(&dest)) {
            Ok(p) if p.removed > 0 => tracing::info!(
                "OCI cache over its cap of {} MiB: removed {} least recently used blob{} ({} MiB)",
                self.max_bytes >> 20,
                p.removed,
                if p.removed == 1 { "" } else { "s" },
                p.freed_bytes >> 20
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!("cannot prune the OCI cache {}: {e}", self.root.display()),
        }
        Ok(dest)
    }

    /// Stores `bytes`, whose digest is `digest`.
    pub async fn write_blob(
        &self,
        reference: &Reference,
        digest: &str,
        bytes: &[u8],
    ) -> Result<PathBuf, Error> {
        let mut temp = self.temp_blob(reference).await?;
        let path = temp.path.clone();
        temp.write(bytes)
            .await
            .map_err(|e| io_error(reference, "writing cache temp file", &path, e))?;
        self.commit(reference, temp, digest).await
    }

    /// The digest `tag` of `reference`'s repository last resolved to, if recorded.
    pub async fn read_tag(
        &self,
        reference: &Reference,
        tag: &str,
    ) -> Result<Option<String>, Error> {
        let path = self.tag_path(reference, tag);
        match tokio::fs::read_to_string(&path).await {
            Ok(text) => Ok(crate::reference::parse_digest(text.trim()).ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(reference, "reading cached tag", &path, e)),
        }
    }

    /// Records that `tag` resolved to `digest`.
    pub async fn write_tag(
        &self,
        reference: &Reference,
        tag: &str,
        digest: &str,
    ) -> Result<(), Error> {
        let path = self.tag_path(reference, tag);
        let temp = self.temp_blob(reference).await?;
        let temp_path = temp.path.clone();
        let mut temp = temp;
        temp.write(format!("{digest}\n").as_bytes())
            .await
            .map_err(|e| io_error(reference, "writing cache temp file", &temp_path, e))?;
        temp.file
            .flush()
            .await
            .map_err(|e| io_error(reference, "writing cache temp file", &temp_path, e))?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| io_error(reference, "creating cache directory", dir, e))?;
        }
        tokio::fs::rename(&temp_path, &path)
            .await
            .map_err(|e| io_error(reference, "recording the tag in the cache", &path, e))?;
        temp.committed = true;
        Ok(())
    }
}

pub(crate) fn io_error(
    reference: &Reference,
    context: &'static str,
    path: &Path,
    source: std::io::Error,
) -> Error {
    Error::Io {
        reference: reference.to_string(),
        context,
        path: path.to_owned(),
        source,
    }
}

/// Removes a cached blob whose content does not match its digest (damaged on disk), saying so.
async fn discard_damaged(
    reference: &crate::Reference,
    path: &std::path::Path,
    digest: &str,
    found: &str,
) -> Result<(), Error> {
    tracing::warn!(
        reference = %reference,
        path = %path.display(),
        expected = digest,
        found = %found,
        "a cached blob does not match its digest (damaged on disk?); removing it"
    );
    tokio::fs::remove_file(path)
        .await
        .map_err(|e| io_error(reference, "removing damaged cached blob", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn blobs_stay_under_the_cap_least_recently_used_first() {
        let dir = tempfile::tempdir().unwrap();
        // Room for two 1000-byte blobs, not three.
        let cache = Cache::new(dir.path().to_owned()).with_max_bytes(2500);
        let reference = Reference::parse("oci://localhost:5000/acme/plugin:1.0.0").unwrap();
        let blobs: Vec<(Vec<u8>, String)> = (0..3u8)
            .map(|i| {
                let bytes = vec![i; 1000];
                let digest = sha256_digest(&bytes);
                (bytes, digest)
            })
            .collect();
        cache
            .write_blob(&reference, &blobs[0].1, &blobs[0].0)
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        cache
            .write_blob(&reference, &blobs[1].1, &blobs[1].0)
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        // Reading the first makes it the most recently used...
        assert!(
            cache
                .read_blob(&reference, &blobs[0].1)
                .await
                .unwrap()
                .is_ok()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        // ...so the third evicts the second.
        cache
            .write_blob(&reference, &blobs[2].1, &blobs[2].0)
            .await
            .unwrap();
        let present = |i: usize| cache.blob_path(&blobs[i].1).exists();
        assert_eq!((present(0), present(1), present(2)), (true, false, true));
        // A blob larger than the cap is still kept once stored (it is about to be read).
        let big = vec![9u8; 4000];
        let digest = sha256_digest(&big);
        let path = cache.write_blob(&reference, &digest, &big).await.unwrap();
        assert!(path.exists());
        assert!(!present(0) && !present(2));
    }
}
