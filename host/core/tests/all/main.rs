//! Integration tests for robodev-core, gathered into one test binary.

mod proto_contract;
mod wit_contract;
