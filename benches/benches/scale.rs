//! Scale (issue 15): many components, many plugins, two cores, a million calls.
//!
//! Figures, each measured in a child process of its own (so that one part's memory, threads
//! and pool slots do not colour the next; `--child <part>`):
//! - `cold`: a cold start of N distinct components (no compile cache entry), loaded one after
//!   the other and all at once as the registry loads them; wall time and cores busy.
//! - `seed` / `load` / `load-seq`: 1,000 distinct components (notify-webhook with a unique
//!   custom section each: another digest, the same code) loaded by a fresh runtime from a warm
//!   compile cache, concurrently (as the registry does) and one after the other; wall time and
//!   the process's resident memory.
//! - `shared`: many plugins of one digest compile it once.
//! - `concurrency`: calls per second with one and with two callers (two OS threads, each with
//!   a current-thread tokio runtime; and a two-worker multi-thread runtime), for one plugin
//!   warm, many plugins warm, one plugin with a fresh store per call, and plain wasmtime's
//!   fresh-store and warm calls on the same engine.
//! - `memory`: the resident set every 100,000 calls over 1,000,000 warm and 1,000,000
//!   fresh-store calls.
//!
//! Results go to `target/criterion/scale/*.json`; the report (a table, the targets with
//! verdicts, SVG plots) is built from whatever parts have run. `scripts/bench-scale` also
//! writes BENCHMARKS.md's scale section and `docs/bench/scale-*.svg`.
//!
//! Usage: `cargo bench -p robodev-benches --bench scale -- [part ...] [--quick]` (no part: all).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use robodev_benches::raw::{Floor, Mode};
use robodev_benches::report;
use robodev_core::{AnyBackend, Interface, notifications};
use robodev_test_support::guests;
use robodev_wasm::{LoadPath, PluginOptions, Runtime, RuntimeConfig, WasmPlugin};
use serde_json::{Value, json};

/// Components loaded from the warm cache.
const MANY: usize = 1000;
/// Components of the cold-start figure.
const COLD: usize = 8;
/// Plugins of one digest in the compile-once figure.
const SAME_DIGEST: usize = 100;
/// Plugins of the "many plugins" concurrency figure (warm: one store each; well under the
/// pool's 256 slots).
const MANY_WARM: usize = 64;
/// Calls of the memory figure, and how often it samples.
const MEMORY_CALLS: usize = 1_000_000;
const MEMORY_EVERY: usize = 100_000;

const PARTS: &[&str] = &[
    "cold",
    "seed",
    "load",
    "load-seq",
    "artifacts-bytes",
    "artifacts-file",
    "shared",
    "concurrency",
    "memory",
];

// ---------------------------------------------------------------------------------------------
// The process: memory, CPU time, the machine's load.

/// The memory lines of `/proc/self/status`, kB.
#[derive(Debug, Clone, Copy, Default)]
struct Mem {
    rss: u64,
    hwm: u64,
    anon: u64,
    file: u64,
    shmem: u64,
}

fn mem() -> Mem {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    Mem {
        rss: field("VmRSS:"),
        hwm: field("VmHWM:"),
        anon: field("RssAnon:"),
        file: field("RssFile:"),
        shmem: field("RssShmem:"),
    }
}

impl Mem {
    fn json(&self) -> Value {
        json!({"rss_mb": mb(self.rss), "hwm_mb": mb(self.hwm), "anon_mb": mb(self.anon),
               "file_mb": mb(self.file), "shmem_mb": mb(self.shmem)})
    }
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// The resident set by kind of mapping (`/proc/self/smaps`), MB: mappings of 128 MiB and more
/// (what is left whole of the pooling allocator's reservations: its used slots are split off
/// into mappings of their own, counted as other anonymous memory), executable anonymous
/// mappings (compiled code), other anonymous mappings (the heap, the rest of each compiled
/// artifact, the pool's used slots), and file mappings.
fn smaps() -> Value {
    let text = std::fs::read_to_string("/proc/self/smaps").unwrap_or_default();
    let (mut pool, mut code, mut anon, mut file) = (0u64, 0u64, 0u64, 0u64);
    let (mut size, mut exec, mut named, mut vmas) = (0u64, false, false, 0usize);
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or_default();
        if first.contains('-') && !first.ends_with(':') {
            // A mapping's header: `start-end perms offset dev inode [path]`.
            let (start, end) = first.split_once('-').unwrap_or_default();
            let addr = |h: &str| u64::from_str_radix(h, 16).unwrap_or(0);
            size = addr(end).saturating_sub(addr(start));
            exec = words.next().is_some_and(|p| p.contains('x'));
            let path = words.nth(3).unwrap_or_default();
            named = !path.is_empty() && !path.starts_with('[');
            vmas += 1;
        } else if first == "Rss:" {
            let kb: u64 = words.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            if named {
                file += kb;
            } else if size >= 128 << 20 {
                pool += kb;
            } else if exec {
                code += kb;
            } else {
                anon += kb;
            }
        }
    }
    json!({"pool_mb": mb(pool), "code_mb": mb(code), "other_anon_mb": mb(anon),
           "file_mb": mb(file), "mappings": vmas})
}

/// Resets the process's peak resident set (VmHWM) to its current size.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// CPU seconds this process has used (user + system; `/proc/self/stat`, clock ticks).
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields 14 and 15 of stat(5); `after` starts at field 3.
    (ticks(11) + ticks(12)) / clock_ticks()
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// Busy CPU seconds of the whole machine (`/proc/stat`: all but idle and iowait).
fn machine_busy_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let nums: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: f64 = nums.iter().take(8).sum();
    let idle = nums.get(3).copied().unwrap_or(0.0) + nums.get(4).copied().unwrap_or(0.0);
    (total - idle) / clock_ticks()
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// What else ran on the machine while `f` ran: other processes' CPU seconds per second of
/// wall time (0 on an otherwise idle machine; the number of cores when they kept every one
/// busy).
fn watched<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let (b0, s0, t0) = (machine_busy_secs(), cpu_secs(), Instant::now());
    let out = f();
    let (b1, s1, wall) = (machine_busy_secs(), cpu_secs(), t0.elapsed().as_secs_f64());
    (out, ((b1 - b0) - (s1 - s0)).max(0.0) / wall)
}

// ---------------------------------------------------------------------------------------------
// Distinct components: notify-webhook with a custom section of its own.

