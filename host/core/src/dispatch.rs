//! [`AnyBackend`]: a backend of any interface, and [`AnyBackend::call_json`], which calls a
//! method by name with the proto3 JSON of its request and returns the proto3 JSON of its
//! response. This is how the CLI (`robodev plugin call`) reaches every runtime the same way.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{
    Error, Interface, Method, PluginInfo, approval, engine, notifications, review, scm, secrets,
    ticketing,
};

/// A backend of one of the seven interfaces.
#[derive(Clone)]
pub enum AnyBackend {
    /// A ticketing backend.
    Ticketing(Arc<dyn ticketing::Backend>),
    /// A notification channel.
    Notifications(Arc<dyn notifications::Backend>),
    /// An approval backend.
    Approval(Arc<dyn approval::Backend>),
    /// A secrets backend.
    Secrets(Arc<dyn secrets::Backend>),
    /// An SCM backend.
    Scm(Arc<dyn scm::Backend>),
    /// A review backend.
    Review(Arc<dyn review::Backend>),
    /// An execution engine.
    Engine(Arc<dyn engine::Backend>),
}

impl std::fmt::Debug for AnyBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AnyBackend({})", self.interface())
    }
}

fn decode<T: DeserializeOwned>(
    plugin: &str,
    interface: Interface,
    method: Method,
    input: Value,
) -> Result<T, Error> {
    crate::json::from_proto_json(input).map_err(|e| Error::InvalidInput {
        plugin: plugin.to_owned(),
        interface,
        message: format!(
            "input of {} is not a valid {}Request: {e}",
            method.wit, method.rpc
        ),
    })
}

fn encode<T: Serialize>(plugin: &str, interface: Interface, value: T) -> Result<Value, Error> {
    serde_json::to_value(value).map_err(|e| Error::Host {
        plugin: plugin.to_owned(),
        interface,
        message: format!("cannot encode the response as JSON: {e}"),
        source: None,
    })
}

impl AnyBackend {
    /// The interface this backend implements.
    pub fn interface(&self) -> Interface {
        match self {
            AnyBackend::Ticketing(_) => Interface::Ticketing,
            AnyBackend::Notifications(_) => Interface::Notifications,
            AnyBackend::Approval(_) => Interface::Approval,
            AnyBackend::Secrets(_) => Interface::Secrets,
            AnyBackend::Scm(_) => Interface::Scm,
            AnyBackend::Review(_) => Interface::Review,
            AnyBackend::Engine(_) => Interface::Engine,
        }
    }

    /// Who the plugin is.
    pub async fn handshake(&self) -> Result<PluginInfo, Error> {
        match self {
            AnyBackend::Ticketing(b) => b.handshake().await,
            AnyBackend::Notifications(b) => b.handshake().await,
            AnyBackend::Approval(b) => b.handshake().await,
            AnyBackend::Secrets(b) => b.handshake().await,
            AnyBackend::Scm(b) => b.handshake().await,
            AnyBackend::Review(b) => b.handshake().await,
            AnyBackend::Engine(b) => b.handshake().await,
        }
    }

    /// Calls `method` (WIT or RPC name) with `input`, the proto3 JSON of its request message
    /// (`null` means an empty request), and returns the proto3 JSON of the response message.
    /// `plugin` names the plugin in errors.
    pub async fn call_json(
        &self,
        plugin: &str,
        method: &str,
        input: Value,
    ) -> Result<Value, Error> {
        let interface = self.interface();
        let m = interface
            .method(method)
            .ok_or_else(|| Error::InvalidInput {
                plugin: plugin.to_owned(),
                interface,
                message: format!(
                    "unknown method {method:?}; {interface} has: {}",
                    interface
                        .methods()
                        .iter()
                        .map(|m| m.wit)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?;
        let input = if input.is_null() {
            Value::Object(Default::default())
        } else {
            input
        };
        // One arm per method: decode the request, call the trait, encode the response.
        macro_rules! dispatch {
            ($backend:expr; $($wit:literal => $call:ident),* $(,)?) => {
                match m.wit {
                    "handshake" => encode(plugin, interface, $backend.handshake().await?),
                    $($wit => {
                        let request = decode(plugin, interface, m, input)?;
                        encode(plugin, interface, $backend.$call(request).await?)
                    })*
                    other => Err(Error::Host {
                        plugin: plugin.to_owned(),
                        interface,
                        message: format!("method {other} is listed but not dispatched"), source: None,
                    }),
                }
            };
        }
        match self {
            AnyBackend::Ticketing(b) => dispatch!(b;
                "poll-ready-tickets" => poll_ready_tickets,
                "mark-in-progress" => mark_in_progress,
                "mark-complete" => mark_complete,
                "mark-failed" => mark_failed,
                "add-comment" => add_comment,
            ),
            AnyBackend::Notifications(b) => dispatch!(b;
                "notify" => notify,
                "notify-start" => notify_start,
                "notify-complete" => notify_complete,
            ),
            AnyBackend::Approval(b) => dispatch!(b;
                "request-approval" => request_approval,
                "cancel-pending" => cancel_pending,
            ),
            AnyBackend::Secrets(b) => dispatch!(b;
                "get-secret" => get_secret,
                "get-secrets" => get_secrets,
                "build-env-vars" => build_env_vars,
            ),
            AnyBackend::Scm(b) => dispatch!(b;
                "create-branch" => create_branch,
                "create-pull-request" => create_pull_request,
                "get-pull-request-status" => get_pull_request_status,
                "list-review-comments" => list_review_comments,
                "reply-to-comment" => reply_to_comment,
                "resolve-thread" => resolve_thread,
                "get-diff" => get_diff,
            ),
            AnyBackend::Review(b) => dispatch!(b;
                "review-diff" => review_diff,
                "get-gate-result" => get_gate_result,
            ),
            AnyBackend::Engine(b) => dispatch!(b;
                "build-execution-spec" => build_execution_spec,
                "build-prompt" => build_prompt,
            ),
        }
    }
}
