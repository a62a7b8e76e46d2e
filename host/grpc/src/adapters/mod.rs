//! One adapter per interface: each implements the interface's `robodev_core` trait over a
//! subprocess plugin, converting core types to the generated protobuf messages and back at this
//! edge (the gRPC counterpart of `robodev-wasm`'s adapters).

use std::sync::Arc;

use robodev_core::{AnyBackend, Error, Interface};
use tonic::transport::Channel;

use crate::client::Plugin;
use crate::pb::rd as pb;

mod approval;
mod engine;
mod notifications;
mod review;
mod scm;
mod secrets;
mod ticketing;

/// Calls one RPC through the plugin and converts its response:
/// `call!(plugin, client, "PollReadyTickets", poll_ready_tickets, pb_request)` evaluates to
/// `Result<C, Error>` for the core response type `C`. `client` is the module's function making
/// a generated client from a channel.
macro_rules! call {
    ($plugin:expr, $client:ident, $rpc:literal, $method:ident, $request:expr) => {{
        let plugin: &$crate::client::Plugin = &$plugin;
        let request = $request;
        let response = plugin
            .call($rpc, move |channel| async move {
                $client(channel).$method(request).await
            })
            .await?;
        $crate::adapters::output(plugin, response)
    }};
}
pub(crate) use call;

/// Converts a plugin's response to the core type; a response that breaks the contract (NaN in
/// a `Struct`, an unknown enum number) is the plugin's invalid output.
pub(crate) fn output<P, C>(plugin: &Plugin, response: P) -> Result<C, Error>
where
    C: TryFrom<P>,
    C::Error: ToString,
{
    C::try_from(response).map_err(|e| plugin.invalid_output(e.to_string()))
}

/// The plugin as a backend of its interface.
pub(crate) fn backend(plugin: Arc<Plugin>) -> AnyBackend {
    match plugin.interface() {
        Interface::Ticketing => AnyBackend::Ticketing(Arc::new(ticketing::Adapter(plugin))),
        Interface::Notifications => {
            AnyBackend::Notifications(Arc::new(notifications::Adapter(plugin)))
        }
        Interface::Approval => AnyBackend::Approval(Arc::new(approval::Adapter(plugin))),
        Interface::Secrets => AnyBackend::Secrets(Arc::new(secrets::Adapter(plugin))),
        Interface::Scm => AnyBackend::Scm(Arc::new(scm::Adapter(plugin))),
        Interface::Review => AnyBackend::Review(Arc::new(review::Adapter(plugin))),
        Interface::Engine => AnyBackend::Engine(Arc::new(engine::Adapter(plugin))),
    }
}

/// Calls the `Handshake` RPC of `interface`'s service over `channel`, with the generated client
/// of that service (the raw status, for the launcher's version negotiation).
pub(crate) async fn handshake_rpc(
    channel: Channel,
    interface: Interface,
    request: pb::HandshakeRequest,
) -> Result<tonic::Response<pb::HandshakeResponse>, tonic::Status> {
    match interface {
        Interface::Ticketing => ticketing::client(channel).handshake(request).await,
        Interface::Notifications => notifications::client(channel).handshake(request).await,
        Interface::Approval => approval::client(channel).handshake(request).await,
        Interface::Secrets => secrets::client(channel).handshake(request).await,
        Interface::Scm => scm::client(channel).handshake(request).await,
        Interface::Review => review::client(channel).handshake(request).await,
        Interface::Engine => engine::client(channel).handshake(request).await,
    }
}
