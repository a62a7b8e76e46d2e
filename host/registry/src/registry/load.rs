//! Loading: what to load ([`Item`]), the shared pieces every load needs ([`Loader`]: the Wasm
//! runtime, the OCI client, trusted keys, credentials), and the checks before anything of a
//! plugin runs ([`precheck`], digests, signatures).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use robodev_core::secrets::GetSecretRequest;
use robodev_core::{AnyBackend, Error, ErrorCode, Interface, Refusal};
use robodev_grpc::{RestartPolicy, SubprocessPlugin};
use robodev_wasm::{PluginOptions, Runtime, RuntimeConfig, SecretSource, SourceError};
use sha2::{Digest, Sha256};

use crate::spec::{
    BackendRef, ComponentLocation, ComponentSpec, HostConfig, OciCredentials, PluginSource,
    PluginSpec, SubprocessSpec,
};
use robodev_builtins::{self as builtin, BuiltinContext};

use super::{Entry, Handle, RuntimeKind};

/// Where the registry keeps what it needs on disk.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Precompiled component cache; `None` compiles on every load.
    pub cache_dir: Option<PathBuf>,
    /// Its size cap, bytes; `None` for robodev-wasm's default.
    pub cache_max_bytes: Option<u64>,
    /// Where components pulled from OCI registries are kept (content-addressed); `None` is
    /// robodev-oci's default (`$XDG_CACHE_HOME/robodev/oci`).
    pub oci_cache_dir: Option<PathBuf>,
    /// Fail when a critical plugin does not load (`robodev run`); `robodev plugins list`
    /// reports instead. Only [`Registry::load`] and [`Registry::load_one`] look at it: with
    /// [`Registry::pending`] the caller checks [`Registry::critical_failure`].
    pub enforce_critical: bool,
}

impl LoadOptions {
    /// Every component compiled at load (no compile cache), pulled components in robodev-oci's
    /// default cache, critical plugins enforced: what tests, fuzzers and benches load with.
    pub fn no_compile_cache() -> LoadOptions {
        LoadOptions {
            cache_dir: None,
            cache_max_bytes: None,
            oci_cache_dir: None,
            enforce_critical: true,
        }
    }
}

/// The pre-spawn check: does the plugin declare an interface version robodev serves (the
/// current major or an older one it adapts)? Reads nothing and runs nothing of the plugin.
pub fn precheck(spec: &PluginSpec) -> Result<(), Error> {
    if spec.interface.serves(spec.interface_version) {
        Ok(())
    } else {
        Err(Error::Refused {
            plugin: spec.name.clone(),
            refusal: Refusal::VersionMismatch {
                interface: spec.interface,
                declared: spec.interface_version,
                expected: spec.interface.version(),
            },
        })
    }
}

