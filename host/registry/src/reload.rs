//! Hot reload: [`Reloader`] reloads or rolls back one plugin of a running registry on request
//! (the admin API), and [`Reloader::watch`] does it by itself when robodev-config.yaml or a
//! plugin's file changes (polled, debounced: a change is acted on once it has held still for
//! one poll, so a file being written is not loaded half-written).
//!
//! A reload loads the new version beside the old one with every check of a start, then swaps
//! it in atomically ([`Registry::reload`]); a failed reload leaves the old version serving and
//! says why. Adding or removing plugins and changing backend selections still need a restart
//! (the watcher says so in the log).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use robodev_core::{Error, Interface};

use crate::registry::{Registry, Swapped};
use crate::spec::{ComponentLocation, PluginSource, PluginSpec};

/// How often the watcher looks at the config file and the plugins' files.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// Where reloads read the plugins' definitions: the config file as it is now. The controller
/// implements it over robodev-config.yaml; the plugin host does not parse the file itself.
pub trait Definitions: Send + Sync + std::fmt::Debug {
    /// The file the definitions come from (watched, and named in messages).
    fn path(&self) -> &Path;
    /// The `plugins:` entries as the file has them now, or why the file does not load.
    fn plugins(&self) -> Result<Vec<PluginSpec>, String>;
}

/// Reloads plugins of `registry` from their [`Definitions`].
#[derive(Debug)]
pub struct Reloader {
    registry: Arc<Registry>,
    definitions: Arc<dyn Definitions>,
}

impl Reloader {
    /// A reloader of `registry` reading `definitions`.
    pub fn new(registry: Arc<Registry>, definitions: Arc<dyn Definitions>) -> Self {
        Reloader {
            registry,
            definitions,
        }
    }

    fn plugins(&self, plugin: &str) -> Result<Vec<PluginSpec>, Error> {
        self.definitions.plugins().map_err(|e| Error::Load {
            plugin: plugin.to_owned(),
            message: format!("the config does not load, so nothing was reloaded: {e}"),
            source: None,
        })
    }

    /// Reloads plugin `name` (of `interface`, when two share the name) from the config as it
    /// is now.
    pub async fn reload(&self, interface: Option<Interface>, name: &str) -> Result<Swapped, Error> {
        let plugins = self.plugins(name)?;
        let spec = plugins
            .iter()
            .find(|p| p.name == name && interface.is_none_or(|i| p.interface == i))
            .ok_or_else(|| Error::Load {
                plugin: name.to_owned(),
                message: format!(
                    "{} has no plugin {name:?} any more (removing a plugin needs a restart)",
                    self.definitions.path().display()
                ),
                source: None,
            })?;
        self.registry.reload(spec).await
    }

    /// Rolls plugin `name` back to the version its last reload replaced.
    pub async fn rollback(&self, interface: Interface, name: &str) -> Result<Swapped, Error> {
        self.registry.rollback(interface, name).await
    }

    /// Watches the config file and the plugins' files until `stop` resolves, reloading each
    /// plugin whose entry or file changed.
    pub async fn watch(self: Arc<Self>, every: Duration, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        let mut seen = self.fingerprints().await;
        let mut pending: Option<BTreeMap<String, Fingerprint>> = None;
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(every) => {}
            }
            let now = self.fingerprints().await;
            if now == seen {
                pending = None;
                continue;
            }
            // Debounce: act only once the change has held still for one poll.
            if pending.as_ref() != Some(&now) {
                pending = Some(now);
                continue;
            }
            pending = None;
            self.apply(&seen, &now).await;
            seen = now;
        }
    }

    async fn apply(
        &self,
        before: &BTreeMap<String, Fingerprint>,
        after: &BTreeMap<String, Fingerprint>,
    ) {
        for (name, print) in after {
            match before.get(name) {
                Some(old) if old == print => {}
                Some(_) if name.is_empty() => {
                    tracing::warn!("{} (plugins keep serving as they are)", print.entry);
                }
                Some(_) => match self.reload(Some(print.interface), name).await {
                    Ok(s) => {
                        tracing::info!(plugin = %name, "change detected: reloaded {} -> {}", s.from, s.to)
                    }
                    Err(e) => {
                        tracing::error!(plugin = %name, "change detected, reload failed (the old version keeps serving): {e}")
                    }
                },
                None if name.is_empty() => {
                    tracing::warn!("{} (plugins keep serving as they are)", print.entry);
                }
                None => {
                    tracing::warn!(plugin = %name, "a new plugin in the config: adding plugins needs a restart")
                }
            }
        }
        for name in before
            .keys()
            .filter(|n| !after.contains_key(*n) && !n.is_empty())
        {
            tracing::warn!(plugin = %name, "removed from the config: removing plugins needs a restart; it keeps serving");
        }
    }

    /// What identifies each plugin's current definition: its config entry and its file.
    async fn fingerprints(&self) -> BTreeMap<String, Fingerprint> {
        let mut prints = BTreeMap::new();
        match self.definitions.plugins() {
            Ok(plugins) => {
                for spec in &plugins {
                    prints.insert(spec.name.clone(), fingerprint(spec));
                }
            }
            Err(e) => {
                // Keep the plugins as they are; `apply` reports the error once per change.
                prints.insert(
                    String::new(),
                    Fingerprint {
                        interface: Interface::Ticketing,
                        entry: e.to_string(),
                        file: None,
                    },
                );
            }
        }
        prints
    }
}

/// A plugin's definition as the watcher compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    interface: Interface,
    /// The config entry (minus its line number, which moves when other entries change).
    entry: String,
    /// The file's modification time and size, when it is a local file.
    file: Option<(SystemTime, u64)>,
}

fn fingerprint(spec: &PluginSpec) -> Fingerprint {
    let mut spec = spec.clone();
    spec.line = 0;
    let file = match &spec.source {
        PluginSource::Component(c) => match &c.location {
            ComponentLocation::File(path) => stamp(path),
            ComponentLocation::Oci(_) => None,
        },
        PluginSource::Subprocess(s) => stamp(&s.command),
    };
    Fingerprint {
        interface: spec.interface,
        entry: format!("{spec:?}"),
        file,
    }
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}
