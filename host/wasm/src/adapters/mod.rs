//! One adapter per interface: each implements the interface's `robodev_core` trait over a
//! component, converting core types to the generated WIT types and back at this edge.

use std::sync::Arc;

use robodev_core::{AnyBackend, Error, ErrorCode, Failure, Interface, PluginError, PluginInfo};
use wasmtime::component::InstancePre;

use crate::bindings::{guest, wit};
use crate::plugin::PluginInner;
use crate::state::StoreState;

mod approval;
mod engine;
mod notifications;
mod review;
mod scm;
mod scm_v1;
mod secrets;
mod ticketing;

/// The export indices of the one interface a plugin implements.
pub(crate) enum Exports {
    Ticketing(guest::ticketing::backend::GuestIndices),
    Notifications(guest::notifications::channel::GuestIndices),
    Approval(guest::approval::backend::GuestIndices),
    Secrets(guest::secrets::backend::GuestIndices),
    Scm(guest::scm::backend::GuestIndices),
    /// SCM major 1, served through [`scm_v1::Adapter`].
    ScmV1(crate::bindings::v1::scm::GuestIndices),
    Review(guest::review::backend::GuestIndices),
    Engine(guest::engine::engine::GuestIndices),
}

impl Exports {
    /// The indices of `interface` at major version `major` (one the host serves).
    pub(crate) fn new(
        interface: Interface,
        major: u32,
        pre: &InstancePre<StoreState>,
    ) -> wasmtime::Result<Exports> {
        Ok(match interface {
            Interface::Scm if major == 1 => {
                Exports::ScmV1(crate::bindings::v1::scm::GuestIndices::new(pre)?)
            }
            Interface::Ticketing => {
                Exports::Ticketing(guest::ticketing::backend::GuestIndices::new(pre)?)
            }
            Interface::Notifications => {
                Exports::Notifications(guest::notifications::channel::GuestIndices::new(pre)?)
            }
            Interface::Approval => {
                Exports::Approval(guest::approval::backend::GuestIndices::new(pre)?)
            }
            Interface::Secrets => {
                Exports::Secrets(guest::secrets::backend::GuestIndices::new(pre)?)
            }
            Interface::Scm => Exports::Scm(guest::scm::backend::GuestIndices::new(pre)?),
            Interface::Review => Exports::Review(guest::review::backend::GuestIndices::new(pre)?),
            Interface::Engine => Exports::Engine(guest::engine::engine::GuestIndices::new(pre)?),
        })
    }
}

/// The loaded typed exports of one instance.
pub(crate) enum Guests {
    Ticketing(guest::ticketing::backend::Guest),
    Notifications(guest::notifications::channel::Guest),
    Approval(guest::approval::backend::Guest),
    Secrets(guest::secrets::backend::Guest),
    Scm(guest::scm::backend::Guest),
    ScmV1(crate::bindings::v1::scm::Guest),
    Review(guest::review::backend::Guest),
    Engine(guest::engine::engine::Guest),
}

