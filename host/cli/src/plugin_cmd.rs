//! `robodev plugin inspect|call|test`. SOURCE is a `.wasm` component (run in the sandboxed Wasm
//! runtime) or an executable (a go-plugin gRPC subprocess plugin).

use crate::common::{default_dir, parse_env};
use crate::exit::Exit;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use robodev_controller::config::{PluginSettings, PluginSource, SettingsSource};
use robodev_core::{AnyBackend, Interface, Outcome};
use robodev_grpc::{RestartPolicy, SubprocessConfig, SubprocessPlugin};
use robodev_wasm::{EnvSecrets, PluginOptions, Runtime, RuntimeConfig, WasmPlugin};
use serde_json::{Value, json};

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Show what a plugin is: interface, version, name, imports, capabilities, digest, size.
    Inspect {
        /// A `.wasm` component file, or a plugin executable (go-plugin gRPC).
        source: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// For an executable: the interface it serves [default: found by asking each
        /// service's Handshake].
        #[arg(long = "type", value_name = "INTERFACE")]
        interface: Option<Interface>,
        #[command(flatten)]
        host: HostArgs,
        #[command(flatten)]
        process: ProcessArgs,
    },
    /// Call one method of a plugin with proto3 JSON input; prints the JSON response.
    Call(CallArgs),
    /// Create a plugin project (`--type INTERFACE --lang python|typescript|go|rust [--runtime
    /// wasm|subprocess]`) that builds with `./build.sh` and passes `robodev plugin test`
    /// untouched (docs/plugins.md is the guide).
    New(crate::new_cmd::NewArgs),
    /// Run the conformance kit: the interface's contract (handshake, every method with valid
    /// input, the errors it requires) and your recorded cases against a plugin of either
    /// runtime; exits 1 naming what failed.
    Test(TestArgs),
    /// Publish a component to an OCI registry (CNCF Wasm artifact layout).
    Push(crate::oci_cmd::PushArgs),
    /// Fetch a component from an OCI registry into robodev's cache (and a file).
    Pull(crate::oci_cmd::PullArgs),
    /// Sign a component or plugin executable (FILE.sig, or a Sigstore bundle) or an OCI
    /// artifact (a Sigstore bundle referrer, as cosign v3 signs; or a `.sig` tag).
    Sign(crate::oci_cmd::SignArgs),
    /// Check a signature against trusted public keys.
    Verify(crate::oci_cmd::VerifyArgs),
    /// Show what a component plugin keeps in its key-value store (`list`, `get KEY`).
    #[command(subcommand)]
    Kv(crate::kv_cmd::KvCommand),
}

impl PluginCommand {
    /// Whether it runs a plugin (whose own log lines the user then wants to see).
    pub fn runs_a_plugin(&self) -> bool {
        matches!(
            self,
            PluginCommand::Call(_) | PluginCommand::Test(_) | PluginCommand::Inspect { .. }
        )
    }
}

/// Where the host keeps its caches and data.
#[derive(Debug, Args)]
pub struct HostArgs {
    /// Directory of precompiled components [default: $XDG_CACHE_HOME/robodev/components].
    #[arg(long, env = "ROBODEV_CACHE_DIR", global = true)]
    cache_dir: Option<PathBuf>,
    /// Compile every time; do not read or write the cache.
    #[arg(long, global = true)]
    no_cache: bool,
    /// Directory of plugin key-value stores [default: $XDG_DATA_HOME/robodev/kv].
    #[arg(long, env = "ROBODEV_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// The largest component file read, in MiB [default: 256]; a larger one is refused
    /// before it is read.
    #[arg(long, global = true, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..))]
    max_component_mb: Option<u64>,
    /// For an `oci://` SOURCE: a PEM file of CA certificates to trust besides the built-in
    /// roots (repeatable; robodev-config.yaml's oci.ca_files).
    #[arg(long = "ca-file", value_name = "FILE")]
    ca_files: Vec<PathBuf>,
}

