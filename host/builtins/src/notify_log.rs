//! Notifications `log`: every notification becomes one `tracing` line (target
//! `robodev::notify`) and, when `file` is set, one JSON line appended to that file.
//!
//! ```yaml
//! notifications:
//!   - backend: log
//!     config:
//!       file: logs/notifications.jsonl   # optional; relative to the config file's directory
//! ```
//!
//! Each JSON line has every key below; the ones that do not apply to the event are `null`:
//!
//! ```json
//! {"event":"notify_complete","ticket_id":"42","task_run_id":"run-1","message":null,
//!  "engine":null,"success":true,"summary":"Fixed it","time":1767225600}
//! ```
//!
//! `event` is `notify`, `notify_start` or `notify_complete`; `time` is Unix seconds.

use std::path::PathBuf;

use async_trait::async_trait;
use robodev_core::notifications::{
    Backend, NotifyCompleteRequest, NotifyRequest, NotifyStartRequest,
};
use robodev_core::{Empty, Error, Interface, PluginInfo, Ticket};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use super::{BuiltinConfigError, BuiltinContext, Schema, host_error, unix_now};

/// The built-in's name.
pub const NAME: &str = "log";

const INTERFACE: Interface = Interface::Notifications;

const SCHEMA: Schema = Schema {
    name: NAME,
    known: &["file"],
    required: &[],
};

/// The options of notifications `log`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// A file to append one JSON line per notification to (created with its parent
    /// directories); relative to the config file's directory. None: log only.
    #[serde(default)]
    pub file: Option<PathBuf>,
}

impl Options {
    /// Parses and checks the options from a `config:` map.
    pub fn from_config(config: &Value) -> Result<Options, BuiltinConfigError> {
        let options: Options = super::parse_options(&SCHEMA, config)?;
        if options
            .file
            .as_ref()
            .is_some_and(|f| f.as_os_str().is_empty())
        {
            return Err(BuiltinConfigError::new(
                "file",
                "must name a file, not be empty (leave it out to log only)",
            ));
        }
        Ok(options)
    }
}

/// Notifications `log`.
#[derive(Debug)]
pub struct LogNotifier {
    file: Option<PathBuf>,
    /// Serialises appends so that lines from concurrent notifications never interleave.
    append: Mutex<()>,
}

impl LogNotifier {
    /// A notifier with these options.
    pub fn new(options: Options, context: &BuiltinContext) -> Self {
        LogNotifier {
            file: options.file.map(|f| context.resolve(&f)),
            append: Mutex::new(()),
        }
    }

    async fn append(&self, line: Value) -> Result<Empty, Error> {
        let Some(file) = &self.file else {
            return Ok(Empty {});
        };
        let fail = |e: std::io::Error| {
            host_error(
                NAME,
                INTERFACE,
                format!("cannot append to {}: {e}", file.display()),
            )
        };
        let mut bytes = line.to_string().into_bytes();
        bytes.push(b'\n');
        let _guard = self.append.lock().await;
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir).await.map_err(fail)?;
        }
        let mut f = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
            .await
            .map_err(fail)?;
        // One write of the whole line: with O_APPEND other writers cannot split it.
        f.write_all(&bytes).await.map_err(fail)?;
        f.flush().await.map_err(fail)?;
        Ok(Empty {})
    }
}

fn ticket_fields(ticket: Option<&Ticket>) -> (Value, &str, &str) {
    match ticket {
        Some(t) => (Value::from(t.id.as_str()), t.id.as_str(), t.title.as_str()),
        None => (Value::Null, "", ""),
    }
}

#[async_trait]
impl Backend for LogNotifier {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        Ok(super::plugin_info(NAME))
    }

    async fn notify(&self, request: NotifyRequest) -> Result<Empty, Error> {
        let (ticket_id, id, title) = ticket_fields(request.ticket.as_ref());
        tracing::info!(target: "robodev::notify", ticket_id = id, title, "{}", request.message);
        self.append(json!({
            "event": "notify",
            "ticket_id": ticket_id,
            "task_run_id": null,
            "message": request.message,
            "engine": null,
            "success": null,
            "summary": null,
            "time": unix_now(),
        }))
        .await
    }

    async fn notify_start(&self, request: NotifyStartRequest) -> Result<Empty, Error> {
        let (ticket_id, id, title) = ticket_fields(request.ticket.as_ref());
        tracing::info!(
            target: "robodev::notify",
            ticket_id = id,
            title,
            task_run_id = request.task_run_id,
            engine = request.engine,
            "started ticket {id} ({title}) with engine {}",
            request.engine
        );
        self.append(json!({
            "event": "notify_start",
            "ticket_id": ticket_id,
            "task_run_id": request.task_run_id,
            "message": null,
            "engine": request.engine,
            "success": null,
            "summary": null,
            "time": unix_now(),
        }))
        .await
    }

    async fn notify_complete(&self, request: NotifyCompleteRequest) -> Result<Empty, Error> {
        let (ticket_id, id, title) = ticket_fields(request.ticket.as_ref());
        let (success, summary) = match &request.result {
            Some(r) => (Value::from(r.success), Value::from(r.summary.as_str())),
            None => (Value::Null, Value::Null),
        };
        let outcome = match &request.result {
            Some(r) if r.success => format!("succeeded: {}", r.summary),
            Some(r) => format!("failed: {}", r.summary),
            None => "finished without a result".to_owned(),
        };
        tracing::info!(
            target: "robodev::notify",
            ticket_id = id,
            title,
            task_run_id = request.task_run_id,
            "ticket {id} ({title}) {outcome}"
        );
        self.append(json!({
            "event": "notify_complete",
            "ticket_id": ticket_id,
            "task_run_id": request.task_run_id,
            "message": null,
            "engine": null,
            "success": success,
            "summary": summary,
            "time": unix_now(),
        }))
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        assert_eq!(
            Options::from_config(&Value::Null).unwrap(),
            Options::default()
        );
        assert_eq!(
            Options::from_config(&json!({"file": "n.jsonl"})).unwrap(),
            Options {
                file: Some("n.jsonl".into())
            }
        );
        assert_eq!(
            Options::from_config(&json!({"file": ""})).unwrap_err(),
            BuiltinConfigError::new(
                "file",
                "must name a file, not be empty (leave it out to log only)"
            )
        );
        assert_eq!(
            Options::from_config(&json!({"path": "x"})).unwrap_err(),
            BuiltinConfigError::new(
                "path",
                "unknown option `path` of `log`; its options are: `file`"
            )
        );
    }
}
