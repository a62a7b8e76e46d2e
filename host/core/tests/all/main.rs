//! Integration tests for robodev-core, gathered into one test binary.

mod proto_contract;
