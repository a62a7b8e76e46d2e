//! `review-rules`: a review backend (`robodev:review/backend@1.0.0`) that gates a change with a
//! few fixed rules over the lines it adds, in one pass over the unified diff (a 1 MiB diff takes
//! milliseconds).
//!
//! Rules, applied to every added line (a `+` line of a hunk; file and line number come from the
//! `+++ b/<path>` header and the `@@ -a,b +c,d @@` hunk headers):
//!
//! | match | result |
//! |---|---|
//! | `TODO`, `FIXME` | review comment, severity info |
//! | `.unwrap()` | review comment, severity warning |
//! | `password = "`, `api_key = "`, `secret = "` | security finding `hardcoded-credential`, CWE-798, critical |
//! | `eval(` (not part of a longer name) | security finding `dynamic-eval`, CWE-95, error |
//!
//! `score = max(0, 100 - 2·info - 5·warning - 20·error - 40·critical)`; the gate passes when the
//! score reaches the threshold and there is no critical finding.
//!
//! Config keys:
//!
//! - `threshold` (optional, default 70): the minimum passing score.
//!
//! The review id is `review-<task-run-id>`. When the config enables kv, the gate result is kept
//! under `gate/<review-id>` for `get-gate-result`; without kv, `review-diff` still answers
//! synchronously and `get-gate-result` answers `not-found`.

wit_bindgen::generate!({
    path: ["../../wit/types", "../../wit/host", "../../wit/review"],
    world: "robodev:review/plugin@1.0.0",
    generate_all,
    additional_derives: [serde::Serialize, serde::Deserialize],
});

use exports::robodev::review::backend::{
    GateResult, Guest, ReviewComment, ReviewOutcome, SecurityFinding, Severity,
};
use robodev::host::{config, kv, log};
use robodev::types::types::{PluginError, PluginInfo, TaskResult, Ticket};

/// Passing score when the config sets no `threshold`.
const DEFAULT_THRESHOLD: i32 = 70;

/// Assignments that hard-code a credential.
const CREDENTIAL_PATTERNS: [&str; 3] = ["password = \"", "api_key = \"", "secret = \""];

struct Component;

