//! The error model: every plugin call ends in exactly one of three outcomes, and callers branch
//! on them, so they are distinct typed variants, never strings:
//!
//! 1. the plugin answered with a domain error ([`Error::Plugin`] carrying a [`PluginError`],
//!    whose [`ErrorCode`] is a gRPC status code);
//! 2. the plugin failed ([`Error::Failed`] carrying a [`Failure`]: trap, out of fuel, deadline,
//!    memory cap, crash, transport, timeout, invalid output);
//! 3. the host or its configuration failed ([`Error::Host`], [`Error::InvalidInput`]).
//!
//! A fourth kind, [`Error::Refused`], is a plugin the host would not load at all (version
//! mismatch, not a component, an import the host does not offer).

use std::fmt;
use std::time::Duration;

use crate::Interface;

/// A gRPC status code (other than OK): the kind of a [`PluginError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// CANCELLED (1).
    Cancelled,
    /// UNKNOWN (2).
    Unknown,
    /// INVALID_ARGUMENT (3).
    InvalidArgument,
    /// DEADLINE_EXCEEDED (4): the plugin's own upstream call timed out.
    DeadlineExceeded,
    /// NOT_FOUND (5).
    NotFound,
    /// ALREADY_EXISTS (6).
    AlreadyExists,
    /// PERMISSION_DENIED (7).
    PermissionDenied,
    /// RESOURCE_EXHAUSTED (8).
    ResourceExhausted,
    /// FAILED_PRECONDITION (9).
    FailedPrecondition,
    /// ABORTED (10).
    Aborted,
    /// OUT_OF_RANGE (11).
    OutOfRange,
    /// UNIMPLEMENTED (12).
    Unimplemented,
    /// INTERNAL (13).
    Internal,
    /// UNAVAILABLE (14).
    Unavailable,
    /// DATA_LOSS (15).
    DataLoss,
    /// UNAUTHENTICATED (16).
    Unauthenticated,
}

impl ErrorCode {
    /// Every code, in gRPC numeric order.
    pub const ALL: [ErrorCode; 16] = [
        ErrorCode::Cancelled,
        ErrorCode::Unknown,
        ErrorCode::InvalidArgument,
        ErrorCode::DeadlineExceeded,
        ErrorCode::NotFound,
        ErrorCode::AlreadyExists,
        ErrorCode::PermissionDenied,
        ErrorCode::ResourceExhausted,
        ErrorCode::FailedPrecondition,
        ErrorCode::Aborted,
        ErrorCode::OutOfRange,
        ErrorCode::Unimplemented,
        ErrorCode::Internal,
        ErrorCode::Unavailable,
        ErrorCode::DataLoss,
        ErrorCode::Unauthenticated,
    ];

    /// The numeric gRPC status code.
    pub fn grpc_code(self) -> i32 {
        // ALL is in numeric order starting at 1, so the position is the code.
        Self::ALL
            .iter()
            .position(|c| *c == self)
            .map_or(2, |i| i as i32 + 1)
    }

    /// The code with this numeric value; `None` for 0 (OK) and unknown values.
    pub fn from_grpc(code: i32) -> Option<ErrorCode> {
        usize::try_from(code)
            .ok()
            .and_then(|c| c.checked_sub(1))
            .and_then(|i| Self::ALL.get(i).copied())
    }

    /// Stable snake_case label (`not_found`), used in JSON errors and metrics.
    pub fn label(self) -> &'static str {
        match self {
            ErrorCode::Cancelled => "cancelled",
            ErrorCode::Unknown => "unknown",
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::DeadlineExceeded => "deadline_exceeded",
            ErrorCode::NotFound => "not_found",
            ErrorCode::AlreadyExists => "already_exists",
            ErrorCode::PermissionDenied => "permission_denied",
            ErrorCode::ResourceExhausted => "resource_exhausted",
            ErrorCode::FailedPrecondition => "failed_precondition",
            ErrorCode::Aborted => "aborted",
            ErrorCode::OutOfRange => "out_of_range",
            ErrorCode::Unimplemented => "unimplemented",
            ErrorCode::Internal => "internal",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::DataLoss => "data_loss",
            ErrorCode::Unauthenticated => "unauthenticated",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A domain error: the plugin ran fine and answered "no".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct PluginError {
    /// Which gRPC status code the error maps onto.
    pub code: ErrorCode,
    /// The plugin's message for humans.
    pub message: String,
}

impl PluginError {
    /// A plugin error with this code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        PluginError {
            code,
            message: message.into(),
        }
    }
}

