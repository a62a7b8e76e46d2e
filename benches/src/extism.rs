//! A peer for the side-by-side bench: the same plugin calls on Extism (crate `extism` 1.30,
//! on its own wasmtime 43), with an Extism plug-in (`benches/extism-guest`, `extism-pdk`)
//! doing the work of robodev's guests: `notify` (notify-webhook's dry path: one `log` host
//! call), `poll` (ticketing-kv's poll over 100 seeded tickets, through host kv functions) and
//! `review` (review-rules over a unified diff).
//!
//! Set-up, the fastest a user would reasonably choose: the module is compiled once into a
//! [`CompiledPlugin`] (`PluginBuilder::compile`), without WASI (the guest is
//! `wasm32-unknown-unknown` and imports none), without fuel, timeout or memory limit, and
//! with wasmtime's on-disk compilation cache off (compiled once per process anyway). A
//! [`Warm`] is one [`Plugin`] kept across calls (Extism instantiates it on the first call and
//! keeps the instance); [`ExtismPeer::notify_fresh`] makes a new [`Plugin`] from the compiled
//! one per call (`Plugin::new_from_compiled`: a new store, linker and instance), as a host
//! that wants a clean plug-in per request does.
//!
//! Host functions (`host_fn!`, namespace `extism:host/user`): `log(level, message)` drops the
//! line, like the floor's `log` in [`crate::raw`]; `kv_get(key)` and `kv_list(prefix)` read an
//! in-memory store (a `BTreeMap` in the functions' `UserData`) seeded with what ticketing-kv
//! writes when configured with `generate: 100`.
//!
//! Every call checks its answer, so that a broken path cannot look fast: notify must succeed,
//! poll must return the 100 seeded tickets, review must give the score and the numbers of
//! comments and findings that [`crate::NativeReview`] gives for the same diff.
//!
//! When timing, unset `RUST_BACKTRACE`: with it set, the error values Extism builds on its
//! call path capture a backtrace.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, anyhow, ensure};
use extism::convert::Json;
use extism::{CompiledPlugin, Manifest, PTR, Plugin, PluginBuilder, UserData, Wasm, host_fn};
use serde::{Deserialize, Serialize};

use crate::raw;

/// The crate name of the plug-in in `benches/extism-guest`.
const GUEST: &str = "robodev_extism_guest";

/// The number of tickets the store is seeded with, as the benches configure ticketing-kv.
pub const TICKETS: usize = 100;

/// The task run id the review requests carry (the plug-in reads it from its config).
const TASK_RUN_ID: &str = "bench";

/// The plug-in `benches/extism-guest`, built (once per process: cargo makes it a no-op when up
/// to date) with `scripts/build-extism-guest`. Panics if it cannot be built.
pub fn guest_path() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap_or_else(|| panic!("robodev-benches lives inside the robodev repository"));
        let script = root.join("scripts/build-extism-guest");
        let status = std::process::Command::new("bash")
            .arg(&script)
            .arg("--quiet")
            .status()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(status.success(), "{} failed: {status}", script.display());
        let path = root.join(format!(
            "benches/extism-guest/target/wasm32-unknown-unknown/release/{GUEST}.wasm"
        ));
        assert!(path.exists(), "{} was not built", path.display());
        path
    })
    .clone()
}

/// The host's key-value store: key → value.
type Kv = BTreeMap<String, Vec<u8>>;

/// A ticket as ticketing-kv stores it under `ticket/<id>`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StoredTicket {
    id: String,
    title: String,
    description: String,
    ticket_type: String,
    labels: Vec<String>,
    repo_url: String,
    external_url: String,
}

/// The store ticketing-kv leaves after seeding itself with `generate: n`: `ticket/<id>` (the
/// ticket as JSON) and `state/<id>` = `ready` for `T-0001`..., then `seeded`.
fn seeded_kv(n: usize) -> anyhow::Result<Kv> {
    let mut kv = Kv::new();
    for i in 1..=n {
        let id = format!("T-{i:04}");
        let ticket = StoredTicket {
            title: format!("Synthetic ticket {i}"),
            description: format!("Generated ticket number {i} for benchmarks."),
            ticket_type: "bug_fix".into(),
            labels: vec!["robodev".into()],
            repo_url: "https://example.invalid/acme/app".into(),
            external_url: format!("https://example.invalid/tickets/{id}"),
            id: id.clone(),
        };
        kv.insert(format!("ticket/{id}"), serde_json::to_vec(&ticket)?);
        kv.insert(format!("state/{id}"), b"ready".to_vec());
    }
    kv.insert("seeded".into(), b"true".to_vec());
    Ok(kv)
}

