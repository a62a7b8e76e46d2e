//! The host side: launching a go-plugin gRPC plugin binary and keeping it running.
//!
//! [`SubprocessPlugin::launch`] checks the binary, spawns it (parent-death signal, own process
//! group, null stdin), reads its handshake line under the start timeout, dials the unix socket
//! or TCP address (with AutoMTLS when configured), checks gRPC health, starts forwarding its
//! stderr, stdout and stdio stream into `tracing`, and calls the interface's `Handshake` RPC
//! to check the interface version. [`SubprocessPlugin::backend`] is then the plugin as an
//! [`AnyBackend`]: every call has a deadline, and a crash during a call is a typed
//! [`Failure::Crashed`] while the plugin restarts in the background with backoff.
//! [`SubprocessPlugin::shutdown`] asks the plugin to stop, then SIGKILLs it after
//! [`SHUTDOWN_GRACE`].
//!
//! ```no_run
//! # async fn example() -> Result<(), robodev_core::Error> {
//! use robodev_core::{AnyBackend, Interface};
//! use robodev_grpc::{SubprocessConfig, SubprocessPlugin};
//!
//! let mut config = SubprocessConfig::new("jira", "/opt/robodev/plugins/robodev-plugin-jira");
//! config.interface = Some(Interface::Ticketing);
//! let plugin = SubprocessPlugin::launch(config).await?;
//! if let AnyBackend::Ticketing(jira) = plugin.backend() {
//!     let ready = jira.poll_ready_tickets(Default::default()).await?;
//!     println!("{} tickets", ready.tickets.len());
//! }
//! plugin.shutdown().await;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use hyper_util::rt::TokioIo;
pub use robodev_core::Health;
use robodev_core::{AnyBackend, Error, Failure, Interface, PluginInfo, Refusal};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, BufReader};
use tokio::sync::{oneshot, watch};
use tonic::transport::{Channel, Endpoint, Uri};
use tracing::Instrument;

use crate::handshake::{self, Address};
use crate::logs::{self, Tail};
use crate::pb;
use crate::sandbox::{self, Confinement, Sandbox};
use crate::{adapters, peer, process, tls};

/// The magic cookie RoboDev's plugins check (`ROBODEV_PLUGIN=robodev`).
pub const COOKIE_KEY: &str = "ROBODEV_PLUGIN";
/// The cookie's value.
pub const COOKIE_VALUE: &str = "robodev";
/// The go-plugin app protocol version RoboDev's plugins serve (RoboDev's `HandshakeConfig`
/// has `ProtocolVersion: 1` for every interface; the interface version is checked by the
/// `Handshake` RPC instead).
pub const APP_PROTOCOL_VERSION: u32 = 1;
/// Default time a plugin has to print its handshake line and answer its first RPCs
/// (go-plugin's own hosts wait a fixed minute).
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(30);
/// Default deadline of one call.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a plugin has to exit after the `Shutdown` RPC before it is SIGKILLed.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// The longest handshake line read (Go's AutoMTLS lines are about 830 bytes).
const MAX_HANDSHAKE_LINE: u64 = 64 * 1024;
/// How long a failed call waits for the process to be seen exiting, to tell a crash from a
/// transport error.
const CRASH_GRACE: Duration = Duration::from_millis(500);
/// How long a report of an exited plugin waits for the rest of its stderr (its last words).
const STDERR_GRACE: Duration = Duration::from_millis(500);

/// When and how often a crashed plugin is restarted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartPolicy {
    /// Restarts allowed over the plugin's life; after that it is permanently unhealthy.
    pub max_restarts: u32,
    /// Wait before restart *n* (the last entry repeats).
    pub backoff: Vec<Duration>,
}

impl Default for RestartPolicy {
    /// RoboDev's defaults: 3 restarts, after 1 s, 5 s and 30 s.
    fn default() -> Self {
        RestartPolicy {
            max_restarts: 3,
            backoff: vec![
                Duration::from_secs(1),
                Duration::from_secs(5),
                Duration::from_secs(30),
            ],
        }
    }
}

impl RestartPolicy {
    fn delay(&self, attempt: u32) -> Duration {
        let index = (attempt.saturating_sub(1) as usize).min(self.backoff.len().saturating_sub(1));
        self.backoff.get(index).copied().unwrap_or_default()
    }
}

/// How to run one subprocess plugin.
#[derive(Debug, Clone)]
pub struct SubprocessConfig {
    /// The plugin's configured name (used in logs and errors).
    pub name: String,
    /// The executable: a path, or a name looked up in `PATH`.
    pub command: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// The plugin's environment variables (its `env:` and granted secrets). Confined, it gets
    /// only these and what [`Sandbox`] adds; with `sandbox.enabled == false`, robodev's whole
    /// environment too, as go-plugin does. The go-plugin variables are set last and win.
    pub env: Vec<(String, String)>,
    /// How it is confined (on by default).
    pub sandbox: Sandbox,
    /// The interface it must serve; `None` finds it by asking each service's `Handshake`.
    pub interface: Option<Interface>,
    /// The interface major version its config declares; its `Handshake` must report the same.
    /// `None` accepts any major the host serves ([`Interface::majors`]).
    pub interface_version: Option<u32>,
    /// Whether to use go-plugin's AutoMTLS on the connection.
    pub auto_mtls: bool,
    /// How long the plugin has to print its handshake line and answer health and Handshake.
    pub start_timeout: Duration,
    /// The deadline of each call.
    pub call_timeout: Duration,
    /// Restarts after crashes.
    pub restart: RestartPolicy,
    /// The go-plugin app protocol version offered (`PLUGIN_PROTOCOL_VERSIONS`).
    pub app_protocol_version: u32,
}

