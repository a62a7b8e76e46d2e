//! robodev-controller's integration tests.

mod admin;
mod builtin;
mod config;
