//! Integration tests of robodev-grpc against real plugin processes built from source: the Rust
//! example plugin (`serve`), a Python grpcio plugin and a Go plugin built with the real
//! hashicorp/go-plugin, plus a Go go-plugin host launching the Rust plugin.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on broken invariants"
)]

mod failures;
mod hostile;
mod interfaces;
mod interop;
mod lifecycle;
mod sandbox;
mod support;
