//! The raw, serde form of robodev-config.yaml: the file's keys as written, before validation.
//!
//! Every struct refuses unknown keys, and optional keys are `Option` or take their
//! `#[serde(default)]`, so "was it written?" stays visible to validation (a component-only key
//! on a command plugin is an error even when its value is the default). Values are checked only
//! as far as their types go; ranges, names, paths and backend selections are checked by
//! [`Config::load`](super::Config::load), which turns these into the validated
//! [`Config`](super::Config).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, MapAccess, Unexpected, Visitor};

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `poll_interval`.
    #[serde(default)]
    pub poll_interval: Option<RawDuration>,
    /// `state_dir`.
    #[serde(default)]
    pub state_dir: Option<String>,
    /// `cache_dir`.
    #[serde(default)]
    pub cache_dir: Option<String>,
    /// `cache_mb`: the compile cache's size cap.
    #[serde(default)]
    pub cache_mb: Option<u64>,
    /// `plugins`.
    #[serde(default)]
    pub plugins: Vec<RawPlugin>,
    /// `plugin_health`.
    #[serde(default)]
    pub plugin_health: RawPluginHealth,
    /// `ticketing` (required).
    pub ticketing: RawTicketing,
    /// `notifications`.
    #[serde(default)]
    pub notifications: RawNotifications,
    /// `approval`.
    #[serde(default)]
    pub approval: Option<RawBackend>,
    /// `secrets`.
    #[serde(default)]
    pub secrets: Option<RawBackend>,
    /// `scm`.
    #[serde(default)]
    pub scm: Option<RawBackend>,
    /// `review`.
    #[serde(default)]
    pub review: Option<RawReview>,
    /// `engines`.
    #[serde(default)]
    pub engines: Option<RawEngines>,
    /// `guardrails`.
    #[serde(default)]
    pub guardrails: RawGuardrails,
    /// `admin`.
    #[serde(default)]
    pub admin: Option<RawAdmin>,
    /// `executor`: where agents run.
    #[serde(default)]
    pub executor: Option<RawExecutor>,
    /// `leader_election`: one active replica among several.
    #[serde(default)]
    pub leader_election: Option<RawLeaderElection>,
    /// `task_runs`: where task runs are kept.
    #[serde(default)]
    pub task_runs: Option<RawTaskRuns>,
    /// `oci`: registry access for `component: oci://...`.
    #[serde(default)]
    pub oci: Option<RawOci>,
    /// `require_signatures`.
    #[serde(default)]
    pub require_signatures: Option<bool>,
    /// `trusted_keys`: public key files (PEM).
    #[serde(default)]
    pub trusted_keys: Vec<String>,
    /// `transparency_log_keys`: public key files (PEM) of the transparency logs whose entries
    /// in Sigstore bundles are accepted.
    #[serde(default)]
    pub transparency_log_keys: Vec<String>,
    /// `require_transparency_log`: a bundle must carry a verified log entry.
    #[serde(default)]
    pub require_transparency_log: Option<bool>,
}

