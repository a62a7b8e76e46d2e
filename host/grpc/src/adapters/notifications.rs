//! Notifications over a subprocess serving `robodev.v1.NotificationChannel`.

use std::sync::Arc;

use async_trait::async_trait;
use robodev_core::notifications::{
    Backend, NotifyCompleteRequest, NotifyRequest, NotifyStartRequest,
};
use robodev_core::{Empty, Error, Interface, PluginInfo};
use tonic::transport::Channel;

use super::call;
use crate::client::Plugin;
use crate::convert::{MAX_MESSAGE_BYTES, handshake_request};
use crate::pb::rd as pb;
use crate::pb::rd::notification_channel_client::NotificationChannelClient;

pub(crate) struct Adapter(pub(crate) Arc<Plugin>);

/// A client of the service over `channel`.
pub(crate) fn client(channel: Channel) -> NotificationChannelClient<Channel> {
    NotificationChannelClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

#[async_trait]
impl Backend for Adapter {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        call!(
            self.0,
            client,
            "Handshake",
            handshake,
            handshake_request(Interface::Notifications)
        )
    }

    async fn notify(&self, r: NotifyRequest) -> Result<Empty, Error> {
        call!(self.0, client, "Notify", notify, pb::NotifyRequest::from(r))
    }

    async fn notify_start(&self, r: NotifyStartRequest) -> Result<Empty, Error> {
        call!(
            self.0,
            client,
            "NotifyStart",
            notify_start,
            pb::NotifyStartRequest::from(r)
        )
    }

    async fn notify_complete(&self, r: NotifyCompleteRequest) -> Result<Empty, Error> {
        call!(
            self.0,
            client,
            "NotifyComplete",
            notify_complete,
            pb::NotifyCompleteRequest::from(r)
        )
    }
}
