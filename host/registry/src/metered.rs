//! Metering and the operator's off switch for every plugin call, whichever runtime serves it.
//!
//! [`wrap`] puts a backend of any interface behind a layer that implements the same trait by
//! delegating every method, and for each call:
//!
//! - opens one `tracing` span `plugin_call` (level debug) with the fields `interface`,
//!   `plugin`, `runtime`, `version`, `method` (the WIT name, e.g. `mark-in-progress`) and, once
//!   the call ends, `outcome`;
//! - records the outcome (`ok`, else the error's stable [`Error::label`], e.g. `not_found`,
//!   `out_of_fuel`, `crashed`) and the latency in [`Metrics`];
//! - fails fast, without calling the plugin, when an operator switched the plugin off
//!   ([`Switch`], flipped through the admin API): the call ends in [`Failure::Unavailable`]
//!   saying so ([`DISABLED_DETAIL`]) and is counted under the outcome `disabled`, apart from
//!   the plugin's own `unavailable` answers, and not timed (no plugin ran).
//!
//! [`Switches`] holds one [`Switch`] per plugin, shared by the metering layer and the admin
//! API; a plugin keeps its switch (and so its state) when its backend is wrapped again.
//!
//! ```
//! use std::sync::Arc;
//! use robodev_registry::calls::{CallLabels, Switches};
//! use robodev_registry::metered;
//! use robodev_registry::metrics::Metrics;
//! use robodev_core::{AnyBackend, Interface, RuntimeKind};
//!
//! fn meter(name: &str, backend: AnyBackend, metrics: &Arc<Metrics>, switches: &Switches) -> AnyBackend {
//!     let interface = backend.interface();
//!     let labels = CallLabels {
//!         plugin: name.to_owned(),
//!         interface,
//!         runtime: RuntimeKind::Builtin,
//!         version: "1.0.0".into(),
//!     };
//!     metered::wrap(backend, labels, metrics.clone(), switches.switch(interface, name))
//! }
//! ```

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use async_trait::async_trait;
use robodev_core::{
    AnyBackend, Empty, Error, Failure, Interface, PluginInfo, approval, engine, notifications,
    review, scm, secrets, ticketing,
};
use tracing::Instrument;

pub use crate::calls::{CallLabels, Switch, Switches};
use crate::metrics::{Metrics, PluginCalls};

/// What a call to a plugin an operator switched off fails with, inside
/// [`Failure::Unavailable`].
pub const DISABLED_DETAIL: &str = "disabled by an operator (robodev admin API)";

/// The outcome label of a call refused because the plugin is switched off.
pub const DISABLED_OUTCOME: &str = "disabled";

/// `backend` behind the metering layer: every call gets its span, its outcome and latency in
/// `metrics`, and fails fast while `switch` is off.
pub fn wrap(
    backend: AnyBackend,
    labels: CallLabels,
    metrics: Arc<Metrics>,
    switch: Arc<Switch>,
) -> AnyBackend {
    wrap_swappable(backend, labels, metrics, switch).0
}

/// [`wrap`], plus the [`Slot`] that swaps the backend behind the returned one: callers keep
/// their handle across a hot reload, and a call in flight finishes on the backend it started on.
pub fn wrap_swappable(
    backend: AnyBackend,
    labels: CallLabels,
    metrics: Arc<Metrics>,
    switch: Arc<Switch>,
) -> (AnyBackend, Slot) {
    let interface = backend.interface();
    let meter = Arc::new(Meter {
        calls: metrics.plugin(&labels),
        labels,
        switch,
    });
    let slot = Slot {
        interface,
        current: Arc::new(RwLock::new(backend)),
    };
    let inner = slot.current.clone();
    let wrapped = match interface {
        Interface::Ticketing => AnyBackend::Ticketing(Arc::new(Ticketing { inner, meter })),
        Interface::Notifications => {
            AnyBackend::Notifications(Arc::new(Notifications { inner, meter }))
        }
        Interface::Approval => AnyBackend::Approval(Arc::new(Approval { inner, meter })),
        Interface::Secrets => AnyBackend::Secrets(Arc::new(Secrets { inner, meter })),
        Interface::Scm => AnyBackend::Scm(Arc::new(Scm { inner, meter })),
        Interface::Review => AnyBackend::Review(Arc::new(Review { inner, meter })),
        Interface::Engine => AnyBackend::Engine(Arc::new(Engine { inner, meter })),
    };
    (wrapped, slot)
}

