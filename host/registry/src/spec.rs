//! The plugin half of robodev-config.yaml, validated: what the registry loads ([`PluginSpec`]
//! and its [`PluginSource`]), the backend selections it resolves ([`BackendRef`]), restart
//! policy ([`PluginHealth`]), registry access ([`OciSettings`]), the signature policy and the
//! admin API's settings, gathered in a [`HostConfig`]. The controller's config module parses
//! the file into these (with file, line and key path in every error); nothing here reads YAML.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use robodev_core::Interface;

/// Where the admin API listens when `admin.listen` is not set: loopback only, on the port
/// Prometheus exporters conventionally use.
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9464";

/// What the plugin host needs of the configuration: the plugins, every backend selection,
/// and how to reach registries, check signatures and serve the admin API.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// The config file (for messages; relative paths in it were resolved against its
    /// directory).
    pub path: PathBuf,
    /// `state_dir`: built-in backends' state and plugin key-value stores.
    pub state_dir: PathBuf,
    /// `plugins`, in file order.
    pub plugins: Vec<PluginSpec>,
    /// `plugin_health`.
    pub plugin_health: PluginHealth,
    /// Every backend selection (ticketing, channels, approval, secrets, scm, review,
    /// engine), in that order.
    pub selections: Vec<BackendRef>,
    /// The secrets backend's selection (also in `selections`): registry credentials, the
    /// admin token and components' secrets are read through it.
    pub secrets: BackendRef,
    /// `oci`.
    pub oci: OciSettings,
    /// `require_signatures` + `trusted_keys`.
    pub signatures: Option<SignaturePolicy>,
    /// `admin`; `None`: no admin API.
    pub admin: Option<AdminSettings>,
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
    /// `ca_files`: PEM files of CAs trusted for registries besides the built-in (webpki)
    /// roots, resolved against the config file's directory.
    pub ca_files: Vec<PathBuf>,
    /// `cache_mb`: the pulled components' cache size cap in MiB; `None` for robodev-oci's
    /// default ([`robodev_oci::DEFAULT_CACHE_BYTES`], 4 GiB).
    pub cache_mb: Option<u64>,
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
    /// `transparency_log_keys`: public key files (PEM) of the transparency logs whose entries
    /// in a Sigstore bundle are checked and accepted; an entry of any other log is refused.
    pub log_keys: Vec<PathBuf>,
    /// `require_transparency_log`: a bundle must carry a verified log entry.
    pub require_tlog: bool,
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
    /// `env`: the plugin's environment variables.
    pub env: BTreeMap<String, String>,
    /// `secrets`: environment variable -> secrets backend key, resolved when it starts.
    pub secrets: BTreeMap<String, String>,
    /// `inherit_env` and `sandbox`: how it is confined (its `protected` paths are robodev's,
    /// added by whoever starts it).
    pub sandbox: robodev_grpc::Sandbox,
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
        self.process_config_of(name, interface, None, restart)
    }

    /// [`SubprocessSpec::process_config`] with the interface major the config declares.
    pub fn process_config_of(
        &self,
        name: &str,
        interface: Option<Interface>,
        interface_version: Option<u32>,
        restart: robodev_grpc::RestartPolicy,
    ) -> robodev_grpc::SubprocessConfig {
        let mut config = robodev_grpc::SubprocessConfig::new(name, self.command.clone());
        config.args = self.args.clone();
        config.env = self
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        config.sandbox = self.sandbox.clone();
        config.interface = interface;
        config.interface_version = interface_version;
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
