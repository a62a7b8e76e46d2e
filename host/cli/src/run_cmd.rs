//! `robodev run` and `robodev plugins list`: the controller on a config file.

use crate::exit::Exit;
use std::path::PathBuf;

use clap::Args;
use std::sync::Arc;

use robodev_controller::config::{Config, ExecutorSettings, TaskRunStore};
use robodev_controller::daemon::{Daemon, DaemonError};
use robodev_controller::runs::{FileStore, RunStore, TaskRun, TaskState};
use robodev_registry::{LoadOptions, Registry};
use serde_json::json;

use crate::common::oci_cache_dir;

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
            cache_dir: Some(crate::common::compile_cache_dir(
                self.cache_dir.as_ref(),
                config.cache_dir.as_ref(),
            )),
            cache_max_bytes: config.cache_mb.map(|mb| mb << 20),
            oci_cache_dir: Some(oci_cache_dir()),
            enforce_critical,
        }
    }
}

/// `robodev run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Poll once, finish every run that poll started or resumed, print a summary and exit.
    #[arg(long)]
    once: bool,
    /// Act only while this replica holds the leader Lease (coordination.k8s.io); standbys
    /// poll nothing and start nothing. Also `leader_election.enabled` in the config. The
    /// identity is $ROBODEV_POD_NAME, else $HOSTNAME.
    #[arg(long)]
    leader_elect: bool,
}

pub async fn run(args: RunArgs) -> u8 {
    let config = match args.config.load() {
        Ok(c) => c,
        Err(code) => return code,
    };
    eprintln!(
        "robodev: loading {} plugin(s) from {}",
        config.plugins.len(),
        config.path.display()
    );
    let options = args.config.options(&config, true);
    let mut cluster = Cluster::default();
    let executor = match executor(&config, &mut cluster).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let runs = match run_store(&config, &mut cluster).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    if let Some(runs) = &runs {
        eprintln!("robodev: task runs are kept as {}", runs.location());
    }
    let daemon = match Daemon::start(config, options, executor, runs.clone()).await {
        Ok(d) => d,
        Err(e) => return failed_to_start(&e),
    };
    let mut leadership = None;
    if args.leader_elect || daemon.config().leader_election.enabled {
        let campaign =
            Leadership::campaign(daemon.config(), daemon.readiness().clone(), &mut cluster);
        match campaign.await {
            Ok(l) => leadership = Some(l),
            Err(e) => {
                eprintln!("error: {e}");
                daemon.stop().await;
                return 2;
            }
        }
    }
    // A signal while robodev still waits for plugins (or for the lease) stops it as cleanly
    // as one later would.
    let started = tokio::select! {
        started = async {
            if let Some(l) = &leadership {
                l.until_leader().await;
            }
            daemon.controller().await
        } => started.map_err(|e| failed_to_start(&e)),
        () = stop_signal() => {
            eprintln!("robodev: stopped by a signal before the controller started");
            Err(0)
        }
    };
    let lost = || async {
        match &leadership {
            Some(l) => l.until_lost().await,
            None => std::future::pending().await,
        }
    };
    let code = match started {
        Err(code) => code,
        Ok(controller) if args.once => {
            let once = tokio::select! {
                once = controller.run_once() => once,
                () = lost() => Err(robodev_controller::controller::ControllerError::LeadershipLost),
            };
            match once {
                Ok((report, runs)) => {
                    print_summary(&report, &runs);
                    0
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    e.exit_code()
                }
            }
        }
        Ok(controller) => {
            let config = daemon.config();
            eprintln!(
                "robodev: polling {} every {} s (Ctrl-C to stop)",
                config.ticketing.backend.name(),
                config.poll_interval.as_secs_f64()
            );
            match controller.run_until_signalled_or(lost()).await {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("error: {e}");
                    e.exit_code()
                }
            }
        }
    };
    if let Some(l) = leadership {
        l.stop().await;
    }
    daemon.stop().await;
    code
}

