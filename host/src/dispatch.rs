//! From notifications to plugin invocations: one ordered queue per call (events of a call are
//! handled in arrival order, calls run concurrently), routing of new calls, decision budgets
//! and fallbacks, keep-alives, and release of a call's state when it ends.

mod calls;
mod control;
mod fallback;
mod keepalive;
mod metrics;
mod router;
pub(crate) mod tracker;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

pub use calls::CallSummary;
pub use control::PluginControl;
pub use fallback::Fallback;
pub use metrics::MetricsSnapshot;
pub use router::Route;
pub use tracker::CallTracker;

use crate::call::{ActionOrigin, ActionOutput, CallAction, CallControl, CallDirection, CallError};
use crate::graph::notification::{CommsNotification, ResourceData, ResourceTarget};
use crate::journal::{CallJournal, JournalConfig, JournalRecord, MemoryJournal};
use crate::plugins::PluginRegistry;
use crate::runtime::{Runtime, StateStore};
use calls::{CallRegistry, NewCall, Work};
use metrics::Metrics;

/// Graph ends calls that get no keepAlive within 45 minutes; every 15 is recommended.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// Notifications for a call not known yet (its create request has not returned) are held
/// this long for it.
pub const ORPHAN_TTL: Duration = Duration::from_secs(15);
/// The id actions of the host itself (fallbacks, keep-alives) are made under.
pub const HOST_ORIGIN: &str = "callhost";

/// Settings of the dispatcher.
#[derive(Debug, Clone)]
pub struct DispatcherSettings {
    pub bot_app_id: String,
    pub keepalive_interval: Duration,
    /// Where notifications and plugin invocations are recorded, per call.
    pub journal: Arc<dyn CallJournal>,
}

impl DispatcherSettings {
    pub fn new(bot_app_id: impl Into<String>) -> Self {
        Self {
            bot_app_id: bot_app_id.into(),
            keepalive_interval: KEEPALIVE_INTERVAL,
            journal: Arc::new(MemoryJournal::new(JournalConfig::default())),
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
    /// Carries out actions without ownership or policy checks (the Graph client).
    pub(crate) graph: Arc<dyn CallControl>,
    pub(crate) metrics: Metrics,
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
        Self {
            shared: Arc::new(Shared {
                settings,
                runtime,
                plugins,
                routes: ArcSwap::from_pointee(routes.into_iter().map(Arc::new).collect()),
                calls: CallRegistry::default(),
                state,
                graph,
                metrics: Metrics::default(),
            }),
        }
    }

    /// Queues one notification for its call. Never blocks on plugin work.
    pub fn enqueue(&self, notification: CommsNotification, tenant: Option<&str>) {
        let shared = &self.shared;
        shared.metrics.notification();
        let Some(call_id) = notification.call_id().map(str::to_string) else {
            tracing::warn!(resource = %notification.resource_url, "notification names no call; dropped");
            return;
        };
        shared.settings.journal.record(
            &call_id,
            std::time::Instant::now(),
            JournalRecord::Notification {
                body: crate::journal::notification_envelope(&notification),
            },
        );
        if let Some(entry) = shared.calls.get(&call_id) {
            entry.send(Work::Notification(notification));
            return;
        }
        if is_new_incoming_call(&notification) {
            self.start_incoming(call_id, notification, tenant);
            return;
        }
        if notification.change_type == crate::call::ChangeType::Deleted {
            tracing::debug!(
                call_id,
                "end of a call callhost does not track; nothing to do"
            );
            return;
        }
        tracing::debug!(
            call_id,
            "notification for a call not registered yet; holding it"
        );
        shared
            .calls
            .hold_orphan(call_id, Work::Notification(notification));
    }

    fn start_incoming(
        &self,
        call_id: String,
        notification: CommsNotification,
        tenant: Option<&str>,
    ) {
        let shared = &self.shared;
        let ResourceData::Call(call) = &notification.data else {
            return;
        };
        let incoming = crate::graph::notification::incoming_call(call);
        let call_tenant = call
            .tenant_id()
            .map(str::to_string)
            .or(tenant.map(str::to_string));
        let routes = shared.routes.load();
        let Some(route) = router::select(&routes, &incoming, call_tenant.as_deref()) else {
            tracing::warn!(call_id, caller = %incoming.caller.id, "no route matches this incoming call and there is no default route; Graph will drop it");
            shared.metrics.unrouted();
            return;
        };
        let Some(version) = shared.plugins.current(&route.plugin) else {
            tracing::error!(call_id, plugin = %route.plugin, "route names a plugin that is not loaded");
            return;
        };
        let entry = shared.calls.register(
            self.shared.clone(),
            NewCall {
                call_id,
                version,
                route: Some(route),
                direction: CallDirection::Incoming,
                tenant_id: call_tenant,
                created_by_plugin: false,
            },
        );
        entry.send(Work::Notification(notification));
    }

    /// Creates a call (join a meeting or place a call) owned by `plugin_id`, as the admin API
    /// does. Returns the new call's id.
    pub async fn create_call(
        &self,
        plugin_id: &str,
        action: CallAction,
    ) -> Result<String, CallError> {
        let Some(version) = self.shared.plugins.current(plugin_id) else {
            return Err(CallError::InvalidArgument(format!(
                "no plugin `{plugin_id}` is loaded"
            )));
        };
        control::create_call(&self.shared, version, action).await
    }

    /// Hangs up a call, as the admin API does.
    pub async fn hang_up(&self, call_id: &str) -> Result<(), CallError> {
        let entry = self.shared.calls.get(call_id).ok_or(CallError::NotFound)?;
        let origin = ActionOrigin {
            plugin_id: HOST_ORIGIN.into(),
            call_id: call_id.into(),
            tenant_id: entry.tenant_id(),
        };
        self.shared
            .graph
            .execute(
                &origin,
                CallAction::HangUp {
                    call_id: call_id.into(),
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

    /// Waits until every accepted notification has been handled, or `timeout` passed.
    /// Returns whether all were.
    pub async fn drain(&self, timeout: Duration) -> bool {
        self.shared.calls.drained(timeout).await
    }
}

fn is_new_incoming_call(notification: &CommsNotification) -> bool {
    matches!(notification.target, ResourceTarget::Call { .. })
        && notification.change_type == crate::call::ChangeType::Created
        && matches!(&notification.data, ResourceData::Call(call)
            if call.state().is_none_or(|s| s == crate::call::CallState::Incoming))
}
