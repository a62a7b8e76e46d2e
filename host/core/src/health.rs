//! [`Health`]: whether a loaded plugin can take calls, whichever runtime serves it.

use std::fmt;

/// Whether a loaded plugin can take calls. Built-in and Wasm plugins are always `Serving`
/// once loaded; a subprocess moves through the others as it crashes and restarts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Ready for calls.
    Serving,
    /// A subprocess crashed; restart `attempt` of `max` is pending or under way.
    Restarting {
        /// Which restart.
        attempt: u32,
        /// The policy's maximum.
        max: u32,
        /// Why.
        cause: String,
    },
    /// Crashed more often than the restart policy allows, or refused on restart. Final.
    Unhealthy {
        /// Why.
        reason: String,
    },
    /// Shut down.
    Stopped,
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Health::Serving => f.write_str("serving"),
            Health::Restarting {
                attempt,
                max,
                cause,
            } => write!(f, "restarting ({attempt}/{max}): {cause}"),
            Health::Unhealthy { reason } => write!(f, "unhealthy: {reason}"),
            Health::Stopped => f.write_str("stopped"),
        }
    }
}