/// This replica's campaign for the leader Lease, running in a task.
struct Leadership {
    role: tokio::sync::watch::Receiver<robodev_kube::lease::Role>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Leadership {
    /// Starts campaigning as `config.leader_election` says; `/readyz` says whether the
    /// lease's state is known.
    async fn campaign(
        config: &Config,
        readiness: Arc<robodev_registry::admin::Readiness>,
        cluster: &mut Cluster,
    ) -> Result<Leadership, String> {
        use robodev_kube::lease::{LeaseSettings, Role};
        let election = &config.leader_election;
        let client = cluster.client("leader election").await?;
        let identity = std::env::var("ROBODEV_POD_NAME")
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_else(|_| format!("robodev-{}", std::process::id()));
        let settings = LeaseSettings {
            namespace: election
                .namespace
                .clone()
                .unwrap_or_else(|| client.default_namespace().to_owned()),
            name: election.lease_name.clone(),
            identity,
            lease_duration: election.lease_duration,
            renew_deadline: election.renew_deadline,
            retry_period: election.retry_period,
        };
        eprintln!(
            "robodev: leader election on Lease {}/{} as {}",
            settings.namespace, settings.name, settings.identity
        );
        let (role_tx, role) = tokio::sync::watch::channel(Role::Unknown);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        readiness.set(
            "leader election",
            Err("the lease's state is not known yet".into()),
        );
        let mut watched = role.clone();
        tokio::spawn(async move {
            loop {
                let now = *watched.borrow_and_update();
                readiness.set(
                    "leader election",
                    match now {
                        Role::Unknown => Err("the lease's state is not known yet".into()),
                        Role::Lost => Err("this replica lost the lease".into()),
                        Role::Standby | Role::Leader => Ok(()),
                    },
                );
                if watched.changed().await.is_err() {
                    return;
                }
            }
        });
        let task = tokio::spawn(robodev_kube::lease::campaign(
            client,
            settings,
            role_tx,
            async {
                let _ = stopped.await;
            },
        ));
        Ok(Leadership { role, stop, task })
    }

    /// Resolves once this replica leads.
    async fn until_leader(&self) {
        let mut role = self.role.clone();
        let _ = role
            .wait_for(|r| *r == robodev_kube::lease::Role::Leader)
            .await;
    }

    /// Resolves once this replica lost the lease it held.
    async fn until_lost(&self) {
        let mut role = self.role.clone();
        if role
            .wait_for(|r| *r == robodev_kube::lease::Role::Lost)
            .await
            .is_err()
        {
            std::future::pending::<()>().await;
        }
    }

    /// Stops campaigning; a held lease is released for a standby to take at once.
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// The Kubernetes API as robodev reaches it (in a pod, its service account; elsewhere
/// `KUBECONFIG` or `~/.kube/config`): one client, made when the first part of robodev needs
/// it, shared by the executor, the run store and leader election.
#[derive(Default)]
struct Cluster {
    client: Option<kube::Client>,
}

impl Cluster {
    /// The client; `purpose` names what needs it in the error when there is no API.
    async fn client(&mut self, purpose: &str) -> Result<kube::Client, String> {
        if let Some(client) = &self.client {
            return Ok(client.clone());
        }
        let client = kube::Client::try_default().await.map_err(|e| {
            format!(
                "{purpose}: no Kubernetes API to talk to (in a pod, its service account; elsewhere KUBECONFIG or ~/.kube/config): {e}"
            )
        })?;
        Ok(self.client.insert(client).clone())
    }
}

/// The executor `config.executor` asks for: `None` for the local one; for `kubernetes`, Jobs
/// through `cluster`.
async fn executor(
    config: &Config,
    cluster: &mut Cluster,
) -> Result<Option<Arc<dyn robodev_controller::executor::Executor>>, String> {
    let ExecutorSettings::Kubernetes(k) = &config.executor else {
        return Ok(None);
    };
    let client = cluster.client("executor.kind kubernetes").await?;
    let namespace = k
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_owned());
    let settings = robodev_kube::JobSettings {
        namespace,
        service_account: k.service_account.clone(),
        ttl_after_finished: k.ttl_after_finished,
        runtime_class: k.runtime_class.clone(),
        engine: config.engine.backend.name().to_owned(),
    };
    eprintln!(
        "robodev: agents run as Kubernetes Jobs in namespace {}",
        settings.namespace
    );
    Ok(Some(Arc::new(robodev_kube::KubernetesExecutor::new(
        client, settings,
    ))))
}

/// The run store `config.task_runs` asks for: `None` for the files under the state directory;
/// for `kubernetes`, TaskRuns in its namespace (default: the client's).
async fn run_store(
    config: &Config,
    cluster: &mut Cluster,
) -> Result<Option<Arc<dyn RunStore>>, String> {
    let TaskRunStore::Kubernetes { namespace } = &config.task_runs else {
        return Ok(None);
    };
    let client = cluster.client("task_runs.store kubernetes").await?;
    let namespace = namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_owned());
    Ok(Some(Arc::new(robodev_kube::taskruns::CrdStore::new(
        client, &namespace,
    ))))
}

