//! The conformance kit behind `robodev plugin test`: each interface's contract as a list of
//! calls with what must come back, run against a loaded plugin of either runtime through
//! [`AnyBackend::call_json`], plus the author's recorded cases (`--cases FILE`). Reports as
//! text, JSON or JUnit XML, with each call's time and, for components, its fuel and the
//! memory high-water mark.
//!
//! What every interface is held to: `Handshake` names the plugin and gives a semver version
//! (the declared interface version is checked when the plugin loads); methods answer valid
//! input; an id that does not exist is `not_found`; an empty id is `invalid_argument`. Methods
//! that act on something (a ticket, a request) are called on what the plugin itself returned
//! (the first polled ticket, the approval request it opened), so point the kit at a test
//! project. SCM's methods change repositories: they are checked only through recorded cases.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use robodev_core::{AnyBackend, Interface};
use robodev_wasm::WasmPlugin;
use serde::Deserialize;
use serde_json::{Value, json};

/// An id no real system has.
const NO_SUCH_ID: &str = "robodev-kit-no-such-id";

/// How the report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per case, then a summary.
    Text,
    /// One JSON object.
    Json,
    /// JUnit XML, for CI.
    Junit,
}

/// One recorded case of `--cases FILE` (YAML or JSON: a list, or `{cases: [...]}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedCase {
    /// What it checks.
    pub name: String,
    /// The method (WIT or RPC name).
    pub method: String,
    /// The request, proto3 JSON.
    #[serde(default)]
    pub input: Value,
    /// The response must contain this: objects these keys with these values, arrays as many
    /// items each containing the expected one, recursively; anything else equal.
    #[serde(default)]
    pub output: Option<Value>,
    /// Or the call must fail with this error kind (`not_found`, `invalid_argument`, ...).
    #[serde(default)]
    pub error: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum CasesFile {
    List(Vec<RecordedCase>),
    Map { cases: Vec<RecordedCase> },
}

/// Reads `--cases FILE`.
pub fn read_cases(path: &std::path::Path) -> anyhow::Result<Vec<RecordedCase>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read the cases file {}: {e}", path.display()))?;
    let parsed: CasesFile = serde_norway::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "cases file {}: {e} (expected a list of {{name, method, input, output | error}})",
            path.display()
        )
    })?;
    let cases = match parsed {
        CasesFile::List(c) | CasesFile::Map { cases: c } => c,
    };
    for (i, case) in cases.iter().enumerate() {
        if case.output.is_some() && case.error.is_some() {
            anyhow::bail!(
                "cases file {}: case {} ({:?}) has both output and error",
                path.display(),
                i + 1,
                case.name
            );
        }
    }
    Ok(cases)
}

/// How one case ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// As the contract says.
    Passed,
    /// Not: why.
    Failed(String),
    /// Not run: why.
    Skipped(String),
}

/// One case's result.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// What it checks.
    pub name: String,
    /// The method called.
    pub method: String,
    /// How it ended.
    pub status: Status,
    /// How long the call took.
    pub time: Duration,
    /// Fuel the call used (components).
    pub fuel: Option<u64>,
    /// The plugin's linear-memory high-water mark after the call, bytes (components).
    pub memory_bytes: Option<u64>,
}

/// Everything the kit found.
#[derive(Debug, Clone)]
pub struct Report {
    /// The plugin's name.
    pub plugin: String,
    /// Its interface.
    pub interface: Option<Interface>,
    /// `component` or `subprocess`.
    pub runtime: &'static str,
    /// The cases, in order.
    pub cases: Vec<CaseResult>,
}

impl Report {
    /// A plugin that did not load: one failed case saying why.
    pub fn not_loaded(plugin: &str, runtime: &'static str, why: String) -> Report {
        Report {
            plugin: plugin.to_owned(),
            interface: None,
            runtime,
            cases: vec![CaseResult {
                name: "loads and answers its handshake".into(),
                method: "handshake".into(),
                status: Status::Failed(why),
                time: Duration::ZERO,
                fuel: None,
                memory_bytes: None,
            }],
        }
    }