/// After loading: the major the plugin implements (a component's export, a subprocess's
/// handshake) must be the one its config declares.
pub fn check_major(spec: &PluginSpec, found: u32) -> Result<(), Error> {
    if found == spec.interface_version {
        Ok(())
    } else {
        Err(Error::Refused {
            plugin: spec.name.clone(),
            refusal: Refusal::VersionDisagrees {
                interface: spec.interface,
                declared: spec.interface_version,
                found,
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
    pub(crate) fn link(&self, name: String, backend: AnyBackend) {
        let _ = self.slot.set((name, backend));
    }
}

#[async_trait]
impl SecretSource for BackendSecrets {
    async fn get(&self, key: &str) -> Result<Option<String>, SourceError> {
        let Some((name, AnyBackend::Secrets(backend))) = self.slot.get() else {
            return Err(SourceError::Unavailable(
                "the secrets backend is not loaded".into(),
            ));
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
            Err(source) => Err(SourceError::Backend {
                backend: name.clone(),
                source,
            }),
        }
    }
}

/// What to load: a configured plugin or a selected built-in.
#[derive(Debug, Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "a few items per load, consumed at once: boxing would buy nothing"
)]
pub(crate) enum Item {
    Plugin(PluginSpec),
    Builtin {
        interface: Interface,
        name: String,
        config: serde_json::Value,
    },
}

impl Item {
    pub(crate) fn name(&self) -> &str {
        match self {
            Item::Plugin(spec) => &spec.name,
            Item::Builtin { name, .. } => name,
        }
    }

    pub(crate) fn interface(&self) -> Interface {
        match self {
            Item::Plugin(spec) => spec.interface,
            Item::Builtin { interface, .. } => *interface,
        }
    }

    pub(crate) fn runtime(&self) -> RuntimeKind {
        match self {
            Item::Plugin(PluginSpec {
                source: PluginSource::Component(_),
                ..
            }) => RuntimeKind::Wasm,
            Item::Plugin(_) => RuntimeKind::Subprocess,
            Item::Builtin { .. } => RuntimeKind::Builtin,
        }
    }

    pub(crate) fn source(&self) -> String {
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

/// The shared pieces every load needs.
pub(crate) struct Loader {
    pub(crate) runtime: OnceLock<Result<Runtime, Error>>,
    pub(crate) cache_dir: Option<PathBuf>,
    pub(crate) cache_max_bytes: Option<u64>,
    /// `oci.cache_mb` in bytes.
    pub(crate) oci_cache_max_bytes: Option<u64>,
    pub(crate) oci: OnceLock<Option<robodev_oci::Client>>,
    pub(crate) oci_cache_dir: Option<PathBuf>,
    /// Registry credentials resolved from the secrets backend (`oci.credentials`).
    pub(crate) oci_credentials: OnceLock<Vec<(String, robodev_oci::Credentials)>>,
    /// `oci.insecure_registries`.
    pub(crate) insecure_registries: Vec<String>,
    /// `oci.transfer_timeout`; `None` for robodev-oci's default.
    pub(crate) oci_transfer_timeout: Option<Duration>,
    /// `oci.ca_files`.
    pub(crate) oci_ca_files: Vec<PathBuf>,
    /// `Some` when signatures are required: the trusted keys and the bundle policy, or why
    /// they cannot be read.
    pub(crate) trusted: Option<Result<Trust, String>>,
    pub(crate) state_dir: PathBuf,
    pub(crate) config_dir: PathBuf,
    /// The config file (its secrets-free content is still robodev's, not a plugin's).
    pub(crate) config_file: PathBuf,
    /// The built-in `file` secrets backend's file or directory, when it is selected.
    pub(crate) secret_files: Vec<PathBuf>,
    pub(crate) restart: RestartPolicy,
    pub(crate) secrets: BackendSecrets,
}

/// What signatures must satisfy: signed by one of `keys`; Sigstore bundles' log entries
/// checked against `policy`'s log keys.
#[derive(Debug, Clone)]
pub(crate) struct Trust {
    pub(crate) keys: robodev_oci::TrustedKeys,
    pub(crate) policy: robodev_oci::BundlePolicy,
}

impl Trust {
    /// Reads the key files of `policy`.
    pub(crate) fn read(policy: &crate::spec::SignaturePolicy) -> Result<Trust, String> {
        let keys = robodev_oci::TrustedKeys::from_pem_files(&policy.trusted_keys)
            .map_err(|e| e.to_string())?;
        let log_keys = robodev_oci::TrustedKeys::from_pem_files(&policy.log_keys)
            .map_err(|e| format!("transparency_log_keys: {e}"))?;
        Ok(Trust {
            keys,
            policy: robodev_oci::BundlePolicy::new(log_keys, policy.require_tlog),
        })
    }
}

impl Loader {
    /// The trust policy when signatures are required; `Ok(None)` when they are not.
    pub(crate) fn trusted(&self, plugin: &str) -> Result<Option<&Trust>, Error> {
        match &self.trusted {
            None => Ok(None),
            Some(Ok(trust)) => Ok(Some(trust)),
            Some(Err(e)) => Err(Error::Load {
                plugin: plugin.to_owned(),
                message: format!("cannot read the trusted keys: {e}"),
                source: None,
            }),
        }
    }

    /// Checks the detached signature (`FILE.sig`) of a file when signatures are required.
    pub(crate) async fn verify_file(&self, plugin: &str, file: &Path) -> Result<(), Error> {
        let Some(trust) = self.trusted(plugin)? else {
            return Ok(());
        };
        let signer = robodev_oci::signature::verify_blob_file(file, &trust.keys)
            .await
            .map_err(|e| signature_refusal(plugin, e))?;
        tracing::info!(plugin, "{} is signed by {signer}", file.display());
        Ok(())
    }

    pub(crate) fn oci(&self) -> Result<&robodev_oci::Client, Error> {
        let client = self.oci.get_or_init(|| {
            let dir = self.oci_cache_dir()?;
            let mut options = robodev_oci::ClientOptions::new(dir);
            if let Some(bytes) = self.oci_cache_max_bytes {
                options.cache_max_bytes = bytes;
            }
            for host in &self.insecure_registries {
                options = options.insecure_host(host.clone());
            }
            if let Some(timeout) = self.oci_transfer_timeout {
                options = options.transfer_timeout(timeout);
            }
            for file in &self.oci_ca_files {
                options = options.ca_file(file.clone());
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

    pub(crate) fn runtime(&self) -> Result<&Runtime, Error> {
        self.runtime
            .get_or_init(|| {
                Runtime::new(RuntimeConfig {
                    cache_dir: self.cache_dir.clone(),
                    cache_max_bytes: self.cache_max_bytes,
                    ..Default::default()
                })
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    pub(crate) async fn load(&self, item: &Item) -> Result<Entry, Error> {
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

    pub(crate) async fn load_component(
        &self,
        spec: &PluginSpec,
        c: &ComponentSpec,
    ) -> Result<Entry, Error> {
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
                if let Some(trust) = self.trusted(&spec.name)? {
                    let verified = robodev_oci::signature::verify_artifact_with(
                        self.oci()?,
                        &pulled.reference,
                        &trust.keys,
                        &trust.policy,
                    )
                    .await
                    .map_err(|e| signature_refusal(&spec.name, e))?;
                    tracing::info!(
                        plugin = %spec.name,
                        "{} is signed by {} ({})",
                        pulled.reference,
                        verified.key,
                        verified.format
                    );
                }
                (pulled.path, Some(pulled.digest))
            }
        };
        let limit = c.max_component_bytes();
        let runtime = self.runtime()?;
        // Read in the load's turn: a thousand plugins loading at once would otherwise hold a
        // thousand components in memory while the first few compile.
        let turn = runtime.load_turn().await;
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
        let loaded = runtime.load_bytes_in_turn(&turn, &spec.name, bytes).await?;
        drop(turn);
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
        check_major(spec, plugin.component_info().interface_version)?;
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

    pub(crate) async fn load_subprocess(
        &self,
        spec: &PluginSpec,
        s: &SubprocessSpec,
    ) -> Result<Entry, Error> {
        if self.trusted(&spec.name)?.is_some() {
            let binary = find_executable(&s.command).ok_or_else(|| Error::Load {
                plugin: spec.name.clone(),
                message: format!("{} not found (looked in PATH)", s.command.display()),
                source: None,
            })?;
            self.verify_file(&spec.name, &binary).await?;
        }
        let mut config = s.process_config_of(
            &spec.name,
            Some(spec.interface),
            Some(spec.interface_version),
            self.restart.clone(),
        );
        config.sandbox.protected = self.protected_paths();
        config
            .env
            .extend(resolve_secrets(&spec.name, &s.secrets, &self.secrets).await?);
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

    /// robodev's own paths, which no subprocess plugin's sandbox may grant: its state (task
    /// runs, key-value stores), its caches, its config file and its secrets file.
    pub(crate) fn protected_paths(&self) -> Vec<PathBuf> {
        let mut paths = vec![self.state_dir.clone(), self.config_file.clone()];
        paths.extend(self.secret_files.iter().cloned());
        paths.extend(self.cache_dir.iter().cloned());
        paths.extend(self.oci_cache_dir());
        paths
    }

    /// Where pulled components are kept: the configured directory, else robodev-oci's default.
    fn oci_cache_dir(&self) -> Option<PathBuf> {
        self.oci_cache_dir
            .clone()
            .or_else(robodev_oci::ClientOptions::default_cache_dir)
    }
}

/// The secrets a subprocess plugin is granted, as environment variables: each `VAR: key` read
/// from the secrets backend. A missing secret or an unreachable backend fails the load, naming
/// the variable and the key (never a value).
pub async fn resolve_secrets(
    plugin: &str,
    secrets: &std::collections::BTreeMap<String, String>,
    source: &dyn SecretSource,
) -> Result<Vec<(String, String)>, Error> {
    let mut env = Vec::new();
    for (var, key) in secrets {
        let problem = match source.get(key).await {
            Ok(Some(value)) => {
                env.push((var.clone(), value));
                continue;
            }
            Ok(None) => "the secrets backend has no such secret".to_owned(),
            Err(e) => e.to_string(),
        };
        return Err(Error::Load {
            plugin: plugin.to_owned(),
            message: format!("secrets.{var}: cannot read secret {key:?}: {problem}"),
            source: None,
        });
    }
    Ok(env)
}

pub(crate) fn item_for(config: &HostConfig, selection: &BackendRef) -> Item {
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
pub(crate) async fn resolve_credentials(
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
pub(crate) fn signature_refusal(plugin: &str, error: robodev_oci::SignatureError) -> Error {
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
pub(crate) fn find_executable(command: &Path) -> Option<PathBuf> {
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
pub(crate) fn oci_error(plugin: &str, error: robodev_oci::Error) -> Error {
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
            source: Some(robodev_core::Cause::new(other)),
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
