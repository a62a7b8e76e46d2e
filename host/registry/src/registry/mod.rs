//! The registry: every plugin robodev runs, whichever way it runs (built-in, Wasm component,
//! go-plugin subprocess), behind one lookup by (interface, name).
//!
//! [`Registry::load`] loads the `plugins:` list and the built-in backends the config selects,
//! all at once. Before anything of a plugin is read, compiled or spawned, [`precheck`] compares
//! the `interface_version` it declares with the one robodev implements; a mismatch refuses that
//! plugin with [`Refusal::VersionMismatch`]. After loading, the version the plugin reports
//! itself must agree too (a component's export, a subprocess's `Handshake` RPC; the runtimes
//! check it). A plugin that fails to load is recorded in [`Registry::failures`] and the others
//! carry on, unless it is in `plugin_health.critical_plugins`: then [`Registry::load`] fails.
//!
//! **Loading in the background.** [`Registry::load`] returns once every plugin has loaded or
//! failed. `robodev run` must not wait that long (one plugin pulled from a slow registry would
//! keep everything else, the admin API included, from starting), so it makes the registry with
//! [`Registry::pending`], shares it, and runs [`Registry::load_pending`] in a task: each plugin
//! is usable the moment it has loaded, the ones still loading are listed by
//! [`Registry::loading`] (health `loading`), and [`Registry::wait_until`] waits for the ones a
//! caller needs. Critical plugins are then the caller's to check ([`Registry::critical_failure`]).
//!
//! A Wasm plugin's granted secrets resolve through the configured secrets backend, which may
//! itself be a plugin: the link is made as soon as that backend has loaded ([`BackendSecrets`]).

mod entry;
mod load;
mod swap;

pub(crate) use entry::Handle;
pub use entry::{Entry, LoadFailure, Loading, RuntimeKind, sandbox_json};
/// The files of the built-in `file` secrets backend, when it is the one selected (resolved as
/// the built-in resolves them, against the config file's directory).
fn secret_files(config: &HostConfig) -> Vec<std::path::PathBuf> {
    match &config.secrets {
        crate::spec::BackendRef::Builtin {
            name,
            config: options,
            ..
        } if name == "file" => ["file", "dir"]
            .iter()
            .filter_map(|key| options.get(key)?.as_str())
            .map(|path| config_dir(&config.path).join(path))
            .collect(),
        _ => Vec::new(),
    }
}

pub use load::{BackendSecrets, LoadOptions, config_dir, precheck, resolve_secrets};
pub(crate) use load::{Item, Loader, Trust, item_for, resolve_credentials};
pub use swap::Swapped;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use robodev_core::{AnyBackend, Error, Interface};
use robodev_grpc::RestartPolicy;

use crate::calls::Switches;
use crate::metered::{self};
use crate::metrics::Metrics;
use crate::spec::{
    BackendRef, ComponentLocation, HostConfig, OciCredentials, PluginSource, PluginSpec,
};

/// Critical plugins failed to load: robodev must not run.
#[derive(Debug, thiserror::Error)]
#[error("{}", describe_critical(.failures))]
pub struct CriticalFailure {
    /// The critical plugins that failed, with why.
    pub failures: Vec<LoadFailure>,
}

fn describe_critical(failures: &[LoadFailure]) -> String {
    failures
        .iter()
        .map(|f| format!("critical plugin {:?} did not load: {}", f.name, f.error))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Every loaded plugin, by (interface, name).
pub struct Registry {
    entries: RwLock<BTreeMap<(Interface, String), Arc<Entry>>>,
    /// The version each reloaded plugin replaced, kept loaded for rollback.
    previous: Mutex<BTreeMap<(Interface, String), Arc<Entry>>>,
    /// Serialises reloads and rollbacks (each is load, check, swap).
    reloading: tokio::sync::Mutex<()>,
    loader: Arc<Loader>,
    /// The plugins that did not load, by their place in the load order (so that listings do
    /// not depend on which load finished first).
    failures: RwLock<BTreeMap<usize, LoadFailure>>,
    /// The plugins still loading, by their place in the load order.
    loading: RwLock<BTreeMap<usize, Loading>>,
    /// What is left to load; taken by [`Registry::load_pending`].
    plan: Mutex<Option<Plan>>,
    /// The secrets backend the config selects: Wasm plugins' secrets resolve through it once
    /// it has loaded.
    secrets_backend: String,
    /// Bumped each time a plugin has loaded or failed, for [`Registry::wait_until`].
    settled: tokio::sync::watch::Sender<()>,
    /// Set when [`Registry::shutdown`] begins: loads still in progress are abandoned.
    closing: tokio::sync::watch::Sender<bool>,
    /// Held while [`Registry::load_pending`] runs, so that shutdown can wait for it to stop
    /// before stopping the plugins (none is added after that).
    load_running: tokio::sync::Mutex<()>,
    metrics: Arc<Metrics>,
    switches: Switches,
}

/// What [`Registry::load_pending`] has left to do.
struct Plan {
    items: Vec<Item>,
    /// `oci.credentials`, resolved through the secrets backend before any OCI pull.
    credentials: Vec<(String, OciCredentials)>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field(
                "entries",
                &self
                    .entries()
                    .iter()
                    .map(|e| e.name.clone())
                    .collect::<Vec<_>>(),
            )
            .field("failures", &self.failures().len())
            .field("loading", &self.loading().len())
            .finish()
    }
}

