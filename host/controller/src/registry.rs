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

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use robodev_core::secrets::GetSecretRequest;
use robodev_core::{AnyBackend, Error, ErrorCode, Health, Interface, PluginInfo, Refusal};
use robodev_grpc::{RestartPolicy, SubprocessPlugin};
use robodev_wasm::{PluginOptions, Runtime, RuntimeConfig, SecretSource, WasmPlugin};
use sha2::{Digest, Sha256};

use crate::config::{
    BackendRef, ComponentLocation, ComponentSpec, Config, OciCredentials, PluginSource, PluginSpec,
    SubprocessSpec,
};
use crate::metered::{self, CallLabels, Slot, Switches};
use crate::metrics::Metrics;
use robodev_builtins::{self as builtin, BuiltinContext};

/// How a plugin runs (re-exported from `robodev-core`, where the closed sets live).
pub use robodev_core::RuntimeKind;

enum Handle {
    Builtin,
    Wasm(WasmPlugin),
    Subprocess(Arc<SubprocessPlugin>),
}

/// One loaded plugin.
pub struct Entry {
    /// The configured name.
    pub name: String,
    /// The interface it serves.
    pub interface: Interface,
    /// How it runs.
    pub runtime: RuntimeKind,
    /// Where it came from: `built-in`, the component's path, the command.
    pub source: String,
    /// The component's digest (`sha256:...`), for Wasm plugins.
    pub digest: Option<String>,
    /// Who the plugin says it is (its handshake).
    pub info: PluginInfo,
    /// Its trait object: metered, and stable across hot reloads (calls go to the version in
    /// its slot).
    pub backend: AnyBackend,
    /// The loaded version itself, unwrapped (what the slot holds while this entry is current).
    raw: AnyBackend,
    /// Where reloads swap versions in; shared by every version of the plugin.
    slot: Option<Slot>,
    handle: Handle,
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("name", &self.name)
            .field("interface", &self.interface)
            .field("runtime", &self.runtime)
            .field("source", &self.source)
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl Entry {
    /// `name version (digest)`, for reload messages.
    fn describe(&self) -> String {
        match &self.digest {
            Some(d) => format!(
                "{} {} ({})",
                self.info.name,
                self.info.version,
                &d[..d.len().min(19)]
            ),
            None => format!("{} {}", self.info.name, self.info.version),
        }
    }

    /// A second entry for the same loaded version (for a rollback, which re-installs it).
    fn clone_of(entry: &Entry) -> Entry {
        Entry {
            name: entry.name.clone(),
            interface: entry.interface,
            runtime: entry.runtime,
            source: entry.source.clone(),
            digest: entry.digest.clone(),
            info: entry.info.clone(),
            backend: entry.backend.clone(),
            raw: entry.raw.clone(),
            slot: entry.slot.clone(),
            handle: match &entry.handle {
                Handle::Builtin => Handle::Builtin,
                Handle::Wasm(p) => Handle::Wasm(p.clone()),
                Handle::Subprocess(p) => Handle::Subprocess(p.clone()),
            },
        }
    }

    /// Whether it can take calls now.
    pub fn health(&self) -> Health {
        match &self.handle {
            Handle::Builtin | Handle::Wasm(_) => Health::Serving,
            Handle::Subprocess(p) => p.health(),
        }
    }

    /// The plugin as `robodev plugins list --json` and the admin API show it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "interface": self.interface.name(),
            "interfaceVersion": self.interface.version(),
            "runtime": self.runtime.label(),
            "pluginName": self.info.name,
            "version": self.info.version,
            "source": self.source,
            "digest": self.digest,
            "health": self.health().to_string(),
            "counters": self.counters(),
        })
    }

    /// Calls so far and failures by kind (Wasm plugins), restarts (subprocesses).
    pub fn counters(&self) -> serde_json::Value {
        match self.runtime_counters() {
            RuntimeCounters::Builtin => serde_json::json!({}),
            RuntimeCounters::Wasm(stats) => serde_json::json!({
                "calls": stats.calls,
                "fuelConsumed": stats.fuel_consumed,
                "memoryHighWaterBytes": stats.memory_high_water_bytes,
                "domainErrors": stats.domain_errors,
                "failures": stats.failures.iter().map(|(k, n)| (k.to_string(), *n)).collect::<BTreeMap<_, _>>(),
            }),
            RuntimeCounters::Subprocess { restarts, pid } => serde_json::json!({
                "restarts": restarts,
                "pid": pid,
            }),
        }
    }

    /// What its runtime counts, typed (metrics read these; the admin API shows
    /// [`Entry::counters`]).
    pub fn runtime_counters(&self) -> RuntimeCounters {
        match &self.handle {
            Handle::Builtin => RuntimeCounters::Builtin,
            Handle::Wasm(p) => RuntimeCounters::Wasm(p.stats()),
            Handle::Subprocess(p) => RuntimeCounters::Subprocess {
                restarts: p.restarts(),
                pid: p.pid(),
            },
        }
    }
}

