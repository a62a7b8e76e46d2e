//! Serves a `robodev_core::notifications::Backend` as `robodev.v1.NotificationChannel`.

use std::sync::Arc;

use robodev_core::Interface;
use robodev_core::notifications::Backend;
use tonic::{Request, Response, Status};

use super::{answer, handshake, input};
use crate::pb::rd as pb;
use crate::pb::rd::notification_channel_server::NotificationChannel;

pub(crate) struct Service(pub(crate) Arc<dyn Backend>);

#[tonic::async_trait]
impl NotificationChannel for Service {
    async fn handshake(
        &self,
        _request: Request<pb::HandshakeRequest>,
    ) -> Result<Response<pb::HandshakeResponse>, Status> {
        handshake(Interface::Notifications, self.0.handshake().await)
    }

    async fn notify(
        &self,
        request: Request<pb::NotifyRequest>,
    ) -> Result<Response<pb::NotifyResponse>, Status> {
        answer(self.0.notify(input(request)?).await)
    }

    async fn notify_start(
        &self,
        request: Request<pb::NotifyStartRequest>,
    ) -> Result<Response<pb::NotifyStartResponse>, Status> {
        answer(self.0.notify_start(input(request)?).await)
    }

    async fn notify_complete(
        &self,
        request: Request<pb::NotifyCompleteRequest>,
    ) -> Result<Response<pb::NotifyCompleteResponse>, Status> {
        answer(self.0.notify_complete(input(request)?).await)
    }
}
