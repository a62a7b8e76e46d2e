//! [`ConfigError`]: what is wrong with a config file, and where.

use std::fmt;
use std::path::PathBuf;

/// A problem with a config file: the file, the line, the key path and what was expected.
///
/// It displays as one line, `FILE:LINE: KEY: MESSAGE`, with ` (did you mean "X"?)` appended
/// when there is a suggestion; the line is left out when it is unknown and the key when the
/// problem is the file as a whole:
///
/// ```text
/// examples/robodev-config.yaml:12: plugins[1].interface_version: expected an integer, found "one"
/// examples/robodev-config.yaml:3: tiketing: unknown key "tiketing" (did you mean "ticketing"?)
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// The 1-based line of the offending key, when known.
    pub line: Option<usize>,
    /// The key path, e.g. `plugins[1].interface_version`; empty for the file as a whole.
    pub key: String,
    /// What was wrong and what was expected.
    pub message: String,
    /// A close match for a misspelt key or name (`ticketing` for `tiketing`).
    pub suggestion: Option<String>,
}

impl ConfigError {
    /// An error at `key` (line `line`) of `file`, without a suggestion.
    pub fn new(
        file: impl Into<PathBuf>,
        line: Option<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            file: file.into(),
            line,
            key: key.into(),
            message: message.into(),
            suggestion: None,
        }
    }

    /// The same error with a "did you mean" suggestion.
    pub fn with_suggestion(mut self, suggestion: Option<String>) -> ConfigError {
        self.suggestion = suggestion;
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(suggestion) = &self.suggestion {
            write!(f, " (did you mean {suggestion:?}?)")?;
        }
        Ok(())
    }
}
