//! Bounds on how long a pull or push takes: an overall deadline, and a minimum throughput.
//!
//! The per-request timeouts of [`crate::transport`] only notice silence: a registry (or a
//! proxy, or a hostile server) that sends one byte a second never trips them, and would keep
//! `robodev plugin pull` waiting for ever and `robodev run` from starting. So every pull and
//! push has a [`TransferLimits::timeout`] for all of its requests together, and every body in
//! flight is measured: one that moves fewer than [`TransferLimits::stall_min_bytes`] in
//! [`TransferLimits::stall_window`] is reported as stalled (to the progress callback, or as a
//! warning), and abandoned when the stall has lasted [`TransferLimits::stall_timeout`], long
//! before the overall deadline. Either way the pull or push fails with
//! [`crate::Error::TransferTimeout`], which says which [`TransferLimit`] tripped.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

use crate::progress::Stall;

/// How long one whole pull or push (every request of it: token, manifests, blobs, uploads)
/// may take unless [`TransferLimits::timeout`] says otherwise. Ten minutes lets the largest
/// real components (tens of MB: an 18 MB componentize-py component) arrive over a link as slow
/// as 0.5 Mbit/s with room to spare, while still bounding how long `robodev run` can be held
/// at start-up by a registry that makes progress, but too slowly. Components near
/// [`crate::MAX_LAYER_BYTES`] need a longer deadline (about 1.8 MB/s sustains 1 GiB in 10 min).
pub const DEFAULT_TRANSFER_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// The window over which a body's throughput is measured: long enough that TCP's own
/// retransmission back-off and a registry's short pauses do not count as stalls.
pub const DEFAULT_STALL_WINDOW: Duration = Duration::from_secs(30);
/// A body that moves fewer bytes than this in [`DEFAULT_STALL_WINDOW`] (about 1 KiB/s) is
/// stalled. At that rate an 18 MB component would take five hours: no real link is this slow,
/// so only a broken or hostile peer is.
pub const DEFAULT_STALL_MIN_BYTES: u64 = 32 * 1024;
/// How long a stall may last, from when it is reported, before the transfer is abandoned: as
/// long as [`crate::limits::BODY_IDLE_TIMEOUT`] lets a silent body wait, so a trickle gets no
/// more patience than silence beyond the window it takes to notice it.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// How many throughput samples a window is cut into: the measurement errs by at most one
/// slice (towards "not stalled"), and a meter holds at most this many samples plus one.
const SLICES_PER_WINDOW: u32 = 16;
/// How many times per window a silent body is re-examined for a stall (and the deadline).
const CHECKS_PER_WINDOW: u32 = 8;
/// The shortest wait between two such examinations, so a tiny configured window cannot spin.
const MIN_CHECK_INTERVAL: Duration = Duration::from_millis(10);

/// The overall deadline and the minimum throughput of a [`crate::Client`]'s transfers.
///
/// ```
/// use std::time::Duration;
/// use robodev_oci::{ClientOptions, TransferLimits};
///
/// let limits = TransferLimits::default()
///     .timeout(Duration::from_secs(120))
///     .stall(Duration::from_secs(10), 4096, Duration::from_secs(20));
/// let options = ClientOptions::new("/var/cache/robodev/oci").transfer_limits(limits);
/// assert_eq!(options.limits.timeout, Duration::from_secs(120));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransferLimits {
    /// How long one whole pull or push may take, from its first request to its last byte
    /// ([`DEFAULT_TRANSFER_TIMEOUT`]).
    pub timeout: Duration,
    /// The window over which a body's throughput is measured ([`DEFAULT_STALL_WINDOW`]).
    pub stall_window: Duration,
    /// A body moving fewer bytes than this in `stall_window` is stalled
    /// ([`DEFAULT_STALL_MIN_BYTES`]); 0 turns stall detection off.
    pub stall_min_bytes: u64,
    /// How long a reported stall may last before the transfer fails
    /// ([`DEFAULT_STALL_TIMEOUT`]).
    pub stall_timeout: Duration,
}

impl Default for TransferLimits {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_TRANSFER_TIMEOUT,
            stall_window: DEFAULT_STALL_WINDOW,
            stall_min_bytes: DEFAULT_STALL_MIN_BYTES,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
        }
    }
}

impl TransferLimits {
    /// Sets the overall deadline of one pull or push.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the stall rule: fewer than `min_bytes` in `window` is a stall, which fails the
    /// transfer once it has lasted `timeout`.
    #[must_use]
    pub fn stall(mut self, window: Duration, min_bytes: u64, timeout: Duration) -> Self {
        self.stall_window = window;
        self.stall_min_bytes = min_bytes;
        self.stall_timeout = timeout;
        self
    }
}

