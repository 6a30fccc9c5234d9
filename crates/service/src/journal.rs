//! What happened on each call, as callhost saw it: every notification received, every plugin
//! invocation and every Graph request with its answer. The dispatcher and the Graph client
//! report to a [`CallJournal`]; the admin API serves a call's [`Timeline`] from it, and a
//! call's notifications export as a replayable JSON array of `commsNotifications` documents.

mod display;
mod memory;
mod record;

use std::time::Instant;

use serde::Deserialize;
use serde_json::Value;

pub use memory::MemoryJournal;
pub use record::{
    InvocationRecord, JournalRecord, Timeline, TimelineEntry, TimerChange, event_name,
};

/// Observes calls. Implementations must be cheap: they are called on every notification,
/// invocation and Graph request.
pub trait CallJournal: Send + Sync + std::fmt::Debug {
    /// Records something about `call_id` that started at `at`.
    fn record(&self, call_id: &str, at: Instant, record: JournalRecord);
    /// The call ended: nothing more will be recorded for it.
    fn call_ended(&self, call_id: &str);
    /// Everything recorded for the call, in the order it started; `None` for a call not (or no
    /// longer) kept.
    fn timeline(&self, call_id: &str) -> Option<Timeline>;

    /// The call's notifications as `commsNotifications` documents, in arrival order: what
    /// `callhost replay` takes.
    fn notifications(&self, call_id: &str) -> Option<Vec<Value>> {
        self.timeline(call_id).map(|t| t.notifications())
    }
}

/// The `[journal]` table: how much of the call history is kept in memory.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JournalConfig {
    /// Calls kept at most; when more arrive, the oldest ended call goes first, else the
    /// oldest call. Default 1000; 0 keeps nothing.
    pub max_calls: usize,
    /// How long an ended call stays, in seconds. Default 3600.
    pub keep_ended_s: u64,
    /// Entries kept per call; later ones are only counted. Default 5000.
    pub max_entries_per_call: usize,
    /// Bytes kept per call (about: the size of its entries as JSON); later entries are only
    /// counted. Default 4 MiB.
    pub max_bytes_per_call: usize,
    /// Bytes kept for all calls together; past it the oldest ended call goes, else the
    /// oldest call. Default 256 MiB.
    pub max_bytes: usize,
}

impl Default for JournalConfig {
    fn default() -> Self {
        Self {
            max_calls: 1000,
            keep_ended_s: 3600,
            max_entries_per_call: 5000,
            max_bytes_per_call: 4 << 20,
            max_bytes: 256 << 20,
        }
    }
}