    fn count(&self, f: impl Fn(&Status) -> bool) -> usize {
        self.cases.iter().filter(|c| f(&c.status)).count()
    }

    /// Cases that failed.
    pub fn failed(&self) -> usize {
        self.count(|s| matches!(s, Status::Failed(_)))
    }

    /// The report as `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Text => self.text(),
            Format::Json => serde_json::to_string_pretty(&self.json()).unwrap_or_default() + "\n",
            Format::Junit => self.junit(),
        }
    }

    fn suite(&self) -> String {
        match self.interface {
            Some(i) => format!("{} ({i} v{})", self.plugin, i.version()),
            None => self.plugin.clone(),
        }
    }

    fn text(&self) -> String {
        let mut out = format!("robodev plugin test: {} ({})\n", self.suite(), self.runtime);
        for c in &self.cases {
            let (tag, why) = match &c.status {
                Status::Passed => ("PASS", None),
                Status::Failed(w) => ("FAIL", Some(w)),
                Status::Skipped(w) => ("SKIP", Some(w)),
            };
            let mut cost = format!("{:.1} ms", c.time.as_secs_f64() * 1000.0);
            if let Some(f) = c.fuel {
                let _ = write!(cost, ", fuel {f}");
            }
            if let Some(m) = c.memory_bytes {
                let _ = write!(cost, ", memory {:.1} MiB", m as f64 / (1024.0 * 1024.0));
            }
            let _ = writeln!(out, "{tag} {} [{}] ({cost})", c.name, c.method);
            if let Some(why) = why {
                let _ = writeln!(out, "     {why}");
            }
        }
        let _ = writeln!(
            out,
            "{} passed, {} failed, {} skipped",
            self.count(|s| *s == Status::Passed),
            self.failed(),
            self.count(|s| matches!(s, Status::Skipped(_)))
        );
        out
    }

    fn json(&self) -> Value {
        json!({
            "plugin": self.plugin,
            "interface": self.interface.map(|i| i.name()),
            "interfaceVersion": self.interface.map(|i| i.version()),
            "runtime": self.runtime,
            "passed": self.count(|s| *s == Status::Passed),
            "failed": self.failed(),
            "skipped": self.count(|s| matches!(s, Status::Skipped(_))),
            "cases": self.cases.iter().map(|c| {
                let (status, message) = match &c.status {
                    Status::Passed => ("passed", None),
                    Status::Failed(w) => ("failed", Some(w)),
                    Status::Skipped(w) => ("skipped", Some(w)),
                };
                json!({
                    "name": c.name,
                    "method": c.method,
                    "status": status,
                    "message": message,
                    "timeMs": c.time.as_secs_f64() * 1000.0,
                    "fuel": c.fuel,
                    "memoryBytes": c.memory_bytes,
                })
            }).collect::<Vec<_>>(),
        })
    }

    fn junit(&self) -> String {
        let total: f64 = self.cases.iter().map(|c| c.time.as_secs_f64()).sum();
        let suite = xml(&self.suite());
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuites name=\"robodev plugin test\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{total:.6}\">",
            self.cases.len(),
            self.failed(),
            self.count(|s| matches!(s, Status::Skipped(_)))
        );
        let _ = writeln!(
            out,
            "  <testsuite name=\"{suite}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{total:.6}\">",
            self.cases.len(),
            self.failed(),
            self.count(|s| matches!(s, Status::Skipped(_)))
        );
        for c in &self.cases {
            let head = format!(
                "    <testcase classname=\"{suite}\" name=\"{}\" time=\"{:.6}\"",
                xml(&format!("{} [{}]", c.name, c.method)),
                c.time.as_secs_f64()
            );
            match &c.status {
                Status::Passed => {
                    let _ = writeln!(out, "{head}/>");
                }
                Status::Failed(why) => {
                    let _ = writeln!(
                        out,
                        "{head}>\n      <failure message=\"{}\"/>\n    </testcase>",
                        xml(why)
                    );
                }
                Status::Skipped(why) => {
                    let _ = writeln!(
                        out,
                        "{head}>\n      <skipped message=\"{}\"/>\n    </testcase>",
                        xml(why)
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n</testsuites>\n");
        out
    }
}

fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// What a call must give.
enum Expect<'f> {
    /// A response this check accepts.
    Ok(&'f dyn Fn(&Value) -> Result<(), String>),
    /// An error of one of these kinds.
    Error(&'f [&'f str]),
}

fn any(_: &Value) -> Result<(), String> {
    Ok(())
}

fn short(v: &Value) -> String {
    let text = v.to_string();
    if text.len() > 200 {
        format!("{}...", &text[..text.floor_char_boundary(200)])
    } else {
        text
    }
}

struct Runner<'a> {
    plugin: &'a str,
    backend: &'a AnyBackend,
    wasm: Option<&'a WasmPlugin>,
    cases: Vec<CaseResult>,
}