impl SubprocessConfig {
    /// A config with the defaults: AutoMTLS on, [`DEFAULT_START_TIMEOUT`],
    /// [`DEFAULT_CALL_TIMEOUT`], [`RestartPolicy::default`], interface found by probing.
    pub fn new(name: impl Into<String>, command: impl Into<PathBuf>) -> Self {
        SubprocessConfig {
            name: name.into(),
            command: command.into(),
            args: Vec::new(),
            env: Vec::new(),
            sandbox: Sandbox::default(),
            interface: None,
            interface_version: None,
            auto_mtls: true,
            start_timeout: DEFAULT_START_TIMEOUT,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            restart: RestartPolicy::default(),
            app_protocol_version: APP_PROTOCOL_VERSION,
        }
    }
}

/// A running go-plugin gRPC plugin process.
pub struct SubprocessPlugin {
    plugin: Arc<Plugin>,
}

impl std::fmt::Debug for SubprocessPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubprocessPlugin")
            .field("name", &self.plugin.name)
            .field("interface", &self.plugin.interface)
            .field("health", &self.health())
            .finish()
    }
}

impl SubprocessPlugin {
    /// Starts the plugin and checks it (see the module docs). Errors: [`Error::Load`] when the
    /// binary is missing or not executable; [`Error::Failed`] when it exits before its
    /// handshake ([`Failure::Crashed`], with exit status and last stderr lines), prints no
    /// handshake in time ([`Failure::StartTimeout`]) or cannot be reached
    /// ([`Failure::Transport`]); [`Error::Refused`] for a broken handshake line
    /// ([`Refusal::Handshake`]), an interface version other than the host's
    /// ([`Refusal::VersionMismatch`]) or a plugin that does not serve the interface.
    pub async fn launch(config: SubprocessConfig) -> Result<SubprocessPlugin, Error> {
        let started = start(&config, config.interface).await?;
        let plugin = Arc::new(Plugin {
            name: config.name.clone(),
            interface: started.interface,
            major: started.major,
            state: RwLock::new(State::Running(started.process)),
            info: Mutex::new(started.info),
            restarts: AtomicU32::new(0),
            stopping: AtomicBool::new(false),
            config,
        });
        tokio::spawn(supervise(Arc::downgrade(&plugin)));
        Ok(SubprocessPlugin { plugin })
    }

    /// The plugin as a backend of its interface.
    pub fn backend(&self) -> AnyBackend {
        adapters::backend(self.plugin.clone())
    }

    /// The interface it serves.
    pub fn interface(&self) -> Interface {
        self.plugin.interface
    }

    /// The interface's major version it implements (its `Handshake` said; an older major than
    /// [`Interface::version`] is served through the current trait).
    pub fn interface_version(&self) -> u32 {
        self.plugin.major
    }

    /// Who it said it is in its last `Handshake`.
    pub fn info(&self) -> PluginInfo {
        self.plugin
            .info
            .lock()
            .map(|i| i.clone())
            .unwrap_or_default()
    }

    /// Whether it is serving.
    pub fn health(&self) -> Health {
        match &*self.plugin.read_state() {
            State::Running(_) => Health::Serving,
            State::Restarting { attempt, cause } => Health::Restarting {
                attempt: *attempt,
                max: self.plugin.config.restart.max_restarts,
                cause: cause.clone(),
            },
            State::Unhealthy(reason) => Health::Unhealthy {
                reason: reason.clone(),
            },
            State::Stopped => Health::Stopped,
        }
    }

    /// The process id of the running plugin process.
    pub fn pid(&self) -> Option<u32> {
        match &*self.plugin.read_state() {
            State::Running(p) => Some(p.pid),
            _ => None,
        }
    }

    /// What the running process was confined to.
    pub fn confinement(&self) -> Option<Confinement> {
        match &*self.plugin.read_state() {
            State::Running(p) => Some(p.confinement.clone()),
            _ => None,
        }
    }

    /// Where the running process listens (`unix PATH` or `tcp ADDR`) and whether the
    /// connection uses AutoMTLS.
    pub fn endpoint(&self) -> Option<(String, bool)> {
        match &*self.plugin.read_state() {
            State::Running(p) => Some((p.address.clone(), p.tls)),
            _ => None,
        }
    }

    /// How many times it was restarted.
    pub fn restarts(&self) -> u32 {
        self.plugin.restarts.load(Ordering::Relaxed)
    }

    /// Asks the plugin's gRPC health service whether service `plugin` is serving.
    pub async fn ping(&self) -> Result<(), Error> {
        let process = self.plugin.current()?;
        let timeout = self.plugin.config.call_timeout;
        check_health(&process.channel, timeout)
            .await
            .map_err(|detail| {
                self.plugin.failed(Failure::Transport {
                    detail,
                    source: None,
                })
            })
    }

    /// Stops the plugin: the `Shutdown` RPC, up to [`SHUTDOWN_GRACE`] to exit, then SIGKILL
    /// to its process group. Its socket files are removed. Calls after this fail.
    pub async fn shutdown(&self) {
        self.plugin.shutdown().await;
    }
}

/// A connected plugin process.
struct Process {
    pid: u32,
    /// Where it listens, for humans (`unix /tmp/.../plugin.sock`).
    address: String,
    /// Whether the connection uses AutoMTLS.
    tls: bool,
    channel: Channel,
    exit: watch::Receiver<Option<ExitStatus>>,
    kill: Mutex<Option<oneshot::Sender<()>>>,
    tail: Tail,
    /// What it was confined to.
    confinement: Confinement,
}

