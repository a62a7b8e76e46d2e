//! Raw -> validated: [`Config::load`] and [`Config::parse`].
//!
//! Three passes over the text: the [`Locator`] walks the YAML events once for the line of
//! every key path (and reports syntax errors); serde_norway reads the text into a YAML value;
//! `serde_path_to_error` deserializes that value into the [raw structs](super::raw), so a
//! type error or an unknown key comes with its key path. Validation then checks what types
//! cannot say (ranges, names, paths, backend selections) and builds the [`Config`]. Every
//! error, whichever pass finds it, is a [`ConfigError`] with the file, the line from the
//! locator, the key path and a message written for the person editing the file.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use robodev_core::Interface;
use robodev_core::engine::{EngineConfig, Resources};
use serde_json::Value;

use super::locate::{Locator, join_key};
use super::raw::{
    RawBackend, RawCap, RawConfig, RawDuration, RawEngineSection, RawEngines, RawGuardrails,
    RawInstance, RawPlugin, RawPluginHealth, RawResources, RawSandbox,
};
use super::{
    BackendRef, ComponentLocation, ComponentSpec, Config, ConfigError, DEFAULT_MAX_CONCURRENT_JOBS,
    DEFAULT_MAX_JOB_DURATION, DEFAULT_MAX_RESULTS, DEFAULT_POLL_INTERVAL, DEFAULT_STATE_DIR,
    EngineSettings, Guardrails, InstanceMode, PluginHealth, PluginSettings, PluginSource,
    PluginSpec, ReviewSettings, SettingsSource, SubprocessSpec, TicketingSettings,
};
use robodev_builtins as builtin;

/// A subprocess plugin's `start_timeout` and `call_timeout` when the entry does not say.
const DEFAULT_PLUGIN_TIMEOUT: Duration = Duration::from_secs(30);
/// `plugin_health.max_plugin_restarts` when the file does not say.
const DEFAULT_MAX_PLUGIN_RESTARTS: u32 = 3;
/// `plugin_health.restart_backoff` (seconds) when the file does not say.
const DEFAULT_RESTART_BACKOFF_SECS: [u64; 3] = [1, 5, 30];
/// The engine used when `engines.default` is not set: the built-in `local` engine.
const DEFAULT_ENGINE: &str = "local";
/// How close a misspelling must be (Jaro-Winkler similarity) for a "did you mean".
const SUGGESTION_THRESHOLD: f64 = 0.8;

/// Keys of a plugin entry that only a subprocess plugin (`command:`) may have.
const SUBPROCESS_KEYS: [&str; 7] = [
    "args",
    "env",
    "inherit_env",
    "sandbox",
    "auto_mtls",
    "start_timeout",
    "call_timeout",
];
/// Keys of a plugin entry that only a component plugin (`component:`) may have.
const COMPONENT_KEYS: [&str; 7] = [
    "digest",
    "config",
    "allowed_hosts",
    "kv",
    "read_only_dirs",
    "limits",
    "instance",
];

impl Config {
    /// Reads and validates the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(path, None, "", format!("cannot read the config file: {e}"))
        })?;
        Config::parse(&text, path)
    }

    /// Validates `text`, the contents of the config file at `path`; relative paths in it
    /// resolve against `path`'s directory. Nothing is read from disk.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let locator = Locator::new(text)
            .map_err(|e| ConfigError::new(path, Some(e.line), e.key, e.message))?;
        let value: serde_norway::Value =
            serde_norway::from_str(text).map_err(|e| yaml_error(path, &e))?;
        match &value {
            serde_norway::Value::Mapping(_) => {}
            serde_norway::Value::Null => {
                return Err(ConfigError::new(
                    path,
                    None,
                    "",
                    "the file is empty; expected a map of settings with at least a \"ticketing\" section",
                ));
            }
            other => {
                return Err(ConfigError::new(
                    path,
                    locator.exact(""),
                    "",
                    format!(
                        "expected a map of settings at the top level, found {}",
                        describe_yaml(other)
                    ),
                ));
            }
        }
        let raw: RawConfig =
            serde_path_to_error::deserialize(value).map_err(|e| serde_error(path, &locator, &e))?;
        let validator = Validator {
            file: path,
            locator: &locator,
            dir: config_dir(path),
        };
        validator.config(raw)
    }
}

impl PluginSettings {
    /// Reads and validates a plugin settings file (`robodev plugin call --plugin-config`):
    /// one entry of robodev-config.yaml's `plugins:` list, with the same keys, messages and
    /// checks, except that `name`, `type` and `interface_version` are optional and where the
    /// plugin comes from is `source` (the command line's SOURCE), not a key of the file.
    pub fn load(path: &Path, source: SettingsSource) -> Result<PluginSettings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(
                path,
                None,
                "",
                format!("cannot read the plugin settings: {e}"),
            )
        })?;
        PluginSettings::parse(&text, path, source)
    }

    /// [`PluginSettings::load`] of `text`, the contents of the file at `path`.
    pub fn parse(
        text: &str,
        path: &Path,
        source: SettingsSource,
    ) -> Result<PluginSettings, ConfigError> {
        let locator = Locator::new(text)
            .map_err(|e| ConfigError::new(path, Some(e.line), e.key, e.message))?;
        let value: serde_norway::Value =
            serde_norway::from_str(text).map_err(|e| yaml_error(path, &e))?;
        let mut map = match value {
            serde_norway::Value::Mapping(map) => map,
            serde_norway::Value::Null => serde_norway::Mapping::new(),
            other => {
                return Err(ConfigError::new(
                    path,
                    locator.exact(""),
                    "",
                    format!(
                        "expected the keys of one plugin entry (config, secrets, limits, ...), found {}",
                        describe_yaml(&other)
                    ),
                ));
            }
        };
        for key in ["command", "component"] {
            if map.contains_key(key) {
                return Err(ConfigError::new(
                    path,
                    locator.exact(key).or_else(|| locator.line(key)),
                    key,
                    format!(
                        "where the plugin comes from is the SOURCE argument; remove `{key}` from this file"
                    ),
                ));
            }
        }
        let (key, value) = match &source {
            SettingsSource::Command(p) => ("command", p),
            SettingsSource::Component(p) => ("component", p),
        };
        map.insert(key.into(), value.clone().into());
        let mut raw: RawPlugin =
            serde_path_to_error::deserialize(serde_norway::Value::Mapping(map))
                .map_err(|e| serde_error(path, &locator, &e))?;
        let validator = Validator {
            file: path,
            locator: &locator,
            dir: config_dir(path),
        };
        let name = raw.name.take();
        if let Some(name) = &name {
            validator.check_name("name", name)?;
        }
        let interface = match raw.interface.take() {
            Some(name) => Some(validator.interface("", &name)?),
            None => None,
        };
        let interface_version = raw.interface_version.take();
        if let Some(version) = interface_version {
            validator.interface_version("", version)?;
        }
        let source = validator.plugin_source("", raw)?;
        Ok(PluginSettings {
            name,
            interface,
            interface_version,
            source,
        })
    }
}

/// The absolute directory of the config file, which relative paths resolve against.
fn config_dir(path: &Path) -> PathBuf {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // Absolute so that the paths handed to runtime code do not depend on the working directory
    // staying the same; symlinks are left alone (the file need not exist for `parse`).
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
    dir.components().collect()
}

