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

use std::path::PathBuf;
use std::time::Duration;

use robodev_core::Interface;
use robodev_core::engine::EngineConfig;

mod error;
mod locate;
pub mod raw;
mod validate;

pub use error::ConfigError;
pub use validate::is_dns_label;

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
pub use robodev_registry::spec::{
    AdminSettings, BackendRef, ComponentLocation, ComponentSpec, DEFAULT_ADMIN_LISTEN, HostConfig,
    InstanceMode, OciCredentials, OciSettings, PluginHealth, PluginSource, PluginSpec,
    SignaturePolicy, SubprocessSpec,
};

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
    /// `cache_mb`: the compile cache's size cap in MiB; `None` for robodev-wasm's default
    /// ([`robodev_wasm::DEFAULT_COMPILE_CACHE_BYTES`], 2 GiB).
    pub cache_mb: Option<u64>,
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
    /// `executor`: where agents run.
    pub executor: ExecutorSettings,
    /// `leader_election`.
    pub leader_election: LeaderElection,
    /// `task_runs`: where task runs are kept.
    pub task_runs: TaskRunStore,
    /// `admin`: the admin HTTP API; `None` when the file has no `admin` section (no API).
    pub admin: Option<AdminSettings>,
    /// `oci`: registry access for OCI components.
    pub oci: OciSettings,
    /// `require_signatures` + `trusted_keys`: when set, every component and subprocess binary
    /// must carry a signature by one of these public keys (cosign format), checked before it
    /// is compiled or spawned.
    pub signatures: Option<SignaturePolicy>,
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

impl Config {
    /// Every backend selection: ticketing, channels, approval, secrets, scm, review, engine.
    pub fn selections(&self) -> Vec<&BackendRef> {
        let mut all = vec![&self.ticketing.backend];
        all.extend(self.notifications.iter());
        all.extend(self.approval.iter());
        all.push(&self.secrets);
        all.extend(self.scm.iter());
        all.extend(self.review.iter().map(|r| &r.backend));
        all.push(&self.engine.backend);
        all
    }

    /// The plugin half of the configuration, as the plugin host takes it.
    pub fn host(&self) -> HostConfig {
        HostConfig {
            path: self.path.clone(),
            state_dir: self.state_dir.clone(),
            plugins: self.plugins.clone(),
            plugin_health: self.plugin_health.clone(),
            selections: self.selections().into_iter().cloned().collect(),
            secrets: self.secrets.clone(),
            oci: self.oci.clone(),
            signatures: self.signatures.clone(),
            admin: self.admin.clone(),
        }
    }
}

/// `executor`: where agents run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutorSettings {
    /// `local` (default): a process per attempt in a workspace under `state_dir`.
    Local(LocalSettings),
    /// `kubernetes`: a batch/v1 Job per attempt.
    Kubernetes(KubernetesSettings),
}

impl Default for ExecutorSettings {
    fn default() -> Self {
        ExecutorSettings::Local(LocalSettings::default())
    }
}

/// `executor: { kind: local, ... }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSettings {
    /// `keep_failed`: how many failed runs' workspaces are kept for a person to look at, the
    /// most recent ones (default [`DEFAULT_KEEP_FAILED`]); older ones are removed as runs fail.
    /// A succeeded run's workspace is removed at once.
    pub keep_failed: usize,
}

impl Default for LocalSettings {
    fn default() -> Self {
        LocalSettings {
            keep_failed: DEFAULT_KEEP_FAILED,
        }
    }
}

/// How many failed runs' workspaces the local executor keeps when `executor.keep_failed` does
/// not say.
pub const DEFAULT_KEEP_FAILED: usize = 20;

/// `executor: { kind: kubernetes, ... }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubernetesSettings {
    /// `namespace`; `None`: the client's (in a pod, its own namespace).
    pub namespace: Option<String>,
    /// `service_account`: the agent pods' (its token is never mounted).
    pub service_account: Option<String>,
    /// `ttl_after_finished` (default 1h).
    pub ttl_after_finished: Duration,
    /// `runtime_class`, e.g. `gvisor`.
    pub runtime_class: Option<String>,
}

/// `task_runs.store`: where task runs are kept.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TaskRunStore {
    /// `file` (default): one JSON file per run under `state_dir/runs/`.
    #[default]
    File,
    /// `kubernetes`: one TaskRun object (`taskruns.robodev.dev`, the chart's CRD) per run, so
    /// that a restarted or new leader resumes the runs. Needs the kubernetes executor: a local
    /// agent's workspace would not follow the run to another replica.
    Kubernetes {
        /// `namespace`; `None`: the client's (in a pod, its own).
        namespace: Option<String>,
    },
}

/// `leader_election`: one active replica on a `coordination.k8s.io` Lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderElection {
    /// `enabled` (default false; `robodev run --leader-elect` turns it on).
    pub enabled: bool,
    /// `namespace` of the Lease; `None`: the client's.
    pub namespace: Option<String>,
    /// `lease_name` (default `robodev`).
    pub lease_name: String,
    /// `lease_duration` (default 15s): a holder that has not renewed for this long can be
    /// replaced.
    pub lease_duration: Duration,
    /// `renew_deadline` (default 10s, less than the duration): a leader that has not renewed
    /// for this long stops acting.
    pub renew_deadline: Duration,
    /// `retry_period` (default 2s, less than the deadline): how often leaders renew and
    /// standbys try.
    pub retry_period: Duration,
}

impl Default for LeaderElection {
    fn default() -> Self {
        LeaderElection {
            enabled: false,
            namespace: None,
            lease_name: "robodev".into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// How long finished agent Jobs are kept when `executor.ttl_after_finished` does not say.
pub const DEFAULT_JOB_TTL: Duration = Duration::from_secs(3600);

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
