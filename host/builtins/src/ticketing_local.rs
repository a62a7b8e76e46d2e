//! Ticketing `local`: tickets come from a YAML or JSON file the user edits, and their life
//! (in progress, complete, failed, comments) is kept in robodev's state directory.
//!
//! ```yaml
//! ticketing:
//!   backend: local
//!   config:
//!     file: tickets.yaml     # required; relative to the config file's directory
//! ```
//!
//! The file holds a list of tickets, or a map with one key `tickets:` holding the list:
//!
//! ```yaml
//! tickets:
//!   - id: "42"               # required, unique; a number is read as its decimal text
//!     title: Fix the login redirect
//!     description: After login the user lands on /404.
//!     ticket_type: bug_fix   # proto3 spellings (ticketType, repoUrl, ...) work too
//!     labels: [robodev]
//!     repo_url: https://github.com/acme/web
//!     external_url: https://tracker.example/42
//!     raw: {priority: high}
//! ```
//!
//! The file is read again on every poll, so tickets can be added while robodev runs. A ticket
//! is handed out by `PollReadyTickets` until it is picked up (marked in progress, complete or
//! failed), and never again after that: the state file `state_dir/ticketing-local/state.json`
//! is rewritten (atomically) after every transition, so a restart neither loses a mark nor
//! hands a ticket out twice. [`read_state`] reads that file from outside (the CLI's summary).

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use robodev_core::ticketing::{
    AddCommentRequest, Backend, MarkCompleteRequest, MarkFailedRequest, MarkInProgressRequest,
    PollReadyTicketsRequest, PollReadyTicketsResponse,
};
use robodev_core::{Empty, Error, ErrorCode, Interface, PluginInfo, TaskResult, Ticket};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use tokio::sync::Mutex;

use super::{BuiltinConfigError, BuiltinContext, Schema, host_error, plugin_error, unix_now};

/// The built-in's name.
pub const NAME: &str = "local";

/// The directory under robodev's state directory where this built-in keeps its state.
pub const STATE_SUBDIR: &str = "ticketing-local";

/// The state file's name inside [`STATE_SUBDIR`].
pub const STATE_FILE: &str = "state.json";

const INTERFACE: Interface = Interface::Ticketing;

const SCHEMA: Schema = Schema {
    name: NAME,
    known: &["file"],
    required: &["file"],
};

/// The options of ticketing `local`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The ticket file (YAML, or JSON when it ends in `.json`); relative to the config
    /// file's directory.
    pub file: PathBuf,
}

impl Options {
    /// Parses and checks the options from a `config:` map.
    pub fn from_config(config: &Value) -> Result<Options, BuiltinConfigError> {
        let options: Options = super::parse_options(&SCHEMA, config)?;
        if options.file.as_os_str().is_empty() {
            return Err(BuiltinConfigError::new(
                "file",
                "must name the ticket file (YAML or JSON), not be empty",
            ));
        }
        Ok(options)
    }
}

/// Where a picked-up ticket is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    /// Marked in progress: an agent is working on it.
    InProgress,
    /// Marked complete.
    Complete,
    /// Marked failed.
    Failed,
}

/// A comment posted on a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    /// When it was posted (Unix seconds).
    pub time: u64,
    /// The comment's text.
    pub text: String,
}

/// What robodev recorded about one ticket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TicketRecord {
    /// Its status; `None` for a ticket that was only commented on and never picked up (it is
    /// still handed out by polls).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<TicketStatus>,
    /// Comments, oldest first.
    pub comments: Vec<Comment>,
    /// The result `MarkComplete` reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<TaskResult>,
    /// The reason `MarkFailed` reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// When the record last changed (Unix seconds).
    pub updated: u64,
}

/// The state file's content.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
struct State {
    /// Ticket id to its record.
    tickets: BTreeMap<String, TicketRecord>,
}

/// Reads the records of ticketing `local` under `state_dir` (empty when it never ran).
pub fn read_state(state_dir: &Path) -> io::Result<BTreeMap<String, TicketRecord>> {
    Ok(crate::store::read_json::<State>(&state_path(state_dir))?
        .unwrap_or_default()
        .tickets)
}

fn state_path(state_dir: &Path) -> PathBuf {
    state_dir.join(STATE_SUBDIR).join(STATE_FILE)
}

/// Ticketing `local`.
#[derive(Debug)]
pub struct LocalTicketing {
    file: PathBuf,
    state_path: PathBuf,
    /// The state, as last written. Every transition holds the lock across its write, so
    /// concurrent calls never interleave their read-modify-write.
    state: Mutex<State>,
}

