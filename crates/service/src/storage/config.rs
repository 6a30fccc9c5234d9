//! The `[storage]` table: which engine keeps the calls, and where.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::{MemoryStore, SqliteStore, Store, StoreError, Synchronous};

/// The `[storage]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `sqlite` (the default: one file under `data_dir`) or `memory` (nothing survives the
    /// process; for tests and local simulation).
    pub engine: StorageEngine,
    /// The directory of the SQLite database, resolved against the configuration file's
    /// directory. Default `.callhost/data` beside it. One process at a time uses it.
    pub data_dir: Option<PathBuf>,
    /// When SQLite counts a commit as stored: `full` (the default: synced to the disk before
    /// the callback is answered) or `normal` (handed to the operating system; survives
    /// callhost crashing, not a power cut).
    pub sync: Synchronous,
    /// How long an ended call (its record, journal, intents and call state) is kept for the
    /// admin API's history, in hours. Default 24.
    pub keep_ended_hours: f64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            engine: StorageEngine::Sqlite,
            data_dir: None,
            sync: Synchronous::Full,
            keep_ended_hours: 24.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageEngine {
    Sqlite,
    Memory,
}

impl StorageConfig {
    /// Everything in memory: what a service built in code uses unless told otherwise.
    pub fn in_memory() -> Self {
        Self {
            engine: StorageEngine::Memory,
            ..Self::default()
        }
    }

    /// Opens the configured engine; `data_dir` is the resolved data directory.
    pub fn open(&self, data_dir: &Path) -> Result<Arc<dyn Store>, StoreError> {
        Ok(match self.engine {
            StorageEngine::Sqlite => Arc::new(SqliteStore::open_with(data_dir, self.sync)?),
            StorageEngine::Memory => Arc::new(MemoryStore::default()),
        })
    }

    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !(self.keep_ended_hours.is_finite() && self.keep_ended_hours > 0.0) {
            problems.push(format!(
                "storage.keep_ended_hours = {} must be a number of hours above 0",
                self.keep_ended_hours
            ));
        }
        problems
    }

    /// How long an ended call is kept.
    pub fn keep_ended(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.keep_ended_hours.clamp(0.0, 1e6) * 3600.0)
    }
}
