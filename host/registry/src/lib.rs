//! `robodev-registry`: robodev's plugin host. Every configured plugin, whichever way it runs
//! (a built-in backend, a Wasm component, a go-plugin subprocess), is loaded into one
//! [`Registry`] behind the same trait objects, with version checks before anything runs.
//!
//! - [`spec`]: the plugin half of the configuration, validated ([`HostConfig`]).
//! - [`registry`]: loading (concurrently, critical plugins enforced), the entries, and swapping
//!   versions in for hot reload and rollback.
//! - [`metered`]: the handles callers get: every call counted, timed, traced and switchable.
//! - [`metrics`]: Prometheus text from typed samples of the entries and the calls.
//! - [`reload`]: reload and rollback on request, and the watcher of the config and plugin files.
//! - [`admin`]: the admin HTTP API and `/metrics`.
//!
//! It knows nothing of tickets, task runs or agents: that is the controller's.

pub mod admin;
pub mod calls;
pub mod metered;
pub mod metrics;
pub mod registry;
pub mod reload;
pub mod spec;

pub use registry::{
    CriticalFailure, Entry, LoadFailure, LoadOptions, Loading, Registry, Swapped, resolve_secrets,
    sandbox_json,
};
pub use spec::HostConfig;
