//! `robodev-config.yaml`: parsed in two stages. The raw serde structs ([`raw`]) mirror the
//! file (`deny_unknown_fields`, defaults); [`Config::load`] turns them into the validated
//! [`Config`] below, the only form runtime code sees: durations parsed, paths resolved against
//! the file's directory, plugin names unique, every backend selection resolved to a built-in or
//! to a configured plugin of the right interface.
//!
//! Every error is a [`ConfigError`] naming the file, the line, the key path
//! (`plugins[1].interface_version`) and what was expected, with a "did you mean" for unknown
//! keys and names.
//!
//! The interface version a plugin entry declares is kept as written: comparing it with the
//! host's is the registry's pre-spawn check (a mismatch refuses that plugin, not the file).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use robodev_core::Interface;
use robodev_core::engine::EngineConfig;

mod error;
mod locate;
pub mod raw;
mod validate;

pub use error::ConfigError;

/// How often `robodev run` polls the ticketing backend when the file does not say.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(30);
/// The state directory when the file does not say, relative to the config file's directory.
pub const DEFAULT_STATE_DIR: &str = ".robodev";
/// Agent runs at once when `guardrails.max_concurrent_jobs` is not set.
pub const DEFAULT_MAX_CONCURRENT_JOBS: usize = 2;
/// How long one agent run may take when neither the engine nor the guard rails say.
pub const DEFAULT_MAX_JOB_DURATION: Duration = Duration::from_secs(60 * 60);
/// Tickets asked for per poll when `ticketing.max_results` is not set.
pub const DEFAULT_MAX_RESULTS: i32 = 10;
/// Where the admin API listens when `admin.listen` is not set: loopback only, on the port
/// Prometheus exporters conventionally use.
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9464";

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from (for messages).
    pub path: PathBuf,
    /// `poll_interval`: time between polls of the ticketing backend.
    pub poll_interval: Duration,
    /// `state_dir`: task runs, built-in backends' state, plugin key-value stores.
    pub state_dir: PathBuf,
    /// `cache_dir`: precompiled components; `None` means robodev's default cache directory.
    pub cache_dir: Option<PathBuf>,
    /// `plugins`: every configured Wasm and subprocess plugin, in file order.
    pub plugins: Vec<PluginSpec>,
    /// `plugin_health`.
    pub plugin_health: PluginHealth,
    /// `ticketing`.
    pub ticketing: TicketingSettings,
    /// `notifications.channels`, in order; may be empty.
    pub notifications: Vec<BackendRef>,
    /// `approval`; `None` when no approval backend is configured.
    pub approval: Option<BackendRef>,
    /// `secrets.backend` (default: the built-in `env`).
    pub secrets: BackendRef,
    /// `scm.backend`; `None` when not configured.
    pub scm: Option<BackendRef>,
    /// `review`; `None` when no review gate is configured.
    pub review: Option<ReviewSettings>,
    /// `engines`: the engine that runs tickets.
    pub engine: EngineSettings,
    /// `guardrails`.
    pub guardrails: Guardrails,
    /// `admin`: the admin HTTP API; `None` when the file has no `admin` section (no API).
    pub admin: Option<AdminSettings>,
    /// `oci`: registry access for OCI components.
    pub oci: OciSettings,
    /// `require_signatures` + `trusted_keys`: when set, every component and subprocess binary
    /// must carry a signature by one of these public keys (cosign format), checked before it
    /// is compiled or spawned.
    pub signatures: Option<SignaturePolicy>,
}

/// `oci`: how robodev reaches OCI registries (beyond docker's config.json, which is always read).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OciSettings {
    /// `insecure_registries`: `HOST[:PORT]`s reached over plain HTTP. Loopback registries always
    /// are; anything else needs to be listed here.
    pub insecure_registries: Vec<String>,
    /// `credentials`: per registry, where the secrets backend keeps them.
    pub credentials: Vec<(String, OciCredentials)>,
    /// `transfer_timeout`: how long one pull of a component may take in all (a registry that
    /// trickles must not hold start-up for ever); `None` when the file does not say, for
    /// robodev-oci's default ([`robodev_oci::limits::DEFAULT_TRANSFER_TIMEOUT`], 10 minutes).
    pub transfer_timeout: Option<Duration>,
}