impl Registry {
    /// Loads every plugin of `config` and every built-in it selects, concurrently. Fails only
    /// when a critical plugin did not load (after shutting down what did).
    pub async fn load(
        config: &HostConfig,
        options: LoadOptions,
    ) -> Result<Registry, CriticalFailure> {
        let enforce_critical = options.enforce_critical;
        let registry = Self::pending(config, options);
        registry.load_pending().await;
        registry.enforce_critical(enforce_critical).await
    }

    /// A registry of every plugin of `config` and every built-in it selects, none loaded yet:
    /// each is listed by [`Registry::loading`] until [`Registry::load_pending`] has loaded it
    /// or recorded why it did not load. Share it and run `load_pending` in a task to use the
    /// plugins that have loaded while slower ones still load.
    pub fn pending(config: &HostConfig, options: LoadOptions) -> Registry {
        let mut items: Vec<Item> = config.plugins.iter().cloned().map(Item::Plugin).collect();
        for selection in &config.selections {
            if let BackendRef::Builtin {
                interface,
                name,
                config: options,
            } = selection
            {
                let duplicate = items.iter().any(|i| {
                    matches!(i, Item::Builtin { interface: j, name: n, .. } if j == interface && n == name)
                });
                if !duplicate {
                    items.push(Item::Builtin {
                        interface: *interface,
                        name: name.clone(),
                        config: options.clone(),
                    });
                }
            }
        }
        Self::with_items(config, options, items)
    }

    /// Loads only the plugin (or selected built-in) `name`, and the secrets backend when it is
    /// a component that is granted secrets (`robodev plugin call --config`).
    pub async fn load_one(
        config: &HostConfig,
        options: LoadOptions,
        name: &str,
    ) -> Result<Registry, Error> {
        let mut items = Vec::new();
        if let Some(spec) = config.plugins.iter().find(|p| p.name == name) {
            items.push(Item::Plugin(spec.clone()));
            let wants_secrets =
                matches!(&spec.source, PluginSource::Component(c) if !c.secrets.is_empty());
            if wants_secrets && config.secrets.name() != name {
                items.push(item_for(config, &config.secrets));
            }
        } else if let Some(selection) = config.selections.iter().find(|s| s.name() == name) {
            items.push(item_for(config, selection));
        } else {
            let mut known: Vec<&str> = config.plugins.iter().map(|p| p.name.as_str()).collect();
            known.extend(config.selections.iter().map(|s| s.name()));
            known.sort_unstable();
            known.dedup();
            return Err(Error::Load {
                plugin: name.to_owned(),
                message: format!(
                    "no plugin or selected built-in backend named {name:?} in {} (it has: {})",
                    config.path.display(),
                    known.join(", ")
                ),
                source: None,
            });
        }
        let enforce_critical = options.enforce_critical;
        let registry = Self::with_items(config, options, items);
        registry.load_pending().await;
        let mut registry = registry
            .enforce_critical(enforce_critical)
            .await
            .map_err(|c| c.failures.into_iter().next().map(|f| f.error))
            .map_err(|e| {
                e.unwrap_or_else(|| Error::Load {
                    plugin: name.to_owned(),
                    message: "did not load".into(),
                    source: None,
                })
            })?;
        let failures = registry
            .failures
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(index) = failures
            .iter()
            .find(|(_, f)| f.name == name)
            .map(|(index, _)| *index)
            && let Some(failure) = failures.remove(&index)
        {
            return Err(failure.error);
        }
        Ok(registry)
    }

