//! The entries: one loaded plugin ([`Entry`]), one that did not load ([`LoadFailure`]), one
//! still loading ([`Loading`]).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use robodev_core::{AnyBackend, Error, Health, Interface, PluginInfo};
use robodev_grpc::SubprocessPlugin;
use robodev_wasm::WasmPlugin;

use crate::calls::CallLabels;
use crate::metered::Slot;
use crate::metrics::{FailedSample, PluginSample, RuntimeCounters};

/// How a plugin runs (re-exported from `robodev-core`, where the closed sets live).
pub use robodev_core::RuntimeKind;

pub(crate) enum Handle {
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
    pub(crate) raw: AnyBackend,
    /// Where reloads swap versions in; shared by every version of the plugin.
    pub(crate) slot: Option<Slot>,
    pub(crate) handle: Handle,
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
    pub(crate) fn describe(&self) -> String {
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
    pub(crate) fn clone_of(entry: &Entry) -> Entry {
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

    /// The interface's major version the plugin itself implements: the current one, or an
    /// older one the host adapts ([`Interface::majors`](robodev_core::Interface::majors)).
    pub fn interface_version(&self) -> u32 {
        match &self.handle {
            Handle::Builtin => self.interface.version(),
            Handle::Wasm(p) => p.component_info().interface_version,
            Handle::Subprocess(p) => p.interface_version(),
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
        let mut row = serde_json::json!({
            "name": self.name,
            "interface": self.interface.name(),
            "interfaceVersion": self.interface_version(),
            "runtime": self.runtime.label(),
            "pluginName": self.info.name,
            "version": self.info.version,
            "source": self.source,
            "digest": self.digest,
            "health": self.health().to_string(),
            "counters": self.counters(),
        });
        // A subprocess's confinement (other plugins have no `sandbox` key).
        if let Handle::Subprocess(p) = &self.handle
            && let Some(c) = p.confinement()
        {
            row["sandbox"] = sandbox_json(&c);
        }
        row
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

    /// The labels its calls are traced and counted under.
    pub fn labels(&self) -> CallLabels {
        CallLabels {
            plugin: self.name.clone(),
            interface: self.interface,
            runtime: self.runtime,
            version: self.info.version.clone(),
        }
    }

    /// What its metrics are rendered from, sampled now.
    pub fn sample(&self) -> PluginSample {
        PluginSample {
            name: self.name.clone(),
            interface: self.interface,
            runtime: self.runtime,
            version: self.info.version.clone(),
            health: self.health(),
            counters: self.runtime_counters(),
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

/// What a subprocess plugin was confined to, as `plugins list --json`, the admin API and
/// `plugin inspect --json` show it.
pub fn sandbox_json(c: &robodev_grpc::Confinement) -> serde_json::Value {
    serde_json::json!({
        "summary": c.summary(),
        "confined": c.confined,
        "landlockAbi": c.landlock_abi,
        "namespaces": c.namespaces,
        "network": c.network,
        "read": c.read,
        "write": c.write,
        "env": c.env,
        "memoryMb": c.memory_mb,
        "openFiles": c.open_files,
        "processes": c.processes,
        "cpuSeconds": c.cpu_seconds,
        "gaps": c.gaps,
    })
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
    /// What the metrics show of it (`up` 0).
    pub fn sample(&self) -> FailedSample {
        FailedSample {
            name: self.name.clone(),
            interface: self.interface,
            runtime: self.runtime,
        }
    }

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
