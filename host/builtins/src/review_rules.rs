//! Review `rules`: a deterministic gate over a unified diff, no model involved.
//!
//! ```yaml
//! review:
//!   backend: rules
//!   config:
//!     max_diff_lines: 1000            # added + removed lines; 0 = no limit; default 1000
//!     blocked_paths: ["**/*.pem", ".github/workflows/*"]   # globs (crate::glob)
//!     forbidden_content: ["BEGIN RSA PRIVATE KEY"]         # substrings of added lines
//!     min_score: 0                    # 0..=100; default 0
//! ```
//!
//! Gates, each of which fails the review:
//!
//! - more changed lines than `max_diff_lines`: a [`ReviewComment`] of severity
//!   [`Severity::Warning`] (the proto has no MEDIUM; WARNING is its middle level);
//! - a changed file (old or new path) matching a `blocked_paths` glob: a [`SecurityFinding`]
//!   `blocked-path` of severity [`Severity::Error`] (HIGH);
//! - an added line containing a `forbidden_content` substring: a [`SecurityFinding`]
//!   `forbidden-content` of severity [`Severity::Critical`], with the line number in the new
//!   file.
//!
//! The score is 100 minus [`POINTS_PER_PROBLEM`] per comment or finding, at least 0; the
//! change passes when nothing was found and the score is at least `min_score`. Verdicts are
//! kept in memory (the latest [`MAX_KEPT_RESULTS`]) for `GetGateResult`.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use robodev_core::review::{
    Backend, GateResult, GetGateResultRequest, GetGateResultResponse, ReviewComment,
    ReviewDiffRequest, ReviewDiffResponse, SecurityFinding, Severity,
};
use robodev_core::{Error, ErrorCode, Interface, PluginInfo};
use serde::Deserialize;
use serde_json::Value;

use super::{BuiltinConfigError, Schema, plugin_error};

/// The built-in's name.
pub const NAME: &str = "rules";

/// The default of `max_diff_lines`.
pub const DEFAULT_MAX_DIFF_LINES: u32 = 1000;

/// The default of `min_score`.
pub const DEFAULT_MIN_SCORE: i32 = 0;

/// The highest score, of a change with no comment and no finding.
pub const MAX_SCORE: i32 = 100;

/// What each comment or finding takes off the score.
pub const POINTS_PER_PROBLEM: i32 = 20;

/// How many verdicts are kept for `GetGateResult`; the oldest are forgotten first, so a
/// long-running robodev does not grow without bound.
pub const MAX_KEPT_RESULTS: usize = 1000;

/// Rule id of a change to a blocked path.
pub const RULE_BLOCKED_PATH: &str = "blocked-path";

/// Rule id of an added line with forbidden content.
pub const RULE_FORBIDDEN_CONTENT: &str = "forbidden-content";

const INTERFACE: Interface = Interface::Review;

const SCHEMA: Schema = Schema {
    name: NAME,
    known: &[
        "max_diff_lines",
        "blocked_paths",
        "forbidden_content",
        "min_score",
    ],
    required: &[],
};

/// The options of review `rules`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// The most added + removed lines a change may have; 0 = no limit.
    pub max_diff_lines: u32,
    /// Globs of paths a change must not touch.
    pub blocked_paths: Vec<String>,
    /// Substrings an added line must not contain.
    pub forbidden_content: Vec<String>,
    /// The lowest passing score, 0 to 100.
    pub min_score: i32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_diff_lines: DEFAULT_MAX_DIFF_LINES,
            blocked_paths: Vec::new(),
            forbidden_content: Vec::new(),
            min_score: DEFAULT_MIN_SCORE,
        }
    }
}

impl Options {
    /// Parses and checks the options from a `config:` map.
    pub fn from_config(config: &Value) -> Result<Options, BuiltinConfigError> {
        let options: Options = super::parse_options(&SCHEMA, config)?;
        if !(0..=MAX_SCORE).contains(&options.min_score) {
            return Err(BuiltinConfigError::new(
                "min_score",
                format!(
                    "must be between 0 and {MAX_SCORE} (got {})",
                    options.min_score
                ),
            ));
        }
        if let Some(i) = options.blocked_paths.iter().position(String::is_empty) {
            return Err(BuiltinConfigError::new(
                format!("blocked_paths[{i}]"),
                "must not be empty",
            ));
        }
        if let Some(i) = options.forbidden_content.iter().position(String::is_empty) {
            return Err(BuiltinConfigError::new(
                format!("forbidden_content[{i}]"),
                "must not be empty (it would match every line)",
            ));
        }
        Ok(options)
    }
}

