//! Where callhost keeps what must outlive a process: the calls in progress, each call's journal
//! of notifications (appended before a callback is acknowledged), the marker of what its worker
//! has handled, call- and plugin-scoped state, and the component bytes of pinned plugin
//! versions.
//!
//! One [`Store`] trait, engines behind it: [`SqliteStore`] (one file under a data directory,
//! WAL, group commit on one writer thread) is the embedded default; [`PostgresStore`] is one
//! database shared by many instances; [`MemoryStore`] keeps everything in the process for unit
//! tests and the simulator. Every engine passes the same
//! test suite (`conformance`), and the schema is one set of versioned migrations
//! (`migrations/`) written in SQL that PostgreSQL speaks too.

mod error;
mod leases;
mod memory;
mod postgres;
mod record;
mod sqlite;
pub mod testing;

#[cfg(test)]
mod conformance;

use futures::future::BoxFuture;

pub use error::StoreError;
pub use leases::{Held, Sweep};
pub use memory::MemoryStore;
pub use postgres::{PostgresOptions, PostgresStore};
pub use record::{
    Appended, CallRecord, Entry, Intent, IntentRecord, NewEntry, StateEntry, StateSwap, StateWrite,
    Swapped, component_hash,
};
pub use sqlite::{SqliteStore, StoreStats, Synchronous};

/// The schema migrations, in order; a database records those applied.
pub(crate) const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_initial.sql")),
    (2, include_str!("../migrations/0002_leases.sql")),
    (3, include_str!("../migrations/0003_state_revisions.sql")),
    (4, include_str!("../migrations/0004_news.sql")),
];

/// What an instance hears from the others ([`Store::wakes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// The call has new journal entries.
    Wake(String),
    /// Wakes may have been missed (the connection was lost): every call should look at its
    /// journal.
    Missed,
    /// News from another instance ([`Store::announce`]).
    News(String),
}

/// The keys and values of one state scope.
pub type StateValues = Vec<(String, Vec<u8>)>;

