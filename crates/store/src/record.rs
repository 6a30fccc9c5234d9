//! The records a store keeps.

use sha2::{Digest, Sha256};

/// A notification to append to its call's journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    pub call_id: String,
    /// What makes a repeat recognisable (Graph's message id, a tone's sequence id, an
    /// operation and its status); `None` when nothing does, then every copy is stored.
    pub dedupe_key: Option<String>,
    /// The tenant of the callback's verified token.
    pub tenant_id: String,
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
    /// Whether the call's worker handled it ([`crate::Store::handled`]).
    pub handled: bool,
    pub dedupe_key: Option<String>,
    pub tenant_id: String,
    pub received_at_ms: i64,
    pub body: Vec<u8>,
}

/// A call as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    /// The key the call is stored under (and its journal entries name).
    pub call_id: String,
    /// The id as Graph and the workflow write it.
    pub graph_id: String,
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
}

/// A state write committed with a handled marker: `None` deletes the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateWrite {
    pub scope: String,
    pub key: String,
    pub value: Option<Vec<u8>>,
}

/// A state value as stored, with its revision: a number that changes with every write of the
/// key (never 0, which stands for a missing key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateEntry {
    pub value: Vec<u8>,
    pub revision: u64,
}

impl StateEntry {
    /// `value` at a new revision.
    pub(crate) fn fresh(value: Vec<u8>) -> Self {
        Self {
            value,
            revision: crate::fresh_revision() as u64,
        }
    }
}

/// A compare-and-swap of one state value ([`crate::Store::swap_state`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateSwap {
    /// The call whose event makes the write: its lease fences it.
    pub call_id: String,
    pub scope: String,
    pub key: String,
    /// The revision the writer read; 0 when it found no value.
    pub expected: u64,
    /// The new value; `None` deletes the key.
    pub value: Option<Vec<u8>>,
}

/// What a compare-and-swap did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swapped {
    /// Written; the value's new revision (0 after a delete).
    Done { revision: u64 },
    /// Nothing written: the value is at another revision now (0: missing).
    Conflict { revision: u64 },
}

/// A Graph request about to be sent: request `idx` made while handling entry `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    pub call_id: String,
    pub seq: u64,
    pub idx: u32,
    /// The request's name (`answer`, `playPrompt`, …).
    pub action: String,
    pub started_at_ms: i64,
}

/// An intent as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentRecord {
    pub seq: u64,
    pub idx: u32,
    pub action: String,
    /// What Graph answered, as the service wrote it; `None` while unknown.
    pub result: Option<String>,
}

/// The content address of a component: SHA-256 of its bytes, in hex.
pub fn component_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