/// The run store of `config`, for the commands that read or decide runs.
async fn store_of(config: &Config) -> Result<Arc<dyn RunStore>, String> {
    Ok(match run_store(config, &mut Cluster::default()).await? {
        Some(store) => store,
        None => Arc::new(FileStore::new(&config.state_dir)),
    })
}

/// Prints why robodev did not start (each critical plugin on its own line) and returns the
/// exit code.
fn failed_to_start(e: &DaemonError) -> u8 {
    match e {
        DaemonError::Critical(critical) => {
            for failure in &critical.failures {
                eprintln!(
                    "error: critical plugin {:?} did not load: {}",
                    failure.name, failure.error
                );
            }
        }
        other => eprintln!("error: {other}"),
    }
    e.exit_code()
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
    let registry = match Registry::load(&config.host(), args.config.options(&config, false)).await {
        Ok(r) => r,
        Err(critical) => {
            // Not reached: critical plugins are not enforced here.
            eprintln!("error: {critical}");
            return critical.exit_code();
        }
    };
    let (runs, location) = match store_of(&config).await {
        Ok(store) => (
            store.all().await.unwrap_or_else(|e| {
                eprintln!(
                    "warning: cannot read the task runs in {}: {e}",
                    store.location()
                );
                Vec::new()
            }),
            store.location(),
        ),
        Err(e) => {
            eprintln!("warning: cannot read the task runs: {e}");
            (Vec::new(), config.state_dir.display().to_string())
        }
    };
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
        // The plugin's own major: an older one (served through an adapter) shows here.
        let interface = match row["interfaceVersion"].as_u64() {
            Some(v) => format!("{} v{v}", s("interface")),
            None => s("interface"),
        };
        println!(
            "{:<16} {:<14} {:<11} {:<9} {:<10} {source}",
            s("name"),
            interface,
            s("runtime"),
            s("version"),
            s("health"),
        );
        if let Some(summary) = row["sandbox"]["summary"].as_str() {
            println!("{:<16} sandbox: {summary}", "");
            for gap in row["sandbox"]["gaps"].as_array().into_iter().flatten() {
                println!("{:<16}   gap: {}", "", gap.as_str().unwrap_or_default());
            }
        }
    }
    let mut counts = std::collections::BTreeMap::new();
    for run in &runs {
        *counts.entry(run.state.to_string()).or_insert(0) += 1;
    }
    println!();
    if runs.is_empty() {
        println!("task runs: none yet ({location})");
    } else {
        let counts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
        println!("task runs: {} ({location})", counts.join(", "));
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
        TaskCommand::List { config, json } => return list_runs(&config, json).await,
    };
    let config = match args.config.load() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let who = std::env::var("USER").unwrap_or_else(|_| "a human".into());
    let store = match store_of(&config).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    match store
        .decide(
            config.ticketing.backend.name(),
            &args.ticket,
            approve,
            &who,
            &args.note,
        )
        .await
    {
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

async fn list_runs(args: &ConfigArgs, json_out: bool) -> u8 {
    let config = match args.load() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let store = match store_of(&config).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let runs = match store.all().await {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "error: cannot read the task runs in {}: {e}",
                store.location()
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
        println!("no task runs yet ({})", store.location());
    } else {
        for run in &runs {
            println!("{}", outcome(run));
        }
    }
    0
}
