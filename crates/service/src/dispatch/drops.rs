//! Why a notification led to no plugin event. Every such notification is logged at warn with
//! its call and resource, and counted by reason.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Why a notification, or part of one, gave the workflow no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DropReason {
    /// Its URL names no call.
    NoCall,
    /// The same message (`X-Microsoft-Skype-Message-ID`) was delivered before.
    DuplicateDelivery,
    /// The call had already ended.
    CallEnded,
    /// The end of a call callhost does not track.
    UntrackedCall,
    /// Held for a call that was never registered, until it expired.
    OrphanExpired,
    /// Held for a call that was never registered, and pushed out by the orphan limits.
    OrphanOverflow,
    /// Over the call's event rate (`calls.events_per_second`, `calls.event_burst`).
    RateLimited,
    /// The incoming call was notified a second time.
    IncomingCallRepeated,
    /// A setup state (`establishing`) after the call was set up.
    StaleState,
    /// A key press whose sequence number is not newer than the last one.
    StaleTone,
    /// A tone that is not a DTMF key.
    UnknownTone,
    /// A roster older than the last one.
    StaleRoster,
    /// A roster with no change.
    RosterUnchanged,
    /// A second completion of one operation.
    OperationAlreadyCompleted,
}

impl DropReason {
    pub const ALL: [DropReason; 14] = [
        DropReason::NoCall,
        DropReason::DuplicateDelivery,
        DropReason::CallEnded,
        DropReason::UntrackedCall,
        DropReason::OrphanExpired,
        DropReason::OrphanOverflow,
        DropReason::RateLimited,
        DropReason::IncomingCallRepeated,
        DropReason::StaleState,
        DropReason::StaleTone,
        DropReason::UnknownTone,
        DropReason::StaleRoster,
        DropReason::RosterUnchanged,
        DropReason::OperationAlreadyCompleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::NoCall => "no-call",
            DropReason::DuplicateDelivery => "duplicate-delivery",
            DropReason::CallEnded => "call-ended",
            DropReason::UntrackedCall => "untracked-call",
            DropReason::OrphanExpired => "orphan-expired",
            DropReason::OrphanOverflow => "orphan-overflow",
            DropReason::RateLimited => "rate-limited",
            DropReason::IncomingCallRepeated => "incoming-call-repeated",
            DropReason::StaleState => "stale-state",
            DropReason::StaleTone => "stale-tone",
            DropReason::UnknownTone => "unknown-tone",
            DropReason::StaleRoster => "stale-roster",
            DropReason::RosterUnchanged => "roster-unchanged",
            DropReason::OperationAlreadyCompleted => "operation-already-completed",
        }
    }

    fn index(self) -> usize {
        Self::ALL
            .iter()
            .position(|r| *r == self)
            .expect("every reason is in ALL")
    }
}

/// Dropped notifications counted by reason.
#[derive(Default)]
pub(crate) struct DropCounters([AtomicU64; DropReason::ALL.len()]);

impl DropCounters {
    pub(crate) fn count(&self, reason: DropReason) {
        self.0[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Every reason with a count above zero, by name.
    pub(crate) fn snapshot(&self) -> std::collections::BTreeMap<&'static str, u64> {
        DropReason::ALL
            .iter()
            .map(|r| (r.as_str(), self.0[r.index()].load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

/// Logs a drop at warn and counts it.
pub(crate) fn report(
    counters: &DropCounters,
    call_id: &str,
    resource: &str,
    reason: DropReason,
    detail: &str,
) {
    counters.count(reason);
    tracing::warn!(
        call_id,
        resource,
        reason = reason.as_str(),
        detail,
        "notification dropped: it gives the workflow no event"
    );
}
