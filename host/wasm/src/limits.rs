//! Per-plugin resource limits, enforced on every call.
//!
//! Defaults allow for the heaviest guest toolchains measured here: a small `notify` costs
//! ~3.5k fuel in a Rust guest, ~137k in componentize-py and ~691k in componentize-js, and a
//! Python component's linear memory starts around 30 MiB.

use std::time::Duration;

/// Default fuel budget of one call: about a second of guest CPU on this class of machine.
pub const DEFAULT_FUEL: u64 = 1_000_000_000;
/// Default wall-clock deadline of one call, including time spent in host calls (HTTP).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default cap of each linear memory of a plugin instance, in MiB.
pub const DEFAULT_MEMORY_MB: u64 = 256;
/// Default cap of elements per table.
pub const DEFAULT_TABLE_ELEMENTS: usize = 100_000;
/// Default cap of core instances, memories and tables per plugin instance. Components from
/// componentize-py and componentize-js consist of a dozen or more core instances.
pub const DEFAULT_INSTANCES: usize = 64;

/// The limits of one plugin, applied to every call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Fuel (roughly, WebAssembly instructions) one call may consume.
    pub fuel: u64,
    /// Wall-clock deadline of one call. CPU-bound guests are interrupted by epoch within one
    /// tick ([`crate::EPOCH_TICK`]); guests waiting on the host are cancelled by the timer.
    pub timeout: Duration,
    /// Cap of each linear memory, in bytes.
    pub memory_bytes: u64,
    /// Cap of elements per table.
    pub table_elements: usize,
    /// Cap of core instances (and, separately, of memories and tables) per plugin instance.
    pub instances: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: DEFAULT_FUEL,
            timeout: DEFAULT_TIMEOUT,
            memory_bytes: DEFAULT_MEMORY_MB * 1024 * 1024,
            table_elements: DEFAULT_TABLE_ELEMENTS,
            instances: DEFAULT_INSTANCES,
        }
    }
}

impl Limits {
    /// These limits with the memory cap given in MiB.
    pub fn with_memory_mb(mut self, mb: u64) -> Self {
        self.memory_bytes = mb.saturating_mul(1024 * 1024);
        self
    }
}
