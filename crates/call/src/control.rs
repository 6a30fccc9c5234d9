//! The seam between workflows and Graph: whatever carries out a [`CallAction`].

use futures::future::BoxFuture;

use super::{ActionOutput, CallAction, CallError, HttpExchange};

/// The [`ActionOrigin::plugin_id`] of the host's own actions (fallbacks, keep-alives).
pub const HOST_ORIGIN: &str = "callhost";

/// Who asks for an action: the plugin and the call whose event is being handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionOrigin {
    pub plugin_id: String,
    /// The call of the event being handled.
    pub call_id: String,
    /// The tenant of that call, used for Graph tokens.
    pub tenant_id: Option<String>,
}

/// Carries out call-control actions: the Graph client in production, the simulator and
/// recording fakes in tests.
pub trait CallControl: Send + Sync + 'static {
    fn execute<'a>(
        &'a self,
        origin: &'a ActionOrigin,
        action: CallAction,
    ) -> BoxFuture<'a, Result<ActionOutput, CallError>>;

    /// An HTTP request the plugin sent for `origin`'s call, started at `started`: for the
    /// call's history. Nothing by default.
    fn fetched(&self, origin: &ActionOrigin, started: std::time::Instant, exchange: HttpExchange) {
        let _ = (origin, started, exchange);
    }
}