// The host functions the plug-in imports.

host_fn!(log(level: i32, message: &str) {
    std::hint::black_box((level, message));
    Ok(())
});

host_fn!(kv_get(store: Kv; key: &str) -> Vec<u8> {
    let store = store.get()?;
    let store = store.lock().map_err(|_| anyhow!("kv lock poisoned"))?;
    // An absent key answers empty: the guest reads it as `None`.
    Ok(store.get(key).cloned().unwrap_or_default())
});

host_fn!(kv_list(store: Kv; prefix: &str) -> Json<Vec<String>> {
    let store = store.get()?;
    let store = store.lock().map_err(|_| anyhow!("kv lock poisoned"))?;
    let keys: Vec<String> = store
        .range(prefix.to_owned()..)
        .take_while(|(key, _)| key.starts_with(prefix))
        .map(|(key, _)| key.clone())
        .collect();
    Ok(Json(keys))
});

/// The Extism peer: the plug-in compiled once, with its host functions and their store.
pub struct ExtismPeer {
    compiled: CompiledPlugin,
}

/// A ticket as the plug-in's requests carry it (robodev's ticket fields).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Ticket<'a> {
    id: &'a str,
    title: &'a str,
    description: &'a str,
    ticket_type: &'a str,
    labels: Vec<&'a str>,
    repo_url: &'a str,
    external_url: &'a str,
    raw: Option<&'a str>,
}

#[derive(Serialize)]
struct NotifyRequest<'a> {
    message: &'a str,
    ticket: Option<Ticket<'a>>,
}

#[derive(Serialize)]
struct PollRequest<'a> {
    labels: [&'a str; 1],
    max: i32,
}