/// Which limit a transfer went past (in [`crate::Error::TransferTimeout`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransferLimit {
    /// The overall deadline of the pull or push ([`TransferLimits::timeout`]) passed.
    Deadline {
        /// The deadline, as configured.
        timeout: Duration,
    },
    /// The transfer moved fewer than `min_bytes` per `window` for `stalled_for`
    /// ([`TransferLimits::stall_timeout`]) after the stall was reported.
    Stall {
        /// The measuring window ([`TransferLimits::stall_window`]).
        window: Duration,
        /// The minimum per window ([`TransferLimits::stall_min_bytes`]).
        min_bytes: u64,
        /// How long the stall had lasted.
        stalled_for: Duration,
    },
}

impl fmt::Display for TransferLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Deadline { timeout } => {
                write!(f, "the transfer deadline of {} passed", shown(*timeout))
            }
            Self::Stall {
                window,
                min_bytes,
                stalled_for,
            } => write!(
                f,
                "the transfer stalled: fewer than {min_bytes} bytes per {} for {} (the stall limit)",
                shown(*window),
                shown(*stalled_for)
            ),
        }
    }
}

/// `d` for people: to the millisecond below 10 s, to the second above (measured durations
/// have nanoseconds nobody needs to read).
pub(crate) fn shown(d: Duration) -> humantime::FormattedDuration {
    let rounded = if d >= Duration::from_secs(10) {
        Duration::from_secs(d.as_secs())
    } else {
        Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    };
    humantime::format_duration(rounded)
}

/// The deadline of one pull or push, shared by all of its requests.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    pub limits: TransferLimits,
    pub deadline: Instant,
}

impl Budget {
    /// A budget starting now.
    pub fn start(limits: TransferLimits) -> Self {
        let now = Instant::now();
        Self {
            limits,
            // A deadline too far to represent is no deadline.
            deadline: now
                .checked_add(limits.timeout)
                .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600)),
        }
    }

    /// The deadline error, if it has passed at `now`.
    pub fn expired(&self, now: Instant) -> Option<TransferLimit> {
        (now >= self.deadline).then_some(TransferLimit::Deadline {
            timeout: self.limits.timeout,
        })
    }

    /// The earlier of `now + wait` and the deadline.
    pub fn bound(&self, now: Instant, wait: Duration) -> Instant {
        now.checked_add(wait)
            .map_or(self.deadline, |at| at.min(self.deadline))
    }
}

/// One throughput sample: the cumulative byte count last seen in a slice that began at
/// `start`, and when it was seen.
#[derive(Debug, Clone, Copy)]
struct Sample {
    start: Instant,
    seen: Instant,
    total: u64,
}

/// The throughput of one body in flight, against the budget of its pull or push.
#[derive(Debug)]
pub(crate) struct Meter {
    budget: Budget,
    started: Instant,
    total: u64,
    samples: VecDeque<Sample>,
    stalled_since: Option<Instant>,
    last_report: Option<Instant>,
}

impl Meter {
    /// A meter for a body starting at `now`.
    pub fn new(budget: Budget, now: Instant) -> Self {
        let mut samples = VecDeque::new();
        samples.push_back(Sample {
            start: now,
            seen: now,
            total: 0,
        });
        Self {
            budget,
            started: now,
            total: 0,
            samples,
            stalled_since: None,
            last_report: None,
        }
    }

