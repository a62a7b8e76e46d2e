//! A notification channel plugin binary in Rust, the subprocess plugin of robodev's bundled
//! example config (`examples/robodev-config.yaml`): every notification becomes a log line on
//! its stderr (hclog JSON, which robodev re-logs under the plugin's name) and, when
//! `ROBODEV_NOTIFY_FILE` is set, one JSON line appended to that file.
//!
//! Test hook: with `ROBODEV_NOTIFY_CRASH_ONCE=PATH`, the first `NotifyComplete` that finds no
//! file at `PATH` creates it and exits the process (code 9) without answering.

use std::io::Write;
use std::sync::Arc;

use async_trait::async_trait;
use robodev_core::notifications::{
    Backend, NotifyCompleteRequest, NotifyRequest, NotifyStartRequest,
};
use robodev_core::{AnyBackend, Empty, Error, Interface, PluginInfo};
use robodev_grpc::ServeOptions;
use serde_json::{Value, json};

struct Console {
    file: Option<std::path::PathBuf>,
}

impl Console {
    fn record(&self, line: Value) -> Result<Empty, Error> {
        tracing::info!("{line}");
        if let Some(path) = &self.file {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| Error::Host {
                    plugin: "console".into(),
                    interface: Interface::Notifications,
                    message: format!("cannot open {}: {e}", path.display()),
                    source: None,
                })?;
            writeln!(f, "{line}").map_err(|e| Error::Host {
                plugin: "console".into(),
                interface: Interface::Notifications,
                message: format!("cannot write {}: {e}", path.display()),
                source: None,
            })?;
        }
        Ok(Empty {})
    }
}

#[async_trait]
impl Backend for Console {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        Ok(PluginInfo {
            name: "console".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        })
    }

    async fn notify(&self, request: NotifyRequest) -> Result<Empty, Error> {
        self.record(json!({
            "event": "notify",
            "ticket": request.ticket.map(|t| t.id),
            "message": request.message,
        }))
    }

    async fn notify_start(&self, request: NotifyStartRequest) -> Result<Empty, Error> {
        self.record(json!({
            "event": "notify_start",
            "ticket": request.ticket.map(|t| t.id),
            "taskRunId": request.task_run_id,
            "engine": request.engine,
        }))
    }

    async fn notify_complete(&self, request: NotifyCompleteRequest) -> Result<Empty, Error> {
        if let Some(marker) = std::env::var_os("ROBODEV_NOTIFY_CRASH_ONCE")
            && std::fs::File::create_new(&marker).is_ok()
        {
            tracing::warn!("crashing once, as ROBODEV_NOTIFY_CRASH_ONCE asks");
            std::process::exit(9);
        }
        self.record(json!({
            "event": "notify_complete",
            "ticket": request.ticket.map(|t| t.id),
            "taskRunId": request.task_run_id,
            "success": request.result.as_ref().map(|r| r.success),
            "summary": request.result.map(|r| r.summary),
        }))
    }
}

#[tokio::main]
async fn main() -> Result<(), robodev_grpc::ServeError> {
    let backend = Console {
        file: std::env::var_os("ROBODEV_NOTIFY_FILE").map(Into::into),
    };
    let options = ServeOptions {
        log_module: Some("console".to_owned()),
        ..ServeOptions::default()
    };
    robodev_grpc::serve_with(AnyBackend::Notifications(Arc::new(backend)), options).await
}
