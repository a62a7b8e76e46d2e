//! The side-by-side summary: reads criterion's estimates and samples of the `peers_*` groups,
//! prints the table and the targets with their verdicts, and writes them (markdown) and one
//! plot per group (SVG: each path's samples, time per call, on a log scale) under
//! `<criterion dir>/peers/`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Where criterion writes (the same rule criterion follows): `$CRITERION_HOME`, else
/// `$CARGO_TARGET_DIR/criterion`, else `target/criterion` of the workspace.
pub fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion")
}

/// Criterion's median estimate of one benchmark, nanoseconds, with its 95% interval.
#[derive(Debug, Clone, Copy)]
pub struct Estimate {
    /// Median time per iteration.
    pub median: f64,
    /// Lower bound of the interval.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
}

fn read_json(path: &Path) -> Option<serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// The estimate of `group/id` from the last run, if it ran.
pub fn estimate(dir: &Path, group: &str, id: &str) -> Option<Estimate> {
    let v = read_json(&dir.join(group).join(id).join("new/estimates.json"))?;
    let m = &v["median"];
    Some(Estimate {
        median: m["point_estimate"].as_f64()?,
        lo: m["confidence_interval"]["lower_bound"].as_f64()?,
        hi: m["confidence_interval"]["upper_bound"].as_f64()?,
    })
}

/// Time per call of every sample of `group/id` (criterion's samples: batches of calls).
pub fn samples(dir: &Path, group: &str, id: &str) -> Vec<f64> {
    let Some(v) = read_json(&dir.join(group).join(id).join("new/sample.json")) else {
        return Vec::new();
    };
    let nums = |k: &str| -> Vec<f64> {
        v[k].as_array()
            .map(|a| a.iter().filter_map(|x| x.as_f64()).collect())
            .unwrap_or_default()
    };
    nums("iters")
        .iter()
        .zip(nums("times"))
        .filter(|(i, _)| **i > 0.0)
        .map(|(i, t)| t / i)
        .collect()
}

/// A duration in nanoseconds, in the unit that reads best.
pub fn human(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// One group of the summary: its title and its rows (benchmark id, label).
pub struct Group {
    /// criterion group name.
    pub name: &'static str,
    /// What it measures.
    pub title: &'static str,
    /// `(id, label)` per path, in table order.
    pub rows: &'static [(&'static str, &'static str)],
}

/// The groups of `benches/peers.rs`.
pub const PEER_GROUPS: &[Group] = &[
    Group {
        name: "peers_small_warm",
        title: "small call, warm instance (`notify`, one ticket)",
        rows: PATHS,
    },
    Group {
        name: "peers_small_fresh",
        title: "small call, fresh store per call",
        rows: PATHS,
    },
    Group {
        name: "peers_poll_100",
        title: "100-ticket poll, warm instance (`poll-ready-tickets`; the tickets in the host kv store)",
        rows: PATHS,
    },
    Group {
        name: "peers_review_1mib",
        title: "review of a 1 MiB diff, warm instance (`review-diff`)",
        rows: PATHS,
    },
    Group {
        name: "peers_instantiate",
        title: "instantiation alone (new store + instance, dropped)",
        rows: PATHS,
    },
];

const PATHS: &[(&str, &str)] = &[
    ("native", "native Rust (same trait, no sandbox)"),
    (
        "wasmtime_sync_no_limits",
        "wasmtime 48 `bindgen!`, sync, no fuel/epoch",
    ),
    (
        "wasmtime_sync",
        "wasmtime 48 `bindgen!`, sync, fuel + epoch",
    ),
    (
        "wasmtime_async",
        "wasmtime 48 `bindgen!`, async, fuel + epoch (robodev's engine)",
    ),
    ("robodev", "robodev Wasm plugin, called directly"),
    (
        "robodev_registry",
        "robodev Wasm plugin through the registry (metered handle)",
    ),
    ("extism", "Extism"),
];

/// A ratio measured in alternating rounds ([`Paired::measure`]): robust to a machine whose
/// speed drifts while a criterion group runs its rows one after the other.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Paired {
    /// `"<kind>: A / B"`.
    pub what: String,
    /// Median over the rounds of A's time / B's time in the same round.
    pub ratio: f64,
    /// The ratio's lower and upper quartiles over the rounds.
    pub quartiles: (f64, f64),
    /// Median ns per call of A and of B.
    pub a_ns: f64,
    /// See `a_ns`.
    pub b_ns: f64,
    /// Rounds run.
    pub rounds: usize,
}

