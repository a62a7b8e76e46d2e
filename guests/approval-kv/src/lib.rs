//! `approval-kv`: an approval backend (`robodev:approval/backend@1.0.0`) that records approval
//! requests in the plugin's host key-value store instead of asking a real human. Tests use it
//! to check what the controller asked and cancelled.
//!
//! Config keys: none, but the config must enable kv. Keys it writes:
//!
//! - `seq/<task-run-id>`: the last request number of the run (requests count from 1 and a
//!   number is never reused, even after a cancel);
//! - `pending/<task-run-id>/<n>`: a pending request, as JSON
//!   `{"question": ..., "options": [...], "ticketId": ...}`.
//!
//! `request-approval` returns the request id `<task-run-id>-<n>`; an empty question is
//! `invalid-argument`. `cancel-pending` deletes the run's pending requests, `not-found` if it
//! had none.

use serde_json::json;

wit_bindgen::generate!({
    path: ["../../wit/types", "../../wit/host", "../../wit/approval"],
    world: "robodev:approval/plugin@1.0.0",
    generate_all,
});

use exports::robodev::approval::backend::Guest;
use robodev::host::{kv, log};
use robodev::types::types::{PluginError, PluginInfo, Ticket};

struct Component;

impl Guest for Component {
    fn handshake() -> PluginInfo {
        PluginInfo {
            name: "approval-kv".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    fn request_approval(
        question: String,
        ticket: Option<Ticket>,
        task_run_id: String,
        options: Vec<String>,
    ) -> Result<String, PluginError> {
        if question.trim().is_empty() {
            return Err(PluginError::InvalidArgument("the question is empty".into()));
        }
        check_run_id(&task_run_id)?;

        let seq_key = format!("seq/{task_run_id}");
        let last: u64 = match kv::get(&seq_key).map_err(kv_error)? {
            None => 0,
            Some(bytes) => std::str::from_utf8(&bytes)
                .ok()
                .and_then(|text| text.parse().ok())
                .ok_or_else(|| PluginError::DataLoss(format!("{seq_key} is corrupt")))?,
        };
        let n = last + 1;
        kv::set(&seq_key, n.to_string().as_bytes()).map_err(kv_error)?;

        let request = json!({
            "question": question,
            "options": options,
            "ticketId": ticket.map(|t| t.id),
        });
        kv::set(
            &format!("pending/{task_run_id}/{n}"),
            request.to_string().as_bytes(),
        )
        .map_err(kv_error)?;
        let request_id = format!("{task_run_id}-{n}");
        log::log(
            log::Level::Info,
            &format!("approval request {request_id} pending"),
        );
        Ok(request_id)
    }

    fn cancel_pending(task_run_id: String) -> Result<(), PluginError> {
        check_run_id(&task_run_id)?;
        let keys = kv::list_keys(&format!("pending/{task_run_id}/")).map_err(kv_error)?;
        if keys.is_empty() {
            return Err(PluginError::NotFound(format!(
                "task run {task_run_id} has no pending approval requests"
            )));
        }
        for key in &keys {
            kv::delete(key).map_err(kv_error)?;
        }
        log::log(
            log::Level::Info,
            &format!(
                "cancelled {} approval requests of {task_run_id}",
                keys.len()
            ),
        );
        Ok(())
    }
}

export!(Component);

/// Task run ids become part of kv keys: keep them from reaching into another run's keys.
fn check_run_id(task_run_id: &str) -> Result<(), PluginError> {
    if task_run_id.is_empty() || task_run_id.contains('/') {
        Err(PluginError::InvalidArgument(format!(
            "invalid task-run-id {task_run_id:?}"
        )))
    } else {
        Ok(())
    }
}

fn kv_error(e: kv::KvError) -> PluginError {
    match e {
        kv::KvError::Denied => PluginError::PermissionDenied(
            "the key-value store is not enabled in this plugin's config (set `kv: true` in its plugins: entry)".into(),
        ),
        kv::KvError::TooLarge(m) => PluginError::ResourceExhausted(m),
        kv::KvError::Io(m) => PluginError::Unavailable(m),
    }
}
