//! From notifications to plugin invocations: one ordered queue per call (events of a call are
//! handled in arrival order, calls run concurrently), routing of new calls, decision budgets
//! and fallbacks, keep-alives, and release of a call's state when it ends.

mod admit;
mod calls;
mod collect;
mod control;
mod decision;
mod drops;
mod fallback;
mod intent;
mod keepalive;
mod limits;
mod metrics;
mod operation_context;
mod orphans;
mod ownership;
mod recent;
mod recovery;
mod route_config;
mod router;
mod timers;
pub(crate) mod tracker;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

pub use admit::Refusal;
pub(crate) use admit::excerpt;
pub use calls::CallSummary;
pub use control::PluginControl;
pub use drops::DropReason;
pub use fallback::Fallback;
pub use limits::{CallLimits, DECISION_WINDOW};
pub use metrics::MetricsSnapshot;
pub use ownership::DEFAULT_LEASE;
pub use recovery::Restored;
pub use route_config::{CallerKind, FallbackConfig, RouteConfig, RouteMatch, validate_routes};
pub use router::{CallMatch, Route};
pub use tracker::CallTracker;
pub use tracker::{Applied, Dropped, StartedOperations};

use crate::call::{ActionOrigin, ActionOutput, CallAction, CallControl, CallDirection, CallError};
use crate::graph::notification::{CommsNotification, ResourceData};
use crate::journal::{CallJournal, JournalConfig, MemoryJournal};
use crate::plugins::PluginRegistry;
use crate::runtime::{Runtime, StateStore};
use crate::storage::{DurableState, Journaled, Store};
use calls::{CallRegistry, NewCall, Work};
use metrics::Metrics;

/// Graph ends calls that get no keepAlive within 45 minutes; every 15 is recommended.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// Notifications for a call not known yet (its create request has not returned) are held
/// this long for it, by default.
pub const ORPHAN_TTL: Duration = Duration::from_secs(15);
pub use crate::call::HOST_ORIGIN;

/// Settings of the dispatcher.
#[derive(Debug, Clone)]
pub struct DispatcherSettings {
    pub bot_app_id: String,
    pub keepalive_interval: Duration,
    /// How long notifications for a call not registered yet are held for it.
    pub orphan_hold: Duration,
    /// Where notifications and plugin invocations are recorded, per call.
    pub journal: Arc<dyn CallJournal>,
    /// What one call may cost.
    pub limits: CallLimits,
    /// Where accepted notifications, calls, state and intents are kept.
    pub store: Arc<dyn Store>,
    /// How long a call's lease lasts unless renewed; see `ownership`.
    pub lease: Duration,
}

impl DispatcherSettings {
    pub fn new(bot_app_id: impl Into<String>) -> Self {
        Self {
            bot_app_id: bot_app_id.into(),
            keepalive_interval: KEEPALIVE_INTERVAL,
            orphan_hold: ORPHAN_TTL,
            journal: Arc::new(MemoryJournal::new(JournalConfig::default())),
            limits: CallLimits::default(),
            store: crate::storage::memory_store(),
            lease: DEFAULT_LEASE,
        }
    }
}

/// Routes notifications to per-call workers. Cheap to clone.
#[derive(Clone)]
pub struct Dispatcher {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) settings: DispatcherSettings,
    pub(crate) runtime: Runtime,
    pub(crate) plugins: PluginRegistry,
    /// Replaced as a whole when the configuration is reloaded.
    pub(crate) routes: ArcSwap<Vec<Arc<Route>>>,
    pub(crate) calls: CallRegistry,
    pub(crate) state: Arc<dyn StateStore>,
    /// `state`, with each call's writes kept for its next handled marker.
    pub(crate) durable: Arc<DurableState>,
    /// Carries out actions without ownership or policy checks (the Graph client).
    pub(crate) graph: Arc<dyn CallControl>,
    pub(crate) metrics: Metrics,
    pub(crate) ownership: ownership::Ownership,
    /// What other instances announce.
    pub(crate) news: ownership::News,
}