/// The median of `values` (the mean of the middle two for an even count; NaN when empty).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

impl Paired {
    /// Runs `rounds` rounds of `round(a_first) -> (a_ns, b_ns)`, alternating which side goes
    /// first.
    pub fn measure(what: &str, rounds: usize, mut round: impl FnMut(bool) -> (f64, f64)) -> Paired {
        // One round of warm-up, not counted.
        round(true);
        let (mut a, mut b, mut r) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..rounds {
            let (x, y) = round(i % 2 == 0);
            a.push(x);
            b.push(y);
            r.push(x / y);
        }
        r.sort_by(f64::total_cmp);
        let q = |p: f64| r[((r.len() - 1) as f64 * p).round() as usize];
        Paired {
            what: what.to_owned(),
            ratio: median(&r),
            quartiles: (q(0.25), q(0.75)),
            a_ns: median(&a),
            b_ns: median(&b),
            rounds,
        }
    }

    /// One line: what, ratio, quartiles, per-call times.
    pub fn line(&self) -> String {
        format!(
            "{}: {:.2}× (quartiles {:.2}–{:.2}; {} vs {} per call; {} rounds)",
            self.what,
            self.ratio,
            self.quartiles.0,
            self.quartiles.1,
            human(self.a_ns),
            human(self.b_ns),
            self.rounds
        )
    }

    /// Saves the ratios beside criterion's results (`<dir>/peers/paired.json`).
    pub fn save(dir: &Path, all: &[Paired]) {
        let out = dir.join("peers");
        let _ = std::fs::create_dir_all(&out);
        if let Ok(text) = serde_json::to_string_pretty(all) {
            let _ = std::fs::write(out.join("paired.json"), text);
        }
    }