/// The error underneath a [`Failure`] or a host error (an I/O error, a wasmtime trap, a gRPC
/// transport error), kept so that callers can walk [`std::error::Error::source`] instead of
/// reading text. Shared, so errors stay `Clone`; two causes are equal when they read the same.
#[derive(Clone)]
pub struct Cause(std::sync::Arc<dyn std::error::Error + Send + Sync + 'static>);

impl Cause {
    /// Keeps `error` as a cause.
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Cause(std::sync::Arc::new(error))
    }

    /// Keeps an already boxed error (`anyhow::Error::into_boxed_dyn_error`, `tonic` sources).
    pub fn from_boxed(error: Box<dyn std::error::Error + Send + Sync + 'static>) -> Self {
        Cause(std::sync::Arc::from(error))
    }

    /// The error itself.
    pub fn get(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.0
    }
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl PartialEq for Cause {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for Cause {}

/// How a plugin failed to answer at all.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// The call used up its fuel budget (instructions).
    OutOfFuel {
        /// The fuel budget of one call.
        budget: u64,
    },
    /// The call ran past its wall-clock deadline.
    DeadlineExceeded {
        /// The deadline of one call.
        limit: Duration,
    },
    /// The guest tried to grow its memory (or tables, or instances) beyond its cap.
    MemoryLimit {
        /// The memory cap of one instance, in bytes.
        limit_bytes: u64,
    },
    /// The guest overflowed its stack.
    StackOverflow,
    /// The guest panicked or executed `unreachable`.
    Panicked {
        /// What the runtime reported, including a guest backtrace when one exists.
        detail: String,
    },
    /// Any other trap (out-of-bounds access, integer division by zero, ...).
    Trap {
        /// What the runtime reported.
        detail: String,
        /// The runtime's error.
        source: Option<Cause>,
    },
    /// The plugin answered something that breaks the contract (e.g. `raw` that is not a
    /// JSON object, a missing required value).
    InvalidOutput {
        /// What was wrong, and where.
        detail: String,
    },
    /// The plugin process crashed or exited.
    Crashed {
        /// Exit status and last words, when known.
        detail: String,
    },
    /// The connection to the plugin failed.
    Transport {
        /// The transport's error.
        detail: String,
        /// The transport's error itself, when there is one.
        source: Option<Cause>,
    },
    /// A subprocess plugin did not print its handshake line within the start timeout.
    StartTimeout {
        /// The start timeout.
        limit: Duration,
    },
    /// The plugin is not serving: it crashed more often than its restart policy allows, it
    /// was shut down, or it is switched off.
    Unavailable {
        /// Why, and what happens next.
        detail: String,
    },
    /// The plugin is not serving for now: it is being restarted after a crash (labelled
    /// `unavailable`, like [`Failure::Unavailable`]; unlike it, worth trying again soon).
    Restarting {
        /// Why, and what happens next.
        detail: String,
    },
}

impl Failure {
    /// Stable snake_case label of the failure kind, used in JSON errors and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Failure::OutOfFuel { .. } => "out_of_fuel",
            Failure::DeadlineExceeded { .. } => "deadline_exceeded",
            Failure::MemoryLimit { .. } => "memory_limit",
            Failure::StackOverflow => "stack_overflow",
            Failure::Panicked { .. } => "panicked",
            Failure::Trap { .. } => "trap",
            Failure::InvalidOutput { .. } => "invalid_output",
            Failure::Crashed { .. } => "crashed",
            Failure::Transport { .. } => "transport",
            Failure::StartTimeout { .. } => "start_timeout",
            Failure::Unavailable { .. } | Failure::Restarting { .. } => "unavailable",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::OutOfFuel { budget } => {
                write!(f, "ran out of fuel (budget {budget} units per call)")
            }
            Failure::DeadlineExceeded { limit } => {
                write!(f, "exceeded its deadline of {} ms", limit.as_millis())
            }
            Failure::MemoryLimit { limit_bytes } => write!(
                f,
                "hit its memory limit of {} MiB",
                limit_bytes / (1024 * 1024)
            ),
            Failure::StackOverflow => f.write_str("overflowed its stack"),
            Failure::Panicked { detail } => write!(f, "panicked: {detail}"),
            Failure::Trap { detail, .. } => write!(f, "trapped: {detail}"),
            Failure::InvalidOutput { detail } => write!(f, "returned invalid output: {detail}"),
            Failure::Crashed { detail } => write!(f, "crashed: {detail}"),
            Failure::Transport { detail, .. } => write!(f, "transport failed: {detail}"),
            Failure::StartTimeout { limit } => write!(
                f,
                "printed no handshake line within its start timeout of {} ms",
                limit.as_millis()
            ),
            Failure::Unavailable { detail } | Failure::Restarting { detail } => {
                write!(f, "is unavailable: {detail}")
            }
        }
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Failure::Trap { source, .. } | Failure::Transport { source, .. } => source
                .as_ref()
                .map(|c| c as &(dyn std::error::Error + 'static)),
            _ => None,
        }
    }
}