/// How a subprocess plugin (an executable SOURCE) is run.
#[derive(Debug, Args)]
pub struct ProcessArgs {
    /// An argument for the plugin executable (repeatable).
    #[arg(long = "arg", value_name = "ARG", allow_hyphen_values = true)]
    args: Vec<String>,
    /// An environment variable for the plugin executable, KEY=VALUE (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// Do not use go-plugin's AutoMTLS for the connection (it is on by default).
    #[arg(long)]
    no_mtls: bool,
    /// How long the executable has to print its handshake line and answer, in milliseconds
    /// [default: 30000].
    #[arg(long, value_name = "MS")]
    start_timeout_ms: Option<u64>,
    /// A path the confined plugin may also read and execute (repeatable), as `sandbox.read`.
    #[arg(long = "sandbox-read", value_name = "PATH")]
    sandbox_read: Vec<PathBuf>,
    /// Let the confined plugin use the network, as `sandbox.network: true`.
    #[arg(long)]
    network: bool,
    /// Run the executable unconfined, with robodev's whole environment, as `sandbox: false`.
    #[arg(long)]
    no_sandbox: bool,
}

/// Whether SOURCE is to be loaded as a WebAssembly component: it starts with the WebAssembly
/// magic number, or it is named `*.wasm` (then a file that is not WebAssembly is refused as
/// such, never executed). Anything else is run as a subprocess plugin.
fn is_wasm(source: &Path) -> bool {
    let mut magic = [0u8; 4];
    let starts_as_wasm = std::fs::File::open(source)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| &magic == b"\0asm");
    starts_as_wasm || source.extension().is_some_and(|e| e == "wasm")
}

/// Starts the subprocess plugin `spec` for `plugin call`/`plugin test`: its settings, the
/// command line's over them, its secrets from the environment, and a sandbox that may not
/// grant the data directory.
async fn launch_subprocess(
    spec: &robodev_registry::spec::SubprocessSpec,
    name: &str,
    interface: Option<Interface>,
    load: &LoadArgs,
) -> Result<SubprocessPlugin, robodev_core::Error> {
    let mut config = load.process.apply(
        spec.process_config(name, interface, RestartPolicy::default()),
        load.timeout_ms,
    );
    config.sandbox.protected.push(load.host.data_dir());
    let secrets = robodev_registry::resolve_secrets(name, &spec.secrets, &EnvSecrets).await?;
    // The command line's --env still wins.
    config.env.splice(0..0, secrets);
    SubprocessPlugin::launch(config).await
}

impl ProcessArgs {
    fn config(
        &self,
        name: String,
        source: &Path,
        interface: Option<Interface>,
        call_timeout_ms: Option<u64>,
    ) -> SubprocessConfig {
        let mut config = SubprocessConfig::new(name, source);
        config.interface = interface;
        self.apply(config, call_timeout_ms)
    }

    /// The command line's settings over `config`'s: `--arg`s replace the args when given,
    /// `--env`s come after (and so win over) the env, `--no-mtls`, the timeouts.
    fn apply(
        &self,
        mut config: SubprocessConfig,
        call_timeout_ms: Option<u64>,
    ) -> SubprocessConfig {
        if !self.args.is_empty() {
            config.args = self.args.clone();
        }
        config.env.extend(self.env.iter().cloned());
        if self.no_mtls {
            config.auto_mtls = false;
        }
        if let Some(ms) = self.start_timeout_ms {
            config.start_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = call_timeout_ms {
            config.call_timeout = Duration::from_millis(ms);
        }
        // A one-shot command does not restart a crashed plugin.
        config.restart.max_restarts = 0;
        config
            .sandbox
            .read
            .extend(self.sandbox_read.iter().cloned());
        config.sandbox.network |= self.network;
        if self.no_sandbox {
            config.sandbox.enabled = false;
        }
        config
    }
}

/// `robodev plugin test`.
#[derive(Debug, Args)]
#[command(
    after_help = "The kit calls every method, those that act on a ticket or request on \
what the plugin itself returned (the first polled ticket is commented on, marked in progress, \
complete and failed): point it at a test project. Recorded cases (--cases FILE, YAML or JSON): \
a list of {name, method, input, output} (the response must contain `output`) or \
{name, method, input, error} (the call must fail with that kind, e.g. not_found)."
)]
pub struct TestArgs {
    /// A `.wasm` component file (or `oci://` reference), or a plugin executable (go-plugin
    /// gRPC).
    source: PathBuf,
    /// The interface the plugin must implement [default: a component's export says, an
    /// executable is asked through each service's Handshake].
    #[arg(long = "type", value_name = "INTERFACE")]
    interface: Option<Interface>,
    /// Recorded cases to run after the contract's (YAML or JSON).
    #[arg(long, value_name = "FILE")]
    cases: Option<PathBuf>,
    /// How the report is printed.
    #[arg(long, value_enum, default_value = "text")]
    format: crate::kit::Format,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    #[command(flatten)]
    load: LoadArgs,
}

