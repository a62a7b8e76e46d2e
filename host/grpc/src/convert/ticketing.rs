//! Ticketing messages (`ticketing.proto`) ↔ `robodev_core::ticketing`.

use robodev_core::ticketing::{
    AddCommentRequest, MarkCompleteRequest, MarkFailedRequest, MarkInProgressRequest,
    PollReadyTicketsRequest, PollReadyTicketsResponse,
};

use super::{each, empty, plain, try_each};
use crate::pb::rd as pb;

plain! {
    PollReadyTicketsRequest <=> PollReadyTicketsRequest { labels, max_results }
    MarkInProgressRequest <=> MarkInProgressRequest { ticket_id }
    MarkFailedRequest <=> MarkFailedRequest { ticket_id, reason }
    AddCommentRequest <=> AddCommentRequest { ticket_id, comment }
}

empty!(
    MarkInProgressResponse,
    MarkCompleteResponse,
    MarkFailedResponse,
    AddCommentResponse,
);

impl From<PollReadyTicketsResponse> for pb::PollReadyTicketsResponse {
    fn from(r: PollReadyTicketsResponse) -> Self {
        let PollReadyTicketsResponse { tickets } = r;
        pb::PollReadyTicketsResponse {
            tickets: each(tickets),
        }
    }
}

impl TryFrom<pb::PollReadyTicketsResponse> for PollReadyTicketsResponse {
    type Error = String;

    fn try_from(r: pb::PollReadyTicketsResponse) -> Result<Self, String> {
        let pb::PollReadyTicketsResponse { tickets } = r;
        Ok(PollReadyTicketsResponse {
            tickets: try_each("tickets", tickets)?,
        })
    }
}

impl From<MarkCompleteRequest> for pb::MarkCompleteRequest {
    fn from(r: MarkCompleteRequest) -> Self {
        let MarkCompleteRequest { ticket_id, result } = r;
        pb::MarkCompleteRequest {
            ticket_id,
            result: result.map(Into::into),
        }
    }
}

impl From<pb::MarkCompleteRequest> for MarkCompleteRequest {
    fn from(r: pb::MarkCompleteRequest) -> Self {
        let pb::MarkCompleteRequest { ticket_id, result } = r;
        MarkCompleteRequest {
            ticket_id,
            result: result.map(Into::into),
        }
    }
}
