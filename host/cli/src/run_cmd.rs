//! `robodev run` and `robodev plugins list`: the controller on a config file.

use crate::exit::Exit;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use robodev_controller::config::Config;
use robodev_controller::controller::{Controller, StateLock};
use robodev_controller::registry::{LoadOptions, Loading, Registry};
use robodev_controller::runs::{RunStore, TaskRun, TaskState};
use serde_json::json;

use crate::plugin_cmd::default_dir;

/// Which config file, and where compiled components are cached.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// The config file.
    #[arg(
        long,
        short,
        default_value = "robodev-config.yaml",
        env = "ROBODEV_CONFIG"
    )]
    pub config: PathBuf,
    /// Directory of precompiled components [default: the config's `cache_dir`, else
    /// $XDG_CACHE_HOME/robodev/components].
    #[arg(long, env = "ROBODEV_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Directory of task runs and built-in backends' state [default: the config's
    /// `state_dir`].
    #[arg(long, env = "ROBODEV_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
}

impl ConfigArgs {
    /// Reads and validates the config; prints the error and returns the exit code if invalid.
    pub fn load(&self) -> Result<Config, u8> {
        let mut config = Config::load(&self.config).map_err(|e| {
            eprintln!("error: {e}");
            2u8
        })?;
        if let Some(dir) = &self.state_dir {
            // Absolute like the config's own paths: agents run in their workspaces under it
            // and are handed paths in it (ROBODEV_RESULT_FILE...), which must not be relative.
            config.state_dir = std::path::absolute(dir).map_err(|e| {
                eprintln!("error: --state-dir {}: {e}", dir.display());
                2u8
            })?;
        }
        Ok(config)
    }

    /// The registry's load options.
    pub fn options(&self, config: &Config, enforce_critical: bool) -> LoadOptions {
        LoadOptions {
            cache_dir: Some(
                self.cache_dir
                    .clone()
                    .or_else(|| config.cache_dir.clone())
                    .unwrap_or_else(|| default_dir("XDG_CACHE_HOME", ".cache", "components")),
            ),
            oci_cache_dir: Some(oci_cache_dir()),
            enforce_critical,
        }
    }
}

/// Where pulled OCI components are kept: `$ROBODEV_OCI_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/robodev/oci`.
pub fn oci_cache_dir() -> PathBuf {
    std::env::var_os("ROBODEV_OCI_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| default_dir("XDG_CACHE_HOME", ".cache", "oci"))
}

/// `robodev run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Poll once, finish every run that poll started or resumed, print a summary and exit.
    #[arg(long)]
    once: bool,
}

pub async fn run(args: RunArgs) -> u8 {
    let config = match args.config.load() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let _lock = match StateLock::acquire(&config.state_dir) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return e.exit_code();
        }
    };
    eprintln!(
        "robodev: loading {} plugin(s) from {}",
        config.plugins.len(),
        config.path.display()
    );
    // Shared before its plugins have loaded, so that one slow plugin (say, pulled from a slow
    // registry) holds neither the others nor the admin API: each is usable once it has loaded.
    let registry = Arc::new(Registry::pending(
        &config,
        args.config.options(&config, true),
    ));
    let loading = tokio::spawn({
        let registry = registry.clone();
        async move { registry.load_pending().await }
    });
    let config = Arc::new(config);
    let reloader = Arc::new(robodev_controller::reload::Reloader::new(
        registry.clone(),
        args.config.config.clone(),
        args.config.state_dir.clone(),
    ));
    // Config and plugin files are watched while robodev runs; a change reloads that plugin.
    let (stop_watch, watch_stopped) = tokio::sync::oneshot::channel::<()>();
    let watcher = tokio::spawn(reloader.clone().watch(
        robodev_controller::reload::WATCH_INTERVAL,
        async move {
            let _ = watch_stopped.await;
        },
    ));
    let mut admin = None;
    // A signal while robodev still waits for plugins stops it as cleanly as one later would.
    let started = tokio::select! {
        started = start_controller(&config, &registry, reloader, &mut admin) => started,
        () = stop_signal() => {
            eprintln!("robodev: stopped by a signal before the controller started");
            Err(0)
        }
    };
    let code = match started {
        Err(code) => code,
        Ok(controller) if args.once => match controller.run_once().await {
            Ok((report, runs)) => {
                print_summary(&report, &runs);
                0
            }
            Err(e) => {
                eprintln!("error: {e}");
                e.exit_code()
            }
        },
        Ok(controller) => {
            eprintln!(
                "robodev: polling {} every {} s (Ctrl-C to stop)",
                config.ticketing.backend.name(),
                config.poll_interval.as_secs_f64()
            );
            match controller.run_until_signalled().await {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("error: {e}");
                    e.exit_code()
                }
            }
        }
    };
    let _ = stop_watch.send(());
    let _ = watcher.await;
    if let Some(admin) = admin {
        admin.stop().await;
    }
    // Also stops the loads still in progress (plugins nothing needed yet).
    registry.shutdown().await;
    let _ = loading.await;
    code
}

