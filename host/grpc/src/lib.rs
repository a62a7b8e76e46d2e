//! robodev-grpc: subprocess plugins over hashicorp/go-plugin's gRPC protocol.

mod adapters;
mod client;
mod convert;
mod handshake;
mod logs;
mod pb;
mod peer;
pub mod process;
mod services;
mod tls;

pub use client::{
    APP_PROTOCOL_VERSION, COOKIE_KEY, COOKIE_VALUE, DEFAULT_CALL_TIMEOUT, DEFAULT_START_TIMEOUT,
    Health, RestartPolicy, SHUTDOWN_GRACE, SubprocessConfig, SubprocessPlugin,
};
mod hclog;
mod serve;

pub use serve::{NOT_A_PROGRAM_MESSAGE, Network, ServeError, ServeOptions, serve, serve_with};