    /// The ratios the last run saved.
    pub fn load(dir: &Path) -> Vec<Paired> {
        std::fs::read_to_string(dir.join("peers/paired.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }
}

/// One figure of the go-plugin comparison (`benches/subprocess_calls.rs`): robodev and
/// hashicorp/go-plugin v1.7.0's Go host (`robodev-go-host`) making the same calls to the same
/// plugin, alternately, run after run.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct GoHost {
    /// The plugin set-up (`go_plugin`, `go_plugin_mtls`, `rust_plugin`).
    pub plugin: String,
    /// `small call`, `large call` or `spawn-to-ready`.
    pub what: String,
    /// robodev's median over the runs of each run's median, ns.
    pub robodev_ns: f64,
    /// The Go host's, the same way.
    pub go_host_ns: f64,
    /// Runs of each host.
    pub runs: usize,
}

impl GoHost {
    /// robodev's time over the Go host's.
    pub fn ratio(&self) -> f64 {
        self.robodev_ns / self.go_host_ns
    }

    /// Saves the figures under `<dir>/peers/go_host.json`.
    pub fn save(dir: &Path, all: &[GoHost]) {
        let out = dir.join("peers");
        let _ = std::fs::create_dir_all(&out);
        if let Ok(text) = serde_json::to_string_pretty(all) {
            let _ = std::fs::write(out.join("go_host.json"), text);
        }
    }

    /// The figures the last comparison saved.
    pub fn load(dir: &Path) -> Vec<GoHost> {
        std::fs::read_to_string(dir.join("peers/go_host.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }
}

/// A target: `value <= limit` passes.
struct Target {
    what: String,
    value: Option<f64>,
    limit: f64,
    shown: fn(f64) -> String,
}

fn ratio(v: f64) -> String {
    format!("{v:.2}×")
}

fn targets(dir: &Path) -> Vec<Target> {
    let e = |g: &str, id: &str| estimate(dir, g, id).map(|e| e.median);
    let paired = Paired::load(dir);
    let p = |what: &str| paired.iter().find(|p| p.what == what).map(|p| p.ratio);
    let div = |a: Option<f64>, b: Option<f64>| Some(a? / b?);
    let (w, f) = ("peers_small_warm", "peers_small_fresh");
    let mut targets = vec![
        Target {
            what: "warm small call ≤ 1.2× wasmtime async with the same limits".into(),
            value: p("warm: robodev / wasmtime async")
                .or(div(e(w, "robodev"), e(w, "wasmtime_async"))),
            limit: 1.2,
            shown: ratio,
        },
        Target {
            what: "warm small call ≤ 1.2× wasmtime sync with the same limits".into(),
            value: p("warm: robodev / wasmtime sync")
                .or(div(e(w, "robodev"), e(w, "wasmtime_sync"))),
            limit: 1.2,
            shown: ratio,
        },
        Target {
            what: "warm small call ≤ 1.5 µs".into(),
            value: e(w, "robodev"),
            limit: 1500.0,
            shown: human,
        },
        Target {
            what: "fresh-store small call ≤ 1.1× wasmtime async fresh store".into(),
            value: p("fresh: robodev / wasmtime async")
                .or(div(e(f, "robodev"), e(f, "wasmtime_async"))),
            limit: 1.1,
            shown: ratio,
        },
        Target {
            what: "the registry adds ≤ 10% to a warm small call".into(),
            value: p("warm: registry / robodev").or(div(e(w, "robodev_registry"), e(w, "robodev"))),
            limit: 1.1,
            shown: ratio,
        },
    ];
    let go = GoHost::load(dir);
    for (plugin, label) in [
        ("go_plugin", "Go plugin"),
        ("go_plugin_mtls", "Go plugin, AutoMTLS"),
    ] {
        for (what, shown) in [
            ("small call", "small call"),
            ("large call", "200-ticket poll"),
        ] {
            targets.push(Target {
                what: format!("go-plugin {shown} ≤ 0.8× hashicorp/go-plugin's Go host ({label})"),
                value: go
                    .iter()
                    .find(|g| g.plugin == plugin && g.what == what)
                    .map(GoHost::ratio),
                limit: 0.8,
                shown: ratio,
            });
        }
    }
    for (group, what) in [
        (w, "warm small call"),
        (f, "fresh-store small call"),
        ("peers_poll_100", "100-ticket poll"),
        ("peers_review_1mib", "1 MiB review"),
    ] {
        targets.push(Target {
            what: format!("robodev ahead of Extism, {what}"),
            value: div(e(group, "robodev"), e(group, "extism")),
            limit: 1.0,
            shown: ratio,
        });
    }
    targets
}

/// The summary as markdown: one table per group, then the targets.
pub fn summary(dir: &Path, groups: &[Group]) -> String {
    let mut out = String::new();
    for g in groups {
        let rows: Vec<_> = g
            .rows
            .iter()
            .filter_map(|(id, label)| estimate(dir, g.name, id).map(|e| (id, label, e)))
            .collect();
        if rows.is_empty() {
            continue;
        }
        let floor = rows
            .iter()
            .find(|(id, ..)| **id == "wasmtime_async")
            .map(|(.., e)| e.median);
        let _ = writeln!(out, "\n**{}** (`{}`)\n", g.title, g.name);
        let _ = writeln!(
            out,
            "| path | median | 95% interval | × wasmtime async |\n|---|---|---|---|"
        );
        for (id, label, e) in rows {
            let x = floor.map_or("".into(), |f| format!("{:.2}×", e.median / f));
            let _ = writeln!(
                out,
                "| {label} (`{id}`) | **{}** | {} – {} | {x} |",
                human(e.median),
                human(e.lo),
                human(e.hi)
            );
        }
    }
    let paired = Paired::load(dir);
    if !paired.is_empty() {
        let _ = writeln!(
            out,
            "\n**Ratios measured in alternating rounds** (rounds of a batch of calls on one \
             path, then on the other, order alternating; the median of the rounds' ratios, with \
             quartiles). The targets below use these.\n\n\
             | ratio | median | quartiles | per call (medians) | rounds |\n|---|---|---|---|---|"
        );
        for p in &paired {
            let _ = writeln!(
                out,
                "| {} | **{:.2}×** | {:.2}–{:.2} | {} vs {} | {} |",
                p.what,
                p.ratio,
                p.quartiles.0,
                p.quartiles.1,
                human(p.a_ns),
                human(p.b_ns),
                p.rounds
            );
        }
    }
    let go = GoHost::load(dir);
    if let Some(first) = go.first() {
        let _ = writeln!(
            out,
            "\n**go-plugin subprocess calls: robodev and hashicorp/go-plugin v1.7.0's own Go host** \
             (`robodev-go-host`) on the same plugin, {} alternating runs each (a run: one launch, \
             500 small calls, 500 200-ticket polls, each timed; the median over runs of each \
             run's median; `benches/subprocess_calls.rs`; robodev confines the plugin in its \
             sandbox, the Go host does not).\n\n\
             | plugin | call | robodev | Go host | robodev / Go host |\n|---|---|---|---|---|",
            first.runs
        );
        for g in &go {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | **{:.2}×** |",
                g.plugin,
                g.what,
                human(g.robodev_ns),
                human(g.go_host_ns),
                g.ratio()
            );
        }
    }
    let _ = writeln!(out, "\n| target | measured | verdict |\n|---|---|---|");
    for t in targets(dir) {
        let (measured, verdict) = match t.value {
            None => ("not measured".to_owned(), "—".to_owned()),
            Some(v) if v <= t.limit => ((t.shown)(v), "met".to_owned()),
            Some(v) => (
                (t.shown)(v),
                format!("**missed** by {:.0}%", (v / t.limit - 1.0) * 100.0),
            ),
        };
        let _ = writeln!(out, "| {} | {measured} | {verdict} |", t.what);
    }
    out
}

/// An SVG of every path's samples in `group`: one row per path, one dot per sample (time per
/// call, log scale), the median marked.
pub fn plot(dir: &Path, group: &Group) -> Option<String> {
    let rows: Vec<(&str, Vec<f64>, f64)> = group
        .rows
        .iter()
        .filter_map(|(id, _)| {
            let e = estimate(dir, group.name, id)?;
            Some((*id, samples(dir, group.name, id), e.median))
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    let all = rows
        .iter()
        .flat_map(|(_, s, m)| s.iter().copied().chain([*m]));
    let (min, max) = all.fold((f64::MAX, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lmin, lmax) = ((min * 0.8).log10().floor(), (max * 1.25).log10().ceil());
    let (left, width, row_h, top) = (230.0, 560.0, 34.0, 40.0);
    let height = top + row_h * rows.len() as f64 + 40.0;
    let x = |v: f64| left + (v.log10() - lmin) / (lmax - lmin) * width;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height}" font-family="sans-serif" font-size="12">"#,
        w = left + width + 30.0
    );
    let _ = writeln!(
        svg,
        r#"<rect width="100%" height="100%" fill="white"/><text x="10" y="20" font-size="14">{}: time per call (log scale; dots: criterion samples, bar: median)</text>"#,
        group.title.replace('`', "")
    );
    // Decade grid lines with labels, and 2× / 5× ticks.
    let mut decade = lmin;
    while decade <= lmax {
        for m in [1.0, 2.0, 5.0] {
            let v = 10f64.powf(decade) * m;
            if v.log10() > lmax {
                break;
            }
            let xv = x(v);
            let stroke = if m == 1.0 { "#bbb" } else { "#eee" };
            let _ = writeln!(
                svg,
                r##"<line x1="{xv:.1}" y1="{top}" x2="{xv:.1}" y2="{y2}" stroke="{stroke}"/><text x="{xv:.1}" y="{ty}" text-anchor="middle" fill="#555">{}</text>"##,
                human(v),
                y2 = height - 30.0,
                ty = height - 14.0,
            );
        }
        decade += 1.0;
    }
    for (i, (id, samples, median)) in rows.iter().enumerate() {
        let y = top + row_h * (i as f64 + 0.5);
        let _ = writeln!(
            svg,
            r#"<text x="{tx}" y="{ty:.1}" text-anchor="end">{id} {}</text>"#,
            human(*median),
            tx = left - 8.0,
            ty = y + 4.0
        );
        for (j, s) in samples.iter().enumerate() {
            // A little vertical jitter (deterministic) so that dense samples stay visible.
            let jitter = ((j * 7919) % 17) as f64 - 8.0;
            let _ = writeln!(
                svg,
                r##"<circle cx="{:.1}" cy="{:.1}" r="2" fill="#3a6ea5" fill-opacity="0.35"/>"##,
                x(*s),
                y + jitter
            );
        }
        let xm = x(*median);
        let _ = writeln!(
            svg,
            r##"<line x1="{xm:.1}" y1="{:.1}" x2="{xm:.1}" y2="{:.1}" stroke="#c0392b" stroke-width="2.5"/>"##,
            y - 12.0,
            y + 12.0
        );
    }
    svg.push_str("</svg>\n");
    Some(svg)
}

/// Prints the side-by-side summary and writes it, with one plot per group, under
/// `<dir>/peers/`.
pub fn peers(dir: &Path) {
    let text = summary(dir, PEER_GROUPS);
    println!("\nSide by side (criterion medians):\n{text}");
    let out = dir.join("peers");
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("cannot create {}: {e}", out.display());
        return;
    }
    let mut written = vec![out.join("summary.md")];
    let _ = std::fs::write(&written[0], &text);
    for g in PEER_GROUPS {
        if let Some(svg) = plot(dir, g) {
            let path = out.join(format!("{}.svg", g.name));
            if std::fs::write(&path, svg).is_ok() {
                written.push(path);
            }
        }
    }
    for p in written {
        println!("wrote {}", p.display());
    }
}

/// The machine, for the record: CPU model and count, memory, kernel, rustc.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim())
        .to_owned();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let kb: f64 = m
                .lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()?;
            Some(kb / 1024.0 / 1024.0)
        })
        .unwrap_or(0.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let rustc = std::process::Command::new(std::env::var("RUSTC").unwrap_or("rustc".into()))
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!(
        "{cpus} vCPU {model}, {mem_gib:.0} GiB, Linux {}, {rustc}",
        kernel.trim()
    )
}

/// Where the side-by-side section of BENCHMARKS.md begins and ends.
pub const SECTION_START: &str = "<!-- peers: written by scripts/bench-peers -->";
/// See [`SECTION_START`].
pub const SECTION_END: &str = "<!-- /peers -->";

/// The date and time now, UTC (`2026-12-06 14:38 UTC`), for a section's "Run of" line.
pub fn now_utc() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Replaces what lies between the markers `start` (kept, followed by `section`) and `end` in
/// the markdown file `md`.
pub fn replace_section(md: &Path, start: &str, end: &str, section: &str) -> Result<(), String> {
    let text =
        std::fs::read_to_string(md).map_err(|e| format!("cannot read {}: {e}", md.display()))?;
    let (Some(from), Some(to)) = (text.find(start), text.find(end)) else {
        return Err(format!(
            "{} has no {start} ... {end} section to replace",
            md.display()
        ));
    };
    let updated = format!("{}{start}{section}{}", &text[..from], &text[to..]);
    std::fs::write(md, updated).map_err(|e| format!("cannot write {}: {e}", md.display()))
}

/// Writes the side-by-side section into `benchmarks_md` (between [`SECTION_START`] and
/// [`SECTION_END`], replacing what was there) with the date, the machine and the command, and
/// copies the plots into `plots_dir` (linked from the section by `plots_link`, relative to the
/// markdown file).
pub fn write_section(
    dir: &Path,
    benchmarks_md: &Path,
    plots_dir: &Path,
    plots_link: &str,
    command: &str,
) -> Result<(), String> {
    std::fs::create_dir_all(plots_dir)
        .map_err(|e| format!("cannot create {}: {e}", plots_dir.display()))?;
    let mut plots = String::new();
    for g in PEER_GROUPS {
        if let Some(svg) = plot(dir, g) {
            let file = format!("{}.svg", g.name);
            std::fs::write(plots_dir.join(&file), svg)
                .map_err(|e| format!("cannot write {}: {e}", plots_dir.join(&file).display()))?;
            let _ = writeln!(plots, "- [{}]({plots_link}/{file})", g.title);
        }
    }
    let section = format!(
        "\n\nRun of {} on {}, with\n\n```sh\n{command}\n```\n\n\
         criterion's median per call with its 95% interval; the rows of a table ran in one \
         process, one after the other (so the last column drifts with the machine).\n{}\nPlots (each path's samples, time per call):\n\n{plots}\n",
        now_utc(),
        machine(),
        summary(dir, PEER_GROUPS),
    );
    replace_section(benchmarks_md, SECTION_START, SECTION_END, &section)
}