fn leb128(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// `component` with a top-level custom section `name` holding `payload` appended: another
/// digest, the same code.
fn with_custom_section(component: &[u8], name: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    leb128(name.len(), &mut body);
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    let mut out = component.to_vec();
    out.push(0); // custom section id
    leb128(body.len(), &mut out);
    out.extend_from_slice(&body);
    out
}

fn scale_dir() -> PathBuf {
    report::criterion_dir().join("scale")
}

fn components_dir() -> PathBuf {
    scale_dir().join("components")
}

fn component(i: usize) -> PathBuf {
    components_dir().join(format!("notify-{i:04}.wasm"))
}

/// Writes the `MANY` distinct components (once; they are rewritten if the guest changed).
fn make_components() {
    let base = std::fs::read(guests::guest("notify_webhook")).expect("notify_webhook.wasm");
    let dir = components_dir();
    std::fs::create_dir_all(&dir).expect("components dir");
    let stamp = dir.join("base.sha");
    let base_id = format!("{}-{}", base.len(), fnv(&base));
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(base_id.as_str())
        && component(MANY - 1).exists()
    {
        return;
    }
    for i in 0..MANY {
        let bytes = with_custom_section(
            &base,
            "robodev-scale",
            format!("distinct component {i}").as_bytes(),
        );
        std::fs::write(component(i), bytes).expect("write component");
    }
    std::fs::write(stamp, base_id).expect("stamp");
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

// ---------------------------------------------------------------------------------------------
// Loading.

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores())
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn options(name: String, warm: usize) -> PluginOptions {
    PluginOptions {
        name,
        expected: Some(Interface::Notifications),
        warm_instances: warm,
        ..Default::default()
    }
}

fn runtime(cache: Option<&Path>) -> Runtime {
    Runtime::new(RuntimeConfig {
        cache_dir: cache.map(Path::to_path_buf),
        ..Default::default()
    })
    .expect("runtime")
}

fn path_name(p: LoadPath) -> &'static str {
    match p {
        LoadPath::Compiled => "compiled",
        LoadPath::Cached => "cached",
        LoadPath::Rebuilt => "rebuilt",
        LoadPath::Shared => "shared",
    }
}

fn count_paths(plugins: &[WasmPlugin]) -> Value {
    let mut counts = serde_json::Map::new();
    for p in plugins {
        let name = path_name(p.load_path().0);
        let n = counts.get(name).and_then(Value::as_u64).unwrap_or(0);
        counts.insert(name.into(), json!(n + 1));
    }
    Value::Object(counts)
}

/// Loads `paths` (plugin `i` named `<prefix>-<i>`), all at once as the registry does (a task
/// each on the multi-thread runtime), counting each finished load into `done`.
fn load_concurrently(
    tokio: &tokio::runtime::Runtime,
    runtime: &Runtime,
    paths: &[PathBuf],
    warm: usize,
    done: Option<Arc<AtomicUsize>>,
) -> Vec<WasmPlugin> {
    tokio.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, path) in paths.iter().enumerate() {
            let (runtime, path, done) = (runtime.clone(), path.clone(), done.clone());
            tasks.spawn(async move {
                let plugin = runtime
                    .load(&path, options(format!("plugin-{i}"), warm))
                    .await
                    .expect("load");
                if let Some(done) = done {
                    done.fetch_add(1, Ordering::Relaxed);
                }
                (i, plugin)
            });
        }
        let mut plugins: Vec<(usize, WasmPlugin)> =
            tasks.join_all().await.into_iter().collect::<Vec<_>>();
        plugins.sort_by_key(|(i, _)| *i);
        plugins.into_iter().map(|(_, p)| p).collect()
    })
}

fn load_sequentially(
    tokio: &tokio::runtime::Runtime,
    runtime: &Runtime,
    paths: &[PathBuf],
    warm: usize,
) -> Vec<WasmPlugin> {
    tokio.block_on(async {
        let mut plugins = Vec::new();
        for (i, path) in paths.iter().enumerate() {
            plugins.push(
                runtime
                    .load(path, options(format!("plugin-{i}"), warm))
                    .await
                    .expect("load"),
            );
        }
        plugins
    })
}

