//! Recovery on start: every call the store holds that had not ended is tracked again before
//! the service turns ready. Its plugin version is pinned again (from the stored component when
//! the file on disk has changed since), its tracker rebuilt from the journal entries handled
//! before the restart, its unhandled entries queued, its operations known again from its
//! intents, its state loaded, and its keepAlive schedule continued. Notifications accepted
//! for a call that was not registered yet (an incoming call not routed when the process
//! stopped) are dispatched again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::Serialize;

use super::calls::{NewCall, Start, Work};
use super::timers::{Firing, host_scope};
use super::tracker::{CallTracker, StartedOperations};
use super::{Dispatcher, Shared};
use crate::call::{ActionKind, ActionOutput, CallDirection, CallState, Returns};
use crate::graph::notification;
use crate::runtime::{PluginVersion, StateScope};
use crate::storage::{CallRecord, Prior, StoreError, decode_result, now_ms};

/// Unowned notifications older than this are not dispatched again: an incoming call that
/// waited longer has been given up by Graph.
const UNOWNED_WINDOW: Duration = Duration::from_secs(60);

/// Calls whose journal, intents and state are read at the same time.
const RESTORING_AT_ONCE: usize = 64;

/// What recovery restored.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Restored {
    /// Calls tracked again.
    pub calls: usize,
    /// Journal entries queued for them (handled before the restart: not).
    pub queued: usize,
    /// Notifications of calls not registered yet, dispatched again.
    pub unowned: usize,
    /// Calls pinned to a version loaded from the store because the file changed since.
    pub from_stored_components: usize,
    /// Calls whose plugin is no longer configured: ended.
    pub abandoned: usize,
    pub took_ms: u64,
}

pub(super) async fn restore(dispatcher: &Dispatcher) -> Result<Restored, StoreError> {
    let started = Instant::now();
    let shared = &dispatcher.shared;
    let store = &shared.settings.store;
    let mut restored = Restored::default();
    for plugin in shared.plugins.ids() {
        let scope = StateScope::Plugin {
            plugin: plugin.into(),
        };
        shared.durable.load(store.as_ref(), &scope).await?;
    }
    let mut versions: HashMap<String, PluginVersion> = HashMap::new();
    let mut pinned = Vec::new();
    for record in store.live_calls().await? {
        let lease = shared.ownership.lease_ms();
        if store.claim(record.call_id.clone(), lease).await?.is_none() {
            // Another instance is handling it.
            continue;
        }
        let Some(version) = pinned_version(shared, &record, &mut versions, &mut restored).await
        else {
            tracing::error!(call_id = %record.graph_id, plugin = %record.plugin, "the call's plugin is no longer configured; the call is given up (Graph ends it without keepAlives)");
            let reason = format!("abandoned: plugin `{}` is not configured", record.plugin);
            store.end_call(record.call_id, now_ms(), reason).await?;
            restored.abandoned += 1;
            continue;
        };
        pinned.push((record, version));
    }
    // Many calls read at once: their reads share the store's transactions.
    let mut reading = futures::stream::iter(pinned)
        .map(|(record, version)| restore_call(shared, record, version))
        .buffer_unordered(RESTORING_AT_ONCE);
    while let Some(queued) = reading.next().await {
        restored.queued += queued?;
        restored.calls += 1;
    }
    let since = now_ms() - UNOWNED_WINDOW.as_millis() as i64;
    for (_, entry) in store.unowned_entries(since).await? {
        for n in parse(&entry.body, &entry.tenant_id) {
            dispatcher.enqueue(n, &entry.tenant_id, Some(entry.seq));
            restored.unowned += 1;
        }
    }
    restored.took_ms = started.elapsed().as_millis() as u64;
    Ok(restored)
}

/// Takes over a live call whose owner's lease lapsed: claims it and tracks it again from the
/// store. `false` when another instance claimed it first, or it is not live.
pub(super) async fn take_over(dispatcher: &Dispatcher, call_id: &str) -> Result<bool, StoreError> {
    let shared = &dispatcher.shared;
    let store = &shared.settings.store;
    if store
        .claim(call_id.to_owned(), shared.ownership.lease_ms())
        .await?
        .is_none()
    {
        return Ok(false);
    }
    let Some(record) = store.call(call_id.to_owned()).await? else {
        return Ok(false);
    };
    if record.ended_at_ms.is_some() {
        return Ok(false);
    }
    let mut restored = Restored::default();
    let mut versions = HashMap::new();
    let Some(version) = pinned_version(shared, &record, &mut versions, &mut restored).await else {
        tracing::error!(call_id = %record.graph_id, plugin = %record.plugin, "the call's plugin is not configured on this instance; it is left for one that has it");
        store.release(Some(vec![call_id.to_owned()])).await?;
        return Ok(false);
    };
    restore_call(shared, record, version).await?;
    Ok(true)
}