/// SIGINT or SIGTERM (never, if the handlers cannot be installed).
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Starts the admin API (into `admin`), waits for the plugins the controller needs, and
/// wires the controller; `Err` is the exit code (the error is printed).
async fn start_controller(
    config: &Arc<Config>,
    registry: &Arc<Registry>,
    reloader: Arc<robodev_controller::reload::Reloader>,
    admin: &mut Option<robodev_controller::admin::AdminHandle>,
) -> Result<Arc<Controller>, u8> {
    *admin = robodev_controller::admin::start(config, registry, reloader)
        .await
        .map_err(|e| {
            eprintln!("error: {e}");
            2u8
        })?;
    // The controller takes its backends (every selection) when it starts, and must not run
    // without a critical plugin: those are waited for; the other plugins keep loading.
    let selections = robodev_controller::registry::selections(config);
    let needed = |l: &Loading| {
        l.critical
            || selections
                .iter()
                .any(|s| s.interface() == l.interface && s.name() == l.name)
    };
    for waiting in registry.loading().iter().filter(|l| needed(l)) {
        tracing::info!(
            plugin = %waiting.name,
            "waiting for plugin {:?} ({}) to load before the controller starts",
            waiting.name,
            waiting.interface
        );
    }
    // A critical plugin that failed ends the wait at once: robodev will not run anyway.
    registry
        .wait_until(|r| r.critical_failure().is_some() || !r.loading().iter().any(needed))
        .await;
    if let Some(critical) = registry.critical_failure() {
        for failure in &critical.failures {
            eprintln!(
                "error: critical plugin {:?} did not load: {}",
                failure.name, failure.error
            );
        }
        return Err(critical.exit_code());
    }
    // Plugins that did not load are in the log (a warning each).
    match Controller::new(config.clone(), registry) {
        Ok(c) => Ok(Arc::new(c)),
        Err(e) => {
            eprintln!("error: {e}");
            Err(e.exit_code())
        }
    }
}

