//! A plugin's output, forwarded into `tracing` under the plugin's name: its stderr (hclog JSON
//! lines, `[LEVEL]`-prefixed text lines, anything else), and its stdout after the handshake.
//! The last stderr lines are kept for error messages ("exited with code 2; last stderr: ...").

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tracing::Level;

/// How many stderr lines are kept for error messages.
pub(crate) const TAIL_LINES: usize = 20;

/// The last lines a plugin wrote to stderr.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tail(Arc<Mutex<VecDeque<String>>>);

impl Tail {
    pub(crate) fn push(&self, line: &str) {
        if let Ok(mut lines) = self.0.lock() {
            if lines.len() == TAIL_LINES {
                lines.pop_front();
            }
            lines.push_back(line.to_owned());
        }
    }

    /// The kept lines, oldest first; their `@message` for hclog JSON lines.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|lines| lines.iter().map(|l| readable(l)).collect())
            .unwrap_or_default()
    }

    /// " (last stderr lines: a | b)" or "" when there were none.
    pub(crate) fn suffix(&self) -> String {
        let lines = self.lines();
        if lines.is_empty() {
            " (it wrote nothing to stderr)".to_owned()
        } else {
            format!("; last stderr lines: {}", lines.join(" | "))
        }
    }
}

/// The human part of a line: an hclog line's `@message` with its level, else the line.
fn readable(line: &str) -> String {
    match parse(line) {
        Parsed::Json { level, message, .. } => format!("[{level}] {message}"),
        Parsed::Text { .. } => line.to_owned(),
    }
}

enum Parsed {
    Json {
        level: Level,
        message: String,
        module: Option<String>,
        fields: String,
    },
    Text {
        level: Level,
    },
}

fn level_of(name: &str) -> Option<Level> {
    match name.to_ascii_lowercase().as_str() {
        "trace" => Some(Level::TRACE),
        "debug" => Some(Level::DEBUG),
        "info" => Some(Level::INFO),
        "warn" | "warning" => Some(Level::WARN),
        "error" => Some(Level::ERROR),
        _ => None,
    }
}

fn parse(line: &str) -> Parsed {
    if line.starts_with('{')
        && let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(line)
    {
        let text = |v: Option<Value>| match v {
            Some(Value::String(s)) => Some(s),
            Some(other) => Some(other.to_string()),
            None => None,
        };
        let level = text(map.remove("@level"))
            .and_then(|l| level_of(&l))
            .unwrap_or(Level::DEBUG);
        let message = text(map.remove("@message")).unwrap_or_default();
        let module = text(map.remove("@module"));
        map.remove("@timestamp");
        let fields = map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" ");
        return Parsed::Json {
            level,
            message,
            module,
            fields,
        };
    }
    // go-plugin's rules for text lines: a `[LEVEL]` prefix sets the level, a Go panic is an
    // error, anything else is debug.
    let trimmed = line.trim_start();
    let level = if trimmed.starts_with("panic:") || trimmed.starts_with("fatal error:") {
        Level::ERROR
    } else {
        ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
            .iter()
            .find(|l| trimmed.starts_with(&format!("[{l}]")))
            .and_then(|l| level_of(l))
            .unwrap_or(Level::DEBUG)
    };
    Parsed::Text { level }
}

macro_rules! at_level {
    ($level:expr, $($rest:tt)*) => {
        match $level {
            Level::TRACE => tracing::trace!($($rest)*),
            Level::DEBUG => tracing::debug!($($rest)*),
            Level::INFO => tracing::info!($($rest)*),
            Level::WARN => tracing::warn!($($rest)*),
            _ => tracing::error!($($rest)*),
        }
    };
}

/// Forwards one stderr line of plugin `plugin` into `tracing`.
pub(crate) fn stderr_line(plugin: &str, line: &str) {
    match parse(line) {
        Parsed::Json {
            level,
            message,
            module,
            fields,
        } => {
            let module = module.unwrap_or_default();
            at_level!(level, target: "robodev::plugin", plugin, module, fields, "{message}");
        }
        Parsed::Text { level } => {
            at_level!(level, target: "robodev::plugin", plugin, stream = "stderr", "{line}");
        }
    }
}

/// Forwards one line the plugin wrote to stdout after its handshake (a pipe robodev drains
/// itself, or go-plugin's stdio service).
pub(crate) fn stdout_line(plugin: &str, line: &str) {
    tracing::info!(target: "robodev::plugin", plugin, stream = "stdout", "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hclog_and_text_levels() {
        let line = r#"{"@level":"warn","@message":"slow upstream","@module":"jira","@timestamp":"2026-11-21T22:52:13.228835Z","ms":1200}"#;
        match parse(line) {
            Parsed::Json {
                level,
                message,
                module,
                fields,
            } => {
                assert_eq!(level, Level::WARN);
                assert_eq!(message, "slow upstream");
                assert_eq!(module.as_deref(), Some("jira"));
                assert_eq!(fields, "ms=1200");
            }
            Parsed::Text { .. } => panic!("not read as JSON"),
        }
        assert!(matches!(parse("[ERROR] boom"), Parsed::Text { level } if level == Level::ERROR));
        assert!(matches!(parse("panic: oh no"), Parsed::Text { level } if level == Level::ERROR));
        assert!(matches!(parse("plain"), Parsed::Text { level } if level == Level::DEBUG));
        assert_eq!(readable(line), "[WARN] slow upstream");
    }

    #[test]
    fn keeps_the_last_lines() {
        let tail = Tail::default();
        assert_eq!(tail.suffix(), " (it wrote nothing to stderr)");
        for i in 0..(TAIL_LINES + 5) {
            tail.push(&format!("line {i}"));
        }
        let lines = tail.lines();
        assert_eq!(lines.len(), TAIL_LINES);
        assert_eq!(lines[0], "line 5");
    }
}