/// One entry of `plugins:`, with the keys of both kinds of plugin; validation checks that
/// only the keys of its kind are present.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlugin {
    /// `name` (required in robodev-config.yaml; validation says when it is missing, so that
    /// `plugin call --plugin-config` can read the same entry without it).
    #[serde(default)]
    pub name: Option<String>,
    /// `type`: the interface's name (required in robodev-config.yaml).
    #[serde(default, rename = "type")]
    pub interface: Option<String>,
    /// `interface_version` (required in robodev-config.yaml).
    #[serde(default)]
    pub interface_version: Option<u32>,
    /// `command` (subprocess plugins).
    #[serde(default)]
    pub command: Option<String>,
    /// `args` (subprocess plugins).
    #[serde(default)]
    pub args: Option<Vec<String>>,
    /// `env` (subprocess plugins).
    #[serde(default)]
    pub env: Option<BTreeMap<String, String>>,
    /// `inherit_env` (subprocess plugins): robodev's variables passed through by name.
    #[serde(default)]
    pub inherit_env: Option<Vec<String>>,
    /// `sandbox` (subprocess plugins): `false`, or how the plugin is confined.
    #[serde(default)]
    pub sandbox: Option<RawSandbox>,
    /// `auto_mtls` (subprocess plugins).
    #[serde(default)]
    pub auto_mtls: Option<bool>,
    /// `start_timeout` (subprocess plugins).
    #[serde(default)]
    pub start_timeout: Option<RawDuration>,
    /// `call_timeout` (subprocess plugins).
    #[serde(default)]
    pub call_timeout: Option<RawDuration>,
    /// `component` (component plugins).
    #[serde(default)]
    pub component: Option<String>,
    /// `digest` (component plugins).
    #[serde(default)]
    pub digest: Option<String>,
    /// `config` (component plugins): any YAML values.
    #[serde(default)]
    pub config: Option<BTreeMap<String, serde_json::Value>>,
    /// `secrets`: for a component, name the guest asks for -> secrets backend key; for a
    /// subprocess, environment variable -> secrets backend key.
    #[serde(default)]
    pub secrets: Option<BTreeMap<String, String>>,
    /// `allowed_hosts` (component plugins).
    #[serde(default)]
    pub allowed_hosts: Option<Vec<String>>,
    /// `kv` (component plugins).
    #[serde(default)]
    pub kv: Option<bool>,
    /// `read_only_dirs` (component plugins): guest path -> host directory.
    #[serde(default)]
    pub read_only_dirs: Option<BTreeMap<String, String>>,
    /// `limits` (component plugins).
    #[serde(default)]
    pub limits: Option<RawLimits>,
    /// `instance` (component plugins).
    #[serde(default)]
    pub instance: Option<RawInstance>,
}

/// `limits:` of a component plugin.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLimits {
    /// `fuel`.
    pub fuel: Option<u64>,
    /// `timeout_ms`.
    pub timeout_ms: Option<u64>,
    /// `memory_mb`.
    pub memory_mb: Option<u64>,
    /// `component_mb`.
    pub component_mb: Option<u64>,
}

/// `instance:` of a component plugin: `fresh` or `{ warm: N }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawInstance {
    /// `fresh`.
    Fresh,
    /// `{ warm: N }`, N as written (validation requires N >= 1).
    Warm(u64),
}

impl<'de> Deserialize<'de> for RawInstance {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct InstanceVisitor;

        impl<'de> Visitor<'de> for InstanceVisitor {
            type Value = RawInstance;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"fresh\" or { warm: N }")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawInstance, E> {
                match v {
                    "fresh" => Ok(RawInstance::Fresh),
                    _ => Err(E::invalid_value(Unexpected::Str(v), &self)),
                }
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawInstance, A::Error> {
                let mut warm = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "warm" {
                        warm = Some(map.next_value::<u64>()?);
                    } else {
                        return Err(de::Error::unknown_field(&key, &["warm"]));
                    }
                }
                warm.map(RawInstance::Warm)
                    .ok_or_else(|| de::Error::missing_field("warm"))
            }
        }

        deserializer.deserialize_any(InstanceVisitor)
    }
}

/// `sandbox:` of a subprocess plugin: `true`/`false`, or its settings (confined).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawSandbox {
    /// `sandbox: true` (the defaults) or `sandbox: false` (unconfined).
    Enabled(bool),
    /// `sandbox: { ... }`.
    Settings(RawSandboxSettings),
}

/// The settings of `sandbox: { ... }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSandboxSettings {
    /// `network`.
    pub network: Option<bool>,
    /// `read`: paths the plugin may also read and execute.
    pub read: Option<Vec<String>>,
    /// `write`: paths the plugin may also write.
    pub write: Option<Vec<String>>,
    /// `memory_mb`.
    pub memory_mb: Option<RawCap>,
    /// `open_files`.
    pub open_files: Option<RawCap>,
    /// `processes`.
    pub processes: Option<RawCap>,
    /// `cpu_seconds`.
    pub cpu_seconds: Option<RawCap>,
}

impl<'de> Deserialize<'de> for RawSandbox {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SandboxVisitor;

        impl<'de> Visitor<'de> for SandboxVisitor {
            type Value = RawSandbox;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true, false or { network, read, write, memory_mb, open_files, processes, cpu_seconds }")
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawSandbox, E> {
                Ok(RawSandbox::Enabled(v))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawSandbox, A::Error> {
                RawSandboxSettings::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawSandbox::Settings)
            }
        }

        deserializer.deserialize_any(SandboxVisitor)
    }
}

/// A resource cap: a number, or `unlimited`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawCap {
    /// A number as written.
    Limit(u64),
    /// `unlimited`.
    Unlimited,
}