/// Registry credentials, as keys of the secrets backend (resolved when plugins load).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OciCredentials {
    /// HTTP Basic (or exchanged for a token by the registry's token service).
    Basic {
        /// The user name.
        username: String,
        /// The key of the password in the secrets backend.
        password_secret: String,
    },
    /// A bearer token.
    Bearer {
        /// The key of the token in the secrets backend.
        token_secret: String,
    },
}

/// `require_signatures: true` with its `trusted_keys`.
#[derive(Debug, Clone, PartialEq)]
pub struct SignaturePolicy {
    /// Public key files (PEM, ECDSA P-256, as `cosign generate-key-pair` writes cosign.pub),
    /// resolved against the config file's directory.
    pub trusted_keys: Vec<PathBuf>,
}

/// A backend selection (`ticketing.backend: jira`), resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum BackendRef {
    /// A backend compiled into robodev.
    Builtin {
        /// The interface.
        interface: Interface,
        /// The built-in's name (`local`, `log`, `webhook`, `env`, `file`, `rules`).
        name: String,
        /// Its options (the selection's `config:` map), validated by the built-in.
        config: serde_json::Value,
    },
    /// A plugin of the `plugins:` list; its interface matches the selection's.
    Plugin {
        /// The interface.
        interface: Interface,
        /// The plugin's name.
        name: String,
    },
}

impl BackendRef {
    /// The backend's name as configured.
    pub fn name(&self) -> &str {
        match self {
            BackendRef::Builtin { name, .. } | BackendRef::Plugin { name, .. } => name,
        }
    }

    /// The interface it serves.
    pub fn interface(&self) -> Interface {
        match self {
            BackendRef::Builtin { interface, .. } | BackendRef::Plugin { interface, .. } => {
                *interface
            }
        }
    }
}

/// One entry of `plugins:`.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginSpec {
    /// `name`, unique among plugins and distinct from built-in backend names.
    pub name: String,
    /// `type`.
    pub interface: Interface,
    /// `interface_version` as declared (checked against the host's by the registry).
    pub interface_version: u32,
    /// Where the plugin comes from and how it runs.
    pub source: PluginSource,
    /// The line of the entry in the config file, for messages.
    pub line: usize,
}

/// A plugin settings file (`robodev plugin call --plugin-config FILE`): the keys of one
/// `plugins:` entry, read by [`PluginSettings::load`].
#[derive(Debug, Clone, PartialEq)]
pub struct PluginSettings {
    /// `name`, if the file gives one.
    pub name: Option<String>,
    /// `type`, if the file gives one.
    pub interface: Option<Interface>,
    /// `interface_version`, if the file gives one.
    pub interface_version: Option<u32>,
    /// The SOURCE with the file's settings for its kind of plugin.
    pub source: PluginSource,
}

/// Where the plugin of a settings file comes from (the command line's SOURCE): a relative
/// path here is resolved against the settings file's directory, so pass an absolute one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingsSource {
    /// An executable run as a go-plugin subprocess: the file may have subprocess keys.
    Command(String),
    /// A `.wasm` file or `oci://` reference: the file may have component keys.
    Component(String),
}

/// How a plugin runs.
#[derive(Debug, Clone, PartialEq)]
pub enum PluginSource {
    /// A go-plugin gRPC subprocess (`command:`), as RoboDev documents it.
    Subprocess(SubprocessSpec),
    /// A Wasm component (`component:`).
    Component(ComponentSpec),
}

