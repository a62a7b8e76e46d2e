//! A plugin's output, forwarded into `tracing` under the plugin's name: its stderr (hclog JSON
//! lines, `[LEVEL]`-prefixed text lines, anything else), and its stdout after the handshake.
//! The last stderr lines are kept for error messages ("exited with code 2; last stderr: ...").
//!
//! Why hand-written: hclog is a Go library and no Rust crate reads its output; its JSON form is
//! one object per line (`@level`, `@message`, `@module`, `@timestamp`, then fields), which
//! serde_json parses, and the rest is go-plugin's own `[LEVEL]` text convention.
//!
//! A plugin's output is untrusted bytes: [`drain_lines`] reads it as bytes, never stops on
//! invalid UTF-8 (an undrained pipe would block the plugin, or kill it with SIGPIPE once
//! dropped), converts each line lossily and cuts lines longer than [`MAX_LINE_BYTES`] (a
//! plugin writing hundreds of megabytes without a newline must not grow robodev's memory).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};
use tracing::Level;

/// How many stderr lines are kept for error messages.
pub(crate) const TAIL_LINES: usize = 20;
/// The longest line of plugin output forwarded; the rest of a longer line is dropped and the
/// line is marked as cut (the same bound as the handshake line's).
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// The longest line kept in the [`Tail`] for error messages (a longer one is shortened).
const MAX_TAIL_LINE_CHARS: usize = 500;

/// Reads `reader` to its end, calling `line` with each line of output (without its line
/// ending, invalid UTF-8 replaced by U+FFFD). A line longer than [`MAX_LINE_BYTES`] is passed
/// on as soon as it reaches the bound, with a note of the cut, and the rest of it up to the
/// next newline is skipped. Returns when the writer closes its end (or the pipe fails, which
/// a pipe does not while its writer lives).
pub(crate) async fn drain_lines<R: AsyncBufRead + Unpin>(
    mut reader: R,
    mut line: impl FnMut(&str),
) {
    let mut current: Vec<u8> = Vec::new();
    // Whether the current line was already cut and passed on: skip to its newline.
    let mut skipping = false;
    let mut emit = |bytes: &[u8], cut: bool| {
        let text = String::from_utf8_lossy(bytes);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        if cut {
            line(&format!(
                "{text} [line cut: longer than {MAX_LINE_BYTES} bytes]"
            ));
        } else {
            line(text);
        }
    };
    loop {
        let buf = match reader.fill_buf().await {
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::debug!("plugin output pipe failed: {e}");
                break;
            }
        };
        if buf.is_empty() {
            break;
        }
        let (chunk, newline) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (&buf[..i], true),
            None => (buf, false),
        };
        let used = chunk.len() + usize::from(newline);
        if !skipping {
            let room = MAX_LINE_BYTES - current.len();
            if chunk.len() > room {
                current.extend_from_slice(&chunk[..room]);
                emit(&current, true);
                current.clear();
                skipping = !newline;
            } else {
                current.extend_from_slice(chunk);
                if newline {
                    emit(&current, false);
                    current.clear();
                }
            }
        } else if newline {
            skipping = false;
        }
        reader.consume(used);
    }
    if !current.is_empty() {
        emit(&current, false);
    }
}

/// The last lines a plugin wrote to stderr, and whether its stderr has been read to the end.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tail(Arc<TailInner>);

#[derive(Debug, Default)]
pub(crate) struct TailInner {
    lines: Mutex<VecDeque<String>>,
    drained: std::sync::atomic::AtomicBool,
    drained_now: tokio::sync::Notify,
}

impl Tail {
    /// The plugin's stderr has been read to its end (the process closed it).
    pub(crate) fn finish(&self) {
        self.0
            .drained
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.0.drained_now.notify_waiters();
    }

    /// Waits, at most `limit`, until stderr is read to its end: a process that just exited may
    /// still have its last lines (often the reason it exited) in the pipe.
    pub(crate) async fn settled(&self, limit: std::time::Duration) {
        // Created before the check, so a `finish` in between still wakes it.
        let notified = self.0.drained_now.notified();
        if self.0.drained.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let _ = tokio::time::timeout(limit, notified).await;
    }

    pub(crate) fn push(&self, line: &str) {
        let mut kept = readable(line);
        if let Some((cut, _)) = kept.char_indices().nth(MAX_TAIL_LINE_CHARS) {
            kept.truncate(cut);
            kept.push('…');
        }
        if let Ok(mut lines) = self.0.lines.lock() {
            if lines.len() == TAIL_LINES {
                lines.pop_front();
            }
            lines.push_back(kept);
        }
    }

    /// The kept lines, oldest first; their `@message` for hclog JSON lines, each at most
    /// `MAX_TAIL_LINE_CHARS` characters.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.0
            .lines
            .lock()
            .map(|lines| lines.iter().cloned().collect())
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
            if fields.is_empty() {
                at_level!(level, target: "robodev::plugin", plugin, module, "{message}");
            } else {
                at_level!(level, target: "robodev::plugin", plugin, module, fields, "{message}");
            }
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

    async fn drained(input: Vec<u8>) -> Vec<String> {
        let mut lines = Vec::new();
        // A small buffer so lines span several reads.
        let reader = tokio::io::BufReader::with_capacity(7, std::io::Cursor::new(input));
        drain_lines(reader, |l| lines.push(l.to_owned())).await;
        lines
    }

    #[tokio::test]
    async fn lines_are_read_as_bytes_and_bounded() {
        assert_eq!(
            drained(b"bad \xff byte\r\nnext\nlast without newline".to_vec()).await,
            ["bad \u{fffd} byte", "next", "last without newline"]
        );
        // Exactly the bound is not cut; one byte more is, and its rest is skipped.
        let mut input = vec![b'a'; MAX_LINE_BYTES];
        input.push(b'\n');
        input.extend(vec![b'b'; MAX_LINE_BYTES * 3 + 1]);
        input.extend(b"\nafter\n");
        let lines = drained(input).await;
        assert_eq!(
            lines.len(),
            3,
            "{:?}",
            lines.iter().map(String::len).collect::<Vec<_>>()
        );
        assert_eq!(lines[0].len(), MAX_LINE_BYTES);
        assert!(lines[1].starts_with("bbbb"));
        assert!(
            lines[1].ends_with(&format!("b [line cut: longer than {MAX_LINE_BYTES} bytes]")),
            "{}",
            &lines[1][lines[1].len() - 60..]
        );
        assert_eq!(
            lines[1].len(),
            MAX_LINE_BYTES + " [line cut: longer than 65536 bytes]".len()
        );
        assert_eq!(lines[2], "after");
    }

    #[test]
    fn tail_lines_are_bounded() {
        let tail = Tail::default();
        tail.push(&"x".repeat(10 * MAX_TAIL_LINE_CHARS));
        assert_eq!(tail.lines()[0].chars().count(), MAX_TAIL_LINE_CHARS + 1);
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
