//! [`Metrics`]: robodev's plugin metrics in the Prometheus text exposition format 0.0.4
//! ([`CONTENT_TYPE`]), written by hand: a handful of families do not need a client library.
//!
//! Recorded per call by the metering layer ([`crate::metered`]):
//!
//! | family | type | labels |
//! |---|---|---|
//! | `robodev_plugin_calls_total` | counter | `plugin, interface, runtime, method, outcome` |
//! | `robodev_plugin_call_duration_seconds` | histogram ([`DURATION_BUCKETS`]) | `plugin, interface, runtime` |
//!
//! `method` is the WIT name (`mark-in-progress`); `outcome` is `ok`, the error's stable label
//! ([`robodev_core::Error::label`]: `not_found`, `out_of_fuel`, `crashed`, ...) or `disabled`
//! (refused because an operator switched the plugin off; not timed, since no plugin ran).
//!
//! Sampled from the registry's entries when [`Metrics::render`] runs (each scrape):
//!
//! | family | type | labels |
//! |---|---|---|
//! | `robodev_plugin_up` | gauge: 1 serving, 0 otherwise (restarting, unhealthy, stopped, did not load) | `plugin, interface, runtime` |
//! | `robodev_plugin_enabled` | gauge: 1 unless an operator switched it off | `plugin, interface, runtime` |
//! | `robodev_plugin_info` | gauge, always 1 | `plugin, interface, runtime, version` |
//! | `robodev_plugin_restarts_total` | counter (subprocess plugins) | `plugin` |
//! | `robodev_plugin_wasm_traps_total` | counter (Wasm plugins): failures by kind, only kinds that occurred | `plugin, kind` |
//! | `robodev_plugin_wasm_fuel_consumed_total` | counter (Wasm plugins, when the entry reports `fuelConsumed`) | `plugin` |
//! | `robodev_plugin_wasm_memory_high_water_bytes` | gauge (Wasm plugins): the largest linear memory a call grew to | `plugin` |
//!
//! ```
//! use robodev_registry::calls::Switches;
//! use robodev_registry::metrics::Metrics;
//!
//! let metrics = Metrics::new();
//! let text = metrics.render(&[], &[], &Switches::new());
//! assert!(text.contains("# TYPE robodev_plugin_calls_total counter\n"));
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use robodev_core::{Health, Interface};

use robodev_core::RuntimeKind;

use crate::calls::{CallLabels, Switches};

/// A plugin's runtime counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeCounters {
    /// A built-in keeps none.
    Builtin,
    /// A Wasm plugin's call statistics.
    Wasm(robodev_wasm::CallStats),
    /// A subprocess plugin's restarts and current process.
    Subprocess {
        /// Restarts after crashes.
        restarts: u32,
        /// The running process, if any.
        pid: Option<u32>,
    },
}

/// One loaded plugin, sampled when the metrics are rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginSample {
    /// Its configured name.
    pub name: String,
    /// Its interface.
    pub interface: Interface,
    /// How it runs.
    pub runtime: RuntimeKind,
    /// The version its handshake reported.
    pub version: String,
    /// Its health now.
    pub health: Health,
    /// What its runtime counts.
    pub counters: RuntimeCounters,
}

/// A plugin that did not load: rendered as `up` 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedSample {
    /// Its configured name.
    pub name: String,
    /// Its interface.
    pub interface: Interface,
    /// How it would have run.
    pub runtime: RuntimeKind,
}

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds (seconds) of the call duration histogram's buckets: from 50 µs (a built-in
/// answering from memory) to 30 s (the default call timeout of a subprocess plugin); slower
/// calls land in `+Inf` only.
pub const DURATION_BUCKETS: [f64; 18] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Every plugin's call counters and latency histogram, shared by the metering layer and the
/// `/metrics` endpoint.
#[derive(Debug, Default)]
pub struct Metrics {
    plugins: Mutex<BTreeMap<SeriesKey, Arc<PluginCalls>>>,
}

/// Which plugin a series belongs to; ordered so that the text comes out sorted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SeriesKey {
    interface: Interface,
    plugin: String,
    runtime: RuntimeKind,
}

/// The calls of one plugin: counts by (method, outcome) and the latency histogram.
#[derive(Debug)]
pub(crate) struct PluginCalls {
    key: SeriesKey,
    /// Successful calls by method, counted without a lock (most calls succeed).
    ok: OkCounts,
    /// Every other (method, outcome), and `ok` of methods [`OkCounts`] has no slot for.
    outcomes: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    duration: Histogram,
}