impl Shared {
    /// Marks journal entry `seq` of the call keyed `call_key` handled with nothing to apply:
    /// the dispatcher dropped it (with a warning), and a restart must not take it up again.
    pub(crate) fn settle(&self, call_key: &str, seq: Option<u64>) {
        let Some(seq) = seq else {
            return;
        };
        let store = self.settings.store.clone();
        let call_key = call_key.to_owned();
        let shared_store = self.ownership.is_shared();
        tokio::spawn(async move {
            // With other instances on the store, a live call is someone's: its entries are
            // its owner's to handle.
            if shared_store
                && let Ok(Some(record)) = store.call(call_key.clone()).await
                && record.ended_at_ms.is_none()
            {
                return;
            }
            if let Err(e) = store.handled(call_key.clone(), seq, Vec::new()).await {
                tracing::warn!(call_key, seq, error = %e, "a dropped notification could not be marked handled; a restart within a minute may look at it again");
            }
        });
    }
}

/// A notification for a call nobody tracks: the end of a call is dropped (with a warning);
/// anything else is held for a call not registered yet (its create request has not returned).
fn untracked(
    shared: &Arc<Shared>,
    call_id: &str,
    tenant: &str,
    notification: CommsNotification,
    seq: Option<u64>,
) {
    if notification.change_type == crate::call::ChangeType::Deleted {
        let detail = "the end of a call callhost does not track";
        let resource = &notification.resource_url;
        let reason = DropReason::UntrackedCall;
        shared.metrics.dropped(call_id, resource, reason, detail);
        shared.settle(&crate::graph::id::id_key(call_id), seq);
        return;
    }
    hold(shared, call_id, tenant, notification, seq);
}

/// Holds a notification for a call not registered here yet.
fn hold(
    shared: &Arc<Shared>,
    call_id: &str,
    tenant: &str,
    notification: CommsNotification,
    seq: Option<u64>,
) {
    tracing::debug!(
        call_id,
        "notification for a call not registered yet; holding it"
    );
    shared.calls.hold_orphan(
        shared,
        call_id,
        tenant,
        Work::Notification(notification, seq),
    );
}

impl Dispatcher {
    pub fn new(
        settings: DispatcherSettings,
        runtime: Runtime,
        plugins: PluginRegistry,
        routes: Vec<Route>,
        state: Arc<dyn StateStore>,
        graph: Arc<dyn CallControl>,
    ) -> Self {
        let settings_lease = settings.lease;
        let durable = Arc::new(DurableState::new(state.clone(), settings.store.clone()));
        Self {
            shared: Arc::new(Shared {
                settings,
                runtime,
                plugins,
                routes: ArcSwap::from_pointee(routes.into_iter().map(Arc::new).collect()),
                calls: CallRegistry::default(),
                durable,
                state,
                graph,
                metrics: Metrics::default(),
                ownership: ownership::Ownership::new(settings_lease),
                news: ownership::News::default(),
            }),
        }
    }

    /// Whether the notifications of one callback, whose token is for `tenant`, may be
    /// queued: every call they name is a valid id, of that tenant, with room in its queue.
    /// Nothing is queued for a refused callback.
    pub fn admit(&self, notifications: &[CommsNotification], tenant: &str) -> Result<(), Refusal> {
        admit::admit(&self.shared, notifications, tenant)
    }

    /// Takes the notifications of one callback whose token is for `tenant`: admits them
    /// ([`Self::admit`]), appends them to their calls' journals in one commit, and queues
    /// those not seen before. Returns how many were repeats (acknowledged, not handled
    /// again). Nothing is queued when it fails: the callback must not be acknowledged.
    pub async fn accept(
        &self,
        notifications: Vec<CommsNotification>,
        tenant: &str,
    ) -> Result<usize, Refusal> {
        self.admit(&notifications, tenant)?;
        let store = self.shared.settings.store.as_ref();
        let journaled = crate::storage::journal(store, &notifications, tenant)
            .await
            .map_err(|e| Refusal::NotStored {
                error: e.to_string(),
            })?;
        let mut repeats = 0;
        for (notification, journaled) in notifications.into_iter().zip(journaled) {
            match journaled {
                Journaled::Stored(seq) => self.enqueue(notification, tenant, Some(seq)),
                Journaled::NoCall => self.enqueue(notification, tenant, None),
                Journaled::Duplicate(seq) => {
                    repeats += 1;
                    self.shared.metrics.notification();
                    let call_id = notification.call_id().unwrap_or_default();
                    let detail =
                        format!("entry {seq} of the call's journal is the same notification");
                    let resource = &notification.resource_url;
                    let reason = DropReason::DuplicateDelivery;
                    self.shared
                        .metrics
                        .dropped(call_id, resource, reason, &detail);
                }
            }
        }
        Ok(repeats)
    }