/// A subprocess plugin's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SubprocessSpec {
    /// `command`: a path (relative ones resolved against the config file's directory) or a
    /// bare name looked up in `PATH`.
    pub command: PathBuf,
    /// `args`.
    pub args: Vec<String>,
    /// `env`: extra environment variables.
    pub env: BTreeMap<String, String>,
    /// `auto_mtls` (default true).
    pub auto_mtls: bool,
    /// `start_timeout` (default 30 s).
    pub start_timeout: Duration,
    /// `call_timeout` (default 30 s).
    pub call_timeout: Duration,
}

/// A Wasm component plugin's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentSpec {
    /// `component`: where the component comes from.
    pub location: ComponentLocation,
    /// `digest`: `sha256:<64 hex>`; the component must match it (for an OCI reference, the
    /// manifest digest; it is also folded into the reference as its pin).
    pub digest: Option<String>,
    /// `config`: values the guest reads (strings as they are, anything else as JSON).
    pub config: BTreeMap<String, String>,
    /// `secrets`: guest secret name -> key in the configured secrets backend.
    pub secrets: BTreeMap<String, String>,
    /// `allowed_hosts`.
    pub allowed_hosts: Vec<String>,
    /// `kv`: whether the plugin gets its persistent key-value store (under `state_dir`).
    pub kv: bool,
    /// `read_only_dirs`: guest path -> host directory (resolved against the config file's
    /// directory), mounted read-only.
    pub read_only_dirs: BTreeMap<String, PathBuf>,
    /// `limits.fuel`, `None` for the runtime's default.
    pub fuel: Option<u64>,
    /// `limits.timeout_ms`.
    pub timeout: Option<Duration>,
    /// `limits.memory_mb`.
    pub memory_mb: Option<u64>,
    /// `limits.component_mb`: the largest component file read (default
    /// `robodev_wasm::DEFAULT_MAX_COMPONENT_BYTES`).
    pub component_mb: Option<u64>,
    /// `instance`: fresh store per call or warm instances.
    pub instance: InstanceMode,
}

impl ComponentSpec {
    /// The per-call limits: the entry's, the runtime's defaults for what it leaves out.
    pub fn limits(&self) -> robodev_wasm::Limits {
        let mut limits = robodev_wasm::Limits::default();
        if let Some(fuel) = self.fuel {
            limits.fuel = fuel;
        }
        if let Some(timeout) = self.timeout {
            limits.timeout = timeout;
        }
        if let Some(mb) = self.memory_mb {
            limits = limits.with_memory_mb(mb);
        }
        limits
    }

    /// The largest component file read, in bytes.
    pub fn max_component_bytes(&self) -> u64 {
        self.component_mb
            .map_or(robodev_wasm::DEFAULT_MAX_COMPONENT_BYTES, |mb| {
                mb.saturating_mul(1024 * 1024)
            })
    }

    /// What the guest is granted: its config, its secrets (resolved through `secrets`), its
    /// hosts, its key-value store (under `kv_dir`, when `kv: true`) and its read-only
    /// directories.
    pub fn grants(
        &self,
        secrets: Arc<dyn robodev_wasm::SecretSource>,
        kv_dir: &Path,
    ) -> robodev_wasm::Grants {
        robodev_wasm::Grants {
            config: self.config.clone(),
            secrets: self.secrets.clone(),
            secret_source: Some(secrets),
            allowed_hosts: self.allowed_hosts.clone(),
            kv_dir: self.kv.then(|| kv_dir.to_owned()),
            preopens: self
                .read_only_dirs
                .iter()
                .map(|(guest, host)| robodev_wasm::Preopen {
                    host: host.clone(),
                    guest: guest.clone(),
                })
                .collect(),
        }
    }

    /// Warm instances kept between calls (0: a fresh store per call).
    pub fn warm_instances(&self) -> usize {
        match self.instance {
            InstanceMode::Fresh => 0,
            InstanceMode::Warm(n) => n,
        }
    }
}