impl Runner<'_> {
    async fn case(
        &mut self,
        name: &str,
        method: &str,
        input: Value,
        expect: Expect<'_>,
    ) -> Option<Value> {
        let fuel_before = self.wasm.map(|w| w.stats().fuel_consumed);
        let started = Instant::now();
        let out = self.backend.call_json(self.plugin, method, input).await;
        let time = started.elapsed();
        let fuel = self
            .wasm
            .zip(fuel_before)
            .map(|(w, before)| w.stats().fuel_consumed.saturating_sub(before));
        let memory_bytes = self.wasm.map(|w| w.stats().memory_high_water_bytes);
        let (status, value) = match (out, expect) {
            (Ok(v), Expect::Ok(check)) => match check(&v) {
                Ok(()) => (Status::Passed, Some(v)),
                // Still given back: later cases may act on what it returned.
                Err(why) => {
                    let status = Status::Failed(format!("{why}; the response: {}", short(&v)));
                    (status, Some(v))
                }
            },
            (Ok(v), Expect::Error(kinds)) => (
                Status::Failed(format!(
                    "expected the error {}, got a response: {}",
                    kinds.join(" or "),
                    short(&v)
                )),
                None,
            ),
            (Err(e), Expect::Ok(_)) => (
                Status::Failed(format!("expected a response, got: {e}")),
                None,
            ),
            (Err(e), Expect::Error(kinds)) if kinds.contains(&e.label()) => (Status::Passed, None),
            (Err(e), Expect::Error(kinds)) => (
                Status::Failed(format!(
                    "expected the error {}, got {}: {e}",
                    kinds.join(" or "),
                    e.label()
                )),
                None,
            ),
        };
        self.cases.push(CaseResult {
            name: name.to_owned(),
            method: method.to_owned(),
            status,
            time,
            fuel,
            memory_bytes,
        });
        value
    }

    fn skip(&mut self, name: &str, method: &str, why: &str) {
        self.cases.push(CaseResult {
            name: name.to_owned(),
            method: method.to_owned(),
            status: Status::Skipped(why.to_owned()),
            time: Duration::ZERO,
            fuel: None,
            memory_bytes: None,
        });
    }

    async fn recorded(&mut self, case: &RecordedCase) {
        let expected = case.output.clone();
        let check = move |v: &Value| match &expected {
            Some(want) => contains(v, want, "response"),
            None => Ok(()),
        };
        let kind = [case.error.as_deref().unwrap_or_default()];
        let expect = if case.error.is_some() {
            Expect::Error(&kind)
        } else {
            Expect::Ok(&check)
        };
        self.case(
            &format!("recorded: {}", case.name),
            &case.method,
            case.input.clone(),
            expect,
        )
        .await;
    }
}

