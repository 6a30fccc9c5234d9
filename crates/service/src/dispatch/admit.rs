//! Whether a callback's notifications may be queued at all, decided before it is answered:
//! the calls they name are valid ids, belong to the tenant of the callback's verified token,
//! and have room in their queues.

use std::collections::HashMap;

use super::Shared;
use super::calls::notification_weight;
use crate::graph::id::{check_id, id_key};
use crate::graph::notification::{CommsNotification, ResourceData};

/// Why a callback's notifications are refused; nothing of it is queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// `400`: the resource URL names a call by something that is not a Graph id.
    #[error("the resource URL {resource:?} names a call id that is not a Graph id: {reason}")]
    InvalidCallId { resource: String, reason: String },
    /// `403`: the token is for another tenant than the call's.
    #[error(
        "call {call_id} belongs to tenant {call_tenant}, and the callback's token is for tenant {token_tenant}"
    )]
    ForeignTenant {
        call_id: String,
        call_tenant: String,
        token_tenant: String,
    },
    /// `503` with `Retry-After`: the call has too many notifications queued.
    #[error(
        "call {call_id} has {queued} notifications queued and this callback brings {adding} more, past calls.queue_per_call = {limit}"
    )]
    CallBusy {
        call_id: String,
        queued: usize,
        adding: usize,
        limit: usize,
    },
    /// `503` with `Retry-After`: the notifications queued would pass a byte budget.
    #[error(
        "{scope} has {queued} bytes of notifications queued and this callback brings {adding} more, past {setting} = {limit}"
    )]
    QueueFull {
        /// `call <id>` or `all calls together`.
        scope: String,
        queued: usize,
        adding: usize,
        limit: usize,
        setting: &'static str,
    },
    /// `503` with `Retry-After`: the notifications could not be journaled, so they are not
    /// acknowledged (Graph sends them again).
    #[error("the notifications could not be stored: {error}")]
    NotStored { error: String },
}

pub(super) fn admit(
    shared: &Shared,
    notifications: &[CommsNotification],
    tenant: &str,
) -> Result<(), Refusal> {
    let limits = &shared.settings.limits;
    let limit = limits.queue_per_call;
    // Per call: notifications and bytes this callback adds.
    let mut per_call: HashMap<String, (usize, usize)> = HashMap::new();
    let mut adding_bytes = 0;
    for n in notifications {
        let Some(call_id) = n.call_id() else {
            continue;
        };
        check_id(call_id).map_err(|reason| Refusal::InvalidCallId {
            resource: excerpt(&n.resource_url),
            reason,
        })?;
        let entry = shared.calls.get(call_id);
        if let Some(entry) = &entry {
            entry
                .admits_tenant(tenant)
                .map_err(|call_tenant| Refusal::ForeignTenant {
                    call_id: call_id.to_owned(),
                    call_tenant,
                    token_tenant: tenant.to_owned(),
                })?;
            let weight = notification_weight(n);
            adding_bytes += weight;
            let (adding, bytes) = per_call.entry(id_key(call_id).into_owned()).or_default();
            *adding += 1;
            *bytes += weight;
            let (queued, queued_bytes) = entry.queued();
            if queued + *adding > limit {
                return Err(Refusal::CallBusy {
                    call_id: call_id.to_owned(),
                    queued,
                    adding: *adding,
                    limit,
                });
            }
            if queued_bytes + *bytes > limits.queue_bytes_per_call {
                return Err(Refusal::QueueFull {
                    scope: format!("call {call_id}"),
                    queued: queued_bytes,
                    adding: *bytes,
                    limit: limits.queue_bytes_per_call,
                    setting: "calls.queue_bytes_per_call",
                });
            }
        } else if let ResourceData::Call(call) = &n.data
            && let Some(body_tenant) = call.tenant_id()
            && !body_tenant.eq_ignore_ascii_case(tenant)
        {
            // A new call's tenant is the verified one; the body's claim is not trusted.
            tracing::warn!(call_id, body_tenant = ?body_tenant, token_tenant = tenant, "the body names another tenant than the callback's token; the call is the token's tenant's");
        }
        if entry.is_none() {
            let (adding, _) = per_call.entry(id_key(call_id).into_owned()).or_default();
            *adding += 1;
            if *adding > limit {
                return Err(Refusal::CallBusy {
                    call_id: call_id.to_owned(),
                    queued: 0,
                    adding: *adding,
                    limit,
                });
            }
        }
    }
    let queued = shared.calls.queued_bytes();
    if adding_bytes > 0 && queued + adding_bytes > limits.queue_bytes {
        return Err(Refusal::QueueFull {
            scope: "all calls together".into(),
            queued,
            adding: adding_bytes,
            limit: limits.queue_bytes,
            setting: "calls.queue_bytes",
        });
    }
    Ok(())
}

/// The start of a value from a request, escaped, for an error message or a log line.
pub(crate) fn excerpt(text: &str) -> String {
    const MAX: usize = 80;
    let mut out: String = text
        .chars()
        .take(MAX)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
}
