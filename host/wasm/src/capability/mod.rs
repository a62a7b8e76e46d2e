//! robodev's host capabilities, one module each (as wasmtime's and Spin's are): its WIT
//! interface, its host implementation, its grant and limits, its linker registration and its
//! tests. Every one is denied unless the plugin's config grants it, except logging.
//!
//! | capability | WIT | granted by |
//! |---|---|---|
//! | [`log`] | `robodev:host/log` | always |
//! | [`config`] | `robodev:host/config` | `config:` (the plugin's own values only) |
//! | [`secrets`] | `robodev:host/secrets` | `secrets: { NAME: KEY }` |
//! | [`kv`] | `robodev:host/kv` | `kv: true` |
//! | [`http`] | `wasi:http` (outgoing) | `allowed_hosts:` |
//!
//! [`HOST_IMPORTS`] (what a component may import from robodev) is derived from this list.

pub(crate) mod config;
pub(crate) mod http;
pub mod kv;
pub(crate) mod log;
pub(crate) mod secrets;

use wasmtime::component::{HasSelf, Linker};

use crate::state::StoreState;

/// The newest `(major, minor)` of a robodev package a component may import from: what `wit/`
/// defines. A component built against an older minor of the same major links too (wasmtime's
/// linker resolves `@1.0.0` to `@1.1.0`); `wit/host-1.0/` keeps that tested.
pub(crate) fn package_version(package: &str) -> (u32, u32) {
    match package {
        "robodev:host" => (1, 1),
        _ => (1, 0),
    }
}

/// The robodev interfaces a component may import (major version 1): the capabilities, and the
/// shared types they use.
pub(crate) const HOST_IMPORTS: [&str; 5] = [
    log::WIT,
    config::WIT,
    secrets::WIT,
    kv::WIT,
    "robodev:types/types",
];

/// Registers every robodev capability's host functions (WASI, `wasi:http` included, is
/// registered by the runtime).
pub(crate) fn add_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    crate::bindings::wit::add_to_linker::<_, HasSelf<StoreState>>(linker, |s| s)?;
    log::add_to_linker(linker)?;
    config::add_to_linker(linker)?;
    secrets::add_to_linker(linker)?;
    kv::add_to_linker(linker)
}

/// The shared types interface has no functions.
impl crate::bindings::wit::Host for StoreState {}
