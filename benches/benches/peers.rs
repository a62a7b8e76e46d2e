//! Side by side: the same work on every path a plugin call can take, in one run, so that the
//! ratios BENCHMARKS.md states come from one machine at one time.
//!
//! Paths: native Rust (the same trait, no sandbox); the floor, plain wasmtime 48 calling the
//! same component through `bindgen!` exports (`robodev_benches::raw`) synchronously without
//! limits, synchronously with robodev's limits, and asynchronously with robodev's limits;
//! robodev's Wasm plugin called directly; the same plugin through the registry, as the
//! controller calls it (the metered, switchable, swappable handle `Registry::resolve` gives).
//!
//! At the end it prints the summary table (`robodev_benches::report`) from criterion's
//! estimates and writes it, with plots, under `target/criterion/peers/`; `scripts/bench-peers`
//! copies them into BENCHMARKS.md and `docs/bench/`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use criterion::Criterion;
use robodev_benches::raw::{Floor, Mode};
use robodev_benches::{NativeNotify, report};
use robodev_core::{AnyBackend, Interface, Ticket, notifications};
use robodev_test_support::guests;
use robodev_wasm::{Grants, Limits, PluginOptions, Runtime, RuntimeConfig, WasmPlugin};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn notify_request() -> notifications::NotifyRequest {
    notifications::NotifyRequest {
        message: robodev_benches::raw::MESSAGE.into(),
        ticket: Some(Ticket {
            id: "PROJ-1".into(),
            title: "Bump serde".into(),
            labels: vec!["robodev".into()],
            ..Default::default()
        }),
    }
}

fn load(tokio: &tokio::runtime::Runtime, runtime: &Runtime, warm: usize) -> WasmPlugin {
    tokio
        .block_on(runtime.load(
            &guests::guest("notify_webhook"),
            PluginOptions {
                name: "notify_webhook".into(),
                expected: Some(Interface::Notifications),
                grants: Grants {
                    config: BTreeMap::new(),
                    ..Default::default()
                },
                warm_instances: warm,
                ..Default::default()
            },
        ))
        .expect("load guest")
}

fn notif(backend: AnyBackend) -> Arc<dyn notifications::Backend> {
    match backend {
        AnyBackend::Notifications(n) => n,
        other => panic!("{other:?}"),
    }
}

/// A registry loaded from a real config naming the component twice (a warm instance, a fresh
/// store per call), and the two metered handles the controller would resolve.
struct ViaRegistry {
    _dir: tempfile::TempDir,
    registry: robodev_registry::Registry,
}

impl ViaRegistry {
    fn load(tokio: &tokio::runtime::Runtime) -> ViaRegistry {
        let dir = tempfile::tempdir().expect("tempdir");
        let component = guests::guest("notify_webhook");
        let text = format!(
            "state_dir: state\n\
             ticketing: {{ backend: local, config: {{ file: tickets.yaml }} }}\n\
             notifications: {{ channels: [ {{ backend: hook-warm }}, {{ backend: hook-fresh }} ] }}\n\
             engines: {{ default: local, local: {{ image: ghcr.io/acme/agent:1, command: [agent] }} }}\n\
             plugins:\n\
             \x20 - {{ name: hook-warm, type: notifications, interface_version: 1, component: {c}, instance: {{ warm: 1 }} }}\n\
             \x20 - {{ name: hook-fresh, type: notifications, interface_version: 1, component: {c}, instance: fresh }}\n",
            c = component.display()
        );
        std::fs::write(dir.path().join("tickets.yaml"), "tickets: []\n").expect("tickets");
        let config = robodev_controller::config::Config::parse(
            &text,
            &dir.path().join("robodev-config.yaml"),
        )
        .expect("config");
        let registry = tokio
            .block_on(robodev_registry::Registry::load(
                &config.host(),
                robodev_registry::LoadOptions::no_compile_cache(),
            ))
            .expect("plugins");
        ViaRegistry {
            _dir: dir,
            registry,
        }
    }

    fn channel(&self, name: &str) -> Arc<dyn notifications::Backend> {
        let entry = self
            .registry
            .get(Interface::Notifications, name)
            .expect("loaded");
        notif(entry.backend.clone())
    }
}

fn floors(runtime: &Runtime) -> Vec<(&'static str, Floor)> {
    let limits = Limits::default();
    let ticks = limits
        .timeout
        .as_nanos()
        .div_ceil(robodev_wasm::EPOCH_TICK.as_nanos()) as u64;
    let path = guests::guest("notify_webhook");
    [
        ("wasmtime_sync_no_limits", Mode::SyncUnlimited),
        ("wasmtime_sync", Mode::SyncLimited),
        ("wasmtime_async", Mode::AsyncLimited),
    ]
    .into_iter()
    .map(|(name, mode)| {
        let floor = Floor::new(mode, runtime.engine(), &path, limits.fuel, ticks).expect("floor");
        (name, floor)
    })
    .collect()
}