/// Lock-free `ok` counters, one slot per method, claimed by the method's first success. An
/// interface has at most 8 methods besides `handshake`.
#[derive(Debug, Default)]
struct OkCounts {
    slots: [(std::sync::OnceLock<&'static str>, AtomicU64); 10],
}

impl OkCounts {
    /// Counts one success of `method`; false when every slot belongs to another method.
    fn add(&self, method: &'static str) -> bool {
        for (name, n) in &self.slots {
            let owner = *name.get_or_init(|| method);
            if owner == method {
                n.fetch_add(1, Ordering::Relaxed);
                return true;
            }
        }
        false
    }

    /// `(method, count)` of every claimed slot.
    fn counts(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.slots
            .iter()
            .filter_map(|(name, n)| Some((*name.get()?, n.load(Ordering::Relaxed))))
    }
}

impl PluginCalls {
    /// Counts one call of `method` that ended in `outcome`, and its latency when it ran.
    pub(crate) fn record(
        &self,
        method: &'static str,
        outcome: &'static str,
        took: Option<Duration>,
    ) {
        if outcome != "ok" || !self.ok.add(method) {
            let mut outcomes = self.outcomes.lock().unwrap_or_else(PoisonError::into_inner);
            *outcomes.entry((method, outcome)).or_insert(0) += 1;
        }
        if let Some(took) = took {
            self.duration.observe(took);
        }
    }
}

/// A histogram with [`DURATION_BUCKETS`], lock-free. Buckets are stored per interval (plus
/// one past the last bound) and summed when rendered, so `+Inf` and `_count` always agree
/// with the buckets.
#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; DURATION_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let i = DURATION_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(DURATION_BUCKETS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

impl Metrics {
    /// No series yet.
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// The call counters of the plugin `labels` names, created on first use. A plugin wrapped
    /// again (same interface, name and runtime) keeps counting in the same series.
    pub(crate) fn plugin(&self, labels: &CallLabels) -> Arc<PluginCalls> {
        let key = SeriesKey {
            interface: labels.interface,
            plugin: labels.plugin.clone(),
            runtime: labels.runtime,
        };
        let mut plugins = self.plugins.lock().unwrap_or_else(PoisonError::into_inner);
        plugins
            .entry(key.clone())
            .or_insert_with(|| {
                Arc::new(PluginCalls {
                    key,
                    ok: OkCounts::default(),
                    outcomes: Mutex::default(),
                    duration: Histogram::default(),
                })
            })
            .clone()
    }

    /// The Prometheus text of every family: the recorded calls, and values sampled now:
    /// `loaded` (the loaded plugins), `failures` (plugins that did not load: `up` 0) and
    /// `switches`.
    pub fn render(
        &self,
        loaded: &[PluginSample],
        failures: &[FailedSample],
        switches: &Switches,
    ) -> String {
        let mut out = String::new();
        let plugins: Vec<Arc<PluginCalls>> = self
            .plugins
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();

        family(
            &mut out,
            "robodev_plugin_calls_total",
            "counter",
            "Plugin calls by method and outcome (ok, the error's stable label, or disabled).",
        );
        for calls in &plugins {
            let mut outcomes = calls
                .outcomes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            for (method, n) in calls.ok.counts() {
                *outcomes.entry((method, "ok")).or_insert(0) += n;
            }
            for ((method, outcome), n) in outcomes {
                let labels = series_labels(&calls.key, &[("method", method), ("outcome", outcome)]);
                sample(&mut out, "robodev_plugin_calls_total", &labels, n);
            }
        }

        family(
            &mut out,
            "robodev_plugin_call_duration_seconds",
            "histogram",
            "Latency of plugin calls that reached the plugin, in seconds.",
        );
        for calls in &plugins {
            let h = &calls.duration;
            let counts: Vec<u64> = h
                .buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect();
            let total: u64 = counts.iter().sum();
            if total == 0 {
                // Only calls refused by the off switch: nothing was timed.
                continue;
            }
            let mut cumulative = 0;
            for (bound, n) in DURATION_BUCKETS.iter().zip(&counts) {
                cumulative += n;
                let le = bound.to_string();
                let labels = series_labels(&calls.key, &[("le", &le)]);
                sample(
                    &mut out,
                    "robodev_plugin_call_duration_seconds_bucket",
                    &labels,
                    cumulative,
                );
            }
            let labels = series_labels(&calls.key, &[("le", "+Inf")]);
            sample(
                &mut out,
                "robodev_plugin_call_duration_seconds_bucket",
                &labels,
                total,
            );
            let labels = series_labels(&calls.key, &[]);
            let sum = Duration::from_nanos(h.sum_nanos.load(Ordering::Relaxed)).as_secs_f64();
            sample(
                &mut out,
                "robodev_plugin_call_duration_seconds_sum",
                &labels,
                sum,
            );
            sample(
                &mut out,
                "robodev_plugin_call_duration_seconds_count",
                &labels,
                total,
            );
        }

        let entries = loaded;
        let key = |name: &str, interface: Interface, runtime: RuntimeKind| SeriesKey {
            interface,
            plugin: name.to_owned(),
            runtime,
        };

        family(
            &mut out,
            "robodev_plugin_up",
            "gauge",
            "1 when the plugin is serving; 0 when it is restarting, unhealthy, stopped or did not load.",
        );
        for entry in entries {
            let up = u8::from(entry.health == Health::Serving);
            let labels = series_labels(&key(&entry.name, entry.interface, entry.runtime), &[]);
            sample(&mut out, "robodev_plugin_up", &labels, up);
        }
        for failure in failures {
            let labels =
                series_labels(&key(&failure.name, failure.interface, failure.runtime), &[]);
            sample(&mut out, "robodev_plugin_up", &labels, 0);
        }

        family(
            &mut out,
            "robodev_plugin_enabled",
            "gauge",
            "1 unless an operator switched the plugin off through the admin API.",
        );
        for entry in entries {
            let enabled = u8::from(switches.is_enabled(entry.interface, &entry.name));
            let labels = series_labels(&key(&entry.name, entry.interface, entry.runtime), &[]);
            sample(&mut out, "robodev_plugin_enabled", &labels, enabled);
        }

        family(
            &mut out,
            "robodev_plugin_info",
            "gauge",
            "Always 1; the version label is what the plugin's handshake reported.",
        );
        for entry in entries {
            let labels = series_labels(
                &key(&entry.name, entry.interface, entry.runtime),
                &[("version", &entry.version)],
            );
            sample(&mut out, "robodev_plugin_info", &labels, 1);
        }

        // Runtime counters, typed: a renamed field is a compile error, not a missing metric.
        let counters: Vec<(&PluginSample, &RuntimeCounters)> =
            entries.iter().map(|e| (e, &e.counters)).collect();

        family(
            &mut out,
            "robodev_plugin_restarts_total",
            "counter",
            "Restarts of a subprocess plugin after it crashed.",
        );
        for (entry, c) in &counters {
            if let RuntimeCounters::Subprocess { restarts, .. } = *c {
                let labels = label_set(&[("plugin", &entry.name)]);
                sample(&mut out, "robodev_plugin_restarts_total", &labels, restarts);
            }
        }

        family(
            &mut out,
            "robodev_plugin_wasm_traps_total",
            "counter",
            "Failures of Wasm plugin calls by kind (trap, panicked, out_of_fuel, deadline_exceeded, memory_limit, ...).",
        );
        for (entry, c) in &counters {
            let RuntimeCounters::Wasm(stats) = *c else {
                continue;
            };
            for (kind, n) in &stats.failures {
                let labels = label_set(&[("plugin", &entry.name), ("kind", kind)]);
                sample(&mut out, "robodev_plugin_wasm_traps_total", &labels, n);
            }
        }

        family(
            &mut out,
            "robodev_plugin_wasm_fuel_consumed_total",
            "counter",
            "Fuel (Wasm instructions, roughly) used by a Wasm plugin's calls.",
        );
        for (entry, c) in &counters {
            if let RuntimeCounters::Wasm(stats) = *c {
                let labels = label_set(&[("plugin", &entry.name)]);
                sample(
                    &mut out,
                    "robodev_plugin_wasm_fuel_consumed_total",
                    &labels,
                    stats.fuel_consumed,
                );
            }
        }

        family(
            &mut out,
            "robodev_plugin_wasm_memory_high_water_bytes",
            "gauge",
            "The largest linear memory a Wasm plugin's calls grew to.",
        );
        for (entry, c) in &counters {
            if let RuntimeCounters::Wasm(stats) = *c {
                let labels = label_set(&[("plugin", &entry.name)]);
                sample(
                    &mut out,
                    "robodev_plugin_wasm_memory_high_water_bytes",
                    &labels,
                    stats.memory_high_water_bytes,
                );
            }
        }
        out
    }
}

/// The `# HELP` and `# TYPE` lines of a family.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// One sample line.
fn sample(out: &mut String, name: &str, labels: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "{name}{labels} {value}");
}

/// `{plugin="..",interface="..",runtime="..",EXTRA..}`.
fn series_labels(key: &SeriesKey, extra: &[(&str, &str)]) -> String {
    let mut pairs = vec![
        ("plugin", key.plugin.as_str()),
        ("interface", key.interface.name()),
        ("runtime", key.runtime.label()),
    ];
    pairs.extend_from_slice(extra);
    label_set(&pairs)
}

/// `{k1="v1",k2="v2"}` with the values escaped.
fn label_set(pairs: &[(&str, &str)]) -> String {
    let mut out = String::from("{");
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(name);
        out.push_str("=\"");
        escape_into(&mut out, value);
        out.push('"');
    }
    out.push('}');
    out
}

