//! robodev-controller's integration tests.

mod builtin;
mod config;