/// A plugin's runtime counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeCounters {
    /// A built-in keeps none.
    Builtin,
    /// A Wasm plugin's call statistics.
    Wasm(robodev_wasm::CallStats),
    /// A subprocess plugin's restarts and current process.
    Subprocess {
        /// Restarts after crashes.
        restarts: u32,
        /// The running process, if any.
        pid: Option<u32>,
    },
}

/// What a reload or a rollback changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swapped {
    /// The plugin.
    pub plugin: String,
    /// Its interface.
    pub interface: Interface,
    /// The version that was serving (`name version (digest)`).
    pub from: String,
    /// The version serving now.
    pub to: String,
}

/// How long a retired version may take to finish its calls before it is stopped anyway.
const RETIRE_GRACE: Duration = Duration::from_secs(120);

/// Stops a version nobody can call any more once its calls in flight have ended.
async fn retire(old: Arc<Entry>) {
    let started = std::time::Instant::now();
    // The entry holds one reference to the backend; every call in flight holds another.
    while in_flight(&old.raw) > 0 && started.elapsed() < RETIRE_GRACE {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if let Handle::Subprocess(p) = &old.handle {
        p.shutdown().await;
    }
    tracing::debug!(plugin = %old.name, "retired {}", old.describe());
}

/// Calls in flight on `backend`, beyond the one reference its entry holds.
fn in_flight(backend: &AnyBackend) -> usize {
    let count = match backend {
        AnyBackend::Ticketing(b) => Arc::strong_count(b),
        AnyBackend::Notifications(b) => Arc::strong_count(b),
        AnyBackend::Approval(b) => Arc::strong_count(b),
        AnyBackend::Secrets(b) => Arc::strong_count(b),
        AnyBackend::Scm(b) => Arc::strong_count(b),
        AnyBackend::Review(b) => Arc::strong_count(b),
        AnyBackend::Engine(b) => Arc::strong_count(b),
    };
    count.saturating_sub(1)
}

/// A plugin that did not load.
#[derive(Debug, Clone)]
pub struct LoadFailure {
    /// The configured name.
    pub name: String,
    /// The configured interface.
    pub interface: Interface,
    /// How it would have run.
    pub runtime: RuntimeKind,
    /// Where it would have come from.
    pub source: String,
    /// Why it did not load.
    pub error: Error,
    /// Whether it is in `plugin_health.critical_plugins`.
    pub critical: bool,
}

impl LoadFailure {
    /// The failure as `robodev plugins list --json` and the admin API show it.
    pub fn to_json(&self) -> serde_json::Value {
        let health = if self.error.outcome() == robodev_core::Outcome::Refused {
            "refused"
        } else {
            "failed"
        };
        serde_json::json!({
            "name": self.name,
            "interface": self.interface.name(),
            "interfaceVersion": self.interface.version(),
            "runtime": self.runtime.label(),
            "source": self.source,
            "health": health,
            "error": self.error.to_json(),
            "critical": self.critical,
        })
    }
}

/// A plugin that is still loading (see [`Registry::pending`]).
#[derive(Debug, Clone)]
pub struct Loading {
    /// The configured name.
    pub name: String,
    /// The configured interface.
    pub interface: Interface,
    /// How it will run.
    pub runtime: RuntimeKind,
    /// Where it comes from.
    pub source: String,
    /// Whether it is in `plugin_health.critical_plugins`.
    pub critical: bool,
    /// When its load began (or was queued).
    pub since: Instant,
}

impl Loading {
    /// The plugin as the admin API shows it while it loads: health `loading`, and for how long.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "interface": self.interface.name(),
            "interfaceVersion": self.interface.version(),
            "runtime": self.runtime.label(),
            "source": self.source,
            "health": "loading",
            "loadingSeconds": self.since.elapsed().as_secs(),
            "critical": self.critical,
        })
    }
}

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

