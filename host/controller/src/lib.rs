//! `robodev-controller`: robodev as a product. It reads `robodev-config.yaml` ([`config`]),
//! loads every configured plugin into one registry whichever way it runs (built-in, Wasm
//! component, go-plugin subprocess), and drives tickets through their life ([`run`]).

pub mod admin;
pub mod config;
pub mod controller;
pub mod exec;
pub mod metered;
pub mod metrics;
pub mod registry;
pub mod reload;
pub mod runs;
