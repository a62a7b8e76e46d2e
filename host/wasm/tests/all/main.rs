//! Integration tests of robodev-wasm against real guest components built from `guests/`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on the first unexpected value"
)]

mod support;

mod cache;
mod http;
mod interfaces;
mod misbehaving;
mod refusals;
mod sandbox;
mod toolchains;

use std::sync::OnceLock;

use robodev_core::{AnyBackend, Error, ErrorCode, Interface, Ticket, notifications};
use robodev_wasm::{Grants, PluginOptions, Runtime, RuntimeConfig, WasmPlugin};

/// One runtime for the whole test binary, as in the host (no compile cache: tests of the
/// cache make their own runtime).
pub fn runtime() -> Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| Runtime::new(RuntimeConfig::default()).expect("runtime"))
        .clone()
}

/// Options for plugin `name` of `interface` with these grants and default limits.
pub fn options(name: &str, interface: Interface, grants: Grants) -> PluginOptions {
    PluginOptions {
        name: name.to_owned(),
        expected: Some(interface),
        grants,
        ..Default::default()
    }
}

/// Loads guest `guest` with `options`.
pub async fn load(guest: &str, options: PluginOptions) -> WasmPlugin {
    runtime()
        .load(&support::guest(guest), options)
        .await
        .unwrap_or_else(|e| panic!("loading {guest}: {e}"))
}

/// Config values from `(key, value)` pairs.
pub fn config(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Sends `message` (with a ticket T-1) to a notifications plugin.
pub async fn notify(b: &AnyBackend, message: &str) -> Result<(), Error> {
    let AnyBackend::Notifications(n) = b else {
        panic!("not a notifications plugin: {b:?}")
    };
    n.notify(notifications::NotifyRequest {
        message: message.into(),
        ticket: Some(Ticket {
            id: "T-1".into(),
            ..Default::default()
        }),
    })
    .await
    .map(|_| ())
}

/// The code of a domain error; panics on anything else.
pub fn domain_code<T: std::fmt::Debug>(r: Result<T, Error>) -> ErrorCode {
    match r {
        Err(Error::Plugin { error, .. }) => error.code,
        other => panic!("expected a domain error, got {other:?}"),
    }
}