/// How `plugin call` and `plugin test` load a plugin: its settings, limits and host.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The plugin's settings (YAML or JSON): the keys of one `plugins:` entry of
    /// robodev-config.yaml (config, secrets, allowed_hosts, kv, read_only_dirs, limits,
    /// instance for a component; args, env, secrets, inherit_env, sandbox, auto_mtls,
    /// start_timeout, call_timeout for an executable); SOURCE says where the plugin comes from.
    /// Secrets name environment variables.
    #[arg(long, value_name = "FILE")]
    plugin_config: Option<PathBuf>,
    /// The plugin's name in logs, errors and its kv store [default: the file's stem].
    #[arg(long)]
    name: Option<String>,
    /// Fuel per call [default: 1000000000].
    #[arg(long)]
    fuel: Option<u64>,
    /// Deadline per call in milliseconds [default: 5000 for components, 30000 for
    /// executables].
    #[arg(long)]
    timeout_ms: Option<u64>,
    /// Memory cap per linear memory in MiB [default: 256].
    #[arg(long)]
    memory_mb: Option<u64>,
    #[command(flatten)]
    host: HostArgs,
    #[command(flatten)]
    process: ProcessArgs,
}

#[derive(Debug, Args)]
pub struct CallArgs {
    /// SOURCE METHOD: SOURCE is a `.wasm` component file or a plugin executable (go-plugin
    /// gRPC); with `--config FILE --plugin NAME`, just METHOD. METHOD is the WIT name
    /// (`poll-ready-tickets`) or the RPC name (`PollReadyTickets`).
    #[arg(value_name = "[SOURCE] METHOD", num_args = 1..=2, required = true)]
    targets: Vec<String>,
    /// Call the plugin (or selected built-in backend) NAME of the `--config` file, loaded
    /// exactly as `robodev run` loads it, instead of a SOURCE.
    #[arg(long, value_name = "NAME", requires = "config")]
    plugin: Option<String>,
    /// The robodev-config.yaml for `--plugin`.
    #[arg(long, value_name = "FILE", requires = "plugin")]
    config: Option<PathBuf>,
    /// With `--config`: the state directory [default: the config's `state_dir`].
    #[arg(long, value_name = "DIR", env = "ROBODEV_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// The request as proto3 JSON (fields by JSON name, `ticketId`, or proto name,
    /// `ticket_id`), `@FILE` to read it from a file, or `-` for stdin.
    #[arg(long, short, default_value = "{}")]
    input: String,
    /// The interface the plugin must implement (refused otherwise). Without it, a component's
    /// export says, and an executable is asked through each service's Handshake.
    #[arg(long = "type", value_name = "INTERFACE")]
    interface: Option<Interface>,
    #[command(flatten)]
    load: LoadArgs,
    /// On error, also print a structured error as JSON on stdout.
    #[arg(long)]
    json: bool,
}

impl CallArgs {
    fn source(&self) -> PathBuf {
        PathBuf::from(self.targets.first().map(String::as_str).unwrap_or_default())
    }

    fn method(&self) -> &str {
        self.targets.last().map(String::as_str).unwrap_or_default()
    }
}

/// `robodev plugin call --config FILE --plugin NAME METHOD`.
async fn call_configured(args: CallArgs) -> u8 {
    if args.targets.len() != 1 {
        return usage(
            anyhow::anyhow!("with --plugin, give only METHOD (the plugin comes from the config)"),
            args.json,
        );
    }
    let input = match read_input(&args.input) {
        Ok(v) => v,
        Err(e) => return usage(e, args.json),
    };
    let (Some(path), Some(name)) = (&args.config, &args.plugin) else {
        return usage(anyhow::anyhow!("--plugin needs --config"), args.json);
    };
    let config = match robodev_controller::config::Config::load(path) {
        Ok(mut c) => {
            if let Some(dir) = &args.state_dir {
                c.state_dir = dir.clone();
            }
            c
        }
        Err(e) => {
            eprintln!("error: {e}");
            return Outcome::Host.exit_code();
        }
    };
    let options = robodev_registry::LoadOptions {
        cache_dir: (!args.load.host.no_cache).then(|| {
            crate::common::compile_cache_dir(
                args.load.host.cache_dir.as_ref(),
                config.cache_dir.as_ref(),
            )
        }),
        cache_max_bytes: config.cache_mb.map(|mb| mb << 20),
        oci_cache_dir: Some(crate::common::oci_cache_dir()),
        enforce_critical: false,
    };
    let registry = match robodev_registry::Registry::load_one(&config.host(), options, name).await {
        Ok(r) => r,
        Err(e) => return report(&e, args.json),
    };
    let Some(entry) = registry.entries().into_iter().find(|e| &e.name == name) else {
        registry.shutdown().await;
        return usage(anyhow::anyhow!("plugin {name:?} did not load"), args.json);
    };
    let code = match entry.backend.call_json(name, args.method(), input).await {
        Ok(out) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&out).unwrap_or_else(|_| out.to_string())
            );
            0
        }
        Err(e) => report(&e, args.json),
    };
    registry.shutdown().await;
    code
}