/// Which of the outcomes an [`Error`] is; callers and the CLI's exit codes branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The plugin answered with a domain error (CLI exit code 1).
    Domain,
    /// The host, its configuration or the caller's input was wrong (CLI exit code 2).
    Host,
    /// The plugin failed (CLI exit code 3).
    Failed,
    /// The host refused to load the plugin (CLI exit code 4).
    Refused,
}

/// Why the host refused to load a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The file is not a WebAssembly component (a core module, or not WebAssembly at all).
    NotAComponent {
        /// What the file is instead.
        detail: String,
    },
    /// The component exports no robodev interface.
    NoRobodevExport {
        /// The component's exports, for the message.
        exports: Vec<String>,
    },
    /// The component exports a version of the interface this host does not support.
    UnsupportedVersion {
        /// The export name, e.g. `robodev:scm/backend@1.0.0`.
        export: String,
        /// The major version found.
        found: u32,
        /// The major version this host supports.
        expected: u32,
    },
    /// The component imports something the host does not offer.
    UnsupportedImport {
        /// The import's name, e.g. `acme:secret/backdoor@1.0.0`.
        import: String,
        /// Why it cannot be satisfied.
        detail: String,
    },
    /// The interface version declared in the config (or the handshake) is not the host's.
    VersionMismatch {
        /// The interface whose version is wrong.
        interface: Interface,
        /// The version declared.
        declared: u32,
        /// The version this host expects.
        expected: u32,
    },
    /// The plugin implements a major version the host serves, but not the one its config
    /// declares.
    VersionDisagrees {
        /// The interface.
        interface: Interface,
        /// The version the config declares.
        declared: u32,
        /// The version the plugin implements (its export, or its handshake).
        found: u32,
    },
    /// Signatures are required and the plugin's is missing, malformed or not made by a trusted
    /// key (checked before it is compiled or spawned).
    Signature {
        /// What was wrong, and where the signature was looked for.
        detail: String,
    },
    /// The component's digest is not the one pinned in the config.
    DigestMismatch {
        /// The pinned digest (`sha256:...`).
        expected: String,
        /// The component's digest.
        found: String,
    },
    /// The component is the wrong interface for where it was configured.
    WrongInterface {
        /// The interface the config asked for.
        expected: Interface,
        /// The interface the component exports.
        found: Interface,
    },
    /// A subprocess plugin does not serve the service it was configured for (its `Handshake`
    /// RPC is unimplemented).
    NotServing {
        /// The gRPC service, e.g. `robodev.v1.TicketingBackend`.
        service: String,
    },
    /// A function of the component's robodev export is missing or has a type other than the
    /// contract's (a component built from an edited or stale copy of the WIT).
    ExportType {
        /// The export, e.g. `robodev:notifications/channel@1.0.0`.
        export: String,
        /// The function, e.g. `notify`.
        function: String,
        /// Its type in robodev's contract, as written in the WIT.
        expected: String,
        /// What the component has instead.
        found: String,
    },
    /// The component file is larger than the configured limit (checked before it is read).
    TooLarge {
        /// Its size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// A subprocess plugin broke the go-plugin handshake protocol.
    Handshake(HandshakeProblem),
    /// The runtime could not compile or link the component.
    Invalid {
        /// The runtime's reason.
        detail: String,
    },
}