// A floor's warm instance sits in a `RefCell` borrowed across the call's await: every call
// runs on one current-thread runtime, one after the other, so no borrow ever overlaps (an
// async mutex would add its own cost to the floor).
#[allow(clippy::await_holding_refcell_ref)]
fn small_call(c: &mut Criterion) {
    let tokio = rt();
    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let floors = floors(&runtime);
    let via = ViaRegistry::load(&tokio);

    let mut group = c.benchmark_group("peers_small_warm");
    let native: Arc<dyn notifications::Backend> = Arc::new(NativeNotify);
    group.bench_function("native", |b| {
        b.to_async(&tokio)
            .iter(|| async { native.notify(notify_request()).await.expect("notify") })
    });
    for (name, floor) in &floors {
        let instance = RefCell::new(tokio.block_on(floor.instantiate()).expect("instance"));
        group.bench_function(*name, |b| {
            b.to_async(&tokio).iter(|| async {
                let mut instance = instance.borrow_mut();
                floor.notify(&mut instance).await.expect("notify")
            })
        });
    }
    let warm = notif(load(&tokio, &runtime, 1).backend());
    let registry_warm = via.channel("hook-warm");
    for (name, backend) in [("robodev", &warm), ("robodev_registry", &registry_warm)] {
        group.bench_function(name, |b| {
            b.to_async(&tokio)
                .iter(|| async { backend.notify(notify_request()).await.expect("notify") })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("peers_small_fresh");
    for (name, floor) in &floors {
        group.bench_function(*name, |b| {
            b.to_async(&tokio)
                .iter(|| async { floor.notify_fresh().await.expect("notify") })
        });
    }
    let fresh = notif(load(&tokio, &runtime, 0).backend());
    let registry_fresh = via.channel("hook-fresh");
    for (name, backend) in [("robodev", &fresh), ("robodev_registry", &registry_fresh)] {
        group.bench_function(name, |b| {
            b.to_async(&tokio)
                .iter(|| async { backend.notify(notify_request()).await.expect("notify") })
        });
    }
    group.finish();

    // Instantiation alone: a fresh store and instance, dropped without a call.
    let mut group = c.benchmark_group("peers_instantiate");
    for (name, floor) in &floors {
        group.bench_function(*name, |b| {
            b.to_async(&tokio)
                .iter(|| async { drop(floor.instantiate().await.expect("instance")) })
        });
    }
    let plugin = load(&tokio, &runtime, 0);
    group.bench_function("robodev", |b| {
        b.to_async(&tokio)
            .iter(|| async { plugin.probe().await.expect("instantiate") })
    });
    group.finish();

    // The ratios of the targets, measured so that the machine's drift (this one's speed moves
    // by a third within minutes) hits both sides alike: rounds of a batch of calls on one
    // path, then on the other, in alternating order; the median over rounds of each round's
    // ratio.
    let floor = |name| &floors.iter().find(|(n, _)| *n == name).expect("floor").1;
    let warm_floor = |name| {
        let f = floor(name);
        (
            f,
            RefCell::new(tokio.block_on(f.instantiate()).expect("instance")),
        )
    };
    let (sync_f, sync_i) = warm_floor("wasmtime_sync");
    let (async_f, async_i) = warm_floor("wasmtime_async");
    let pairs: [(&str, Path, Path, usize); 4] = [
        (
            "warm: robodev / wasmtime async",
            Path::Backend(&warm),
            Path::Floor(async_f, &async_i),
            2000,
        ),
        (
            "warm: robodev / wasmtime sync",
            Path::Backend(&warm),
            Path::Floor(sync_f, &sync_i),
            2000,
        ),
        (
            "warm: registry / robodev",
            Path::Backend(&registry_warm),
            Path::Backend(&warm),
            2000,
        ),
        (
            "fresh: robodev / wasmtime async",
            Path::Backend(&fresh),
            Path::FloorFresh(floor("wasmtime_async")),
            200,
        ),
    ];
    let mut paired = Vec::new();
    for (what, a, b, n) in pairs {
        let p = report::Paired::measure(what, 41, |first| {
            let (x, y) = if first { (&a, &b) } else { (&b, &a) };
            let tx = time_batch(&tokio, x, n);
            let ty = time_batch(&tokio, y, n);
            if first { (tx, ty) } else { (ty, tx) }
        });
        println!("{}", p.line());
        paired.push(p);
    }
    report::Paired::save(&report::criterion_dir(), &paired);
}

/// One path of the paired comparison.
enum Path<'a> {
    Floor(&'a Floor, &'a RefCell<robodev_benches::raw::Instance>),
    FloorFresh(&'a Floor),
    Backend(&'a Arc<dyn notifications::Backend>),
}

/// Nanoseconds per call of `n` calls on `path`, in one `block_on`.
#[allow(clippy::await_holding_refcell_ref)] // as in `small_call`
fn time_batch(tokio: &tokio::runtime::Runtime, path: &Path, n: usize) -> f64 {
    let started = std::time::Instant::now();
    tokio.block_on(async {
        for _ in 0..n {
            match path {
                Path::Floor(f, i) => f.notify(&mut i.borrow_mut()).await.expect("notify"),
                Path::FloorFresh(f) => f.notify_fresh().await.expect("notify"),
                Path::Backend(b) => {
                    b.notify(notify_request()).await.expect("notify");
                }
            }
        }
    });
    started.elapsed().as_nanos() as f64 / n as f64
}

fn main() {
    // Filtered as `robodev run` filters by default; the lines that pass are discarded.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            robodev_controller::RUN_LOG_FILTER,
        ))
        .with_writer(std::io::sink)
        .init();
    let mut c = Criterion::default().configure_from_args();
    small_call(&mut c);
    c.final_summary();
    let dir = report::criterion_dir();
    report::peers(&dir);
    // scripts/bench-peers: also into BENCHMARKS.md, plots into docs/bench/.
    if let Some(command) = std::env::var_os("ROBODEV_BENCH_WRITE") {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        match report::write_section(
            &dir,
            &root.join("BENCHMARKS.md"),
            &root.join("docs/bench"),
            "docs/bench",
            &command.to_string_lossy(),
        ) {
            Ok(()) => println!("wrote BENCHMARKS.md and docs/bench/"),
            Err(e) => {
                eprintln!("bench-peers: {e}");
                std::process::exit(1);
            }
        }
    }
}