impl Guest for Component {
    fn handshake() -> PluginInfo {
        PluginInfo {
            name: "review-rules".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    fn review_diff(
        task_run_id: String,
        _ticket: Option<Ticket>,
        diff: String,
        _branch_name: String,
        _repo_url: String,
        _result: Option<TaskResult>,
    ) -> Result<ReviewOutcome, PluginError> {
        if task_run_id.is_empty() {
            return Err(PluginError::InvalidArgument("task-run-id is empty".into()));
        }
        let threshold = threshold()?;
        let review_id = format!("review-{task_run_id}");

        let mut findings = Findings::default();
        scan_diff(&diff, &mut findings);
        let gate = findings.into_gate_result(threshold);

        store_gate_result(&review_id, &gate)?;
        Ok(ReviewOutcome {
            review_id,
            gate_result: Some(gate),
        })
    }

    fn get_gate_result(review_id: String) -> Result<GateResult, PluginError> {
        let not_found = || PluginError::NotFound(format!("no review {review_id:?}"));
        let bytes = match kv::get(&gate_key(&review_id)) {
            Ok(Some(bytes)) => bytes,
            Ok(None) | Err(kv::KvError::Denied) => return Err(not_found()),
            Err(e) => return Err(kv_error(e)),
        };
        serde_json::from_slice(&bytes).map_err(|e| {
            PluginError::DataLoss(format!("stored review {review_id} is corrupt: {e}"))
        })
    }
}

export!(Component);

fn threshold() -> Result<i32, PluginError> {
    match config::get("threshold") {
        None => Ok(DEFAULT_THRESHOLD),
        Some(text) => text.trim().trim_matches('"').parse().map_err(|_| {
            PluginError::FailedPrecondition(format!(
                "config key threshold must be an integer, got {text:?}"
            ))
        }),
    }
}

fn gate_key(review_id: &str) -> String {
    format!("gate/{review_id}")
}

/// Keep the result for `get-gate-result` if the config enables kv. The verdict was computed
/// either way, so a store that cannot keep it only costs the later lookup.
fn store_gate_result(review_id: &str, gate: &GateResult) -> Result<(), PluginError> {
    let key = gate_key(review_id);
    // A cheap probe first: without kv, skip serialising what cannot be kept.
    if let Err(kv::KvError::Denied) = kv::get(&key) {
        return Ok(());
    }
    let bytes = serde_json::to_vec(gate).map_err(|e| PluginError::Internal(e.to_string()))?;
    match kv::set(&key, &bytes) {
        Ok(()) | Err(kv::KvError::Denied) => Ok(()),
        Err(e) => {
            log::log(
                log::Level::Warn,
                &format!("review {review_id} not kept: {e:?}"),
            );
            Ok(())
        }
    }
}

/// What the rules found, in diff order.
#[derive(Default)]
struct Findings {
    comments: Vec<ReviewComment>,
    security: Vec<SecurityFinding>,
}

impl Findings {
    fn check_line(&mut self, file: &str, line: i32, text: &str) {
        let hits = LineHits::scan(text);
        if hits.todo {
            self.comment(
                file,
                line,
                Severity::Info,
                "TODO/FIXME left in the change: finish it or open a ticket",
            );
        }
        if hits.unwrap {
            self.comment(
                file,
                line,
                Severity::Warning,
                "`.unwrap()` panics on error: handle or propagate the error",
            );
        }
        if hits.credential {
            self.finding(
                file,
                line,
                "hardcoded-credential",
                "CWE-798",
                Severity::Critical,
                "hard-coded credential",
            );
        }
        if hits.eval {
            self.finding(
                file,
                line,
                "dynamic-eval",
                "CWE-95",
                Severity::Error,
                "dynamic code evaluation with eval()",
            );
        }
    }

    fn comment(&mut self, file: &str, line: i32, severity: Severity, message: &str) {
        self.comments.push(ReviewComment {
            file_path: file.into(),
            line,
            severity,
            message: message.into(),
            suggestion: String::new(),
        });
    }

    fn finding(
        &mut self,
        file: &str,
        line: i32,
        rule_id: &str,
        cwe_id: &str,
        severity: Severity,
        description: &str,
    ) {
        self.security.push(SecurityFinding {
            rule_id: rule_id.into(),
            severity,
            file_path: file.into(),
            line,
            description: description.into(),
            cwe_id: cwe_id.into(),
        });
    }

    fn into_gate_result(self, threshold: i32) -> GateResult {
        let (mut info, mut warning, mut error, mut critical) = (0i64, 0i64, 0i64, 0i64);
        let severities = self
            .comments
            .iter()
            .map(|c| c.severity)
            .chain(self.security.iter().map(|f| f.severity));
        for severity in severities {
            match severity {
                Severity::Info => info += 1,
                Severity::Warning => warning += 1,
                Severity::Error => error += 1,
                Severity::Critical => critical += 1,
                Severity::Unspecified => {}
            }
        }
        let penalty = 2 * info + 5 * warning + 20 * error + 40 * critical;
        // Clamped to 0..=100, so the conversion cannot fail.
        let score = i32::try_from((100 - penalty).max(0)).unwrap_or(0);
        let passed = score >= threshold && critical == 0;
        let summary = format!(
            "{verdict}: score {score} (threshold {threshold}); {info} info, {warning} warning, \
             {error} error, {critical} critical",
            verdict = if passed { "passed" } else { "failed" },
        );
        GateResult {
            passed,
            summary,
            comments: self.comments,
            security_findings: self.security,
            score,
        }
    }
}

/// One pass over a unified diff, calling the rules on every added line.
fn scan_diff(diff: &str, findings: &mut Findings) {
    let mut file = "";
    let mut new_line: i32 = 0;
    // Lines left in the current hunk, on each side: while either is non-zero we are inside a
    // hunk, where a line starting with "+++" is content, not a file header.
    let mut old_left: u32 = 0;
    let mut new_left: u32 = 0;

    for line in diff.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if old_left > 0 || new_left > 0 {
            match line.as_bytes().first() {
                Some(b'+') => {
                    findings.check_line(file, new_line, &line[1..]);
                    new_line = new_line.saturating_add(1);
                    new_left = new_left.saturating_sub(1);
                    continue;
                }
                Some(b'-') => {
                    old_left = old_left.saturating_sub(1);
                    continue;
                }
                // Some tools drop the space of an empty context line.
                Some(b' ') | None => {
                    new_line = new_line.saturating_add(1);
                    old_left = old_left.saturating_sub(1);
                    new_left = new_left.saturating_sub(1);
                    continue;
                }
                Some(b'\\') => continue, // "\ No newline at end of file"
                // The hunk was shorter than its header said: treat the line as a header.
                Some(_) => (old_left, new_left) = (0, 0),
            }
        }
        if let Some(path) = line.strip_prefix("+++ ") {
            file = new_file_path(path);
        } else if line.starts_with("+++") {
            // Not a header this parser understands; never an added line.
        } else if let Some(hunk) = parse_hunk_header(line) {
            (old_left, new_left, new_line) = hunk;
        } else if let Some(added) = line.strip_prefix('+') {
            // An added line outside a hunk: the diff's counts are off. Be lenient.
            findings.check_line(file, new_line, added);
            new_line = new_line.saturating_add(1);
        }
    }
}

/// The path of a `+++` header: `b/src/x.rs` → `src/x.rs`; `/dev/null` (a deleted file) → "".
fn new_file_path(header: &str) -> &str {
    let path = header.split('\t').next().unwrap_or(header).trim_end();
    if path == "/dev/null" {
        ""
    } else {
        path.strip_prefix("b/").unwrap_or(path)
    }
}

/// `@@ -a,b +c,d @@ ...` → (b, d, c). A missing count means 1.
fn parse_hunk_header(line: &str) -> Option<(u32, u32, i32)> {
    let rest = line.strip_prefix("@@ -")?;
    let (old, rest) = rest.split_once(" +")?;
    let (new, _) = rest.split_once(" @@")?;
    let range = |range: &str| -> Option<(i32, u32)> {
        match range.split_once(',') {
            Some((start, count)) => Some((start.parse().ok()?, count.parse().ok()?)),
            None => Some((range.parse().ok()?, 1)),
        }
    };
    let (_, old_count) = range(old)?;
    let (new_start, new_count) = range(new)?;
    Some((old_count, new_count, new_start))
}

/// The first bytes of the patterns `LineHits::scan` looks for.
const PATTERN_START: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    let starts = b"TF.pase";
    while i < starts.len() {
        table[starts[i] as usize] = true;
        i += 1;
    }
    table
};

