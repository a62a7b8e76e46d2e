//! robodev-grpc: subprocess plugins over hashicorp/go-plugin's gRPC protocol.
//!
//! Why hand-written, not a library: the Rust go-plugin crates each cover part of the protocol
//! (grr-plugin serves only the plugin side and was last released in 2022, on hyper 0.14;
//! magma-plugin's host side is built for Terraform providers over TCP and dials without mTLS
//! so far). robodev needs both sides, AutoMTLS, unix sockets, the checks that a handshake's
//! address is the plugin's own, and compatibility from go-plugin 1.0.1 to 1.7.0; the protocol
//! itself is small (an environment, one handshake line, three gRPC services) over tonic.

mod adapters;
mod client;
mod convert;
#[doc(hidden)]
pub mod fuzz;
mod handshake;
mod logs;
mod pb;
mod peer;
pub mod process;
mod sandbox;
mod services;
mod tls;

pub use client::{
    APP_PROTOCOL_VERSION, COOKIE_KEY, COOKIE_VALUE, DEFAULT_CALL_TIMEOUT, DEFAULT_START_TIMEOUT,
    Health, RestartPolicy, SHUTDOWN_GRACE, SubprocessConfig, SubprocessPlugin,
};
pub use sandbox::{
    Confinement, DEFAULT_MEMORY_MB, DEFAULT_OPEN_FILES, DEFAULT_PROCESSES, Features, MIN_PROCESSES,
    Sandbox,
};
mod hclog;
mod serve;

pub use serve::{NOT_A_PROGRAM_MESSAGE, Network, ServeError, ServeOptions, serve, serve_with};
