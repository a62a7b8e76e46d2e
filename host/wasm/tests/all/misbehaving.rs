//! Misbehaving guests: each limit hit or crash is its own typed failure, and the very next
//! call on the same plugin succeeds.

use std::time::Duration;

use robodev_core::{Error, Failure, Interface, Outcome};
use robodev_wasm::{Grants, Limits, PluginOptions};

use crate::{load, notify, options};

fn chaos_options(limits: Limits, warm: usize) -> PluginOptions {
    PluginOptions {
        limits,
        warm_instances: warm,
        ..options("chaos", Interface::Notifications, Grants::default())
    }
}

fn failure(r: Result<(), Error>) -> Failure {
    match r {
        Err(Error::Failed {
            failure,
            plugin,
            interface,
        }) => {
            assert_eq!(plugin, "chaos");
            assert_eq!(interface, Interface::Notifications);
            failure
        }
        other => panic!("expected a plugin failure, got {other:?}"),
    }
}

async fn each_failure_then_a_good_call(warm: usize) {
    // Fuel high enough that the deadline, not the fuel, stops the loop (1e9 units, the
    // default, burn in about as long as 200 ms in a tight loop).
    let limits = Limits {
        timeout: Duration::from_millis(200),
        fuel: 1_000_000_000_000,
        ..Limits::default().with_memory_mb(32)
    };
    let plugin = load("chaos", chaos_options(limits, warm)).await;
    let b = plugin.backend();
    notify(&b, "hello").await.expect("a good call");

    let f = failure(notify(&b, "loop").await);
    assert_eq!(
        f,
        Failure::DeadlineExceeded {
            limit: Duration::from_millis(200)
        }
    );
    notify(&b, "hello")
        .await
        .expect("good call after the deadline");

    let f = failure(notify(&b, "bomb").await);
    assert_eq!(
        f,
        Failure::MemoryLimit {
            limit_bytes: 32 * 1024 * 1024
        }
    );
    notify(&b, "hello")
        .await
        .expect("good call after the memory cap");

    let f = failure(notify(&b, "overflow").await);
    assert_eq!(f, Failure::StackOverflow);
    notify(&b, "hello")
        .await
        .expect("good call after the stack overflow");

    let f = failure(notify(&b, "panic").await);
    match &f {
        Failure::Panicked { detail } => {
            assert!(detail.contains("chaos asked to panic"), "{detail}")
        }
        other => panic!("expected a panic, got {other:?}"),
    }
    notify(&b, "hello")
        .await
        .expect("good call after the panic");

    let f = failure(notify(&b, "trap").await);
    assert!(matches!(f, Failure::Trap { .. }), "{f:?}");
    notify(&b, "hello").await.expect("good call after the trap");

    // Every limit hit is counted under its own label (metrics read these).
    let stats = plugin.stats();
    assert_eq!(
        stats.failures,
        vec![
            ("deadline_exceeded", 1),
            ("memory_limit", 1),
            ("stack_overflow", 1),
            ("panicked", 1),
            ("trap", 1)
        ]
    );
    assert_eq!(stats.calls, 12, "handshake + 11 notify calls");
    assert_eq!(stats.domain_errors, 0);
}

#[tokio::test]
async fn every_failure_is_typed_and_the_next_call_works_fresh_stores() {
    each_failure_then_a_good_call(0).await;
}

#[tokio::test]
async fn every_failure_is_typed_and_the_next_call_works_warm_instances() {
    each_failure_then_a_good_call(2).await;
}

#[tokio::test]
async fn fuel_budget_stops_a_loop() {
    let limits = Limits {
        fuel: 5_000_000,
        timeout: Duration::from_secs(30),
        ..Limits::default()
    };
    let plugin = load("chaos", chaos_options(limits, 0)).await;
    let b = plugin.backend();
    let f = failure(notify(&b, "loop").await);
    assert_eq!(f, Failure::OutOfFuel { budget: 5_000_000 });
    assert_eq!(f.label(), "out_of_fuel");
    notify(&b, "hello")
        .await
        .expect("good call after running out of fuel");
}

#[tokio::test]
async fn domain_errors_are_not_failures() {
    let plugin = load("chaos", chaos_options(Limits::default(), 0)).await;
    let b = plugin.backend();
    let err = notify(&b, "error:not-found").await.unwrap_err();
    assert_eq!(err.outcome(), Outcome::Domain);
    assert_eq!(err.label(), "not_found");
    let err = notify(&b, "error:unavailable").await.unwrap_err();
    assert_eq!(err.label(), "unavailable");
    assert_eq!(err.to_json()["grpcCode"], 14);
}

#[tokio::test]
async fn concurrent_calls_on_one_plugin() {
    let plugin = load("chaos", chaos_options(Limits::default(), 4)).await;
    let b = plugin.backend();
    let calls = (0..16).map(|i| {
        let b = b.clone();
        tokio::spawn(async move { notify(&b, &format!("hello {i}")).await })
    });
    for c in calls {
        c.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn on_demand_allocation_enforces_the_same_limits() {
    let rt = robodev_wasm::Runtime::new(robodev_wasm::RuntimeConfig {
        allocation: robodev_wasm::Allocation::OnDemand,
        ..Default::default()
    })
    .unwrap();
    assert!(!rt.pooling());
    assert!(
        crate::runtime().pooling(),
        "the default runtime pools on this machine"
    );
    let limits = Limits::default().with_memory_mb(16);
    let plugin = rt
        .load(&crate::support::guest("chaos"), chaos_options(limits, 0))
        .await
        .unwrap();
    let b = plugin.backend();
    assert_eq!(
        failure(notify(&b, "bomb").await),
        Failure::MemoryLimit {
            limit_bytes: 16 * 1024 * 1024
        }
    );
    notify(&b, "hello").await.unwrap();
}
