//! [`ConfigError`]: what is wrong with a config file, and where.

use std::path::PathBuf;

/// A problem with a config file: the file, the line, the key path and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {key}: {message}", file.display())]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// The 1-based line of the offending key, when known.
    pub line: Option<usize>,
    /// The key path, e.g. `plugins[1].interface_version`.
    pub key: String,
    /// What was wrong and what was expected.
    pub message: String,
}
