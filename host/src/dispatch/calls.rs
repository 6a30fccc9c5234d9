//! The calls in progress: who owns each, its pinned plugin version, and its ordered queue.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{Notify, mpsc};

use super::router::Route;
use super::{ORPHAN_TTL, Shared, worker};
use crate::call::{CallDirection, CallState, ResultInfo};
use crate::graph::notification::CommsNotification;
use crate::plugins::PinnedVersion;
use crate::runtime::PluginVersion;

/// One item of a call's queue.
pub(crate) enum Work {
    Notification(CommsNotification),
    /// End the call locally: Graph no longer knows it.
    EndLocally(ResultInfo),
}

/// What is needed to start tracking a call.
pub(crate) struct NewCall {
    pub call_id: String,
    pub version: PluginVersion,
    pub route: Option<Arc<Route>>,
    pub direction: CallDirection,
    pub tenant_id: Option<String>,
    pub created_by_plugin: bool,
}

/// A call in progress.
pub(crate) struct CallEntry {
    pub call_id: String,
    pub plugin_id: String,
    pub direction: CallDirection,
    pub created_by_plugin: bool,
    pub route: Option<Arc<Route>>,
    /// The plugin version the call is pinned to; see [`CallEntry::version_for_event`].
    version: Mutex<Arc<PinnedVersion>>,
    /// Set once the incoming call was answered, rejected or redirected.
    pub decided: AtomicBool,
    tenant_id: Mutex<Option<String>>,
    state: Mutex<CallState>,
    tx: mpsc::UnboundedSender<Work>,
    pending: Arc<Pending>,
}

impl CallEntry {
    pub(crate) fn send(&self, work: Work) {
        self.pending.add();
        if self.tx.send(work).is_err() {
            // The worker ended (the call terminated) between lookup and send.
            self.pending.done();
        }
    }

    pub(crate) fn tenant_id(&self) -> Option<String> {
        self.tenant_id
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn set_tenant_id(&self, tenant: Option<String>) {
        if tenant.is_some() {
            *self.tenant_id.lock().unwrap_or_else(|e| e.into_inner()) = tenant;
        }
    }

    pub(crate) fn state(&self) -> CallState {
        *self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set_state(&self, state: CallState) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = state;
    }

    /// The version the call is pinned to.
    pub(crate) fn version(&self) -> Arc<PinnedVersion> {
        self.version
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The version for the call's next event: the pinned one, unless the plugin moves its
    /// calls to new versions (`on_reload = "migrate"`) and one was loaded since.
    pub(crate) fn version_for_event(&self) -> Arc<PinnedVersion> {
        let mut pinned = self.version.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(newer) = pinned.newer() {
            tracing::info!(call_id = %self.call_id, plugin = %self.plugin_id, from = pinned.info.version(), to = newer.info.version(), "call moves to the new plugin version");
            *pinned = Arc::new(newer);
        }
        pinned.clone()
    }

    pub(crate) fn work_done(&self) {
        self.pending.done();
    }
}

/// A call as the admin API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct CallSummary {
    pub call_id: String,
    pub state: CallState,
    pub direction: CallDirection,
    pub tenant_id: Option<String>,
    pub plugin: String,
    pub plugin_version: String,
    pub created_by_plugin: bool,
}

/// Accepted notifications not yet handled, for graceful shutdown.
#[derive(Default)]
struct Pending {
    count: AtomicUsize,
    idle: Notify,
}

impl Pending {
    fn add(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
    }

    fn done(&self) {
        if self.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.idle.notify_waiters();
        }
    }
}

#[derive(Default)]
pub(crate) struct CallRegistry {
    calls: Mutex<HashMap<String, Arc<CallEntry>>>,
    orphans: Mutex<HashMap<String, (Instant, Vec<Work>)>>,
    pending: Arc<Pending>,
}

impl CallRegistry {
    pub(crate) fn get(&self, call_id: &str) -> Option<Arc<CallEntry>> {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(call_id)
            .cloned()
    }

    /// Starts tracking a call and its worker; queued orphan notifications go to it first.
    pub(crate) fn register(&self, shared: Arc<Shared>, call: NewCall) -> Arc<CallEntry> {
        let (tx, rx) = mpsc::unbounded_channel();
        let initial_state = match call.direction {
            CallDirection::Incoming => CallState::Incoming,
            CallDirection::Outgoing => CallState::Establishing,
        };
        let entry = Arc::new(CallEntry {
            plugin_id: call.version.info.id.clone(),
            call_id: call.call_id.clone(),
            direction: call.direction,
            created_by_plugin: call.created_by_plugin,
            route: call.route,
            version: Mutex::new(Arc::new(shared.plugins.pin(call.version))),
            decided: AtomicBool::new(false),
            tenant_id: Mutex::new(call.tenant_id),
            state: Mutex::new(initial_state),
            tx,
            pending: self.pending.clone(),
        });
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(call.call_id.clone(), entry.clone());
        let orphans = self
            .orphans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&call.call_id);
        for work in orphans.map(|(_, w)| w).unwrap_or_default() {
            entry.send(work);
        }
        tokio::spawn(worker::run(shared, entry.clone(), initial_state, rx));
        entry
    }

    pub(crate) fn remove(&self, call_id: &str) {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(call_id);
    }

    /// Holds a notification for a call that is not registered yet.
    pub(crate) fn hold_orphan(&self, call_id: String, work: Work) {
        let mut orphans = self.orphans.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        orphans.retain(|_, (since, _)| now.duration_since(*since) < ORPHAN_TTL);
        orphans
            .entry(call_id)
            .or_insert_with(|| (now, Vec::new()))
            .1
            .push(work);
    }

    pub(crate) fn summaries(&self) -> Vec<CallSummary> {
        let calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        let mut list: Vec<CallSummary> = calls
            .values()
            .map(|e| CallSummary {
                call_id: e.call_id.clone(),
                state: e.state(),
                direction: e.direction,
                tenant_id: e.tenant_id(),
                plugin: e.plugin_id.clone(),
                plugin_version: e.version().info.version().to_string(),
                created_by_plugin: e.created_by_plugin,
            })
            .collect();
        list.sort_by(|a, b| a.call_id.cmp(&b.call_id));
        list
    }

    pub(crate) async fn drained(&self, timeout: Duration) -> bool {
        let wait = async {
            loop {
                let idle = self.pending.idle.notified();
                if self.pending.count.load(Ordering::SeqCst) == 0 {
                    return;
                }
                idle.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }
}
