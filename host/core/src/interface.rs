//! The closed set of plugin interfaces and their methods: one name, four places (WIT package,
//! proto service, core trait, adapter module). [`Interface::methods`] is the list a test
//! compares with `wit/` and `proto/`.

use std::fmt;
use std::str::FromStr;

/// One of the seven plugin interfaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Interface {
    /// Poll ready tickets, mark them in progress / complete / failed, comment.
    Ticketing,
    /// Fire-and-forget messages.
    Notifications,
    /// Ask a human; cancel pending requests.
    Approval,
    /// Secrets and container environment variables.
    Secrets,
    /// Branches, pull requests, review comments, diffs.
    Scm,
    /// Review a diff; fetch a gate result.
    Review,
    /// Build an execution spec and a prompt for an agent run.
    Engine,
}

/// One method of an interface, under its WIT and its proto name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Method {
    /// kebab-case WIT function name, e.g. `poll-ready-tickets`.
    pub wit: &'static str,
    /// PascalCase RPC name, e.g. `PollReadyTickets`.
    pub rpc: &'static str,
}

const fn m(wit: &'static str, rpc: &'static str) -> Method {
    Method { wit, rpc }
}

const HANDSHAKE: Method = m("handshake", "Handshake");

impl Interface {
    /// Every interface, in the order of RoboDev's documentation.
    pub const ALL: [Interface; 7] = [
        Interface::Ticketing,
        Interface::Notifications,
        Interface::Approval,
        Interface::Secrets,
        Interface::Scm,
        Interface::Review,
        Interface::Engine,
    ];