impl<'de> Deserialize<'de> for RawCap {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CapVisitor;

        impl Visitor<'_> for CapVisitor {
            type Value = RawCap;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a positive number or \"unlimited\"")
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawCap, E> {
                Ok(RawCap::Limit(v))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawCap, E> {
                u64::try_from(v)
                    .map(RawCap::Limit)
                    .map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawCap, E> {
                match v {
                    "unlimited" => Ok(RawCap::Unlimited),
                    _ => Err(E::invalid_value(Unexpected::Str(v), &self)),
                }
            }
        }

        deserializer.deserialize_any(CapVisitor)
    }
}

/// `plugin_health`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawPluginHealth {
    /// `max_plugin_restarts`.
    pub max_plugin_restarts: Option<u32>,
    /// `restart_backoff`.
    pub restart_backoff: Option<Vec<RawDuration>>,
    /// `critical_plugins`.
    pub critical_plugins: Vec<String>,
}

/// A backend selection: `{ backend: NAME, config: {...} }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBackend {
    /// `backend`.
    pub backend: String,
    /// `config`: a built-in's options, any YAML value (validation requires a map).
    #[serde(default)]
    pub config: Option<serde_json::Value>,
}

/// `ticketing`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTicketing {
    /// `backend`.
    pub backend: String,
    /// `config`.
    #[serde(default)]
    pub config: Option<serde_json::Value>,
    /// `labels`.
    #[serde(default)]
    pub labels: Vec<String>,
    /// `max_results`.
    #[serde(default)]
    pub max_results: Option<i32>,
}

/// `notifications`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawNotifications {
    /// `channels`.
    pub channels: Vec<RawBackend>,
}

/// `review`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReview {
    /// `backend`.
    pub backend: String,
    /// `config`.
    #[serde(default)]
    pub config: Option<serde_json::Value>,
    /// `min_score`.
    #[serde(default)]
    pub min_score: Option<i32>,
}

/// `engines`: `default` and one section per engine name, in file order.
#[derive(Debug, Clone, Default)]
pub struct RawEngines {
    /// `default`.
    pub default: Option<String>,
    /// The per-engine sections: (engine name, section).
    pub sections: Vec<(String, RawEngineSection)>,
}

impl<'de> Deserialize<'de> for RawEngines {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EnginesVisitor;

        impl<'de> Visitor<'de> for EnginesVisitor {
            type Value = RawEngines;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of `default` and engine sections")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawEngines, A::Error> {
                let mut engines = RawEngines::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "default" {
                        engines.default = Some(map.next_value()?);
                    } else {
                        let section = map.next_value()?;
                        engines.sections.push((key, section));
                    }
                }
                Ok(engines)
            }
        }

        deserializer.deserialize_map(EnginesVisitor)
    }
}

/// One engine's section of `engines`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawEngineSection {
    /// `image`.
    pub image: Option<String>,
    /// `timeout_seconds`.
    pub timeout_seconds: Option<i32>,
    /// `env`.
    pub env: BTreeMap<String, String>,
    /// `resource_requests`.
    pub resource_requests: Option<RawResources>,
    /// `resource_limits`.
    pub resource_limits: Option<RawResources>,
    /// `command`: an option of the built-in `local` engine.
    pub command: Option<Vec<String>>,
}

/// `resource_requests` / `resource_limits` of an engine section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawResources {
    /// `cpu`, e.g. `500m`.
    pub cpu: String,
    /// `memory`, e.g. `1Gi`.
    pub memory: String,
}

/// `oci`: registry access.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawOci {
    /// `insecure_registries`: `HOST[:PORT]`s reached over plain HTTP (loopback ones always are).
    pub insecure_registries: Vec<String>,
    /// `credentials`: per registry `HOST[:PORT]`, keys of the secrets backend.
    pub credentials: std::collections::BTreeMap<String, RawOciCredentials>,
    /// `transfer_timeout`: the overall deadline of one pull of an OCI component.
    pub transfer_timeout: Option<RawDuration>,
    /// `ca_files`: PEM files of CAs trusted for registries, besides the built-in roots.
    pub ca_files: Vec<String>,
    /// `cache_mb`: the pulled components' cache size cap.
    pub cache_mb: Option<u64>,
}