    /// The registry of `items`, none loaded yet.
    fn with_items(config: &HostConfig, options: LoadOptions, items: Vec<Item>) -> Registry {
        let loader = Arc::new(Loader {
            runtime: OnceLock::new(),
            cache_dir: options.cache_dir,
            cache_max_bytes: options.cache_max_bytes,
            oci_cache_max_bytes: config.oci.cache_mb.map(|mb| mb << 20),
            oci: OnceLock::new(),
            oci_cache_dir: options.oci_cache_dir,
            oci_credentials: OnceLock::new(),
            insecure_registries: config.oci.insecure_registries.clone(),
            oci_transfer_timeout: config.oci.transfer_timeout,
            oci_ca_files: config.oci.ca_files.clone(),
            trusted: config.signatures.as_ref().map(Trust::read),
            state_dir: config.state_dir.clone(),
            config_dir: config_dir(&config.path),
            config_file: config.path.clone(),
            secret_files: secret_files(config),
            restart: RestartPolicy {
                max_restarts: config.plugin_health.max_plugin_restarts,
                backoff: config.plugin_health.restart_backoff.clone(),
            },
            secrets: BackendSecrets::default(),
        });
        let now = Instant::now();
        let loading = items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let loading = Loading {
                    name: item.name().to_owned(),
                    interface: item.interface(),
                    runtime: item.runtime(),
                    source: item.source(),
                    critical: config
                        .plugin_health
                        .critical_plugins
                        .iter()
                        .any(|c| c == item.name()),
                    since: now,
                };
                (index, loading)
            })
            .collect();
        Registry {
            entries: RwLock::new(BTreeMap::new()),
            previous: Mutex::new(BTreeMap::new()),
            reloading: tokio::sync::Mutex::new(()),
            loader,
            failures: RwLock::new(BTreeMap::new()),
            loading: RwLock::new(loading),
            plan: Mutex::new(Some(Plan {
                items,
                credentials: config.oci.credentials.clone(),
            })),
            secrets_backend: config.secrets.name().to_owned(),
            settled: tokio::sync::watch::Sender::new(()),
            closing: tokio::sync::watch::Sender::new(false),
            load_running: tokio::sync::Mutex::new(()),
            metrics: Arc::new(Metrics::new()),
            switches: Switches::new(),
        }
    }

    /// `Err` (after shutting everything down) when `enforce` and a critical plugin failed.
    async fn enforce_critical(self, enforce: bool) -> Result<Registry, CriticalFailure> {
        if enforce && let Some(critical) = self.critical_failure() {
            self.shutdown().await;
            return Err(critical);
        }
        Ok(self)
    }

    /// Loads what [`Registry::pending`] listed, concurrently; each plugin is usable as soon as
    /// it has loaded. Returns when every one has loaded or failed, or once
    /// [`Registry::shutdown`] has begun (the loads still in progress are then stopped and
    /// recorded as failures). Only the first call loads anything.
    pub async fn load_pending(&self) {
        let _running = self.load_running.lock().await;
        let Some(plan) = self
            .plan
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return;
        };
        if *self.closing.borrow() {
            self.abandon();
            return;
        }
        let mut closing = self.closing.subscribe();
        let closed = async move {
            // The sender lives in `self`, so this only returns once shutdown has begun.
            let _ = closing.wait_for(|closing| *closing).await;
        };
        tokio::pin!(closed);
        let items = &plan.items;
        // Registry credentials and subprocess plugins' granted secrets live in the secrets
        // backend: when something needs them at load, that backend loads first and the rest
        // follow, concurrently.
        let pulls_oci = !plan.credentials.is_empty()
            && items.iter().any(|i| {
                matches!(i, Item::Plugin(PluginSpec { source: PluginSource::Component(c), .. })
                    if matches!(c.location, ComponentLocation::Oci(_)))
            });
        let starts_with_secrets = items.iter().any(|i| {
            matches!(i, Item::Plugin(PluginSpec { source: PluginSource::Subprocess(s), .. })
                if !s.secrets.is_empty())
        });
        let mut loaded_first = None;
        if pulls_oci || starts_with_secrets {
            let secrets = items.iter().position(|i| {
                i.interface() == Interface::Secrets && i.name() == self.secrets_backend
            });
            let backend = match secrets {
                Some(index) => {
                    let started = Instant::now();
                    let result = tokio::select! {
                        result = self.loader.load(&items[index]) => result,
                        () = &mut closed => {
                            self.abandon();
                            return;
                        }
                    };
                    let backend = result.as_ref().ok().map(|e| e.raw.clone());
                    self.settle(index, &items[index], result, started.elapsed());
                    loaded_first = Some(index);
                    backend
                }
                None => None,
            };
            if pulls_oci {
                let _ = self
                    .loader
                    .oci_credentials
                    .set(resolve_credentials(&plan.credentials, backend).await);
            }
        }
        let mut tasks = tokio::task::JoinSet::new();
        let mut task_items = HashMap::new();
        for (index, item) in items.iter().cloned().enumerate() {
            if loaded_first == Some(index) {
                continue;
            }
            let loader = self.loader.clone();
            let task = tasks.spawn(async move {
                let started = Instant::now();
                let result = loader.load(&item).await;
                (result, started.elapsed())
            });
            task_items.insert(task.id(), index);
        }
        loop {
            let joined = tokio::select! {
                joined = tasks.join_next_with_id() => joined,
                () = &mut closed => {
                    tasks.shutdown().await;
                    self.abandon();
                    return;
                }
            };
            let (id, result, took) = match joined {
                None => break,
                Some(Ok((id, (result, took)))) => (id, result.map_err(Some), took),
                Some(Err(e)) => {
                    tracing::error!("a plugin load task failed: {e}");
                    (e.id(), Err(None), Duration::ZERO)
                }
            };
            let Some(&index) = task_items.get(&id) else {
                continue;
            };
            let item = &items[index];
            let result = result.map_err(|e| {
                e.unwrap_or_else(|| Error::Load {
                    plugin: item.name().to_owned(),
                    message: "its load task panicked".into(),
                    source: None,
                })
            });
            self.settle(index, item, result, took);
        }
    }

    /// Records how the load of `items[index]` ended: a loaded plugin is wrapped (metered,
    /// switchable, swappable) and usable from now on.
    fn settle(&self, index: usize, item: &Item, result: Result<Entry, Error>, took: Duration) {
        let critical = self
            .loading
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&index)
            .is_some_and(|l| l.critical);
        match result {
            Ok(mut entry) => {
                // Every call through the registry is metered, traced and switchable.
                // The slot holds `raw` itself, so calls in flight count on it (see `retire`).
                let (backend, slot) = metered::wrap_swappable(
                    entry.raw.clone(),
                    entry.labels(),
                    self.metrics.clone(),
                    self.switches.switch(entry.interface, &entry.name),
                );
                entry.backend = backend;
                entry.slot = Some(slot);
                tracing::info!(
                    plugin = %entry.name,
                    interface = %entry.interface,
                    runtime = %entry.runtime,
                    version = %entry.info.version,
                    "loaded in {:.1} ms",
                    took.as_secs_f64() * 1000.0
                );
                if entry.interface == Interface::Secrets && entry.name == self.secrets_backend {
                    self.loader
                        .secrets
                        .link(entry.name.clone(), entry.backend.clone());
                }
                self.entries
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert((entry.interface, entry.name.clone()), Arc::new(entry));
            }
            Err(error) => {
                if critical {
                    tracing::error!(
                        plugin = item.name(),
                        "critical plugin did not load: {error}"
                    );
                } else {
                    tracing::warn!(plugin = item.name(), "plugin did not load: {error}");
                }
                self.failures
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(
                        index,
                        LoadFailure {
                            name: item.name().to_owned(),
                            interface: item.interface(),
                            runtime: item.runtime(),
                            source: item.source(),
                            error,
                            critical,
                        },
                    );
            }
        }
        // Only now: a reader never finds the plugin neither loading nor settled (see
        // `snapshot`).
        self.loading
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&index);
        self.settled.send_replace(());
    }

    /// Records every plugin still loading as not loaded: robodev is stopping.
    fn abandon(&self) {
        let abandoned =
            std::mem::take(&mut *self.loading.write().unwrap_or_else(PoisonError::into_inner));
        let mut failures = self
            .failures
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for (index, l) in abandoned {
            tracing::info!(plugin = %l.name, "stopped loading: robodev is stopping");
            let error = Error::Load {
                plugin: l.name.clone(),
                message: "robodev stopped before it finished loading".into(),
                source: None,
            };
            failures.insert(
                index,
                LoadFailure {
                    name: l.name,
                    interface: l.interface,
                    runtime: l.runtime,
                    source: l.source,
                    error,
                    critical: l.critical,
                },
            );
        }
        drop(failures);
        self.settled.send_replace(());
    }

    /// Waits until `done` holds, looking again each time a plugin has loaded or failed (e.g.
    /// `|r| !r.is_loading(Interface::Secrets, "vault")`). Never returns if `done` never holds:
    /// callers that may stop meanwhile race it against their own stop signal.
    pub async fn wait_until(&self, mut done: impl FnMut(&Registry) -> bool) {
        let mut settled = self.settled.subscribe();
        while !done(self) {
            // The sender lives in `self`: this cannot fail while `self` exists.
            if settled.changed().await.is_err() {
                return;
            }
        }
    }

    /// Whether plugin `name` of `interface` is still loading.
    pub fn is_loading(&self, interface: Interface, name: &str) -> bool {
        self.loading
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .any(|l| l.interface == interface && l.name == name)
    }

    /// The plugins still loading, in config order.
    pub fn loading(&self) -> Vec<Loading> {
        self.loading
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// The loaded plugins, the ones still loading and the ones that did not load, as one
    /// consistent listing: a plugin that finishes loading meanwhile is listed once, never
    /// twice nor not at all.
    pub fn snapshot(&self) -> (Vec<Arc<Entry>>, Vec<Loading>, Vec<LoadFailure>) {
        // `settle` adds to entries or failures before it removes from loading, so reading
        // loading first and dropping what has settled since lists everything exactly once.
        let loading = self.loading();
        let entries = self.entries();
        let failures = self.failures();
        let settled = |l: &Loading| {
            entries
                .iter()
                .any(|e| e.interface == l.interface && e.name == l.name)
                || failures
                    .iter()
                    .any(|f| f.interface == l.interface && f.name == l.name)
        };
        let loading = loading.into_iter().filter(|l| !settled(l)).collect();
        (entries, loading, failures)
    }

    /// The critical plugins that did not load so far, if any.
    pub fn critical_failure(&self) -> Option<CriticalFailure> {
        let failures: Vec<LoadFailure> =
            self.failures().into_iter().filter(|f| f.critical).collect();
        (!failures.is_empty()).then_some(CriticalFailure { failures })
    }

    /// The plugin `name` of `interface` (its current version).
    pub fn get(&self, interface: Interface, name: &str) -> Option<Arc<Entry>> {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(interface, name.to_owned()))
            .cloned()
    }

    /// The backend a selection names, or why there is none.
    pub fn resolve(&self, selection: &BackendRef) -> Result<AnyBackend, Error> {
        let interface = selection.interface();
        let name = selection.name();
        if let Some(entry) = self.get(interface, name) {
            return Ok(entry.backend.clone());
        }
        // The load failure says it best.
        if let Some(failure) = self
            .failures()
            .into_iter()
            .find(|f| f.name == name && f.interface == interface)
        {
            return Err(failure.error);
        }
        if self.is_loading(interface, name) {
            return Err(Error::Host {
                plugin: name.to_owned(),
                interface,
                message: format!("the {interface} backend {name:?} is still loading"),
                source: None,
            });
        }
        Err(Error::Host {
            plugin: name.to_owned(),
            interface,
            message: format!("the {interface} backend {name:?} is not loaded"),
            source: None,
        })
    }

    /// Every loaded plugin, ordered by interface and name.
    pub fn entries(&self) -> Vec<Arc<Entry>> {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// The plugins that did not load, in config order.
    pub fn failures(&self) -> Vec<LoadFailure> {
        self.failures
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// The call metrics of every plugin (what `/metrics` renders).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The operator's on/off switch of every plugin (the admin API's toggle).
    pub fn switches(&self) -> &Switches {
        &self.switches
    }

    /// Stops every plugin: subprocesses get their graceful Shutdown, then SIGKILL. Loads still
    /// in progress are stopped first (and recorded as failures), so nothing starts afterwards.
    pub async fn shutdown(&self) {
        self.closing.send_replace(true);
        drop(self.load_running.lock().await);
        let mut stops = tokio::task::JoinSet::new();
        let previous: Vec<Arc<Entry>> = self
            .previous
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        for entry in self.entries().iter().chain(&previous) {
            if let Handle::Subprocess(p) = &entry.handle {
                let p = p.clone();
                stops.spawn(async move { p.shutdown().await });
            }
        }
        while stops.join_next().await.is_some() {}
    }
}