    /// Bytes moved so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    fn window(&self) -> Duration {
        self.budget.limits.stall_window
    }

    /// Records that `total` bytes (cumulative) had moved at `now`.
    pub fn record(&mut self, now: Instant, total: u64) {
        self.total = self.total.max(total);
        let slice = self.window() / SLICES_PER_WINDOW;
        match self.samples.back_mut() {
            Some(last) if now.saturating_duration_since(last.start) < slice => {
                last.seen = now;
                last.total = self.total;
            }
            _ => self.samples.push_back(Sample {
                start: now,
                seen: now,
                total: self.total,
            }),
        }
        // Keep one sample at or before the window's start, to measure from.
        let Some(from) = now.checked_sub(self.window()) else {
            return;
        };
        while self.samples.get(1).is_some_and(|s| s.seen <= from) {
            self.samples.pop_front();
        }
    }

    /// Records `more` bytes moved at `now`.
    pub fn add(&mut self, now: Instant, more: u64) {
        self.record(now, self.total.saturating_add(more));
    }

    /// Bytes moved in the window ending at `now`. A sample whose slice straddles the window's
    /// start is not used, so this errs towards more bytes (towards "not stalled").
    fn recent(&self, now: Instant) -> u64 {
        let Some(from) = now.checked_sub(self.window()) else {
            return self.total;
        };
        let before = self
            .samples
            .iter()
            .rev()
            .find(|s| s.seen <= from)
            .map_or(0, |s| s.total);
        self.total - before
    }

    /// Applies the limits at `now`: `Err` when one has tripped, `Ok(Some)` when a stall is to
    /// be reported (when it begins, then once per window while it lasts).
    pub fn check(&mut self, now: Instant) -> Result<Option<Stall>, TransferLimit> {
        if let Some(limit) = self.budget.expired(now) {
            return Err(limit);
        }
        let limits = self.budget.limits;
        if limits.stall_min_bytes == 0
            || now.saturating_duration_since(self.started) < self.window()
        {
            return Ok(None);
        }
        let recent = self.recent(now);
        if recent >= limits.stall_min_bytes {
            if self.stalled_since.take().is_some() {
                tracing::debug!(recent, "transfer no longer stalled");
            }
            self.last_report = None;
            return Ok(None);
        }
        let since = *self.stalled_since.get_or_insert(now);
        let stalled_for = now.saturating_duration_since(since);
        if stalled_for >= limits.stall_timeout {
            return Err(TransferLimit::Stall {
                window: limits.stall_window,
                min_bytes: limits.stall_min_bytes,
                stalled_for,
            });
        }
        let due = self
            .last_report
            .is_none_or(|last| now.saturating_duration_since(last) >= self.window());
        if !due {
            return Ok(None);
        }
        self.last_report = Some(now);
        Ok(Some(Stall {
            recent_bytes: recent,
            window: limits.stall_window,
            min_bytes: limits.stall_min_bytes,
            stalled_for,
            fails_in: limits.stall_timeout - stalled_for,
        }))
    }

    /// When to look again if nothing happens before: soon enough to notice a stall and the
    /// deadline on time.
    pub fn next_check(&self, now: Instant) -> Instant {
        let interval = (self.window() / CHECKS_PER_WINDOW).max(MIN_CHECK_INTERVAL);
        self.budget.bound(now, interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meter(window: u64, min_bytes: u64, stall: u64, timeout: u64) -> (Meter, Instant) {
        let limits = TransferLimits::default()
            .timeout(Duration::from_secs(timeout))
            .stall(
                Duration::from_secs(window),
                min_bytes,
                Duration::from_secs(stall),
            );
        let budget = Budget::start(limits);
        let now = Instant::now();
        (Meter::new(budget, now), now)
    }

    fn secs(t0: Instant, s: f64) -> Instant {
        t0 + Duration::from_secs_f64(s)
    }

    #[test]
    fn a_steady_transfer_never_stalls() {
        let (mut m, t0) = meter(30, 1000, 60, 3600);
        for i in 0..3000u64 {
            let now = secs(t0, i as f64 / 10.0);
            m.add(now, 100);
            assert_eq!(m.check(now), Ok(None), "at {i}");
        }
        assert!(
            m.samples.len() <= SLICES_PER_WINDOW as usize + 2,
            "{}",
            m.samples.len()
        );
    }

    #[test]
    fn a_trickle_is_reported_then_fails() {
        let (mut m, t0) = meter(30, 1000, 60, 3600);
        // Fast for a while, then one byte a second.
        m.add(secs(t0, 1.0), 1_000_000);
        let mut reports = Vec::new();
        let mut failed = None;
        for s in 2..200u64 {
            let now = secs(t0, s as f64);
            m.add(now, 1);
            match m.check(now) {
                Ok(Some(stall)) => reports.push((s, stall)),
                Ok(None) => {}
                Err(limit) => {
                    failed = Some((s, limit));
                    break;
                }
            }
        }
        // The fast start leaves the window at 31 s; the stall is noticed then, reported once
        // per window, and fails 60 s after it was noticed.
        let first = reports.first().unwrap();
        assert!((31..=33).contains(&first.0), "{reports:?}");
        assert!(first.1.recent_bytes < 1000);
        assert_eq!(first.1.fails_in, Duration::from_secs(60));
        assert_eq!(reports.len(), 2, "{reports:?}");
        let (at, limit) = failed.unwrap();
        assert_eq!(at, first.0 + 60);
        assert!(
            matches!(limit, TransferLimit::Stall { stalled_for, .. } if stalled_for == Duration::from_secs(60))
        );
    }

    #[test]
    fn a_recovery_ends_the_stall() {
        let (mut m, t0) = meter(10, 1000, 20, 3600);
        assert!(m.check(secs(t0, 11.0)).unwrap().is_some());
        m.add(secs(t0, 12.0), 5000);
        assert_eq!(m.check(secs(t0, 12.0)), Ok(None));
        assert!(m.stalled_since.is_none());
        // Long after the original stall would have failed, the transfer carries on.
        for s in 13..40u64 {
            m.add(secs(t0, s as f64), 200);
            assert_eq!(m.check(secs(t0, s as f64)), Ok(None), "at {s}");
        }
    }

    #[test]
    fn the_deadline_trips_first_when_shorter() {
        let (mut m, t0) = meter(30, 1000, 60, 5);
        assert_eq!(m.check(secs(t0, 4.0)), Ok(None));
        assert_eq!(
            m.check(secs(t0, 5.5)),
            Err(TransferLimit::Deadline {
                timeout: Duration::from_secs(5)
            })
        );
    }

    #[test]
    fn zero_min_bytes_disables_stall_detection() {
        let (mut m, t0) = meter(1, 0, 1, 3600);
        assert_eq!(m.check(secs(t0, 100.0)), Ok(None));
    }
}
