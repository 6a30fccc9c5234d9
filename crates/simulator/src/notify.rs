//! Notifications the simulated Graph sends: built in Graph's exact envelope, signed, and
//! delivered to the bot's callback URL in order.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{SimRecord, SimShared, lock};
use crate::IssueClaims;

/// A notification waiting to be delivered.
pub(crate) struct Outgoing {
    pub call_id: String,
    pub body: Value,
}

/// One notification of a `commsNotifications` document.
#[derive(Debug, Clone)]
pub struct Notification {
    pub change_type: &'static str,
    pub resource_url: String,
    pub resource_data: Value,
}

impl Notification {
    pub fn new(change_type: &'static str, resource_url: String, resource_data: Value) -> Self {
        Self {
            change_type,
            resource_url,
            resource_data,
        }
    }

    /// The whole callback body, as Graph sends it.
    pub fn envelope(&self) -> Value {
        json!({
            "@odata.type": "#microsoft.graph.commsNotifications",
            "value": [{
                "@odata.type": "#microsoft.graph.commsNotification",
                "changeType": self.change_type,
                "resource": self.resource_url.replacen("/communications/", "/app/", 1),
                "resourceUrl": self.resource_url,
                "resourceData": self.resource_data,
            }]
        })
    }
}

/// Queues a notification for delivery after the simulator's notification delay.
pub(crate) fn send(shared: &Arc<SimShared>, call_id: &str, body: Value) {
    if !shared.settings.emit_notifications {
        return;
    }
    let _ = shared.outbox.send(Outgoing {
        call_id: call_id.to_string(),
        body,
    });
}

/// Delivers queued notifications one at a time, in order.
pub(crate) async fn deliver(shared: Arc<SimShared>, mut rx: mpsc::UnboundedReceiver<Outgoing>) {
    let http = reqwest::Client::new();
    let mut token: Option<(String, SystemTime)> = None;
    while let Some(outgoing) = rx.recv().await {
        tokio::time::sleep(shared.settings.notification_delay).await;
        let Some(url) = lock(&shared.callback_url).clone() else {
            tracing::warn!("simulator: no callback URL set; notification dropped");
            continue;
        };
        let now = SystemTime::now();
        let bearer = match &token {
            Some((t, issued))
                if now.duration_since(*issued).unwrap_or_default() < Duration::from_secs(1800) =>
            {
                t.clone()
            }
            _ => {
                let t = shared.issuer.issue(IssueClaims::graph_callback(
                    &shared.settings.bot_app_id,
                    &shared.settings.tenant_id,
                ));
                token = Some((t.clone(), now));
                t
            }
        };
        let copies = if lock(&shared.faults).duplicate_notifications {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let give_up = tokio::time::Instant::now() + shared.settings.redeliver_for;
            let mut wait = Duration::from_millis(50);
            loop {
                let status = match http
                    .post(&url)
                    .bearer_auth(&bearer)
                    .header("User-Agent", "Microsoft-Skype/3.0,(Calling/1.0)")
                    .header("Scenario-ID", uuid::Uuid::new_v4().to_string())
                    .json(&outgoing.body)
                    .send()
                    .await
                {
                    Ok(response) => response.status().as_u16(),
                    Err(e) => {
                        tracing::warn!(error = %e, %url, "simulator: notification not delivered");
                        0
                    }
                };
                shared.record(SimRecord::Notification {
                    at_ms: shared.elapsed().as_millis(),
                    call_id: outgoing.call_id.clone(),
                    body: outgoing.body.clone(),
                    status,
                });
                let delivered = (200..300).contains(&status);
                if delivered || tokio::time::Instant::now() + wait > give_up {
                    break;
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// Seconds since the epoch, for ids that must differ between runs.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