impl HostArgs {
    fn runtime(&self) -> Result<Runtime, robodev_core::Error> {
        let cache_dir = (!self.no_cache)
            .then(|| crate::common::compile_cache_dir(self.cache_dir.as_ref(), None));
        Runtime::new(RuntimeConfig {
            cache_dir,
            ..Default::default()
        })
    }

    fn max_component_bytes(&self) -> Option<u64> {
        self.max_component_mb
            .map(|mb| mb.saturating_mul(1024 * 1024))
    }

    fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| default_dir("XDG_DATA_HOME", ".local/share", "kv"))
    }
}

fn plugin_name(source: &Path, name: Option<&str>) -> String {
    name.map(str::to_owned).unwrap_or_else(|| {
        source
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "plugin".into())
    })
}

/// Components at least this large take seconds to compile (Python and JavaScript ones are
/// 12-40 MB): loading one says so while it happens.
const ANNOUNCE_COMPILE_BYTES: u64 = 4 * 1024 * 1024;

/// [`Runtime::load`], telling the user when a large component is being compiled: a spinner on
/// a terminal, a plain line on stderr otherwise (none with `--json`).
async fn load_showing_progress(
    runtime: &Runtime,
    source: &Path,
    options: PluginOptions,
    json: bool,
) -> Result<WasmPlugin, robodev_core::Error> {
    use std::io::IsTerminal;
    let size = std::fs::metadata(source).map(|m| m.len()).unwrap_or(0);
    if size < ANNOUNCE_COMPILE_BYTES {
        return runtime.load(source, options).await;
    }
    let what = format!(
        "loading {} ({:.1} MB; compiling takes a while unless it is cached)",
        source.display(),
        size as f64 / 1e6
    );
    if !std::io::stderr().is_terminal() {
        if !json {
            eprintln!("{what}");
        }
        return runtime.load(source, options).await;
    }
    let spinner = indicatif::ProgressBar::new_spinner().with_message(what);
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let loaded = runtime.load(source, options).await;
    spinner.finish_and_clear();
    loaded
}

/// Prints an error (and its JSON form) and returns its exit code.
fn report(err: &robodev_core::Error, json: bool) -> u8 {
    eprintln!("error: {err}");
    if json {
        println!("{}", json!({ "error": err.to_json() }));
    }
    err.outcome().exit_code()
}

fn usage(err: anyhow::Error, json: bool) -> u8 {
    eprintln!("error: {err}");
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
    if json {
        println!(
            "{}",
            json!({ "error": { "outcome": "host_error", "kind": "usage", "message": format!("{err:#}") } })
        );
    }
    Outcome::Host.exit_code()
}