/// One file of a unified diff.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileDiff {
    /// Path before the change; `None` for a new file.
    pub old_path: Option<String>,
    /// Path after the change; `None` for a deleted file.
    pub new_path: Option<String>,
    /// Added lines: line number in the new file, and text without the leading `+`.
    pub added: Vec<(u32, String)>,
    /// How many lines were removed.
    pub removed: usize,
}

impl FileDiff {
    /// The path to report: the new one, or the old one of a deleted file.
    pub fn path(&self) -> &str {
        self.new_path
            .as_deref()
            .or(self.old_path.as_deref())
            .unwrap_or("")
    }

    /// Both paths, the new first, without repeats.
    fn paths(&self) -> impl Iterator<Item = &str> {
        let new = self.new_path.as_deref();
        let old = self.old_path.as_deref().filter(|o| Some(*o) != new);
        new.into_iter().chain(old)
    }
}

/// Lines still expected in the current hunk, and the next new-file line number.
#[derive(Debug, Clone, Copy)]
struct Hunk {
    old_left: u32,
    new_left: u32,
    new_line: u32,
}

/// Parses a unified diff (git's or plain `diff -u`'s) into its files.
///
/// File boundaries come from `diff --git` lines and `---`/`+++` headers; inside a hunk the
/// line counts of its `@@` header decide where it ends, so a removed line that starts with
/// `-- ` is not mistaken for a header.
pub fn parse_diff(diff: &str) -> Vec<FileDiff> {
    let mut files: Vec<FileDiff> = Vec::new();
    // Whether the last file came from a `diff --git` line and has not had its `---` yet.
    let mut git_header_open = false;
    let mut hunk: Option<Hunk> = None;
    for line in diff.lines() {
        if let Some(h) = hunk.as_mut().filter(|h| h.old_left > 0 || h.new_left > 0) {
            let (first, rest) = line.split_at(line.len().min(1));
            let counted = match first {
                "+" => {
                    if let Some(f) = files.last_mut() {
                        f.added.push((h.new_line, rest.to_owned()));
                    }
                    h.new_left = h.new_left.saturating_sub(1);
                    h.new_line += 1;
                    true
                }
                "-" => {
                    if let Some(f) = files.last_mut() {
                        f.removed += 1;
                    }
                    h.old_left = h.old_left.saturating_sub(1);
                    true
                }
                // Some tools strip the space of an empty context line.
                " " | "" => {
                    h.old_left = h.old_left.saturating_sub(1);
                    h.new_left = h.new_left.saturating_sub(1);
                    h.new_line += 1;
                    true
                }
                // "\ No newline at end of file".
                "\\" => true,
                _ => false,
            };
            if counted {
                continue;
            }
            // A line the hunk cannot hold: the diff was cut short; read it as a header.
            hunk = None;
        }
        if let Some(rest) = line.strip_prefix("diff --git ") {
            let (old, new) = split_git_paths(rest);
            files.push(FileDiff {
                old_path: Some(old),
                new_path: Some(new),
                ..FileDiff::default()
            });
            git_header_open = true;
            hunk = None;
        } else if let Some(rest) = line.strip_prefix("--- ") {
            let path = header_path(rest, "a/");
            if git_header_open {
                if let Some(f) = files.last_mut() {
                    f.old_path = path;
                }
            } else {
                files.push(FileDiff {
                    old_path: path,
                    ..FileDiff::default()
                });
            }
            git_header_open = false;
            hunk = None;
        } else if let Some(rest) = line.strip_prefix("+++ ") {
            let path = header_path(rest, "b/");
            match files.last_mut() {
                Some(f) => f.new_path = path,
                None => files.push(FileDiff {
                    new_path: path,
                    ..FileDiff::default()
                }),
            }
            git_header_open = false;
        } else if let Some(rest) = line.strip_prefix("rename from ") {
            if let Some(f) = files.last_mut() {
                f.old_path = Some(unquote(rest));
            }
        } else if let Some(rest) = line.strip_prefix("rename to ") {
            if let Some(f) = files.last_mut() {
                f.new_path = Some(unquote(rest));
            }
        } else if line.starts_with("@@ ") {
            hunk = parse_hunk_header(line);
            git_header_open = false;
        }
    }
    files
}

