//! What a subprocess plugin call costs: go-plugin gRPC plugins launched with
//! `robodev_grpc::SubprocessPlugin` and called through the core ticketing trait, over a unix
//! socket, with and without AutoMTLS; the Rust plugin (`src/bin/bench_ticketing_plugin.rs`,
//! built with the bench profile) and the Go plugin (robodev's Go SDK on hashicorp/go-plugin v1.7.0, built by
//! `scripts/build-go-plugins`). Also spawn-to-ready and a raw unix-socket echo round trip as the
//! floor. Before the criterion groups, the same run compares robodev with the Go host
//! (`robodev-go-host -bench N`, hashicorp/go-plugin v1.7.0's client, as RoboDev's controller) calling the same plugins,
//! both measured the same way in alternating runs; the table is printed then and again at the
//! end. Figures: BENCHMARKS.md.
//!
//! The calls are made the way a host makes them: from a task on a multi-threaded tokio runtime
//! (two workers here), `iters` calls in a row inside one spawned task. One extra row per call
//! size makes the same calls to the Rust plugin from a current-thread runtime, to show what the
//! host's runtime flavour costs.

use std::future::Future;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use robodev_benches::report::{self, median};
use robodev_core::{AnyBackend, Interface, ticketing};
use robodev_grpc::{SubprocessConfig, SubprocessPlugin};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The Rust plugin, an optimised build of this crate's `[[bin]]`.
const RUST_PLUGIN: &str = env!("CARGO_BIN_EXE_bench_ticketing_plugin");
/// Size of the echo baseline's message (about a small unary gRPC request on the wire).
const ECHO_BYTES: usize = 64;
/// Runs per host in the Go host comparison (each launches the plugin once).
const GO_HOST_RUNS: usize = 11;
/// Calls of each size per run in the Go host comparison.
const GO_HOST_CALLS: usize = 500;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| dir.join("scripts/build-go-plugins").exists())
        .expect("the crate lives inside the robodev repository")
        .to_owned()
}

/// Builds (when needed) the Go plugin and Go host, as the interop tests do.
fn go_built() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let status = Command::new("bash")
                .arg(repo().join("scripts/build-go-plugins"))
                .arg("--quiet")
                .status()
                .expect("run scripts/build-go-plugins");
            assert!(status.success(), "scripts/build-go-plugins failed");
            repo().join("target/interop/go")
        })
        .clone()
}

fn go_plugin() -> PathBuf {
    go_built().join("robodev-plugin-go-ticketing")
}

fn go_host() -> PathBuf {
    go_built().join("robodev-go-host")
}

/// The host's runtime: multi-threaded, as `#[tokio::main]` makes it.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A current-thread runtime, for the runtime-flavour comparison.
fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

#[derive(Clone, Copy)]
enum Lang {
    Rust,
    Go,
}

/// One plugin set-up measured: which plugin, and whether AutoMTLS is on.
#[derive(Clone, Copy)]
struct Target {
    id: &'static str,
    lang: Lang,
    mtls: bool,
}

const TARGETS: [Target; 4] = [
    Target {
        id: "rust_plugin",
        lang: Lang::Rust,
        mtls: false,
    },
    Target {
        id: "rust_plugin_mtls",
        lang: Lang::Rust,
        mtls: true,
    },
    Target {
        id: "go_plugin",
        lang: Lang::Go,
        mtls: false,
    },
    Target {
        id: "go_plugin_mtls",
        lang: Lang::Go,
        mtls: true,
    },
];

impl Target {
    fn config(&self) -> SubprocessConfig {
        let command = match self.lang {
            Lang::Rust => PathBuf::from(RUST_PLUGIN),
            Lang::Go => go_plugin(),
        };
        let mut config = SubprocessConfig::new(self.id, command);
        config.interface = Some(Interface::Ticketing);
        config.auto_mtls = self.mtls;
        config
    }
}

fn ticketing_of(plugin: &SubprocessPlugin) -> Arc<dyn ticketing::Backend> {
    match plugin.backend() {
        AnyBackend::Ticketing(t) => t,
        other => panic!("not a ticketing plugin: {other:?}"),
    }
}

fn small_request() -> ticketing::MarkInProgressRequest {
    ticketing::MarkInProgressRequest {
        ticket_id: "T-1".into(),
    }
}

fn large_request() -> ticketing::PollReadyTicketsRequest {
    ticketing::PollReadyTicketsRequest {
        labels: vec!["bulk".into()],
        max_results: 0,
    }
}