pub async fn run(command: PluginCommand) -> u8 {
    match command {
        PluginCommand::Push(args) => crate::oci_cmd::push(args).await,
        PluginCommand::Pull(args) => crate::oci_cmd::pull(args).await,
        PluginCommand::Sign(args) => crate::oci_cmd::sign(args).await,
        PluginCommand::Verify(args) => crate::oci_cmd::verify(args).await,
        PluginCommand::Inspect {
            source,
            json,
            host,
            interface,
            process,
        } => {
            let source = match crate::oci_cmd::resolve_source(&source, &host.ca_files).await {
                Ok(s) => s,
                Err(e) => return usage(e, json),
            };
            if is_wasm(&source) {
                inspect(&source, json, &host).await
            } else {
                inspect_process(&source, json, interface, &process).await
            }
        }
        PluginCommand::Test(args) => test(args).await,
        PluginCommand::Kv(command) => crate::kv_cmd::run(command),
        PluginCommand::New(args) => match crate::new_cmd::run(args) {
            Ok(dir) => {
                println!("created {}", dir.display());
                println!(
                    "next: {}/build.sh, then robodev plugin test on what it built (see {}/README.md)",
                    dir.display(),
                    dir.display()
                );
                0
            }
            Err(e) => usage(e, false),
        },
        PluginCommand::Call(args) if args.plugin.is_some() => call_configured(args).await,
        PluginCommand::Call(args) if args.targets.len() != 2 => usage(
            anyhow::anyhow!(
                "expected SOURCE METHOD (or METHOD with --config FILE --plugin NAME), got {} argument(s)",
                args.targets.len()
            ),
            args.json,
        ),
        PluginCommand::Call(mut args) => {
            if args.load.name.is_none() {
                args.load.name = crate::oci_cmd::plugin_name(&args.source());
            }
            match crate::oci_cmd::resolve_source(&args.source(), &args.load.host.ca_files).await {
                Ok(s) => args.targets[0] = s.display().to_string(),
                Err(e) => return usage(e, args.json),
            }
            if is_wasm(&args.source()) {
                call(args).await
            } else {
                call_process(args).await
            }
        }
    }
}

async fn inspect_process(
    source: &Path,
    json_out: bool,
    interface: Option<Interface>,
    process: &ProcessArgs,
) -> u8 {
    let name = plugin_name(source, None);
    let started = std::time::Instant::now();
    let plugin = match SubprocessPlugin::launch(process.config(name, source, interface, None)).await
    {
        Ok(p) => p,
        Err(e) => return report(&e, json_out),
    };
    let ready = started.elapsed();
    let info = plugin.info();
    let interface = plugin.interface();
    let (address, tls) = plugin.endpoint().unwrap_or_default();
    if json_out {
        let v = json!({
            "source": source.display().to_string(),
            "runtime": "subprocess",
            "interface": interface.name(),
            "interfaceVersion": interface.version(),
            "service": interface.proto_service(),
            "name": info.name,
            "version": info.version,
            "pid": plugin.pid(),
            "address": address,
            "autoMtls": tls,
            "readyMs": ready.as_secs_f64() * 1000.0,
            "sandbox": plugin.confinement().map(|c| robodev_registry::sandbox_json(&c)),
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        println!("source:            {}", source.display());
        println!("runtime:           subprocess (go-plugin gRPC)");
        println!(
            "interface:         {interface} (interface version {})",
            interface.version()
        );
        println!("service:           {}", interface.proto_service());
        println!("plugin:            {} {}", info.name, info.version);
        println!(
            "address:           {address}{}",
            if tls { " (AutoMTLS)" } else { "" }
        );
        println!(
            "ready:             {:.1} ms after spawn",
            ready.as_secs_f64() * 1000.0
        );
        if let Some(c) = plugin.confinement() {
            print!("{}", crate::common::describe_sandbox(&c));
        }
    }
    plugin.shutdown().await;
    0
}

async fn call_process(args: CallArgs) -> u8 {
    let input = match read_input(&args.input) {
        Ok(v) => v,
        Err(e) => return usage(e, args.json),
    };
    let settings = match settings(&args, false) {
        Ok(s) => s,
        Err(e) => return usage(e, args.json),
    };
    let PluginSource::Subprocess(spec) = &settings.source else {
        return usage(
            anyhow::anyhow!("{} is not an executable", args.source().display()),
            args.json,
        );
    };
    let name = call_name(&args, &settings);
    let plugin = match launch_subprocess(
        spec,
        &name,
        args.interface.or(settings.interface),
        &args.load,
    )
    .await
    {
        Ok(p) => p,
        Err(e) => return report(&e, args.json),
    };
    let backend: AnyBackend = plugin.backend();
    let code = match backend.call_json(&name, args.method(), input).await {
        Ok(out) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&out).unwrap_or_else(|_| out.to_string())
            );
            0
        }
        Err(e) => report(&e, args.json),
    };
    plugin.shutdown().await;
    code
}

