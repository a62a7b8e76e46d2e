//! The Extism peer of robodev's side-by-side bench: one Extism plug-in (`extism-pdk`,
//! `wasm32-unknown-unknown`, no WASI) doing the work of three robodev guests, so that
//! `robodev_benches::extism` can time the same calls on Extism's host.
//!
//! Exports (`#[plugin_fn]`):
//!
//! - `notify`: input JSON `{"message": str, "ticket": {...} | null}`. The dry path of
//!   `guests/notify-webhook`: logs the message at debug level through the host function `log`
//!   and returns no output.
//! - `poll`: input JSON `{"labels": [str], "max": n}`. What `guests/ticketing-kv` does per
//!   `poll-ready-tickets`, over the host's key-value functions: checks `seeded`, lists
//!   `state/`, and for each ready ticket reads `state/<id>`, `ticket/<id>` and
//!   `comments/<id>`; returns the tickets as a JSON array (each with `raw = {"state",
//!   "comments"}`). The host seeds the store as ticketing-kv would with `generate: N`.
//! - `review`: input the unified diff (plain text). The rules and score of
//!   `guests/review-rules`; returns the outcome as JSON (`reviewId`, `gateResult`). The
//!   review id is `review-<task_run_id>` (config key `task_run_id`), the passing score the
//!   config key `threshold` (default 70).
//!
//! Host functions it imports (`extism:host/user`): `log(level, message)`, `kv_get(key)`
//! (the value, empty when absent) and `kv_list(prefix)` (the sorted keys, a JSON array).

use extism_pdk::{config, host_fn, plugin_fn, FnResult, Json, WithReturnCode};
use serde::{Deserialize, Serialize};

#[host_fn]
extern "ExtismHost" {
    /// Log `message` at `level` (0 trace, 1 debug, 2 info, 3 warn, 4 error).
    fn log(level: i32, message: &str);
    /// The value under `key`; empty (so `None`) when there is none.
    fn kv_get(key: &str) -> Option<String>;
    /// The keys starting with `prefix`, sorted.
    fn kv_list(prefix: &str) -> Json<Vec<String>>;
}

/// Log level `debug`, as `robodev:host/log` numbers it.
const DEBUG: i32 = 1;

/// A plug-in error with the code the host sees (a non-zero return).
fn fail<T>(message: String) -> FnResult<T> {
    Err(WithReturnCode::new(extism_pdk::Error::msg(message), 1))
}

// ---------------------------------------------------------------- notify

/// A ticket as robodev's types carry it (camelCase in JSON).
#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Ticket {
    id: String,
    title: String,
    description: String,
    ticket_type: String,
    labels: Vec<String>,
    repo_url: String,
    external_url: String,
    raw: Option<String>,
}

/// The input of `notify`.
#[derive(Deserialize)]
pub struct NotifyRequest {
    message: String,
    #[allow(dead_code)] // Part of the request; the dry path only logs the message.
    ticket: Option<Ticket>,
}

/// notify-webhook without a webhook: log the message at debug level, succeed.
#[plugin_fn]
pub fn notify(Json(request): Json<NotifyRequest>) -> FnResult<()> {
    unsafe { log(DEBUG, &request.message)? };
    Ok(())
}

// ---------------------------------------------------------------- poll

const READY: &str = "ready";

/// The input of `poll`.
#[derive(Deserialize)]
pub struct PollRequest {
    #[serde(default)]
    labels: Vec<String>,
    /// The most tickets to return; 0 means no limit.
    #[serde(default)]
    max: i32,
}

/// A ticket as stored under `ticket/<id>` (ticketing-kv's layout).
#[derive(Deserialize)]
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

/// The ready tickets carrying every label asked for, sorted by id, at most `max`.
#[plugin_fn]
pub fn poll(Json(request): Json<PollRequest>) -> FnResult<Json<Vec<Ticket>>> {
    let limit = match usize::try_from(request.max) {
        Ok(0) => usize::MAX,
        Ok(n) => n,
        Err(_) => return fail(format!("max must not be negative, got {}", request.max)),
    };
    if unsafe { kv_get("seeded")? }.is_none() {
        return fail("the store is not seeded".into());
    }
    let Json(keys) = unsafe { kv_list("state/")? };
    let mut tickets = Vec::new();
    for key in keys {
        if tickets.len() >= limit {
            break;
        }
        let Some(id) = key.strip_prefix("state/") else {
            continue;
        };
        if unsafe { kv_get(&key)? }.as_deref() != Some(READY) {
            continue;
        }
        let Some(text) = (unsafe { kv_get(&format!("ticket/{id}"))? }) else {
            continue;
        };
        let stored: StoredTicket = match serde_json::from_str(&text) {
            Ok(stored) => stored,
            Err(e) => return fail(format!("ticket/{id} is corrupt: {e}")),
        };
        if !request.labels.iter().all(|l| stored.labels.contains(l)) {
            continue;
        }
        let comments = match unsafe { kv_get(&format!("comments/{id}"))? } {
            None => 0,
            Some(text) => match serde_json::from_str::<Vec<String>>(&text) {
                Ok(list) => list.len(),
                Err(e) => return fail(format!("comments/{id} is corrupt: {e}")),
            },
        };
        let raw = serde_json::json!({ "state": READY, "comments": comments }).to_string();
        tickets.push(Ticket {
            id: stored.id,
            title: stored.title,
            description: stored.description,
            ticket_type: stored.ticket_type,
            labels: stored.labels,
            repo_url: stored.repo_url,
            external_url: stored.external_url,
            raw: Some(raw),
        });
    }
    Ok(Json(tickets))
}