/// ", and serves 1 through an adapter" when the export's interface has older majors served.
fn served_older(export: &str) -> String {
    let interface = export
        .strip_prefix("robodev:")
        .and_then(|rest| rest.split('/').next())
        .and_then(|name| name.parse::<crate::Interface>().ok());
    match interface.map(|i| i.majors()) {
        Some([_, older @ ..]) if !older.is_empty() => {
            let older: Vec<String> = older.iter().map(u32::to_string).collect();
            format!(", and serves {} through an adapter", older.join(", "))
        }
        _ => String::new(),
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotAComponent { detail } => {
                write!(f, "not a WebAssembly component: {detail}")
            }
            Refusal::NoRobodevExport { exports } => {
                let found = if exports.is_empty() {
                    "it exports nothing".to_owned()
                } else {
                    let named: Vec<String> = exports.iter().map(|e| format!("`{e}`")).collect();
                    format!("it exports {}", named.join(", "))
                };
                let expected: Vec<String> = crate::Interface::ALL
                    .iter()
                    .map(|i| {
                        format!(
                            "robodev:{}/{}@{}.x",
                            i.name(),
                            i.wit_interface(),
                            i.version()
                        )
                    })
                    .collect();
                write!(
                    f,
                    "exports no robodev interface: {found}; a plugin component exports one of {} \
                     (a bare name such as `exports` means the guest's WIT world does not export a \
                     robodev interface package: build against robodev's wit/ folder)",
                    expected.join(", ")
                )
            }
            Refusal::UnsupportedVersion {
                export,
                found,
                expected,
            } => write!(
                f,
                "exports {export}: interface version {found} is not supported (this host implements version {expected}{})",
                served_older(export)
            ),
            Refusal::UnsupportedImport { import, detail } => {
                write!(
                    f,
                    "imports {import}, which the host does not offer: {detail}"
                )
            }
            Refusal::VersionMismatch {
                interface,
                declared,
                expected: _,
            } => write!(
                f,
                "it declares {interface} interface version {declared}, but robodev implements {interface} {}",
                interface.majors_text()
            ),
            Refusal::VersionDisagrees {
                interface,
                declared,
                found,
            } => write!(
                f,
                "its config declares {interface} interface version {declared}, but the plugin implements version {found}"
            ),
            Refusal::Signature { detail } => write!(f, "signature check failed: {detail}"),
            Refusal::DigestMismatch { expected, found } => write!(
                f,
                "its digest {found} does not match the pinned digest {expected}"
            ),
            Refusal::WrongInterface { expected, found } => {
                write!(f, "implements {found}, but was configured as {expected}")
            }
            Refusal::NotServing { service } => write!(
                f,
                "does not serve {service} (its Handshake RPC is unimplemented)"
            ),
            Refusal::ExportType {
                export,
                function,
                expected,
                found,
            } => write!(
                f,
                "function `{function}` of its export {export} has the wrong type: it is {found}; robodev expects {expected}"
            ),
            Refusal::TooLarge { size, limit } => write!(
                f,
                "the component is {size} bytes, over the limit of {limit} bytes (raise it with the plugin's `limits.component_mb`, or `--max-component-mb`)"
            ),
            Refusal::Handshake(problem) => write!(f, "{problem}"),
            Refusal::Invalid { detail } => write!(f, "invalid component: {detail}"),
        }
    }
}