fn notif(plugin: &WasmPlugin) -> Arc<dyn notifications::Backend> {
    match plugin.backend() {
        AnyBackend::Notifications(n) => n,
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The parts (each runs in a child process and prints its result as JSON).

/// (a) Cold start: N distinct components, no cache entry, one after the other and all at once.
fn part_cold(quick: bool) -> Value {
    let n = if quick { 4 } else { COLD };
    let rounds = if quick { 1 } else { 3 };
    let paths: Vec<PathBuf> = (0..n).map(component).collect();
    let tokio = multi_thread();
    let mut runs = Vec::new();
    // One component alone first: how many cores one compile keeps busy (wasmtime compiles a
    // component's functions in parallel, on rayon's pool).
    for round in 0..rounds {
        // Alternate the order of the two modes between rounds (the machine's speed drifts).
        let order = if round % 2 == 0 {
            ["one", "sequential", "concurrent"]
        } else {
            ["one", "concurrent", "sequential"]
        };
        for mode in order {
            let cache = tempfile::tempdir().expect("tempdir");
            let runtime = runtime(Some(cache.path()));
            reset_peak();
            let before = mem();
            let (c0, t0) = (cpu_secs(), Instant::now());
            let (plugins, others) = watched(|| match mode {
                "one" => load_sequentially(&tokio, &runtime, &paths[..1], 0),
                "sequential" => load_sequentially(&tokio, &runtime, &paths, 0),
                _ => load_concurrently(&tokio, &runtime, &paths, 0, None),
            });
            let wall = t0.elapsed().as_secs_f64();
            let cpu = cpu_secs() - c0;
            let after = mem();
            runs.push(json!({
                "mode": mode, "round": round, "components": plugins.len(),
                "wall_s": wall, "cpu_s": cpu, "cores_busy": cpu / wall,
                "others_busy": others,
                "peak_rss_mb": mb(after.hwm), "rss_before_mb": mb(before.rss),
                "paths": count_paths(&plugins),
            }));
            eprintln!(
                "cold {mode}: {wall:.2} s wall, {:.2} cores busy",
                cpu / wall
            );
        }
    }
    json!({"components": n, "cores": cores(), "runs": runs})
}

/// Fills the compile cache with the `MANY` components (a few at a time: compiling all of them
/// at once would hold hundreds of compiles in memory together).
fn part_seed(quick: bool) -> Value {
    let n = if quick { 200 } else { MANY };
    let paths: Vec<PathBuf> = (0..n).map(component).collect();
    let tokio = multi_thread();
    let runtime = runtime(Some(&scale_dir().join("cache")));
    let t0 = Instant::now();
    let mut all = Vec::new();
    for chunk in paths.chunks(8) {
        let plugins = load_concurrently(&tokio, &runtime, chunk, 0, None);
        all.extend(plugins.iter().map(|p| p.load_path().0));
    }
    let mut counts = serde_json::Map::new();
    for p in all {
        let name = path_name(p);
        let c = counts.get(name).and_then(Value::as_u64).unwrap_or(0);
        counts.insert(name.into(), json!(c + 1));
    }
    json!({"components": n, "wall_s": t0.elapsed().as_secs_f64(), "paths": counts})
}

/// (b) The `MANY` components from the warm cache in a fresh runtime.
fn part_load(quick: bool, sequential: bool) -> Value {
    let n = if quick { 200 } else { MANY };
    let paths: Vec<PathBuf> = (0..n).map(component).collect();
    let tokio = multi_thread();
    let runtime = runtime(Some(&scale_dir().join("cache")));
    // Everything the process holds before the first load: the binary, the engine, the
    // linker, the pool's (reserved, not resident) address space, two runtimes' threads.
    let before = mem();
    reset_peak();
    let done = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    // The resident set and the loads done, every 10 ms.
    let sampler = {
        let (done, stop) = (done.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                samples.push((
                    t0.elapsed().as_secs_f64(),
                    mb(mem().rss),
                    done.load(Ordering::Relaxed),
                ));
                std::thread::sleep(Duration::from_millis(10));
            }
            samples
        })
    };
    let c0 = cpu_secs();
    let (plugins, others) = watched(|| {
        if sequential {
            let p = load_sequentially(&tokio, &runtime, &paths, 0);
            done.store(p.len(), Ordering::Relaxed);
            p
        } else {
            load_concurrently(&tokio, &runtime, &paths, 0, Some(done.clone()))
        }
    });
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_secs() - c0;
    let after = mem();
    let by_mapping = smaps();
    stop.store(true, Ordering::Relaxed);
    let mut samples = sampler.join().expect("sampler");
    samples.push((wall, mb(after.rss), plugins.len()));
    let mut digests: Vec<&str> = plugins.iter().map(|p| p.digest()).collect();
    digests.sort_unstable();
    digests.dedup();
    // One call on each afterwards (a fresh store each): what serving them adds.
    let t1 = Instant::now();
    tokio.block_on(async {
        for p in &plugins {
            notif(p)
                .notify(robodev_benches::notify_request())
                .await
                .expect("notify");
        }
    });
    let first_calls = t1.elapsed().as_secs_f64();
    let after_calls = mem();
    let cache_bytes: u64 = std::fs::read_dir(scale_dir().join("cache"))
        .map(|d| {
            d.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    json!({
        "components": n, "sequential": sequential, "wall_s": wall, "cpu_s": cpu,
        "cores_busy": cpu / wall, "others_busy": others,
        "distinct_digests": digests.len(), "paths": count_paths(&plugins),
        "before": before.json(), "after": after.json(), "after_calls": after_calls.json(),
        "by_mapping": by_mapping, "by_mapping_after_calls": smaps(),
        "first_call_each_s": first_calls,
        "cache_mb": cache_bytes as f64 / 1048576.0,
        "component_kb": std::fs::metadata(&paths[0]).map_or(0, |m| m.len()) as f64 / 1024.0,
        "samples": samples.iter().map(|(t, r, d)| json!([t, r, d])).collect::<Vec<_>>(),
    })
}

/// (c) Many plugins of one component: one compile.
fn part_shared(quick: bool) -> Value {
    let n = if quick { 20 } else { SAME_DIGEST };
    let cache = tempfile::tempdir().expect("tempdir");
    let tokio = multi_thread();
    let runtime = runtime(Some(cache.path()));
    let same: Vec<PathBuf> = (0..n).map(|_| component(0)).collect();
    let t0 = Instant::now();
    let at_once = load_concurrently(&tokio, &runtime, &same, 0, None);
    let wall_at_once = t0.elapsed().as_secs_f64();
    // More while those live (a reload, a second config entry): nothing compiled, no cache read.
    let t1 = Instant::now();
    let later = load_sequentially(&tokio, &runtime, &same, 0);
    let wall_later = t1.elapsed().as_secs_f64();
    let entries = std::fs::read_dir(cache.path()).map_or(0, |d| d.count());
    json!({
        "plugins": n, "at_once": count_paths(&at_once), "wall_at_once_s": wall_at_once,
        "later": count_paths(&later), "wall_later_s": wall_later,
        "cache_entries": entries,
    })
}

/// What the callers of the concurrency figure call.
enum Target {
    /// One plugin, shared by every caller.
    One(Arc<dyn notifications::Backend>),
    /// Many plugins; caller `k` of `K` calls those with `index % K == k` in turn.
    Many(Vec<Arc<dyn notifications::Backend>>),
    /// Plain wasmtime, a fresh store per call.
    FloorFresh(Arc<Floor>),
    /// Plain wasmtime, a fresh store per call, caller `k` on engine `k` of its own (its own
    /// pooling allocator and registries): what of the fresh path's cost is the engine's
    /// shared state.
    FloorFreshEach(Vec<Floor>),
    /// Plain wasmtime, each caller its own warm instance.
    FloorWarm(Arc<Floor>),
    /// No plugin: ~2 µs of integer arithmetic per call, no memory traffic. How well the
    /// machine itself scales from one busy core to two at that moment (a control).
    Arithmetic,
}

impl Target {
    /// Call `i` of caller `k` of `callers`; `instance` is the caller's own warm floor instance.
    async fn call(
        &self,
        k: usize,
        callers: usize,
        i: usize,
        instance: &mut Option<robodev_benches::raw::Instance>,
    ) {
        match self {
            Target::One(b) => {
                b.notify(robodev_benches::notify_request())
                    .await
                    .expect("notify");
            }
            Target::Many(all) => {
                let per = all.len() / callers;
                let b = &all[(i % per) * callers + k];
                b.notify(robodev_benches::notify_request())
                    .await
                    .expect("notify");
            }
            Target::FloorFresh(f) => f.notify_fresh().await.expect("notify"),
            Target::FloorFreshEach(floors) => floors[k % floors.len()]
                .notify_fresh()
                .await
                .expect("notify"),
            Target::Arithmetic => {
                let mut x = std::hint::black_box(i as u64);
                for _ in 0..2000 {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                }
                std::hint::black_box(x);
                tokio::task::yield_now().await;
            }
            Target::FloorWarm(f) => {
                if instance.is_none() {
                    *instance = Some(f.instantiate().await.expect("instance"));
                }
                let inst = instance.as_mut().expect("instance");
                f.notify(inst).await.expect("notify");
            }
        }
    }
}

/// How the callers run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Callers {
    /// One OS thread per caller, each with its own current-thread tokio runtime.
    Threads,
    /// One task per caller on a multi-thread tokio runtime with a worker per core.
    Tokio,
}

/// This thread's time on a CPU and waiting for one (runnable, not running), nanoseconds
/// (`/proc/thread-self/schedstat`).
fn thread_sched() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let mut v = text.split_whitespace().map(|x| x.parse().unwrap_or(0));
    (v.next().unwrap_or(0), v.next().unwrap_or(0))
}

/// What a throughput measurement found.
#[derive(Default)]
struct Rate {
    /// Calls per second, all callers together.
    per_s: f64,
    /// The callers' time on a CPU, summed, per second of the window (2.0: two callers never
    /// off a CPU).
    on_cpu: f64,
    /// The callers' time runnable but waiting for a CPU, summed, per second of the window.
    waiting: f64,
}

/// Waits until `callers` callers are ready, then lets them go.
fn start(ready: &AtomicUsize, go: &AtomicBool, callers: usize) {
    while ready.load(Ordering::SeqCst) < callers {
        std::thread::sleep(Duration::from_millis(1));
    }
    go.store(true, Ordering::SeqCst);
}

