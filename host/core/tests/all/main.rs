//! Integration tests for robodev-core, gathered into one test binary.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on the first unexpected value"
)]

mod proto_contract;
mod wit_contract;
