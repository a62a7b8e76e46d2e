//! What a plugin call costs: Wasm components (fresh store per call vs warm instance) against
//! native Rust implementations of the same traits; component compile vs cached load; bare
//! instantiation; and how fast a runaway guest is stopped. Figures: BENCHMARKS.md.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use robodev_benches::{NativeNotify, NativeReview, NativeTicketing, synthetic_diff};
use robodev_core::{AnyBackend, Interface, notifications, review, ticketing};
use robodev_test_support::guests;
use robodev_wasm::{Grants, Limits, PluginOptions, Runtime, RuntimeConfig, WasmPlugin};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn load(
    tokio: &tokio::runtime::Runtime,
    runtime: &Runtime,
    guest: &str,
    interface: Interface,
    config: BTreeMap<String, String>,
    warm: usize,
) -> WasmPlugin {
    let grants = Grants {
        config,
        ..Default::default()
    };
    load_with(tokio, runtime, guest, interface, grants, warm)
}

fn load_with(
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

fn small_call(c: &mut Criterion) {
    let tokio = rt();
    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let mut group = c.benchmark_group("notify_one_ticket");
    let backends: Vec<(&str, Arc<dyn notifications::Backend>)> = vec![
        ("native", Arc::new(NativeNotify)),
        (
            "wasm_fresh_store",
            notif(load(
                &tokio,
                &runtime,
                "notify_webhook",
                Interface::Notifications,
                BTreeMap::new(),
                0,
            )),
        ),
        (
            "wasm_warm_no_host_call",
            notif(load(
                &tokio,
                &runtime,
                "chaos",
                Interface::Notifications,
                BTreeMap::new(),
                1,
            )),
        ),
        (
            "wasm_warm",
            notif(load(
                &tokio,
                &runtime,
                "notify_webhook",
                Interface::Notifications,
                BTreeMap::new(),
                1,
            )),
        ),
    ];
    for (name, b) in &backends {
        group.bench_function(*name, |bench| {
            bench.to_async(&tokio).iter(|| async {
                b.notify(robodev_benches::notify_request())
                    .await
                    .expect("notify")
            })
        });
    }
    // The floor: the smallest request (an empty message, no ticket: nothing to copy into the
    // guest but one empty string) to a warm instance that makes no host call.
    let (_, chaos) = &backends[2];
    group.bench_function("wasm_warm_empty_request", |bench| {
        bench.to_async(&tokio).iter(|| async {
            chaos
                .notify(notifications::NotifyRequest::default())
                .await
                .expect("notify")
        })
    });
    group.finish();
}

fn notif(p: WasmPlugin) -> Arc<dyn notifications::Backend> {
    match p.backend() {
        AnyBackend::Notifications(n) => n,
        other => panic!("{other:?}"),
    }
}

fn large_calls(c: &mut Criterion) {
    let tokio = rt();
    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let gen100 = BTreeMap::from([("generate".to_owned(), "100".to_owned())]);
    // The guest seeds its synthetic tickets into kv on first use: give it a temporary store.
    let kv = tempfile::tempdir().expect("tempdir");
    let tix_kv = |warm| {
        let grants = Grants {
            config: gen100.clone(),
            kv_dir: Some(kv.path().to_owned()),
            ..Default::default()
        };
        match load_with(
            &tokio,
            &runtime,
            "ticketing_kv",
            Interface::Ticketing,
            grants,
            warm,
        )
        .backend()
        {
            AnyBackend::Ticketing(t) => t,
            other => panic!("{other:?}"),
        }
    };
    let poll = ticketing::PollReadyTicketsRequest {
        labels: vec!["robodev".into()],
        max_results: 100,
    };
    let mut group = c.benchmark_group("poll_100_tickets");
    let backends: Vec<(&str, Arc<dyn ticketing::Backend>)> = vec![
        ("native", Arc::new(NativeTicketing::generate(100))),
        ("wasm_fresh_store", tix_kv(0)),
        ("wasm_warm", tix_kv(1)),
    ];
    for (name, b) in backends {
        let n = tokio
            .block_on(b.poll_ready_tickets(poll.clone()))
            .expect("poll")
            .tickets
            .len();
        assert_eq!(n, 100, "{name} returns 100 tickets");
        group.bench_function(name, |bench| {
            bench.iter(|| {
                tokio
                    .block_on(b.poll_ready_tickets(poll.clone()))
                    .expect("poll")
            })
        });
    }
    group.finish();

    let diff = synthetic_diff(1 << 20);
    let request = review::ReviewDiffRequest {
        task_run_id: "bench".into(),
        diff,
        ..Default::default()
    };
    let rev = |warm| match load(
        &tokio,
        &runtime,
        "review_rules",
        Interface::Review,
        BTreeMap::new(),
        warm,
    )
    .backend()
    {
        AnyBackend::Review(r) => r,
        other => panic!("{other:?}"),
    };
    let mut group = c.benchmark_group("review_1mib_diff");
    group.sample_size(20);
    let backends: Vec<(&str, Arc<dyn review::Backend>)> = vec![
        ("native", Arc::new(NativeReview)),
        ("wasm_fresh_store", rev(0)),
        ("wasm_warm", rev(1)),
    ];
    for (name, b) in backends {
        group.bench_function(name, |bench| {
            bench.iter(|| {
                tokio
                    .block_on(b.review_diff(request.clone()))
                    .expect("review")
            })
        });
    }
    group.finish();
}

fn loading(c: &mut Criterion) {
    let tokio = rt();
    let cache = tempfile::tempdir().expect("tempdir");
    let cached = Runtime::new(RuntimeConfig {
        cache_dir: Some(cache.path().to_owned()),
        ..Default::default()
    })
    .expect("runtime");
    let uncached = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let path = guests::guest("notify_webhook");
    // Fill the cache once.
    tokio
        .block_on(cached.load_file("bench", &path))
        .expect("load");
    let mut group = c.benchmark_group("load_component");
    group.sample_size(20);
    group.bench_function("compile", |b| {
        b.iter(|| {
            tokio
                .block_on(uncached.load_file("bench", &path))
                .expect("compile")
        })
    });
    group.bench_function("cached", |b| {
        b.iter(|| {
            tokio
                .block_on(cached.load_file("bench", &path))
                .expect("cached")
        })
    });
    group.finish();

    // Instantiation alone: a fresh store and instance, dropped without a call.
    let plugin = load(
        &tokio,
        &uncached,
        "notify_webhook",
        Interface::Notifications,
        BTreeMap::new(),
        0,
    );
    c.bench_function("instantiate_fresh_store", |bench| {
        bench
            .to_async(&tokio)
            .iter(|| async { plugin.probe().await.expect("instantiate") })
    });
}

/// Not a criterion measurement: how long after its 100 ms deadline an infinite loop is stopped
/// (printed; BENCHMARKS.md records it).
fn deadline(c: &mut Criterion) {
    let tokio = rt();
    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let plugin = tokio
        .block_on(runtime.load(
            &guests::guest("chaos"),
            PluginOptions {
                max_component_bytes: None,
                name: "chaos".into(),
                expected: Some(Interface::Notifications),
                // Fuel out of the way: the deadline alone must stop the loop.
                limits: Limits {
                    timeout: Duration::from_millis(100),
                    fuel: u64::MAX,
                    ..Limits::default()
                },
                ..Default::default()
            },
        ))
        .expect("load chaos");
    let n = notif(plugin);
    let mut group = c.benchmark_group("infinite_loop_deadline_100ms");
    group.sample_size(10);
    group.bench_function(BenchmarkId::from_parameter("stop"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let r = tokio.block_on(n.notify(notifications::NotifyRequest {
                    message: "loop".into(),
                    ticket: None,
                }));
                total += start.elapsed();
                assert!(
                    matches!(
                        r,
                        Err(robodev_core::Error::Failed {
                            failure: robodev_core::Failure::DeadlineExceeded { .. },
                            ..
                        })
                    ),
                    "{r:?}"
                );
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, small_call, large_calls, loading, deadline);
criterion_main!(benches);