impl Process {
    fn kill(&self) {
        if let Ok(mut kill) = self.kill.lock()
            && let Some(tx) = kill.take()
        {
            let _ = tx.send(());
        }
    }

    fn exited(&self) -> Option<ExitStatus> {
        *self.exit.borrow()
    }

    /// Waits up to `limit` for the process to exit.
    async fn wait_exit(&self, limit: Duration) -> Option<ExitStatus> {
        let mut exit = self.exit.clone();
        tokio::time::timeout(limit, exit.wait_for(Option::is_some))
            .await
            .ok()
            .and_then(|r| r.ok().and_then(|s| *s))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // Nobody holds the process any more: it must not outlive its handle.
        self.kill();
    }
}

enum State {
    Running(Arc<Process>),
    Restarting { attempt: u32, cause: String },
    Unhealthy(String),
    Stopped,
}

/// A subprocess plugin as adapters see it.
pub(crate) struct Plugin {
    name: String,
    interface: Interface,
    major: u32,
    config: SubprocessConfig,
    state: RwLock<State>,
    info: Mutex<PluginInfo>,
    restarts: AtomicU32,
    stopping: AtomicBool,
}

impl Plugin {
    /// The interface it serves.
    pub(crate) fn interface(&self) -> Interface {
        self.interface
    }

    /// The error for a response that breaks the contract (e.g. a `raw` Struct holding NaN).
    pub(crate) fn invalid_output(&self, detail: String) -> Error {
        self.failed(Failure::InvalidOutput { detail })
    }

    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn set_state(&self, state: State) -> State {
        let mut guard = self.state.write().unwrap_or_else(|e| e.into_inner());
        std::mem::replace(&mut *guard, state)
    }

    fn failed(&self, failure: Failure) -> Error {
        Error::Failed {
            plugin: self.name.clone(),
            interface: self.interface,
            failure,
        }
    }

    /// The running process, or why there is none.
    fn current(&self) -> Result<Arc<Process>, Error> {
        let failure = match &*self.read_state() {
            State::Running(p) => return Ok(p.clone()),
            State::Restarting { attempt, cause } => Failure::Restarting {
                detail: format!(
                    "it is restarting (restart {attempt} of {}) after: {cause}",
                    self.config.restart.max_restarts
                ),
            },
            State::Unhealthy(reason) => Failure::Unavailable {
                detail: format!("it is permanently unhealthy: {reason}"),
            },
            State::Stopped => Failure::Unavailable {
                detail: "it was shut down".to_owned(),
            },
        };
        Err(self.failed(failure))
    }

    /// Calls one RPC (`rpc` is its proto name, e.g. `PollReadyTickets`): `f` gets a channel to
    /// the plugin and makes the call with a generated client. Applies the call deadline and
    /// maps a gRPC status to the core error model: a status the plugin sent is a domain error;
    /// a broken connection is a crash (with exit status and last stderr lines) when the
    /// process died, else a transport failure.
    pub(crate) async fn call<Resp, F, Fut>(&self, rpc: &'static str, f: F) -> Result<Resp, Error>
    where
        F: FnOnce(Channel) -> Fut + Send,
        Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>> + Send,
        Resp: Send,
    {
        let process = self.current()?;
        let limit = self.config.call_timeout;
        let span = tracing::debug_span!(
            "plugin_call",
            plugin = %self.name,
            interface = %self.interface,
            runtime = "subprocess",
            rpc
        );
        let answer = tokio::time::timeout(limit, f(process.channel.clone()))
            .instrument(span)
            .await;
        match answer {
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) => Err(self.status_error(&process, rpc, status).await),
            Err(_) => {
                tracing::warn!(
                    plugin = %self.name,
                    rpc,
                    "plugin stopped answering: no reply within {} ms",
                    limit.as_millis()
                );
                Err(self.failed(Failure::DeadlineExceeded { limit }))
            }
        }
    }

    async fn status_error(&self, process: &Process, rpc: &str, status: tonic::Status) -> Error {
        use std::error::Error as _;
        // A status the plugin's server sent has no source; one tonic made from a broken
        // connection carries the transport error.
        let transport = status.source().is_some();
        if !transport && process.exited().is_none() {
            return match crate::convert::code_from_status(status.code()) {
                Some(code) => Error::Plugin {
                    plugin: self.name.clone(),
                    interface: self.interface,
                    error: robodev_core::PluginError::new(code, status.message()),
                },
                None => self.failed(Failure::InvalidOutput {
                    detail: format!("{rpc} answered status OK without a message"),
                }),
            };
        }
        match process.wait_exit(CRASH_GRACE).await {
            Some(exit) => {
                process.tail.settled(STDERR_GRACE).await;
                self.failed(Failure::Crashed {
                    detail: format!(
                        "{} during {rpc}{}",
                        process::describe_exit(&exit),
                        process.tail.suffix()
                    ),
                })
            }
            None => self.failed(Failure::Transport {
                detail: format!("{rpc}: {status}"),
                source: Some(robodev_core::Cause::new(status)),
            }),
        }
    }

