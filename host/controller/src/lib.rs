//! `robodev-controller`: robodev as a product. It reads `robodev-config.yaml` ([`config`]),
//! hands its plugin half to the plugin host ([`robodev_registry`]), and drives tickets through
//! their life ([`controller`], [`runs`], [`exec`]).

pub mod config;
pub mod controller;
pub mod daemon;
pub mod exec;
pub mod executor;
pub mod runs;
