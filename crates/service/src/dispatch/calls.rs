//! The calls in progress: who owns each, its pinned plugin version, and its ordered queue.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{Notify, mpsc};

use super::drops::DropReason;
use super::router::Route;
use super::tracker::StartedOperations;
use super::{HOST_ORIGIN, Shared, worker};
use crate::call::{
    ActionOrigin, CallAction, CallDirection, CallState, ChangeType, OperationCompleted, ResultInfo,
};
use crate::graph::id::id_key;
use crate::graph::notification::CommsNotification;
use crate::plugins::PinnedVersion;
use crate::runtime::PluginVersion;

/// One item of a call's queue.
pub(crate) enum Work {
    Notification(CommsNotification),
    /// End the call locally: Graph no longer knows it.
    EndLocally(ResultInfo),
    /// An operation Graph reported as completed when it was started.
    OperationFinished(OperationCompleted),
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
    /// The operations the plugin started on this call.
    pub operations: StartedOperations,
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

/// A create request not answered yet; see [`CallRegistry::creation_started`].
pub(crate) struct CreationInFlight<'a>(&'a CallRegistry);

impl Drop for CreationInFlight<'_> {
    fn drop(&mut self) {
        self.0.creations_in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How long after a create request timed out a call nobody registered is taken for the one
/// Graph may have created anyway.
const UNCERTAIN_CREATION_WINDOW: Duration = Duration::from_secs(120);

/// The calls in progress, keyed by [`id_key`] (Graph writes one GUID several ways).
#[derive(Default)]
pub(crate) struct CallRegistry {
    calls: Mutex<HashMap<String, Arc<CallEntry>>>,
    orphans: Mutex<HashMap<String, (Instant, Vec<Work>)>>,
    /// When create requests timed out: Graph may have created those calls.
    uncertain_creations: Mutex<VecDeque<Instant>>,
    /// Create requests not answered yet: their calls' notifications may arrive first.
    creations_in_flight: AtomicUsize,
    pending: Arc<Pending>,
}

impl CallRegistry {
    pub(crate) fn get(&self, call_id: &str) -> Option<Arc<CallEntry>> {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id_key(call_id).as_ref())
            .cloned()
    }

    /// Starts tracking a call and its worker. `first` (the notification that announced the
    /// call) is queued first, then the notifications held for it.
    pub(crate) fn register(
        &self,
        shared: Arc<Shared>,
        call: NewCall,
        first: Option<Work>,
    ) -> Arc<CallEntry> {
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
            operations: StartedOperations::default(),
            tx,
            pending: self.pending.clone(),
        });
        let key = id_key(&call.call_id).into_owned();
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone(), entry.clone());
        if let Some(work) = first {
            entry.send(work);
        }
        let orphans = self
            .orphans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
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
            .remove(id_key(call_id).as_ref());
    }

    /// Holds a notification for a call that is not registered yet (its create request has
    /// not returned). Held notifications expire after the dispatcher's `orphan_hold`, each with
    /// a warning.
    pub(crate) fn hold_orphan(&self, shared: &Arc<Shared>, call_id: &str, work: Work) {
        let key = id_key(call_id).into_owned();
        let mut orphans = self.orphans.lock().unwrap_or_else(|e| e.into_inner());
        let first = !orphans.contains_key(&key);
        orphans
            .entry(key.clone())
            .or_insert_with(|| (Instant::now(), Vec::new()))
            .1
            .push(work);
        if first {
            let shared = shared.clone();
            let call_id = call_id.to_owned();
            tokio::spawn(async move {
                tokio::time::sleep(shared.settings.orphan_hold).await;
                // While a create request is unanswered, its call may be this one.
                while shared.calls.creations_in_flight.load(Ordering::SeqCst) > 0 {
                    tokio::time::sleep(shared.settings.orphan_hold).await;
                }
                shared.calls.expire_orphans(&shared, &key, &call_id).await;
            });
        }
    }

    /// Counts a create request as unanswered until the guard is dropped.
    pub(crate) fn creation_started(&self) -> CreationInFlight<'_> {
        self.creations_in_flight.fetch_add(1, Ordering::SeqCst);
        CreationInFlight(self)
    }

    /// Gives up on the notifications held for a call that was never registered. A live call
    /// nobody registered while a create request had timed out is the call Graph created
    /// anyway: nobody owns it, so it is hung up.
    async fn expire_orphans(&self, shared: &Arc<Shared>, key: &str, call_id: &str) {
        let held = self
            .orphans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
        let Some((_, held)) = held else {
            return;
        };
        let mut live = false;
        for work in &held {
            if let Work::Notification(n) = work {
                live |= n.change_type != ChangeType::Deleted;
                shared.metrics.dropped(
                    call_id,
                    &n.resource_url,
                    DropReason::OrphanExpired,
                    &format!(
                        "no call {call_id} was registered within {:?}",
                        shared.settings.orphan_hold
                    ),
                );
            }
        }
        if live && self.take_uncertain_creation() {
            tracing::warn!(
                call_id,
                "Graph created this call although its create request timed out; nobody owns it, hanging it up"
            );
            let origin = ActionOrigin {
                plugin_id: HOST_ORIGIN.into(),
                call_id: call_id.to_owned(),
                tenant_id: None,
            };
            let hang_up = CallAction::HangUp {
                call_id: call_id.to_owned(),
            };
            if let Err(e) = shared.graph.execute(&origin, hang_up).await {
                tracing::error!(call_id, error = %e, "hanging up the unowned call failed");
            }
        }
    }

    /// Remembers that a create request timed out: Graph may have created the call.
    pub(crate) fn note_uncertain_creation(&self) {
        let mut uncertain = self
            .uncertain_creations
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        uncertain.push_back(Instant::now());
    }

    /// Takes one recent uncertain creation, if there is one.
    fn take_uncertain_creation(&self) -> bool {
        let mut uncertain = self
            .uncertain_creations
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        while let Some(at) = uncertain.front() {
            if at.elapsed() <= UNCERTAIN_CREATION_WINDOW {
                uncertain.pop_front();
                return true;
            }
            uncertain.pop_front();
        }
        false
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