    async fn shutdown(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        let State::Running(process) = self.set_state(State::Stopped) else {
            return;
        };
        let mut controller =
            pb::plugin::grpc_controller_client::GrpcControllerClient::new(process.channel.clone());
        // Go plugins stop their server inside the call, so a transport error is the usual
        // answer: any outcome is fine, except that the plugin has no Shutdown at all (a
        // hand-written grpcio plugin): it would sit out the whole grace period, so it gets
        // SIGTERM at once, and its author is told what to implement.
        let answer =
            tokio::time::timeout(SHUTDOWN_GRACE, controller.shutdown(pb::plugin::Empty {})).await;
        if let Ok(Err(status)) = &answer
            && status.code() == tonic::Code::Unimplemented
        {
            tracing::warn!(
                plugin = %self.name,
                "the plugin does not implement go-plugin's plugin.GRPCController/Shutdown, so it cannot be stopped gracefully: sent SIGTERM instead (implement Shutdown to stop at once without a signal; robodev's SDKs do)"
            );
            process::terminate(process.pid);
        }
        if process.wait_exit(SHUTDOWN_GRACE).await.is_none() {
            tracing::warn!(plugin = %self.name, "plugin did not exit within {} ms of Shutdown; killing it", SHUTDOWN_GRACE.as_millis());
        }
        process.kill();
        let _ = process.wait_exit(SHUTDOWN_GRACE).await;
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
    }
}

/// Watches the running process; when it exits unexpectedly, restarts it with backoff.
async fn supervise(plugin: Weak<Plugin>) {
    loop {
        // Wait for the current process to exit, holding only its exit watch.
        let mut exit = {
            let Some(p) = plugin.upgrade() else { return };
            match &*p.read_state() {
                State::Running(process) => process.exit.clone(),
                _ => return,
            }
        };
        let status = match exit.wait_for(Option::is_some).await {
            Ok(s) => *s,
            Err(_) => None,
        };
        let Some(p) = plugin.upgrade() else { return };
        if p.stopping.load(Ordering::SeqCst) {
            return;
        }
        let tail = match &*p.read_state() {
            State::Running(process) => Some(process.tail.clone()),
            _ => None,
        };
        let mut cause = {
            let tail = match tail {
                Some(tail) => {
                    tail.settled(STDERR_GRACE).await;
                    tail.suffix()
                }
                None => String::new(),
            };
            match status {
                Some(s) => format!("the process {}{tail}", process::describe_exit(&s)),
                None => "the process was lost".to_owned(),
            }
        };
        tracing::warn!(plugin = %p.name, "plugin stopped unexpectedly: {cause}");
        drop(p);
        loop {
            let Some(p) = plugin.upgrade() else { return };
            let attempt = p.restarts.fetch_add(1, Ordering::SeqCst) + 1;
            let max = p.config.restart.max_restarts;
            if attempt > max {
                p.restarts.store(max, Ordering::SeqCst);
                let reason = format!("crashed after {max} restarts; last: {cause}");
                tracing::error!(plugin = %p.name, "plugin is permanently unhealthy: {reason}");
                p.set_state(State::Unhealthy(reason));
                return;
            }
            p.set_state(State::Restarting {
                attempt,
                cause: cause.clone(),
            });
            let delay = p.config.restart.delay(attempt);
            tracing::info!(plugin = %p.name, "restarting plugin in {} ms (restart {attempt} of {max})", delay.as_millis());
            drop(p);
            tokio::time::sleep(delay).await;
            let Some(p) = plugin.upgrade() else { return };
            if p.stopping.load(Ordering::SeqCst) {
                return;
            }
            match start(&p.config, Some(p.interface)).await {
                Ok(started) => {
                    if let Ok(mut info) = p.info.lock() {
                        *info = started.info;
                    }
                    tracing::info!(plugin = %p.name, pid = started.process.pid, "plugin restarted");
                    p.set_state(State::Running(started.process));
                    break;
                }
                Err(e @ Error::Refused { .. }) => {
                    let reason = format!("refused on restart: {e}");
                    tracing::error!(plugin = %p.name, "{reason}");
                    p.set_state(State::Unhealthy(reason));
                    return;
                }
                Err(e) => {
                    tracing::warn!(plugin = %p.name, "restart {attempt} failed: {e}");
                    cause = e.to_string();
                }
            }
        }
    }
}

/// A started, checked plugin process.
struct Started {
    process: Arc<Process>,
    info: PluginInfo,
    interface: Interface,
    major: u32,
}

/// Where `command` resolves to, or why it cannot run.
fn resolve(name: &str, command: &Path) -> Result<PathBuf, Error> {
    let load = |message: String| Error::Load {
        plugin: name.to_owned(),
        message,
        source: None,
    };
    let candidates: Vec<PathBuf> = if command.components().count() > 1 || command.is_absolute() {
        vec![command.to_owned()]
    } else {
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).map(|d| d.join(command)).collect())
            .unwrap_or_default()
    };
    let Some(path) = candidates.into_iter().find(|p| p.exists()) else {
        return Err(load(if command.components().count() > 1 {
            format!("plugin binary {} does not exist", command.display())
        } else {
            format!("plugin binary {} was not found in PATH", command.display())
        }));
    };
    let meta = std::fs::metadata(&path)
        .map_err(|e| load(format!("cannot read plugin binary {}: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(load(format!(
            "plugin binary {} is not a file",
            path.display()
        )));
    }
    let mode = meta.permissions().mode();
    if mode & 0o111 == 0 {
        return Err(load(format!(
            "plugin binary {} is not executable (mode {:o}); chmod +x it",
            path.display(),
            mode & 0o7777
        )));
    }
    // Without this check, a file that is neither a program nor a script is handed to /bin/sh
    // by execvp's ENOEXEC fallback and fails in confusing ways.
    let mut magic = [0u8; 4];
    let read = std::fs::File::open(&path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut magic))
        .map_err(|e| load(format!("cannot read plugin binary {}: {e}", path.display())))?;
    if !(magic[..read].starts_with(b"\x7fELF") || magic[..read].starts_with(b"#!")) {
        return Err(load(format!(
            "plugin binary {} is not an executable this machine can run (exec format error: neither an ELF program nor a #! script)",
            path.display()
        )));
    }
    Ok(path)
}