/// Whether `have` contains `want`: objects key by key (recursively), anything else equal.
fn contains(have: &Value, want: &Value, at: &str) -> Result<(), String> {
    match (have, want) {
        (Value::Object(h), Value::Object(w)) => {
            for (k, wv) in w {
                let path = format!("{at}.{k}");
                match h.get(k) {
                    Some(hv) => contains(hv, wv, &path)?,
                    None if wv.is_null() => {}
                    None => return Err(format!("{path} is missing (expected {wv})")),
                }
            }
            Ok(())
        }
        (Value::Array(h), Value::Array(w)) if h.len() == w.len() => h
            .iter()
            .zip(w)
            .enumerate()
            .try_for_each(|(i, (hv, wv))| contains(hv, wv, &format!("{at}[{i}]"))),
        (Value::Array(h), Value::Array(w)) => {
            Err(format!("{at} has {} items, expected {}", h.len(), w.len()))
        }
        _ if have == want => Ok(()),
        _ => Err(format!("{at} is {have}, expected {want}")),
    }
}

fn is_semver(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn handshake_ok(v: &Value) -> Result<(), String> {
    let name = v["name"].as_str().unwrap_or_default();
    let version = v["version"].as_str().unwrap_or_default();
    if name.trim().is_empty() {
        return Err("the handshake names no plugin".into());
    }
    if !is_semver(version) {
        return Err(format!(
            "the handshake's version {version:?} is not semver (MAJOR.MINOR.PATCH)"
        ));
    }
    Ok(())
}

fn sample_ticket() -> Value {
    json!({
        "id": NO_SUCH_ID,
        "title": "robodev conformance kit",
        "description": "A ticket made up by `robodev plugin test`.",
        "ticketType": "bug_fix",
        "labels": ["robodev"],
        "repoUrl": "https://git.example/acme/api",
        "externalUrl": "https://tracker.example/robodev-kit"
    })
}

fn sample_result(success: bool) -> Value {
    json!({
        "success": success,
        "summary": if success { "the kit's made-up success" } else { "the kit's made-up failure" },
        "branchName": "robodev/kit",
        "exitCode": if success { 0 } else { 1 }
    })
}

fn sample_task() -> Value {
    json!({
        "id": "tr-robodev-kit",
        "ticketId": NO_SUCH_ID,
        "title": "robodev conformance kit",
        "description": "Fix the off-by-one in pagination.",
        "repoUrl": "https://git.example/acme/api",
        "labels": ["robodev"]
    })
}

const NOT_FOUND: &[&str] = &["not_found"];
const INVALID: &[&str] = &["invalid_argument"];

/// Runs `interface`'s contract and the recorded `cases` against `backend`.
pub async fn run(
    plugin: &str,
    backend: &AnyBackend,
    wasm: Option<&WasmPlugin>,
    cases: &[RecordedCase],
) -> Report {
    let interface = backend.interface();
    let mut r = Runner {
        plugin,
        backend,
        wasm,
        cases: Vec::new(),
    };
    r.case(
        "names itself with a semver version",
        "handshake",
        json!({}),
        Expect::Ok(&handshake_ok),
    )
    .await;
    match interface {
        Interface::Ticketing => ticketing(&mut r).await,
        Interface::Notifications => notifications(&mut r).await,
        Interface::Approval => approval(&mut r).await,
        Interface::Secrets => secrets(&mut r).await,
        Interface::Review => review(&mut r).await,
        Interface::Scm => scm(&mut r),
        Interface::Engine => engine(&mut r).await,
    }
    for case in cases {
        r.recorded(case).await;
    }
    Report {
        plugin: plugin.to_owned(),
        interface: Some(interface),
        runtime: if wasm.is_some() {
            "component"
        } else {
            "subprocess"
        },
        cases: r.cases,
    }
}

fn tickets_ok(max: usize) -> impl Fn(&Value) -> Result<(), String> {
    move |v: &Value| {
        let tickets = v["tickets"].as_array().map_or(&[][..], Vec::as_slice);
        if tickets.len() > max {
            return Err(format!("{} tickets for max_results {max}", tickets.len()));
        }
        let mut seen = std::collections::HashSet::new();
        for t in tickets {
            let id = t["id"].as_str().unwrap_or_default();
            if id.is_empty() {
                return Err("a ticket has no id".into());
            }
            if !seen.insert(id) {
                return Err(format!("ticket {id} is returned twice"));
            }
        }
        Ok(())
    }
}

async fn ticketing(r: &mut Runner<'_>) {
    let polled = r
        .case(
            "polls at most max_results tickets, each with a unique id",
            "poll-ready-tickets",
            json!({"labels": [], "maxResults": 5}),
            Expect::Ok(&tickets_ok(5)),
        )
        .await;
    r.case(
        "honours max_results 1",
        "poll-ready-tickets",
        json!({"labels": [], "maxResults": 1}),
        Expect::Ok(&tickets_ok(1)),
    )
    .await;
    let result = sample_result(true);
    let unknown: [(&str, Value); 4] = [
        ("mark-in-progress", json!({"ticketId": NO_SUCH_ID})),
        (
            "mark-complete",
            json!({"ticketId": NO_SUCH_ID, "result": result}),
        ),
        (
            "mark-failed",
            json!({"ticketId": NO_SUCH_ID, "reason": "the kit's made-up reason"}),
        ),
        (
            "add-comment",
            json!({"ticketId": NO_SUCH_ID, "comment": "the kit's comment"}),
        ),
    ];
    for (method, input) in unknown {
        r.case(
            "an unknown ticket id is not_found",
            method,
            input,
            Expect::Error(NOT_FOUND),
        )
        .await;
    }
    r.case(
        "an empty ticket id is invalid_argument",
        "mark-in-progress",
        json!({"ticketId": ""}),
        Expect::Error(INVALID),
    )
    .await;
    // A ticket's lifecycle: in progress, then complete (the first polled ticket) or failed (the
    // second, when there is one).
    let polled_id = |i: usize| {
        polled
            .as_ref()
            .and_then(|v| v["tickets"][i]["id"].as_str().map(str::to_owned))
    };
    let (first, second) = (polled_id(0), polled_id(1));
    type Step<'t> = (
        &'static str,
        &'static str,
        &'t Option<String>,
        fn(&str) -> Value,
    );
    let steps: [Step<'_>; 5] = [
        (
            "comments on a polled ticket",
            "add-comment",
            &first,
            |id| json!({"ticketId": id, "comment": "robodev conformance kit: a comment"}),
        ),
        (
            "marks a polled ticket in progress",
            "mark-in-progress",
            &first,
            |id| json!({"ticketId": id}),
        ),
        (
            "marks it complete",
            "mark-complete",
            &first,
            |id| json!({"ticketId": id, "result": sample_result(true)}),
        ),
        (
            "marks a second polled ticket in progress",
            "mark-in-progress",
            &second,
            |id| json!({"ticketId": id}),
        ),
        (
            "marks it failed",
            "mark-failed",
            &second,
            |id| json!({"ticketId": id, "reason": "robodev conformance kit: a made-up failure"}),
        ),
    ];
    for (name, method, ticket, input) in steps {
        match ticket {
            Some(id) => {
                r.case(name, method, input(id), Expect::Ok(&any)).await;
            }
            None => r.skip(
                name,
                method,
                "the plugin polled no ticket (or no second one) to act on",
            ),
        }
    }
}

