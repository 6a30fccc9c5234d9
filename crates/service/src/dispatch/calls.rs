//! The calls in progress: who owns each, its pinned plugin version, and its ordered queue.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{Notify, mpsc};

use super::decision::Decision;
use super::drops::DropReason;
use super::limits::RateLimit;
use super::orphans::{Orphans, Released};
use super::recent::RecentCalls;
use super::router::Route;
use super::timers::Firing;
use super::tracker::{CallTracker, StartedOperations};
use super::{HOST_ORIGIN, Shared, keepalive, worker};
use crate::call::{
    ActionOrigin, CallAction, CallDirection, CallState, ChangeType, OperationCompleted, ResultInfo,
};
use crate::graph::id::id_key;
use crate::graph::notification::CommsNotification;
use crate::journal::JournalRecord;
use crate::plugins::PinnedVersion;
use crate::runtime::PluginVersion;

/// One item of a call's queue.
pub(crate) enum Work {
    /// A notification, and its entry in the call's stored journal (`None` for one that has
    /// none: it named no call).
    Notification(CommsNotification, Option<u64>),
    /// End the call locally: Graph no longer knows it.
    EndLocally(ResultInfo),
    /// An operation Graph reported as completed when it was started.
    OperationFinished(OperationCompleted),
    /// The call's journal has entries this instance was not given (another instance received
    /// them): read and handle them.
    Wake,
    /// Another instance took the call: stop handling it.
    Lost,
    /// A timer of the call fired, and its entry in the call's journal.
    Timer(Firing, Option<u64>),
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

/// Where a call's worker starts: from nothing for a new call, from its stored journal for a
/// call restored after a restart.
pub(crate) struct Start {
    pub tracker: CallTracker,
    /// Operations started before (restored from the call's intents).
    pub operations: StartedOperations,
    /// Queued first, in order.
    pub work: Vec<Work>,
    /// When the call was created, Unix milliseconds.
    pub created_at_ms: i64,
    pub last_keepalive_ms: Option<i64>,
    /// The first keepAlive is due after this (then every interval).
    pub keepalive_in: Duration,
    /// The last journal entry of the call already seen (handled before, or queued in `work`).
    pub last_seq: u64,
    /// The call's host state (its timers and tone collection), as stored.
    pub host_state: Vec<(String, Vec<u8>)>,
}

impl Start {
    pub(crate) fn new(shared: &Shared, call: &NewCall, first: Option<Work>) -> Self {
        let state = match call.direction {
            CallDirection::Incoming => CallState::Incoming,
            CallDirection::Outgoing => CallState::Establishing,
        };
        Self {
            tracker: CallTracker::new(state),
            operations: StartedOperations::default(),
            work: first.into_iter().collect(),
            created_at_ms: crate::storage::now_ms(),
            last_keepalive_ms: None,
            keepalive_in: shared.settings.keepalive_interval,
            last_seq: 0,
            host_state: Vec::new(),
        }
    }
}

/// A call in progress.
pub(crate) struct CallEntry {
    pub call_id: String,
    /// The key the call is stored under ([`id_key`] of its id).
    pub key: String,
    pub plugin_id: String,
    pub direction: CallDirection,
    pub created_by_plugin: bool,
    pub route: Option<Arc<Route>>,
    /// The plugin version the call is pinned to; see [`CallEntry::version_for_event`].
    version: Mutex<Arc<PinnedVersion>>,
    /// The one answer, reject or redirect of an incoming call.
    pub decision: Arc<Decision>,
    /// The tenant of the call: the verified `tid` of the token its first notification came
    /// with, or the tenant a created call was created in. Never changed once set.
    tenant_id: Mutex<Option<String>>,
    state: Mutex<CallState>,
    /// The operations the plugin started on this call.
    pub operations: StartedOperations,
    /// Events the plugin is run for, and Graph requests it makes, per second.
    pub events: Mutex<RateLimit>,
    pub actions: Mutex<RateLimit>,
    queue: Mutex<Queue>,
    pending: Arc<Pending>,
    pub created_at_ms: i64,
    /// Unix milliseconds of the last keepAlive that succeeded; 0 before one did.
    last_keepalive_ms: AtomicI64,
    /// The journal entry being handled, and how many intents its handling wrote so far.
    handling: Mutex<Option<(u64, u32)>>,
    /// Another instance owns the call now (or this one is handing it off): nothing more is
    /// sent or written for it from here.
    lost: AtomicBool,
}

/// The sending side of a call's queue, closed when the call is released.
struct Queue {
    tx: Option<mpsc::UnboundedSender<Work>>,
    /// Items sent and not handled yet, and their weight ([`Work::weight`]).
    queued: usize,
    bytes: usize,
}

impl CallEntry {
    /// Queues `work`; `false` when the call was released meanwhile.
    pub(crate) fn send(&self, work: Work) -> bool {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let Some(tx) = &queue.tx else {
            return false;
        };
        let weight = work.weight();
        if tx.send(work).is_err() {
            return false;
        }
        queue.queued += 1;
        queue.bytes += weight;
        self.pending.add(weight);
        true
    }