/// Starts and checks one plugin process.
async fn start(config: &SubprocessConfig, interface: Option<Interface>) -> Result<Started, Error> {
    let name = config.name.as_str();
    let load = |message: String| Error::Load {
        plugin: name.to_owned(),
        message,
        source: None,
    };
    // Errors before the interface is known are reported against the configured (or the
    // first) interface.
    let shown = interface.unwrap_or(Interface::Ticketing);
    let failed = |failure: Failure| Error::Failed {
        plugin: name.to_owned(),
        interface: shown,
        failure,
    };
    let refused = |refusal: Refusal| Error::Refused {
        plugin: name.to_owned(),
        refusal,
    };

    let path = resolve(name, &config.command)?;
    let identity = if config.auto_mtls {
        Some(tls::Identity::generate().map_err(load)?)
    } else {
        None
    };
    // Socket directories left by a robodev that was killed: swept once per process.
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(|| {
        let removed = process::sweep_leftovers(&std::env::temp_dir());
        if removed > 0 {
            tracing::info!(
                "removed {removed} plugin socket director{} left by robodev processes that are gone",
                if removed == 1 { "y" } else { "ies" }
            );
        }
    });
    // A private socket directory: go-plugin >= 1.5 plugins put their socket here, and it is
    // removed when the process ends whatever the plugin does. Its name says which robodev
    // made it, so a later robodev can sweep it if this one is killed.
    let socket_dir = tempfile::Builder::new()
        .prefix(&process::socket_dir_prefix())
        .tempdir()
        .map_err(|e| load(format!("cannot create a socket directory: {e}")))?;

    let mut command = tokio::process::Command::new(&path);
    if config.sandbox.enabled {
        // The working directory stays robodev's (relative arguments keep their meaning); the
        // sandbox grants nothing of it but what the plugin's grants name.
        command.env_clear().envs(sandbox::base_env(
            socket_dir.path(),
            &config.sandbox.inherit_env,
        ));
    }
    command.envs(config.env.iter().map(|(k, v)| (k, v)));
    command
        .args(&config.args)
        .env(COOKIE_KEY, COOKIE_VALUE)
        .env(
            "PLUGIN_PROTOCOL_VERSIONS",
            config.app_protocol_version.to_string(),
        )
        .env("PLUGIN_MIN_PORT", "10000")
        .env("PLUGIN_MAX_PORT", "25000")
        .env("PLUGIN_UNIX_SOCKET_DIR", socket_dir.path())
        .env_remove("PLUGIN_MULTIPLEX_GRPC")
        .env_remove("PLUGIN_CLIENT_CERT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(identity) = &identity {
        command.env("PLUGIN_CLIENT_CERT", &identity.pem);
    }
    let (prepared, confinement) = if config.sandbox.enabled {
        // The names the plugin was given, for the record (never their values).
        let mut names: Vec<String> = command
            .as_std()
            .get_envs()
            .filter(|(_, value)| value.is_some())
            .map(|(name, _)| name.to_string_lossy().into_owned())
            .collect();
        names.sort();
        let prepared = sandbox::prepare(
            &config.sandbox,
            &path,
            &config.args,
            socket_dir.path(),
            names,
        )
        .map_err(|e| load(e.to_string()))?;
        let confinement = prepared.confinement.clone();
        (Some(Arc::new(prepared)), confinement)
    } else {
        (None, Confinement::default())
    };
    let confined = prepared.is_some();
    let (mut child, watchdog) = process::spawn_confined(command, prepared).await.map_err(|e| {
        load(match e.raw_os_error() {
            Some(libc_enoexec) if libc_enoexec == nix::errno::Errno::ENOEXEC as i32 => format!(
                "plugin binary {} is not an executable this machine can run (exec format error)",
                path.display()
            ),
            // Refused by the sandbox's own steps (or, for the binary, by its Landlock rules).
            _ if confined
                && (e.kind() == io::ErrorKind::PermissionDenied
                    || e.raw_os_error() == Some(nix::errno::Errno::EPERM as i32)
                    || e.raw_os_error() == Some(nix::errno::Errno::EINVAL as i32)) =>
            {
                format!(
                    "cannot start plugin binary {} in its sandbox: {e} (sandbox.read grants what \
                     it must read; `sandbox: false` runs it unconfined)",
                    path.display()
                )
            }
            _ if e.kind() == io::ErrorKind::PermissionDenied => {
                format!("plugin binary {} cannot be executed: {e}", path.display())
            }
            _ => format!("cannot start plugin binary {}: {e}", path.display()),
        })
    })?;
    let pid = child.id().unwrap_or_default();
    tracing::debug!(plugin = name, pid, command = %path.display(), confinement = %confinement.summary(), "plugin process started");
    for gap in &confinement.gaps {
        tracing::warn!(plugin = name, "sandbox: {gap}");
    }

    let tail = Tail::default();
    let stderr_done = {
        let (done_tx, done_rx) = oneshot::channel::<()>();
        if let Some(stderr) = child.stderr.take() {
            let tail = tail.clone();
            let plugin = name.to_owned();
            tokio::spawn(async move {
                // Bytes, not text: one invalid byte must not stop the draining (the plugin
                // would block on a full pipe, or die of SIGPIPE once it is dropped).
                logs::drain_lines(BufReader::new(stderr), |line| {
                    tail.push(line);
                    logs::stderr_line(&plugin, line);
                })
                .await;
                tail.finish();
                let _ = done_tx.send(());
            });
        }
        done_rx
    };
    let mut stdout = child.stdout.take().map(BufReader::new);

    // The reaper owns the child: it reports the exit, kills on request, and cleans up the
    // socket files once the process is gone.
    let (exit_tx, exit_rx) = watch::channel(None);
    let (kill_tx, kill_rx) = oneshot::channel::<()>();
    let (socket_tx, socket_rx) = oneshot::channel::<(PathBuf, peer::SocketFile)>();
    tokio::spawn(async move {
        let status = tokio::select! {
            status = child.wait() => status,
            _ = kill_rx => {
                process::kill_group(pid);
                child.wait().await
            }
        };
        let _ = exit_tx.send(status.ok());
        // Whatever the plugin left running in its group goes with it.
        drop(watchdog);
        // A Go plugin before go-plugin 1.5 ignores PLUGIN_UNIX_SOCKET_DIR and leaves its
        // socket in $TMPDIR when killed. Only a socket checked to be the plugin's is removed,
        // and only if it is still that very socket: a handshake line never makes robodev
        // delete anything else.
        if let Ok((socket, file)) = socket_rx.await
            && !socket.starts_with(socket_dir.path())
        {
            peer::remove_socket(&socket, file);
        }
        drop(socket_dir);
    });
    let process_exit = exit_rx.clone();
    // From here on, dropping `guard` kills the process.
    let guard = ProcessGuard(Some(kill_tx));

    let deadline = tokio::time::Instant::now() + config.start_timeout;
    let line = {
        let read = async {
            let mut buf = Vec::new();
            match stdout.as_mut() {
                Some(out) => (&mut *out)
                    .take(MAX_HANDSHAKE_LINE)
                    .read_until(b'\n', &mut buf)
                    .await
                    .map(|_| buf),
                None => Ok(buf),
            }
        };
        tokio::pin!(read);
        let mut exit = exit_rx.clone();
        tokio::select! {
            biased;
            read = &mut read => read.ok().filter(|b| !b.is_empty()),
            _ = async { let _ = exit.wait_for(Option::is_some).await; } => {
                // What it printed before exiting is still in the pipe: judge that line too.
                tokio::time::timeout(Duration::from_millis(500), &mut read)
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .filter(|b| !b.is_empty())
            }
            _ = tokio::time::sleep_until(deadline) => {
                return Err(failed(Failure::StartTimeout { limit: config.start_timeout }));
            }
        }
    };
    let Some(line) = line else {
        // stdout closed or the process exited: report how it ended and what it said.
        let mut exit = exit_rx.clone();
        let status = tokio::time::timeout(Duration::from_secs(2), exit.wait_for(Option::is_some))
            .await
            .ok()
            .and_then(|r| r.ok().and_then(|s| *s));
        let _ = tokio::time::timeout(STDERR_GRACE, stderr_done).await;
        let how = match status {
            Some(s) => process::describe_exit(&s),
            None => "closed its stdout".to_owned(),
        };
        return Err(failed(Failure::Crashed {
            detail: format!("{how} before its handshake{}", tail.suffix()),
        }));
    };
    let line = String::from_utf8_lossy(&line).into_owned();
    let parsed = handshake::parse(&line, config.app_protocol_version)
        .map_err(|p| refused(Refusal::Handshake(p)))?;
    tracing::debug!(plugin = name, address = ?parsed.address, tls = parsed.cert.is_some(), "plugin handshake");
    // Drain stdout for good: an undrained pipe blocks the plugin once it is full.
    if let Some(out) = stdout {
        let plugin = name.to_owned();
        tokio::spawn(async move {
            logs::drain_lines(out, |line| logs::stdout_line(&plugin, line)).await;
        });
    }
    // The address must be the plugin's own: checked before a byte is sent to it.
    let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
    match tokio::time::timeout(remaining, check_owner(&parsed.address, pid)).await {
        Err(_) => {
            return Err(failed(Failure::StartTimeout {
                limit: config.start_timeout,
            }));
        }
        Ok(Err(OwnerProblem::Refused(problem))) => {
            return Err(refused(Refusal::Handshake(problem)));
        }
        Ok(Err(OwnerProblem::Unreachable(detail))) => {
            let exited = *exit_rx.borrow();
            if exited.is_some() {
                tail.settled(STDERR_GRACE).await;
            }
            return Err(failed(match exited {
                Some(status) => Failure::Crashed {
                    detail: format!(
                        "{} right after its handshake{}",
                        process::describe_exit(&status),
                        tail.suffix()
                    ),
                },
                None => Failure::Transport {
                    detail,
                    source: None,
                },
            }));
        }
        Ok(Ok(Some(file))) => {
            if let Address::Unix(path) = &parsed.address {
                let _ = socket_tx.send((path.clone(), file));
            }
        }
        Ok(Ok(None)) => {}
    }

    let tls = match (&identity, parsed.cert) {
        (Some(identity), Some(der)) => Some(Arc::new(
            tls::client_config(identity, der.into()).map_err(load)?,
        )),
        // A plugin must not silently downgrade to plaintext: only the config may allow it.
        (Some(_), None) => {
            return Err(refused(Refusal::Handshake(
                robodev_core::HandshakeProblem::AutoMtlsDropped,
            )));
        }
        (None, Some(_)) => {
            return Err(refused(Refusal::Handshake(
                robodev_core::HandshakeProblem::Malformed {
                    line: line.chars().take(80).collect(),
                    reason: "the plugin sent a TLS certificate although AutoMTLS is off for it"
                        .to_owned(),
                },
            )));
        }
        (None, None) => None,
    };
    let address = match &parsed.address {
        Address::Unix(p) => format!("unix {}", p.display()),
        Address::Tcp(a) => format!("tcp {a}"),
    };
    let encrypted = tls.is_some();
    let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
    let channel = connect(parsed.address, tls, pid, remaining)
        .await
        .map_err(|e| {
            failed(Failure::Transport {
                detail: e,
                source: None,
            })
        })?;

    let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
    check_health(&channel, remaining).await.map_err(|detail| {
        failed(Failure::Transport {
            detail,
            source: None,
        })
    })?;
    tokio::spawn(forward_stdio(name.to_owned(), channel.clone()));

    let (info, interface, major) = identify(config, interface, &channel, deadline).await?;
    let kill = Mutex::new(guard.disarm());
    Ok(Started {
        process: Arc::new(Process {
            pid,
            address,
            tls: encrypted,
            channel,
            exit: process_exit,
            kill,
            tail,
            confinement,
        }),
        info,
        interface,
        major,
    })
}