/// Where the registry keeps what it needs on disk.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Precompiled component cache; `None` compiles on every load.
    pub cache_dir: Option<PathBuf>,
    /// Where components pulled from OCI registries are kept (content-addressed); `None` is
    /// robodev-oci's default (`$XDG_CACHE_HOME/robodev/oci`).
    pub oci_cache_dir: Option<PathBuf>,
    /// Fail when a critical plugin does not load (`robodev run`); `robodev plugins list`
    /// reports instead. Only [`Registry::load`] and [`Registry::load_one`] look at it: with
    /// [`Registry::pending`] the caller checks [`Registry::critical_failure`].
    pub enforce_critical: bool,
}

/// The pre-spawn check: does the plugin declare the interface version robodev implements?
/// Reads nothing and runs nothing of the plugin.
pub fn precheck(spec: &PluginSpec) -> Result<(), Error> {
    let expected = spec.interface.version();
    if spec.interface_version == expected {
        Ok(())
    } else {
        Err(Error::Refused {
            plugin: spec.name.clone(),
            refusal: Refusal::VersionMismatch {
                interface: spec.interface,
                declared: spec.interface_version,
                expected,
            },
        })
    }
}

/// Resolves a Wasm plugin's granted secrets through the configured secrets backend, once the
/// registry has linked it (until then, and if that backend failed to load, a read fails with
/// a message saying so).
#[derive(Clone, Default)]
pub struct BackendSecrets {
    slot: Arc<OnceLock<(String, AnyBackend)>>,
}

impl BackendSecrets {
    fn link(&self, name: String, backend: AnyBackend) {
        let _ = self.slot.set((name, backend));
    }
}

#[async_trait]
impl SecretSource for BackendSecrets {
    async fn get(&self, key: &str) -> Result<Option<String>, String> {
        let Some((name, AnyBackend::Secrets(backend))) = self.slot.get() else {
            return Err("the secrets backend is not loaded".into());
        };
        match backend
            .get_secret(GetSecretRequest {
                key: key.to_owned(),
            })
            .await
        {
            Ok(response) => Ok(Some(response.value)),
            Err(Error::Plugin { error, .. }) if error.code == ErrorCode::NotFound => Ok(None),
            // The backend's message, never a value: backends do not put values in errors.
            Err(e) => Err(format!("secrets backend {name:?}: {e}")),
        }
    }
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

/// What to load: a configured plugin or a selected built-in.
#[derive(Debug, Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "a few items per load, consumed at once: boxing would buy nothing"
)]
enum Item {
    Plugin(PluginSpec),
    Builtin {
        interface: Interface,
        name: String,
        config: serde_json::Value,
    },
}

impl Item {
    fn name(&self) -> &str {
        match self {
            Item::Plugin(spec) => &spec.name,
            Item::Builtin { name, .. } => name,
        }
    }

