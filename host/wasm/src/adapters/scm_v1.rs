//! SCM over a component exporting the older `robodev:scm/backend@1` (plugins built before SCM
//! 2): the four version-1 functions are called as they are; the functions version 2 added
//! answer `unimplemented`, saying so, as a gRPC SCM v1 plugin's server does.

use std::sync::Arc;

use async_trait::async_trait;
use robodev_core::scm::*;
use robodev_core::{Empty, Error, ErrorCode, PluginError, PluginInfo};

use super::invoke;
use crate::bindings::v1::scm as w;
use crate::plugin::PluginInner;

pub(crate) struct Adapter(pub(crate) Arc<PluginInner>);

impl Adapter {
    /// The answer of a function this major lacks.
    fn added_in_v2(&self, function: &str) -> Error {
        Error::Plugin {
            plugin: self.0.ctx.name.to_string(),
            interface: robodev_core::Interface::Scm,
            error: PluginError::new(
                ErrorCode::Unimplemented,
                format!(
                    "{function} came in SCM interface version 2; this plugin implements version 1"
                ),
            ),
        }
    }
}

super::scm::scm_enums!(w);

super::scm::scm_backend!(ScmV1, {
    async fn list_review_comments(
        &self,
        _: ListReviewCommentsRequest,
    ) -> Result<ListReviewCommentsResponse, Error> {
        Err(self.added_in_v2("list-review-comments"))
    }

    async fn reply_to_comment(&self, _: ReplyToCommentRequest) -> Result<Empty, Error> {
        Err(self.added_in_v2("reply-to-comment"))
    }

    async fn resolve_thread(&self, _: ResolveThreadRequest) -> Result<Empty, Error> {
        Err(self.added_in_v2("resolve-thread"))
    }

    async fn get_diff(&self, _: GetDiffRequest) -> Result<GetDiffResponse, Error> {
        Err(self.added_in_v2("get-diff"))
    }
});