    /// The name used in config (`type: ticketing`) and in the WIT package (`robodev:ticketing`).
    pub const fn name(self) -> &'static str {
        match self {
            Interface::Ticketing => "ticketing",
            Interface::Notifications => "notifications",
            Interface::Approval => "approval",
            Interface::Secrets => "secrets",
            Interface::Scm => "scm",
            Interface::Review => "review",
            Interface::Engine => "engine",
        }
    }

    /// The interface version this host implements: the WIT package's major version and the
    /// go-plugin app protocol version. SCM is 2 (RoboDev bumped it when review comments and
    /// diffs were added); every other interface is 1.
    pub const fn version(self) -> u32 {
        match self {
            Interface::Scm => 2,
            _ => 1,
        }
    }

    /// Every major version this host serves, newest first: [`Interface::version`], then the
    /// older majors plugins in the field still implement, each served through an adapter onto
    /// the current trait (its newer methods answer `unimplemented`). SCM serves 2 and 1; the
    /// next major bump of any interface adds its old major here and one adapter per runtime.
    pub const fn majors(self) -> &'static [u32] {
        match self {
            Interface::Scm => &[2, 1],
            _ => &[1],
        }
    }

    /// Whether this host serves major version `major` of the interface.
    pub fn serves(self, major: u32) -> bool {
        self.majors().contains(&major)
    }

    /// "version 1", or "versions 2 and 1" when it serves more than one.
    pub fn majors_text(self) -> String {
        match self.majors() {
            [one] => format!("version {one}"),
            many => {
                let text: Vec<String> = many.iter().map(u32::to_string).collect();
                let (last, rest) = text.split_last().unwrap_or((&text[0], &[]));
                format!("versions {} and {last}", rest.join(", "))
            }
        }
    }

    /// Full name of the proto service, e.g. `robodev.v1.TicketingBackend`.
    pub const fn proto_service(self) -> &'static str {
        match self {
            Interface::Ticketing => "robodev.v1.TicketingBackend",
            Interface::Notifications => "robodev.v1.NotificationChannel",
            Interface::Approval => "robodev.v1.HumanApprovalBackend",
            Interface::Secrets => "robodev.v1.SecretsBackend",
            Interface::Scm => "robodev.v1.SCMBackend",
            Interface::Review => "robodev.v1.ReviewBackend",
            Interface::Engine => "robodev.v1.ExecutionEngine",
        }
    }

    /// Name of the WIT interface a component exports from the package, e.g. `backend` in
    /// `robodev:ticketing/backend@1.0.0`.
    pub const fn wit_interface(self) -> &'static str {
        match self {
            Interface::Notifications => "channel",
            Interface::Engine => "engine",
            _ => "backend",
        }
    }

    /// The export name a component implementing this host's version carries, e.g.
    /// `robodev:ticketing/backend@1.0.0`.
    pub fn wit_export(self) -> String {
        format!(
            "robodev:{}/{}@{}.0.0",
            self.name(),
            self.wit_interface(),
            self.version()
        )
    }

    /// The interface's methods in contract order, `handshake` first.
    pub const fn methods(self) -> &'static [Method] {
        match self {
            Interface::Ticketing => {
                const {
                    &[
                        HANDSHAKE,
                        m("poll-ready-tickets", "PollReadyTickets"),
                        m("mark-in-progress", "MarkInProgress"),
                        m("mark-complete", "MarkComplete"),
                        m("mark-failed", "MarkFailed"),
                        m("add-comment", "AddComment"),
                    ]
                }
            }
            Interface::Notifications => {
                const {
                    &[
                        HANDSHAKE,
                        m("notify", "Notify"),
                        m("notify-start", "NotifyStart"),
                        m("notify-complete", "NotifyComplete"),
                    ]
                }
            }
            Interface::Approval => {
                const {
                    &[
                        HANDSHAKE,
                        m("request-approval", "RequestApproval"),
                        m("cancel-pending", "CancelPending"),
                    ]
                }
            }
            Interface::Secrets => {
                const {
                    &[
                        HANDSHAKE,
                        m("get-secret", "GetSecret"),
                        m("get-secrets", "GetSecrets"),
                        m("build-env-vars", "BuildEnvVars"),
                    ]
                }
            }
            Interface::Scm => {
                const {
                    &[
                        HANDSHAKE,
                        m("create-branch", "CreateBranch"),
                        m("create-pull-request", "CreatePullRequest"),
                        m("get-pull-request-status", "GetPullRequestStatus"),
                        m("list-review-comments", "ListReviewComments"),
                        m("reply-to-comment", "ReplyToComment"),
                        m("resolve-thread", "ResolveThread"),
                        m("get-diff", "GetDiff"),
                    ]
                }
            }
            Interface::Review => {
                const {
                    &[
                        HANDSHAKE,
                        m("review-diff", "ReviewDiff"),
                        m("get-gate-result", "GetGateResult"),
                    ]
                }
            }
            Interface::Engine => {
                const {
                    &[
                        HANDSHAKE,
                        m("build-execution-spec", "BuildExecutionSpec"),
                        m("build-prompt", "BuildPrompt"),
                    ]
                }
            }
        }
    }

    /// Finds a method by its WIT name (`poll-ready-tickets`) or RPC name (`PollReadyTickets`).
    pub fn method(self, name: &str) -> Option<Method> {
        self.methods()
            .iter()
            .copied()
            .find(|m| m.wit == name || m.rpc == name)
    }
}

impl fmt::Display for Interface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error of parsing an unknown interface name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown plugin interface {0:?} (expected one of: ticketing, notifications, approval, secrets, scm, review, engine)"
)]
pub struct UnknownInterface(pub String);

impl FromStr for Interface {
    type Err = UnknownInterface;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Interface::ALL
            .into_iter()
            .find(|i| i.name() == s)
            .ok_or_else(|| UnknownInterface(s.to_owned()))
    }
}

/// How a plugin runs: the three runtimes callers cannot tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuntimeKind {
    /// Compiled into robodev.
    Builtin,
    /// A Wasm component, in-process.
    Wasm,
    /// A go-plugin gRPC subprocess.
    Subprocess,
}

impl RuntimeKind {
    /// Stable lowercase label (`builtin`, `wasm`, `subprocess`).
    pub fn label(self) -> &'static str {
        match self {
            RuntimeKind::Builtin => "builtin",
            RuntimeKind::Wasm => "wasm",
            RuntimeKind::Subprocess => "subprocess",
        }
    }
}

impl fmt::Display for RuntimeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}
