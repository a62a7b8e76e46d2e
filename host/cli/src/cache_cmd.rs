//! `robodev cache`: what robodev's two caches hold (precompiled components, pulled OCI
//! blobs), and pruning them to a size, least recently used first. Both are also kept under
//! their caps as robodev runs (`cache_mb`, `oci.cache_mb` in robodev-config.yaml).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use crate::common::{compile_cache_dir, oci_cache_dir};

/// `robodev cache`.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// How many entries and bytes each cache holds, and its cap.
    Usage(CacheArgs),
    /// Remove the least recently used entries until each cache is within its cap (or the
    /// sizes given); a running robodev keeps the plugins it has loaded.
    Prune(PruneArgs),
}

/// Which caches, and their caps.
#[derive(Debug, Args)]
pub struct CacheArgs {
    /// The config file whose `cache_dir`, `cache_mb` and `oci.cache_mb` apply (when it exists).
    #[arg(
        long,
        short,
        default_value = "robodev-config.yaml",
        env = "ROBODEV_CONFIG"
    )]
    config: PathBuf,
    /// The compile cache [default: the config's `cache_dir`, else
    /// $XDG_CACHE_HOME/robodev/components].
    #[arg(long, env = "ROBODEV_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `robodev cache prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    #[command(flatten)]
    caches: CacheArgs,
    /// Prune the compile cache to this many MiB [default: its cap].
    #[arg(long, value_name = "MIB")]
    compile_mb: Option<u64>,
    /// Prune the OCI cache to this many MiB [default: its cap].
    #[arg(long, value_name = "MIB")]
    oci_mb: Option<u64>,
    /// Remove everything from both.
    #[arg(long, conflicts_with_all = ["compile_mb", "oci_mb"])]
    all: bool,
}

/// One cache: its name, directory, the part of it pruned, and its cap.
struct Cache {
    name: &'static str,
    dir: PathBuf,
    /// What is counted and pruned (the OCI cache's blobs; its tags are a few bytes each).
    entries: PathBuf,
    cap: u64,
}

impl CacheArgs {
    fn caches(&self) -> Result<Vec<Cache>, String> {
        let config = if self.config.exists() {
            Some(
                robodev_controller::config::Config::load(&self.config)
                    .map_err(|e| e.to_string())?,
            )
        } else {
            None
        };
        let compile = compile_cache_dir(
            self.cache_dir.as_ref(),
            config.as_ref().and_then(|c| c.cache_dir.as_ref()),
        );
        let oci = oci_cache_dir();
        Ok(vec![
            Cache {
                name: "compile",
                entries: compile.clone(),
                dir: compile,
                cap: config
                    .as_ref()
                    .and_then(|c| c.cache_mb)
                    .map_or(robodev_wasm::DEFAULT_COMPILE_CACHE_BYTES, |mb| mb << 20),
            },
            Cache {
                name: "oci",
                entries: oci.join("blobs"),
                dir: oci,
                cap: config
                    .as_ref()
                    .and_then(|c| c.oci.cache_mb)
                    .map_or(robodev_oci::DEFAULT_CACHE_BYTES, |mb| mb << 20),
            },
        ])
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}

/// Runs `robodev cache ...`; the exit code.
pub fn run(command: CacheCommand) -> u8 {
    let (args, prune) = match &command {
        CacheCommand::Usage(args) => (args, None),
        CacheCommand::Prune(p) => (&p.caches, Some(p)),
    };
    let caches = match args.caches() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let mut rows = Vec::new();
    for cache in &caches {
        let target = prune.map(|p| {
            if p.all {
                0
            } else {
                let given = if cache.name == "compile" {
                    p.compile_mb
                } else {
                    p.oci_mb
                };
                given.map_or(cache.cap, |mb| mb << 20)
            }
        });
        let keep_partial = |path: &Path| {
            // Writes in progress: the compile cache's `*.tmp*`, the OCI cache's `tmp/`.
            path.extension()
                .is_some_and(|e| e.to_string_lossy().starts_with("tmp"))
        };
        let pruned = match target {
            Some(max) => match robodev_core::disk::prune_lru(&cache.entries, max, &keep_partial) {
                Ok(p) => Some(p),
                Err(e) => {
                    eprintln!("error: cannot prune {}: {e}", cache.entries.display());
                    return 1;
                }
            },
            None => None,
        };
        let (files, bytes) = match robodev_core::disk::usage(&cache.entries) {
            Ok(u) => u,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", cache.entries.display());
                return 1;
            }
        };
        rows.push(serde_json::json!({
            "cache": cache.name,
            "dir": cache.dir,
            "entries": files,
            "bytes": bytes,
            "capBytes": cache.cap,
            "removed": pruned.map(|p| p.removed),
            "freedBytes": pruned.map(|p| p.freed_bytes),
        }));
        if !args.json {
            let removed = match pruned {
                Some(p) => format!(
                    "; removed {} entr{} ({})",
                    p.removed,
                    if p.removed == 1 { "y" } else { "ies" },
                    mib(p.freed_bytes)
                ),
                None => String::new(),
            };
            println!(
                "{:<8} {:>5} entries {:>12} of {:>12} cap  {}{removed}",
                cache.name,
                files,
                mib(bytes),
                mib(cache.cap),
                cache.dir.display()
            );
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "caches": rows }))
                .unwrap_or_default()
        );
    }
    0
}