/// Calls per second of `callers` callers calling `target` for `window`.
fn throughput(
    target: &Arc<Target>,
    callers: usize,
    how: Callers,
    window: Duration,
    mt: &tokio::runtime::Runtime,
) -> Rate {
    let stop = Arc::new(AtomicBool::new(false));
    let go = Arc::new(AtomicBool::new(false));
    let ready = Arc::new(AtomicUsize::new(0));
    let body = |k: usize| {
        let (target, stop, go, ready) = (target.clone(), stop.clone(), go.clone(), ready.clone());
        async move {
            let mut instance = None;
            for i in 0..200 {
                target.call(k, callers, i, &mut instance).await;
            }
            // Every caller warmed up: start together (yielding, never blocking a worker).
            ready.fetch_add(1, Ordering::SeqCst);
            while !go.load(Ordering::SeqCst) {
                tokio::task::yield_now().await;
            }
            let mut n = 0u64;
            let (cpu0, wait0) = thread_sched();
            while !stop.load(Ordering::Relaxed) {
                target.call(k, callers, n as usize, &mut instance).await;
                n += 1;
            }
            let (cpu1, wait1) = thread_sched();
            (n, cpu1 - cpu0, wait1 - wait0)
        }
    };
    let (total, elapsed): (Vec<(u64, u64, u64)>, Duration) = match how {
        Callers::Threads => std::thread::scope(|s| {
            let handles: Vec<_> = (0..callers)
                .map(|k| {
                    let fut = body(k);
                    s.spawn(move || current_thread().block_on(fut))
                })
                .collect();
            start(&ready, &go, callers);
            let t0 = Instant::now();
            std::thread::sleep(window);
            stop.store(true, Ordering::Relaxed);
            let all: Vec<(u64, u64, u64)> = handles
                .into_iter()
                .map(|h| h.join().expect("caller"))
                .collect();
            (all, t0.elapsed())
        }),
        Callers::Tokio => {
            let handles: Vec<_> = (0..callers).map(|k| mt.spawn(body(k))).collect();
            start(&ready, &go, callers);
            let t0 = Instant::now();
            std::thread::sleep(window);
            stop.store(true, Ordering::Relaxed);
            let all: Vec<(u64, u64, u64)> = mt.block_on(async {
                let mut all = Vec::new();
                for h in handles {
                    all.push(h.await.expect("caller"));
                }
                all
            });
            (all, t0.elapsed())
        }
    };
    let secs = elapsed.as_secs_f64();
    let sum = |f: fn(&(u64, u64, u64)) -> u64| total.iter().map(f).sum::<u64>() as f64;
    Rate {
        per_s: sum(|t| t.0) / secs,
        on_cpu: sum(|t| t.1) / 1e9 / secs,
        waiting: sum(|t| t.2) / 1e9 / secs,
    }
}

fn floor(runtime: &Runtime) -> Floor {
    let limits = robodev_wasm::Limits::default();
    let ticks = limits
        .timeout
        .as_nanos()
        .div_ceil(robodev_wasm::EPOCH_TICK.as_nanos()) as u64;
    Floor::new(
        Mode::AsyncLimited,
        runtime.engine(),
        &component(0),
        limits.fuel,
        ticks,
    )
    .expect("floor")
}

/// The targets of the concurrency figure, by name.
fn targets(tokio: &tokio::runtime::Runtime, runtime: &Runtime) -> Vec<(&'static str, Arc<Target>)> {
    let one_warm = load_sequentially(tokio, runtime, &[component(0)], 2);
    let one_fresh = load_sequentially(tokio, runtime, &[component(0)], 0);
    let many_paths: Vec<PathBuf> = (0..MANY_WARM).map(component).collect();
    let many = load_concurrently(tokio, runtime, &many_paths, 1, None);
    let floor = Arc::new(floor(runtime));
    // A second engine for the second caller: its own pooling allocator, type and code
    // registries.
    let second = self::runtime(None);
    let each = vec![self::floor(runtime), self::floor(&second)];
    vec![
        (
            "robodev_one_warm",
            Arc::new(Target::One(notif(&one_warm[0]))),
        ),
        (
            "robodev_many_warm",
            Arc::new(Target::Many(many.iter().map(notif).collect())),
        ),
        (
            "robodev_one_fresh",
            Arc::new(Target::One(notif(&one_fresh[0]))),
        ),
        (
            "wasmtime_fresh",
            Arc::new(Target::FloorFresh(floor.clone())),
        ),
        (
            "wasmtime_fresh_engine_each",
            Arc::new(Target::FloorFreshEach(each)),
        ),
        ("wasmtime_warm", Arc::new(Target::FloorWarm(floor))),
        ("control_arithmetic", Arc::new(Target::Arithmetic)),
    ]
}

/// (d) One and two callers.
fn part_concurrency(quick: bool) -> Value {
    let (rounds, window) = if quick {
        (3usize, Duration::from_millis(300))
    } else {
        (7, Duration::from_millis(600))
    };
    let tokio = multi_thread();
    // The seeded cache (`seed`): setting up 64 plugins should not compile 64 components.
    let runtime = runtime(Some(&scale_dir().join("cache")));
    let targets = targets(&tokio, &runtime);
    let load_before = loadavg();
    let mut rows = Vec::new();
    for how in [Callers::Threads, Callers::Tokio] {
        for (name, target) in &targets {
            let (mut one, mut two, mut ratio, mut others) = (vec![], vec![], vec![], vec![]);
            let (mut on_cpu, mut waiting) = (vec![], vec![]);
            let rounds: usize = if how == Callers::Tokio {
                rounds.div_ceil(2)
            } else {
                rounds
            };
            for round in 0..rounds {
                // Alternate which goes first: the machine's speed drifts.
                let ((a, b), busy) = watched(|| {
                    if round % 2 == 0 {
                        let a = throughput(target, 1, how, window, &tokio);
                        (a, throughput(target, 2, how, window, &tokio))
                    } else {
                        let b = throughput(target, 2, how, window, &tokio);
                        (throughput(target, 1, how, window, &tokio), b)
                    }
                });
                one.push(a.per_s);
                two.push(b.per_s);
                ratio.push(b.per_s / a.per_s);
                others.push(busy);
                on_cpu.push(b.on_cpu);
                waiting.push(b.waiting);
            }
            let how_name = match how {
                Callers::Threads => "threads",
                Callers::Tokio => "tokio",
            };
            let row = json!({
                "target": name, "callers": how_name,
                "one_per_s": report::median(&one), "two_per_s": report::median(&two),
                "speedup": report::median(&ratio),
                "speedup_min": ratio.iter().copied().fold(f64::MAX, f64::min),
                "speedup_max": ratio.iter().copied().fold(0.0, f64::max),
                "others_busy": report::median(&others),
                "two_on_cpu": report::median(&on_cpu),
                "two_waiting": report::median(&waiting),
            });
            eprintln!("{row}");
            rows.push(row);
        }
    }
    json!({
        "cores": cores(), "rounds": rounds, "window_ms": window.as_millis() as u64,
        "loadavg_before": load_before, "loadavg_after": loadavg(), "rows": rows,
    })
}

/// (e) The resident set over a million calls.
fn part_memory(quick: bool) -> Value {
    let (calls, every) = if quick {
        (100_000, 10_000)
    } else {
        (MEMORY_CALLS, MEMORY_EVERY)
    };
    let tokio = current_thread();
    let runtime = runtime(None);
    let mut series = Vec::new();
    for warm in [1, 0] {
        let plugin = load_sequentially(&tokio, &runtime, &[component(0)], warm);
        let backend = notif(&plugin[0]);
        let t0 = Instant::now();
        let samples = tokio.block_on(async {
            // Warm-up: the allocator's and the pool's steady state.
            for _ in 0..10_000 {
                backend
                    .notify(robodev_benches::notify_request())
                    .await
                    .expect("notify");
            }
            let mut samples = vec![(0usize, mem().rss)];
            for i in 1..=calls {
                backend
                    .notify(robodev_benches::notify_request())
                    .await
                    .expect("notify");
                if i % every == 0 {
                    samples.push((i, mem().rss));
                }
            }
            samples
        });
        let wall = t0.elapsed().as_secs_f64();
        let first = samples[0].1 as f64;
        let last = samples[samples.len() - 1].1 as f64;
        let max = samples.iter().map(|s| s.1).max().unwrap_or(0) as f64;
        eprintln!(
            "memory warm={warm}: {:.1} -> {:.1} MB over {calls} calls",
            first / 1024.0,
            last / 1024.0
        );
        series.push(json!({
            "path": if warm > 0 { "warm" } else { "fresh" }, "calls": calls,
            "wall_s": wall, "first_mb": first / 1024.0, "last_mb": last / 1024.0,
            "max_mb": max / 1024.0, "growth": (last - first) / first,
            "samples": samples.iter().map(|(i, r)| json!([i, mb(*r)])).collect::<Vec<_>>(),
        }));
    }
    json!({"series": series})
}

