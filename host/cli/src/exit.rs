//! The `robodev` CLI's exit codes, in one place (presentation belongs at the edge; the
//! libraries only say which [`Outcome`] an error is):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the plugin returned a domain error |
//! | 2 | usage, config or host error |
//! | 3 | the plugin failed (trap, out of fuel, deadline, memory cap, crash, transport, timeout) |
//! | 4 | refused to load (version mismatch, digest or signature, unsupported component) |

use robodev_controller::controller::ControllerError;
use robodev_controller::daemon::DaemonError;
use robodev_core::Outcome;
use robodev_registry::CriticalFailure;

/// Something that ends the CLI with an exit code.
pub(crate) trait Exit {
    /// The CLI's exit code for it.
    fn exit_code(&self) -> u8;
}

impl Exit for Outcome {
    fn exit_code(&self) -> u8 {
        match self {
            Outcome::Domain => 1,
            Outcome::Host => 2,
            Outcome::Failed => 3,
            Outcome::Refused => 4,
        }
    }
}

impl Exit for robodev_core::Error {
    fn exit_code(&self) -> u8 {
        self.outcome().exit_code()
    }
}

impl Exit for CriticalFailure {
    /// That of the first critical plugin that did not load.
    fn exit_code(&self) -> u8 {
        self.failures
            .first()
            .map_or(Outcome::Host.exit_code(), |f| f.error.exit_code())
    }
}

impl Exit for ControllerError {
    fn exit_code(&self) -> u8 {
        match self {
            ControllerError::Backend(e) => e.exit_code(),
            // State errors, and whatever else the controller adds: host errors.
            _ => Outcome::Host.exit_code(),
        }
    }
}

impl Exit for DaemonError {
    fn exit_code(&self) -> u8 {
        match self {
            DaemonError::State(e) | DaemonError::Controller(e) => e.exit_code(),
            DaemonError::Critical(c) => c.exit_code(),
            // The admin API's settings or secret: a config or host error.
            DaemonError::Admin(_) => Outcome::Host.exit_code(),
        }
    }
}