/// `oci.credentials.<registry>`: `username` + `password_secret`, or `token_secret`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawOciCredentials {
    /// The user name (not a secret).
    pub username: Option<String>,
    /// The key of the password (or access token used as one) in the secrets backend.
    pub password_secret: Option<String>,
    /// The key of a bearer token in the secrets backend.
    pub token_secret: Option<String>,
}

/// `executor`: `{ kind: local }` (the default) or `{ kind: kubernetes, ... }`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawExecutor {
    /// `kind`: `local` or `kubernetes`.
    pub kind: Option<String>,
    /// `namespace` (kubernetes): where agent Jobs run.
    pub namespace: Option<String>,
    /// `service_account` (kubernetes): the agent pods' service account.
    pub service_account: Option<String>,
    /// `ttl_after_finished` (kubernetes): how long finished Jobs are kept.
    pub ttl_after_finished: Option<RawDuration>,
    /// `runtime_class` (kubernetes): the agent pods' RuntimeClass.
    pub runtime_class: Option<String>,
    /// `keep_failed` (local): how many failed runs' workspaces are kept.
    pub keep_failed: Option<usize>,
}

/// `task_runs`: `{ store: file }` (the default) or `{ store: kubernetes, namespace }`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawTaskRuns {
    /// `store`: `file` or `kubernetes`.
    pub store: Option<String>,
    /// `namespace` (kubernetes): where the TaskRun objects are.
    pub namespace: Option<String>,
}

/// `leader_election`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLeaderElection {
    /// `enabled` (`robodev run --leader-elect` turns it on too).
    pub enabled: Option<bool>,
    /// `namespace` of the Lease.
    pub namespace: Option<String>,
    /// `lease_name`.
    pub lease_name: Option<String>,
    /// `lease_duration`.
    pub lease_duration: Option<RawDuration>,
    /// `renew_deadline`.
    pub renew_deadline: Option<RawDuration>,
    /// `retry_period`.
    pub retry_period: Option<RawDuration>,
}

/// `admin`: the admin HTTP API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    /// `listen`: `IP:PORT`.
    #[serde(default)]
    pub listen: Option<String>,
    /// `token_secret` (required): the key of the bearer token in the secrets backend.
    pub token_secret: String,
    /// `allow_remote`: whether `listen` may be a non-loopback address.
    #[serde(default)]
    pub allow_remote: bool,
}

/// `guardrails`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawGuardrails {
    /// `allowed_repos`.
    pub allowed_repos: Vec<String>,
    /// `allowed_task_types`.
    pub allowed_task_types: Vec<String>,
    /// `max_concurrent_jobs`.
    pub max_concurrent_jobs: Option<u64>,
    /// `max_job_duration_minutes`.
    pub max_job_duration_minutes: Option<u64>,
    /// `require_approval_before_start`.
    pub require_approval_before_start: bool,
    /// `max_retries`.
    pub max_retries: u32,
}

/// A duration: an integer number of seconds, or a string of digits and a unit (`250ms`,
/// `30s`, `5m`, `1h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawDuration(pub Duration);

/// What a duration looks like, for messages.
pub(crate) const DURATION_EXPECTED: &str = "a duration (seconds as an integer, or a Go duration string such as \"30s\", \"1m30s\", \"1.5h\", \"250ms\")";

impl RawDuration {
    /// Parses a duration as Go's `time.ParseDuration` does (RoboDev's config is read by Go):
    /// `250ms`, `30s`, `1m30s`, `1.5h`, `2h45m`, `0` (units `ns`, `us`/`µs`, `ms`, `s`, `m`,
    /// `h`); `None` for anything else, and for negative durations.
    ///
    /// Hand-written: the go-parse-duration crate panicked on a multi-byte character in a unit
    /// (found by fuzzing the config, `fuzz/regressions/config/`).
    pub fn parse(text: &str) -> Option<Duration> {
        if text == "0" {
            return Some(Duration::ZERO);
        }
        let mut rest = text;
        let mut nanos: u128 = 0;
        while !rest.is_empty() {
            let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
            let whole = &rest[..digits(rest)];
            rest = &rest[whole.len()..];
            let fraction = match rest.strip_prefix('.') {
                Some(after) => {
                    let f = &after[..digits(after)];
                    rest = &after[f.len()..];
                    f
                }
                None => "",
            };
            // A number needs digits; a bare number other than 0 has no unit (Go refuses
            // both, and so does robodev; a sign is refused too: no negative durations).
            if whole.is_empty() && fraction.is_empty() {
                return None;
            }
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let scale: u128 = match &rest[..unit_len] {
                "ns" => 1,
                "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
                "ms" => 1_000_000,
                "s" => 1_000_000_000,
                "m" => 60_000_000_000,
                "h" => 3_600_000_000_000,
                _ => return None,
            };
            rest = &rest[unit_len..];
            let whole: u128 = if whole.is_empty() {
                0
            } else {
                whole.parse().ok()?
            };
            nanos = nanos.checked_add(whole.checked_mul(scale)?)?;
            // The fraction, to the nanosecond (as Go, which also keeps about 18 digits).
            let (mut value, mut divisor) = (0u128, 1u128);
            for digit in fraction.bytes().take(18) {
                value = value * 10 + u128::from(digit - b'0');
                divisor *= 10;
            }
            nanos = nanos.checked_add(value * scale / divisor)?;
        }
        // Go's durations stop at 2^63-1 ns (about 292 years).
        (!text.is_empty() && nanos <= i64::MAX as u128).then(|| Duration::from_nanos(nanos as u64))
    }
}

