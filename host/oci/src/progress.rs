//! Progress of blob transfers, for callers that show it and for `tracing`; and stalls, when a
//! transfer moves too little to finish in reasonable time (see [`crate::TransferLimits`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The smallest step between two progress reports of one transfer (the first and the last
/// are always reported).
pub const PROGRESS_STEP: u64 = 1024 * 1024;

/// Which way bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Direction {
    /// From the registry into the cache.
    Download,
    /// From a local file to the registry.
    Upload,
}

/// A transfer moving too little: fewer than `min_bytes` in the last `window`. Reported when it
/// begins and once per window while it lasts; the transfer fails with
/// [`crate::Error::TransferTimeout`] if it lasts `fails_in` more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stall {
    /// Bytes transferred in the last `window`.
    pub recent_bytes: u64,
    /// The measuring window ([`crate::TransferLimits::stall_window`]).
    pub window: Duration,
    /// The least a window must move ([`crate::TransferLimits::stall_min_bytes`]).
    pub min_bytes: u64,
    /// How long the stall has lasted since it was first noticed.
    pub stalled_for: Duration,
    /// How much longer it may last before the transfer is abandoned.
    pub fails_in: Duration,
}

impl fmt::Display for Stall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stalled: {} bytes in the last {} (fewer than {}); abandoned in {} unless it picks up",
            self.recent_bytes,
            crate::meter::shown(self.window),
            self.min_bytes,
            crate::meter::shown(self.fails_in)
        )
    }
}

/// One progress report: `done` of `total` bytes of the blob `digest` have been transferred.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// The reference being pulled or pushed.
    pub reference: String,
    /// Download or upload.
    pub direction: Direction,
    /// The blob's digest.
    pub digest: String,
    /// Bytes transferred so far.
    pub done: u64,
    /// The blob's size.
    pub total: u64,
    /// Set when this report is about a stall rather than a step forward.
    pub stall: Option<Stall>,
}

/// A progress callback. It is called on the task doing the transfer: it must return quickly.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Sends a transfer's progress to the callback (if any) and to `tracing`, at most once per
/// [`PROGRESS_STEP`].
#[derive(Clone)]
pub(crate) struct ProgressReporter {
    callback: Option<ProgressFn>,
    reference: String,
    direction: Direction,
    digest: String,
    total: u64,
    last: Option<u64>,
}

impl fmt::Debug for ProgressReporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProgressReporter")
            .field("digest", &self.digest)
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}

impl ProgressReporter {
    pub fn new(
        callback: Option<ProgressFn>,
        reference: String,
        direction: Direction,
        digest: String,
        total: u64,
    ) -> Self {
        Self {
            callback,
            reference,
            direction,
            digest,
            total,
            last: None,
        }
    }

    /// Reports `done` bytes if it is the first report, the last, or a step past the previous.
    pub fn report(&mut self, done: u64) {
        let due = match self.last {
            None => true,
            Some(last) => done >= self.total || done >= last.saturating_add(PROGRESS_STEP),
        };
        if !due || self.last == Some(done) {
            return;
        }
        self.last = Some(done);
        tracing::debug!(
            reference = %self.reference,
            direction = ?self.direction,
            digest = %self.digest,
            done,
            total = self.total,
            "blob transfer progress"
        );
        if let Some(callback) = &self.callback {
            callback(&Progress {
                reference: self.reference.clone(),
                direction: self.direction,
                digest: self.digest.clone(),
                done,
                total: self.total,
                stall: None,
            });
        }
    }

    /// Reports a stall at `done` bytes, whatever the step: to the callback when there is one
    /// (it shows progress, so it shows this too), as a warning otherwise (`robodev run` has no
    /// progress display, and a stalled start-up must be visible in its log).
    pub fn report_stall(&self, done: u64, stall: Stall) {
        let Some(callback) = &self.callback else {
            tracing::warn!(
                reference = %self.reference,
                direction = ?self.direction,
                digest = %self.digest,
                done,
                total = self.total,
                "blob transfer {stall}"
            );
            return;
        };
        tracing::debug!(
            reference = %self.reference,
            digest = %self.digest,
            done,
            total = self.total,
            "blob transfer {stall}"
        );
        callback(&Progress {
            reference: self.reference.clone(),
            direction: self.direction,
            digest: self.digest.clone(),
            done,
            total: self.total,
            stall: Some(stall),
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn reports_first_steps_and_last() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let callback: ProgressFn = Arc::new(move |p: &Progress| sink.lock().unwrap().push(p.done));
        let total = 3 * PROGRESS_STEP + 10;
        let mut r = ProgressReporter::new(
            Some(callback),
            "oci://r/x:1".into(),
            Direction::Download,
            "sha256:00".into(),
            total,
        );
        for done in (0..=total).step_by(4096).chain([total]) {
            r.report(done);
        }
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.first(), Some(&0));
        assert_eq!(seen.last(), Some(&total));
        assert_eq!(seen.len(), 5, "{seen:?}");
        assert!(seen.windows(2).all(|w| w[1] > w[0]));
    }
}
