//! The built-in backends, compiled into robodev so that it runs with no plugin at all:
//! ticketing `local`, notifications `log` and `webhook`, secrets `env` and `file`, engine
//! `local`, review `rules`.
//!
//! Each built-in takes its options from the `config:` map of the backend selection that names
//! it (`ticketing: { backend: local, config: { file: tickets.yaml } }`). [`check`] validates
//! those options without creating anything (for `robodev config check`); [`create`] builds the
//! backend.

use std::path::PathBuf;

use robodev_core::{AnyBackend, Error, Interface};

/// What a built-in may use from its host.
#[derive(Debug, Clone)]
pub struct BuiltinContext {
    /// The config file's directory: relative paths in a built-in's options resolve against it.
    pub config_dir: PathBuf,
    /// robodev's state directory; a built-in with state keeps it under `state_dir/<name>/`.
    pub state_dir: PathBuf,
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

/// The built-in backends of `interface`.
pub fn names(interface: Interface) -> &'static [&'static str] {
    match interface {
        Interface::Ticketing => &["local"],
        Interface::Notifications => &["log", "webhook"],
        Interface::Secrets => &["env", "file"],
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
    let _ = (interface, name, config);
    Ok(())
}

/// Creates the built-in `name` of `interface` with its options.
pub async fn create(
    interface: Interface,
    name: &str,
    config: &serde_json::Value,
    context: &BuiltinContext,
) -> Result<AnyBackend, Error> {
    let _ = (config, context);
    Err(Error::Host {
        plugin: name.to_owned(),
        interface,
        message: "not built yet".into(),
    })
}
