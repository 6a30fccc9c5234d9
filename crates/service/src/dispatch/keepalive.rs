//! Keeps established calls alive: Graph ends a call that gets no keepAlive for 45 minutes.

use std::sync::Arc;

use super::calls::{CallEntry, Work};
use super::{HOST_ORIGIN, Shared};
use crate::call::{ActionOrigin, CallAction, CallError, ResultInfo};

/// Sends keepAlive for `entry` every interval until the call is gone. A 404 ends it locally.
pub(crate) fn spawn(shared: Arc<Shared>, entry: Arc<CallEntry>) {
    // Held weakly, so that an ended call (and the plugin version pinned to it) is released
    // when it ends, not at the next keepAlive.
    let call = Arc::downgrade(&entry);
    tokio::spawn(async move {
        let interval = shared.settings.keepalive_interval;
        loop {
            tokio::time::sleep(interval).await;
            let Some(entry) = call.upgrade() else {
                return;
            };
            if shared.calls.get(&entry.call_id).is_none() {
                return;
            }
            let origin = ActionOrigin {
                plugin_id: HOST_ORIGIN.into(),
                call_id: entry.call_id.clone(),
                tenant_id: entry.tenant_id(),
            };
            let action = CallAction::KeepAlive {
                call_id: entry.call_id.clone(),
            };
            match shared.graph.execute(&origin, action).await {
                Ok(_) => tracing::debug!(call_id = %entry.call_id, "keepAlive sent"),
                Err(CallError::NotFound) => {
                    tracing::info!(call_id = %entry.call_id, "keepAlive answered 404: Graph no longer knows the call; ending it");
                    entry.send(Work::EndLocally(ResultInfo {
                        code: 404,
                        subcode: 0,
                        message: Some("The call no longer exists (keepAlive answered 404).".into()),
                    }));
                    return;
                }
                Err(e) => {
                    tracing::warn!(call_id = %entry.call_id, error = %e, "keepAlive failed; retrying at the next interval")
                }
            }
        }
    });
}
