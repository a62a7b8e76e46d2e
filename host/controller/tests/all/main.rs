//! robodev-controller's integration tests.

/// Builds and finds the guest components (robodev-wasm's test support).
#[path = "../../../wasm/tests/all/support.rs"]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "shared with other test binaries; tests fail loudly"
)]
mod support;

mod admin;
mod config;
mod executor;
mod reload;
