//! What the service keeps in its [`Store`] so that calls outlive the process: each accepted
//! notification, journaled before its callback is answered (`ingest`); the plugins' state,
//! committed with the marker of the entry whose handling wrote it (`state`); the intents of
//! Graph requests that must not be sent twice (`intents`); and, on start, the calls that had
//! not ended, restored before the service turns ready (`recovery`).

mod config;
pub mod history;
mod ingest;
mod intents;
mod state;

use std::sync::Arc;

pub use callhost_store::{
    Appended, CallRecord, Entry, Heard, MemoryStore, NewEntry, SqliteStore, StateWrite, Store,
    StoreError, Synchronous, call_scope, now_ms, plugin_scope,
};
pub use config::{StorageConfig, StorageEngine};
pub(crate) use ingest::{Journaled, journal};
pub(crate) use intents::{Prior, decode_result, encode_result};
pub(crate) use state::DurableState;

/// The store of a service built in code: everything in memory.
pub fn memory_store() -> Arc<dyn Store> {
    Arc::new(MemoryStore::default())
}
