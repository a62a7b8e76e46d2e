//! Side by side: the same work on every path a plugin call can take, in one run, so that the
//! ratios BENCHMARKS.md states come from one machine at one time.
//!
//! Paths: native Rust (the same trait, no sandbox); the floor, plain wasmtime 48 calling the
//! same component through `bindgen!` exports (`robodev_benches::raw`) synchronously without
//! limits, synchronously with robodev's limits, and asynchronously with robodev's limits;
//! robodev's Wasm plugin called directly; the same plugin through the registry, as the
//! controller calls it (the metered, switchable, swappable handle `Registry::resolve` gives);
//! with the feature `extism`, Extism 1.30 calling an equivalent plug-in
//! (`robodev_benches::extism`).
//!
//! The work: a small call (`notify` with one ticket, `notify-webhook`), a 100-ticket poll
//! (`ticketing-kv`, its tickets in the host kv store) and the review of a 1 MiB diff
//! (`review-rules`).
//!
//! At the end it prints the summary table (`robodev_benches::report`) from criterion's
//! estimates and writes it, with plots, under `target/criterion/peers/`; `scripts/bench-peers`
//! copies them into BENCHMARKS.md and `docs/bench/`.

use std::cell::RefCell;
use std::sync::Arc;

use criterion::Criterion;
use robodev_benches::raw::{Floor, Mode, World};
use robodev_benches::{NativeNotify, NativeReview, NativeTicketing, report, synthetic_diff};
use robodev_core::{AnyBackend, Interface, notifications, review, ticketing};
use robodev_test_support::guests;
use robodev_wasm::{Grants, Limits, PluginOptions, Runtime, RuntimeConfig, WasmPlugin};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn load(tokio: &tokio::runtime::Runtime, runtime: &Runtime, warm: usize) -> WasmPlugin {
    load_guest(
        tokio,
        runtime,
        "notify_webhook",
        Interface::Notifications,
        Grants::default(),
        warm,
    )
}