fn outcome(run: &TaskRun) -> String {
    let detail = match run.state {
        TaskState::Succeeded => run
            .result
            .as_ref()
            .map(|r| {
                let mut parts = Vec::new();
                if !r.merge_request_url.is_empty() {
                    parts.push(r.merge_request_url.clone());
                } else if !r.branch_name.is_empty() {
                    parts.push(format!("branch {}", r.branch_name));
                }
                if !r.summary.is_empty() {
                    parts.push(r.summary.clone());
                }
                parts.join(": ")
            })
            .unwrap_or_default(),
        TaskState::NeedsHuman => format!(
            "waiting for approval ({})",
            run.approval_request.clone().unwrap_or_default()
        ),
        _ => run.reason.clone().unwrap_or_default(),
    };
    let unreported = if run.state.is_final() && !run.is_settled() {
        " [not yet reported to the ticketing backend; retried on the next pass]"
    } else {
        ""
    };
    format!(
        "  {:<10} {:<10} {:<40} {detail}{unreported}",
        run.ticket.id,
        run.state.to_string(),
        truncate(&run.ticket.title, 40)
    )
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

fn print_summary(report: &robodev_controller::controller::PassReport, runs: &[TaskRun]) {
    if runs.is_empty() {
        println!(
            "robodev: nothing to do ({} ready ticket(s) polled, {} already handled, no unfinished runs)",
            report.polled,
            report.already_handled.len()
        );
        return;
    }
    println!(
        "robodev: {} ticket(s) polled, {} task run(s) processed, {} already handled",
        report.polled,
        runs.len(),
        report.already_handled.len()
    );
    let mut runs: Vec<&TaskRun> = runs.iter().collect();
    runs.sort_by_key(|r| {
        report
            .dispatched
            .iter()
            .position(|id| *id == r.id)
            .unwrap_or(usize::MAX)
    });
    for run in runs {
        println!("{}", outcome(run));
    }
}

/// `robodev plugins list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn list(args: ListArgs) -> u8 {
    let config = match args.config.load() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let registry = match Registry::load(&config, args.config.options(&config, false)).await {
        Ok(r) => r,
        Err(critical) => {
            // Not reached: critical plugins are not enforced here.
            eprintln!("error: {critical}");
            return critical.exit_code();
        }
    };
    let runs = RunStore::new(&config.state_dir).all().unwrap_or_else(|e| {
        eprintln!(
            "warning: cannot read the task runs in {}: {e}",
            config.state_dir.display()
        );
        Vec::new()
    });
    let mut rows = Vec::new();
    for entry in registry.entries() {
        let mut row = entry.to_json();
        row["critical"] = config
            .plugin_health
            .critical_plugins
            .contains(&entry.name)
            .into();
        rows.push(row);
    }
    rows.extend(registry.failures().iter().map(|f| f.to_json()));
    let code = registry
        .failures()
        .first()
        .map_or(0, |f| f.error.outcome().exit_code());
    registry.shutdown().await;
    if args.json {
        let runs: Vec<_> = runs
            .iter()
            .map(|r| {
                json!({
                    "ticket": r.ticket.id,
                    "taskRunId": r.id,
                    "state": r.state.to_string(),
                    "attempts": r.attempts,
                    "settled": r.is_settled(),
                    "reason": r.reason,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "plugins": rows, "taskRuns": runs }))
                .unwrap_or_default()
        );
        return code;
    }
    println!(
        "{:<16} {:<14} {:<11} {:<9} {:<10} SOURCE",
        "NAME", "INTERFACE", "RUNTIME", "VERSION", "HEALTH"
    );
    for row in &rows {
        let s = |k: &str| row[k].as_str().unwrap_or("-").to_owned();
        let mut source = s("source");
        if let Some(d) = row["digest"].as_str() {
            source = format!("{source} ({})", &d[..d.len().min(19)]);
        }
        if let Some(msg) = row["error"]["message"].as_str() {
            source = format!("{source}: {msg}");
        }
        println!(
            "{:<16} {:<14} {:<11} {:<9} {:<10} {source}",
            s("name"),
            s("interface"),
            s("runtime"),
            s("version"),
            s("health"),
        );
    }
    let mut counts = std::collections::BTreeMap::new();
    for run in &runs {
        *counts.entry(run.state.to_string()).or_insert(0) += 1;
    }
    println!();
    if runs.is_empty() {
        println!("task runs: none yet ({})", config.state_dir.display());
    } else {
        let counts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
        println!(
            "task runs: {} ({})",
            counts.join(", "),
            config.state_dir.display()
        );
        for run in &runs {
            println!("{}", outcome(run));
        }
    }
    code
}

/// `robodev task approve|reject|list`: the human side of pre-start approval, and the task
/// runs of a state directory.
#[derive(Debug, clap::Subcommand)]
pub enum TaskCommand {
    /// Approve a task run that waits for a human; the next pass of `robodev run` starts it.
    Approve(DecideArgs),
    /// Reject a task run that waits for a human; the next pass reports it failed.
    Reject(DecideArgs),
    /// Every task run: ticket, state, what happened.
    List {
        #[command(flatten)]
        config: ConfigArgs,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Which run, and why.
#[derive(Debug, Args)]
pub struct DecideArgs {
    /// The ticket id.
    ticket: String,
    /// A note recorded with the decision (and, for a rejection, reported as the reason).
    #[arg(long, default_value = "")]
    note: String,
    #[command(flatten)]
    config: ConfigArgs,
}

pub async fn task(command: TaskCommand) -> u8 {
    let (args, approve) = match command {
        TaskCommand::Approve(a) => (a, true),
        TaskCommand::Reject(a) => (a, false),
        TaskCommand::List { config, json } => return list_runs(&config, json),
    };
    let config = match args.config.load() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let who = std::env::var("USER").unwrap_or_else(|_| "a human".into());
    match RunStore::new(&config.state_dir).decide(
        config.ticketing.backend.name(),
        &args.ticket,
        approve,
        &who,
        &args.note,
    ) {
        Ok(run) => {
            println!("{}", outcome(&run));
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

fn list_runs(args: &ConfigArgs, json_out: bool) -> u8 {
    let config = match args.load() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let runs = match RunStore::new(&config.state_dir).all() {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "error: cannot read the task runs in {}: {e}",
                config.state_dir.display()
            );
            return 2;
        }
    };
    if json_out {
        println!(
            "{}",
            serde_json::to_string_pretty(&runs).unwrap_or_default()
        );
    } else if runs.is_empty() {
        println!("no task runs yet ({})", config.state_dir.display());
    } else {
        for run in &runs {
            println!("{}", outcome(run));
        }
    }
    0
}