/// Kills the process if start fails half way.
struct ProcessGuard(Option<oneshot::Sender<()>>);

impl ProcessGuard {
    /// Start succeeded: hand the kill switch to the [`Process`].
    fn disarm(mut self) -> Option<oneshot::Sender<()>> {
        self.0.take()
    }
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

/// Calls `Handshake` of the configured interface (or of each, to find it) and checks the
/// interface version.
async fn identify(
    config: &SubprocessConfig,
    interface: Option<Interface>,
    channel: &Channel,
    deadline: tokio::time::Instant,
) -> Result<(PluginInfo, Interface, u32), Error> {
    let name = config.name.as_str();
    let candidates: Vec<Interface> = match interface {
        Some(i) => vec![i],
        None => Interface::ALL.to_vec(),
    };
    for candidate in candidates {
        // The major the config declares, else the host's current one.
        let asked = config.interface_version.unwrap_or(candidate.version());
        let request = pb::rd::HandshakeRequest {
            interface_version: asked as i32,
        };
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        let failed = |failure: Failure| Error::Failed {
            plugin: name.to_owned(),
            interface: candidate,
            failure,
        };
        let answer = tokio::time::timeout(
            remaining,
            adapters::handshake_rpc(channel.clone(), candidate, request),
        )
        .await
        .map_err(|_| {
            failed(Failure::StartTimeout {
                limit: config.start_timeout,
            })
        })?;
        let response = match answer {
            Ok(r) => r.into_inner(),
            Err(status) if status.code() == tonic::Code::Unimplemented => continue,
            Err(status) => {
                return Err(failed(Failure::Transport {
                    detail: format!(
                        "Handshake of {} failed: {status}",
                        candidate.proto_service()
                    ),
                    source: None,
                }));
            }
        };
        let reported = u32::try_from(response.interface_version).unwrap_or(0);
        if !candidate.serves(reported) {
            return Err(Error::Refused {
                plugin: name.to_owned(),
                refusal: Refusal::VersionMismatch {
                    interface: candidate,
                    declared: reported,
                    expected: candidate.version(),
                },
            });
        }
        if let Some(declared) = config.interface_version
            && declared != reported
        {
            return Err(Error::Refused {
                plugin: name.to_owned(),
                refusal: Refusal::VersionDisagrees {
                    interface: candidate,
                    declared,
                    found: reported,
                },
            });
        }
        tracing::info!(plugin = name, interface = %candidate, plugin_name = %response.plugin_name, plugin_version = %response.plugin_version, "plugin ready");
        return Ok((
            PluginInfo {
                name: response.plugin_name,
                version: response.plugin_version,
            },
            candidate,
            reported,
        ));
    }
    Err(Error::Refused {
        plugin: name.to_owned(),
        refusal: Refusal::NotServing {
            service: match interface {
                Some(i) => i.proto_service().to_owned(),
                None => "any robodev.v1 plugin service".to_owned(),
            },
        },
    })
}

/// gRPC health of service `plugin` (go-plugin's name for the plugin's server).
async fn check_health(channel: &Channel, timeout: Duration) -> Result<(), String> {
    use pb::health::health_check_response::ServingStatus;
    let mut client = pb::health::health_client::HealthClient::new(channel.clone());
    let request = pb::health::HealthCheckRequest {
        service: "plugin".to_owned(),
    };
    match tokio::time::timeout(timeout, client.check(request)).await {
        Err(_) => Err(format!(
            "health check got no answer within {} ms",
            timeout.as_millis()
        )),
        Ok(Ok(r)) if r.get_ref().status == ServingStatus::Serving as i32 => Ok(()),
        Ok(Ok(r)) => Err(format!(
            "health check says service \"plugin\" is {:?}",
            ServingStatus::try_from(r.get_ref().status).unwrap_or(ServingStatus::Unknown)
        )),
        // A plugin without a health service is still usable.
        Ok(Err(s)) if s.code() == tonic::Code::Unimplemented => Ok(()),
        Ok(Err(s)) => Err(format!("health check failed: {s}")),
    }
}

/// Streams go-plugin's GRPCStdio (the plugin's redirected stdout/stderr) into `tracing`.
async fn forward_stdio(plugin: String, channel: Channel) {
    let mut client = pb::plugin::grpc_stdio_client::GrpcStdioClient::new(channel);
    let Ok(response) = client.stream_stdio(()).await else {
        // Unimplemented before go-plugin 1.1; nothing to forward.
        return;
    };
    let mut stream = response.into_inner();
    while let Ok(Some(data)) = stream.message().await {
        let text = String::from_utf8_lossy(&data.data);
        for line in text.lines() {
            if data.channel == pb::plugin::stdio_data::Channel::Stderr as i32 {
                logs::stderr_line(&plugin, line);
            } else {
                logs::stdout_line(&plugin, line);
            }
        }
    }
}

/// Anything a connection can run over.
trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// Why the handshake's address cannot be used.
enum OwnerProblem {
    /// It is not the plugin's (refused, never retried).
    Refused(robodev_core::HandshakeProblem),
    /// Nothing can be reached there.
    Unreachable(String),
}

/// Checks that `address` is served by process `pid` or its process group (see [`peer`]);
/// for a unix socket, returns the socket file to remove when the plugin is gone.
async fn check_owner(
    address: &Address,
    pid: u32,
) -> Result<Option<peer::SocketFile>, OwnerProblem> {
    use robodev_core::HandshakeProblem;
    match address {
        Address::Unix(path) => {
            let file = peer::socket_file(path).map_err(|p| match p {
                peer::PathProblem::Unreachable(e) => OwnerProblem::Unreachable(format!(
                    "cannot connect to the plugin at unix socket {}: {e}",
                    path.display()
                )),
                peer::PathProblem::NotASocket(found) => {
                    OwnerProblem::Refused(HandshakeProblem::NotASocket {
                        path: path.display().to_string(),
                        found: found.to_owned(),
                    })
                }
            })?;
            let stream = tokio::net::UnixStream::connect(path).await.map_err(|e| {
                OwnerProblem::Unreachable(format!(
                    "cannot connect to the plugin at unix socket {}: {e}",
                    path.display()
                ))
            })?;
            match peer::unix_owned_by_group(&stream, pid) {
                Ok(()) => Ok(Some(file)),
                Err(peer::NotOwned::NothingListens) => Err(OwnerProblem::Unreachable(format!(
                    "cannot connect to the plugin at unix socket {}: nothing listens",
                    path.display()
                ))),
                Err(peer::NotOwned::Foreign(owner)) => {
                    Err(OwnerProblem::Refused(HandshakeProblem::ForeignSocket {
                        address: format!("unix {}", path.display()),
                        owner,
                        plugin_pid: pid,
                    }))
                }
            }
        }
        Address::Tcp(addr) => match peer::tcp_owned_by_group_async(*addr, pid).await {
            Ok(()) => Ok(None),
            Err(peer::NotOwned::NothingListens) => Err(OwnerProblem::Unreachable(format!(
                "cannot connect to the plugin at tcp {addr}: nothing listens on tcp {addr}"
            ))),
            Err(peer::NotOwned::Foreign(owner)) => {
                Err(OwnerProblem::Refused(HandshakeProblem::ForeignSocket {
                    address: format!("tcp {addr}"),
                    owner,
                    plugin_pid: pid,
                }))
            }
        },
    }
}

/// A connection's ownership problem as an I/O error (tonic's connector speaks `io::Error`).
fn not_owned(problem: &peer::NotOwned, pid: u32) -> io::Error {
    match problem {
        peer::NotOwned::NothingListens => {
            io::Error::new(io::ErrorKind::ConnectionRefused, "nothing listens there")
        }
        peer::NotOwned::Foreign(owner) => io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("served by {owner}, not by the plugin (process {pid})"),
        ),
    }
}