async fn inspect(source: &Path, json_out: bool, host: &HostArgs) -> u8 {
    let name = plugin_name(source, None);
    let runtime = match host.runtime() {
        Ok(r) => r,
        Err(e) => return report(&e, json_out),
    };
    let options = PluginOptions {
        name: name.clone(),
        max_component_bytes: host.max_component_bytes(),
        ..Default::default()
    };
    let plugin = match load_showing_progress(&runtime, source, options, json_out).await {
        Ok(p) => p,
        Err(e) => return report(&e, json_out),
    };
    let info = plugin.component_info();
    let (load_path, load_time) = plugin.load_path();
    if json_out {
        let mut v = json!({
            "source": source.display().to_string(),
            "runtime": "wasm",
            "name": plugin.plugin_info().name,
            "version": plugin.plugin_info().version,
            "digest": plugin.digest(),
            "size": plugin.size(),
            "load": load_path,
            "loadMs": load_time.as_secs_f64() * 1000.0,
        });
        if let (Some(obj), Ok(Value::Object(more))) =
            (v.as_object_mut(), serde_json::to_value(info))
        {
            obj.extend(more);
        }
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        println!("source:            {}", source.display());
        println!("runtime:           wasm component");
        println!(
            "interface:         {} (interface version {})",
            info.interface, info.interface_version
        );
        println!("export:            {}", info.export);
        println!(
            "plugin:            {} {}",
            plugin.plugin_info().name,
            plugin.plugin_info().version
        );
        println!("digest:            {}", plugin.digest());
        println!("size:              {} bytes", plugin.size());
        println!(
            "load:              {:?} in {:.1} ms",
            load_path,
            load_time.as_secs_f64() * 1000.0
        );
        println!("capabilities:      {}", info.capabilities.join(", "));
        println!("imports:");
        for i in &info.imports {
            println!("  {i}");
        }
    }
    0
}

fn read_input(input: &str) -> anyhow::Result<Value> {
    let text = if input == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read the input from stdin")?;
        s
    } else if let Some(path) = input.strip_prefix('@') {
        std::fs::read_to_string(path).with_context(|| format!("cannot read input file {path}"))?
    } else {
        input.to_owned()
    };
    serde_json::from_str(&text).context("--input is not valid JSON")
}

/// The plugin's settings: `--plugin-config FILE` (the keys of one `plugins:` entry of
/// robodev-config.yaml, read and checked by the same code) or none, for SOURCE as a `kind`
/// plugin; `--type` and the file's `type` must agree.
fn settings(args: &CallArgs, component: bool) -> anyhow::Result<PluginSettings> {
    let source = std::path::absolute(args.source())
        .unwrap_or_else(|_| args.source())
        .display()
        .to_string();
    let source = if component {
        SettingsSource::Component(source)
    } else {
        SettingsSource::Command(source)
    };
    let settings = match &args.load.plugin_config {
        Some(path) => PluginSettings::load(path, source)?,
        None => PluginSettings::parse("", Path::new("."), source)?,
    };
    if let (Some(flag), Some(file)) = (args.interface, settings.interface)
        && flag != file
    {
        anyhow::bail!(
            "--type {flag} disagrees with `type: {file}` of {}",
            args.load
                .plugin_config
                .as_deref()
                .unwrap_or(Path::new(""))
                .display()
        );
    }
    Ok(settings)
}

/// The plugin's name: `--name`, else the settings file's `name`, else SOURCE's stem.
fn call_name(args: &CallArgs, settings: &PluginSettings) -> String {
    args.load
        .name
        .clone()
        .or_else(|| settings.name.clone())
        .unwrap_or_else(|| plugin_name(&args.source(), None))
}

async fn load_for_call(args: &CallArgs) -> anyhow::Result<(Runtime, PluginOptions)> {
    let settings = settings(args, true)?;
    let PluginSource::Component(c) = &settings.source else {
        anyhow::bail!("{} is not a component", args.source().display());
    };
    for dir in c.read_only_dirs.values() {
        if !dir.is_dir() {
            anyhow::bail!("read_only_dirs: {} is not a directory", dir.display());
        }
    }
    let mut limits = c.limits();
    if let Some(f) = args.load.fuel {
        limits.fuel = f;
    }
    if let Some(t) = args.load.timeout_ms {
        limits.timeout = Duration::from_millis(t);
    }
    if let Some(m) = args.load.memory_mb {
        limits = limits.with_memory_mb(m);
    }
    let runtime = args.load.host.runtime()?;
    Ok((
        runtime,
        PluginOptions {
            max_component_bytes: Some(
                args.load
                    .host
                    .max_component_bytes()
                    .unwrap_or(c.max_component_bytes()),
            ),
            name: call_name(args, &settings),
            expected: args.interface.or(settings.interface),
            limits,
            grants: c.grants(Arc::new(EnvSecrets), &args.load.host.data_dir()),
            warm_instances: c.warm_instances(),
        },
    ))
}