/// What callhost stores, whatever the engine.
///
/// Every request is placed when its method is called, not when its future is first polled,
/// and requests commit in the order they were placed: a caller that does not need to wait
/// for a write (its result, [`Store::finish_intent`]; a call's record, [`Store::save_call`])
/// can go on at once and still knows that what it asks next commits no earlier.
///
/// A store handle is one instance of callhost ([`Store::instance`]). Calls are owned by lease
/// ([`Store::claim`]): while this instance holds a call, every write it makes for the call
/// (its record, handled markers with their state writes, intents, keepAlives, its end) checks
/// in the write's own transaction that the lease is still this instance's at the epoch it
/// claimed, and fails with [`StoreError::Fenced`] once another instance took the call.
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// The instance this handle writes as: the owner of the leases it claims.
    fn instance(&self) -> &str;

    /// Takes the lease of `call_id` for `ttl_ms` when it is free, lapsed or this instance's
    /// already: its epoch, which grows when the call changes owner. `None` when another
    /// instance holds it and it has not lapsed.
    fn claim(
        &self,
        call_id: String,
        ttl_ms: i64,
    ) -> BoxFuture<'static, Result<Option<u64>, StoreError>>;

    /// Extends every lease this instance holds by `ttl_ms` from now; the calls it held and
    /// does not any more (another instance took them): it must stop handling those.
    fn renew(&self, ttl_ms: i64) -> BoxFuture<'static, Result<Vec<String>, StoreError>>;

    /// Lets go of the leases of `call_ids` (every lease of this instance when `None`) at once:
    /// other instances may claim them without waiting for them to lapse.
    fn release(&self, call_ids: Option<Vec<String>>) -> BoxFuture<'static, Result<(), StoreError>>;

    /// The instance holding the call's lease, unless it lapsed.
    fn owner(&self, call_id: String) -> BoxFuture<'static, Result<Option<String>, StoreError>>;

    /// Tells the instance that owns the call that it has new journal entries. Engines of one
    /// process have nobody to tell.
    fn wake(&self, call_id: String) -> BoxFuture<'static, Result<(), StoreError>>;

    /// Tells every other instance `news` (a plugin version put in service, …). Engines of one
    /// process have nobody to tell.
    fn announce(&self, news: String) -> BoxFuture<'static, Result<(), StoreError>>;

    /// What other instances tell this one, as it comes: the calls woken for it
    /// ([`Store::wake`]) and their news ([`Store::announce`]). `None` for engines of one
    /// process.
    fn wakes(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<Heard>>;

    /// What needs an owner's attention: live calls whose lease lapsed or that have none, and
    /// calls of this instance with entries received before `quiet_before_ms` still not
    /// handled (their wake was missed).
    fn sweep(&self, quiet_before_ms: i64) -> BoxFuture<'static, Result<Sweep, StoreError>>;

    /// Appends `entries` to their calls' journals, in order, in one commit: each gets the next
    /// sequence number of its call, unless its call already has an entry with its dedupe key
    /// (then it is [`Appended::Duplicate`] and nothing is written). Resolves once the commit
    /// is durable.
    fn append(&self, entries: Vec<NewEntry>) -> BoxFuture<'_, Result<Vec<Appended>, StoreError>>;

    /// The journal entries of `call_id` after sequence number `after`, in order.
    fn entries(&self, call_id: String, after: u64)
    -> BoxFuture<'_, Result<Vec<Entry>, StoreError>>;

    /// Creates or replaces a call's record.
    fn save_call(&self, call: CallRecord) -> BoxFuture<'static, Result<(), StoreError>>;

    fn call(&self, call_id: String) -> BoxFuture<'_, Result<Option<CallRecord>, StoreError>>;

    /// Calls not ended, oldest first.
    fn live_calls(&self) -> BoxFuture<'_, Result<Vec<CallRecord>, StoreError>>;

    /// Marks entry `seq` of `call_id` handled and applies `writes`, in one transaction.
    /// `false` (and nothing written) when the entry was handled before: a worker that replays
    /// an entry after a restart cannot apply its effects twice.
    fn handled(
        &self,
        call_id: String,
        seq: u64,
        writes: Vec<StateWrite>,
    ) -> BoxFuture<'_, Result<bool, StoreError>>;

    /// Applies state writes that belong to no journal entry (work the host made itself).
    fn write_state(&self, writes: Vec<StateWrite>) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Records that the call ended, at `at_ms` (Unix milliseconds), and why. Its journal is
    /// over: every entry counts as handled, and so does every entry appended after.
    fn end_call(
        &self,
        call_id: String,
        at_ms: i64,
        reason: String,
    ) -> BoxFuture<'_, Result<(), StoreError>>;

    /// A state value with its revision: `scope` is `call/<call id>/<plugin>` or
    /// `plugin/<plugin>`.
    fn state(
        &self,
        scope: String,
        key: String,
    ) -> BoxFuture<'_, Result<Option<StateEntry>, StoreError>>;

    /// Writes (or deletes) one state value at once, only if its revision is still
    /// `swap.expected` (0: the key must be missing). The write is fenced by `swap.call_id`'s
    /// lease when this instance holds it.
    fn swap_state(&self, swap: StateSwap) -> BoxFuture<'static, Result<Swapped, StoreError>>;

    /// Stores a component's bytes under their hash ([`component_hash`]), once; the hash.
    fn put_component(&self, bytes: Vec<u8>) -> BoxFuture<'_, Result<String, StoreError>>;

    fn component(&self, hash: String) -> BoxFuture<'_, Result<Option<Vec<u8>>, StoreError>>;

    /// Every key and value of a state scope, for loading it into memory.
    fn state_scope(&self, scope: String) -> BoxFuture<'_, Result<StateValues, StoreError>>;

    /// Records that a keepAlive for the call succeeded at `at_ms`.
    fn keepalive(&self, call_id: String, at_ms: i64) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Writes the intent unless one with its call, `seq` and `idx` exists; the existing one
    /// then (the request was made before a restart, and its result may be unknown).
    fn begin_intent(
        &self,
        intent: Intent,
    ) -> BoxFuture<'_, Result<Option<IntentRecord>, StoreError>>;

    /// Records what the intent's request got.
    fn finish_intent(
        &self,
        call_id: String,
        seq: u64,
        idx: u32,
        result: String,
    ) -> BoxFuture<'static, Result<(), StoreError>>;

    /// The intents of a call, in order.
    fn intents(&self, call_id: String) -> BoxFuture<'_, Result<Vec<IntentRecord>, StoreError>>;

    /// Ended calls, the most recently ended first, at most `limit`.
    fn ended_calls(&self, limit: usize) -> BoxFuture<'_, Result<Vec<CallRecord>, StoreError>>;

    /// Unhandled journal entries received since `since_ms` for calls that have no record:
    /// notifications accepted for a call that was not registered yet, in the order received.
    fn unowned_entries(
        &self,
        since_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<(String, Entry)>, StoreError>>;

    /// Forgets calls that ended before `ended_before_ms` (their journals, intents and call
    /// state with them) and journal entries of calls without a record received before it.
    /// Returns the number of calls forgotten.
    fn prune(&self, ended_before_ms: i64) -> BoxFuture<'_, Result<u64, StoreError>>;
}

/// Now, in Unix milliseconds, as the store keeps times.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A revision for a state write: a random positive number, never 0 (the revision of a missing
/// key). Random rather than counted, so that a key deleted and written again cannot get a
/// revision a reader still holds, in any engine and across instances.
pub(crate) fn fresh_revision() -> i64 {
    ((unique_random() >> 1) as i64).max(1)
}

/// A random number that no other call of this function returns, in this process or (but for
/// a 2^-64 chance) another: for revisions and timer generations.
pub fn unique_random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // The hasher's keys are random per process; the counter makes each value unique in it.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_i64(now_ms());
    hasher.finish()
}

/// The scope of one call's state of one plugin.
pub fn call_scope(call_id: &str, plugin: &str) -> String {
    format!("call/{call_id}/{plugin}")
}

/// The scope of a plugin's state shared by its calls.
pub fn plugin_scope(plugin: &str) -> String {
    format!("plugin/{plugin}")
}