/// The paths of `diff --git a/X b/Y` (best effort for paths with spaces: `a/X b/X` splits in
/// the middle, else at the last ` b/`).
fn split_git_paths(rest: &str) -> (String, String) {
    let strip = |s: &str, prefix: &str| {
        let s = unquote(s);
        s.strip_prefix(prefix).map(str::to_owned).unwrap_or(s)
    };
    let half = rest.len() / 2;
    if rest.len() % 2 == 1 && rest.is_char_boundary(half) {
        let (a, b) = (&rest[..half], &rest[half + 1..]);
        if rest.as_bytes()[half] == b' ' && a.get(2..) == b.get(2..) {
            return (strip(a, "a/"), strip(b, "b/"));
        }
    }
    match rest.rfind(" b/") {
        Some(i) => (strip(&rest[..i], "a/"), strip(&rest[i + 1..], "b/")),
        None => (strip(rest, "a/"), strip(rest, "b/")),
    }
}

/// The path of a `---`/`+++` header: `None` for `/dev/null`, without the timestamp plain
/// `diff -u` appends after a tab, and without git's `a/`/`b/` prefix.
fn header_path(rest: &str, prefix: &str) -> Option<String> {
    let raw = rest.split('\t').next().unwrap_or(rest).trim_end();
    let path = unquote(raw);
    if path == "/dev/null" {
        return None;
    }
    Some(path.strip_prefix(prefix).map(str::to_owned).unwrap_or(path))
}

/// Removes the double quotes git puts around unusual paths (escapes are left as they are).
fn unquote(s: &str) -> String {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
        .to_owned()
}

/// `@@ -l[,s] +l[,s] @@ ...`; a missing count is 1.
fn parse_hunk_header(line: &str) -> Option<Hunk> {
    let mut parts = line.split_whitespace().skip(1);
    let range = |s: &str| -> Option<(u32, u32)> {
        let (start, count) = match s.split_once(',') {
            Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
            None => (s.parse().ok()?, 1),
        };
        Some((start, count))
    };
    let (_, old_count) = range(parts.next()?.strip_prefix('-')?)?;
    let (new_start, new_count) = range(parts.next()?.strip_prefix('+')?)?;
    Some(Hunk {
        old_left: old_count,
        new_left: new_count,
        new_line: new_start,
    })
}

/// Applies the rules of `options` to `diff`.
pub fn review(options: &Options, diff: &str) -> GateResult {
    let files = parse_diff(diff);
    let changed: usize = files.iter().map(|f| f.added.len() + f.removed).sum();
    let mut comments = Vec::new();
    let mut findings = Vec::new();
    let mut reasons = Vec::new();

    let limit = options.max_diff_lines as usize;
    if limit > 0 && changed > limit {
        comments.push(ReviewComment {
            file_path: String::new(),
            line: 0,
            severity: Severity::Warning,
            message: format!(
                "the change has {changed} changed lines, more than the limit of {limit}"
            ),
            suggestion: "split the change into smaller ones".to_owned(),
        });
        reasons.push(format!(
            "too large ({changed} changed lines, limit {limit})"
        ));
    }

    let mut blocked = Vec::new();
    for f in &files {
        let hit = f.paths().find_map(|path| {
            options
                .blocked_paths
                .iter()
                .find(|p| crate::glob::matches(p, path))
                .map(|p| (path, p))
        });
        if let Some((path, pattern)) = hit {
            findings.push(SecurityFinding {
                rule_id: RULE_BLOCKED_PATH.to_owned(),
                severity: Severity::Error,
                file_path: path.to_owned(),
                line: 0,
                description: format!("changes {path}, which matches the blocked path {pattern}"),
                cwe_id: String::new(),
            });
            blocked.push(path.to_owned());
        }
    }
    if !blocked.is_empty() {
        reasons.push(format!("blocked paths changed: {}", blocked.join(", ")));
    }

    let mut forbidden = 0;
    for f in &files {
        for (line, text) in &f.added {
            for needle in &options.forbidden_content {
                if text.contains(needle.as_str()) {
                    findings.push(SecurityFinding {
                        rule_id: RULE_FORBIDDEN_CONTENT.to_owned(),
                        severity: Severity::Critical,
                        file_path: f.path().to_owned(),
                        line: i32::try_from(*line).unwrap_or(i32::MAX),
                        description: format!("an added line contains forbidden content {needle:?}"),
                        cwe_id: String::new(),
                    });
                    forbidden += 1;
                }
            }
        }
    }
    if forbidden > 0 {
        reasons.push(format!(
            "forbidden content in {forbidden} added line{}",
            if forbidden == 1 { "" } else { "s" }
        ));
    }

    let problems = i32::try_from(comments.len() + findings.len()).unwrap_or(i32::MAX);
    let score = MAX_SCORE
        .saturating_sub(problems.saturating_mul(POINTS_PER_PROBLEM))
        .max(0);
    if score < options.min_score {
        reasons.push(format!(
            "score {score} is below the minimum {}",
            options.min_score
        ));
    }
    let passed = reasons.is_empty();
    let summary = if passed {
        format!(
            "passed: {} file{}, {changed} changed lines, score {score}",
            files.len(),
            if files.len() == 1 { "" } else { "s" }
        )
    } else {
        format!("failed (score {score}): {}", reasons.join("; "))
    };
    GateResult {
        passed,
        summary,
        comments,
        security_findings: findings,
        score,
    }
}