/// A serde_norway error: a syntax error the locator's parser did not see, or a limit.
fn yaml_error(path: &Path, error: &serde_norway::Error) -> ConfigError {
    let line = error.location().map(|l| l.line());
    ConfigError::new(
        path,
        line,
        "",
        format!("invalid YAML: {}", strip_positions(&error.to_string())),
    )
}

/// Removes the ` at line L column C` (and ` at position N`) parts of a libyaml message: the
/// line is reported separately.
fn strip_positions(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find(" at ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 4..];
        if let Some(skip) = position_len(after) {
            rest = &after[skip..];
        } else {
            out.push_str(" at ");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The length of `line L column C` or `position N` at the start of `text`.
fn position_len(text: &str) -> Option<usize> {
    fn number(text: &str) -> usize {
        text.bytes().take_while(u8::is_ascii_digit).count()
    }
    if let Some(rest) = text.strip_prefix("line ") {
        let l = number(rest);
        let after = rest[l..].strip_prefix(" column ")?;
        let c = number(after);
        (l > 0 && c > 0).then_some("line ".len() + l + " column ".len() + c)
    } else if let Some(rest) = text.strip_prefix("position ") {
        let n = number(rest);
        (n > 0).then_some("position ".len() + n)
    } else {
        None
    }
}

/// A deserialization error of the raw structs, rewritten for people.
fn serde_error(
    path: &Path,
    locator: &Locator,
    error: &serde_path_to_error::Error<serde_norway::Error>,
) -> ConfigError {
    let key = key_path(error.path());
    let message = error.inner().to_string();

    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((field, expected)) = rest.split_once('`')
    {
        // serde_path_to_error's path ends at the unknown key when the derived code rejects it,
        // at its map when a hand-written visitor does.
        let inside = join_key(&key, field);
        let key = if locator.exact(&inside).is_some() {
            inside
        } else {
            key
        };
        let line = locator.exact(&key).or_else(|| locator.line(&key));
        let candidates = backticked(expected);
        let suggestion = did_you_mean(field, candidates.iter().copied());
        let mut text = format!("unknown key {field:?}");
        if suggestion.is_none() {
            if candidates.is_empty() {
                text.push_str("; this map takes no keys");
            } else {
                text.push_str(&format!("; expected one of: {}", candidates.join(", ")));
            }
        }
        return ConfigError::new(path, line, key, text).with_suggestion(suggestion);
    }

    if let Some(rest) = message.strip_prefix("missing field `")
        && let Some((field, _)) = rest.split_once('`')
    {
        if key.is_empty() {
            let text = if field == "ticketing" {
                "missing required section \"ticketing\" (it selects the ticketing backend, e.g. \"ticketing: { backend: local }\")".to_owned()
            } else {
                format!("missing required key {field:?}")
            };
            return ConfigError::new(path, None, "", text);
        }
        let line = locator.line(&key);
        return ConfigError::new(path, line, key, format!("missing required key {field:?}"));
    }

    let line = locator.line(&key);
    ConfigError::new(path, line, key, rewrite_type_error(&message))
}

/// `serde_path_to_error`'s path in the key path format of messages.
fn key_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                out = join_key(&out, key);
            }
            Segment::Unknown => out = join_key(&out, "?"),
        }
    }
    out
}

/// The names between backticks in serde's `expected one of `a`, `b``.
fn backticked(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// serde's `invalid type: string "one", expected u32` as `expected an integer, found "one"`.
fn rewrite_type_error(message: &str) -> String {
    let rest = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "));
    let Some(rest) = rest else {
        return message.to_owned();
    };
    let Some((unexpected, expected)) = split_unexpected(rest) else {
        return message.to_owned();
    };
    let integer_found = unexpected.starts_with("integer `");
    format!(
        "expected {}, found {}",
        nice_expected(expected, integer_found),
        nice_unexpected(unexpected)
    )
}

/// Splits `UNEXPECTED, expected EXPECTED`, minding `, expected ` inside a quoted string.
fn split_unexpected(text: &str) -> Option<(&str, &str)> {
    const SEP: &str = ", expected ";
    let start = match text.strip_prefix("string \"") {
        // Find the closing quote of the Debug-escaped string.
        Some(s) => {
            let mut escaped = false;
            let end = s.char_indices().find_map(|(i, c)| {
                if escaped {
                    escaped = false;
                    None
                } else if c == '\\' {
                    escaped = true;
                    None
                } else if c == '"' {
                    Some(i)
                } else {
                    None
                }
            })?;
            "string \"".len() + end + 1
        }
        None => 0,
    };
    let i = start + text[start..].find(SEP)?;
    Some((&text[..i], &text[i + SEP.len()..]))
}

/// serde's description of a found value (`string "one"`, ``integer `5` ``, `sequence`) as a
/// YAML user would say it.
fn nice_unexpected(unexpected: &str) -> String {
    if let Some(s) = unexpected.strip_prefix("string ") {
        return s.to_owned();
    }
    for prefix in ["integer ", "floating point ", "boolean ", "character "] {
        if let Some(v) = unexpected.strip_prefix(prefix) {
            return v.trim_matches('`').to_owned();
        }
    }
    match unexpected {
        "sequence" => "a list".to_owned(),
        "map" => "a map".to_owned(),
        "unit value" => "null".to_owned(),
        other => other.to_owned(),
    }
}

/// serde's description of what it expected (`u32`, `struct RawPlugin`, `a sequence`) in
/// words.
fn nice_expected(expected: &str, integer_found: bool) -> String {
    let range = match expected {
        "u8" => Some((0, i128::from(u8::MAX))),
        "u16" => Some((0, i128::from(u16::MAX))),
        "u32" => Some((0, i128::from(u32::MAX))),
        "u64" => Some((0, i128::from(u64::MAX))),
        "usize" => Some((0, usize::MAX as i128)),
        "i8" => Some((i128::from(i8::MIN), i128::from(i8::MAX))),
        "i16" => Some((i128::from(i16::MIN), i128::from(i16::MAX))),
        "i32" => Some((i128::from(i32::MIN), i128::from(i32::MAX))),
        "i64" => Some((i128::from(i64::MIN), i128::from(i64::MAX))),
        "isize" => Some((isize::MIN as i128, isize::MAX as i128)),
        _ => None,
    };
    if let Some((min, max)) = range {
        // An integer was found, so it was out of range: say which range.
        return if integer_found {
            format!("an integer from {min} to {max}")
        } else {
            "an integer".to_owned()
        };
    }
    if expected.starts_with("struct ") || expected == "a map" {
        return "a map".to_owned();
    }
    match expected {
        "a sequence" => "a list".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "any valid JSON value" => "a value".to_owned(),
        other => other.to_owned(),
    }
}

/// The closest of `candidates` to `name`, if it is close enough to be a likely misspelling.
fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score >= SUGGESTION_THRESHOLD)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.to_owned())
}

/// A YAML value as messages name it.
fn describe_yaml(value: &serde_norway::Value) -> String {
    match value {
        serde_norway::Value::Sequence(_) => "a list".to_owned(),
        serde_norway::Value::Mapping(_) => "a map".to_owned(),
        serde_norway::Value::Null => "null".to_owned(),
        serde_norway::Value::String(s) => format!("{s:?}"),
        serde_norway::Value::Bool(b) => b.to_string(),
        serde_norway::Value::Number(n) => n.to_string(),
        serde_norway::Value::Tagged(t) => format!("a value tagged {}", t.tag),
    }
}