/// What holding the `MANY` compiled artifacts costs, deserialized from bytes in memory (as
/// robodev's compile cache did before issue 15: it read the entry, checked its hash, copied it
/// into fresh memory) or mapped from their files (`Component::deserialize_file`, as the cache
/// does now: code pages stay file-backed). Plain wasmtime on robodev's engine; no
/// instantiation.
fn part_artifacts(quick: bool, from_file: bool) -> Value {
    let n = if quick { 200 } else { MANY };
    let cache = scale_dir().join("cache");
    let dir = scale_dir().join("artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&cache)
        .expect("seeded cache")
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    entries.sort();
    entries.truncate(n);
    // The artifact of each entry (robodev's trailer stripped: a 10-byte magic, a 32-byte hash).
    let files: Vec<PathBuf> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let out = dir.join(format!("{i:04}.cwasm"));
            if !out.exists() {
                let bytes = std::fs::read(e).expect("cache entry");
                std::fs::write(&out, &bytes[..bytes.len() - 42]).expect("artifact");
            }
            out
        })
        .collect();
    let runtime = runtime(None);
    let engine = runtime.engine();
    let before = mem();
    let t0 = Instant::now();
    let components: Vec<wasmtime::component::Component> = files
        .iter()
        .map(|f| {
            // SAFETY: these are wasmtime's own serialized artifacts for this very engine
            // (robodev's cache wrote them, and checked them when it did).
            #[allow(unsafe_code)]
            unsafe {
                if from_file {
                    wasmtime::component::Component::deserialize_file(engine, f)
                } else {
                    let bytes = std::fs::read(f).expect("payload");
                    wasmtime::component::Component::deserialize(engine, &bytes)
                }
            }
            .expect("deserialize")
        })
        .collect();
    let wall = t0.elapsed().as_secs_f64();
    let after = mem();
    json!({"components": components.len(), "from_file": from_file, "wall_s": wall,
           "before": before.json(), "after": after.json(), "by_mapping": smaps()})
}

/// A profiling aid: `--child spin <target> <callers> <seconds>` runs one target of the
/// concurrency figure (OS-thread callers) for that long, e.g. under `perf record`.
fn spin(args: &[String]) -> Value {
    let name = args.first().map_or("robodev_one_fresh", String::as_str);
    let callers: usize = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(2);
    let secs: f64 = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(5.0);
    let tokio = multi_thread();
    let runtime = runtime(Some(&scale_dir().join("cache")));
    let targets = targets(&tokio, &runtime);
    let target = &targets
        .iter()
        .find(|(n, _)| *n == name)
        .expect("a target of the concurrency figure")
        .1;
    let rate = throughput(
        target,
        callers,
        Callers::Threads,
        Duration::from_secs_f64(secs),
        &tokio,
    );
    json!({"target": name, "callers": callers, "per_s": rate.per_s, "on_cpu": rate.on_cpu,
           "waiting": rate.waiting})
}

// ---------------------------------------------------------------------------------------------
// The report: table, targets, plots, BENCHMARKS.md.

fn load_json(part: &str) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(scale_dir().join(format!("{part}.json"))).ok()?)
        .ok()
}

fn f(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or(f64::NAN)
}

/// One target: what it asks, what was measured, the verdict.
struct Verdict {
    target: String,
    measured: String,
    verdict: String,
}

fn verdict_max(value: f64, limit: f64, unit: &str) -> String {
    if value <= limit {
        "met".into()
    } else {
        format!(
            "missed by {:.0}{unit} ({:.0}% over)",
            value - limit,
            (value / limit - 1.0) * 100.0
        )
    }
}

fn verdict_min(value: f64, limit: f64) -> String {
    if value >= limit {
        "met".into()
    } else {
        format!("missed by {:.2}×", limit - value)
    }
}

fn cold_summary(cold: &Value) -> Option<(f64, f64, f64, f64, f64, f64)> {
    let runs = cold["runs"].as_array()?;
    let med = |mode: &str, key: &str| {
        report::median(
            &runs
                .iter()
                .filter(|r| r["mode"] == mode)
                .map(|r| f(r, key))
                .collect::<Vec<_>>(),
        )
    };
    Some((
        med("sequential", "wall_s"),
        med("concurrent", "wall_s"),
        med("sequential", "cores_busy"),
        med("concurrent", "cores_busy"),
        med("one", "wall_s"),
        med("one", "cores_busy"),
    ))
}

fn verdicts() -> Vec<Verdict> {
    let mut out = Vec::new();
    if let Some(load) = load_json("load") {
        let n = f(&load, "components");
        out.push(Verdict {
            target: format!("{n} distinct cached components load in ≤ 1 s"),
            measured: format!("{:.2} s", f(&load, "wall_s")),
            verdict: verdict_max(f(&load, "wall_s") * 1000.0, 1000.0, " ms"),
        });
        let peak = f(&load["after"], "hwm_mb");
        out.push(Verdict {
            target: "… with ≤ 500 MB RSS (peak resident set of the process)".into(),
            measured: format!(
                "{peak:.0} MB peak, {:.0} MB after ({:.0} MB before the first load; after: \
                 {:.0} MB anonymous, {:.0} MB file pages, the mapped artifacts)",
                f(&load["after"], "rss_mb"),
                f(&load["before"], "rss_mb"),
                f(&load["after"], "anon_mb"),
                f(&load["after"], "file_mb"),
            ),
            verdict: verdict_max(peak, 500.0, " MB"),
        });
    }
    if let Some(shared) = load_json("shared") {
        let compiled = shared["at_once"]["compiled"].as_u64().unwrap_or(0)
            + shared["later"]["compiled"].as_u64().unwrap_or(0);
        let n = shared["plugins"].as_u64().unwrap_or(0);
        out.push(Verdict {
            target: "identical components (same digest) are compiled once".into(),
            measured: format!(
                "{} plugins of one digest ({n} at once, then {n} more): {compiled} compile, {} cache entr{}",
                2 * n,
                shared["cache_entries"],
                if shared["cache_entries"] == 1 { "y" } else { "ies" }
            ),
            verdict: if compiled == 1 { "met".into() } else { format!("missed: {compiled} compiles") },
        });
    }
    if let Some(cold) = load_json("cold")
        && let Some((seq, conc, seq_busy, conc_busy, _, _)) = cold_summary(&cold)
    {
        let c = f(&cold, "cores");
        out.push(Verdict {
            target: "a cold start compiles many components in parallel on every core".into(),
            measured: format!(
                "{} components: {conc_busy:.2} of {c} cores busy at once ({conc:.2} s) vs {seq_busy:.2} one after the other ({seq:.2} s)",
                cold["components"]
            ),
            verdict: verdict_min(conc_busy / c * 2.0, 1.8)
                .replace("missed by", "missed (2-core equivalent) by"),
        });
    }
    if let Some(conc) = load_json("concurrency") {
        for row in conc["rows"].as_array().into_iter().flatten() {
            if row["callers"] != "threads" {
                continue;
            }
            let name = row["target"].as_str().unwrap_or("?");
            let (target, applies) = match name {
                "robodev_one_warm" => (
                    "concurrent calls to one plugin (warm) scale ≥ 1.8× on 2 cores",
                    true,
                ),
                "robodev_many_warm" => {
                    ("concurrent calls to many plugins (warm) scale ≥ 1.8×", true)
                }
                "robodev_one_fresh" => ("… fresh-store calls included", true),
                "wasmtime_fresh" => ("(reference) raw wasmtime fresh store", false),
                "wasmtime_fresh_engine_each" => (
                    "(reference) raw wasmtime fresh store, an engine per caller",
                    false,
                ),
                "wasmtime_warm" => ("(reference) raw wasmtime warm", false),
                _ => ("(control) integer arithmetic, no plugin", false),
            };
            let s = f(row, "speedup");
            out.push(Verdict {
                target: target.into(),
                measured: format!(
                    "{s:.2}× ({:.0} → {:.0} calls/s; rounds {:.2}–{:.2}×)",
                    f(row, "one_per_s"),
                    f(row, "two_per_s"),
                    f(row, "speedup_min"),
                    f(row, "speedup_max")
                ),
                verdict: if applies {
                    verdict_min(s, 1.8)
                } else {
                    "—".into()
                },
            });
        }
    }
    if let Some(memory) = load_json("memory") {
        for s in memory["series"].as_array().into_iter().flatten() {
            let g = f(s, "growth") * 100.0;
            out.push(Verdict {
                target: format!(
                    "memory stays flat over {} {} calls",
                    s["calls"],
                    s["path"].as_str().unwrap_or("?")
                ),
                measured: format!(
                    "{:.1} MB → {:.1} MB ({g:+.1}%, max {:.1} MB)",
                    f(s, "first_mb"),
                    f(s, "last_mb"),
                    f(s, "max_mb")
                ),
                verdict: if g.abs() <= 3.0 {
                    "met".into()
                } else {
                    format!("missed: {g:+.1}%")
                },
            });
        }
    }
    out
}