/// Tracks one stored call again; returns how many of its entries were queued.
async fn restore_call(
    shared: &Arc<Shared>,
    record: CallRecord,
    version: PluginVersion,
) -> Result<usize, StoreError> {
    let store = &shared.settings.store;
    let direction = match record.direction.as_str() {
        "outgoing" => CallDirection::Outgoing,
        _ => CallDirection::Incoming,
    };
    let operations = StartedOperations::default();
    for intent in store.intents(record.call_id.clone()).await? {
        let prior = intent.result.as_deref().and_then(decode_result);
        match prior {
            Some(Prior::Done {
                result: Ok(ActionOutput::OperationId(id)),
                operation: Some(kind),
            }) => operations.insert(&id, kind),
            // Sent, its answer never stored: its completion is known by its request's mark.
            None | Some(Prior::Unknown) => {
                let started =
                    ActionKind::from_name(&intent.action).and_then(|a| match a.returns() {
                        Returns::OperationId(kind) => Some(kind),
                        Returns::Nothing | Returns::CallId => None,
                    });
                if let Some(kind) = started {
                    operations.insert_unknown((intent.seq, intent.idx), kind);
                }
            }
            Some(_) => {}
        }
    }
    let mut tracker = CallTracker::new(match direction {
        CallDirection::Incoming => CallState::Incoming,
        CallDirection::Outgoing => CallState::Establishing,
    });
    let mut work = Vec::new();
    let mut last_seq = 0;
    for entry in store.entries(record.call_id.clone(), 0).await? {
        if entry.handled && work.is_empty() {
            last_seq = entry.seq;
        }
        if let Some(firing) = Firing::from_entry(&entry.body) {
            if !entry.handled {
                work.push(Work::Timer(firing, Some(entry.seq)));
            }
            continue;
        }
        for n in parse(&entry.body, &record.graph_id) {
            if entry.handled {
                // What the plugin saw before: the tracker learns it again, no event is made.
                tracker.apply(&n, &operations);
            } else {
                work.push(Work::Notification(n, Some(entry.seq)));
            }
        }
    }
    let queued = work.len();
    let scope = StateScope::Call {
        plugin: record.plugin.as_str().into(),
        call_id: record.graph_id.as_str().into(),
    };
    shared.durable.load(store.as_ref(), &scope).await?;
    let host_state = store.state_scope(host_scope(&record.call_id)).await?;
    let interval = shared.settings.keepalive_interval;
    let last = record.last_keepalive_ms.unwrap_or(record.created_at_ms);
    let due_ms = (last + interval.as_millis() as i64 - now_ms()).max(0);
    let route = record.route.as_ref().and_then(|name| {
        let routes = shared.routes.load();
        routes.iter().find(|r| &r.name == name).cloned()
    });
    tracing::debug!(call_id = %record.graph_id, plugin = %record.plugin, version = version.info.version(), state = tracker.state.as_str(), queued, keepalive_in_s = due_ms / 1000, "call restored");
    let call = NewCall {
        call_id: record.graph_id.clone(),
        version,
        route,
        direction,
        tenant_id: Some(record.tenant_id.clone()).filter(|t| !t.is_empty()),
        created_by_plugin: record.created_by_plugin,
    };
    let start = Start {
        tracker,
        operations,
        work,
        created_at_ms: record.created_at_ms,
        last_keepalive_ms: record.last_keepalive_ms,
        keepalive_in: Duration::from_millis(due_ms as u64),
        last_seq,
        host_state,
    };
    shared.calls.start(shared.clone(), call, start);
    Ok(queued)
}

/// The version a stored call was pinned to: the plugin's current one when it is the same
/// component, else the stored component, compiled again; the current one when that fails.
/// `None` when the plugin is not configured any more.
async fn pinned_version(
    shared: &Shared,
    record: &CallRecord,
    versions: &mut HashMap<String, PluginVersion>,
    restored: &mut Restored,
) -> Option<PluginVersion> {
    let current = shared.plugins.current(&record.plugin)?;
    if current.info.hash == record.plugin_version {
        return Some(current);
    }
    if let Some(version) = versions.get(&record.plugin_version) {
        restored.from_stored_components += 1;
        return Some(version.clone());
    }
    let source = shared.plugins.source(&record.plugin)?;
    let component = shared
        .settings
        .store
        .component(record.plugin_version.clone())
        .await;
    let loaded = match component {
        Ok(Some(bytes)) => source
            .compile(&shared.runtime, bytes, Instant::now())
            .await
            .map_err(|e| format!("{e:#}")),
        Ok(None) => Err("its component is not in the store".into()),
        Err(e) => Err(e.to_string()),
    };
    match loaded {
        Ok(loaded) => {
            restored.from_stored_components += 1;
            versions.insert(record.plugin_version.clone(), loaded.version.clone());
            Some(loaded.version)
        }
        Err(e) => {
            tracing::warn!(call_id = %record.graph_id, plugin = %record.plugin, pinned = %record.plugin_version, error = %e, "the call's pinned version cannot be loaded; it moves to the current version");
            Some(current)
        }
    }
}

/// The notifications of a stored journal entry; one that does not parse is reported.
fn parse(body: &[u8], call: &str) -> Vec<notification::CommsNotification> {
    notification::parse(body).unwrap_or_else(|e| {
        tracing::warn!(call_id = call, error = ?e, "a stored notification does not parse; skipped");
        Vec::new()
    })
}