/// Calls one export on a checked-out store under the plugin's limits, the guest's part inside
/// the call's tracing span:
/// `invoke!(plugin, Variant, "method", |guest, store| guest.call_x(store, args))` evaluates to
/// `Result<R, Error>` where `R` is what the export returns.
macro_rules! invoke {
    ($plugin:expr, $variant:ident, $method:literal, |$guest:ident, $store:ident| $call:expr) => {{
        // Written out in the caller's future rather than as an inner one: each future nested
        // in another is built, then moved (copied) into place.
        let plugin: &$crate::plugin::PluginInner = &$plugin;
        plugin.stats.call();
        // The warm path first, apart: a warm call never builds the instantiation future.
        let slot = match plugin.warm_slot() {
            Some(slot) => Ok(slot),
            // Boxed: the instantiation future is large, and a warm call never uses it.
            None => Box::pin(plugin.instantiate()).await,
        };
        match slot {
            Err(e) => Err(e),
            Ok(mut slot) => {
                let loaded = match (slot.guest.take(), &plugin.exports) {
                    (Some($crate::adapters::Guests::$variant(g)), _) => Ok(g),
                    (_, $crate::adapters::Exports::$variant(indices)) => indices
                        .load(&mut slot.store, &slot.instance)
                        .map_err($crate::plugin::RawFailure::Wasm),
                    _ => Err($crate::plugin::RawFailure::Wasm(wasmtime::format_err!(
                        "the plugin's exports do not match its interface"
                    ))),
                };
                let result = match loaded {
                    Ok($guest) => {
                        let result = {
                            let $guest = &$guest;
                            let $store = &mut slot.store;
                            let call = std::pin::pin!($call);
                            plugin.deadline(call, plugin.span($method)).await
                        };
                        slot.guest = Some($crate::adapters::Guests::$variant($guest));
                        result
                    }
                    Err(e) => Err(e),
                };
                plugin.finish(slot, result)
            }
        }
    }};
}
pub(crate) use invoke;

/// Calls the plugin's `handshake`.
pub(crate) async fn handshake(plugin: &PluginInner) -> Result<PluginInfo, Error> {
    let info = match plugin.exports {
        Exports::Ticketing(_) => {
            invoke!(plugin, Ticketing, "handshake", |g, s| g.call_handshake(s))?
        }
        Exports::Notifications(_) => invoke!(plugin, Notifications, "handshake", |g, s| g
            .call_handshake(s))?,
        Exports::Approval(_) => invoke!(plugin, Approval, "handshake", |g, s| g.call_handshake(s))?,
        Exports::Secrets(_) => invoke!(plugin, Secrets, "handshake", |g, s| g.call_handshake(s))?,
        Exports::Scm(_) => invoke!(plugin, Scm, "handshake", |g, s| g.call_handshake(s))?,
        Exports::ScmV1(_) => invoke!(plugin, ScmV1, "handshake", |g, s| g.call_handshake(s))?,
        Exports::Review(_) => invoke!(plugin, Review, "handshake", |g, s| g.call_handshake(s))?,
        Exports::Engine(_) => invoke!(plugin, Engine, "handshake", |g, s| g.call_handshake(s))?,
    };
    Ok(PluginInfo {
        name: info.name,
        version: info.version,
    })
}

/// The plugin as a backend of its interface.
pub(crate) fn backend(plugin: Arc<PluginInner>) -> AnyBackend {
    match plugin.exports {
        Exports::Ticketing(_) => AnyBackend::Ticketing(Arc::new(ticketing::Adapter(plugin))),
        Exports::Notifications(_) => {
            AnyBackend::Notifications(Arc::new(notifications::Adapter(plugin)))
        }
        Exports::Approval(_) => AnyBackend::Approval(Arc::new(approval::Adapter(plugin))),
        Exports::Secrets(_) => AnyBackend::Secrets(Arc::new(secrets::Adapter(plugin))),
        Exports::Scm(_) => AnyBackend::Scm(Arc::new(scm::Adapter(plugin))),
        Exports::ScmV1(_) => AnyBackend::Scm(Arc::new(scm_v1::Adapter(plugin))),
        Exports::Review(_) => AnyBackend::Review(Arc::new(review::Adapter(plugin))),
        Exports::Engine(_) => AnyBackend::Engine(Arc::new(engine::Adapter(plugin))),
    }
}