impl SubprocessSpec {
    /// How robodev-grpc starts the plugin `name`, which must implement `interface` (when
    /// given), restarting it by `restart`.
    pub fn process_config(
        &self,
        name: &str,
        interface: Option<Interface>,
        restart: robodev_grpc::RestartPolicy,
    ) -> robodev_grpc::SubprocessConfig {
        let mut config = robodev_grpc::SubprocessConfig::new(name, self.command.clone());
        config.args = self.args.clone();
        config.env = self
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        config.interface = interface;
        config.auto_mtls = self.auto_mtls;
        config.start_timeout = self.start_timeout;
        config.call_timeout = self.call_timeout;
        config.restart = restart;
        config
    }
}

/// Where a component plugin comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ComponentLocation {
    /// A `.wasm` file, resolved against the config file's directory.
    File(PathBuf),
    /// An OCI artifact (`oci://REGISTRY/REPO:TAG[@sha256:DIGEST]`), pulled into robodev's
    /// content-addressed cache.
    Oci(robodev_oci::Reference),
}

impl std::fmt::Display for ComponentLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ComponentLocation::File(path) => write!(f, "{}", path.display()),
            ComponentLocation::Oci(reference) => write!(f, "{reference}"),
        }
    }
}

/// `instance:` of a component plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InstanceMode {
    /// `fresh` (default): a new store per call.
    #[default]
    Fresh,
    /// `warm` (`{ warm: N }`): up to N instances kept between calls.
    Warm(usize),
}

/// `plugin_health`.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginHealth {
    /// `max_plugin_restarts` (default 3).
    pub max_plugin_restarts: u32,
    /// `restart_backoff` in seconds (default [1, 5, 30]).
    pub restart_backoff: Vec<Duration>,
    /// `critical_plugins`: names of plugins (or built-in backends) without which robodev must
    /// not run.
    pub critical_plugins: Vec<String>,
}

/// `ticketing`.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketingSettings {
    /// `backend`.
    pub backend: BackendRef,
    /// `labels`: asked for in every poll.
    pub labels: Vec<String>,
    /// `max_results` per poll.
    pub max_results: i32,
}

/// `review`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewSettings {
    /// `backend`.
    pub backend: BackendRef,
    /// `min_score`: a gate result below this fails even when the backend passed it.
    pub min_score: Option<i32>,
}

/// The engine chosen by `engines.default`, with its settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineSettings {
    /// The engine's backend (built-in `local` or an engine plugin).
    pub backend: BackendRef,
    /// What the controller sends in `BuildExecutionSpec` (`image`, `timeout_seconds`, `env`,
    /// `resource_requests`, `resource_limits` of the engine's section).
    pub config: EngineConfig,
}

/// `guardrails`.
#[derive(Debug, Clone, PartialEq)]
pub struct Guardrails {
    /// `allowed_repos`: glob patterns (`*` matches any run of characters); empty allows all.
    pub allowed_repos: Vec<String>,
    /// `allowed_task_types`: empty allows all.
    pub allowed_task_types: Vec<String>,
    /// `max_concurrent_jobs`.
    pub max_concurrent_jobs: usize,
    /// `max_job_duration_minutes`: the ceiling on one agent run.
    pub max_job_duration: Duration,
    /// `require_approval_before_start`: ask the approval backend before running a ticket.
    pub require_approval_before_start: bool,
    /// `max_retries`: how often a failed agent run is retried (default 0).
    pub max_retries: u32,
}

/// `admin`: the admin HTTP API (plugin list, off switches, `/metrics`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSettings {
    /// `listen` (default [`DEFAULT_ADMIN_LISTEN`]): a loopback address unless `allow_remote`
    /// is true, since the API can switch plugins off.
    pub listen: SocketAddr,
    /// `token_secret`: the key, in the configured secrets backend, of the bearer token that
    /// `/api/v1/` routes require (`/metrics` needs none).
    pub token_secret: String,
}
