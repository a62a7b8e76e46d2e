//! Builds the guest components from `guests/` once per test binary and finds them
//! (robodev-test-support's, shared with the other crates' tests).

pub use robodev_test_support::guests::guest;
pub use robodev_test_support::repo::repo_root as repo;