    fn interface(&self) -> Interface {
        match self {
            Item::Plugin(spec) => spec.interface,
            Item::Builtin { interface, .. } => *interface,
        }
    }

    fn runtime(&self) -> RuntimeKind {
        match self {
            Item::Plugin(PluginSpec {
                source: PluginSource::Component(_),
                ..
            }) => RuntimeKind::Wasm,
            Item::Plugin(_) => RuntimeKind::Subprocess,
            Item::Builtin { .. } => RuntimeKind::Builtin,
        }
    }

    fn source(&self) -> String {
        match self {
            Item::Plugin(PluginSpec {
                source: PluginSource::Component(c),
                ..
            }) => c.location.to_string(),
            Item::Plugin(PluginSpec {
                source: PluginSource::Subprocess(s),
                ..
            }) => s.command.display().to_string(),
            Item::Builtin { .. } => "built-in".into(),
        }
    }
}

/// Every backend selection of the config: ticketing, channels, approval, secrets, scm,
/// review, engine.
pub fn selections(config: &Config) -> Vec<&BackendRef> {
    let mut all = vec![&config.ticketing.backend];
    all.extend(config.notifications.iter());
    all.extend(config.approval.iter());
    all.push(&config.secrets);
    all.extend(config.scm.iter());
    all.extend(config.review.iter().map(|r| &r.backend));
    all.push(&config.engine.backend);
    all
}

/// The shared pieces every load needs.
struct Loader {
    runtime: OnceLock<Result<Runtime, Error>>,
    cache_dir: Option<PathBuf>,
    oci: OnceLock<Option<robodev_oci::Client>>,
    oci_cache_dir: Option<PathBuf>,
    /// Registry credentials resolved from the secrets backend (`oci.credentials`).
    oci_credentials: OnceLock<Vec<(String, robodev_oci::Credentials)>>,
    /// `oci.insecure_registries`.
    insecure_registries: Vec<String>,
    /// `oci.transfer_timeout`; `None` for robodev-oci's default.
    oci_transfer_timeout: Option<Duration>,
    /// `Some` when signatures are required: the trusted keys, or why they cannot be read.
    trusted: Option<Result<robodev_oci::TrustedKeys, String>>,
    state_dir: PathBuf,
    config_dir: PathBuf,
    restart: RestartPolicy,
    secrets: BackendSecrets,
}

impl Loader {
    /// The trusted keys when signatures are required; `Ok(None)` when they are not.
    fn trusted(&self, plugin: &str) -> Result<Option<&robodev_oci::TrustedKeys>, Error> {
        match &self.trusted {
            None => Ok(None),
            Some(Ok(keys)) => Ok(Some(keys)),
            Some(Err(e)) => Err(Error::Load {
                plugin: plugin.to_owned(),
                message: format!("cannot read the trusted keys: {e}"),
                source: None,
            }),
        }
    }

    /// Checks the detached signature (`FILE.sig`) of a file when signatures are required.
    async fn verify_file(&self, plugin: &str, file: &Path) -> Result<(), Error> {
        let Some(keys) = self.trusted(plugin)? else {
            return Ok(());
        };
        let signer = robodev_oci::signature::verify_blob_file(file, keys)
            .await
            .map_err(|e| signature_refusal(plugin, e))?;
        tracing::info!(plugin, "{} is signed by {signer}", file.display());
        Ok(())
    }