impl LocalTicketing {
    /// Loads the state and checks that the ticket file can be read, so that a typo in the
    /// path fails at start rather than at the first poll.
    pub async fn new(options: Options, context: &BuiltinContext) -> Result<Self, Error> {
        let state_path = state_path(&context.state_dir);
        let read = state_path.clone();
        let state = tokio::task::spawn_blocking(move || crate::store::read_json::<State>(&read))
            .await
            .map_err(|e| host_error(NAME, INTERFACE, format!("state reader failed: {e}")))?
            .map_err(|e| {
                host_error(
                    NAME,
                    INTERFACE,
                    format!("cannot read the state file {}: {e}", state_path.display()),
                )
            })?
            .unwrap_or_default();
        let this = LocalTicketing {
            file: context.resolve(&options.file),
            state_path,
            state: Mutex::new(state),
        };
        this.read_tickets().await?;
        Ok(this)
    }

    /// The status of ticket `id`; `None` if it was never picked up.
    pub async fn status(&self, id: &str) -> Option<TicketStatus> {
        self.state
            .lock()
            .await
            .tickets
            .get(id)
            .and_then(|r| r.status)
    }

    /// Everything recorded about ticket `id`.
    pub async fn record(&self, id: &str) -> Option<TicketRecord> {
        self.state.lock().await.tickets.get(id).cloned()
    }

    /// The tickets in the file, in file order.
    async fn read_tickets(&self) -> Result<Vec<Ticket>, Error> {
        let text = tokio::fs::read_to_string(&self.file).await.map_err(|e| {
            host_error(
                NAME,
                INTERFACE,
                format!("cannot read the ticket file {}: {e}", self.file.display()),
            )
        })?;
        parse_ticket_file(&self.file, &text).map_err(|problem| {
            host_error(
                NAME,
                INTERFACE,
                format!("ticket file {}: {problem}", self.file.display()),
            )
        })
    }

    /// Applies `change` to the record of `id` and writes the state before anyone sees it.
    async fn transition(
        &self,
        id: &str,
        change: impl FnOnce(&mut TicketRecord),
    ) -> Result<Empty, Error> {
        if id.is_empty() {
            return Err(plugin_error(
                NAME,
                INTERFACE,
                ErrorCode::InvalidArgument,
                "ticket_id is empty",
            ));
        }
        let mut state = self.state.lock().await;
        // A ticket already recorded stays known even after it is removed from the file.
        if !state.tickets.contains_key(id) && !self.read_tickets().await?.iter().any(|t| t.id == id)
        {
            return Err(plugin_error(
                NAME,
                INTERFACE,
                ErrorCode::NotFound,
                format!("no ticket {id}"),
            ));
        }
        let mut next = state.clone();
        let record = next.tickets.entry(id.to_owned()).or_default();
        change(record);
        record.updated = unix_now();
        self.save(&next).await?;
        *state = next;
        Ok(Empty {})
    }

    async fn save(&self, state: &State) -> Result<(), Error> {
        let fail = |e: String| {
            host_error(
                NAME,
                INTERFACE,
                format!(
                    "cannot write the state file {}: {e}",
                    self.state_path.display()
                ),
            )
        };
        let path = self.state_path.clone();
        let state = state.clone();
        tokio::task::spawn_blocking(move || crate::store::write_json(&path, &state))
            .await
            .map_err(|e| fail(e.to_string()))?
            .map_err(|e| fail(e.to_string()))
    }
}

#[async_trait]
impl Backend for LocalTicketing {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        Ok(super::plugin_info(NAME))
    }

    async fn poll_ready_tickets(
        &self,
        request: PollReadyTicketsRequest,
    ) -> Result<PollReadyTicketsResponse, Error> {
        let limit = usize::try_from(request.max_results).map_err(|_| {
            plugin_error(
                NAME,
                INTERFACE,
                ErrorCode::InvalidArgument,
                format!(
                    "max_results must not be negative (got {})",
                    request.max_results
                ),
            )
        })?;
        let tickets = self.read_tickets().await?;
        let state = self.state.lock().await;
        let ready = tickets
            .into_iter()
            .filter(|t| {
                state
                    .tickets
                    .get(&t.id)
                    .is_none_or(|record| record.status.is_none())
            })
            .filter(|t| request.labels.iter().all(|l| t.labels.contains(l)));
        let tickets = if limit == 0 {
            ready.collect()
        } else {
            ready.take(limit).collect()
        };
        Ok(PollReadyTicketsResponse { tickets })
    }

    async fn mark_in_progress(&self, request: MarkInProgressRequest) -> Result<Empty, Error> {
        self.transition(&request.ticket_id, |r| {
            r.status = Some(TicketStatus::InProgress);
        })
        .await
    }

    async fn mark_complete(&self, request: MarkCompleteRequest) -> Result<Empty, Error> {
        self.transition(&request.ticket_id, |r| {
            r.status = Some(TicketStatus::Complete);
            r.result = request.result;
            r.failure_reason = None;
        })
        .await
    }

    async fn mark_failed(&self, request: MarkFailedRequest) -> Result<Empty, Error> {
        self.transition(&request.ticket_id, |r| {
            r.status = Some(TicketStatus::Failed);
            r.failure_reason = Some(request.reason);
        })
        .await
    }

    async fn add_comment(&self, request: AddCommentRequest) -> Result<Empty, Error> {
        self.transition(&request.ticket_id, |r| {
            r.comments.push(Comment {
                time: unix_now(),
                text: request.comment,
            });
        })
        .await
    }
}