    /// Queues one notification, from a callback whose token is for `tenant`, for its call;
    /// `seq` is its entry in the call's stored journal. Never blocks on plugin work. Call
    /// [`Self::admit`] for the callback first, and journal it ([`Self::accept`] does both).
    pub fn enqueue(&self, notification: CommsNotification, tenant: &str, seq: Option<u64>) {
        let shared = &self.shared;
        shared.metrics.notification();
        let Some(call_id) = notification.call_id().map(str::to_string) else {
            let resource = &notification.resource_url;
            let detail = "its resource URL names no call";
            shared
                .metrics
                .dropped("", resource, DropReason::NoCall, detail);
            return;
        };
        if let Some(entry) = shared.calls.get(&call_id) {
            // One journal per call, under the id in the form the call was registered with.
            calls::journal_notification(shared, &entry.call_id, &notification);
            if !entry.send(Work::Notification(notification, seq)) {
                let detail = "the call ended while the notification was queued";
                shared
                    .metrics
                    .dropped(&call_id, "", DropReason::CallEnded, detail);
                shared.settle(&entry.key, seq);
            }
            return;
        }
        if shared.calls.ended_lately(&call_id) {
            let (reason, detail) = if notification.is_incoming_call() {
                (
                    DropReason::IncomingCallRepeated,
                    "the incoming call was decided before",
                )
            } else {
                (DropReason::CallEnded, "the call already ended")
            };
            let resource = &notification.resource_url;
            shared.metrics.dropped(&call_id, resource, reason, detail);
            shared.settle(&crate::graph::id::id_key(&call_id), seq);
            return;
        }
        if notification.is_incoming_call() {
            self.start_incoming(call_id, notification, tenant, seq);
            return;
        }
        if shared.ownership.is_shared() {
            // Perhaps another instance's call: it is woken, and reads it from the journal.
            let shared = shared.clone();
            let tenant = tenant.to_owned();
            tokio::spawn(async move {
                let store = &shared.settings.store;
                let key = crate::graph::id::id_key(&call_id).into_owned();
                match store.owner(key.clone()).await {
                    Ok(Some(owner)) if owner != store.instance() => {
                        if let Err(e) = store.wake(key).await {
                            tracing::warn!(call_id, error = %e, "the call's owner could not be woken; its sweep finds the notification");
                        }
                    }
                    // The owner's lease may not be visible yet: held here, and left in the
                    // journal for the owner, which reads it when it claims the call.
                    _ => hold(&shared, &call_id, &tenant, notification, seq),
                }
            });
            return;
        }
        untracked(shared, &call_id, tenant, notification, seq);
    }

    /// Lets go of the leases of this instance's calls at once, so that other instances take
    /// them without waiting for them to lapse (a planned stop, after the queues drained).
    pub async fn hand_off(&self) {
        // Nothing more is done here for the calls, whatever is still woken for them.
        let calls = self.shared.calls.entries();
        for entry in &calls {
            entry.mark_lost();
            entry.send(Work::Lost);
        }
        let store = &self.shared.settings.store;
        match store.release(None).await {
            Ok(()) => {
                tracing::info!(
                    calls = calls.len(),
                    "leases released: other instances on the store take this one's calls now"
                )
            }
            Err(e) => {
                tracing::warn!(error = %e, "the leases of this instance's calls could not be released; other instances take the calls when they lapse")
            }
        }
    }