/// A JSON value (converted from YAML) as messages name it.
fn describe(value: &Value) -> String {
    match value {
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a map".to_owned(),
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// Every built-in backend name of every interface: plugin names must not collide with any,
/// so that a name says unambiguously what it means.
fn all_builtin_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Interface::ALL
        .into_iter()
        .flat_map(|i| builtin::names(i).iter().copied())
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Whether `name` is `[a-z0-9][a-z0-9_-]*`.
fn valid_plugin_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Whether `digest` is `sha256:` and 64 lowercase hex digits.
fn valid_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Whether `name` is a DNS-1123 label: what Kubernetes accepts as a namespace, RuntimeClass or
/// Job name (at most 63 characters).
pub fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// Validation of one file's raw form.
struct Validator<'a> {
    file: &'a Path,
    locator: &'a Locator,
    /// The config file's directory (absolute).
    dir: PathBuf,
}

impl Validator<'_> {
    /// An error at `key`, on the line of `key` (or of its nearest ancestor in the file).
    fn err(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::new(self.file, self.locator.line(key), key, message)
    }

    fn config(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        let poll_interval = match raw.poll_interval {
            Some(d) => self.positive_duration("poll_interval", d)?,
            None => DEFAULT_POLL_INTERVAL,
        };
        let state_dir = self.path(
            "state_dir",
            raw.state_dir.as_deref().unwrap_or(DEFAULT_STATE_DIR),
        )?;
        let cache_dir = raw
            .cache_dir
            .as_deref()
            .map(|d| self.path("cache_dir", d))
            .transpose()?;
        let cache_mb = raw
            .cache_mb
            .map(|mb| self.cache_mb("cache_mb", mb))
            .transpose()?;

        let mut plugins: Vec<PluginSpec> = Vec::with_capacity(raw.plugins.len());
        for (i, plugin) in raw.plugins.into_iter().enumerate() {
            let spec = self.plugin(i, plugin, &plugins)?;
            plugins.push(spec);
        }
        let (max_plugin_restarts, restart_backoff) = self.plugin_health(&raw.plugin_health)?;

        let ticketing_backend = self.backend(
            Interface::Ticketing,
            "ticketing",
            &raw.ticketing.backend,
            raw.ticketing.config,
            &plugins,
        )?;
        let max_results = match raw.ticketing.max_results {
            Some(n) if n <= 0 => {
                return Err(self.err(
                    "ticketing.max_results",
                    format!("expected an integer >= 1, found {n}"),
                ));
            }
            Some(n) => n,
            None => DEFAULT_MAX_RESULTS,
        };
        let ticketing = TicketingSettings {
            backend: ticketing_backend,
            labels: raw.ticketing.labels,
            max_results,
        };

        let mut notifications = Vec::with_capacity(raw.notifications.channels.len());
        for (i, channel) in raw.notifications.channels.into_iter().enumerate() {
            let key = format!("notifications.channels[{i}]");
            let selected = self.selection(Interface::Notifications, &key, channel, &plugins)?;
            // A backend is one channel: two entries naming it would be one notified twice,
            // or (for a built-in with two configs) one config silently lost.
            if let Some(first) = notifications
                .iter()
                .position(|c: &BackendRef| c.name() == selected.name())
            {
                return Err(self.err(
                    &format!("{key}.backend"),
                    format!(
                        "{:?} is already notifications.channels[{first}]; each backend can be a channel once",
                        selected.name()
                    ),
                ));
            }
            notifications.push(selected);
        }
        let approval = raw
            .approval
            .map(|b| self.selection(Interface::Approval, "approval", b, &plugins))
            .transpose()?;
        let secrets = match raw.secrets {
            Some(b) => self.selection(Interface::Secrets, "secrets", b, &plugins)?,
            None => self.backend(Interface::Secrets, "secrets", "env", None, &plugins)?,
        };
        let scm = raw
            .scm
            .map(|b| self.selection(Interface::Scm, "scm", b, &plugins))
            .transpose()?;
        let review = match raw.review {
            Some(r) => Some(ReviewSettings {
                backend: self.backend(
                    Interface::Review,
                    "review",
                    &r.backend,
                    r.config,
                    &plugins,
                )?,
                min_score: r.min_score,
            }),
            None => None,
        };
        let engine = self.engines(raw.engines.unwrap_or_default(), &plugins)?;
        let guardrails = self.guardrails(raw.guardrails, approval.is_some())?;
        let executor = self.executor(raw.executor)?;
        let leader_election = self.leader_election(raw.leader_election)?;
        let task_runs = self.task_runs(raw.task_runs, &executor)?;
        let admin = raw.admin.map(|a| self.admin(a)).transpose()?;

        let mut selected_builtins: Vec<&str> = Vec::new();
        let selections = std::iter::once(&ticketing.backend)
            .chain(&notifications)
            .chain(&approval)
            .chain(std::iter::once(&secrets))
            .chain(&scm)
            .chain(review.as_ref().map(|r| &r.backend))
            .chain(std::iter::once(&engine.backend));
        for selection in selections {
            if let BackendRef::Builtin { name, .. } = selection
                && !selected_builtins.contains(&name.as_str())
            {
                selected_builtins.push(name);
            }
        }
        for (i, name) in raw.plugin_health.critical_plugins.iter().enumerate() {
            let known = plugins.iter().any(|p| &p.name == name)
                || selected_builtins.contains(&name.as_str());
            if !known {
                let choices: Vec<&str> = plugins
                    .iter()
                    .map(|p| p.name.as_str())
                    .chain(selected_builtins.iter().copied())
                    .collect();
                let key = format!("plugin_health.critical_plugins[{i}]");
                let message = format!(
                    "{name:?} is neither a configured plugin nor a selected built-in backend; expected one of: {}",
                    choices.join(", ")
                );
                return Err(self
                    .err(&key, message)
                    .with_suggestion(did_you_mean(name, choices)));
            }
        }
        let plugin_health = PluginHealth {
            max_plugin_restarts,
            restart_backoff,
            critical_plugins: raw.plugin_health.critical_plugins,
        };

        let trusted_keys = raw
            .trusted_keys
            .iter()
            .enumerate()
            .map(|(i, k)| self.path(&format!("trusted_keys[{i}]"), k))
            .collect::<Result<Vec<_>, _>>()?;
        let log_keys = raw
            .transparency_log_keys
            .iter()
            .enumerate()
            .map(|(i, k)| self.path(&format!("transparency_log_keys[{i}]"), k))
            .collect::<Result<Vec<_>, _>>()?;
        let require_tlog = raw.require_transparency_log.unwrap_or(false);
        if require_tlog && log_keys.is_empty() {
            return Err(self.err(
                "require_transparency_log",
                "a transparency log is required but transparency_log_keys lists no log's public key",
            ));
        }
        let signatures = match raw.require_signatures {
            Some(true) if trusted_keys.is_empty() => {
                return Err(self.err(
                    "require_signatures",
                    "signatures are required but trusted_keys lists no public key",
                ));
            }
            Some(true) => Some(super::SignaturePolicy {
                trusted_keys,
                log_keys,
                require_tlog,
            }),
            _ if require_tlog => {
                return Err(self.err(
                    "require_transparency_log",
                    "applies only with require_signatures: true",
                ));
            }
            _ => None,
        };
        let oci = self.oci(raw.oci.unwrap_or_default())?;
        Ok(Config {
            oci,
            signatures,
            path: self.file.to_owned(),
            poll_interval,
            state_dir,
            cache_dir,
            cache_mb,
            plugins,
            plugin_health,
            ticketing,
            notifications,
            approval,
            secrets,
            scm,
            review,
            engine,
            guardrails,
            admin,
            executor,
            leader_election,
            task_runs,
        })
    }

    /// `task_runs`: `file` unless it says `kubernetes`, which needs the kubernetes executor;
    /// `namespace` only with that.
    fn task_runs(
        &self,
        raw: Option<super::raw::RawTaskRuns>,
        executor: &super::ExecutorSettings,
    ) -> Result<super::TaskRunStore, ConfigError> {
        let Some(raw) = raw else {
            return Ok(super::TaskRunStore::File);
        };
        match raw.store.as_deref().unwrap_or("file") {
            "file" => match raw.namespace {
                Some(_) => Err(self.err(
                    "task_runs.namespace",
                    "`namespace` only applies to `store: kubernetes`".to_owned(),
                )),
                None => Ok(super::TaskRunStore::File),
            },
            "kubernetes" => {
                if !matches!(executor, super::ExecutorSettings::Kubernetes(_)) {
                    return Err(self.err(
                        "task_runs.store",
                        "`kubernetes` needs `executor.kind: kubernetes` (a local agent's workspace does not follow its run to another replica)".to_owned(),
                    ));
                }
                if let Some(n) = &raw.namespace
                    && !is_dns_label(n)
                {
                    return Err(self.err(
                        "task_runs.namespace",
                        format!("{n:?} is not a valid Kubernetes name (lowercase letters, digits and '-', at most 63)"),
                    ));
                }
                Ok(super::TaskRunStore::Kubernetes {
                    namespace: raw.namespace,
                })
            }
            other => Err(self
                .err(
                    "task_runs.store",
                    format!("unknown task run store {other:?}; expected one of: file, kubernetes"),
                )
                .with_suggestion(did_you_mean(other, ["file", "kubernetes"]))),
        }
    }

    /// `leader_election`: defaults, names, and deadline < duration, period < deadline.
    fn leader_election(
        &self,
        raw: Option<super::raw::RawLeaderElection>,
    ) -> Result<super::LeaderElection, ConfigError> {
        let defaults = super::LeaderElection::default();
        let Some(raw) = raw else {
            return Ok(defaults);
        };
        let duration = |key: &str, d: Option<RawDuration>, default| match d {
            Some(d) => self.positive_duration(&format!("leader_election.{key}"), d),
            None => Ok(default),
        };
        let lease_duration = duration(
            "lease_duration",
            raw.lease_duration,
            defaults.lease_duration,
        )?;
        let renew_deadline = duration(
            "renew_deadline",
            raw.renew_deadline,
            defaults.renew_deadline,
        )?;
        let retry_period = duration("retry_period", raw.retry_period, defaults.retry_period)?;
        if renew_deadline >= lease_duration {
            return Err(self.err(
                "leader_election.renew_deadline",
                format!(
                    "must be less than lease_duration ({lease_duration:?}): a leader must stop acting before its lease can pass to another"
                ),
            ));
        }
        if retry_period >= renew_deadline {
            return Err(self.err(
                "leader_election.retry_period",
                format!("must be less than renew_deadline ({renew_deadline:?})"),
            ));
        }
        for (key, value) in [
            ("namespace", &raw.namespace),
            ("lease_name", &raw.lease_name),
        ] {
            if let Some(v) = value
                && !is_dns_label(v)
            {
                return Err(self.err(
                    &format!("leader_election.{key}"),
                    format!("{v:?} is not a valid Kubernetes name (lowercase letters, digits and '-', at most 63)"),
                ));
            }
        }
        Ok(super::LeaderElection {
            enabled: raw.enabled.unwrap_or(false),
            namespace: raw.namespace,
            lease_name: raw.lease_name.unwrap_or(defaults.lease_name),
            lease_duration,
            renew_deadline,
            retry_period,
        })
    }

    /// `executor`: `local` unless it says `kubernetes`; the Kubernetes keys only with that.
    fn executor(
        &self,
        raw: Option<super::raw::RawExecutor>,
    ) -> Result<super::ExecutorSettings, ConfigError> {
        let Some(raw) = raw else {
            return Ok(super::ExecutorSettings::default());
        };
        match raw.kind.as_deref().unwrap_or("local") {
            "local" => {
                let extra = [
                    ("namespace", raw.namespace.is_some()),
                    ("service_account", raw.service_account.is_some()),
                    ("ttl_after_finished", raw.ttl_after_finished.is_some()),
                    ("runtime_class", raw.runtime_class.is_some()),
                ];
                if let Some((key, _)) = extra.iter().find(|(_, set)| *set) {
                    return Err(self.err(
                        &format!("executor.{key}"),
                        format!("`{key}` only applies to `kind: kubernetes`"),
                    ));
                }
                Ok(super::ExecutorSettings::Local(super::LocalSettings {
                    keep_failed: raw.keep_failed.unwrap_or(super::DEFAULT_KEEP_FAILED),
                }))
            }
            "kubernetes" => {
                if raw.keep_failed.is_some() {
                    return Err(self.err(
                        "executor.keep_failed",
                        "`keep_failed` only applies to `kind: local` (a failed agent's Job is kept for `ttl_after_finished`)".to_owned(),
                    ));
                }
                let name = |key: &str, v: Option<String>| {
                    match v {
                    Some(n) if !is_dns_label(&n) => Err(self.err(
                        &format!("executor.{key}"),
                        format!("{n:?} is not a valid Kubernetes name (lowercase letters, digits and '-', at most 63)"),
                    )),
                    other => Ok(other),
                }
                };
                let ttl_after_finished = match raw.ttl_after_finished {
                    Some(d) => self.positive_duration("executor.ttl_after_finished", d)?,
                    None => super::DEFAULT_JOB_TTL,
                };
                Ok(super::ExecutorSettings::Kubernetes(
                    super::KubernetesSettings {
                        namespace: name("namespace", raw.namespace)?,
                        service_account: raw.service_account,
                        ttl_after_finished,
                        runtime_class: name("runtime_class", raw.runtime_class)?,
                    },
                ))
            }
            other => Err(self
                .err(
                    "executor.kind",
                    format!("unknown executor {other:?}; expected one of: local, kubernetes"),
                )
                .with_suggestion(did_you_mean(other, ["local", "kubernetes"]))),
        }
    }

    /// `oci`: insecure registries, credentials (one kind per registry), the transfer deadline.
    fn oci(&self, raw: super::raw::RawOci) -> Result<super::OciSettings, ConfigError> {
        let mut credentials = Vec::new();
        for (registry, c) in raw.credentials {
            let key = format!("oci.credentials.{registry}");
            let entry = match (c.username, c.password_secret, c.token_secret) {
                (Some(username), Some(password_secret), None) => super::OciCredentials::Basic {
                    username,
                    password_secret,
                },
                (None, None, Some(token_secret)) => super::OciCredentials::Bearer { token_secret },
                _ => {
                    return Err(self.err(
                        &key,
                        "expected either `username` with `password_secret`, or `token_secret`",
                    ));
                }
            };
            credentials.push((registry, entry));
        }
        let transfer_timeout = raw
            .transfer_timeout
            .map(|d| self.positive_duration("oci.transfer_timeout", d))
            .transpose()?;
        let ca_files = raw
            .ca_files
            .iter()
            .enumerate()
            .map(|(i, p)| self.path(&format!("oci.ca_files[{i}]"), p))
            .collect::<Result<_, _>>()?;
        let cache_mb = raw
            .cache_mb
            .map(|mb| self.cache_mb("oci.cache_mb", mb))
            .transpose()?;
        Ok(super::OciSettings {
            insecure_registries: raw.insecure_registries,
            credentials,
            transfer_timeout,
            ca_files,
            cache_mb,
        })
    }

    /// A cache size cap in MiB: at least 1.
    fn cache_mb(&self, key: &str, mb: u64) -> Result<u64, ConfigError> {
        if mb == 0 {
            return Err(self.err(key, "expected a size in MiB of at least 1, found 0"));
        }
        Ok(mb)
    }

    /// `admin`: where the API listens (loopback unless `allow_remote`) and its token's key.
    fn admin(&self, raw: super::raw::RawAdmin) -> Result<super::AdminSettings, ConfigError> {
        let written = raw.listen.as_deref().unwrap_or(super::DEFAULT_ADMIN_LISTEN);
        let listen: std::net::SocketAddr = written.parse().map_err(|_| {
            self.err(
                "admin.listen",
                format!(
                    "expected an address as IP:PORT, e.g. {:?} (host names are not looked up), found {written:?}",
                    super::DEFAULT_ADMIN_LISTEN
                ),
            )
        })?;
        // The API can switch plugins off: reachable from elsewhere only when asked for.
        if !raw.allow_remote && !listen.ip().to_canonical().is_loopback() {
            return Err(self.err(
                "admin.listen",
                format!(
                    "{listen} is not a loopback address; the admin API can switch plugins off, so listening beyond this host needs `allow_remote: true`"
                ),
            ));
        }
        if raw.token_secret.trim().is_empty() {
            return Err(self.err(
                "admin.token_secret",
                format!(
                    "expected the key of the admin API's bearer token in the secrets backend, found {:?}",
                    raw.token_secret
                ),
            ));
        }
        Ok(super::AdminSettings {
            listen,
            token_secret: raw.token_secret,
        })
    }

    /// A duration that must be above zero.
    fn positive_duration(&self, key: &str, d: RawDuration) -> Result<Duration, ConfigError> {
        if d.0.is_zero() {
            return Err(self.err(key, "expected a duration above 0, found 0"));
        }
        Ok(d.0)
    }

    /// A path, relative ones resolved against the config file's directory.
    fn path(&self, key: &str, path: &str) -> Result<PathBuf, ConfigError> {
        if path.is_empty() {
            return Err(self.err(key, "expected a path, found \"\""));
        }
        Ok(self.resolve(path))
    }

    fn resolve(&self, path: &str) -> PathBuf {
        // `components()` drops the `.` of `./bin/x` and repeated slashes.
        self.dir.join(path).components().collect()
    }

    /// One entry of `plugins:`; `before` are the entries above it.
    fn plugin(
        &self,
        i: usize,
        mut raw: RawPlugin,
        before: &[PluginSpec],
    ) -> Result<PluginSpec, ConfigError> {
        let key = format!("plugins[{i}]");
        let name_key = format!("{key}.name");
        let missing = |field: &str| self.err(&key, format!("missing required key {field:?}"));
        let name = raw.name.take().ok_or_else(|| missing("name"))?;
        let interface = raw.interface.take().ok_or_else(|| missing("type"))?;
        let interface_version = raw
            .interface_version
            .take()
            .ok_or_else(|| missing("interface_version"))?;
        self.check_name(&name_key, &name)?;
        let builtins = all_builtin_names();
        if builtins.contains(&name.as_str()) {
            return Err(self.err(
                &name_key,
                format!(
                    "{name:?} is the name of a built-in backend; plugin names must differ from every built-in backend name ({})",
                    builtins.join(", ")
                ),
            ));
        }
        if let Some(j) = before.iter().position(|p| p.name == name) {
            let first = format!("plugins[{j}]");
            let line = self
                .locator
                .exact(&format!("{first}.name"))
                .or_else(|| self.locator.line(&first));
            let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
            return Err(self.err(
                &name_key,
                format!("{name:?} is already the name of {first}{at}"),
            ));
        }

        let interface = self.interface(&key, &interface)?;
        self.interface_version(&key, interface_version)?;
        let source = self.plugin_source(&key, raw)?;
        Ok(PluginSpec {
            name,
            interface,
            interface_version,
            source,
            // The entry exists in the file, so the locator has its line; 0 cannot happen.
            line: self.locator.line(&key).unwrap_or(0),
        })
    }

    fn check_name(&self, name_key: &str, name: &str) -> Result<(), ConfigError> {
        if name.is_empty() {
            return Err(self.err(name_key, "expected a non-empty name"));
        }
        if !valid_plugin_name(name) {
            return Err(self.err(
                name_key,
                format!(
                    "{name:?} is not a valid plugin name (expected lowercase letters, digits, '_' and '-', starting with a letter or digit)"
                ),
            ));
        }
        Ok(())
    }

    /// The entry's `type`.
    fn interface(&self, key: &str, name: &str) -> Result<Interface, ConfigError> {
        Interface::from_str(name).map_err(|_| {
            let names = Interface::ALL.map(Interface::name);
            self.err(
                &join_key(key, "type"),
                format!(
                    "unknown plugin type {name:?}; expected one of: {}",
                    names.join(", ")
                ),
            )
            .with_suggestion(did_you_mean(name, names))
        })
    }

    fn interface_version(&self, key: &str, version: u32) -> Result<(), ConfigError> {
        if version == 0 {
            return Err(self.err(
                &join_key(key, "interface_version"),
                "expected an integer >= 1, found 0",
            ));
        }
        Ok(())
    }

    /// Where the entry at `key` comes from and how it runs: `command` or `component`, with
    /// the keys of that kind only.
    fn plugin_source(&self, key: &str, mut raw: RawPlugin) -> Result<PluginSource, ConfigError> {
        let key = key.to_owned();
        let subprocess_keys = [
            raw.args.is_some(),
            raw.env.is_some(),
            raw.inherit_env.is_some(),
            raw.sandbox.is_some(),
            raw.auto_mtls.is_some(),
            raw.start_timeout.is_some(),
            raw.call_timeout.is_some(),
        ];
        let component_keys = [
            raw.digest.is_some(),
            raw.config.is_some(),
            raw.allowed_hosts.is_some(),
            raw.kv.is_some(),
            raw.read_only_dirs.is_some(),
            raw.limits.is_some(),
            raw.instance.is_some(),
        ];
        let source = match (raw.command.take(), raw.component.take()) {
            (None, None) => {
                return Err(self.err(
                    &key,
                    "expected one of `command` (subprocess plugin) or `component` (Wasm component)",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(self.err(
                    &key,
                    "has both `command` and `component`; a plugin is either a subprocess (`command`) or a Wasm component (`component`)",
                ));
            }
            (Some(command), None) => {
                self.misplaced(
                    &key,
                    &COMPONENT_KEYS,
                    &component_keys,
                    "component",
                    "subprocess",
                    "command",
                )?;
                PluginSource::Subprocess(self.subprocess(&key, command, raw)?)
            }
            (None, Some(component)) => {
                self.misplaced(
                    &key,
                    &SUBPROCESS_KEYS,
                    &subprocess_keys,
                    "subprocess",
                    "component",
                    "component",
                )?;
                PluginSource::Component(self.component(&key, &component, raw)?)
            }
        };
        Ok(source)
    }

    /// Refuses the keys of the other kind of plugin, naming the first one in the file.
    fn misplaced(
        &self,
        key: &str,
        names: &[&str],
        present: &[bool],
        applies_to: &str,
        this_kind: &str,
        this_key: &str,
    ) -> Result<(), ConfigError> {
        let first = names
            .iter()
            .zip(present)
            .filter(|(_, present)| **present)
            .map(|(name, _)| join_key(key, name))
            .min_by_key(|k| self.locator.line(k).unwrap_or(usize::MAX));
        match first {
            Some(k) => {
                let name = k.rsplit('.').next().unwrap_or_default();
                Err(self.err(
                    &k,
                    format!(
                        "`{name}` only applies to {applies_to} plugins; this is a {this_kind} plugin (it has `{this_key}`)"
                    ),
                ))
            }
            None => Ok(()),
        }
    }

    /// The subprocess settings of the entry at `key` (its `command` already taken out).
    fn subprocess(
        &self,
        key: &str,
        command: String,
        raw: RawPlugin,
    ) -> Result<SubprocessSpec, ConfigError> {
        if command.is_empty() {
            return Err(self.err(
                &join_key(key, "command"),
                "expected a command (a path, or a name looked up in PATH), found \"\"",
            ));
        }
        // A bare name is looked up in PATH when the plugin starts, like a shell would.
        let command = if command.contains('/') {
            self.resolve(&command)
        } else {
            PathBuf::from(command)
        };
        let timeout = |name: &str, d: Option<RawDuration>| match d {
            Some(d) => self.positive_duration(&join_key(key, name), d),
            None => Ok(DEFAULT_PLUGIN_TIMEOUT),
        };
        let env = raw.env.unwrap_or_default();
        let secrets = raw.secrets.unwrap_or_default();
        let inherit_env = raw.inherit_env.unwrap_or_default();
        for (k, name) in env
            .keys()
            .map(|n| ("env", n))
            .chain(secrets.keys().map(|n| ("secrets", n)))
            .chain(inherit_env.iter().map(|n| ("inherit_env", n)))
        {
            if name.is_empty() || name.contains(['=', '\0']) {
                return Err(self.err(
                    &join_key(key, k),
                    format!("{name:?} is not an environment variable name"),
                ));
            }
        }
        let sandbox = self.sandbox(key, raw.sandbox, inherit_env)?;
        Ok(SubprocessSpec {
            command,
            args: raw.args.unwrap_or_default(),
            env,
            secrets,
            sandbox,
            auto_mtls: raw.auto_mtls.unwrap_or(true),
            start_timeout: timeout("start_timeout", raw.start_timeout)?,
            call_timeout: timeout("call_timeout", raw.call_timeout)?,
        })
    }

    /// The `sandbox` of the subprocess entry at `key`.
    fn sandbox(
        &self,
        key: &str,
        raw: Option<RawSandbox>,
        inherit_env: Vec<String>,
    ) -> Result<robodev_grpc::Sandbox, ConfigError> {
        let mut sandbox = robodev_grpc::Sandbox {
            inherit_env,
            ..robodev_grpc::Sandbox::default()
        };
        let settings = match raw {
            None | Some(RawSandbox::Enabled(true)) => return Ok(sandbox),
            Some(RawSandbox::Enabled(false)) => {
                sandbox.enabled = false;
                return Ok(sandbox);
            }
            Some(RawSandbox::Settings(settings)) => settings,
        };
        let key = join_key(key, "sandbox");
        let paths = |list: Option<Vec<String>>| -> Vec<PathBuf> {
            list.unwrap_or_default()
                .iter()
                .map(|p| self.resolve(p))
                .collect()
        };
        sandbox.network = settings.network.unwrap_or(false);
        sandbox.read = paths(settings.read);
        sandbox.write = paths(settings.write);
        let cap = |name: &str, raw: Option<RawCap>, default: Option<u64>, min: u64| match raw {
            None => Ok(default),
            Some(RawCap::Unlimited) => Ok(None),
            Some(RawCap::Limit(n)) if n >= min => Ok(Some(n)),
            Some(RawCap::Limit(n)) => Err(self.err(
                &join_key(&key, name),
                format!("expected at least {min} (or \"unlimited\"), found {n}"),
            )),
        };
        sandbox.memory_mb = cap("memory_mb", settings.memory_mb, sandbox.memory_mb, 16)?;
        sandbox.open_files = cap("open_files", settings.open_files, sandbox.open_files, 16)?;
        sandbox.processes = cap(
            "processes",
            settings.processes,
            sandbox.processes,
            robodev_grpc::MIN_PROCESSES,
        )?;
        sandbox.cpu_time =
            cap("cpu_seconds", settings.cpu_seconds, None, 1)?.map(Duration::from_secs);
        Ok(sandbox)
    }

    /// The component settings of the entry at `key` (its `component` already taken out).
    fn component(
        &self,
        key: &str,
        component: &str,
        raw: RawPlugin,
    ) -> Result<ComponentSpec, ConfigError> {
        let component_key = join_key(key, "component");
        if let Some(d) = &raw.digest
            && !valid_digest(d)
        {
            return Err(self.err(
                &join_key(key, "digest"),
                format!("expected \"sha256:\" followed by 64 lowercase hex digits, found {d:?}"),
            ));
        }
        let location = if component.starts_with("oci://") || component.starts_with("oci+http") {
            let reference = robodev_oci::Reference::parse(component)
                .map_err(|e| self.err(&component_key, e.to_string()))?;
            // One pin: `digest:` and an `@sha256:` in the reference must agree.
            let reference = match (&raw.digest, reference.digest()) {
                (Some(d), Some(r)) if d != r => {
                    return Err(self.err(
                        &join_key(key, "digest"),
                        format!(
                            "{d} differs from the digest pinned in the component reference ({r})"
                        ),
                    ));
                }
                (Some(d), None) => reference.with_digest(d),
                _ => reference,
            };
            ComponentLocation::Oci(reference)
        } else if component.contains("://") {
            return Err(self.err(
                &component_key,
                format!(
                    "{component:?} is a URL; give a path to a .wasm file or an oci:// reference"
                ),
            ));
        } else {
            ComponentLocation::File(self.path(&component_key, component)?)
        };
        let digest = match &location {
            ComponentLocation::Oci(reference) => reference.digest().map(str::to_owned),
            ComponentLocation::File(_) => raw.digest.clone(),
        };
        let config = raw
            .config
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| {
                // Guests read strings; anything else reaches them as its JSON text.
                let text = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, text)
            })
            .collect();
        let limits_key = join_key(key, "limits");
        let positive = |name: &str, v: Option<u64>| match v {
            Some(0) => Err(self.err(
                &join_key(&limits_key, name),
                "expected an integer >= 1, found 0",
            )),
            other => Ok(other),
        };
        let limits = raw.limits.unwrap_or_default();
        let fuel = positive("fuel", limits.fuel)?;
        let timeout = positive("timeout_ms", limits.timeout_ms)?.map(Duration::from_millis);
        let memory_mb = positive("memory_mb", limits.memory_mb)?;
        let component_mb = positive("component_mb", limits.component_mb)?;
        let instance = match raw.instance.unwrap_or(RawInstance::Fresh) {
            RawInstance::Fresh => InstanceMode::Fresh,
            RawInstance::Warm(0) => {
                return Err(self.err(
                    &join_key(key, "instance.warm"),
                    "expected an integer >= 1, found 0",
                ));
            }
            RawInstance::Warm(n) => InstanceMode::Warm(usize::try_from(n).map_err(|_| {
                self.err(
                    &join_key(key, "instance.warm"),
                    format!("expected an integer from 1 to {}, found {n}", usize::MAX),
                )
            })?),
        };
        let dirs_key = join_key(key, "read_only_dirs");
        let read_only_dirs = raw
            .read_only_dirs
            .unwrap_or_default()
            .into_iter()
            .map(|(guest, host)| {
                let guest_key = join_key(&dirs_key, &guest);
                if !guest.starts_with('/') {
                    return Err(self.err(
                        &guest_key,
                        format!(
                            "{guest:?} is not an absolute guest path (expected e.g. \"/data\")"
                        ),
                    ));
                }
                Ok((guest, self.path(&guest_key, &host)?))
            })
            .collect::<Result<_, _>>()?;
        Ok(ComponentSpec {
            location,
            digest,
            config,
            secrets: raw.secrets.unwrap_or_default(),
            allowed_hosts: raw.allowed_hosts.unwrap_or_default(),
            kv: raw.kv.unwrap_or(false),
            read_only_dirs,
            fuel,
            timeout,
            memory_mb,
            component_mb,
            instance,
        })
    }

    fn plugin_health(&self, raw: &RawPluginHealth) -> Result<(u32, Vec<Duration>), ConfigError> {
        let max = raw
            .max_plugin_restarts
            .unwrap_or(DEFAULT_MAX_PLUGIN_RESTARTS);
        let backoff: Vec<Duration> = match &raw.restart_backoff {
            Some(list) => list.iter().map(|d| d.0).collect(),
            None => DEFAULT_RESTART_BACKOFF_SECS
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
        };
        if backoff.is_empty() && max > 0 {
            return Err(self.err(
                "plugin_health.restart_backoff",
                format!(
                    "expected at least one delay, since max_plugin_restarts is {max} (set it to 0 to never restart)"
                ),
            ));
        }
        Ok((max, backoff))
    }

    /// A `{ backend, config }` selection at `key`.
    fn selection(
        &self,
        interface: Interface,
        key: &str,
        raw: RawBackend,
        plugins: &[PluginSpec],
    ) -> Result<BackendRef, ConfigError> {
        self.backend(interface, key, &raw.backend, raw.config, plugins)
    }

    /// Resolves the backend `name` selected at `key.backend`, with the options at
    /// `key.config`.
    fn backend(
        &self,
        interface: Interface,
        key: &str,
        name: &str,
        config: Option<Value>,
        plugins: &[PluginSpec],
    ) -> Result<BackendRef, ConfigError> {
        let name_key = join_key(key, "backend");
        let config_key = join_key(key, "config");
        if self
            .plugin_of(interface, &name_key, name, plugins)?
            .is_some()
        {
            if config.is_some() {
                return Err(self.err(
                    &config_key,
                    format!(
                        "config applies to built-in backends only; plugin {name:?} takes its settings in its plugins entry"
                    ),
                ));
            }
            return Ok(BackendRef::Plugin {
                interface,
                name: name.to_owned(),
            });
        }
        if !builtin::names(interface).contains(&name) {
            return Err(self.unknown_backend(interface, &name_key, name, plugins));
        }
        let config = match config {
            None => Value::Object(serde_json::Map::new()),
            Some(v @ Value::Object(_)) => v,
            Some(other) => {
                return Err(self.err(
                    &config_key,
                    format!("expected a map, found {}", describe(&other)),
                ));
            }
        };
        self.check_builtin(interface, name, &config, &config_key)?;
        Ok(BackendRef::Builtin {
            interface,
            name: name.to_owned(),
            config,
        })
    }

    /// The plugin called `name` if there is one of `interface`; an error if it has another.
    fn plugin_of<'p>(
        &self,
        interface: Interface,
        key: &str,
        name: &str,
        plugins: &'p [PluginSpec],
    ) -> Result<Option<&'p PluginSpec>, ConfigError> {
        match plugins.iter().find(|p| p.name == name) {
            Some(p) if p.interface != interface => Err(self.err(
                key,
                format!(
                    "plugin {name:?} is {} {} plugin, expected {} {interface} plugin",
                    article(p.interface),
                    p.interface,
                    article(interface)
                ),
            )),
            found => Ok(found),
        }
    }

    /// No built-in and no plugin of `interface` is called `name`.
    fn unknown_backend(
        &self,
        interface: Interface,
        key: &str,
        name: &str,
        plugins: &[PluginSpec],
    ) -> ConfigError {
        let builtins = builtin::names(interface);
        let plugin_names: Vec<&str> = plugins
            .iter()
            .filter(|p| p.interface == interface)
            .map(|p| p.name.as_str())
            .collect();
        let choices: Vec<String> = builtins
            .iter()
            .map(|b| format!("{b} (built-in)"))
            .chain(plugin_names.iter().map(|p| format!("{p} (plugin)")))
            .collect();
        let message = if choices.is_empty() {
            format!(
                "unknown {interface} backend {name:?}; robodev has no built-in {interface} backend and no {interface} plugin is configured"
            )
        } else {
            format!(
                "unknown {interface} backend {name:?}; expected one of: {}",
                choices.join(", ")
            )
        };
        let suggestion = did_you_mean(name, builtins.iter().copied().chain(plugin_names));
        self.err(key, message).with_suggestion(suggestion)
    }

    /// The built-in's own check of its options, its key paths placed under `config_key`.
    fn check_builtin(
        &self,
        interface: Interface,
        name: &str,
        config: &Value,
        config_key: &str,
    ) -> Result<(), ConfigError> {
        builtin::check(interface, name, config).map_err(|e| {
            let key = if e.key.is_empty() {
                config_key.to_owned()
            } else if e.key.starts_with('[') {
                format!("{config_key}{}", e.key)
            } else {
                join_key(config_key, &e.key)
            };
            self.err(&key, e.message)
        })
    }

    /// `engines`: every section validated, the default's returned.
    fn engines(
        &self,
        raw: RawEngines,
        plugins: &[PluginSpec],
    ) -> Result<EngineSettings, ConfigError> {
        let engine_names = || {
            builtin::names(Interface::Engine).iter().copied().chain(
                plugins
                    .iter()
                    .filter(|p| p.interface == Interface::Engine)
                    .map(|p| p.name.as_str()),
            )
        };
        let mut chosen: Option<(EngineConfig, Value)> = None;
        let default = raw.default.as_deref().unwrap_or(DEFAULT_ENGINE);
        for (name, section) in raw.sections {
            let key = join_key("engines", &name);
            let plugin = self.plugin_of(Interface::Engine, &key, &name, plugins)?;
            if plugin.is_none() && !builtin::names(Interface::Engine).contains(&name.as_str()) {
                let choices: Vec<&str> = engine_names().collect();
                return Err(self
                    .err(
                        &key,
                        format!(
                            "no engine is called {name:?}; an engine section is named after a built-in engine or an engine plugin (expected `default` or one of: {})",
                            choices.join(", ")
                        ),
                    )
                    .with_suggestion(did_you_mean(
                        &name,
                        std::iter::once("default").chain(choices.iter().copied()),
                    )));
            }
            let settings = self.engine_section(&key, &name, plugin.is_some(), section)?;
            // Every built-in engine section is checked, used or not: a mistake in it would
            // surface only on the day it becomes the default.
            if plugin.is_none() {
                self.check_builtin(Interface::Engine, &name, &settings.1, &key)?;
            }
            if name == default {
                chosen = Some(settings);
            }
        }

        let name_key = "engines.default";
        let has_section = chosen.is_some();
        let (config, builtin_config) = chosen.unwrap_or_else(|| {
            (
                EngineConfig::default(),
                Value::Object(serde_json::Map::new()),
            )
        });
        let backend = match self.plugin_of(Interface::Engine, name_key, default, plugins)? {
            Some(_) => BackendRef::Plugin {
                interface: Interface::Engine,
                name: default.to_owned(),
            },
            None if builtin::names(Interface::Engine).contains(&default) => {
                if !has_section {
                    self.check_builtin(
                        Interface::Engine,
                        default,
                        &builtin_config,
                        &join_key("engines", default),
                    )?;
                }
                BackendRef::Builtin {
                    interface: Interface::Engine,
                    name: default.to_owned(),
                    config: builtin_config,
                }
            }
            None => {
                return Err(self.unknown_backend(Interface::Engine, name_key, default, plugins));
            }
        };
        Ok(EngineSettings { backend, config })
    }

    /// One engine's section: what goes into `EngineConfig`, and the built-in's options.
    fn engine_section(
        &self,
        key: &str,
        name: &str,
        is_plugin: bool,
        section: RawEngineSection,
    ) -> Result<(EngineConfig, Value), ConfigError> {
        let timeout_seconds = match section.timeout_seconds {
            Some(t) if t <= 0 => {
                return Err(self.err(
                    &join_key(key, "timeout_seconds"),
                    format!("expected an integer >= 1, found {t}"),
                ));
            }
            Some(t) => t,
            None => 0,
        };
        let mut options = serde_json::Map::new();
        if let Some(command) = section.command {
            let command_key = join_key(key, "command");
            if is_plugin {
                return Err(self.err(
                    &command_key,
                    format!(
                        "`command` is an option of the built-in local engine; engine plugin {name:?} takes its settings in its plugins entry"
                    ),
                ));
            }
            if command.is_empty() {
                return Err(self.err(&command_key, "expected a non-empty list of strings"));
            }
            options.insert(
                "command".to_owned(),
                Value::Array(command.into_iter().map(Value::String).collect()),
            );
        }
        let resources = |r: Option<RawResources>| {
            r.map(|r| Resources {
                cpu: r.cpu,
                memory: r.memory,
            })
        };
        let config = EngineConfig {
            image: section.image.unwrap_or_default(),
            resource_requests: resources(section.resource_requests),
            resource_limits: resources(section.resource_limits),
            timeout_seconds,
            env: section.env,
        };
        Ok((config, Value::Object(options)))
    }

    fn guardrails(
        &self,
        raw: RawGuardrails,
        has_approval: bool,
    ) -> Result<Guardrails, ConfigError> {
        let at_least_one = |name: &str, v: Option<u64>, default: u64| match v {
            Some(0) => Err(self.err(
                &join_key("guardrails", name),
                "expected an integer >= 1, found 0",
            )),
            Some(n) => Ok(n),
            None => Ok(default),
        };
        let max_concurrent_jobs = at_least_one(
            "max_concurrent_jobs",
            raw.max_concurrent_jobs,
            DEFAULT_MAX_CONCURRENT_JOBS as u64,
        )?;
        let max_concurrent_jobs = usize::try_from(max_concurrent_jobs).map_err(|_| {
            self.err(
                "guardrails.max_concurrent_jobs",
                format!(
                    "expected an integer from 1 to {}, found {max_concurrent_jobs}",
                    usize::MAX
                ),
            )
        })?;
        let minutes = at_least_one(
            "max_job_duration_minutes",
            raw.max_job_duration_minutes,
            DEFAULT_MAX_JOB_DURATION.as_secs() / 60,
        )?;
        let max_job_duration = minutes
            .checked_mul(60)
            .map(Duration::from_secs)
            .ok_or_else(|| {
                self.err(
                    "guardrails.max_job_duration_minutes",
                    format!("{minutes} minutes is too long"),
                )
            })?;
        if raw.require_approval_before_start && !has_approval {
            return Err(self.err(
                "guardrails.require_approval_before_start",
                "is true, but no approval backend is configured (add an `approval: { backend: NAME }` section naming an approval plugin)",
            ));
        }
        Ok(Guardrails {
            allowed_repos: raw.allowed_repos,
            allowed_task_types: raw.allowed_task_types,
            max_concurrent_jobs,
            max_job_duration,
            require_approval_before_start: raw.require_approval_before_start,
            max_retries: raw.max_retries,
        })
    }
}

