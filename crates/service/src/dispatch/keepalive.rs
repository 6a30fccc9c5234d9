//! Keeps calls alive and reconciles the ones that went quiet: Graph ends a call that gets no
//! keepAlive for 45 minutes, and a call whose end callhost never heard of would otherwise be
//! tracked forever.

use std::sync::Arc;
use std::time::Duration;

use super::calls::{CallEntry, Work};
use super::{HOST_ORIGIN, Shared};
use crate::call::{ActionOrigin, CallAction, CallError, CallState, ResultInfo};

/// Every interval, until the call is gone: an established call gets a keepAlive; a call that
/// is not established is probed with one too. A 404 ends the call locally, and so does a
/// second failed probe of a call that never became established. The first is due after
/// `first` (a call restored after a restart continues its schedule); each success is stored.
pub(crate) fn spawn(shared: Arc<Shared>, entry: Arc<CallEntry>, first: Duration) {
    // Held weakly, so that an ended call (and the plugin version pinned to it) is released
    // when it ends, not at the next keepAlive.
    let call = Arc::downgrade(&entry);
    drop(entry);
    tokio::spawn(async move {
        let interval = shared.settings.keepalive_interval;
        let mut failed_probes = 0;
        let mut wait = first;
        loop {
            tokio::time::sleep(wait).await;
            wait = interval;
            let Some(entry) = call.upgrade() else {
                return;
            };
            if shared.calls.get(&entry.call_id).is_none() {
                return;
            }
            if entry.is_lost() {
                return;
            }
            if !shared.ownership.may_send() {
                tracing::warn!(call_id = %entry.call_id, "keepAlive not sent: this instance's leases may have lapsed; the call's next owner sends it");
                continue;
            }
            let established = entry.state() == CallState::Established;
            let origin = ActionOrigin {
                plugin_id: HOST_ORIGIN.into(),
                call_id: entry.call_id.clone(),
                tenant_id: entry.tenant_id(),
            };
            let action = CallAction::KeepAlive {
                call_id: entry.call_id.clone(),
            };
            let end = |code: i32, message: &str| {
                entry.send(Work::EndLocally(ResultInfo {
                    code,
                    subcode: 0,
                    message: Some(message.into()),
                }));
            };
            match shared.graph.execute(&origin, action).await {
                Ok(_) => {
                    failed_probes = 0;
                    tracing::debug!(call_id = %entry.call_id, "keepAlive sent");
                    let now = crate::storage::now_ms();
                    entry.keepalive_sent(now);
                    if let Err(e) = shared
                        .settings
                        .store
                        .keepalive(entry.key.clone(), now)
                        .await
                    {
                        tracing::warn!(call_id = %entry.call_id, error = %e, "the keepAlive could not be stored; after a restart the next one is sent at once");
                    }
                }
                Err(CallError::NotFound) => {
                    tracing::info!(call_id = %entry.call_id, "keepAlive answered 404: Graph no longer knows the call; ending it");
                    end(404, "The call no longer exists (keepAlive answered 404).");
                    return;
                }
                Err(e) if !established => {
                    failed_probes += 1;
                    if failed_probes >= 2 {
                        tracing::warn!(call_id = %entry.call_id, state = entry.state().as_str(), error = %e, "the call never became established and Graph does not confirm it; ending it");
                        end(
                            408,
                            "The call was never established and Graph did not confirm it.",
                        );
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(call_id = %entry.call_id, error = %e, "keepAlive failed; retrying at the next interval")
                }
            }
        }
    });
}
