//! The records a store keeps.

use sha2::{Digest, Sha256};

/// A notification to append to its call's journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    pub call_id: String,
    /// What makes a repeat recognisable (Graph's message id, a tone's sequence id, an
    /// operation and its status); `None` when nothing does, then every copy is stored.
    pub dedupe_key: Option<String>,
    /// Unix milliseconds.
    pub received_at_ms: i64,
    /// The notification as a `commsNotifications` document of its own.
    pub body: Vec<u8>,
}

/// What [`crate::Store::append`] did with one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Stored as entry `seq` of its call.
    Stored { seq: u64 },
    /// Its call already has entry `seq` with the same dedupe key; nothing was written.
    Duplicate { seq: u64 },
}

/// One journal entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub dedupe_key: Option<String>,
    pub received_at_ms: i64,
    pub body: Vec<u8>,
}

/// A call as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub call_id: String,
    pub tenant_id: String,
    /// `incoming` or `outgoing`.
    pub direction: String,
    pub route: Option<String>,
    pub plugin: String,
    /// The hash of the component the call is pinned to.
    pub plugin_version: String,
    pub state: String,
    pub my_participant_id: Option<String>,
    pub callback_uri: Option<String>,
    pub created_by_plugin: bool,
    pub created_at_ms: i64,
    pub last_keepalive_ms: Option<i64>,
    pub ended_at_ms: Option<i64>,
    pub end_reason: Option<String>,
    /// The highest journal entry handled; only [`crate::Store::handled`] moves it.
    pub handled_seq: u64,
}

/// A state write committed with a handled marker: `None` deletes the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateWrite {
    pub scope: String,
    pub key: String,
    pub value: Option<Vec<u8>>,
}

/// The content address of a component: SHA-256 of its bytes, in hex.
pub fn component_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
