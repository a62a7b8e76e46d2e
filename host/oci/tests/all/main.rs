//! Integration tests of robodev-oci against a real OCI registry (Debian's docker-registry,
//! distribution 2.8, started per test on 127.0.0.1) and an independent client (the ORAS
//! project's Python SDK), which scripts/build-oci-interop installs when missing; and against a
//! hand-written hostile registry (`hostile`), which needs neither. The registry also serves
//! HTTPS with a certificate of a test CA (`tls`), and is reached through a forward proxy set in
//! a child process's environment (`proxy`). The registry, the CA and the proxy are
//! robodev-test-support's, shared with the other crates' tests.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on broken invariants"
)]

mod auth;
mod certificate;
mod helpers;
mod hostile;
mod interop;
mod offline;
mod proxy;
mod pull_push;
mod referrers;
mod signature;
mod support;
mod tls;
mod token;
