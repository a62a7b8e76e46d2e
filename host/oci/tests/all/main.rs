//! Integration tests of robodev-oci against a real OCI registry (Debian's docker-registry,
//! distribution 2.8, started per test on 127.0.0.1) and an independent client (the ORAS
//! project's Python SDK), which scripts/build-oci-interop installs when missing; and against a
//! hand-written hostile registry (`hostile`), which needs neither.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on broken invariants"
)]

mod auth;
mod helpers;
mod hostile;
mod interop;
mod offline;
mod pull_push;
mod referrers;
mod signature;
mod support;
mod token;
