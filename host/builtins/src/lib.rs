//! `robodev-builtins`: the built-in backends, compiled into robodev so that it runs with no
//! plugin at all (they depend on `robodev-core` only, like any plugin would):
//! ticketing `local`, notifications `log` and `webhook`, secrets `env`, `file` and `k8s`, engine
//! `local`, review `rules`.
//!
//! Each built-in takes its options from the `config:` map of the backend selection that names
//! it (`ticketing: { backend: local, config: { file: tickets.yaml } }`). [`check`] validates
//! those options without creating anything (for `robodev config check`); [`create`] builds the
//! backend.
//!
//! Each built-in lives in its own module with its `Options` (the schema of its `config:` map),
//! the backend type and their tests:
//!
//! | interface     | name      | module                 |
//! |---------------|-----------|------------------------|
//! | ticketing     | `local`   | [`ticketing_local`]    |
//! | notifications | `log`     | [`notify_log`]         |
//! | notifications | `webhook` | [`notify_webhook`]     |
//! | secrets       | `env`     | [`secrets_env`]        |
//! | secrets       | `file`    | [`secrets_file`]       |
//! | secrets       | `k8s`     | [`secrets_k8s`]        |
//! | engine        | `local`   | [`engine_local`]       |
//! | review        | `rules`   | [`review_rules`]       |
//!
//! ```
//! use robodev_builtins as builtin;
//! use robodev_core::Interface;
//! use serde_json::json;
//!
//! let err = builtin::check(Interface::Ticketing, "local", &json!({"fiel": "t.yaml"})).unwrap_err();
//! assert_eq!(err.key, "fiel");
//! assert_eq!(err.message, "unknown option `fiel` of `local`; did you mean `file`?");
//! ```

pub mod engine_local;
pub mod glob;
pub mod notify_log;
pub mod notify_webhook;
pub mod review_rules;
pub mod secrets_env;
pub mod secrets_file;
pub mod secrets_k8s;
pub mod store;
pub mod ticketing_local;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use robodev_core::{AnyBackend, Error, ErrorCode, Interface, PluginError};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// What a built-in may use from its host.
#[derive(Debug, Clone)]
pub struct BuiltinContext {
    /// The config file's directory: relative paths in a built-in's options resolve against it.
    pub config_dir: PathBuf,
    /// robodev's state directory; a built-in with state keeps it under `state_dir/<name>/`.
    pub state_dir: PathBuf,
}

impl BuiltinContext {
    /// `path` resolved against the config file's directory (an absolute path stays as it is).
    pub fn resolve(&self, path: &Path) -> PathBuf {
        self.config_dir.join(path)
    }
}

/// A problem with a built-in's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinConfigError {
    /// The key path inside the `config:` map (`file`, `gates[0].pattern`); empty for the map
    /// itself.
    pub key: String,
    /// What was wrong and what was expected.
    pub message: String,
}