/// The backend behind a wrapped one, replaceable while calls run.
#[derive(Clone)]
pub struct Slot {
    interface: Interface,
    current: Arc<RwLock<AnyBackend>>,
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Slot({})", self.interface)
    }
}

impl Slot {
    /// The backend calls go to now.
    pub fn current(&self) -> AnyBackend {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Makes `backend` take every call from now on and returns the one it replaces (calls in
    /// flight on it finish there). A backend of another interface is refused.
    pub fn swap(&self, backend: AnyBackend) -> Result<AnyBackend, AnyBackend> {
        if backend.interface() != self.interface {
            return Err(backend);
        }
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        Ok(std::mem::replace(&mut *current, backend))
    }
}

/// What every call of one wrapped backend shares.
struct Meter {
    labels: CallLabels,
    calls: Arc<PluginCalls>,
    switch: Arc<Switch>,
}

impl Meter {
    /// Runs `call` (unless the plugin is switched off) inside the call's span, and records
    /// its outcome.
    async fn call<T, F>(&self, method: &'static str, call: impl FnOnce() -> F) -> Result<T, Error>
    where
        F: Future<Output = Result<T, Error>>,
    {
        // Debug, as the runtimes' own call spans: at info, `robodev run`'s default filter
        // (`robodev=info` matches every `robodev_*` target) had the log formatter build this
        // span's fields on every call, about 3 µs, more than a warm Wasm call itself.
        let span = tracing::debug_span!(
            "plugin_call",
            interface = self.labels.interface.name(),
            plugin = %self.labels.plugin,
            runtime = self.labels.runtime.label(),
            version = %self.labels.version,
            method,
            outcome = tracing::field::Empty,
        );
        if !self.switch.is_enabled() {
            self.calls.record(method, DISABLED_OUTCOME, None);
            span.record("outcome", DISABLED_OUTCOME);
            return Err(Error::Failed {
                plugin: self.labels.plugin.clone(),
                interface: self.labels.interface,
                failure: Failure::Unavailable {
                    detail: DISABLED_DETAIL.to_owned(),
                },
            });
        }
        let started = Instant::now();
        // No wrapper when no subscriber wants the span (robodev's default filter).
        let result = if span.is_disabled() {
            call().await
        } else {
            call().instrument(span.clone()).await
        };
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.label(),
        };
        self.calls.record(method, outcome, Some(started.elapsed()));
        span.record("outcome", outcome);
        result
    }
}

/// Defines the metered type of one interface: a struct holding the wrapped backend and the
/// [`Meter`], and the interface's `Backend` trait implemented by delegating each method
/// (`rust_name: Request -> Response = "wit-name"`) through [`Meter::call`]. `handshake` is
/// part of every interface, so it is written once here.
macro_rules! metered {
    ($type:ident, $module:ident { $($method:ident: $request:ty => $response:ty = $wit:literal,)* }) => {
        #[doc = concat!("A metered `", stringify!($module), "::Backend`.")]
        struct $type {
            inner: Arc<RwLock<AnyBackend>>,
            meter: Arc<Meter>,
        }

        impl $type {
            /// The backend calls go to now (a [`Slot`] only ever holds this interface).
            fn inner(&self) -> Result<Arc<dyn $module::Backend>, Error> {
                match &*self.inner.read().unwrap_or_else(PoisonError::into_inner) {
                    AnyBackend::$type(backend) => Ok(backend.clone()),
                    other => Err(Error::Host {
                        plugin: self.meter.labels.plugin.clone(),
                        interface: self.meter.labels.interface,
                        message: format!("the slot holds a {} backend", other.interface()), source: None,
                    }),
                }
            }
        }

        #[async_trait]
        impl $module::Backend for $type {
            async fn handshake(&self) -> Result<PluginInfo, Error> {
                let inner = self.inner()?;
                self.meter.call("handshake", || inner.handshake()).await
            }

            $(
                async fn $method(&self, request: $request) -> Result<$response, Error> {
                    let inner = self.inner()?;
                    self.meter.call($wit, || inner.$method(request)).await
                }
            )*
        }
    };
}

metered!(Ticketing, ticketing {
    poll_ready_tickets: ticketing::PollReadyTicketsRequest => ticketing::PollReadyTicketsResponse = "poll-ready-tickets",
    mark_in_progress: ticketing::MarkInProgressRequest => Empty = "mark-in-progress",
    mark_complete: ticketing::MarkCompleteRequest => Empty = "mark-complete",
    mark_failed: ticketing::MarkFailedRequest => Empty = "mark-failed",
    add_comment: ticketing::AddCommentRequest => Empty = "add-comment",
});

metered!(Notifications, notifications {
    notify: notifications::NotifyRequest => Empty = "notify",
    notify_start: notifications::NotifyStartRequest => Empty = "notify-start",
    notify_complete: notifications::NotifyCompleteRequest => Empty = "notify-complete",
});

metered!(Approval, approval {
    request_approval: approval::RequestApprovalRequest => approval::RequestApprovalResponse = "request-approval",
    cancel_pending: approval::CancelPendingRequest => Empty = "cancel-pending",
});

metered!(Secrets, secrets {
    get_secret: secrets::GetSecretRequest => secrets::GetSecretResponse = "get-secret",
    get_secrets: secrets::GetSecretsRequest => secrets::GetSecretsResponse = "get-secrets",
    build_env_vars: secrets::BuildEnvVarsRequest => secrets::BuildEnvVarsResponse = "build-env-vars",
});

metered!(Scm, scm {
    create_branch: scm::CreateBranchRequest => scm::CreateBranchResponse = "create-branch",
    create_pull_request: scm::CreatePullRequestRequest => scm::CreatePullRequestResponse = "create-pull-request",
    get_pull_request_status: scm::GetPullRequestStatusRequest => scm::GetPullRequestStatusResponse = "get-pull-request-status",
    list_review_comments: scm::ListReviewCommentsRequest => scm::ListReviewCommentsResponse = "list-review-comments",
    reply_to_comment: scm::ReplyToCommentRequest => Empty = "reply-to-comment",
    resolve_thread: scm::ResolveThreadRequest => Empty = "resolve-thread",
    get_diff: scm::GetDiffRequest => scm::GetDiffResponse = "get-diff",
});

metered!(Review, review {
    review_diff: review::ReviewDiffRequest => review::ReviewDiffResponse = "review-diff",
    get_gate_result: review::GetGateResultRequest => review::GetGateResultResponse = "get-gate-result",
});

metered!(Engine, engine {
    build_execution_spec: engine::BuildExecutionSpecRequest => engine::BuildExecutionSpecResponse = "build-execution-spec",
    build_prompt: engine::BuildPromptRequest => engine::BuildPromptResponse = "build-prompt",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_switch_starts_on_and_toggles_atomically() {
        let switch = Switch::new();
        assert!(switch.is_enabled());
        assert!(!switch.toggle());
        assert!(!switch.is_enabled());
        assert!(switch.toggle());
        switch.disable();
        assert!(!switch.is_enabled());
        switch.enable();
        assert!(switch.is_enabled());
    }

    #[test]
    fn switches_are_shared_per_plugin() {
        let switches = Switches::new();
        assert!(switches.get(Interface::Ticketing, "local").is_none());
        assert!(switches.is_enabled(Interface::Ticketing, "local"));
        switches.switch(Interface::Ticketing, "local").disable();
        assert!(!switches.clone().is_enabled(Interface::Ticketing, "local"));
        // Same name, other interface: another plugin.
        assert!(switches.is_enabled(Interface::Engine, "local"));
    }
}
