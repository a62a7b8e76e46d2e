//! `robodev-controller`: robodev as a product. It reads `robodev-config.yaml` ([`config`]),
//! hands its plugin half to the plugin host ([`robodev_registry`]), and drives tickets through
//! their life ([`controller`], [`runs`], [`exec`]).

pub mod config;
pub mod controller;
pub mod daemon;
pub mod exec;
pub mod executor;
pub mod runs;

/// The log filter `robodev run` uses by default (no `-v`, no `RUST_LOG`): the controller's
/// progress, plugin loads and plugin log lines at info, everything else at warn. The benches
/// install it too, so that calls are measured with the filtering a real run does.
pub const RUN_LOG_FILTER: &str = "warn,robodev=info,robodev::plugin=info,robodev_controller=info,robodev_grpc=info,robodev_wasm=info";