/// A label value as the text format requires: `\`, `"` and line feeds escaped.
fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(plugin: &str) -> CallLabels {
        CallLabels {
            plugin: plugin.to_owned(),
            interface: Interface::Ticketing,
            runtime: RuntimeKind::Builtin,
            version: "1.0.0".into(),
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(
            label_set(&[("plugin", "a\"b\\c\nd"), ("kind", "trap")]),
            r#"{plugin="a\"b\\c\nd",kind="trap"}"#
        );
    }

    #[test]
    fn calls_render_as_counters_and_a_cumulative_histogram() {
        let metrics = Metrics::new();
        let calls = metrics.plugin(&labels("local"));
        calls.record("mark-in-progress", "ok", Some(Duration::from_micros(10)));
        calls.record(
            "mark-in-progress",
            "not_found",
            Some(Duration::from_millis(3)),
        );
        calls.record("mark-in-progress", "disabled", None);
        calls.record("poll-ready-tickets", "ok", Some(Duration::from_secs(60)));
        // Wrapping the same plugin again continues its series.
        metrics.plugin(&labels("local")).record(
            "mark-in-progress",
            "ok",
            Some(Duration::from_micros(60)),
        );

        let text = metrics.render(&[], &[], &Switches::new());
        let lines: Vec<&str> = text.lines().collect();
        let series = r#"plugin="local",interface="ticketing",runtime="builtin""#;
        for expected in [
            format!(
                r#"robodev_plugin_calls_total{{{series},method="mark-in-progress",outcome="disabled"}} 1"#
            ),
            format!(
                r#"robodev_plugin_calls_total{{{series},method="mark-in-progress",outcome="not_found"}} 1"#
            ),
            format!(
                r#"robodev_plugin_calls_total{{{series},method="mark-in-progress",outcome="ok"}} 2"#
            ),
            format!(
                r#"robodev_plugin_calls_total{{{series},method="poll-ready-tickets",outcome="ok"}} 1"#
            ),
            format!(r#"robodev_plugin_call_duration_seconds_bucket{{{series},le="0.00005"}} 1"#),
            format!(r#"robodev_plugin_call_duration_seconds_bucket{{{series},le="0.0001"}} 2"#),
            format!(r#"robodev_plugin_call_duration_seconds_bucket{{{series},le="0.005"}} 3"#),
            format!(r#"robodev_plugin_call_duration_seconds_bucket{{{series},le="30"}} 3"#),
            format!(r#"robodev_plugin_call_duration_seconds_bucket{{{series},le="+Inf"}} 4"#),
            format!(r#"robodev_plugin_call_duration_seconds_sum{{{series}}} 60.00307"#),
            format!(r#"robodev_plugin_call_duration_seconds_count{{{series}}} 4"#),
        ] {
            assert!(
                lines.contains(&expected.as_str()),
                "{expected}\nnot in:\n{text}"
            );
        }
    }

    /// More methods succeed than the lock-free counters have slots for: the rest are counted
    /// under the lock, and every count comes out once, in order.
    #[test]
    fn successes_of_many_methods_are_all_counted() {
        const METHODS: [&str; 14] = [
            "m00", "m01", "m02", "m03", "m04", "m05", "m06", "m07", "m08", "m09", "m10", "m11",
            "m12", "m13",
        ];
        let metrics = Metrics::new();
        let calls = metrics.plugin(&labels("many"));
        for (i, m) in METHODS.iter().enumerate() {
            for _ in 0..=i {
                calls.record(m, "ok", Some(Duration::from_micros(1)));
            }
        }
        let text = metrics.render(&[], &[], &Switches::new());
        let counted: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("robodev_plugin_calls_total{"))
            .collect();
        let series = r#"plugin="many",interface="ticketing",runtime="builtin""#;
        let expected: Vec<String> = METHODS
            .iter()
            .enumerate()
            .map(|(i, m)| {
                format!(
                    r#"robodev_plugin_calls_total{{{series},method="{m}",outcome="ok"}} {}"#,
                    i + 1
                )
            })
            .collect();
        assert_eq!(counted, expected);
    }
}