fn tables() -> String {
    let mut md = String::new();
    if let Some(cold) = load_json("cold")
        && let Some((seq, conc, seq_busy, conc_busy, one, one_busy)) = cold_summary(&cold)
    {
        let n = cold["components"].as_u64().unwrap_or(0);
        let _ = writeln!(
            md,
            "**Cold start** ({n} distinct components, empty compile cache, medians of {} rounds):\n\n\
             | load | wall | cores busy (CPU s / wall s) |\n|---|---:|---:|\n\
             | one component alone | {:.0} ms | {one_busy:.2} |\n\
             | {n} one after the other | {:.0} ms | {seq_busy:.2} |\n\
             | {n} at once (as the registry loads) | {:.0} ms | {conc_busy:.2} |\n\n\
             At once vs one after the other: {:.2}× faster.\n",
            cold["runs"].as_array().map_or(0, |r| r.len() / 3),
            one * 1e3,
            seq * 1e3,
            conc * 1e3,
            seq / conc,
        );
    }
    let loads: Vec<Value> = ["load", "load-seq"]
        .iter()
        .filter_map(|p| load_json(p))
        .collect();
    if !loads.is_empty() {
        let _ = writeln!(
            md,
            "**{} distinct components from a warm compile cache** (a fresh runtime; each load \
             reads, hashes, deserializes, type-checks, links and instantiates the component \
             for its handshake; no warm instance kept):\n\n\
             | load | wall | cores busy | RSS before | peak RSS | RSS after | of which anon / file | after one call each |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|",
            loads[0]["components"]
        );
        for l in &loads {
            let _ = writeln!(
                md,
                "| {} | {:.0} ms | {:.2} | {:.0} MB | {:.0} MB | {:.0} MB | {:.0} / {:.0} MB | {:.0} MB ({:.0} ms) |",
                if l["sequential"] == true {
                    "one after the other"
                } else {
                    "at once (as the registry)"
                },
                f(l, "wall_s") * 1e3,
                f(l, "cores_busy"),
                f(&l["before"], "rss_mb"),
                f(&l["after"], "hwm_mb"),
                f(&l["after"], "rss_mb"),
                f(&l["after"], "anon_mb"),
                f(&l["after"], "file_mb"),
                f(&l["after_calls"], "rss_mb"),
                f(l, "first_call_each_s") * 1e3,
            );
        }
        let _ = writeln!(
            md,
            "\nEach component is {:.0} KB; the cache holds {:.0} MB for them. Of the resident set \
             after the concurrent load, {:.0} MB are file pages (the cache entries, mapped by \
             `Component::deserialize_file`: clean, shared with the page cache), {:.0} MB \
             executable anonymous memory (compiled code copied into the process: none when \
             the entries are mapped) and {:.0} MB other anonymous memory (the heap, the pages \
             of the mappings wasmtime wrote to, the pool's resident pages). Load paths: {}; \
             distinct digests: {}.\n",
            f(&loads[0], "component_kb"),
            f(&loads[0], "cache_mb"),
            f(&loads[0]["by_mapping"], "file_mb"),
            f(&loads[0]["by_mapping"], "code_mb"),
            f(&loads[0]["by_mapping"], "other_anon_mb"),
            loads[0]["paths"],
            loads[0]["distinct_digests"]
        );
    }
    let arts: Vec<Value> = ["artifacts-bytes", "artifacts-file"]
        .iter()
        .filter_map(|p| load_json(p))
        .collect();
    if !arts.is_empty() {
        let _ = writeln!(
            md,
            "**Holding the compiled artifacts alone** (plain wasmtime on robodev's engine, the \
             {} cache entries' payloads deserialized one after the other, nothing instantiated):\n\n\
             | deserialized | wall | RSS added | of which code (r-x anon) / other anon / file |\n|---|---:|---:|---:|",
            arts[0]["components"]
        );
        for a in &arts {
            let _ = writeln!(
                md,
                "| {} | {:.0} ms | {:.0} MB | {:.0} / {:.0} / {:.0} MB |",
                if a["from_file"] == true {
                    "`Component::deserialize_file` (mapped from the file, as robodev's cache since this issue)"
                } else {
                    "`Component::deserialize` of the bytes read (as robodev's cache before)"
                },
                f(a, "wall_s") * 1e3,
                f(&a["after"], "rss_mb") - f(&a["before"], "rss_mb"),
                f(&a["by_mapping"], "code_mb"),
                f(&a["by_mapping"], "other_anon_mb"),
                f(&a["by_mapping"], "file_mb"),
            );
        }
        md.push('\n');
    }
    if let Some(conc) = load_json("concurrency") {
        let _ = writeln!(
            md,
            "**One caller vs two** ({} cores; medians of {} alternating rounds of {} ms; \
             `threads`: one OS thread per caller with its own current-thread tokio runtime; \
             `tokio`: a task per caller on a multi-thread runtime with a worker per core; load \
             average {} before, {} after):\n\n\
             | target | callers | 1 caller | 2 callers | speedup | rounds' range | 2 callers on a CPU | 2 callers waiting for one | others' CPU |\n\
             |---|---|---:|---:|---:|---:|---:|---:|---:|",
            conc["cores"],
            conc["rounds"],
            conc["window_ms"],
            conc["loadavg_before"].as_str().unwrap_or("?"),
            conc["loadavg_after"].as_str().unwrap_or("?"),
        );
        for r in conc["rows"].as_array().into_iter().flatten() {
            let _ = writeln!(
                md,
                "| {} | {} | {:.0}/s | {:.0}/s | {:.2}× | {:.2}–{:.2}× | {:.2} | {:.2} | {:.2} cores |",
                r["target"].as_str().unwrap_or("?"),
                r["callers"].as_str().unwrap_or("?"),
                f(r, "one_per_s"),
                f(r, "two_per_s"),
                f(r, "speedup"),
                f(r, "speedup_min"),
                f(r, "speedup_max"),
                f(r, "two_on_cpu"),
                f(r, "two_waiting"),
                f(r, "others_busy"),
            );
        }
        md.push('\n');
    }
    md
}