impl<'de> Deserialize<'de> for RawDuration {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;

        impl Visitor<'_> for DurationVisitor {
            type Value = RawDuration;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(DURATION_EXPECTED)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawDuration, E> {
                Ok(RawDuration(Duration::from_secs(v)))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawDuration, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::invalid_value(Unexpected::Signed(v), &self)),
                }
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawDuration, E> {
                RawDuration::parse(v)
                    .map(RawDuration)
                    .ok_or_else(|| E::invalid_value(Unexpected::Str(v), &self))
            }
        }

        deserializer.deserialize_any(DurationVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(
            RawDuration::parse("250ms"),
            Some(Duration::from_millis(250))
        );
        assert_eq!(RawDuration::parse("30s"), Some(Duration::from_secs(30)));
        assert_eq!(RawDuration::parse("5m"), Some(Duration::from_secs(300)));
        assert_eq!(RawDuration::parse("1h"), Some(Duration::from_secs(3600)));
        // Go's forms, as RoboDev's Go config accepts them.
        assert_eq!(RawDuration::parse("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(
            RawDuration::parse("1.5s"),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            RawDuration::parse("300ms"),
            Some(Duration::from_millis(300))
        );
        assert_eq!(RawDuration::parse("2h45m"), Some(Duration::from_secs(9900)));
        assert_eq!(RawDuration::parse("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(RawDuration::parse("10us"), Some(Duration::from_micros(10)));
        assert_eq!(RawDuration::parse("0"), Some(Duration::ZERO));
        assert_eq!(RawDuration::parse("30"), None);
        assert_eq!(RawDuration::parse("s"), None);
        assert_eq!(RawDuration::parse("30 s"), None);
        assert_eq!(RawDuration::parse("1d"), None);
        assert_eq!(RawDuration::parse("-1s"), None);
        assert_eq!(RawDuration::parse("+1s"), None);
        assert_eq!(RawDuration::parse(""), None);
        // Go's other spellings of microseconds, and fractions without a whole part.
        assert_eq!(
            RawDuration::parse("7\u{b5}s"),
            Some(Duration::from_micros(7))
        );
        assert_eq!(
            RawDuration::parse("7\u{3bc}s"),
            Some(Duration::from_micros(7))
        );
        assert_eq!(RawDuration::parse(".5s"), Some(Duration::from_millis(500)));
        assert_eq!(RawDuration::parse("5.s"), Some(Duration::from_secs(5)));
        assert_eq!(
            RawDuration::parse("1.000000001s"),
            Some(Duration::new(1, 1))
        );
        assert_eq!(RawDuration::parse("."), None);
        assert_eq!(RawDuration::parse("1s2"), None);
        // Found by fuzzing: a multi-byte character where a unit goes panicked the parser.
        assert_eq!(RawDuration::parse("1\u{b5}"), None);
        assert_eq!(RawDuration::parse("1\u{e9}\u{e9}s"), None);
        // Go's range ends at 2^63-1 ns.
        assert_eq!(
            RawDuration::parse("9223372036854775807ns"),
            Some(Duration::from_nanos(i64::MAX as u64))
        );
        assert_eq!(RawDuration::parse("9223372036854775808ns"), None);
        assert_eq!(
            RawDuration::parse("99999999999999999999999999999999999999999h"),
            None
        );
    }
}
