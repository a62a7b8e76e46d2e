//! robodev-controller's integration tests.

/// Builds and finds the guest components (robodev-test-support's).
mod support {
    pub use robodev_test_support::guests::guest;
}

mod admin;
mod config;
mod executor;
mod reload;