/// How a subprocess plugin broke the go-plugin handshake (its first stdout line,
/// `CORE|APP|NETWORK|ADDR|PROTOCOL|CERT`). None of these is retried: a restart cannot fix them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeProblem {
    /// The plugin printed something else on stdout before its handshake line.
    StdoutNoise {
        /// The line it printed (truncated to 200 characters).
        line: String,
    },
    /// The plugin speaks go-plugin's net/rpc protocol, which robodev does not host.
    NetRpc,
    /// The core protocol version (first field) is not 1.
    CoreVersion {
        /// What the plugin sent.
        found: String,
    },
    /// The negotiated app protocol version (second field) is not one the host offered.
    AppVersion {
        /// What the plugin sent.
        found: String,
        /// What the host offered in `PLUGIN_PROTOCOL_VERSIONS`.
        offered: u32,
    },
    /// The line is not a handshake line at all, or a field of it is invalid.
    Malformed {
        /// The line (truncated to 200 characters).
        line: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The unix socket path the handshake names is not a socket (robodev never connects to,
    /// nor removes, anything else).
    NotASocket {
        /// The path named.
        path: String,
        /// What is there instead ("a regular file", "a symbolic link", ...).
        found: String,
    },
    /// The address the handshake names is served by a process other than the plugin (or its
    /// process group): robodev talks only to the plugin it started.
    ForeignSocket {
        /// The address named (`unix /path` or `tcp 127.0.0.1:PORT`).
        address: String,
        /// Who serves it, as far as robodev can see.
        owner: String,
        /// The plugin's process id.
        plugin_pid: u32,
    },
    /// AutoMTLS was requested (`PLUGIN_CLIENT_CERT` was given) but the plugin answered without
    /// a certificate, i.e. it would talk in plaintext.
    AutoMtlsDropped,
}

impl fmt::Display for HandshakeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeProblem::StdoutNoise { line } => write!(
                f,
                "printed {line:?} on stdout before its handshake line (a go-plugin plugin must print nothing to stdout before the handshake)"
            ),
            HandshakeProblem::NetRpc => f.write_str(
                "speaks go-plugin's net/rpc protocol; robodev hosts gRPC plugins only (serve it with GRPCServer)",
            ),
            HandshakeProblem::CoreVersion { found } => write!(
                f,
                "handshake has core protocol version {found:?}; this host speaks core version 1 (incompatible core API version)"
            ),
            HandshakeProblem::AppVersion { found, offered } => write!(
                f,
                "handshake has app protocol version {found:?}; this host offered {offered} (incompatible API version)"
            ),
            HandshakeProblem::Malformed { line, reason } => {
                write!(f, "malformed handshake line {line:?}: {reason}")
            }
            HandshakeProblem::NotASocket { path, found } => write!(
                f,
                "handshake names {path} as its unix socket, but that is {found}, not a socket"
            ),
            HandshakeProblem::ForeignSocket {
                address,
                owner,
                plugin_pid,
            } => write!(
                f,
                "handshake names {address}, which is served by {owner}, not by the plugin (process {plugin_pid}) or its process group"
            ),
            HandshakeProblem::AutoMtlsDropped => f.write_str(
                "AutoMTLS was requested but the plugin's handshake carries no certificate, so the connection would be plaintext; set `auto_mtls: false` for this plugin to allow that",
            ),
        }
    }
}

/// The error of calling (or loading) a plugin.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The plugin answered with a domain error.
    #[error("{interface} plugin {plugin:?} returned an error: {error}")]
    Plugin {
        /// The plugin's configured name.
        plugin: String,
        /// Its interface.
        interface: Interface,
        /// What it answered.
        error: PluginError,
    },
    /// The plugin failed to answer.
    #[error("{interface} plugin {plugin:?} {failure}")]
    Failed {
        /// The plugin's configured name.
        plugin: String,
        /// Its interface.
        interface: Interface,
        /// How it failed.
        #[source]
        failure: Failure,
    },
    /// The host refused to load the plugin.
    #[error("refused to load plugin {plugin:?}: {refusal}")]
    Refused {
        /// The plugin's configured name (or its file name).
        plugin: String,
        /// What was wrong.
        refusal: Refusal,
    },
    /// The caller's input was wrong: an unknown method, input JSON that does not fit the
    /// request message.
    #[error("invalid input for {interface} plugin {plugin:?}: {message}")]
    InvalidInput {
        /// The plugin's configured name.
        plugin: String,
        /// Its interface.
        interface: Interface,
        /// What was wrong, and where.
        message: String,
    },
    /// The host could not load the plugin for a reason of its own (the file cannot be read,
    /// the engine cannot be set up), before the plugin's interface is known.
    #[error("cannot load plugin {plugin:?}: {message}")]
    Load {
        /// The plugin's configured name (or its file name).
        plugin: String,
        /// What failed.
        message: String,
        /// The error underneath, when there is one (an I/O error, the engine's error).
        #[source]
        source: Option<Cause>,
    },
    /// The host failed (I/O, its own invariants), not the plugin.
    #[error("host error serving {interface} plugin {plugin:?}: {message}")]
    Host {
        /// The plugin's configured name.
        plugin: String,
        /// Its interface.
        interface: Interface,
        /// What failed.
        message: String,
        /// The error underneath, when there is one.
        #[source]
        source: Option<Cause>,
    },
}

impl Error {
    /// Which outcome this is.
    pub fn outcome(&self) -> Outcome {
        match self {
            Error::Plugin { .. } => Outcome::Domain,
            Error::Failed { .. } => Outcome::Failed,
            Error::Refused { .. } => Outcome::Refused,
            Error::InvalidInput { .. } | Error::Host { .. } | Error::Load { .. } => Outcome::Host,
        }
    }