async fn dial(
    address: &Address,
    tls: Option<Arc<rustls::ClientConfig>>,
    pid: u32,
) -> io::Result<Box<dyn Io>> {
    let io: Box<dyn Io> = match address {
        Address::Unix(path) => {
            let stream = tokio::net::UnixStream::connect(path).await?;
            // Checked again on every connection: the socket could have been replaced since.
            peer::unix_owned_by_group(&stream, pid).map_err(|e| not_owned(&e, pid))?;
            Box::new(stream)
        }
        Address::Tcp(addr) => {
            peer::tcp_owned_by_group_async(*addr, pid)
                .await
                .map_err(|e| not_owned(&e, pid))?;
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            Box::new(stream)
        }
    };
    let Some(tls) = tls else { return Ok(io) };
    let server = rustls::pki_types::ServerName::try_from("localhost")
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(server, io)
        .await?;
    Ok(Box::new(stream))
}

/// A gRPC channel to the plugin's address.
async fn connect(
    address: Address,
    tls: Option<Arc<rustls::ClientConfig>>,
    pid: u32,
    timeout: Duration,
) -> Result<Channel, String> {
    let shown = match &address {
        Address::Unix(p) => format!("unix socket {}", p.display()),
        Address::Tcp(a) => format!("tcp {a}"),
    };
    let connector = tower::service_fn(move |_: Uri| {
        let address = address.clone();
        let tls = tls.clone();
        Box::pin(async move { dial(&address, tls, pid).await.map(TokioIo::new) })
            as Pin<Box<dyn Future<Output = io::Result<TokioIo<Box<dyn Io>>>> + Send>>
    });
    let endpoint = Endpoint::from_static("http://localhost")
        .connect_timeout(timeout)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    match tokio::time::timeout(timeout, endpoint.connect_with_connector(connector)).await {
        Ok(Ok(channel)) => Ok(channel),
        Ok(Err(e)) => {
            use std::error::Error as _;
            let cause = e.source().map(|s| format!(": {s}")).unwrap_or_default();
            Err(format!(
                "cannot connect to the plugin at {shown}: {e}{cause}"
            ))
        }
        Err(_) => Err(format!(
            "cannot connect to the plugin at {shown} within {} ms",
            timeout.as_millis()
        )),
    }
}