/// The keys a ticket may have, both spellings.
const TICKET_FIELDS: &[&str] = &[
    "id",
    "title",
    "description",
    "ticket_type",
    "ticketType",
    "labels",
    "repo_url",
    "repoUrl",
    "external_url",
    "externalUrl",
    "raw",
];

/// The keys a ticket may have as messages list them (the YAML spelling only).
const TICKET_FIELD_NAMES: &[&str] = &[
    "id",
    "title",
    "description",
    "ticket_type",
    "labels",
    "repo_url",
    "external_url",
    "raw",
];

/// One ticket as people write it in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTicket {
    #[serde(deserialize_with = "ticket_id")]
    id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default, alias = "ticketType")]
    ticket_type: String,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default, alias = "repoUrl")]
    repo_url: String,
    #[serde(default, alias = "externalUrl")]
    external_url: String,
    #[serde(default)]
    raw: Option<serde_json::Map<String, Value>>,
}

/// A ticket id: a string, or an integer (`id: 42` in YAML), read as its decimal text.
fn ticket_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Signed(i64),
        Unsigned(u64),
    }
    match Id::deserialize(deserializer)
        .map_err(|_| serde::de::Error::custom("expected the ticket id as a string or an integer"))?
    {
        Id::Text(s) => Ok(s),
        Id::Signed(n) => Ok(n.to_string()),
        Id::Unsigned(n) => Ok(n.to_string()),
    }
}