/// A ticket of `poll`'s answer.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolledTicket {
    id: String,
    #[allow(dead_code)] // Decoded as a host would; only some fields are checked.
    title: String,
    #[allow(dead_code)]
    description: String,
    #[allow(dead_code)]
    ticket_type: String,
    labels: Vec<String>,
    #[allow(dead_code)]
    repo_url: String,
    #[allow(dead_code)]
    external_url: String,
    raw: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReviewOutcome {
    review_id: String,
    gate_result: GateResult,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GateResult {
    #[allow(dead_code)]
    passed: bool,
    #[allow(dead_code)]
    summary: String,
    comments: Vec<ReviewComment>,
    security_findings: Vec<SecurityFinding>,
    score: i32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // Decoded as a host would; the counts are checked.
struct ReviewComment {
    file_path: String,
    line: i32,
    severity: String,
    message: String,
    suggestion: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct SecurityFinding {
    rule_id: String,
    severity: String,
    file_path: String,
    line: i32,
    description: String,
    cwe_id: String,
}

impl ExtismPeer {
    /// Compiles the plug-in at `guest_wasm` (see [`guest_path`]) with the host functions and
    /// a store seeded with [`TICKETS`] tickets.
    pub fn new(guest_wasm: &Path) -> anyhow::Result<Self> {
        // The module's bytes: loading it by path needs Extism's `register-filesystem`.
        let wasm = std::fs::read(guest_wasm)
            .with_context(|| format!("reading {}", guest_wasm.display()))?;
        let manifest =
            Manifest::new([Wasm::data(wasm)]).with_config_key("task_run_id", TASK_RUN_ID);
        let kv = UserData::new(seeded_kv(TICKETS)?);
        let compiled = PluginBuilder::new(manifest)
            .with_wasi(false)
            .with_cache_disabled()
            .with_function("log", [PTR, PTR], [], UserData::default(), log)
            .with_function("kv_get", [PTR], [PTR], kv.clone(), kv_get)
            .with_function("kv_list", [PTR], [PTR], kv, kv_list)
            .compile()
            .with_context(|| format!("compiling {}", guest_wasm.display()))?;
        Ok(ExtismPeer { compiled })
    }

    /// A plug-in instance to keep across calls.
    pub fn warm(&self) -> anyhow::Result<Warm> {
        Ok(Warm {
            plugin: Plugin::new_from_compiled(&self.compiled)?,
            expected_review: None,
        })
    }

    /// A fresh plug-in for one `notify` call, dropped after it.
    pub fn notify_fresh(&self) -> anyhow::Result<()> {
        notify(&mut Plugin::new_from_compiled(&self.compiled)?)
    }
}

/// One `notify` with the benches' one-ticket request, converted to JSON per call.
fn notify(plugin: &mut Plugin) -> anyhow::Result<()> {
    let ticket = raw::ticket();
    let request = NotifyRequest {
        message: raw::MESSAGE,
        ticket: Some(Ticket {
            id: &ticket.id,
            title: &ticket.title,
            description: &ticket.description,
            ticket_type: &ticket.ticket_type,
            labels: ticket.labels.iter().map(String::as_str).collect(),
            repo_url: &ticket.repo_url,
            external_url: &ticket.external_url,
            raw: ticket.raw.as_deref(),
        }),
    };
    // `call` fails on a trap or a plug-in error (a non-zero return); the answer is empty.
    let answer: &[u8] = plugin.call("notify", Json(request))?;
    ensure!(answer.is_empty(), "notify answered {} bytes", answer.len());
    Ok(())
}

/// (score, comments, security findings) of a review.
type ReviewCounts = (i32, usize, usize);

/// A plug-in instance kept across calls.
pub struct Warm {
    plugin: Plugin,
    /// What [`crate::NativeReview`] gives for the last diff reviewed: (the diff's address and
    /// length, (score, comments, security findings)).
    expected_review: Option<((usize, usize), ReviewCounts)>,
}

impl Warm {
    /// `notify` with the benches' one-ticket request (`raw::MESSAGE`, `raw::ticket()`).
    pub fn notify(&mut self) -> anyhow::Result<()> {
        notify(&mut self.plugin)
    }

    /// `poll` for the ready tickets labelled `robodev`, at most [`TICKETS`]; checks that all
    /// [`TICKETS`] come back, ready, and returns their number.
    pub fn poll(&mut self) -> anyhow::Result<usize> {
        let request = PollRequest {
            labels: ["robodev"],
            max: TICKETS as i32,
        };
        let Json(tickets): Json<Vec<PolledTicket>> = self.plugin.call("poll", Json(request))?;
        ensure!(
            tickets.len() == TICKETS,
            "poll returned {} tickets, not {TICKETS}",
            tickets.len()
        );
        let (first, last) = (&tickets[0], &tickets[TICKETS - 1]);
        ensure!(
            first.id == "T-0001" && last.id == format!("T-{TICKETS:04}"),
            "poll returned {}..{}",
            first.id,
            last.id
        );
        ensure!(
            last.labels == ["robodev"]
                && last.raw.as_deref() == Some(r#"{"comments":0,"state":"ready"}"#),
            "poll returned {} with labels {:?}, raw {:?}",
            last.id,
            last.labels,
            last.raw
        );
        Ok(tickets.len())
    }

    /// `review` over `diff`; checks the answer against [`crate::NativeReview`] (score, number
    /// of comments and of security findings; computed once per diff) and returns the score.
    pub fn review(&mut self, diff: &str) -> anyhow::Result<i32> {
        let key = (diff.as_ptr() as usize, diff.len());
        let expected = match self.expected_review {
            Some((k, expected)) if k == key => expected,
            _ => {
                let expected = native_review(diff)?;
                self.expected_review = Some((key, expected));
                expected
            }
        };
        let Json(outcome): Json<ReviewOutcome> = self.plugin.call("review", diff)?;
        let gate = outcome.gate_result;
        let got = (
            gate.score,
            gate.comments.len(),
            gate.security_findings.len(),
        );
        ensure!(
            got == expected && outcome.review_id == format!("review-{TASK_RUN_ID}"),
            "review {} answered (score, comments, findings) = {got:?}, native {expected:?}",
            outcome.review_id
        );
        Ok(gate.score)
    }
}

/// (score, comments, security findings) of [`crate::NativeReview`] for `diff`.
fn native_review(diff: &str) -> anyhow::Result<ReviewCounts> {
    use robodev_core::review::{Backend, ReviewDiffRequest};
    let request = ReviewDiffRequest {
        task_run_id: TASK_RUN_ID.into(),
        diff: diff.into(),
        ..Default::default()
    };
    let answer = tokio::runtime::Builder::new_current_thread()
        .build()?
        .block_on(crate::NativeReview.review_diff(request))?;
    let gate = answer
        .gate_result
        .ok_or_else(|| anyhow!("NativeReview gave no gate result"))?;
    Ok((
        gate.score,
        gate.comments.len(),
        gate.security_findings.len(),
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn peer() -> ExtismPeer {
        match ExtismPeer::new(&guest_path()) {
            Ok(peer) => peer,
            Err(e) => panic!("extism peer: {e:#}"),
        }
    }

    #[test]
    fn calls_answer_like_the_robodev_guests() -> anyhow::Result<()> {
        let peer = peer();
        peer.notify_fresh()?;
        let mut warm = peer.warm()?;
        warm.notify()?;
        warm.notify()?;
        assert_eq!(warm.poll()?, TICKETS);
        assert_eq!(warm.poll()?, TICKETS);

        // A diff with every rule: 3 info, 1 warning, 1 error, 1 critical (review-rules' own
        // test), then the benches' 1 MiB diff, whose score NativeReview also gives.
        let small = "+++ b/src/db.rs\n@@ -10,2 +10,3 @@\n let url = env();\n\
                     +let c = open(url).unwrap(); // TODO retry\n+let password = \"hunter2\";\n\
                     @@ -40 +42 @@\n-old\n+let x = eval(input);\n\
                     +++ b/web/app.js\n@@ -1,0 +1,2 @@\n+retrieval(x); // FIXME\n+++n; // TODO\n";
        let Json(outcome): Json<ReviewOutcome> = warm.plugin.call("review", small)?;
        let gate = outcome.gate_result;
        assert_eq!(
            (
                gate.score,
                gate.comments.len(),
                gate.security_findings.len()
            ),
            (29, 4, 2),
            "{}",
            gate.summary
        );
        let diff = crate::synthetic_diff(1 << 20);
        let score = warm.review(&diff)?;
        assert_eq!(score, native_review(&diff)?.0);
        assert_eq!(warm.review(&diff)?, score);
        Ok(())
    }

    #[test]
    fn a_wrong_answer_fails_the_call() -> anyhow::Result<()> {
        let mut warm = peer().warm()?;
        let diff = "+++ b/a.rs\n@@ -1 +1 @@\n+x.unwrap();\n";
        assert_eq!(warm.review(diff)?, 95);
        // The same diff with a wrong expectation: the call must fail.
        warm.expected_review = Some(((diff.as_ptr() as usize, diff.len()), (100, 0, 0)));
        assert!(warm.review(diff).is_err());
        Ok(())
    }

    /// Timings, for a look by hand (no assertion): in the bench profile, without
    /// `RUST_BACKTRACE`:
    /// `env -u RUST_BACKTRACE cargo test --profile bench -p robodev-benches --features extism
    /// --lib -- --ignored --nocapture`.
    #[test]
    #[ignore = "prints timings; run by hand"]
    fn timings() -> anyhow::Result<()> {
        fn time(
            name: &str,
            n: u32,
            mut f: impl FnMut() -> anyhow::Result<()>,
        ) -> anyhow::Result<()> {
            for _ in 0..n.div_ceil(10) {
                f()?;
            }
            let start = Instant::now();
            for _ in 0..n {
                f()?;
            }
            println!(
                "{name:>14}: {:>10.2?} per call ({n} calls)",
                start.elapsed() / n
            );
            Ok(())
        }
        let peer = peer();
        let mut warm = peer.warm()?;
        let diff = crate::synthetic_diff(1 << 20);
        time("notify warm", 20_000, || warm.notify())?;
        time("notify fresh", 2_000, || peer.notify_fresh())?;
        time("poll warm", 2_000, || warm.poll().map(drop))?;
        time("review warm", 50, || warm.review(&diff).map(drop))?;
        Ok(())
    }
}