impl BuiltinConfigError {
    /// An error about the option at `key`.
    pub(crate) fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        BuiltinConfigError {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// The built-in backends of `interface`.
pub fn names(interface: Interface) -> &'static [&'static str] {
    match interface {
        Interface::Ticketing => &["local"],
        Interface::Notifications => &["log", "webhook"],
        Interface::Secrets => &["env", "file", "k8s"],
        Interface::Engine => &["local"],
        Interface::Review => &["rules"],
        Interface::Approval | Interface::Scm => &[],
    }
}

/// Checks a built-in's options without creating it.
pub fn check(
    interface: Interface,
    name: &str,
    config: &serde_json::Value,
) -> Result<(), BuiltinConfigError> {
    match (interface, name) {
        (Interface::Ticketing, ticketing_local::NAME) => {
            ticketing_local::Options::from_config(config).map(drop)
        }
        (Interface::Notifications, notify_log::NAME) => {
            notify_log::Options::from_config(config).map(drop)
        }
        (Interface::Notifications, notify_webhook::NAME) => {
            notify_webhook::Options::from_config(config).map(drop)
        }
        (Interface::Secrets, secrets_env::NAME) => {
            secrets_env::Options::from_config(config).map(drop)
        }
        (Interface::Secrets, secrets_file::NAME) => {
            secrets_file::Options::from_config(config).map(drop)
        }
        (Interface::Secrets, secrets_k8s::NAME) => {
            secrets_k8s::Options::from_config(config).map(drop)
        }
        (Interface::Engine, engine_local::NAME) => {
            engine_local::Options::from_config(config).map(drop)
        }
        (Interface::Review, review_rules::NAME) => {
            review_rules::Options::from_config(config).map(drop)
        }
        _ => Err(unknown_builtin(interface, name)),
    }
}

/// Creates the built-in `name` of `interface` with its options.
pub async fn create(
    interface: Interface,
    name: &str,
    config: &serde_json::Value,
    context: &BuiltinContext,
) -> Result<AnyBackend, Error> {
    let invalid = |e: BuiltinConfigError| host_error(name, interface, describe(&e));
    Ok(match (interface, name) {
        (Interface::Ticketing, ticketing_local::NAME) => {
            let options = ticketing_local::Options::from_config(config).map_err(invalid)?;
            AnyBackend::Ticketing(Arc::new(
                ticketing_local::LocalTicketing::new(options, context).await?,
            ))
        }
        (Interface::Notifications, notify_log::NAME) => {
            let options = notify_log::Options::from_config(config).map_err(invalid)?;
            AnyBackend::Notifications(Arc::new(notify_log::LogNotifier::new(options, context)))
        }
        (Interface::Notifications, notify_webhook::NAME) => {
            let options = notify_webhook::Options::from_config(config).map_err(invalid)?;
            AnyBackend::Notifications(Arc::new(
                notify_webhook::WebhookNotifier::new(options, context).await?,
            ))
        }
        (Interface::Secrets, secrets_env::NAME) => {
            let options = secrets_env::Options::from_config(config).map_err(invalid)?;
            AnyBackend::Secrets(Arc::new(secrets_env::EnvSecrets::new(options)))
        }
        (Interface::Secrets, secrets_file::NAME) => {
            let options = secrets_file::Options::from_config(config).map_err(invalid)?;
            AnyBackend::Secrets(Arc::new(
                secrets_file::FileSecrets::new(options, context).await?,
            ))
        }
        (Interface::Secrets, secrets_k8s::NAME) => {
            let options = secrets_k8s::Options::from_config(config).map_err(invalid)?;
            AnyBackend::Secrets(Arc::new(secrets_k8s::K8sSecrets::new(options).await?))
        }
        (Interface::Engine, engine_local::NAME) => {
            let options = engine_local::Options::from_config(config).map_err(invalid)?;
            AnyBackend::Engine(Arc::new(engine_local::LocalEngine::new(options)))
        }
        (Interface::Review, review_rules::NAME) => {
            let options = review_rules::Options::from_config(config).map_err(invalid)?;
            AnyBackend::Review(Arc::new(review_rules::RulesReview::new(options)))
        }
        _ => return Err(invalid(unknown_builtin(interface, name))),
    })
}

/// The error `check` gives for a built-in that does not exist.
fn unknown_builtin(interface: Interface, name: &str) -> BuiltinConfigError {
    let known = names(interface);
    let message = if known.is_empty() {
        format!("there is no built-in {interface} backend (asked for `{name}`)")
    } else if let Some(close) = did_you_mean(name, known) {
        format!("no built-in {interface} backend `{name}`; did you mean `{close}`?")
    } else {
        format!(
            "no built-in {interface} backend `{name}`; the built-ins are: {}",
            quoted_list(known)
        )
    };
    BuiltinConfigError::new("", message)
}

/// An option error as one line: `option `file`: ...`, or the bare message for the whole map.
fn describe(e: &BuiltinConfigError) -> String {
    if e.key.is_empty() {
        format!("invalid options: {}", e.message)
    } else {
        format!("invalid option `{}`: {}", e.key, e.message)
    }
}

/// The keys a built-in's `config:` map may hold, and which of them it must hold. Checked by
/// hand before serde runs so that an unknown or missing key gets a message with the key path
/// and a did-you-mean, which serde's own messages lack.
pub(crate) struct Schema {
    /// The built-in's name, for messages.
    pub name: &'static str,
    /// Every option key.
    pub known: &'static [&'static str],
    /// The keys that must be present.
    pub required: &'static [&'static str],
}

/// How similar (Jaro-Winkler, 0 to 1) a misspelt name must be to a known one to be suggested;
/// 0.8 suggests `fiel` -> `file` and `prefx` -> `prefix` but not `colour` -> `file`.
const DID_YOU_MEAN_SIMILARITY: f64 = 0.8;

/// The known name closest to `name`, if it is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(name, k), *k))
        .filter(|(score, _)| *score >= DID_YOU_MEAN_SIMILARITY)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// `a`, `b`, `c` with backticks.
fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What kind of JSON value `v` is, for messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// Deserializes a built-in's options after checking their keys against `schema`. A missing
/// (`null`) `config:` is an empty map.
pub(crate) fn parse_options<T: DeserializeOwned>(
    schema: &Schema,
    config: &Value,
) -> Result<T, BuiltinConfigError> {
    let empty = Value::Object(serde_json::Map::new());
    let config = if config.is_null() { &empty } else { config };
    let Value::Object(map) = config else {
        return Err(BuiltinConfigError::new(
            "",
            format!(
                "the options of `{}` must be a map, not {}",
                schema.name,
                kind(config)
            ),
        ));
    };
    if let Some(unknown) = map.keys().find(|k| !schema.known.contains(&k.as_str())) {
        let message = match did_you_mean(unknown, schema.known) {
            Some(close) => format!(
                "unknown option `{unknown}` of `{}`; did you mean `{close}`?",
                schema.name
            ),
            None => format!(
                "unknown option `{unknown}` of `{}`; its options are: {}",
                schema.name,
                quoted_list(schema.known)
            ),
        };
        return Err(BuiltinConfigError::new(unknown.clone(), message));
    }
    if let Some(missing) = schema.required.iter().find(|k| !map.contains_key(**k)) {
        return Err(BuiltinConfigError::new(
            *missing,
            format!("`{}` requires the option `{missing}`", schema.name),
        ));
    }
    serde_path_to_error::deserialize(config.clone()).map_err(|e| {
        let path = e.path().to_string();
        BuiltinConfigError::new(
            if path == "." { String::new() } else { path },
            e.into_inner().to_string(),
        )
    })
}

/// A domain error of the built-in `plugin`.
pub(crate) fn plugin_error(
    plugin: &str,
    interface: Interface,
    code: ErrorCode,
    message: impl Into<String>,
) -> Error {
    Error::Plugin {
        plugin: plugin.to_owned(),
        interface,
        error: PluginError::new(code, message),
    }
}

/// A host error (I/O, configuration) of the built-in `plugin`.
pub(crate) fn host_error(plugin: &str, interface: Interface, message: impl Into<String>) -> Error {
    Error::Host {
        plugin: plugin.to_owned(),
        interface,
        message: message.into(),
        source: None,
    }
}

/// The built-ins' version: robodev's own.
pub(crate) fn plugin_info(name: &str) -> robodev_core::PluginInfo {
    robodev_core::PluginInfo {
        name: name.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it, which only a broken clock is).
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_listed_builtin_is_checked() {
        for interface in Interface::ALL {
            for name in names(interface) {
                // An unknown key proves the name reached the built-in's own parser.
                let err = check(interface, name, &json!({"zzz": 1})).unwrap_err();
                assert_eq!(err.key, "zzz", "{interface} {name}");
            }
        }
    }

    #[test]
    fn unknown_builtins() {
        let err = check(Interface::Notifications, "webhok", &Value::Null).unwrap_err();
        assert_eq!(
            err,
            BuiltinConfigError::new(
                "",
                "no built-in notifications backend `webhok`; did you mean `webhook`?"
            )
        );
        let err = check(Interface::Notifications, "slack", &Value::Null).unwrap_err();
        assert_eq!(
            err.message,
            "no built-in notifications backend `slack`; the built-ins are: `log`, `webhook`"
        );
        let err = check(Interface::Scm, "github", &Value::Null).unwrap_err();
        assert_eq!(
            err.message,
            "there is no built-in scm backend (asked for `github`)"
        );
    }

    #[test]
    fn options_must_be_a_map() {
        let err = check(Interface::Secrets, "env", &json!(["x"])).unwrap_err();
        assert_eq!(
            err,
            BuiltinConfigError::new("", "the options of `env` must be a map, not a list")
        );
        // No `config:` at all is an empty map.
        check(Interface::Secrets, "env", &Value::Null).unwrap();
    }

    #[test]
    fn unknown_option_without_a_close_match_lists_the_options() {
        let err = check(Interface::Secrets, "env", &json!({"colour": "red"})).unwrap_err();
        assert_eq!(
            err,
            BuiltinConfigError::new(
                "colour",
                "unknown option `colour` of `env`; its options are: `prefix`"
            )
        );
    }

    #[test]
    fn type_errors_carry_the_key_path() {
        let err = check(
            Interface::Engine,
            "local",
            &json!({"command": ["agent", 7]}),
        )
        .unwrap_err();
        assert_eq!(err.key, "command[1]");
        assert_eq!(err.message, "invalid type: integer `7`, expected a string");
    }

    #[tokio::test]
    async fn create_reports_option_errors_as_host_errors() {
        let context = BuiltinContext {
            config_dir: PathBuf::from("/nonexistent"),
            state_dir: PathBuf::from("/nonexistent"),
        };
        let err = create(Interface::Ticketing, "local", &json!({}), &context)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            Error::Host {
                plugin: "local".into(),
                interface: Interface::Ticketing,
                message: "invalid option `file`: `local` requires the option `file`".into(),
                source: None,
            }
        );
    }
}
