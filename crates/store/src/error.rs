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
    #[error("call {call_id} has no journal entry {seq}")]
    UnknownEntry { call_id: String, seq: u64 },
    #[error("the store is closed")]
    Closed,
}

impl StoreError {
    pub(crate) fn data_dir(path: &std::path::Path, error: &std::io::Error) -> Self {
        StoreError::DataDir {
            path: path.to_path_buf(),
            detail: error.to_string(),
        }
    }
}
