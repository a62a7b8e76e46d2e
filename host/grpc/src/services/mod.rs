//! The plugin side of `robodev_grpc::serve`: one wrapper per interface that implements the
//! generated tonic server trait over an `Arc<dyn Backend>`, converting protobuf requests to
//! core types, calling the backend and converting its answer back.

use robodev_core::{AnyBackend, Error, Interface, PluginInfo};
use tonic::service::RoutesBuilder;
use tonic::{Request, Response, Status};

use crate::convert::{MAX_MESSAGE_BYTES, error_to_status, handshake_response, short_type_name};
use crate::pb::rd as pb;
use crate::pb::rd::execution_engine_server::ExecutionEngineServer;
use crate::pb::rd::human_approval_backend_server::HumanApprovalBackendServer;
use crate::pb::rd::notification_channel_server::NotificationChannelServer;
use crate::pb::rd::review_backend_server::ReviewBackendServer;
use crate::pb::rd::scm_backend_server::ScmBackendServer;
use crate::pb::rd::secrets_backend_server::SecretsBackendServer;
use crate::pb::rd::ticketing_backend_server::TicketingBackendServer;

mod approval;
mod engine;
mod notifications;
mod review;
mod scm;
mod secrets;
mod ticketing;

/// Adds the gRPC service of `backend`'s interface to `routes`, accepting and sending messages
/// of up to [`MAX_MESSAGE_BYTES`].
pub(crate) fn add_service(routes: &mut RoutesBuilder, backend: AnyBackend) {
    // The generated servers share no trait for their size setters, hence the macro.
    macro_rules! add {
        ($server:ident, $service:expr) => {{
            routes.add_service(
                $server::new($service)
                    .max_decoding_message_size(MAX_MESSAGE_BYTES)
                    .max_encoding_message_size(MAX_MESSAGE_BYTES),
            );
        }};
    }
    match backend {
        AnyBackend::Ticketing(b) => add!(TicketingBackendServer, ticketing::Service(b)),
        AnyBackend::Notifications(b) => {
            add!(NotificationChannelServer, notifications::Service(b))
        }
        AnyBackend::Approval(b) => add!(HumanApprovalBackendServer, approval::Service(b)),
        AnyBackend::Secrets(b) => add!(SecretsBackendServer, secrets::Service(b)),
        AnyBackend::Scm(b) => add!(ScmBackendServer, scm::Service(b)),
        AnyBackend::Review(b) => add!(ReviewBackendServer, review::Service(b)),
        AnyBackend::Engine(b) => add!(ExecutionEngineServer, engine::Service(b)),
    }
}

/// The core request of a gRPC request; a message that breaks the contract (NaN in a `Struct`)
/// is INVALID_ARGUMENT naming the message and the field.
pub(crate) fn input<P, C>(request: Request<P>) -> Result<C, Status>
where
    C: TryFrom<P>,
    C::Error: ToString,
{
    C::try_from(request.into_inner()).map_err(|e| {
        Status::invalid_argument(format!(
            "invalid {}: {}",
            short_type_name::<P>(),
            e.to_string()
        ))
    })
}

/// The gRPC response of a backend's answer; its error becomes a status.
pub(crate) fn answer<C, P>(result: Result<C, Error>) -> Result<Response<P>, Status>
where
    P: From<C>,
{
    result
        .map(|c| Response::new(P::from(c)))
        .map_err(|e| error_to_status(&e))
}

/// The `Handshake` answer of a backend of `interface`: this build's interface version and the
/// backend's name and version.
pub(crate) fn handshake(
    interface: Interface,
    info: Result<PluginInfo, Error>,
) -> Result<Response<pb::HandshakeResponse>, Status> {
    info.map(|info| Response::new(handshake_response(interface, info)))
        .map_err(|e| error_to_status(&e))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_trait::async_trait;
    use prost_types::value::Kind;
    use prost_types::{Struct, Value};
    use robodev_core::notifications::{
        Backend, NotifyCompleteRequest, NotifyRequest, NotifyStartRequest,
    };
    use robodev_core::{Empty, Error, ErrorCode, Interface, PluginError, PluginInfo};
    use tonic::{Code, Request};

    use crate::pb::rd as pb;
    use crate::pb::rd::notification_channel_server::NotificationChannel;

    struct Fake;

    #[async_trait]
    impl Backend for Fake {
        async fn handshake(&self) -> Result<PluginInfo, Error> {
            Ok(PluginInfo {
                name: "fake".into(),
                version: "0.1.0".into(),
            })
        }
        async fn notify(&self, request: NotifyRequest) -> Result<Empty, Error> {
            match request.ticket.and_then(|t| t.raw) {
                Some(raw) if raw["n"] == serde_json::json!(3) => Ok(Empty {}),
                _ => Err(Error::Plugin {
                    plugin: "fake".into(),
                    interface: Interface::Notifications,
                    error: PluginError::new(ErrorCode::NotFound, "no raw.n = 3"),
                }),
            }
        }
        async fn notify_start(&self, _: NotifyStartRequest) -> Result<Empty, Error> {
            Ok(Empty {})
        }
        async fn notify_complete(&self, _: NotifyCompleteRequest) -> Result<Empty, Error> {
            Ok(Empty {})
        }
    }

    fn request(n: f64) -> Request<pb::NotifyRequest> {
        Request::new(pb::NotifyRequest {
            message: "m".into(),
            ticket: Some(pb::Ticket {
                raw: Some(Struct {
                    fields: [(
                        "n".to_owned(),
                        Value {
                            kind: Some(Kind::NumberValue(n)),
                        },
                    )]
                    .into(),
                }),
                ..Default::default()
            }),
        })
    }

    #[tokio::test]
    async fn serves_a_backend() {
        let service = super::notifications::Service(Arc::new(Fake));

        let hs = service
            .handshake(Request::new(pb::HandshakeRequest {
                interface_version: 1,
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (
                hs.interface_version,
                hs.plugin_name.as_str(),
                hs.plugin_version.as_str()
            ),
            (1, "fake", "0.1.0")
        );

        service.notify(request(3.0)).await.unwrap();

        let status = service.notify(request(4.0)).await.unwrap_err();
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(status.message(), "no raw.n = 3");

        let status = service.notify(request(f64::NAN)).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(
            status.message(),
            "invalid NotifyRequest: ticket.raw.n: number NaN is not valid JSON"
        );
    }
}