async fn call(args: CallArgs) -> u8 {
    let input = match read_input(&args.input) {
        Ok(v) => v,
        Err(e) => return usage(e, args.json),
    };
    let (runtime, options) = match load_for_call(&args).await {
        Ok(v) => v,
        Err(e) => {
            return match e.downcast::<robodev_core::Error>() {
                Ok(core) => report(&core, args.json),
                Err(e) => usage(e, args.json),
            };
        }
    };
    let name = options.name.clone();
    let plugin: WasmPlugin =
        match load_showing_progress(&runtime, &args.source(), options, args.json).await {
            Ok(p) => p,
            Err(e) => return report(&e, args.json),
        };
    match plugin
        .backend()
        .call_json(&name, args.method(), input)
        .await
    {
        Ok(out) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&out).unwrap_or_else(|_| out.to_string())
            );
            0
        }
        Err(e) => report(&e, args.json),
    }
}

/// `robodev plugin test SOURCE`: loads the plugin as `plugin call` does and runs the kit.
async fn test(args: TestArgs) -> u8 {
    let cases = match args
        .cases
        .as_deref()
        .map(crate::kit::read_cases)
        .transpose()
    {
        Ok(c) => c.unwrap_or_default(),
        Err(e) => return usage(e, false),
    };
    let source = match crate::oci_cmd::resolve_source(&args.source, &args.load.host.ca_files).await
    {
        Ok(s) => s,
        Err(e) => return usage(e, false),
    };
    let mut load = args.load;
    if load.name.is_none() {
        load.name = crate::oci_cmd::plugin_name(&args.source);
    }
    let call = CallArgs {
        targets: vec![source.display().to_string(), "handshake".into()],
        plugin: None,
        config: None,
        state_dir: None,
        input: "{}".into(),
        interface: args.interface,
        load,
        json: false,
    };
    let report = if is_wasm(&source) {
        test_component(&call, &cases).await
    } else {
        test_process(&call, &cases).await
    };
    let text = report.render(args.format);
    match &args.output {
        Some(path) => {
            if let Err(e) = std::fs::write(path, &text) {
                return usage(
                    anyhow::anyhow!("cannot write the report to {}: {e}", path.display()),
                    false,
                );
            }
            // The verdict still shows where the command ran.
            eprint!("{}", report.render(crate::kit::Format::Text));
        }
        None => print!("{text}"),
    }
    if report.failed() == 0 {
        0
    } else {
        Outcome::Domain.exit_code()
    }
}

async fn test_component(args: &CallArgs, cases: &[crate::kit::RecordedCase]) -> crate::kit::Report {
    let fallback = plugin_name(&args.source(), args.load.name.as_deref());
    let (runtime, options) = match load_for_call(args).await {
        Ok(v) => v,
        Err(e) => return crate::kit::Report::not_loaded(&fallback, "component", format!("{e:#}")),
    };
    let name = options.name.clone();
    let plugin = match load_showing_progress(&runtime, &args.source(), options, false).await {
        Ok(p) => p,
        Err(e) => return crate::kit::Report::not_loaded(&name, "component", e.to_string()),
    };
    crate::kit::run(&name, &plugin.backend(), Some(&plugin), cases).await
}

async fn test_process(args: &CallArgs, cases: &[crate::kit::RecordedCase]) -> crate::kit::Report {
    let fallback = plugin_name(&args.source(), args.load.name.as_deref());
    let settings = match settings(args, false) {
        Ok(s) => s,
        Err(e) => return crate::kit::Report::not_loaded(&fallback, "subprocess", format!("{e:#}")),
    };
    let PluginSource::Subprocess(spec) = &settings.source else {
        return crate::kit::Report::not_loaded(
            &fallback,
            "subprocess",
            format!("{} is not an executable", args.source().display()),
        );
    };
    let name = call_name(args, &settings);
    let plugin = match launch_subprocess(
        spec,
        &name,
        args.interface.or(settings.interface),
        &args.load,
    )
    .await
    {
        Ok(p) => p,
        Err(e) => return crate::kit::Report::not_loaded(&name, "subprocess", e.to_string()),
    };
    let report = crate::kit::run(&name, &plugin.backend(), None, cases).await;
    plugin.shutdown().await;
    report
}