async fn notifications(r: &mut Runner<'_>) {
    let ticket = sample_ticket();
    r.case(
        "sends a notice",
        "notify",
        json!({"message": "robodev conformance kit: a notice", "ticket": ticket}),
        Expect::Ok(&any),
    )
    .await;
    r.case(
        "tells that a run started",
        "notify-start",
        json!({"ticket": ticket, "taskRunId": "tr-robodev-kit", "engine": "local"}),
        Expect::Ok(&any),
    )
    .await;
    for success in [true, false] {
        r.case(
            if success { "tells a success" } else { "tells a failure" },
            "notify-complete",
            json!({"ticket": ticket, "taskRunId": "tr-robodev-kit", "result": sample_result(success)}),
            Expect::Ok(&any),
        )
        .await;
    }
}

async fn approval(r: &mut Runner<'_>) {
    let opened = r
        .case(
            "opens an approval request with an id",
            "request-approval",
            json!({
                "question": "robodev conformance kit: approve?",
                "ticket": sample_ticket(),
                "taskRunId": "tr-robodev-kit",
                "options": ["approve", "reject"]
            }),
            Expect::Ok(&|v| {
                if v["requestId"].as_str().unwrap_or_default().is_empty() {
                    Err("no requestId".into())
                } else {
                    Ok(())
                }
            }),
        )
        .await;
    match opened {
        Some(_) => {
            r.case(
                "cancels the pending request of its task run",
                "cancel-pending",
                json!({"taskRunId": "tr-robodev-kit"}),
                Expect::Ok(&any),
            )
            .await;
        }
        None => r.skip(
            "cancels the pending request of its task run",
            "cancel-pending",
            "no request was opened",
        ),
    }
    r.case(
        "an empty task run id is invalid_argument",
        "cancel-pending",
        json!({"taskRunId": ""}),
        Expect::Error(INVALID),
    )
    .await;
}