/// Runs `call` `iters` times in a row inside one task on `rt` and returns the time taken.
fn timed<F, Fut>(rt: &tokio::runtime::Runtime, iters: u64, call: F) -> Duration
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    rt.block_on(rt.spawn(async move {
        let start = Instant::now();
        for _ in 0..iters {
            call().await;
        }
        start.elapsed()
    }))
    .expect("bench task")
}

/// Unary calls, small and large, to each plugin set-up.
fn calls(c: &mut Criterion) {
    let rt = runtime();
    let plugins: Vec<(Target, &tokio::runtime::Runtime, SubprocessPlugin)> = TARGETS
        .iter()
        .map(|t| {
            let plugin = rt
                .block_on(SubprocessPlugin::launch(t.config()))
                .unwrap_or_else(|e| panic!("launch {}: {e}", t.id));
            let (address, tls) = plugin.endpoint().expect("running");
            assert!(address.starts_with("unix "), "{}: {address}", t.id);
            assert_eq!(tls, t.mtls, "{}: AutoMTLS", t.id);
            (*t, &rt, plugin)
        })
        .collect();
    // The Rust plugin once more, launched and called from a current-thread runtime.
    let ct = current_thread_runtime();
    let ct_plugin = ct
        .block_on(SubprocessPlugin::launch(TARGETS[0].config()))
        .expect("launch rust_plugin on a current-thread runtime");
    let mut rows: Vec<(&str, &tokio::runtime::Runtime, Arc<dyn ticketing::Backend>)> = plugins
        .iter()
        .map(|(t, rt, p)| (t.id, *rt, ticketing_of(p)))
        .collect();
    rows.push((
        "rust_plugin_host_current_thread",
        &ct,
        ticketing_of(&ct_plugin),
    ));

    let mut group = c.benchmark_group("subprocess_small_call");
    for (id, rt, backend) in &rows {
        group.bench_function(*id, |b| {
            b.iter_custom(|iters| {
                let backend = backend.clone();
                timed(rt, iters, move || {
                    let backend = backend.clone();
                    async move {
                        backend
                            .mark_in_progress(small_request())
                            .await
                            .expect("MarkInProgress");
                    }
                })
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("subprocess_large_call");
    // ~1.5–2.5 ms a call: 50 samples fit the default 5 s.
    group.sample_size(50);
    for (id, rt, backend) in &rows {
        let first = rt
            .block_on(backend.poll_ready_tickets(large_request()))
            .expect("PollReadyTickets");
        assert_eq!(first.tickets.len(), 200, "{id}");
        group.bench_function(*id, |b| {
            b.iter_custom(|iters| {
                let backend = backend.clone();
                timed(rt, iters, move || {
                    let backend = backend.clone();
                    async move {
                        let r = backend
                            .poll_ready_tickets(large_request())
                            .await
                            .expect("PollReadyTickets");
                        assert_eq!(r.tickets.len(), 200);
                    }
                })
            })
        });
    }
    group.finish();

    drop(rows);
    for (_, rt, plugin) in plugins {
        rt.block_on(plugin.shutdown());
    }
    ct.block_on(ct_plugin.shutdown());
}

/// From `SubprocessPlugin::launch` to its return: spawn, handshake line, connect (and the TLS
/// handshake), gRPC health, `Handshake` RPC. The shutdown after each launch is not measured.
fn spawn_to_ready(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("subprocess_spawn_to_ready");
    // Each launch is followed by an unmeasured graceful shutdown (~100 ms for the Rust plugin,
    // which lets its Shutdown reply drain): keep the sample count small.
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sampling_mode(criterion::SamplingMode::Flat);
    for t in TARGETS {
        group.bench_function(t.id, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let config = t.config();
                    let start = Instant::now();
                    let plugin = rt
                        .block_on(SubprocessPlugin::launch(config))
                        .unwrap_or_else(|e| panic!("launch {}: {e}", t.id));
                    total += start.elapsed();
                    rt.block_on(plugin.shutdown());
                }
                total
            })
        });
    }
    group.finish();
}

/// The floor: a small message to an echo peer and back over a unix socket pair, between two
/// tokio tasks on the host's kind of runtime (they usually end up on the same worker: no
/// cross-CPU wake-up), between two blocking threads and between two processes (each round
/// trip wakes the peer on the other CPU and then the caller: two cross-CPU wake-ups, as a
/// plugin call needs at least).
fn echo(c: &mut Criterion) {
    let mut group = c.benchmark_group("unix_socket_echo");

    let rt = runtime();
    // Made inside the runtime, which registers them with its I/O driver.
    let (client, server) = rt
        .block_on(async { tokio::net::UnixStream::pair() })
        .expect("socket pair");
    rt.spawn(async move {
        let mut server = server;
        let mut buf = [0u8; ECHO_BYTES];
        while server.read_exact(&mut buf).await.is_ok() {
            if server.write_all(&buf).await.is_err() {
                break;
            }
        }
    });
    let client = Arc::new(tokio::sync::Mutex::new(client));
    group.bench_function("tokio_tasks", |b| {
        b.iter_custom(|iters| {
            let client = client.clone();
            rt.block_on(rt.spawn(async move {
                let mut client = client.lock().await;
                let msg = [7u8; ECHO_BYTES];
                let mut buf = [0u8; ECHO_BYTES];
                let start = Instant::now();
                for _ in 0..iters {
                    client.write_all(&msg).await.expect("write");
                    client.read_exact(&mut buf).await.expect("read");
                }
                start.elapsed()
            }))
            .expect("echo task")
        })
    });

    let (mut client, mut server) = std::os::unix::net::UnixStream::pair().expect("socket pair");
    std::thread::spawn(move || {
        let mut buf = [0u8; ECHO_BYTES];
        while server.read_exact(&mut buf).is_ok() {
            if server.write_all(&buf).is_err() {
                break;
            }
        }
    });
    group.bench_function("threads", |b| {
        let msg = [7u8; ECHO_BYTES];
        let mut buf = [0u8; ECHO_BYTES];
        b.iter(|| {
            client.write_all(&msg).expect("write");
            client.read_exact(&mut buf).expect("read");
        })
    });

    let (mut client, child_end) = std::os::unix::net::UnixStream::pair().expect("socket pair");
    let child_out = child_end.try_clone().expect("socket clone");
    let mut child = Command::new(std::env::current_exe().expect("current exe"))
        .env(ECHO_CHILD, "1")
        .stdin(Stdio::from(OwnedFd::from(child_end)))
        .stdout(Stdio::from(OwnedFd::from(child_out)))
        .spawn()
        .expect("spawn the echo process");
    group.bench_function("processes", |b| {
        let msg = [7u8; ECHO_BYTES];
        let mut buf = [0u8; ECHO_BYTES];
        b.iter(|| {
            client.write_all(&msg).expect("write");
            client.read_exact(&mut buf).expect("read");
        })
    });
    drop(client);
    let _ = child.wait();
    group.finish();
}

/// Set in the environment of the echo process (this bench binary run again).
const ECHO_CHILD: &str = "ROBODEV_BENCH_ECHO_CHILD";

/// The echo process: echoes [`ECHO_BYTES`]-byte messages from stdin to stdout until EOF.
fn echo_child() {
    let mut input = std::io::stdin().lock();
    let mut output = std::io::stdout().lock();
    let mut buf = [0u8; ECHO_BYTES];
    while input.read_exact(&mut buf).is_ok() {
        if output
            .write_all(&buf)
            .and_then(|()| output.flush())
            .is_err()
        {
            break;
        }
    }
}

/// Per-run figures of one host calling one plugin set-up, in ns: each run's median small and
/// large call, and its spawn-to-ready.
#[derive(Default)]
struct Figures {
    small: Vec<f64>,
    large: Vec<f64>,
    spawn: Vec<f64>,
}

/// One run of the Go host: `robodev-go-host -bench GO_HOST_CALLS` (one launch, one warm-up
/// call of each size, then the small calls in a row, then the large ones).
fn go_host_run(plugin: &Path, mtls: bool, into: &mut Figures) {
    let mut command = Command::new(go_host());
    if mtls {
        command.arg("-mtls");
    }
    let output = command
        .arg("-bench")
        .arg(GO_HOST_CALLS.to_string())
        .arg(plugin)
        // The plugin's info lines are parsed but not printed, as in robodev's runs (no
        // subscriber).
        .env("ROBODEV_GO_HOST_LOG_LEVEL", "error")
        .output()
        .expect("run robodev-go-host");
    assert!(
        output.status.success(),
        "robodev-go-host failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("robodev-go-host prints JSON");
    let ns = |key: &str| json[key].as_f64().unwrap_or(f64::NAN);
    into.small.push(ns("smallMedianNs"));
    into.large.push(ns("largeMedianNs"));
    into.spawn.push(ns("spawnToReadyNs"));
}

/// The same run by robodev: launch, one warm-up call of each size, then each call timed alone.
fn robodev_run(rt: &tokio::runtime::Runtime, target: Target, into: &mut Figures) {
    let config = target.config();
    let start = Instant::now();
    let plugin = rt
        .block_on(SubprocessPlugin::launch(config))
        .unwrap_or_else(|e| panic!("launch {}: {e}", target.id));
    into.spawn.push(start.elapsed().as_nanos() as f64);
    let backend = ticketing_of(&plugin);
    let (small, large) = rt
        .block_on(rt.spawn(async move {
            backend
                .mark_in_progress(small_request())
                .await
                .expect("MarkInProgress");
            backend
                .poll_ready_tickets(large_request())
                .await
                .expect("PollReadyTickets");
            let mut small = Vec::with_capacity(GO_HOST_CALLS);
            for _ in 0..GO_HOST_CALLS {
                let start = Instant::now();
                backend
                    .mark_in_progress(small_request())
                    .await
                    .expect("MarkInProgress");
                small.push(start.elapsed().as_nanos() as f64);
            }
            let mut large = Vec::with_capacity(GO_HOST_CALLS);
            for _ in 0..GO_HOST_CALLS {
                let start = Instant::now();
                let r = backend
                    .poll_ready_tickets(large_request())
                    .await
                    .expect("PollReadyTickets");
                large.push(start.elapsed().as_nanos() as f64);
                assert_eq!(r.tickets.len(), 200);
            }
            (median(&small), median(&large))
        }))
        .expect("bench task");
    into.small.push(small);
    into.large.push(large);
    rt.block_on(plugin.shutdown());
}

/// robodev and the Go host (hashicorp/go-plugin v1.7.0's client) measured the same way and
/// alternately, run after run, so that the machine's drift hits both alike: the comparison
/// table, printed before the criterion groups run and again at the end.
fn go_host_comparison() -> String {
    let rt = runtime();
    let setups = [
        (TARGETS[2], go_plugin()),
        (TARGETS[3], go_plugin()),
        (TARGETS[0], PathBuf::from(RUST_PLUGIN)),
    ];
    let mut table = format!(
        "\nrobodev vs robodev-go-host (hashicorp/go-plugin v1.7.0 client), {GO_HOST_RUNS} alternating runs each \
         (a run: one launch, then {GO_HOST_CALLS} small and {GO_HOST_CALLS} large calls in a row, each timed; \
         figures: median over runs of the run's median, [min, max] over runs)\n{:<32} {:>30} {:>30} {:>6}\n",
        "", "robodev", "Go host", "ratio"
    );
    let mut saved = Vec::new();
    for (target, plugin) in setups {
        let (mut ours, mut theirs) = (Figures::default(), Figures::default());
        for run in 0..GO_HOST_RUNS {
            if run % 2 == 0 {
                go_host_run(&plugin, target.mtls, &mut theirs);
                robodev_run(&rt, target, &mut ours);
            } else {
                robodev_run(&rt, target, &mut ours);
                go_host_run(&plugin, target.mtls, &mut theirs);
            }
        }
        for (what, o, t) in [
            ("small call", &ours.small, &theirs.small),
            ("large call", &ours.large, &theirs.large),
            ("spawn-to-ready", &ours.spawn, &theirs.spawn),
        ] {
            table.push_str(&format!(
                "{:<32} {:>30} {:>30} {:>6.2}\n",
                format!("{} {what}", target.id),
                fmt_range(o),
                fmt_range(t),
                median(o) / median(t)
            ));
            saved.push(report::GoHost {
                plugin: target.id.to_owned(),
                what: what.to_owned(),
                robodev_ns: median(o),
                go_host_ns: median(t),
                runs: GO_HOST_RUNS,
            });
        }
    }
    // For the side-by-side summary (`scripts/bench-peers` runs this comparison first).
    report::GoHost::save(&report::criterion_dir(), &saved);
    eprintln!("{table}");
    table
}

fn fmt_ns(ns: f64) -> String {
    if !ns.is_finite() {
        "-".to_owned()
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.1} µs", ns / 1e3)
    }
}

fn fmt_range(values: &[f64]) -> String {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!(
        "{} [{}, {}]",
        fmt_ns(median(values)),
        fmt_ns(min),
        fmt_ns(max)
    )
}

criterion_group!(benches, echo, calls, spawn_to_ready);

fn main() {
    if std::env::var_os(ECHO_CHILD).is_some() {
        echo_child();
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` runs each benchmark once without
    // it: no Go host comparison then (nor with `--list`).
    let benching = std::env::args().any(|a| a == "--bench");
    let listing = std::env::args().any(|a| a == "--list");
    let comparison = (benching && !listing).then(go_host_comparison);
    benches();
    Criterion::default().configure_from_args().final_summary();
    if let Some(table) = comparison {
        eprintln!("{table}");
    }
}
