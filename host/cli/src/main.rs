//! `robodev`: the command-line tool of the robodev plugin host. All logic lives in the
//! library crates; this binary parses arguments, prints results and maps outcomes to exit
//! codes: 0 success; 1 the plugin returned a domain error; 2 usage, config or host error;
//! 3 the plugin failed (trap, out of fuel, deadline, memory cap, crash); 4 refused to load.

mod cache_cmd;
mod common;
mod config_cmd;
mod exit;
mod kit;
mod kv_cmd;
mod new_cmd;
mod oci_cmd;
mod plugin_cmd;
mod run_cmd;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// robodev: the controller of an AI coding-agent platform, and its plugin host.
#[derive(Debug, Parser)]
#[command(name = "robodev", version, about, long_about = None)]
struct Cli {
    /// More log output on stderr (-v: info, -vv: debug, -vvv: trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the controller: poll tickets, drive the plugins, report.
    Run(run_cmd::RunArgs),
    /// Task runs: list them, approve or reject one that waits for a human.
    Task {
        #[command(subcommand)]
        command: run_cmd::TaskCommand,
    },
    /// The configured plugins.
    Plugins {
        #[command(subcommand)]
        command: PluginsCommand,
    },
    /// Check robodev-config.yaml.
    Config {
        #[command(subcommand)]
        command: config_cmd::ConfigCommand,
    },
    /// Work with one plugin directly: create, inspect, call, test, publish, sign and verify it.
    Plugin {
        #[command(subcommand)]
        command: Box<plugin_cmd::PluginCommand>,
    },
    /// robodev's caches (precompiled components, pulled OCI blobs): their usage, and pruning.
    Cache {
        #[command(subcommand)]
        command: cache_cmd::CacheCommand,
    },
    /// Print a shell completion script (e.g. `robodev completions bash >
    /// /etc/bash_completion.d/robodev`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print robodev's man page (roff; e.g. `robodev man | man -l -`).
    Man,
}

#[derive(Debug, Subcommand)]
enum PluginsCommand {
    /// Every configured plugin: interface, runtime, version, source, health; and the task runs.
    List(run_cmd::ListArgs),
}

/// What the log shows without `-v`.
#[derive(Clone, Copy)]
enum Quiet {
    /// Warnings only.
    Warnings,
    /// Also the plugin's own lines from info up (`plugin call|test|inspect`: what an author
    /// debugging a plugin wants to see).
    PluginLines,
    /// Also the controller's progress (polls, task runs, plugin loads): `run` is its log.
    Progress,
}

fn init_tracing(verbose: u8, quiet: Quiet) {
    let default = match verbose {
        0 => match quiet {
            Quiet::Progress => robodev_controller::RUN_LOG_FILTER,
            Quiet::PluginLines => "warn,robodev::plugin=info",
            Quiet::Warnings => "warn",
        },
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}

fn main() -> ExitCode {
    // One TLS provider for the whole binary, before any client (kube's, oci-client's) asks
    // rustls for the process default.
    robodev_oci::tls::install_default_provider();
    let cli = Cli::parse();
    match &cli.command {
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut command = Cli::command();
            clap_complete::generate(*shell, &mut command, "robodev", &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        Command::Man => {
            use clap::CommandFactory;
            return match clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: cannot write the man page: {e}");
                    ExitCode::from(2)
                }
            };
        }
        _ => {}
    }
    let quiet = match &cli.command {
        Command::Run(_) => Quiet::Progress,
        Command::Plugin { command } if command.runs_a_plugin() => Quiet::PluginLines,
        _ => Quiet::Warnings,
    };
    init_tracing(cli.verbose, quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let code = runtime.block_on(async {
        match cli.command {
            Command::Plugin { command } => plugin_cmd::run(*command).await,
            Command::Config { command } => config_cmd::run(command).await,
            Command::Cache { command } => cache_cmd::run(command),
            Command::Run(args) => run_cmd::run(args).await,
            Command::Task { command } => run_cmd::task(command).await,
            Command::Plugins {
                command: PluginsCommand::List(args),
            } => run_cmd::list(args).await,
            // Answered above, before the runtime starts.
            Command::Completions { .. } | Command::Man => 0,
        }
    });
    ExitCode::from(code)
}
