//! The `--plugin-config FILE` of `robodev plugin call`: the same keys as one entry of the
//! `plugins:` list in robodev-config.yaml, minus where the plugin comes from.
//!
//! ```yaml
//! config: { channel: "#robots", webhook_url: "http://127.0.0.1:8080/hook" }
//! secrets: { token: SLACK_TOKEN }      # guest name -> host environment variable (CLI)
//! allowed_hosts: [127.0.0.1]
//! kv: true                             # persistent key-value store under --data-dir
//! read_only_dirs: { /data: ./fixtures } # guest path -> host directory
//! limits: { fuel: 50000000, timeout_ms: 2000, memory_mb: 64, component_mb: 256 }
//! warm_instances: 0
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

/// Limits as written in config.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLimits {
    /// Fuel per call.
    pub fuel: Option<u64>,
    /// Deadline per call, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Memory cap, in MiB.
    pub memory_mb: Option<u64>,
    /// The largest component file read, in MiB.
    pub component_mb: Option<u64>,
}

/// One plugin's settings, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawPluginConfig {
    /// Config values the guest reads through `robodev:host/config`.
    pub config: BTreeMap<String, serde_norway::Value>,
    /// Secret names the guest may read -> where the host finds them.
    pub secrets: BTreeMap<String, String>,
    /// Hosts the guest may reach over HTTP.
    pub allowed_hosts: Vec<String>,
    /// Enable the persistent key-value store.
    pub kv: bool,
    /// Guest path -> host directory, mounted read-only.
    pub read_only_dirs: BTreeMap<String, PathBuf>,
    /// Per-call limits.
    pub limits: RawLimits,
    /// Warm instances kept between calls.
    pub warm_instances: usize,
}

impl RawPluginConfig {
    /// Reads and parses `path` (YAML or JSON); relative directories resolve against the
    /// file's own directory.
    pub fn load(path: &Path) -> anyhow::Result<RawPluginConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read plugin config {}", path.display()))?;
        let mut raw: RawPluginConfig = serde_norway::from_str(&text)
            .with_context(|| format!("invalid plugin config {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for dir in raw.read_only_dirs.values_mut() {
            if dir.is_relative() {
                *dir = base.join(&*dir);
            }
        }
        for (guest, dir) in &raw.read_only_dirs {
            if !dir.is_dir() {
                bail!(
                    "{}: read_only_dirs.{guest}: {} is not a directory",
                    path.display(),
                    dir.display()
                );
            }
        }
        Ok(raw)
    }

    /// Config values as the guest sees them: strings as they are, anything else as JSON.
    pub fn config_strings(&self) -> anyhow::Result<BTreeMap<String, String>> {
        self.config
            .iter()
            .map(|(k, v)| {
                let s = match v {
                    serde_norway::Value::String(s) => s.clone(),
                    other => serde_json::to_string(other)
                        .with_context(|| format!("config.{k} cannot be expressed as JSON"))?,
                };
                Ok((k.clone(), s))
            })
            .collect()
    }
}