async fn secrets(r: &mut Runner<'_>) {
    r.case(
        "an unknown key is not_found",
        "get-secret",
        json!({"key": NO_SUCH_ID}),
        Expect::Error(NOT_FOUND),
    )
    .await;
    r.case(
        "an empty key is invalid_argument",
        "get-secret",
        json!({"key": ""}),
        Expect::Error(INVALID),
    )
    .await;
    r.case(
        "gets no keys",
        "get-secrets",
        json!({"keys": []}),
        Expect::Ok(&any),
    )
    .await;
    r.case(
        "builds no env vars from no refs",
        "build-env-vars",
        json!({"secretRefs": []}),
        Expect::Ok(&any),
    )
    .await;
}

async fn review(r: &mut Runner<'_>) {
    let diff = "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1 +1 @@\n-let x = 1;\n+let x = 2;\n";
    let reviewed = r
        .case(
            "reviews a diff",
            "review-diff",
            json!({
                "taskRunId": "tr-robodev-kit",
                "ticket": sample_ticket(),
                "diff": diff,
                "branchName": "robodev/kit",
                "repoUrl": "https://git.example/acme/api",
                "result": sample_result(true)
            }),
            Expect::Ok(&any),
        )
        .await;
    match reviewed.as_ref().and_then(|v| {
        v["reviewId"]
            .as_str()
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
    }) {
        Some(id) => {
            r.case(
                "finds the gate result of its review",
                "get-gate-result",
                json!({"reviewId": id}),
                Expect::Ok(&any),
            )
            .await;
        }
        None => r.skip(
            "finds the gate result of its review",
            "get-gate-result",
            "the review gave no review id (its result came with it)",
        ),
    }
    r.case(
        "an unknown review id is not_found",
        "get-gate-result",
        json!({"reviewId": NO_SUCH_ID}),
        Expect::Error(NOT_FOUND),
    )
    .await;
}

fn scm(r: &mut Runner<'_>) {
    for method in [
        "create-branch",
        "create-pull-request",
        "get-pull-request-status",
        "list-review-comments",
        "reply-to-comment",
        "resolve-thread",
        "get-diff",
    ] {
        r.skip(
            "answers valid input",
            method,
            "SCM methods act on real repositories: check them with recorded cases (--cases)",
        );
    }
}

async fn engine(r: &mut Runner<'_>) {
    r.case(
        "builds an execution spec that runs something",
        "build-execution-spec",
        json!({"task": sample_task(), "config": {}}),
        Expect::Ok(&|v| {
            let spec = &v["spec"];
            let image = spec["image"].as_str().unwrap_or_default();
            let command = spec["command"].as_array().map_or(0, Vec::len);
            if image.is_empty() && command == 0 {
                Err("the spec has neither an image nor a command".into())
            } else {
                Ok(())
            }
        }),
    )
    .await;
    r.case(
        "builds a prompt",
        "build-prompt",
        json!({"task": sample_task()}),
        Expect::Ok(&|v| {
            if v["prompt"].as_str().unwrap_or_default().trim().is_empty() {
                Err("the prompt is empty".into())
            } else {
                Ok(())
            }
        }),
    )
    .await;
}