    /// Stable label of the error kind: the [`ErrorCode`] label of a domain error, the
    /// [`Failure`] label of a failure, else `refused`, `invalid_input` or `host`.
    pub fn label(&self) -> &'static str {
        match self {
            Error::Plugin { error, .. } => error.code.label(),
            Error::Failed { failure, .. } => failure.label(),
            Error::Refused { .. } => "refused",
            Error::InvalidInput { .. } => "invalid_input",
            Error::Host { .. } => "host",
            Error::Load { .. } => "load",
        }
    }

    /// Whether the same call may well succeed if made again soon: the plugin said it is
    /// unavailable, or it crashed, is restarting, timed out or could not be reached. Not a
    /// domain refusal, a trap or fuel (the same input fails again), a plugin switched off or
    /// given up on, nor anything of the host.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Plugin { error, .. } => matches!(
                error.code,
                ErrorCode::Unavailable | ErrorCode::DeadlineExceeded | ErrorCode::Aborted
            ),
            Error::Failed { failure, .. } => matches!(
                failure,
                Failure::DeadlineExceeded { .. }
                    | Failure::Crashed { .. }
                    | Failure::Transport { .. }
                    | Failure::StartTimeout { .. }
                    | Failure::Restarting { .. }
            ),
            _ => false,
        }
    }

    /// The failure, if the plugin failed.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Error::Failed { failure, .. } => Some(failure),
            _ => None,
        }
    }

    /// The name of the plugin the error is about.
    pub fn plugin(&self) -> &str {
        match self {
            Error::Plugin { plugin, .. }
            | Error::Failed { plugin, .. }
            | Error::Refused { plugin, .. }
            | Error::InvalidInput { plugin, .. }
            | Error::Host { plugin, .. }
            | Error::Load { plugin, .. } => plugin,
        }
    }

    /// A JSON description of the error, as `robodev ... --json` prints it.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "outcome": match self.outcome() {
                Outcome::Domain => "plugin_error",
                Outcome::Failed => "plugin_failed",
                Outcome::Host => "host_error",
                Outcome::Refused => "refused",
            },
            "kind": self.label(),
            "message": self.to_string(),
        });
        let (plugin, interface) = match self {
            Error::Plugin {
                plugin, interface, ..
            }
            | Error::Failed {
                plugin, interface, ..
            }
            | Error::InvalidInput {
                plugin, interface, ..
            }
            | Error::Host {
                plugin, interface, ..
            } => (plugin, Some(*interface)),
            Error::Refused { plugin, .. } | Error::Load { plugin, .. } => (plugin, None),
        };
        v["plugin"] = plugin.clone().into();
        if let Some(i) = interface {
            v["interface"] = i.name().into();
        }
        if let Error::Plugin { error, .. } = self {
            v["grpcCode"] = error.code.grpc_code().into();
        }
        if let Error::Refused {
            refusal:
                Refusal::VersionMismatch {
                    interface,
                    declared,
                    expected,
                },
            ..
        } = self
        {
            v["interface"] = interface.name().into();
            v["declared"] = (*declared).into();
            v["expected"] = (*expected).into();
            v["served"] = interface.majors().into();
        }
        if let Error::Refused {
            refusal:
                Refusal::VersionDisagrees {
                    interface,
                    declared,
                    found,
                },
            ..
        } = self
        {
            v["interface"] = interface.name().into();
            v["declared"] = (*declared).into();
            v["found"] = (*found).into();
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_codes_round_trip() {
        for (i, code) in ErrorCode::ALL.into_iter().enumerate() {
            assert_eq!(code.grpc_code(), i as i32 + 1);
            assert_eq!(ErrorCode::from_grpc(code.grpc_code()), Some(code));
        }
        assert_eq!(ErrorCode::NotFound.grpc_code(), 5);
        assert_eq!(ErrorCode::Unauthenticated.grpc_code(), 16);
        assert_eq!(ErrorCode::from_grpc(0), None);
        assert_eq!(ErrorCode::from_grpc(17), None);
    }

    #[test]
    fn errors_know_their_outcome() {
        let failed = Error::Failed {
            plugin: "p".into(),
            interface: Interface::Ticketing,
            failure: Failure::OutOfFuel { budget: 10 },
        };
        assert_eq!(failed.outcome(), Outcome::Failed);
        assert_eq!(failed.label(), "out_of_fuel");
        let domain = Error::Plugin {
            plugin: "p".into(),
            interface: Interface::Ticketing,
            error: PluginError::new(ErrorCode::NotFound, "no ticket 7"),
        };
        assert_eq!(domain.outcome(), Outcome::Domain);
        assert_eq!(domain.to_json()["grpcCode"], 5);
        assert_eq!(
            domain.to_string(),
            "ticketing plugin \"p\" returned an error: not_found: no ticket 7"
        );
    }
}