/// "a" or "an" before the interface's name.
fn article(interface: Interface) -> &'static str {
    if interface.name().starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_errors_read_naturally() {
        assert_eq!(
            rewrite_type_error("invalid type: string \"one\", expected u32"),
            "expected an integer, found \"one\""
        );
        assert_eq!(
            rewrite_type_error("invalid value: integer `-1`, expected u32"),
            "expected an integer from 0 to 4294967295, found -1"
        );
        assert_eq!(
            rewrite_type_error("invalid type: sequence, expected struct RawTicketing"),
            "expected a map, found a list"
        );
        assert_eq!(
            rewrite_type_error("invalid type: string \"a, expected b\", expected a boolean"),
            "expected a boolean, found \"a, expected b\""
        );
        assert_eq!(rewrite_type_error("something else"), "something else");
    }

    #[test]
    fn positions_are_stripped() {
        assert_eq!(
            strip_positions(
                "did not find expected key at line 3 column 5, while parsing a block mapping at line 1 column 1"
            ),
            "did not find expected key, while parsing a block mapping"
        );
        assert_eq!(strip_positions("look at this"), "look at this");
    }

    #[test]
    fn names_and_digests() {
        assert!(valid_plugin_name("jira"));
        assert!(valid_plugin_name("0x_a-b"));
        assert!(!valid_plugin_name("Jira"));
        assert!(!valid_plugin_name("-a"));
        assert!(!valid_plugin_name(""));
        assert!(valid_digest(&format!("sha256:{}", "a".repeat(64))));
        assert!(!valid_digest(&format!("sha256:{}", "A".repeat(64))));
        assert!(!valid_digest("sha256:abc"));
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            did_you_mean("tiketing", ["ticketing", "plugins"]),
            Some("ticketing".to_owned())
        );
        assert_eq!(did_you_mean("zzz", ["ticketing", "plugins"]), None);
    }
}