fn summary() -> String {
    let mut md = String::from("| target | measured | verdict |\n|---|---|---|\n");
    for v in verdicts() {
        let _ = writeln!(md, "| {} | {} | {} |", v.target, v.measured, v.verdict);
    }
    md.push('\n');
    md.push_str(&tables());
    md
}

// SVG plots.

const COLORS: &[&str] = &[
    "#3a6ea5", "#c0392b", "#27ae60", "#8e44ad", "#d35400", "#7f8c8d",
];

fn svg_head(w: f64, h: f64, title: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\
         <text x=\"10\" y=\"20\" font-size=\"14\">{}</text>\n",
        xml(title)
    )
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A "nice" step for an axis from 0 to `max` in about 5 steps.
fn nice_step(max: f64) -> f64 {
    let raw = (max / 5.0).max(1e-9);
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * p)
}

fn num(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if v >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// A line chart: `series` of (name, points); axes from 0.
fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
    y_min_zero: bool,
) -> String {
    let (left, top, width, height) = (70.0, 40.0, 560.0, 260.0);
    let pts = series.iter().flat_map(|(_, p)| p.iter());
    let xmax = pts.clone().map(|p| p.0).fold(0.0, f64::max).max(1e-9);
    let ymax_raw = pts.clone().map(|p| p.1).fold(0.0, f64::max).max(1e-9);
    let ymin_raw = pts.map(|p| p.1).fold(f64::MAX, f64::min);
    let ystep = nice_step(ymax_raw * 1.1);
    let ymax = (ymax_raw * 1.1 / ystep).ceil() * ystep;
    let ymin = if y_min_zero {
        0.0
    } else {
        ((ymin_raw * 0.9) / ystep).floor() * ystep
    };
    let xstep = nice_step(xmax);
    let xmax = (xmax / xstep).ceil() * xstep;
    let x = |v: f64| left + v / xmax * width;
    let y = |v: f64| top + height - (v - ymin) / (ymax - ymin).max(1e-9) * height;
    let mut svg = svg_head(left + width + 180.0, top + height + 50.0, title);
    let mut v = ymin;
    while v <= ymax + 1e-9 {
        let _ = writeln!(
            svg,
            "<line x1=\"{left}\" y1=\"{yv:.1}\" x2=\"{x2}\" y2=\"{yv:.1}\" stroke=\"#eee\"/>\
             <text x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\" fill=\"#555\">{}</text>",
            num(v),
            yv = y(v),
            x2 = left + width,
            tx = left - 6.0,
            ty = y(v) + 4.0
        );
        v += ystep;
    }
    let mut v = 0.0;
    while v <= xmax + 1e-9 {
        let _ = writeln!(
            svg,
            "<line x1=\"{xv:.1}\" y1=\"{top}\" x2=\"{xv:.1}\" y2=\"{y2}\" stroke=\"#eee\"/>\
             <text x=\"{xv:.1}\" y=\"{ty}\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
            num(v),
            xv = x(v),
            y2 = top + height,
            ty = top + height + 16.0
        );
        v += xstep;
    }
    let _ = writeln!(
        svg,
        "<text x=\"{cx}\" y=\"{by}\" text-anchor=\"middle\">{}</text>\
         <text x=\"14\" y=\"{cy}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {cy})\">{}</text>",
        xml(x_label),
        xml(y_label),
        cx = left + width / 2.0,
        by = top + height + 38.0,
        cy = top + height / 2.0
    );
    for (i, (name, points)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let path: Vec<String> = points
            .iter()
            .map(|(a, b)| format!("{:.1},{:.1}", x(*a), y(*b)))
            .collect();
        let _ = writeln!(
            svg,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>",
            path.join(" ")
        );
        if points.len() <= 30 {
            for (a, b) in points {
                let _ = writeln!(
                    svg,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"/>",
                    x(*a),
                    y(*b)
                );
            }
        }
        let ly = top + 10.0 + 18.0 * i as f64;
        let _ = writeln!(
            svg,
            "<rect x=\"{lx}\" y=\"{ry}\" width=\"12\" height=\"3\" fill=\"{color}\"/>\
             <text x=\"{tx}\" y=\"{ty}\">{}</text>",
            xml(name),
            lx = left + width + 12.0,
            ry = ly - 4.0,
            tx = left + width + 30.0,
            ty = ly
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// Grouped horizontal bars: per group, one bar per series value, annotated.
fn bar_chart(
    title: &str,
    unit: &str,
    series: &[&str],
    groups: &[(String, Vec<f64>, String)],
) -> String {
    let (left, top, width, bar_h) = (200.0, 50.0, 440.0, 14.0);
    let group_h = bar_h * series.len() as f64 + 14.0;
    let height = top + group_h * groups.len() as f64 + 40.0;
    let max = groups
        .iter()
        .flat_map(|g| g.1.iter().copied())
        .fold(0.0, f64::max)
        .max(1e-9);
    let step = nice_step(max);
    let xmax = (max / step).ceil() * step;
    let x = |v: f64| left + v / xmax * width;
    let mut svg = svg_head(left + width + 170.0, height, title);
    let mut v = 0.0;
    while v <= xmax + 1e-9 {
        let _ = writeln!(
            svg,
            "<line x1=\"{xv:.1}\" y1=\"{top}\" x2=\"{xv:.1}\" y2=\"{y2}\" stroke=\"#eee\"/>\
             <text x=\"{xv:.1}\" y=\"{ty}\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
            num(v),
            xv = x(v),
            y2 = height - 30.0,
            ty = height - 14.0
        );
        v += step;
    }
    let _ = writeln!(
        svg,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
        left + width / 2.0,
        height - 2.0,
        xml(unit)
    );
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let _ = writeln!(
            svg,
            "<rect x=\"{lx}\" y=\"{ry}\" width=\"12\" height=\"10\" fill=\"{color}\"/>\
             <text x=\"{tx}\" y=\"{ty}\">{}</text>",
            xml(s),
            lx = 10.0 + 140.0 * i as f64,
            ry = 30.0,
            tx = 26.0 + 140.0 * i as f64,
            ty = 39.0
        );
    }
    for (g, (label, values, note)) in groups.iter().enumerate() {
        let y0 = top + group_h * g as f64;
        let _ = writeln!(
            svg,
            "<text x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{}</text>",
            xml(label),
            tx = left - 8.0,
            ty = y0 + group_h / 2.0
        );
        for (i, v) in values.iter().enumerate() {
            let _ = writeln!(
                svg,
                "<rect x=\"{left}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{}\" fill=\"{}\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#333\" font-size=\"10\">{}</text>",
                y0 + bar_h * i as f64,
                x(*v) - left,
                bar_h - 2.0,
                COLORS[i % COLORS.len()],
                x(*v) + 4.0,
                y0 + bar_h * i as f64 + 10.0,
                num(*v)
            );
        }
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#c0392b\" font-weight=\"bold\">{}</text>",
            left + width + 60.0,
            y0 + group_h / 2.0,
            xml(note)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// The plots, by file name.
fn plots() -> Vec<(&'static str, &'static str, String)> {
    let mut out = Vec::new();
    if let Some(conc) = load_json("concurrency") {
        let groups: Vec<(String, Vec<f64>, String)> = conc["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                (
                    format!(
                        "{} ({})",
                        r["target"].as_str().unwrap_or("?"),
                        r["callers"].as_str().unwrap_or("?")
                    ),
                    vec![f(r, "one_per_s"), f(r, "two_per_s")],
                    format!("{:.2}×", f(r, "speedup")),
                )
            })
            .collect();
        out.push((
            "scale-concurrency.svg",
            "calls per second, one caller vs two (speedup in red)",
            bar_chart(
                "Calls per second, 1 vs 2 concurrent callers (2 cores)",
                "calls per second",
                &["1 caller", "2 callers"],
                &groups,
            ),
        ));
    }
    let loads: Vec<Value> = ["load", "load-seq"]
        .iter()
        .filter_map(|p| load_json(p))
        .collect();
    if !loads.is_empty() {
        let mut rss = Vec::new();
        let mut done = Vec::new();
        for l in &loads {
            let how = if l["sequential"] == true {
                "one by one"
            } else {
                "at once"
            };
            let samples: Vec<(f64, f64, f64)> = l["samples"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| {
                    (
                        s[0].as_f64().unwrap_or(0.0) * 1e3,
                        s[1].as_f64().unwrap_or(0.0),
                        s[2].as_f64().unwrap_or(0.0),
                    )
                })
                .collect();
            rss.push((
                format!("RSS, {how}"),
                samples.iter().map(|s| (s.0, s.1)).collect(),
            ));
            done.push((
                format!("loaded, {how}"),
                samples.iter().map(|s| (s.0, s.2)).collect(),
            ));
        }
        out.push((
            "scale-load-rss.svg",
            "resident set while 1,000 cached components load",
            line_chart(
                "Resident set while 1,000 distinct cached components load",
                "milliseconds since the first load began",
                "RSS (MB)",
                &rss,
                true,
            ),
        ));
        out.push((
            "scale-load-progress.svg",
            "components loaded over time",
            line_chart(
                "1,000 distinct cached components: loads finished over time",
                "milliseconds since the first load began",
                "plugins loaded",
                &done,
                true,
            ),
        ));
    }
    if let Some(cold) = load_json("cold")
        && let Some((seq, conc, seq_busy, conc_busy, one, one_busy)) = cold_summary(&cold)
    {
        let n = cold["components"].as_u64().unwrap_or(0);
        out.push((
            "scale-cold.svg",
            "cold start: compile wall time and cores busy",
            bar_chart(
                &format!("Cold start of {n} distinct components (empty compile cache)"),
                "wall time, ms",
                &["wall ms"],
                &[
                    (
                        "one component".into(),
                        vec![one * 1e3],
                        format!("{one_busy:.2} cores busy"),
                    ),
                    (
                        format!("{n}, one after the other"),
                        vec![seq * 1e3],
                        format!("{seq_busy:.2} cores busy"),
                    ),
                    (
                        format!("{n}, all at once"),
                        vec![conc * 1e3],
                        format!("{conc_busy:.2} cores busy"),
                    ),
                ],
            ),
        ));
    }
    if let Some(memory) = load_json("memory") {
        let series: Vec<(String, Vec<(f64, f64)>)> = memory["series"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                (
                    format!("{} calls", s["path"].as_str().unwrap_or("?")),
                    s["samples"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|p| (p[0].as_f64().unwrap_or(0.0), p[1].as_f64().unwrap_or(0.0)))
                        .collect(),
                )
            })
            .collect();
        out.push((
            "scale-memory.svg",
            "resident set over a million calls",
            line_chart(
                "Resident set over 1,000,000 calls (sampled every 100,000)",
                "calls",
                "RSS (MB)",
                &series,
                true,
            ),
        ));
    }
    out
}

/// Where the scale section of BENCHMARKS.md begins and ends.
const SECTION_START: &str = "<!-- scale: written by scripts/bench-scale -->";
const SECTION_END: &str = "<!-- /scale -->";

fn write_benchmarks_md(command: &str, summary: &str) -> Result<(), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let plots_dir = root.join("docs/bench");
    std::fs::create_dir_all(&plots_dir).map_err(|e| e.to_string())?;
    let mut links = String::new();
    for (file, what, svg) in plots() {
        std::fs::write(plots_dir.join(file), svg).map_err(|e| format!("{file}: {e}"))?;
        let _ = writeln!(links, "- [{what}](docs/bench/{file})");
    }
    let section = format!(
        "\n\nRun of {} on {}, with\n\n```sh\n{command}\n```\n\n{summary}Plots:\n\n{links}\n",
        report::now_utc(),
        report::machine()
    );
    report::replace_section(
        &root.join("BENCHMARKS.md"),
        SECTION_START,
        SECTION_END,
        &section,
    )
}