impl PluginInner {
    /// Turns the guest's answer into the core result: a WIT `plugin-error` becomes
    /// [`Error::Plugin`].
    pub(crate) fn answer<T, U>(
        &self,
        answer: Result<T, wit::PluginError>,
        convert: impl FnOnce(T) -> Result<U, String>,
    ) -> Result<U, Error> {
        match answer {
            Ok(v) => convert(v).map_err(|detail| {
                let failure = Failure::InvalidOutput { detail };
                self.stats.failure(&failure);
                Error::Failed {
                    plugin: self.ctx.name.to_string(),
                    interface: self.ctx.interface,
                    failure,
                }
            }),
            Err(e) => {
                self.stats.domain_error();
                Err(Error::Plugin {
                    plugin: self.ctx.name.to_string(),
                    interface: self.ctx.interface,
                    error: plugin_error(e),
                })
            }
        }
    }

    pub(crate) fn info(&self) -> PluginInfo {
        self.plugin_info.clone()
    }
}

fn plugin_error(e: wit::PluginError) -> PluginError {
    use wit::PluginError as W;
    let (code, message) = match e {
        W::Cancelled(m) => (ErrorCode::Cancelled, m),
        W::Unknown(m) => (ErrorCode::Unknown, m),
        W::InvalidArgument(m) => (ErrorCode::InvalidArgument, m),
        W::DeadlineExceeded(m) => (ErrorCode::DeadlineExceeded, m),
        W::NotFound(m) => (ErrorCode::NotFound, m),
        W::AlreadyExists(m) => (ErrorCode::AlreadyExists, m),
        W::PermissionDenied(m) => (ErrorCode::PermissionDenied, m),
        W::ResourceExhausted(m) => (ErrorCode::ResourceExhausted, m),
        W::FailedPrecondition(m) => (ErrorCode::FailedPrecondition, m),
        W::Aborted(m) => (ErrorCode::Aborted, m),
        W::OutOfRange(m) => (ErrorCode::OutOfRange, m),
        W::Unimplemented(m) => (ErrorCode::Unimplemented, m),
        W::Internal(m) => (ErrorCode::Internal, m),
        W::Unavailable(m) => (ErrorCode::Unavailable, m),
        W::DataLoss(m) => (ErrorCode::DataLoss, m),
        W::Unauthenticated(m) => (ErrorCode::Unauthenticated, m),
    };
    PluginError::new(code, message)
}

/// Core ticket to WIT.
pub(crate) fn ticket_in(t: robodev_core::Ticket) -> wit::Ticket {
    wit::Ticket {
        id: t.id,
        title: t.title,
        description: t.description,
        ticket_type: t.ticket_type,
        labels: t.labels,
        repo_url: t.repo_url,
        external_url: t.external_url,
        raw: t.raw.map(|m| serde_json::Value::Object(m).to_string()),
    }
}

/// WIT ticket to core; `raw` must be a JSON object.
pub(crate) fn ticket_out(t: wit::Ticket) -> Result<robodev_core::Ticket, String> {
    let raw = match t.raw {
        None => None,
        Some(text) => match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Object(m)) => Some(m),
            Ok(_) => {
                return Err(format!(
                    "ticket {:?}: raw must be the text of a JSON object",
                    t.id
                ));
            }
            Err(e) => return Err(format!("ticket {:?}: raw is not valid JSON: {e}", t.id)),
        },
    };
    Ok(robodev_core::Ticket {
        id: t.id,
        title: t.title,
        description: t.description,
        ticket_type: t.ticket_type,
        labels: t.labels,
        repo_url: t.repo_url,
        external_url: t.external_url,
        raw,
    })
}

/// Core task result to WIT.
pub(crate) fn task_result_in(r: robodev_core::TaskResult) -> wit::TaskResult {
    wit::TaskResult {
        success: r.success,
        merge_request_url: r.merge_request_url,
        branch_name: r.branch_name,
        summary: r.summary,
        token_usage: r.token_usage.map(|u| wit::TokenUsage {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
        }),
        cost_estimate_usd: r.cost_estimate_usd,
        exit_code: r.exit_code,
    }
}

/// A response with no fields.
pub(crate) fn empty(_: ()) -> Result<robodev_core::Empty, String> {
    Ok(robodev_core::Empty {})
}