    /// Items queued and not handled yet, and their bytes.
    pub(crate) fn queued(&self) -> (usize, usize) {
        let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        (queue.queued, queue.bytes)
    }

    /// Closes the queue: what is still in it counts as handled.
    pub(crate) fn close(&self) {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        queue.tx = None;
        self.pending.release(std::mem::take(&mut queue.bytes));
        for _ in 0..std::mem::take(&mut queue.queued) {
            self.pending.done();
        }
    }

    pub(crate) fn tenant_id(&self) -> Option<String> {
        self.tenant_id
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether a notification whose token is for `tenant` may act on this call: the call's
    /// own tenant, or any tenant (then taken as the call's) while it has none.
    pub(crate) fn admits_tenant(&self, tenant: &str) -> Result<(), String> {
        let mut own = self.tenant_id.lock().unwrap_or_else(|e| e.into_inner());
        match own.as_deref() {
            Some(own) if own.eq_ignore_ascii_case(tenant) => Ok(()),
            Some(own) => Err(own.to_owned()),
            None => {
                *own = Some(tenant.to_owned());
                Ok(())
            }
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

    /// One item of `weight` bytes was handled.
    pub(crate) fn work_done(&self, weight: usize) {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if queue.queued > 0 {
            let weight = weight.min(queue.bytes);
            queue.queued -= 1;
            queue.bytes -= weight;
            self.pending.release(weight);
            self.pending.done();
        }
    }

    /// One more Graph request of the plugin, if the call's action rate allows it.
    pub(crate) fn allow_action(&self) -> bool {
        self.actions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .allow()
    }

    /// This instance no longer owns the call: from now on it sends and writes nothing for it.
    pub(crate) fn mark_lost(&self) {
        self.lost.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    pub(crate) fn keepalive_sent(&self, at_ms: i64) {
        self.last_keepalive_ms.store(at_ms, Ordering::SeqCst);
    }

    /// The call's record as stored, with what `tracker` learned of it from Graph.
    pub(crate) fn record(&self, tracker: &CallTracker) -> crate::storage::CallRecord {
        let version = self.version();
        let keepalive = self.last_keepalive_ms.load(Ordering::SeqCst);
        crate::storage::CallRecord {
            call_id: self.key.clone(),
            graph_id: self.call_id.clone(),
            tenant_id: self.tenant_id().unwrap_or_default(),
            direction: direction_name(self.direction).to_owned(),
            route: self.route.as_ref().map(|r| r.name.clone()),
            plugin: self.plugin_id.clone(),
            plugin_version: version.info.hash.clone(),
            state: self.state().as_str().to_owned(),
            my_participant_id: tracker.my_participant_id.clone(),
            callback_uri: tracker.callback_uri.clone(),
            created_by_plugin: self.created_by_plugin,
            created_at_ms: self.created_at_ms,
            last_keepalive_ms: (keepalive > 0).then_some(keepalive),
            ended_at_ms: None,
            end_reason: None,
        }
    }

    /// Starts handling journal entry `seq` (`None`: work that has no entry).
    pub(crate) fn begin_handling(&self, seq: Option<u64>) {
        *self.handling.lock().unwrap_or_else(|e| e.into_inner()) = seq.map(|seq| (seq, 0));
    }

    /// The place of the next intent in the handling of the current entry: the entry and the
    /// number of intents before it; `None` outside the handling of an entry.
    pub(crate) fn next_intent(&self) -> Option<(u64, u32)> {
        let mut handling = self.handling.lock().unwrap_or_else(|e| e.into_inner());
        let (seq, next) = handling.as_mut()?;
        let idx = *next;
        *next += 1;
        Some((*seq, idx))
    }

    /// One more plugin event, if the call's event rate allows it.
    pub(crate) fn allow_event(&self) -> bool {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .allow()
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
    /// Their weight ([`Work::weight`]), bounded by `calls.queue_bytes`.
    bytes: AtomicUsize,
    idle: Notify,
}

impl Pending {
    fn add(&self, weight: usize) {
        self.bytes.fetch_add(weight, Ordering::SeqCst);
        self.count.fetch_add(1, Ordering::SeqCst);
    }

    fn release(&self, weight: usize) {
        self.bytes.fetch_sub(weight, Ordering::SeqCst);
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
    orphans: Mutex<Orphans>,
    /// Whether a task is expiring held notifications.
    sweeping: AtomicBool,
    /// Calls that ended, or were decided without a plugin, lately.
    recent: Mutex<RecentCalls>,
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
    /// Bytes of the notifications queued for all calls and not handled yet.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.pending.bytes.load(Ordering::SeqCst)
    }

    pub(crate) fn register(
        &self,
        shared: Arc<Shared>,
        call: NewCall,
        first: Option<Work>,
    ) -> Arc<CallEntry> {
        let start = Start::new(&shared, &call, first);
        self.start(shared, call, start)
    }

    /// Starts tracking a call and its worker from `start`; then queues the notifications
    /// held for it.
    pub(crate) fn start(&self, shared: Arc<Shared>, call: NewCall, start: Start) -> Arc<CallEntry> {
        let (tx, rx) = mpsc::unbounded_channel();
        let limits = &shared.settings.limits;
        let entry = Arc::new(CallEntry {
            plugin_id: call.version.info.id.clone(),
            key: id_key(&call.call_id).into_owned(),
            call_id: call.call_id.clone(),
            direction: call.direction,
            created_by_plugin: call.created_by_plugin,
            route: call.route,
            version: Mutex::new(Arc::new(shared.plugins.pin(call.version))),
            decision: Arc::default(),
            tenant_id: Mutex::new(call.tenant_id),
            state: Mutex::new(start.tracker.state),
            operations: start.operations,
            events: Mutex::new(RateLimit::new(limits.events_per_second, limits.event_burst)),
            actions: Mutex::new(RateLimit::new(
                limits.actions_per_second,
                limits.action_burst,
            )),
            queue: Mutex::new(Queue {
                tx: Some(tx),
                queued: 0,
                bytes: 0,
            }),
            pending: self.pending.clone(),
            created_at_ms: start.created_at_ms,
            last_keepalive_ms: AtomicI64::new(start.last_keepalive_ms.unwrap_or(0)),
            handling: Mutex::new(None),
            lost: AtomicBool::new(false),
        });
        let key = entry.key.clone();
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone(), entry.clone());
        let held = self
            .orphans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take(&key);
        // Journaled now that they are known to be worth keeping: the call is registered.
        let own_tenant = entry.tenant_id();
        let held = held.into_iter().filter_map(|held| {
            let foreign = own_tenant
                .as_deref()
                .is_some_and(|own| !own.eq_ignore_ascii_case(&held.tenant));
            if foreign && let Work::Notification(n, _) = &held.work {
                tracing::warn!(call_id = %entry.call_id, token_tenant = %held.tenant, resource = ?n.resource_url, "notification held for a call of another tenant refused: its token was for another tenant than the call's");
                return None;
            }
            Some(held.work)
        });
        for work in start.work.into_iter().chain(held) {
            if let Work::Notification(n, _) = &work {
                journal_notification(&shared, &entry.call_id, n);
            }
            entry.send(work);
        }
        tokio::spawn(worker::run(
            shared.clone(),
            entry.clone(),
            worker::Resume {
                tracker: start.tracker,
                last_seq: start.last_seq,
                host_state: start.host_state,
            },
            rx,
        ));
        keepalive::spawn(shared, entry.clone(), start.keepalive_in);
        entry
    }

    /// Stops tracking the call; notifications that still come for it are old news.
    pub(crate) fn remove(&self, call_id: &str) {
        let key = id_key(call_id);
        self.remember_ended(&key);
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key.as_ref());
    }

    /// Stops tracking a call another instance owns, without taking it as ended.
    pub(crate) fn forget(&self, call_id: &str) {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id_key(call_id).as_ref());
    }

    /// The calls tracked here.
    pub(crate) fn entries(&self) -> Vec<Arc<CallEntry>> {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// How many calls are tracked.
    pub(crate) fn len(&self) -> usize {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Remembers a call that ended or was decided without a plugin.
    pub(crate) fn remember_ended(&self, key: &str) {
        self.recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remember(key);
    }

    /// Whether the call ended, or was decided without a plugin, lately.
    pub(crate) fn ended_lately(&self, call_id: &str) -> bool {
        self.recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(id_key(call_id).as_ref())
    }

    /// Holds a notification for a call that is not registered yet (its create request has
    /// not returned), within the orphan limits. Held notifications expire after the
    /// dispatcher's `orphan_hold`, each with a warning; what a limit pushes out is dropped
    /// with a warning too.
    pub(crate) fn hold_orphan(
        &self,
        shared: &Arc<Shared>,
        call_id: &str,
        tenant: &str,
        work: Work,
    ) {
        let key = id_key(call_id).into_owned();
        let bytes = work.weight();
        let released = self.orphans.lock().unwrap_or_else(|e| e.into_inner()).hold(
            &key,
            call_id,
            (tenant, work),
            bytes,
            &shared.settings.limits,
        );
        for gone in released {
            report_orphans(
                shared,
                &gone,
                DropReason::OrphanOverflow,
                "over the orphan limits (calls.orphans_per_call, calls.orphan_calls, calls.orphan_bytes)",
            );
        }
        if !self.sweeping.swap(true, Ordering::SeqCst) {
            tokio::spawn(sweep_orphans(shared.clone()));
        }
    }

    /// Counts a create request as unanswered until the guard is dropped.
    pub(crate) fn creation_started(&self) -> CreationInFlight<'_> {
        self.creations_in_flight.fetch_add(1, Ordering::SeqCst);
        CreationInFlight(self)
    }

    /// Gives up on notifications held for a call that was never registered. A live call
    /// nobody registered while a create request had timed out is the call Graph created
    /// anyway: nobody owns it, so it is hung up.
    async fn expire_orphans(&self, shared: &Arc<Shared>, gone: Released) {
        if shared.ownership.is_shared() {
            // Held here while the call's owner was not known yet: the owner read them from
            // the journal when it claimed the call.
            let store = &shared.settings.store;
            if let Ok(Some(_)) = store.call(id_key(&gone.call_id).into_owned()).await {
                tracing::debug!(call_id = %gone.call_id, "notifications held for a call another instance owns: its owner took them from the journal");
                return;
            }
        }
        let detail = format!(
            "no call {} was registered within {:?}",
            gone.call_id, shared.settings.orphan_hold
        );
        let live = report_orphans(shared, &gone, DropReason::OrphanExpired, &detail);
        let call_id = gone.call_id.as_str();
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

/// Expires held notifications in arrival order while any are held; one task at a time.
async fn sweep_orphans(shared: Arc<Shared>) {
    let calls = &shared.calls;
    let hold = shared.settings.orphan_hold;
    loop {
        let next = {
            let mut orphans = calls.orphans.lock().unwrap_or_else(|e| e.into_inner());
            match orphans.next_expiry(hold) {
                Some(next) => next,
                None => {
                    calls.sweeping.store(false, Ordering::SeqCst);
                    // An orphan held between the check and the flag has no sweeper: go on.
                    if orphans.is_empty() || calls.sweeping.swap(true, Ordering::SeqCst) {
                        return;
                    }
                    continue;
                }
            }
        };
        tokio::time::sleep_until(next.into()).await;
        // While a create request is unanswered, its call may be one of these.
        if calls.creations_in_flight.load(Ordering::SeqCst) > 0 {
            tokio::time::sleep(hold).await;
            continue;
        }
        let expired = calls
            .orphans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .expired(Instant::now(), hold);
        for gone in expired {
            calls.expire_orphans(&shared, gone).await;
        }
    }
}

/// Reports each held notification given up; returns whether any was about a live call.
fn report_orphans(shared: &Shared, gone: &Released, reason: DropReason, detail: &str) -> bool {
    let mut live = false;
    for work in &gone.works {
        if let Work::Notification(n, seq) = work {
            live |= n.change_type != ChangeType::Deleted;
            shared
                .metrics
                .dropped(&gone.call_id, &n.resource_url, reason, detail);
            shared.settle(&id_key(&gone.call_id), *seq);
        }
    }
    live
}

/// Journals a notification for the call it was registered as.
pub(crate) fn journal_notification(
    shared: &Shared,
    call_id: &str,
    notification: &CommsNotification,
) {
    shared.settings.journal.record(
        call_id,
        Instant::now(),
        JournalRecord::Notification {
            body: notification.envelope(),
        },
    );
}

impl Work {
    /// About how many bytes the work keeps in memory.
    pub(crate) fn weight(&self) -> usize {
        const OVERHEAD: usize = 256;
        match self {
            Work::Notification(n, _) => notification_weight(n),
            Work::EndLocally(_)
            | Work::OperationFinished(_)
            | Work::Wake
            | Work::Lost
            | Work::Timer(..) => OVERHEAD,
        }
    }
}

/// About how many bytes a notification keeps in memory.
pub(crate) fn notification_weight(n: &CommsNotification) -> usize {
    const OVERHEAD: usize = 256;
    OVERHEAD
        + n.resource_url.len()
        + n.raw_resource_data.len()
        + n.delivery_id.as_ref().map_or(0, String::len)
        + n.callback_uri.as_ref().map_or(0, String::len)
        // The typed resource holds about as much again as its text.
        + n.raw_resource_data.len()
}

/// How the store writes a call's direction.
pub(crate) fn direction_name(direction: CallDirection) -> &'static str {
    match direction {
        CallDirection::Incoming => "incoming",
        CallDirection::Outgoing => "outgoing",
    }
}