// ---------------------------------------------------------------- review

/// Passing score when the config sets no `threshold`.
const DEFAULT_THRESHOLD: i32 = 70;

/// Severity of a finding, as robodev's review types name it.
#[derive(Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational.
    Info,
    /// Worth fixing.
    Warning,
    /// Must be fixed.
    Error,
    /// Blocks the change.
    Critical,
}

/// A review comment on one added line.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Comment {
    file_path: String,
    line: i32,
    severity: Severity,
    message: &'static str,
    suggestion: &'static str,
}

/// A security finding on one added line.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    rule_id: &'static str,
    severity: Severity,
    file_path: String,
    line: i32,
    description: &'static str,
    cwe_id: &'static str,
}

/// The gate's verdict.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GateResult {
    passed: bool,
    summary: String,
    comments: Vec<Comment>,
    security_findings: Vec<Finding>,
    score: i32,
}

/// The output of `review`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewOutcome {
    review_id: String,
    gate_result: GateResult,
}

/// review-rules' gate over the unified diff given as input.
#[plugin_fn]
pub fn review(diff: String) -> FnResult<Json<ReviewOutcome>> {
    let threshold = match config::get("threshold")? {
        None => DEFAULT_THRESHOLD,
        Some(text) => match text.trim().trim_matches('"').parse() {
            Ok(n) => n,
            Err(_) => {
                return fail(format!(
                    "config key threshold must be an integer, got {text:?}"
                ))
            }
        },
    };
    let task_run_id = config::get("task_run_id")?.unwrap_or_default();
    if task_run_id.is_empty() {
        return fail("config key task_run_id is empty".into());
    }
    let mut gate = Gate::default();
    gate.scan(&diff);
    Ok(Json(ReviewOutcome {
        review_id: format!("review-{task_run_id}"),
        gate_result: gate.verdict(threshold),
    }))
}

/// What the rules found so far, in diff order.
#[derive(Default)]
struct Gate {
    comments: Vec<Comment>,
    findings: Vec<Finding>,
}

impl Gate {
    /// One pass over a unified diff: the rules run on every added line, with its file (from
    /// `+++` headers) and its line number in the new file (from `@@` hunk headers).
    fn scan(&mut self, diff: &str) {
        let mut file = "";
        let mut line_no: i32 = 0;
        // Lines still expected in the current hunk on each side; inside a hunk, a line
        // starting with "+++" is an added line, not a header.
        let (mut old_left, mut new_left) = (0u32, 0u32);
        for raw in diff.split('\n') {
            let text = raw.strip_suffix('\r').unwrap_or(raw);
            if old_left > 0 || new_left > 0 {
                match text.bytes().next() {
                    Some(b'+') => {
                        self.check(file, line_no, &text[1..]);
                        line_no = line_no.saturating_add(1);
                        new_left = new_left.saturating_sub(1);
                        continue;
                    }
                    Some(b'-') => {
                        old_left = old_left.saturating_sub(1);
                        continue;
                    }
                    // A context line (some tools drop the space of an empty one).
                    Some(b' ') | None => {
                        line_no = line_no.saturating_add(1);
                        old_left = old_left.saturating_sub(1);
                        new_left = new_left.saturating_sub(1);
                        continue;
                    }
                    Some(b'\\') => continue,
                    // The hunk ended before its header said: read this line as a header.
                    Some(_) => (old_left, new_left) = (0, 0),
                }
            }
            if let Some(header) = text.strip_prefix("+++ ") {
                file = header_path(header);
            } else if text.starts_with("+++") {
                // A header this parser does not read; never an added line.
            } else if let Some((old, new, start)) = hunk_header(text) {
                (old_left, new_left, line_no) = (old, new, start);
            } else if let Some(added) = text.strip_prefix('+') {
                // An added line outside any hunk: the counts were off; check it anyway.
                self.check(file, line_no, added);
                line_no = line_no.saturating_add(1);
            }
        }
    }

