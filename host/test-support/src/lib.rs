//! Fixtures shared by robodev's integration tests, one module each: real peers the tests run
//! against, written once (as wasmtime's and Zed's test support crates are) instead of copied
//! into each test crate or included from another with `#[path]`.
//!
//! - [`repo`]: the repository root and its `scripts/`.
//! - [`guests`]: the guest components built from `guests/`.
//! - [`plugins`]: the subprocess plugins (Rust, Go, Python) and process helpers.
//! - [`http`]: a recording HTTP server standing in for a service a plugin calls.
//! - [`forward_proxy`]: a forward HTTP proxy recording what goes through it, and the proxy
//!   variables a child process is given.
//! - [`child`]: this test binary run again as a child, to give one test its own environment.
//! - [`tls`]: a test CA and a server certificate it issued.
//! - [`registry`]: Debian's docker-registry on 127.0.0.1.
//! - [`cosign`]: the cosign v3 binary scripts/build-cosign builds, and running it.
//! - [`openssl`]: ECDSA P-256 key pairs made by the openssl CLI.
//! - [`kube`]: a real kube-apiserver with etcd on 127.0.0.1 (built by scripts/build-kube).
//!
//! Threads and `std` only: robodev-cli's tests have no async runtime. A fixture that blocks
//! (a registry starting) is put on a blocking thread by async callers.
//!
//! ```no_run
//! use robodev_test_support::forward_proxy::ForwardProxy;
//!
//! let proxy = ForwardProxy::start();
//! // ... run a client with HTTP_PROXY=proxy.url() ...
//! assert!(proxy.seen().is_empty());
//! ```

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test fixtures fail loudly on broken invariants"
)]

pub mod child;
pub mod cosign;
pub mod forward_proxy;
pub mod guests;
pub mod http;
pub mod kube;
pub mod openssl;
pub mod plugins;
pub mod registry;
pub mod repo;
pub mod tls;
