//! Logging for plugins served by [`crate::serve`]: a `tracing` subscriber that writes each event
//! as one hclog JSON line on stderr (`@level`, `@message`, `@module`, `@timestamp`, then the
//! event's fields), the format go-plugin hosts, robodev included, parse and re-log at the
//! plugin's level. The level is `info` unless `ROBODEV_PLUGIN_LOG` names another
//! (`trace`, `debug`, `info`, `warn`, `error`).

use std::io::Write;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the hclog subscriber unless the program already set one.
pub(crate) fn init(module: &str) {
    let level = std::env::var("ROBODEV_PLUGIN_LOG")
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let _ = tracing_subscriber::registry()
        .with(
            Hclog {
                module: module.to_owned(),
            }
            .with_filter(level),
        )
        .try_init();
}

struct Hclog {
    module: String,
}

struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), format!("{value:?}").into());
    }
}

fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        _ => "error",
    }
}

/// One event as an hclog line (with its newline).
fn line(module: &str, level: &Level, mut fields: Map<String, Value>) -> String {
    let mut out = Map::new();
    out.insert("@level".to_owned(), level_name(level).into());
    out.insert(
        "@message".to_owned(),
        fields.remove("message").unwrap_or_default(),
    );
    out.insert("@module".to_owned(), module.into());
    out.insert(
        "@timestamp".to_owned(),
        humantime::format_rfc3339_micros(std::time::SystemTime::now())
            .to_string()
            .into(),
    );
    out.extend(fields);
    let mut text = Value::Object(out).to_string();
    text.push('\n');
    text
}

impl<S: Subscriber> Layer<S> for Hclog {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields(Map::new());
        event.record(&mut fields);
        let text = line(&self.module, event.metadata().level(), fields.0);
        // One write per line, so lines from several threads never interleave.
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_hclog_json() {
        let mut fields = Map::new();
        fields.insert("message".into(), "polled tickets".into());
        fields.insert("count".into(), 2.into());
        let text = line("rust-ticketing", &Level::INFO, fields);
        assert!(text.ends_with('\n'));
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["@level"], "info");
        assert_eq!(v["@message"], "polled tickets");
        assert_eq!(v["@module"], "rust-ticketing");
        assert_eq!(v["count"], 2);
        let ts = v["@timestamp"].as_str().unwrap();
        assert!(
            ts.ends_with('Z') && ts.len() == "2026-11-21T22:52:13.228835Z".len(),
            "{ts}"
        );
    }
}