/// The verdicts kept for `GetGateResult`, oldest first.
#[derive(Debug, Default)]
struct Kept {
    results: HashMap<String, GateResult>,
    order: VecDeque<String>,
}

/// Review `rules`.
#[derive(Debug)]
pub struct RulesReview {
    options: Options,
    kept: Mutex<Kept>,
    /// Makes generated review ids unique within the process.
    next_id: AtomicU64,
}

impl RulesReview {
    /// A reviewer with these options.
    pub fn new(options: Options) -> Self {
        RulesReview {
            options,
            kept: Mutex::new(Kept::default()),
            next_id: AtomicU64::new(1),
        }
    }

    fn keep(&self, id: &str, result: GateResult) {
        // The map holds plain data: a panic elsewhere while it was locked cannot have left
        // it half-updated in a way that matters, so a poisoned lock is used as it is.
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.results.insert(id.to_owned(), result).is_none() {
            kept.order.push_back(id.to_owned());
        }
        while kept.order.len() > MAX_KEPT_RESULTS {
            if let Some(old) = kept.order.pop_front() {
                kept.results.remove(&old);
            }
        }
    }
}

#[async_trait]
impl Backend for RulesReview {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        Ok(super::plugin_info(NAME))
    }

    async fn review_diff(&self, request: ReviewDiffRequest) -> Result<ReviewDiffResponse, Error> {
        let review_id = if request.task_run_id.is_empty() {
            format!(
                "rules-{}-{}",
                super::unix_now(),
                self.next_id.fetch_add(1, Ordering::Relaxed)
            )
        } else {
            request.task_run_id
        };
        let result = review(&self.options, &request.diff);
        self.keep(&review_id, result.clone());
        Ok(ReviewDiffResponse {
            review_id,
            gate_result: Some(result),
        })
    }

    async fn get_gate_result(
        &self,
        request: GetGateResultRequest,
    ) -> Result<GetGateResultResponse, Error> {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        match kept.results.get(&request.review_id) {
            Some(result) => Ok(GetGateResultResponse {
                gate_result: Some(result.clone()),
            }),
            None => Err(plugin_error(
                NAME,
                INTERFACE,
                ErrorCode::NotFound,
                format!("no review {}", request.review_id),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn options() {
        assert_eq!(
            Options::from_config(&Value::Null).unwrap(),
            Options::default()
        );
        assert_eq!(Options::default().max_diff_lines, 1000);
        let o = Options::from_config(&json!({
            "max_diff_lines": 10, "blocked_paths": ["*.pem"], "forbidden_content": ["TODO"],
            "min_score": 60
        }))
        .unwrap();
        assert_eq!(o.max_diff_lines, 10);
        assert_eq!(o.min_score, 60);
        assert_eq!(
            Options::from_config(&json!({"min_score": 101})).unwrap_err(),
            BuiltinConfigError::new("min_score", "must be between 0 and 100 (got 101)")
        );
        assert_eq!(
            Options::from_config(&json!({"blocked_paths": ["a", ""]})).unwrap_err(),
            BuiltinConfigError::new("blocked_paths[1]", "must not be empty")
        );
        assert_eq!(
            Options::from_config(&json!({"forbidden_content": [""]})).unwrap_err(),
            BuiltinConfigError::new(
                "forbidden_content[0]",
                "must not be empty (it would match every line)"
            )
        );
        assert_eq!(
            Options::from_config(&json!({"blocked_path": []})).unwrap_err(),
            BuiltinConfigError::new(
                "blocked_path",
                "unknown option `blocked_path` of `rules`; did you mean `blocked_paths`?"
            )
        );
        assert_eq!(
            Options::from_config(&json!({"max_diff_lines": "many"})).unwrap_err(),
            BuiltinConfigError::new(
                "max_diff_lines",
                "invalid type: string \"many\", expected u32"
            )
        );
    }

    const DIFF: &str = "\
diff --git a/src/lib.rs b/src/lib.rs
index 1111111..2222222 100644
--- a/src/lib.rs
+++ b/src/lib.rs
@@ -1,4 +1,5 @@
 fn main() {
--- a comment line that looks like a header
+    let key = \"AKIA123\";
+    println!(\"hi\");
 }
 
diff --git a/old.txt b/old.txt
deleted file mode 100644
--- a/old.txt
+++ /dev/null
@@ -1,2 +0,0 @@
-one
-two
diff --git a/new.txt b/new.txt
new file mode 100644
--- /dev/null
+++ b/new.txt
@@ -0,0 +1 @@
+hello
\\ No newline at end of file
diff --git a/a.md b/docs/a.md
similarity index 100%
rename from a.md
rename to docs/a.md
";

    #[test]
    fn parses_files_lines_and_line_numbers() {
        let files = parse_diff(DIFF);
        let paths: Vec<_> = files
            .iter()
            .map(|f| (f.old_path.as_deref(), f.new_path.as_deref()))
            .collect();
        assert_eq!(
            paths,
            vec![
                (Some("src/lib.rs"), Some("src/lib.rs")),
                (Some("old.txt"), None),
                (None, Some("new.txt")),
                (Some("a.md"), Some("docs/a.md")),
            ]
        );
        assert_eq!(
            files[0].added,
            vec![
                (2, "    let key = \"AKIA123\";".to_owned()),
                (3, "    println!(\"hi\");".to_owned())
            ]
        );
        assert_eq!(files[0].removed, 1);
        assert_eq!(files[1].removed, 2);
        assert_eq!(files[2].added, vec![(1, "hello".to_owned())]);
        assert_eq!(files[1].path(), "old.txt");
    }

    #[test]
    fn plain_diff_u_headers() {
        let files = parse_diff(
            "--- conf.ini\t2024-01-01 00:00:00\n+++ conf.ini\t2024-01-02 00:00:00\n@@ -1 +1 @@\n-a=1\n+a=2\n",
        );
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].new_path.as_deref(), Some("conf.ini"));
        assert_eq!(files[0].added, vec![(1, "a=2".to_owned())]);
    }

    #[test]
    fn git_paths_with_spaces() {
        assert_eq!(
            split_git_paths("a/my file.txt b/my file.txt"),
            ("my file.txt".to_owned(), "my file.txt".to_owned())
        );
    }

    #[test]
    fn clean_diff_passes() {
        let r = review(&Options::default(), DIFF);
        assert_eq!(
            r,
            GateResult {
                passed: true,
                summary: "passed: 4 files, 6 changed lines, score 100".into(),
                comments: vec![],
                security_findings: vec![],
                score: 100,
            }
        );
    }

    #[test]
    fn renames_are_checked_on_both_paths() {
        let o = Options {
            blocked_paths: vec!["a.md".into()],
            ..Options::default()
        };
        let r = review(&o, DIFF);
        assert_eq!(r.security_findings.len(), 1);
        assert_eq!(r.security_findings[0].file_path, "a.md");
        assert_eq!(r.summary, "failed (score 80): blocked paths changed: a.md");
    }
}