    /// Starts renewing leases (and, on a store shared with other instances, listening for
    /// wakes and sweeping for calls whose owner is gone). After [`Self::restore`].
    pub fn start_ownership(&self) {
        ownership::start(self);
    }

    /// Routes a new incoming call to its plugin. A call that no route or no loaded plugin can
    /// take still gets a decision: the route's fallback, or a busy reject without a route.
    /// The call's tenant is the token's: [`Self::admit`] refused a body that says otherwise.
    fn start_incoming(
        &self,
        call_id: String,
        notification: CommsNotification,
        tenant: &str,
        seq: Option<u64>,
    ) {
        let shared = &self.shared;
        let unknown = crate::graph::model::Call::default();
        let call = match &notification.data {
            ResourceData::Call(call) => call.as_ref(),
            // The resource is missing or did not parse: the call is ringing all the same.
            _ => &unknown,
        };
        let incoming = crate::graph::notification::incoming_call(call);
        let call_tenant = Some(tenant.to_string());
        if shared.calls.len() >= shared.settings.limits.max_calls {
            tracing::warn!(
                call_id,
                max_calls = shared.settings.limits.max_calls,
                "too many calls in progress (calls.max_calls); rejecting the incoming call as busy"
            );
            self.decide_without_plugin(
                call_id,
                call_tenant,
                Fallback::default(),
                &notification,
                seq,
            );
            return;
        }
        let routes = shared.routes.load();
        let Some(route) = router::select(&routes, &incoming, call_tenant.as_deref()) else {
            tracing::warn!(call_id, caller = %incoming.caller.id, "no route matches this incoming call and there is no default route; rejecting it as busy");
            shared.metrics.unrouted();
            self.decide_without_plugin(
                call_id,
                call_tenant,
                Fallback::default(),
                &notification,
                seq,
            );
            return;
        };
        let Some(version) = shared.plugins.current(&route.plugin) else {
            tracing::error!(call_id, plugin = %route.plugin, fallback = route.fallback.name(), "the route names a plugin that is not loaded; applying the route's fallback");
            shared.metrics.fallback();
            let fallback = route.fallback.clone();
            self.decide_without_plugin(call_id, call_tenant, fallback, &notification, seq);
            return;
        };
        shared.calls.register(
            self.shared.clone(),
            NewCall {
                call_id,
                version,
                route: Some(route),
                direction: CallDirection::Incoming,
                tenant_id: call_tenant,
                created_by_plugin: false,
            },
            Some(Work::Notification(notification, seq)),
        );
    }

    /// Decides on an incoming call no plugin can take: rejects or redirects it. An announce
    /// needs a call to follow, so without a plugin it becomes a busy reject.
    fn decide_without_plugin(
        &self,
        call_id: String,
        tenant: Option<String>,
        fallback: Fallback,
        notification: &CommsNotification,
        seq: Option<u64>,
    ) {
        let fallback = match fallback {
            Fallback::Announce(_) => Fallback::default(),
            other => other,
        };
        calls::journal_notification(&self.shared, &call_id, notification);
        // Decided once: the same call notified again is not a new call.
        let key = crate::graph::id::id_key(&call_id).into_owned();
        self.shared.calls.remember_ended(&key);
        let graph = self.shared.graph.clone();
        let shared = self.shared.clone();
        let record = crate::storage::CallRecord {
            call_id: key,
            graph_id: call_id.clone(),
            tenant_id: tenant.clone().unwrap_or_default(),
            direction: "incoming".into(),
            route: None,
            plugin: HOST_ORIGIN.into(),
            plugin_version: String::new(),
            state: "incoming".into(),
            my_participant_id: None,
            callback_uri: None,
            created_by_plugin: false,
            created_at_ms: crate::storage::now_ms(),
            last_keepalive_ms: None,
            ended_at_ms: Some(crate::storage::now_ms()),
            end_reason: Some(format!("decided without a plugin: {}", fallback.name())),
        };
        tokio::spawn(async move {
            // Stored as decided before the decision is sent: a restart does not decide again.
            let store = &shared.settings.store;
            let stored = async {
                store.save_call(record.clone()).await?;
                if let Some(seq) = seq {
                    store
                        .handled(record.call_id.clone(), seq, Vec::new())
                        .await?;
                }
                Ok::<_, crate::storage::StoreError>(())
            };
            if let Err(e) = stored.await {
                tracing::warn!(call_id, error = %e, "the decision on the incoming call could not be stored; it is sent all the same");
            }
            let origin = ActionOrigin {
                plugin_id: HOST_ORIGIN.into(),
                call_id: call_id.clone(),
                tenant_id: tenant,
            };
            if let Err(e) = graph
                .execute(&origin, fallback.first_action(&call_id))
                .await
            {
                tracing::error!(call_id, error = %e, "deciding on the incoming call failed");
            }
        });
    }