/// Parses a ticket file (`path` picks JSON or YAML and names the file in messages). The
/// error is the problem without the file name.
fn parse_ticket_file(path: &Path, text: &str) -> Result<Vec<Ticket>, String> {
    let is_json = path.extension().is_some_and(|e| e == "json");
    let doc: Value = if text.trim().is_empty() {
        Value::Null
    } else if is_json {
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?
    } else {
        serde_norway::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?
    };
    let (items, prefix) = match doc {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => (items, ""),
        Value::Object(mut map) => {
            if let Some(other) = map.keys().find(|k| *k != "tickets") {
                return Err(format!(
                    "unknown key `{other}` at the top; expected a list of tickets or a map with the one key `tickets`"
                ));
            }
            match map.remove("tickets") {
                Some(Value::Array(items)) => (items, "tickets"),
                Some(Value::Null) | None => return Ok(Vec::new()),
                Some(other) => {
                    return Err(format!(
                        "`tickets` must be a list of tickets, not {}",
                        super::kind(&other)
                    ));
                }
            }
        }
        other => {
            return Err(format!(
                "expected a list of tickets or a map with the key `tickets`, found {}",
                super::kind(&other)
            ));
        }
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut tickets = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let at = format!("{prefix}[{i}]");
        if let Some(unknown) = item
            .as_object()
            .and_then(|o| o.keys().find(|k| !TICKET_FIELDS.contains(&k.as_str())))
        {
            return Err(match super::did_you_mean(unknown, TICKET_FIELDS) {
                Some(close) => {
                    format!(
                        "{at}.{unknown}: unknown ticket field `{unknown}`; did you mean `{close}`?"
                    )
                }
                None => format!(
                    "{at}.{unknown}: unknown ticket field `{unknown}`; a ticket has: {}",
                    super::quoted_list(TICKET_FIELD_NAMES)
                ),
            });
        }
        let t: FileTicket = serde_path_to_error::deserialize(item).map_err(|e| {
            let path = e.path().to_string();
            if path == "." {
                format!("{at}: {}", e.inner())
            } else {
                format!("{at}.{path}: {}", e.inner())
            }
        })?;
        if t.id.is_empty() {
            return Err(format!("{at}.id: the ticket id must not be empty"));
        }
        if let Some(first) = seen.insert(t.id.clone(), i) {
            return Err(format!(
                "{at}.id: ticket id {:?} is used twice ({prefix}[{first}] and {at})",
                t.id
            ));
        }
        tickets.push(Ticket {
            id: t.id,
            title: t.title,
            description: t.description,
            ticket_type: t.ticket_type,
            labels: t.labels,
            repo_url: t.repo_url,
            external_url: t.external_url,
            raw: t.raw,
        });
    }
    Ok(tickets)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn yaml(text: &str) -> Result<Vec<Ticket>, String> {
        parse_ticket_file(Path::new("tickets.yaml"), text)
    }

    #[test]
    fn options() {
        assert_eq!(
            Options::from_config(&json!({"file": "t.yaml"})).unwrap(),
            Options {
                file: "t.yaml".into()
            }
        );
        let err = Options::from_config(&json!({})).unwrap_err();
        assert_eq!(
            err,
            BuiltinConfigError::new("file", "`local` requires the option `file`")
        );
        let err = Options::from_config(&json!({"file": ""})).unwrap_err();
        assert_eq!(
            err,
            BuiltinConfigError::new(
                "file",
                "must name the ticket file (YAML or JSON), not be empty"
            )
        );
        let err = Options::from_config(&json!({"file": "t.yaml", "files": 1})).unwrap_err();
        assert_eq!(
            err,
            BuiltinConfigError::new(
                "files",
                "unknown option `files` of `local`; did you mean `file`?"
            )
        );
        let err = Options::from_config(&json!({"file": 3})).unwrap_err();
        assert_eq!(
            err,
            BuiltinConfigError::new("file", "invalid type: integer `3`, expected path string")
        );
    }

    #[test]
    fn list_and_map_forms_with_both_spellings() {
        let list = yaml(
            "- id: 42\n  title: Fix it\n  ticket_type: bug_fix\n  repo_url: https://r\n  labels: [a, b]\n  raw: {priority: high}\n",
        )
        .unwrap();
        assert_eq!(
            list,
            vec![Ticket {
                id: "42".into(),
                title: "Fix it".into(),
                ticket_type: "bug_fix".into(),
                repo_url: "https://r".into(),
                labels: vec!["a".into(), "b".into()],
                raw: Some(json!({"priority": "high"}).as_object().unwrap().clone()),
                ..Ticket::default()
            }]
        );
        let map = parse_ticket_file(
            Path::new("t.json"),
            r#"{"tickets": [{"id": "A-1", "ticketType": "chore", "repoUrl": "https://r", "externalUrl": "https://x"}]}"#,
        )
        .unwrap();
        assert_eq!(map[0].ticket_type, "chore");
        assert_eq!(map[0].repo_url, "https://r");
        assert_eq!(map[0].external_url, "https://x");
        assert_eq!(yaml("").unwrap(), vec![]);
        assert_eq!(yaml("tickets: []\n").unwrap(), vec![]);
    }

    #[test]
    fn broken_files_say_where() {
        assert_eq!(
            yaml("- title: no id\n").unwrap_err(),
            "[0]: missing field `id`"
        );
        assert_eq!(
            yaml("tickets:\n  - id: 1\n  - id: 2\n    labels: x\n").unwrap_err(),
            "tickets[1].labels: invalid type: string \"x\", expected a sequence"
        );
        assert_eq!(
            yaml("- id: 1\n- id: \"1\"\n").unwrap_err(),
            "[1].id: ticket id \"1\" is used twice ([0] and [1])"
        );
        assert_eq!(
            yaml("- id: 1\n  titel: x\n").unwrap_err(),
            "[0].titel: unknown ticket field `titel`; did you mean `title`?"
        );
        assert_eq!(
            yaml("- id: 1\n  owner: x\n").unwrap_err(),
            "[0].owner: unknown ticket field `owner`; a ticket has: `id`, `title`, `description`, `ticket_type`, `labels`, `repo_url`, `external_url`, `raw`"
        );
        assert_eq!(
            yaml("- id: [1]\n").unwrap_err(),
            "[0].id: expected the ticket id as a string or an integer"
        );
        assert_eq!(
            yaml("- id: \"\"\n").unwrap_err(),
            "[0].id: the ticket id must not be empty"
        );
        assert_eq!(
            yaml("todo: []\n").unwrap_err(),
            "unknown key `todo` at the top; expected a list of tickets or a map with the one key `tickets`"
        );
        assert_eq!(
            yaml("just text\n").unwrap_err(),
            "expected a list of tickets or a map with the key `tickets`, found a string"
        );
        assert!(
            yaml("- id: 1\n  title: [\n")
                .unwrap_err()
                .starts_with("not valid YAML: "),
        );
    }
}