    fn oci(&self) -> Result<&robodev_oci::Client, Error> {
        let client = self.oci.get_or_init(|| {
            let dir = self
                .oci_cache_dir
                .clone()
                .or_else(robodev_oci::ClientOptions::default_cache_dir)?;
            let mut options = robodev_oci::ClientOptions::new(dir);
            for host in &self.insecure_registries {
                options = options.insecure_host(host.clone());
            }
            if let Some(timeout) = self.oci_transfer_timeout {
                options = options.transfer_timeout(timeout);
            }
            for (registry, credentials) in self.oci_credentials.get().into_iter().flatten() {
                options = options.credentials(registry.clone(), credentials.clone());
            }
            Some(robodev_oci::Client::new(options))
        });
        client.as_ref().ok_or_else(|| Error::Load {
            plugin: String::new(),
            message: "no directory for the OCI cache (set XDG_CACHE_HOME or HOME)".into(),
            source: None,
        })
    }

    fn runtime(&self) -> Result<&Runtime, Error> {
        self.runtime
            .get_or_init(|| {
                Runtime::new(RuntimeConfig {
                    cache_dir: self.cache_dir.clone(),
                    ..Default::default()
                })
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    async fn load(&self, item: &Item) -> Result<Entry, Error> {
        match item {
            Item::Builtin {
                interface,
                name,
                config,
            } => {
                let context = BuiltinContext {
                    config_dir: self.config_dir.clone(),
                    state_dir: self.state_dir.clone(),
                };
                let backend = builtin::create(*interface, name, config, &context).await?;
                let info = backend.handshake().await?;
                Ok(Entry {
                    name: name.clone(),
                    interface: *interface,
                    runtime: RuntimeKind::Builtin,
                    source: "built-in".into(),
                    digest: None,
                    info,
                    raw: backend.clone(),
                    backend,
                    slot: None,
                    handle: Handle::Builtin,
                })
            }
            Item::Plugin(spec) => {
                precheck(spec)?;
                match &spec.source {
                    PluginSource::Component(c) => self.load_component(spec, c).await,
                    PluginSource::Subprocess(s) => self.load_subprocess(spec, s).await,
                }
            }
        }
    }

    async fn load_component(&self, spec: &PluginSpec, c: &ComponentSpec) -> Result<Entry, Error> {
        let (path, manifest_digest) = match &c.location {
            ComponentLocation::File(path) => {
                self.verify_file(&spec.name, path).await?;
                (path.clone(), None)
            }
            ComponentLocation::Oci(reference) => {
                let pulled = self
                    .oci()?
                    .pull(reference)
                    .await
                    .map_err(|e| oci_error(&spec.name, e))?;
                tracing::info!(
                    plugin = %spec.name,
                    reference = %reference,
                    digest = %pulled.digest,
                    offline = pulled.offline,
                    "component {} resolved to {}{}",
                    reference,
                    pulled.digest,
                    if pulled.offline { " (registry unreachable: from the cache)" } else { "" }
                );
                if let Some(keys) = self.trusted(&spec.name)? {
                    let signer = robodev_oci::signature::verify_artifact(
                        self.oci()?,
                        &pulled.reference,
                        keys,
                    )
                    .await
                    .map_err(|e| signature_refusal(&spec.name, e))?;
                    tracing::info!(plugin = %spec.name, "{} is signed by {signer}", pulled.reference);
                }
                (pulled.path, Some(pulled.digest))
            }
        };
        let limit = c.max_component_bytes();
        let bytes = robodev_wasm::read_component(&spec.name, &path, limit).await?;
        let found = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        // An OCI pin is the manifest's digest, checked by the pull; a file's is its own.
        if manifest_digest.is_none()
            && let Some(expected) = &c.digest
            && *expected != found
        {
            // Refused before a byte of it is compiled.
            return Err(Error::Refused {
                plugin: spec.name.clone(),
                refusal: Refusal::DigestMismatch {
                    expected: expected.clone(),
                    found,
                },
            });
        }
        let runtime = self.runtime()?;
        let loaded = runtime.load_bytes(&spec.name, bytes).await?;
        let plugin = runtime
            .instantiate(
                loaded,
                PluginOptions {
                    max_component_bytes: Some(limit),
                    name: spec.name.clone(),
                    expected: Some(spec.interface),
                    limits: c.limits(),
                    grants: c.grants(Arc::new(self.secrets.clone()), &self.state_dir.join("kv")),
                    warm_instances: c.warm_instances(),
                },
            )
            .await?;
        Ok(Entry {
            name: spec.name.clone(),
            interface: spec.interface,
            runtime: RuntimeKind::Wasm,
            source: c.location.to_string(),
            // What operators pin: the manifest digest of an OCI artifact, else the file's.
            digest: Some(manifest_digest.unwrap_or_else(|| plugin.digest().to_owned())),
            info: plugin.plugin_info().clone(),
            backend: plugin.backend(),
            raw: plugin.backend(),
            slot: None,
            handle: Handle::Wasm(plugin),
        })
    }

    async fn load_subprocess(&self, spec: &PluginSpec, s: &SubprocessSpec) -> Result<Entry, Error> {
        if self.trusted(&spec.name)?.is_some() {
            let binary = find_executable(&s.command).ok_or_else(|| Error::Load {
                plugin: spec.name.clone(),
                message: format!("{} not found (looked in PATH)", s.command.display()),
                source: None,
            })?;
            self.verify_file(&spec.name, &binary).await?;
        }
        let config = s.process_config(&spec.name, Some(spec.interface), self.restart.clone());
        let plugin = SubprocessPlugin::launch(config).await?;
        Ok(Entry {
            name: spec.name.clone(),
            interface: spec.interface,
            runtime: RuntimeKind::Subprocess,
            source: s.command.display().to_string(),
            digest: None,
            info: plugin.info(),
            backend: plugin.backend(),
            raw: plugin.backend(),
            slot: None,
            handle: Handle::Subprocess(Arc::new(plugin)),
        })
    }
}

impl Registry {
    /// Loads every plugin of `config` and every built-in it selects, concurrently. Fails only
    /// when a critical plugin did not load (after shutting down what did).
    pub async fn load(config: &Config, options: LoadOptions) -> Result<Registry, CriticalFailure> {
        let enforce_critical = options.enforce_critical;
        let registry = Self::pending(config, options);
        registry.load_pending().await;
        registry.enforce_critical(enforce_critical).await
    }

    /// A registry of every plugin of `config` and every built-in it selects, none loaded yet:
    /// each is listed by [`Registry::loading`] until [`Registry::load_pending`] has loaded it
    /// or recorded why it did not load. Share it and run `load_pending` in a task to use the
    /// plugins that have loaded while slower ones still load.
    pub fn pending(config: &Config, options: LoadOptions) -> Registry {
        let mut items: Vec<Item> = config.plugins.iter().cloned().map(Item::Plugin).collect();
        for selection in selections(config) {
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
        config: &Config,
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
        } else if let Some(selection) = selections(config).into_iter().find(|s| s.name() == name) {
            items.push(item_for(config, selection));
        } else {
            let mut known: Vec<&str> = config.plugins.iter().map(|p| p.name.as_str()).collect();
            known.extend(selections(config).iter().map(|s| s.name()));
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
    fn with_items(config: &Config, options: LoadOptions, items: Vec<Item>) -> Registry {
        let loader = Arc::new(Loader {
            runtime: OnceLock::new(),
            cache_dir: options.cache_dir,
            oci: OnceLock::new(),
            oci_cache_dir: options.oci_cache_dir,
            oci_credentials: OnceLock::new(),
            insecure_registries: config.oci.insecure_registries.clone(),
            oci_transfer_timeout: config.oci.transfer_timeout,
            trusted: config.signatures.as_ref().map(|policy| {
                robodev_oci::TrustedKeys::from_pem_files(&policy.trusted_keys)
                    .map_err(|e| e.to_string())
            }),
            state_dir: config.state_dir.clone(),
            config_dir: config_dir(&config.path),
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
        // Registry credentials live in the secrets backend: when OCI components need them,
        // that backend loads first and the rest follow, concurrently.
        let pulls_oci = items.iter().any(|i| {
            matches!(i, Item::Plugin(PluginSpec { source: PluginSource::Component(c), .. })
                if matches!(c.location, ComponentLocation::Oci(_)))
        });
        let mut loaded_first = None;
        if pulls_oci && !plan.credentials.is_empty() {
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
            let _ = self
                .loader
                .oci_credentials
                .set(resolve_credentials(&plan.credentials, backend).await);
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
                    CallLabels::of(&entry),
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

    /// Loads plugin `spec.name` again from `spec` (its entry in the config as it is now) beside
    /// the running version: the same checks as at start (interface version declared and
    /// reported, digest, signature), then one atomic swap. Calls in flight finish on the old
    /// version; the old version stays loaded for [`Registry::rollback`], and the one before it
    /// is stopped once its last call has finished. A failed load changes nothing.
    pub async fn reload(&self, spec: &PluginSpec) -> Result<Swapped, Error> {
        let _one_at_a_time = self.reloading.lock().await;
        let current = self.current(spec.interface, &spec.name)?;
        let fresh = self.loader.load(&Item::Plugin(spec.clone())).await?;
        let swapped = self.install(current, fresh)?;
        tracing::info!(plugin = %spec.name, "reloaded: {} -> {}", swapped.from, swapped.to);
        Ok(swapped)
    }

    /// Swaps plugin `name` of `interface` back to the version its last reload replaced (and
    /// keeps the current one for a roll forward).
    pub async fn rollback(&self, interface: Interface, name: &str) -> Result<Swapped, Error> {
        let _one_at_a_time = self.reloading.lock().await;
        let current = self.current(interface, name)?;
        let key = (interface, name.to_owned());
        let previous = self
            .previous
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key)
            .ok_or_else(|| Error::Load {
                plugin: name.to_owned(),
                message: "there is no previous version to roll back to (it was never reloaded)"
                    .into(),
                source: None,
            })?;
        let swapped = self.install(current, Entry::clone_of(&previous))?;
        tracing::warn!(
            plugin = name,
            "rolled back: {} -> {}",
            swapped.from,
            swapped.to
        );
        Ok(swapped)
    }

    fn current(&self, interface: Interface, name: &str) -> Result<Arc<Entry>, Error> {
        let current = self.get(interface, name).ok_or_else(|| Error::Load {
            plugin: name.to_owned(),
            message: format!(
                "no loaded {interface} plugin {name:?} (plugins are added and removed at start)"
            ),
            source: None,
        })?;
        if current.runtime == RuntimeKind::Builtin {
            return Err(Error::Load {
                plugin: name.to_owned(),
                message: "built-in backends are part of robodev and are not reloaded".into(),
                source: None,
            });
        }
        Ok(current)
    }

    /// Makes `fresh` the current version of `current`'s plugin.
    fn install(&self, current: Arc<Entry>, mut fresh: Entry) -> Result<Swapped, Error> {
        let slot = current.slot.clone().ok_or_else(|| Error::Load {
            plugin: current.name.clone(),
            message: "this plugin cannot be swapped".into(),
            source: None,
        })?;
        if fresh.interface != current.interface {
            return Err(Error::Refused {
                plugin: current.name.clone(),
                refusal: Refusal::WrongInterface {
                    expected: current.interface,
                    found: fresh.interface,
                },
            });
        }
        slot.swap(fresh.raw.clone()).map_err(|_| Error::Load {
            plugin: current.name.clone(),
            message: "the new version serves another interface".into(),
            source: None,
        })?;
        fresh.backend = current.backend.clone();
        fresh.slot = Some(slot);
        let swapped = Swapped {
            plugin: current.name.clone(),
            interface: current.interface,
            from: current.describe(),
            to: fresh.describe(),
        };
        let key = (current.interface, current.name.clone());
        self.entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone(), Arc::new(fresh));
        let retired = self
            .previous
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, current);
        if let Some(old) = retired {
            tokio::spawn(retire(old));
        }
        Ok(swapped)
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

fn item_for(config: &Config, selection: &BackendRef) -> Item {
    match selection {
        BackendRef::Builtin {
            interface,
            name,
            config,
        } => Item::Builtin {
            interface: *interface,
            name: name.clone(),
            config: config.clone(),
        },
        BackendRef::Plugin { name, .. } => config
            .plugins
            .iter()
            .find(|p| &p.name == name)
            .cloned()
            .map(Item::Plugin)
            .unwrap_or_else(|| Item::Builtin {
                interface: selection.interface(),
                name: name.clone(),
                config: serde_json::Value::Null,
            }),
    }
}

/// `oci.credentials` with their secrets read from `secrets` (the secrets backend); a registry
/// whose secrets cannot be read gets none (its pulls then fail as unauthorized, and the log
/// says why).
async fn resolve_credentials(
    wanted: &[(String, OciCredentials)],
    secrets: Option<AnyBackend>,
) -> Vec<(String, robodev_oci::Credentials)> {
    let Some(AnyBackend::Secrets(secrets)) = secrets else {
        if !wanted.is_empty() {
            tracing::error!(
                "oci.credentials: the secrets backend did not load; registries get no credentials"
            );
        }
        return Vec::new();
    };
    let read = |key: String| {
        let secrets = secrets.clone();
        async move {
            secrets
                .get_secret(GetSecretRequest { key: key.clone() })
                .await
                .map(|r| r.value)
                .map_err(|e| format!("secret {key:?}: {e}"))
        }
    };
    let mut resolved = Vec::new();
    for (registry, credentials) in wanted {
        let result = match credentials {
            OciCredentials::Basic {
                username,
                password_secret,
            } => read(password_secret.clone())
                .await
                .map(|p| robodev_oci::Credentials::basic(username.clone(), p)),
            OciCredentials::Bearer { token_secret } => read(token_secret.clone())
                .await
                .map(robodev_oci::Credentials::bearer),
        };
        match result {
            Ok(c) => resolved.push((registry.clone(), c)),
            Err(e) => tracing::error!(
                "oci.credentials.{registry}: {e}; this registry gets no credentials"
            ),
        }
    }
    resolved
}

/// A signature problem as a refusal; a registry that cannot be asked stays a load error.
fn signature_refusal(plugin: &str, error: robodev_oci::SignatureError) -> Error {
    match error {
        robodev_oci::SignatureError::Oci(e) => oci_error(plugin, e),
        other => Error::Refused {
            plugin: plugin.to_owned(),
            refusal: Refusal::Signature {
                detail: other.to_string(),
            },
        },
    }
}

/// The file a command runs: a path as it is, a bare name looked up in `PATH`.
fn find_executable(command: &Path) -> Option<PathBuf> {
    if command.components().count() > 1 {
        return Some(command.to_owned());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(command))
            .find(|candidate| candidate.is_file())
    })
}

/// An OCI pull's error as a load outcome: a digest that does not match or an artifact that is
/// no Wasm component is a refusal (exit 4); anything else (auth, network, registry) a load error.
fn oci_error(plugin: &str, error: robodev_oci::Error) -> Error {
    match error {
        robodev_oci::Error::DigestMismatch {
            expected, found, ..
        } => Error::Refused {
            plugin: plugin.to_owned(),
            refusal: Refusal::DigestMismatch { expected, found },
        },
        robodev_oci::Error::NotAWasmArtifact { .. } => Error::Refused {
            plugin: plugin.to_owned(),
            refusal: Refusal::NotAComponent {
                detail: error.to_string(),
            },
        },
        other => Error::Load {
            plugin: plugin.to_owned(),
            message: other.to_string(),
            source: None,
        },
    }
}

/// The directory relative paths of a config file resolve against.
pub fn config_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    }
}
