//! Why the store could not do what was asked; each names the file and the fix.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error(
        "data directory {path}: {detail}; create it, or set storage.data_dir to a directory callhost can write"
    )]
    DataDir { path: PathBuf, detail: String },
    #[error(
        "data directory {path} is in use by another callhost process (it holds {lock}); stop that process, or give this one a data_dir of its own"
    )]
    Locked { path: PathBuf, lock: PathBuf },
    #[error(
        "{path} is not a callhost database ({detail}); move it away, or set storage.data_dir to another directory"
    )]
    Foreign { path: PathBuf, detail: String },
    #[error(
        "{path} has schema version {found}, newer than this callhost knows ({known}); run a callhost release at least as new as the one that wrote it"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("the disk holding {path} is full; nothing more can be stored until space is freed")]
    Full { path: PathBuf },
    #[error("storage failed: {0}")]
    Engine(String),
    #[error(
        "PostgreSQL at {target} cannot be reached ({detail}); check that the server runs and that storage.postgres_url names it"
    )]
    Unavailable { target: String, detail: String },
    #[error("PostgreSQL at {target} refused the connection ({detail}); {fix}")]
    Refused {
        target: String,
        detail: String,
        fix: String,
    },
    #[error("a concurrent transaction conflicted: {0}")]
    Conflict(String),
    #[error("{0}")]
    Config(String),
    #[error("call {call_id} has no journal entry {seq}")]
    UnknownEntry { call_id: String, seq: u64 },
    #[error(
        "call {call_id} was taken over by another instance (this one held it at lease epoch {epoch}); nothing more is written or sent for it from here"
    )]
    Fenced { call_id: String, epoch: u64 },
    #[error("the store is closed")]
    Closed,
}

impl StoreError {
    /// Whether the engine failed (the transaction it ran in is lost), rather than the request
    /// being refused for a reason of its own.
    pub fn aborts_transaction(&self) -> bool {
        !matches!(
            self,
            StoreError::UnknownEntry { .. } | StoreError::Fenced { .. }
        )
    }

    /// Whether the request conflicted with another transaction: alone, it may succeed.
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict(_))
    }

    pub(crate) fn data_dir(path: &std::path::Path, error: &std::io::Error) -> Self {
        StoreError::DataDir {
            path: path.to_path_buf(),
            detail: error.to_string(),
        }
    }
}