fn load_guest(
    tokio: &tokio::runtime::Runtime,
    runtime: &Runtime,
    guest: &str,
    interface: Interface,
    grants: Grants,
    warm: usize,
) -> WasmPlugin {
    tokio
        .block_on(runtime.load(
            &guests::guest(guest),
            PluginOptions {
                name: guest.into(),
                expected: Some(interface),
                grants,
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

/// A registry loaded from a real config: the notifications component twice (a warm instance,
/// a fresh store per call), the ticketing component (kv on, 100 synthetic tickets) as the
/// ticketing backend and the review component as the review gate, each kept warm; the
/// metered handles the controller would resolve.
struct ViaRegistry {
    _dir: tempfile::TempDir,
    registry: robodev_registry::Registry,
}

impl ViaRegistry {
    fn load(tokio: &tokio::runtime::Runtime) -> ViaRegistry {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = format!(
            "state_dir: state\n\
             ticketing: {{ backend: tix, labels: [robodev] }}\n\
             review: {{ backend: rev }}\n\
             notifications: {{ channels: [ {{ backend: hook-warm }}, {{ backend: hook-fresh }} ] }}\n\
             engines: {{ default: local, local: {{ image: ghcr.io/acme/agent:1, command: [agent] }} }}\n\
             plugins:\n\
             \x20 - {{ name: hook-warm, type: notifications, interface_version: 1, component: {n}, instance: {{ warm: 1 }} }}\n\
             \x20 - {{ name: hook-fresh, type: notifications, interface_version: 1, component: {n}, instance: fresh }}\n\
             \x20 - {{ name: tix, type: ticketing, interface_version: 1, component: {t}, kv: true, config: {{ generate: \"100\" }}, instance: {{ warm: 1 }} }}\n\
             \x20 - {{ name: rev, type: review, interface_version: 1, component: {r}, instance: {{ warm: 1 }} }}\n",
            n = guests::guest("notify_webhook").display(),
            t = guests::guest("ticketing_kv").display(),
            r = guests::guest("review_rules").display(),
        );
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

    fn backend(&self, interface: Interface, name: &str) -> AnyBackend {
        let entry = self.registry.get(interface, name).expect("loaded");
        entry.backend.clone()
    }

    fn channel(&self, name: &str) -> Arc<dyn notifications::Backend> {
        notif(self.backend(Interface::Notifications, name))
    }
}

/// The three floors of `world` on the component `guest`, whose config answers `config`, kv
/// granted or not (as robodev's plugin of the same work).
fn floors(
    runtime: &Runtime,
    world: World,
    guest: &str,
    config: &[(&str, &str)],
    kv: bool,
) -> Vec<(&'static str, Floor)> {
    let limits = Limits::default();
    let ticks = limits
        .timeout
        .as_nanos()
        .div_ceil(robodev_wasm::EPOCH_TICK.as_nanos()) as u64;
    let path = guests::guest(guest);
    [
        ("wasmtime_sync_no_limits", Mode::SyncUnlimited),
        ("wasmtime_sync", Mode::SyncLimited),
        ("wasmtime_async", Mode::AsyncLimited),
    ]
    .into_iter()
    .map(|(name, mode)| {
        let floor = Floor::of(
            world.clone(),
            mode,
            runtime.engine(),
            &path,
            limits.fuel,
            ticks,
            config,
            kv,
        )
        .expect("floor");
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
    let floors = floors(&runtime, World::Notify, "notify_webhook", &[], false);
    let via = ViaRegistry::load(&tokio);

    let mut group = c.benchmark_group("peers_small_warm");
    let native: Arc<dyn notifications::Backend> = Arc::new(NativeNotify);
    group.bench_function("native", |b| {
        b.to_async(&tokio).iter(|| async {
            native
                .notify(robodev_benches::notify_request())
                .await
                .expect("notify")
        })
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
            b.to_async(&tokio).iter(|| async {
                backend
                    .notify(robodev_benches::notify_request())
                    .await
                    .expect("notify")
            })
        });
    }
    #[cfg(feature = "extism")]
    group.bench_function("extism", |b| {
        let mut warm = extism().warm().expect("extism plug-in");
        b.iter(|| warm.notify().expect("extism notify"))
    });
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
            b.to_async(&tokio).iter(|| async {
                backend
                    .notify(robodev_benches::notify_request())
                    .await
                    .expect("notify")
            })
        });
    }
    #[cfg(feature = "extism")]
    group.bench_function("extism", |b| {
        let peer = extism();
        b.iter(|| peer.notify_fresh().expect("extism notify"))
    });
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
    // The metering layer alone: the native backend behind it, as the registry wraps a plugin.
    let metered_native = notif(robodev_registry::metered::wrap(
        AnyBackend::Notifications(native.clone()),
        robodev_registry::calls::CallLabels {
            plugin: "native".into(),
            interface: Interface::Notifications,
            runtime: robodev_core::RuntimeKind::Builtin,
            version: "1.0.0".into(),
        },
        Arc::new(robodev_registry::metrics::Metrics::new()),
        robodev_registry::calls::Switches::new().switch(Interface::Notifications, "native"),
    ));
    let pairs: [(&str, Path, Path, usize); 5] = [
        (
            "warm: robodev / wasmtime async",
            Path::Notify(&warm),
            Path::Floor(async_f, &async_i),
            2000,
        ),
        (
            "warm: robodev / wasmtime sync",
            Path::Notify(&warm),
            Path::Floor(sync_f, &sync_i),
            2000,
        ),
        (
            "warm: registry / robodev",
            Path::Notify(&registry_warm),
            Path::Notify(&warm),
            2000,
        ),
        (
            "warm: metered native / native",
            Path::Notify(&metered_native),
            Path::Notify(&native),
            4000,
        ),
        (
            "fresh: robodev / wasmtime async",
            Path::Notify(&fresh),
            Path::FloorFresh(floor("wasmtime_async")),
            200,
        ),
    ];
    let mut paired: Vec<_> = pairs
        .into_iter()
        .map(|(what, a, b, n)| pair(&tokio, what, &a, &b, n, 41))
        .collect();
    paired.extend(large_calls(c, &tokio, &runtime, &via));
    report::Paired::save(&report::criterion_dir(), &paired);
}

/// `what`'s ratio A / B in `rounds` alternating rounds of `n` calls on each.
fn pair(
    tokio: &tokio::runtime::Runtime,
    what: &str,
    a: &Path,
    b: &Path,
    n: usize,
    rounds: usize,
) -> report::Paired {
    let p = report::Paired::measure(what, rounds, |first| {
        let (x, y) = if first { (a, b) } else { (b, a) };
        let tx = time_batch(tokio, x, n);
        let ty = time_batch(tokio, y, n);
        if first { (tx, ty) } else { (ty, tx) }
    });
    println!("{}", p.line());
    p
}

/// The 100-ticket poll and the 1 MiB review on every path, warm; their ratios to the floor.
fn large_calls(
    c: &mut Criterion,
    tokio: &tokio::runtime::Runtime,
    runtime: &Runtime,
    via: &ViaRegistry,
) -> Vec<report::Paired> {
    let generate = [("generate", "100")];
    let diff: Arc<str> = synthetic_diff(1 << 20).into();
    let poll_floors = floors(runtime, World::Poll, "ticketing_kv", &generate, true);
    let review_floors = floors(
        runtime,
        World::Review(diff.clone()),
        "review_rules",
        &[],
        false,
    );
    // The guest seeds its synthetic tickets into kv on first use: give it a temporary store.
    let kv = tempfile::tempdir().expect("tempdir");
    let grants = Grants {
        config: generate
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        kv_dir: Some(kv.path().to_owned()),
        ..Default::default()
    };
    let tix = ticketing_of(
        load_guest(
            tokio,
            runtime,
            "ticketing_kv",
            Interface::Ticketing,
            grants,
            1,
        )
        .backend(),
    );
    let registry_tix = ticketing_of(via.backend(Interface::Ticketing, "tix"));
    let native_tix: Arc<dyn ticketing::Backend> = Arc::new(NativeTicketing::generate(100));
    let rev = review_of(
        load_guest(
            tokio,
            runtime,
            "review_rules",
            Interface::Review,
            Grants::default(),
            1,
        )
        .backend(),
    );
    let registry_rev = review_of(via.backend(Interface::Review, "rev"));
    let native_rev: Arc<dyn review::Backend> = Arc::new(NativeReview);
    let request = review::ReviewDiffRequest {
        task_run_id: "bench".into(),
        diff: diff.to_string(),
        ..Default::default()
    };
    let instances = |floors: &[(&str, Floor)]| -> Vec<RefCell<robodev_benches::raw::Instance>> {
        floors
            .iter()
            .map(|(_, f)| RefCell::new(tokio.block_on(f.instantiate()).expect("instance")))
            .collect()
    };
    let (poll_i, review_i) = (instances(&poll_floors), instances(&review_floors));
    let poll_rows = rows(
        &poll_floors,
        &poll_i,
        Path::Poll(&native_tix),
        Path::Poll(&tix),
        Path::Poll(&registry_tix),
    );
    let review_rows = rows(
        &review_floors,
        &review_i,
        Path::Review(&native_rev, &request),
        Path::Review(&rev, &request),
        Path::Review(&registry_rev, &request),
    );
    for (group, rows, samples) in [
        ("peers_poll_100", &poll_rows, 100),
        ("peers_review_1mib", &review_rows, 20),
    ] {
        let mut g = c.benchmark_group(group);
        g.sample_size(samples);
        for (name, path) in rows {
            // Every path answers right before it is timed.
            tokio.block_on(path.call(path.prepare()));
            g.bench_function(*name, |b| {
                b.to_async(tokio).iter_batched(
                    || path.prepare(),
                    |prepared| path.call(prepared),
                    criterion::BatchSize::SmallInput,
                )
            });
        }
        // Extism's calls are synchronous: no runtime around them. Each checks its answer.
        #[cfg(feature = "extism")]
        g.bench_function("extism", |b| {
            let mut warm = extism().warm().expect("extism plug-in");
            if group == "peers_poll_100" {
                b.iter(|| warm.poll().expect("extism poll"))
            } else {
                b.iter(|| warm.review(&diff).expect("extism review"))
            }
        });
        g.finish();
    }
    let async_row = |rows: &[(&str, Path<'_>)]| {
        rows.iter()
            .position(|(n, _)| *n == "wasmtime_async")
            .expect("floor")
    };
    let (pa, ra) = (async_row(&poll_rows), async_row(&review_rows));
    let robodev_row = |rows: &[(&str, Path<'_>)]| {
        rows.iter()
            .position(|(n, _)| *n == "robodev")
            .expect("robodev")
    };
    let (pr, rr) = (robodev_row(&poll_rows), robodev_row(&review_rows));
    vec![
        pair(
            tokio,
            "poll: robodev / wasmtime async",
            &poll_rows[pr].1,
            &poll_rows[pa].1,
            50,
            21,
        ),
        pair(
            tokio,
            "review: robodev / wasmtime async",
            &review_rows[rr].1,
            &review_rows[ra].1,
            2,
            21,
        ),
    ]
}

/// The rows of a group: native, the floors (on their warm instances), robodev, the registry.
fn rows<'a>(
    floors: &'a [(&'static str, Floor)],
    instances: &'a [RefCell<robodev_benches::raw::Instance>],
    native: Path<'a>,
    robodev: Path<'a>,
    registry: Path<'a>,
) -> Vec<(&'static str, Path<'a>)> {
    let mut rows = vec![("native", native)];
    rows.extend(
        floors
            .iter()
            .zip(instances)
            .map(|((n, f), i)| (*n, Path::Floor(f, i))),
    );
    rows.extend([("robodev", robodev), ("robodev_registry", registry)]);
    rows
}

/// The Extism peer (feature `extism`; `scripts/bench-peers` turns it on): the equivalent
/// plug-in (`benches/extism-guest`), compiled once per process.
#[cfg(feature = "extism")]
fn extism() -> &'static robodev_benches::extism::ExtismPeer {
    static PEER: std::sync::OnceLock<robodev_benches::extism::ExtismPeer> =
        std::sync::OnceLock::new();
    PEER.get_or_init(|| {
        robodev_benches::extism::ExtismPeer::new(&robodev_benches::extism::guest_path())
            .expect("the Extism plug-in")
    })
}

fn ticketing_of(backend: AnyBackend) -> Arc<dyn ticketing::Backend> {
    match backend {
        AnyBackend::Ticketing(t) => t,
        other => panic!("{other:?}"),
    }
}

fn review_of(backend: AnyBackend) -> Arc<dyn review::Backend> {
    match backend {
        AnyBackend::Review(r) => r,
        other => panic!("{other:?}"),
    }
}

/// One path of a comparison: a floor's warm instance or fresh stores, or a robodev (or native)
/// backend of one of the three kinds of work.
enum Path<'a> {
    Floor(&'a Floor, &'a RefCell<robodev_benches::raw::Instance>),
    FloorFresh(&'a Floor),
    Notify(&'a Arc<dyn notifications::Backend>),
    Poll(&'a Arc<dyn ticketing::Backend>),
    Review(&'a Arc<dyn review::Backend>, &'a review::ReviewDiffRequest),
}

impl Path<'_> {
    /// What one call needs before it is timed: a review takes its request by value, and the
    /// caller's 1 MiB copy of it is not the plugin host's work (the floor borrows the diff).
    fn prepare(&self) -> Option<review::ReviewDiffRequest> {
        match self {
            Path::Review(_, request) => Some((*request).clone()),
            _ => None,
        }
    }

    /// One call, its answer checked.
    #[allow(clippy::await_holding_refcell_ref)] // as in `small_call`
    async fn call(&self, prepared: Option<review::ReviewDiffRequest>) {
        match self {
            Path::Floor(f, i) => f.call(&mut i.borrow_mut()).await.expect("floor call"),
            Path::FloorFresh(f) => f.call_fresh().await.expect("floor call"),
            Path::Notify(b) => {
                b.notify(robodev_benches::notify_request())
                    .await
                    .expect("notify");
            }
            Path::Poll(b) => {
                let r = b
                    .poll_ready_tickets(ticketing::PollReadyTicketsRequest {
                        labels: vec![robodev_benches::raw::POLL_LABEL.into()],
                        max_results: robodev_benches::raw::POLL_TICKETS as i32,
                    })
                    .await
                    .expect("poll");
                assert_eq!(r.tickets.len(), robodev_benches::raw::POLL_TICKETS);
            }
            Path::Review(b, _) => {
                let r = b
                    .review_diff(prepared.expect("prepared"))
                    .await
                    .expect("review");
                assert!(r.gate_result.is_some(), "review answered no gate result");
            }
        }
    }
}

/// Nanoseconds per call of `n` calls on `path`, in one `block_on`.
fn time_batch(tokio: &tokio::runtime::Runtime, path: &Path, n: usize) -> f64 {
    let mut prepared: Vec<_> = (0..n).map(|_| path.prepare()).collect();
    let started = std::time::Instant::now();
    tokio.block_on(async {
        for p in prepared.drain(..) {
            path.call(p).await;
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
