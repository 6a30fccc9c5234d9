//! Counters of the dispatcher.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use super::drops::{DropCounters, DropReason};

#[derive(Default)]
pub(crate) struct Metrics {
    notifications: AtomicU64,
    events: AtomicU64,
    invocations_failed: AtomicU64,
    fallbacks: AtomicU64,
    unrouted: AtomicU64,
    actions_denied: AtomicU64,
    dropped: DropCounters,
}

/// The counters at one moment.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Notifications accepted.
    pub notifications: u64,
    /// Events delivered to plugins.
    pub events: u64,
    /// Invocations that did not complete (failed, trapped, timed out, …).
    pub invocations_failed: u64,
    /// Incoming calls a route's fallback handled.
    pub fallbacks: u64,
    /// Incoming calls no route matched.
    pub unrouted: u64,
    /// Call-control requests refused by the requesting plugin's policy.
    pub actions_denied: u64,
    /// Notifications (or parts of them) that gave no plugin event, by reason
    /// (`stale-tone`, `duplicate-delivery`, …); reasons never seen are left out.
    pub dropped: BTreeMap<&'static str, u64>,
}

impl Metrics {
    pub(crate) fn notification(&self) {
        self.notifications.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn event(&self, completed: bool) {
        self.events.fetch_add(1, Ordering::Relaxed);
        if !completed {
            self.invocations_failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn fallback(&self) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn unrouted(&self) {
        self.unrouted.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn denied(&self, actions: u32) {
        if actions > 0 {
            self.actions_denied
                .fetch_add(u64::from(actions), Ordering::Relaxed);
        }
    }

    /// Logs a dropped notification at warn and counts it by reason.
    pub(crate) fn dropped(&self, call_id: &str, resource: &str, reason: DropReason, detail: &str) {
        super::drops::report(&self.dropped, call_id, resource, reason, detail);
    }

    pub(crate) fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            notifications: self.notifications.load(Ordering::Relaxed),
            events: self.events.load(Ordering::Relaxed),
            invocations_failed: self.invocations_failed.load(Ordering::Relaxed),
            fallbacks: self.fallbacks.load(Ordering::Relaxed),
            unrouted: self.unrouted.load(Ordering::Relaxed),
            actions_denied: self.actions_denied.load(Ordering::Relaxed),
            dropped: self.dropped.snapshot(),
        }
    }
}
