//! `robodev plugin kv list|get`: what a component plugin keeps in its key-value store, read
//! from the store file without touching it (safe while robodev runs).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use robodev_wasm::kv::KvStore;
use serde_json::json;

use crate::common::default_dir;

#[derive(Debug, Subcommand)]
pub enum KvCommand {
    /// List a plugin's keys (with each value's size and, for short text, the value).
    List {
        #[command(flatten)]
        store: StoreArgs,
        /// Only keys starting with this.
        #[arg(long, default_value = "")]
        prefix: String,
        /// Print JSON: `[{key, size, value}]` (value as text when it is UTF-8, else null).
        #[arg(long)]
        json: bool,
    },
    /// Print the value stored under KEY, byte for byte.
    Get {
        #[command(flatten)]
        store: StoreArgs,
        /// The key.
        key: String,
    },
}

/// Whose store, and where.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The plugin's name (its `name:` in robodev-config.yaml, or what `plugin call|test` used:
    /// `--name`, else the file's stem).
    plugin: String,
    /// Read the store `robodev run --config FILE` uses (`<state_dir>/kv`) instead of
    /// `--data-dir`'s.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// With `--config`: the state directory [default: the config's `state_dir`]. Ignored
    /// without `--config` (robodev's container image sets the variable).
    #[arg(long, value_name = "DIR", env = "ROBODEV_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// The directory of stores `plugin call|test` use [default: $ROBODEV_DATA_DIR, else
    /// $XDG_DATA_HOME/robodev/kv].
    #[arg(long, value_name = "DIR", env = "ROBODEV_DATA_DIR")]
    data_dir: Option<PathBuf>,
}

impl StoreArgs {
    fn dir(&self) -> anyhow::Result<PathBuf> {
        if let Some(path) = &self.config {
            let config = robodev_controller::config::Config::load(path)?;
            let state_dir = self.state_dir.clone().unwrap_or(config.state_dir);
            return Ok(state_dir.join("kv"));
        }
        Ok(self
            .data_dir
            .clone()
            .unwrap_or_else(|| default_dir("XDG_DATA_HOME", ".local/share", "kv")))
    }

    fn read(&self) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
        let dir = self.dir()?;
        let hint = if self.config.is_some() {
            "is `kv: true` in its entry, and has `robodev run` called it?"
        } else {
            "for the stores `robodev run` keeps, give --config FILE"
        };
        KvStore::read(&dir, &self.plugin)?.ok_or_else(|| {
            anyhow::anyhow!(
                "plugin {:?} has no key-value store in {} (no {}): it has stored nothing there; {hint}",
                self.plugin,
                dir.display(),
                KvStore::file(&dir, &self.plugin).display()
            )
        })
    }
}

/// A value for a listing: text if it is short UTF-8 without control characters.
fn preview(value: &[u8]) -> String {
    match std::str::from_utf8(value) {
        Ok(text) if !text.chars().any(char::is_control) => {
            let mut short: String = text.chars().take(60).collect();
            if short.len() < text.len() {
                short.push('…');
            }
            short
        }
        _ => "(binary)".to_owned(),
    }
}

/// `robodev plugin kv ...`: exit 0, 1 when the key is absent, 2 on bad usage or no store.
pub fn run(command: KvCommand) -> u8 {
    let result = match command {
        KvCommand::List {
            store,
            prefix,
            json,
        } => store.read().map(|map| {
            let entries = map.iter().filter(|(k, _)| k.starts_with(&prefix));
            if json {
                let list: Vec<_> = entries
                    .map(|(k, v)| {
                        json!({ "key": k, "size": v.len(), "value": std::str::from_utf8(v).ok() })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                for (k, v) in entries {
                    println!("{k}\t{} B\t{}", v.len(), preview(v));
                }
            }
            0
        }),
        KvCommand::Get { store, key } => store.read().map(|map| match map.get(&key) {
            Some(value) => {
                let mut out = std::io::stdout().lock();
                if out.write_all(value).and_then(|()| out.flush()).is_err() {
                    return 1;
                }
                0
            }
            None => {
                eprintln!("error: plugin {:?} has no key {key:?}", store.plugin);
                1
            }
        }),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        2
    })
}
