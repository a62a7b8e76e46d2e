//! `robodev config check`: validates robodev-config.yaml without starting anything. The file
//! is parsed and validated ([`Config::load`]), then every plugin entry goes through the
//! registry's pre-spawn check (its declared interface version against the host's); no plugin
//! is spawned, read or compiled.
//!
//! Exit codes: 0 valid; 2 the file is invalid (one `error:` line naming file, line and key);
//! 4 a plugin would be refused (one `error:` line per plugin).

use crate::exit::Exit;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use robodev_controller::config::{BackendRef, Config, ConfigError, PluginSource};
use robodev_core::Outcome;
use robodev_registry::registry;
use serde_json::{Value, json};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate robodev-config.yaml without starting anything.
    Check {
        /// The config file.
        #[arg(
            long,
            short,
            default_value = "robodev-config.yaml",
            env = "ROBODEV_CONFIG"
        )]
        config: PathBuf,
        /// Print a JSON object on stdout (errors are still printed on stderr).
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(command: ConfigCommand) -> u8 {
    match command {
        ConfigCommand::Check { config, json } => check(&config, json),
    }
}

fn check(path: &Path, json: bool) -> u8 {
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            if json {
                println!(
                    "{}",
                    json!({
                        "ok": false,
                        "file": path.display().to_string(),
                        "errors": [config_error_json(&e)],
                    })
                );
            }
            return Outcome::Host.exit_code();
        }
    };

    let refusals: Vec<robodev_core::Error> = config
        .plugins
        .iter()
        .filter_map(|spec| registry::precheck(spec).err())
        .collect();
    if !refusals.is_empty() {
        for e in &refusals {
            eprintln!("error: {e}");
        }
        if json {
            let errors: Vec<Value> = refusals.iter().map(robodev_core::Error::to_json).collect();
            println!(
                "{}",
                json!({ "ok": false, "file": path.display().to_string(), "errors": errors })
            );
        }
        return Outcome::Refused.exit_code();
    }

    if json {
        println!("{}", summary_json(&config));
    } else {
        print!("{}", summary(&config));
    }
    0
}

/// A config error as JSON: the one-line message and its parts.
fn config_error_json(e: &ConfigError) -> Value {
    json!({
        "outcome": "host_error",
        "kind": "config",
        "message": e.to_string(),
        "file": e.file.display().to_string(),
        "line": e.line,
        "key": e.key,
        "suggestion": e.suggestion,
    })
}

/// `local (built-in)` / `slack (plugin)`.
fn describe(backend: &BackendRef) -> String {
    match backend {
        BackendRef::Builtin { name, .. } => format!("{name} (built-in)"),
        BackendRef::Plugin { name, .. } => format!("{name} (plugin)"),
    }
}

/// The text summary of a valid config.
fn summary(config: &Config) -> String {
    let components = config
        .plugins
        .iter()
        .filter(|p| matches!(p.source, PluginSource::Component(_)))
        .count();
    let subprocesses = config.plugins.len() - components;
    let mut lines: Vec<(&str, String)> = vec![(
        "plugins",
        format!(
            "{} ({components} component, {subprocesses} subprocess)",
            config.plugins.len()
        ),
    )];
    lines.push(("ticketing", describe(&config.ticketing.backend)));
    let notifications: Vec<String> = config.notifications.iter().map(describe).collect();
    lines.push((
        "notifications",
        if notifications.is_empty() {
            "none".to_owned()
        } else {
            notifications.join(", ")
        },
    ));
    if let Some(approval) = &config.approval {
        lines.push(("approval", describe(approval)));
    }
    lines.push(("secrets", describe(&config.secrets)));
    if let Some(scm) = &config.scm {
        lines.push(("scm", describe(scm)));
    }
    lines.push(("engine", describe(&config.engine.backend)));
    if let Some(review) = &config.review {
        lines.push(("review", describe(&review.backend)));
    }
    lines.push(("state_dir", config.state_dir.display().to_string()));

    let mut out = format!("{}: ok\n", config.path.display());
    for (label, value) in lines {
        // Infallible: writing to a String.
        let _ = writeln!(out, "  {:<16}{value}", format!("{label}:"));
    }
    out
}

/// A backend selection as JSON.
fn backend_json(backend: &BackendRef) -> Value {
    match backend {
        BackendRef::Builtin { name, config, .. } => {
            json!({ "backend": name, "builtin": true, "config": config })
        }
        BackendRef::Plugin { name, .. } => json!({ "backend": name, "builtin": false }),
    }
}

/// The JSON summary of a valid config.
fn summary_json(config: &Config) -> Value {
    let plugins: Vec<Value> = config
        .plugins
        .iter()
        .map(|p| {
            let (runtime, source) = match &p.source {
                PluginSource::Component(c) => ("component", c.location.to_string()),
                PluginSource::Subprocess(s) => ("subprocess", s.command.display().to_string()),
            };
            json!({
                "name": p.name,
                "type": p.interface.name(),
                "interfaceVersion": p.interface_version,
                "runtime": runtime,
                "source": source,
            })
        })
        .collect();
    json!({
        "ok": true,
        "file": config.path.display().to_string(),
        "errors": [],
        "plugins": plugins,
        "ticketing": backend_json(&config.ticketing.backend),
        "notifications": config.notifications.iter().map(backend_json).collect::<Vec<_>>(),
        "approval": config.approval.as_ref().map(backend_json),
        "secrets": backend_json(&config.secrets),
        "scm": config.scm.as_ref().map(backend_json),
        "engine": backend_json(&config.engine.backend),
        "review": config.review.as_ref().map(|r| backend_json(&r.backend)),
        "stateDir": config.state_dir.display().to_string(),
    })
}
