//! `ticketing-kv`: a ticketing backend (`robodev:ticketing/backend@1.0.0`) whose tickets live
//! in the plugin's host key-value store, so that a test or a demo needs no issue tracker.
//!
//! On first use (kv key `seeded` absent) the store is seeded from the plugin config, then
//! `seeded` is set:
//!
//! - `generate`: a number N. Seeds N synthetic tickets `T-0001`, `T-0002`... labelled
//!   `robodev` (benchmarks use this). Takes precedence over `tickets`.
//! - `tickets`: a JSON array of objects with `id`, `title`, `description`, `ticketType`,
//!   `labels`, `repoUrl`, `externalUrl` (every field but `id` optional).
//!
//! The config must enable kv. Keys:
//!
//! - `ticket/<id>`: the ticket, as JSON (the fields above);
//! - `state/<id>`: `ready`, `in-progress`, `complete` or `failed`;
//! - `comments/<id>`: the comments, a JSON array of strings.
//!
//! Every ticket returned carries `raw = {"state": "...", "comments": N}` so that a caller can
//! check the effect of earlier calls.

use serde::{Deserialize, Serialize};

wit_bindgen::generate!({
    path: ["../../wit/types", "../../wit/host", "../../wit/ticketing"],
    world: "robodev:ticketing/plugin@1.0.0",
    generate_all,
});

use exports::robodev::ticketing::backend::Guest;
use robodev::host::{config, kv, log};
use robodev::types::types::{PluginError, PluginInfo, TaskResult, Ticket};

const READY: &str = "ready";
const IN_PROGRESS: &str = "in-progress";
const COMPLETE: &str = "complete";
const FAILED: &str = "failed";

/// A ticket as stored under `ticket/<id>` and as written in the `tickets` config key.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredTicket {
    id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    ticket_type: String,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    repo_url: String,
    #[serde(default)]
    external_url: String,
}

struct Component;