    /// Creates a call (join a meeting or place a call) owned by `plugin_id`, as the admin API
    /// does. The plugin's capability policy applies as it would to the plugin itself, unless
    /// `override_policy`. Returns the new call's id.
    pub async fn create_call(
        &self,
        plugin_id: &str,
        action: CallAction,
        override_policy: bool,
    ) -> Result<String, CallError> {
        let Some(version) = self.shared.plugins.current(plugin_id) else {
            return Err(CallError::InvalidArgument(format!(
                "no plugin `{plugin_id}` is loaded"
            )));
        };
        if !override_policy && let Err(reason) = version.info.policy.check(&action) {
            return Err(CallError::NotPermitted(format!(
                "plugin `{plugin_id}`'s policy: {reason}; the operator can override it with \"overridePolicy\": true"
            )));
        }
        control::create_call(&self.shared, version, action).await
    }

    /// Hangs up a call, as the admin API does.
    pub async fn hang_up(&self, call_id: &str) -> Result<(), CallError> {
        let entry = self.shared.calls.get(call_id).ok_or(CallError::NotFound)?;
        let origin = ActionOrigin {
            plugin_id: HOST_ORIGIN.into(),
            call_id: entry.call_id.clone(),
            tenant_id: entry.tenant_id(),
        };
        self.shared
            .graph
            .execute(
                &origin,
                CallAction::HangUp {
                    call_id: entry.call_id.clone(),
                },
            )
            .await
            .map(|_: ActionOutput| ())
    }

    /// The calls in progress.
    pub fn calls(&self) -> Vec<CallSummary> {
        self.shared.calls.summaries()
    }

    /// The journal of the calls: their timelines and notifications.
    pub fn journal(&self) -> &Arc<dyn CallJournal> {
        &self.shared.settings.journal
    }

    /// Routes new incoming calls by `routes` from now on; calls in progress keep theirs.
    pub fn set_routes(&self, routes: Vec<Route>) {
        let routes = routes.into_iter().map(Arc::new).collect();
        self.shared.routes.store(Arc::new(routes));
    }

    /// The plugins and their versions.
    pub fn plugins(&self) -> &PluginRegistry {
        &self.shared.plugins
    }

    /// The state plugins keep per call and per plugin.
    pub fn state_store(&self) -> &Arc<dyn StateStore> {
        &self.shared.state
    }

    pub fn metrics(&self) -> MetricsSnapshot {
        self.shared.metrics.snapshot()
    }

    /// Tracks again the calls the store holds that had not ended, before the service
    /// turns ready; see `recovery`. Plugins must be loaded first.
    pub async fn restore(&self) -> Result<Restored, crate::storage::StoreError> {
        recovery::restore(self).await
    }

    /// The store behind the dispatcher.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.shared.settings.store
    }

    /// What other instances on the store announce ([`Store::announce`]), from now on.
    pub(crate) fn news(&self) -> tokio::sync::mpsc::UnboundedReceiver<String> {
        self.shared.news.subscribe()
    }

    /// Waits until every accepted notification has been handled, or `timeout` passed.
    /// Returns whether all were.
    pub async fn drain(&self, timeout: Duration) -> bool {
        self.shared.calls.drained(timeout).await
    }
}
