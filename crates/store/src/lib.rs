//! Where callhost keeps what must outlive a process: the calls in progress, each call's journal
//! of notifications (appended before a callback is acknowledged), the marker of what its worker
//! has handled, call- and plugin-scoped state, and the component bytes of pinned plugin
//! versions.
//!
//! One [`Store`] trait, engines behind it: [`SqliteStore`] (one file under a data directory,
//! WAL, group commit on one writer thread) is the embedded default; [`MemoryStore`] keeps
//! everything in the process for unit tests and the simulator. Every engine passes the same
//! test suite (`conformance`), and the schema is one set of versioned migrations
//! (`migrations/`) written in SQL that PostgreSQL speaks too.

mod error;
mod memory;
mod record;
mod sqlite;

#[cfg(test)]
mod conformance;

use futures::future::BoxFuture;

pub use error::StoreError;
pub use memory::MemoryStore;
pub use record::{Appended, CallRecord, Entry, NewEntry, StateWrite, component_hash};
pub use sqlite::{SqliteStore, StoreStats};

/// What callhost stores, whatever the engine.
pub trait Store: Send + Sync + 'static {
    /// Appends `entries` to their calls' journals, in order, in one commit: each gets the next
    /// sequence number of its call, unless its call already has an entry with its dedupe key
    /// (then it is [`Appended::Duplicate`] and nothing is written). Resolves once the commit
    /// is durable.
    fn append(&self, entries: Vec<NewEntry>) -> BoxFuture<'_, Result<Vec<Appended>, StoreError>>;

    /// The journal entries of `call_id` after sequence number `after`, in order.
    fn entries(&self, call_id: String, after: u64)
    -> BoxFuture<'_, Result<Vec<Entry>, StoreError>>;

    /// Creates or replaces a call's record (all but its handled marker, which only
    /// [`Store::handled`] moves).
    fn save_call(&self, call: CallRecord) -> BoxFuture<'_, Result<(), StoreError>>;

    fn call(&self, call_id: String) -> BoxFuture<'_, Result<Option<CallRecord>, StoreError>>;

    /// Calls not ended, oldest first.
    fn live_calls(&self) -> BoxFuture<'_, Result<Vec<CallRecord>, StoreError>>;

    /// Marks entry `seq` of `call_id` handled and applies `writes`, in one transaction.
    /// `false` (and nothing written) when `seq` was handled before: a worker that replays an
    /// entry after a restart cannot apply its effects twice.
    fn handled(
        &self,
        call_id: String,
        seq: u64,
        writes: Vec<StateWrite>,
    ) -> BoxFuture<'_, Result<bool, StoreError>>;

    /// Records that the call ended, at `at_ms` (Unix milliseconds), and why.
    fn end_call(
        &self,
        call_id: String,
        at_ms: i64,
        reason: String,
    ) -> BoxFuture<'_, Result<(), StoreError>>;

    /// A state value: `scope` is `call/<call id>/<plugin>` or `plugin/<plugin>`.
    fn state(
        &self,
        scope: String,
        key: String,
    ) -> BoxFuture<'_, Result<Option<Vec<u8>>, StoreError>>;

    /// Stores a component's bytes under their hash ([`component_hash`]), once; the hash.
    fn put_component(&self, bytes: Vec<u8>) -> BoxFuture<'_, Result<String, StoreError>>;

    fn component(&self, hash: String) -> BoxFuture<'_, Result<Option<Vec<u8>>, StoreError>>;
}