/// The rules one added line triggers.
#[derive(Default)]
struct LineHits {
    todo: bool,
    unwrap: bool,
    credential: bool,
    eval: bool,
}

impl LineHits {
    /// One scan of the line's bytes. Fuel counts every wasm instruction, so the common case (a
    /// byte that starts no pattern) is a single table lookup; the patterns are compared only
    /// where their first two bytes occur. (A `str::contains` per pattern, each setting up a
    /// substring searcher, costs several times more.)
    fn scan(text: &str) -> LineHits {
        let bytes = text.as_bytes();
        let mut hits = LineHits::default();
        for at in 0..bytes.len() {
            if !PATTERN_START[usize::from(bytes[at])] {
                continue;
            }
            let rest = &bytes[at..];
            match rest {
                [b'T', b'O', ..] => hits.todo |= rest.starts_with(b"TODO"),
                [b'F', b'I', ..] => hits.todo |= rest.starts_with(b"FIXME"),
                [b'.', b'u', ..] => hits.unwrap |= rest.starts_with(b".unwrap()"),
                [b'p', b'a', ..] | [b'a', b'p', ..] | [b's', b'e', ..] => {
                    hits.credential |= CREDENTIAL_PATTERNS
                        .iter()
                        .any(|p| rest.starts_with(p.as_bytes()))
                }
                // `eval(` but not the end of a longer name such as `retrieval(`.
                [b'e', b'v', ..] => {
                    hits.eval |= rest.starts_with(b"eval(")
                        && !matches!(at.checked_sub(1).and_then(|i| bytes.get(i)), Some(b) if b.is_ascii_alphanumeric() || *b == b'_')
                }
                _ => {}
            }
        }
        hits
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

#[cfg(test)]
mod tests {
    use super::*;

    const DIFF: &str = "diff --git a/src/db.rs b/src/db.rs
index 1111111..2222222 100644
--- a/src/db.rs
+++ b/src/db.rs
@@ -10,3 +10,4 @@ fn connect() {
     let url = env();
-    let c = open(url);
+    let c = open(url).unwrap(); // TODO retry
+    let password = \"hunter2\";
     c
@@ -40 +42 @@
-old
+let x = eval(input);
diff --git a/web/app.js b/web/app.js
--- a/web/app.js
+++ b/web/app.js
@@ -1,0 +1,2 @@
+retrieval(x); // FIXME
+++counter; // TODO: inside a hunk, \"+++\" starts an added line
";

    fn scan(diff: &str) -> Findings {
        let mut findings = Findings::default();
        scan_diff(diff, &mut findings);
        findings
    }

    #[test]
    fn finds_rules_with_files_and_lines() {
        let findings = scan(DIFF);
        let comments: Vec<_> = findings
            .comments
            .iter()
            .map(|c| (c.file_path.as_str(), c.line, c.severity))
            .collect();
        assert_eq!(
            comments,
            [
                ("src/db.rs", 11, Severity::Info),
                ("src/db.rs", 11, Severity::Warning),
                ("web/app.js", 1, Severity::Info),
                ("web/app.js", 2, Severity::Info),
            ]
        );
        let security: Vec<_> = findings
            .security
            .iter()
            .map(|f| {
                (
                    f.rule_id.as_str(),
                    f.cwe_id.as_str(),
                    f.file_path.as_str(),
                    f.line,
                    f.severity,
                )
            })
            .collect();
        assert_eq!(
            security,
            [
                (
                    "hardcoded-credential",
                    "CWE-798",
                    "src/db.rs",
                    12,
                    Severity::Critical
                ),
                ("dynamic-eval", "CWE-95", "src/db.rs", 42, Severity::Error),
            ]
        );
    }

    #[test]
    fn scores_and_gates() {
        // 3 info, 1 warning, 1 error, 1 critical: 100 - 6 - 5 - 20 - 40.
        let gate = scan(DIFF).into_gate_result(DEFAULT_THRESHOLD);
        assert_eq!(gate.score, 29);
        assert!(!gate.passed);

        let gate =
            scan("+++ b/a.rs\n@@ -1 +1 @@\n+x.unwrap();\n").into_gate_result(DEFAULT_THRESHOLD);
        assert_eq!((gate.score, gate.passed), (95, true));

        // A critical finding fails the gate whatever the score.
        let gate = scan("+++ b/a.rs\n@@ -1 +1 @@\n+api_key = \"k\"\n").into_gate_result(0);
        assert_eq!((gate.score, gate.passed), (60, false));

        let many = "+ TODO\n".repeat(100);
        assert_eq!(scan(&many).into_gate_result(0).score, 0);
    }

    #[test]
    fn parses_hunk_headers() {
        assert_eq!(parse_hunk_header("@@ -1,3 +4,5 @@ fn x()"), Some((3, 5, 4)));
        assert_eq!(parse_hunk_header("@@ -7 +9 @@"), Some((1, 1, 9)));
        assert_eq!(parse_hunk_header("@@ nonsense @@"), None);
        assert_eq!(new_file_path("b/src/x.rs\t2024-01-01"), "src/x.rs");
        assert_eq!(new_file_path("/dev/null"), "");
    }

    #[test]
    fn scans_a_large_diff() {
        let mut diff = String::from("+++ b/big.rs\n@@ -1,0 +1,40000 @@\n");
        while diff.len() < 1 << 20 {
            diff.push_str("+    let value = compute(input, other_argument);\n");
        }
        diff.push_str("+let token = secret = \"x\";\n");
        let findings = scan(&diff);
        assert_eq!(findings.security.len(), 1);
        assert!(findings.comments.is_empty());
    }
}