fn report_all() {
    let summary = summary();
    println!("\nScale:\n\n{summary}");
    let dir = scale_dir();
    let _ = std::fs::write(dir.join("summary.md"), &summary);
    for (file, _, svg) in plots() {
        let path = dir.join(file);
        if std::fs::write(&path, svg).is_ok() {
            println!("wrote {}", path.display());
        }
    }
    if let Some(command) = std::env::var_os("ROBODEV_BENCH_WRITE") {
        match write_benchmarks_md(&command.to_string_lossy(), &summary) {
            Ok(()) => println!("wrote BENCHMARKS.md and docs/bench/scale-*.svg"),
            Err(e) => {
                eprintln!("bench-scale: {e}");
                std::process::exit(1);
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let quick = args.iter().any(|a| a == "--quick");
    if let Some(pos) = args.iter().position(|a| a == "--child") {
        let part = args.get(pos + 1).map_or("", String::as_str);
        let result = match part {
            "cold" => part_cold(quick),
            "seed" => part_seed(quick),
            "load" => part_load(quick, false),
            "load-seq" => part_load(quick, true),
            "shared" => part_shared(quick),
            "concurrency" => part_concurrency(quick),
            "memory" => part_memory(quick),
            "spin" => spin(&args[pos + 2..]),
            "artifacts-bytes" => part_artifacts(quick, false),
            "artifacts-file" => part_artifacts(quick, true),
            other => panic!("unknown part {other:?}"),
        };
        println!("{result}");
        return;
    }
    let asked: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let run: Vec<&str> = if asked.is_empty() {
        PARTS.to_vec()
    } else if asked == ["report"] {
        Vec::new()
    } else {
        asked
    };
    std::fs::create_dir_all(scale_dir()).expect("scale dir");
    make_components();
    let exe = std::env::current_exe().expect("current exe");
    for part in run {
        eprintln!("scale: {part} (machine load {})", loadavg());
        let mut cmd = std::process::Command::new(&exe);
        cmd.args(["--child", part]);
        if quick {
            cmd.arg("--quick");
        }
        let out = cmd
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("run part");
        if !out.status.success() {
            eprintln!("scale: part {part} failed ({})", out.status);
            std::process::exit(1);
        }
        let json = String::from_utf8_lossy(&out.stdout);
        let json = json.lines().last().unwrap_or_default();
        std::fs::write(scale_dir().join(format!("{part}.json")), json).expect("write result");
    }
    report_all();
}