    fn check(&mut self, file: &str, line: i32, text: &str) {
        let hits = Hits::of(text);
        let mut comment = |severity, message| {
            self.comments.push(Comment {
                file_path: file.to_owned(),
                line,
                severity,
                message,
                suggestion: "",
            })
        };
        if hits.todo {
            comment(
                Severity::Info,
                "TODO/FIXME left in the change: finish it or open a ticket",
            );
        }
        if hits.unwrap {
            comment(
                Severity::Warning,
                "`.unwrap()` panics on error: handle or propagate the error",
            );
        }
        let mut finding = |rule_id, cwe_id, severity, description| {
            self.findings.push(Finding {
                rule_id,
                severity,
                file_path: file.to_owned(),
                line,
                description,
                cwe_id,
            })
        };
        if hits.credential {
            finding(
                "hardcoded-credential",
                "CWE-798",
                Severity::Critical,
                "hard-coded credential",
            );
        }
        if hits.eval {
            finding(
                "dynamic-eval",
                "CWE-95",
                Severity::Error,
                "dynamic code evaluation with eval()",
            );
        }
    }

    fn verdict(self, threshold: i32) -> GateResult {
        let count = |s: Severity| {
            let c = self.comments.iter().filter(|c| c.severity == s).count();
            let f = self.findings.iter().filter(|f| f.severity == s).count();
            (c + f) as i64
        };
        let (info, warning, error, critical) = (
            count(Severity::Info),
            count(Severity::Warning),
            count(Severity::Error),
            count(Severity::Critical),
        );
        let penalty = 2 * info + 5 * warning + 20 * error + 40 * critical;
        let score = i32::try_from((100 - penalty).clamp(0, 100)).unwrap_or(0);
        let passed = score >= threshold && critical == 0;
        let verdict = if passed { "passed" } else { "failed" };
        GateResult {
            passed,
            summary: format!(
                "{verdict}: score {score} (threshold {threshold}); {info} info, {warning} warning, \
                 {error} error, {critical} critical"
            ),
            comments: self.comments,
            security_findings: self.findings,
            score,
        }
    }
}

/// The path of a `+++` header (`b/src/x.rs` → `src/x.rs`); "" for `/dev/null`.
fn header_path(header: &str) -> &str {
    let path = header.split('\t').next().unwrap_or(header).trim_end();
    if path == "/dev/null" {
        ""
    } else {
        path.strip_prefix("b/").unwrap_or(path)
    }
}

/// `@@ -a,b +c,d @@ ...` → (b, d, c); a count left out is 1.
fn hunk_header(text: &str) -> Option<(u32, u32, i32)> {
    let rest = text.strip_prefix("@@ -")?;
    let (old, rest) = rest.split_once(" +")?;
    let (new, _) = rest.split_once(" @@")?;
    fn range(r: &str) -> Option<(i32, u32)> {
        match r.split_once(',') {
            Some((start, count)) => Some((start.parse().ok()?, count.parse().ok()?)),
            None => Some((r.parse().ok()?, 1)),
        }
    }
    let (_, old_count) = range(old)?;
    let (new_start, new_count) = range(new)?;
    Some((old_count, new_count, new_start))
}

/// Whether a byte can start one of the patterns (`TODO`, `FIXME`, `.unwrap()`, the
/// credential assignments, `eval(`).
const STARTS: [bool; 256] = {
    let mut table = [false; 256];
    let firsts = b"TF.pase";
    let mut i = 0;
    while i < firsts.len() {
        table[firsts[i] as usize] = true;
        i += 1;
    }
    table
};

/// The rules one added line triggers.
#[derive(Default)]
struct Hits {
    todo: bool,
    unwrap: bool,
    credential: bool,
    eval: bool,
}

impl Hits {
    /// One scan of the line: most bytes start no pattern and cost one table lookup.
    fn of(text: &str) -> Hits {
        let bytes = text.as_bytes();
        let mut hits = Hits::default();
        for (at, &b) in bytes.iter().enumerate() {
            if !STARTS[usize::from(b)] {
                continue;
            }
            let rest = &bytes[at..];
            match rest {
                [b'T', b'O', ..] => hits.todo |= rest.starts_with(b"TODO"),
                [b'F', b'I', ..] => hits.todo |= rest.starts_with(b"FIXME"),
                [b'.', b'u', ..] => hits.unwrap |= rest.starts_with(b".unwrap()"),
                [b'p', b'a', ..] | [b'a', b'p', ..] | [b's', b'e', ..] => {
                    hits.credential |= [&b"password = \""[..], b"api_key = \"", b"secret = \""]
                        .iter()
                        .any(|p| rest.starts_with(p))
                }
                [b'e', b'v', ..] => {
                    // `eval(` on its own, not the end of a longer name (`retrieval(`).
                    let joined = at
                        .checked_sub(1)
                        .is_some_and(|i| bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_');
                    hits.eval |= rest.starts_with(b"eval(") && !joined;
                }
                _ => {}
            }
        }
        hits
    }
}