impl Guest for Component {
    fn handshake() -> PluginInfo {
        PluginInfo {
            name: "ticketing-kv".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    fn poll_ready_tickets(
        labels: Vec<String>,
        max_results: i32,
    ) -> Result<Vec<Ticket>, PluginError> {
        let limit = match usize::try_from(max_results) {
            Ok(0) => usize::MAX,
            Ok(n) => n,
            Err(_) => {
                return Err(PluginError::InvalidArgument(format!(
                    "max-results must not be negative, got {max_results}"
                )));
            }
        };
        ensure_seeded()?;
        let mut tickets = Vec::new();
        // `list-keys` is sorted, so tickets come out sorted by id and we can stop at the limit.
        for key in kv::list_keys("state/").map_err(kv_error)? {
            if tickets.len() >= limit {
                break;
            }
            let Some(id) = key.strip_prefix("state/") else {
                continue;
            };
            if read_state(id)?.as_deref() != Some(READY) {
                continue;
            }
            let Some(stored) = read_ticket(id)? else {
                continue;
            };
            if labels.iter().all(|wanted| stored.labels.contains(wanted)) {
                tickets.push(to_ticket(stored, READY)?);
            }
        }
        Ok(tickets)
    }

    fn mark_in_progress(ticket_id: String) -> Result<(), PluginError> {
        ensure_seeded()?;
        existing_state(&ticket_id)?;
        write_state(&ticket_id, IN_PROGRESS)
    }

    fn mark_complete(ticket_id: String, result: Option<TaskResult>) -> Result<(), PluginError> {
        ensure_seeded()?;
        require_in_progress(&ticket_id, COMPLETE)?;
        if let Some(result) = result {
            log::log(
                log::Level::Info,
                &format!("ticket {ticket_id} complete: {}", result.summary),
            );
        }
        write_state(&ticket_id, COMPLETE)
    }

    fn mark_failed(ticket_id: String, reason: String) -> Result<(), PluginError> {
        ensure_seeded()?;
        require_in_progress(&ticket_id, FAILED)?;
        log::log(
            log::Level::Info,
            &format!("ticket {ticket_id} failed: {reason}"),
        );
        write_state(&ticket_id, FAILED)
    }

    fn add_comment(ticket_id: String, comment: String) -> Result<(), PluginError> {
        ensure_seeded()?;
        existing_state(&ticket_id)?;
        let mut comments = read_comments(&ticket_id)?;
        comments.push(comment);
        kv_set(&format!("comments/{ticket_id}"), &to_json(&comments)?)
    }
}

export!(Component);

/// Seed the store from the config unless that was done before.
fn ensure_seeded() -> Result<(), PluginError> {
    if kv::get("seeded").map_err(kv_error)?.is_some() {
        return Ok(());
    }
    let tickets = if let Some(text) = config::get("generate") {
        let count: u32 = text.trim().trim_matches('"').parse().map_err(|_| {
            PluginError::FailedPrecondition(format!(
                "config key generate must be a number, got {text:?}"
            ))
        })?;
        (1..=count).map(synthetic_ticket).collect()
    } else if let Some(text) = config::get("tickets") {
        serde_json::from_str::<Vec<StoredTicket>>(&text).map_err(|e| {
            PluginError::FailedPrecondition(format!(
                "config key tickets is not a JSON array of tickets: {e}"
            ))
        })?
    } else {
        Vec::new()
    };
    for ticket in &tickets {
        if ticket.id.is_empty() || ticket.id.contains('/') {
            return Err(PluginError::FailedPrecondition(format!(
                "config key tickets: invalid ticket id {:?}",
                ticket.id
            )));
        }
        kv_set(&format!("ticket/{}", ticket.id), &to_json(ticket)?)?;
        write_state(&ticket.id, READY)?;
    }
    log::log(
        log::Level::Info,
        &format!("seeded {} tickets", tickets.len()),
    );
    kv_set("seeded", "true")
}

fn synthetic_ticket(n: u32) -> StoredTicket {
    let id = format!("T-{n:04}");
    StoredTicket {
        title: format!("Synthetic ticket {n}"),
        description: format!("Generated ticket number {n} for benchmarks."),
        ticket_type: "bug_fix".into(),
        labels: vec!["robodev".into()],
        repo_url: "https://example.invalid/acme/app".into(),
        external_url: format!("https://example.invalid/tickets/{id}"),
        id,
    }
}

fn to_ticket(stored: StoredTicket, state: &str) -> Result<Ticket, PluginError> {
    let comments = read_comments(&stored.id)?.len();
    let raw = serde_json::json!({ "state": state, "comments": comments }).to_string();
    Ok(Ticket {
        id: stored.id,
        title: stored.title,
        description: stored.description,
        ticket_type: stored.ticket_type,
        labels: stored.labels,
        repo_url: stored.repo_url,
        external_url: stored.external_url,
        raw: Some(raw),
    })
}

/// The state of a known ticket; not-found for an unknown one, invalid-argument for no id.
fn existing_state(id: &str) -> Result<String, PluginError> {
    if id.is_empty() {
        return Err(PluginError::InvalidArgument("ticket_id is empty".into()));
    }
    read_state(id)?.ok_or_else(|| PluginError::NotFound(format!("no ticket {id:?}")))
}

fn require_in_progress(id: &str, target: &str) -> Result<(), PluginError> {
    let state = existing_state(id)?;
    if state == IN_PROGRESS {
        Ok(())
    } else {
        Err(PluginError::FailedPrecondition(format!(
            "ticket {id} is {state}, not {IN_PROGRESS}: cannot mark it {target}"
        )))
    }
}

fn read_state(id: &str) -> Result<Option<String>, PluginError> {
    kv_get_text(&format!("state/{id}"))
}

fn write_state(id: &str, state: &str) -> Result<(), PluginError> {
    kv_set(&format!("state/{id}"), state)
}

fn read_ticket(id: &str) -> Result<Option<StoredTicket>, PluginError> {
    match kv_get_text(&format!("ticket/{id}"))? {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| PluginError::DataLoss(format!("ticket/{id} is corrupt: {e}"))),
    }
}

fn read_comments(id: &str) -> Result<Vec<String>, PluginError> {
    match kv_get_text(&format!("comments/{id}"))? {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| PluginError::DataLoss(format!("comments/{id} is corrupt: {e}"))),
    }
}

fn kv_get_text(key: &str) -> Result<Option<String>, PluginError> {
    match kv::get(key).map_err(kv_error)? {
        None => Ok(None),
        Some(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| PluginError::DataLoss(format!("kv value {key} is not UTF-8"))),
    }
}

fn kv_set(key: &str, value: &str) -> Result<(), PluginError> {
    kv::set(key, value.as_bytes()).map_err(kv_error)
}

fn to_json<T: Serialize>(value: &T) -> Result<String, PluginError> {
    serde_json::to_string(value).map_err(|e| PluginError::Internal(e.to_string()))
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
