//! The `[storage]` table: which engine keeps the calls, and where.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::{MemoryStore, SqliteStore, Store, StoreError, Synchronous};
use callhost_store::{PostgresOptions, PostgresStore};

/// The variable that holds the PostgreSQL password, kept out of configuration files.
pub const POSTGRES_PASSWORD_VAR: &str = "CALLHOST_POSTGRES_PASSWORD";

/// The `[storage]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `sqlite` (the default: one file under `data_dir`), `postgres` (one database shared by
    /// every instance of a deployment, at `postgres_url`) or `memory` (nothing survives the
    /// process; for tests and local simulation).
    pub engine: StorageEngine,
    /// The PostgreSQL database, as `postgres://USER@HOST:PORT/DATABASE` (options such as
    /// `?connect_timeout=5` allowed). The password comes from `CALLHOST_POSTGRES_PASSWORD`.
    /// TLS is used when the server offers it (`sslmode=require` or `verify-full`: always;
    /// `sslmode=disable`: never), and the server's certificate is always verified.
    pub postgres_url: Option<String>,
    /// A PEM file of the CA certificates that sign the PostgreSQL server's certificate (a
    /// managed database's CA bundle), trusted besides the Mozilla roots; resolved against the
    /// configuration file's directory. With it, TLS is required.
    pub postgres_ca_file: Option<PathBuf>,
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
    /// How long an instance's hold on a call lasts unless renewed (every third of it), in
    /// seconds. With PostgreSQL, the calls of an instance that died are taken over by the
    /// others after about this long. Default 5.
    pub lease_seconds: f64,
    /// The name this instance holds its calls' leases under, unique among the instances
    /// sharing a PostgreSQL database. Default: the host name, the process id and a random
    /// part, so that a restarted process is a new owner.
    pub instance_id: Option<String>,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            engine: StorageEngine::Sqlite,
            data_dir: None,
            postgres_url: None,
            postgres_ca_file: None,
            sync: Synchronous::Full,
            keep_ended_hours: 24.0,
            lease_seconds: 5.0,
            instance_id: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageEngine {
    Sqlite,
    Postgres,
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
    pub async fn open(&self, data_dir: &Path) -> Result<Arc<dyn Store>, StoreError> {
        Ok(match self.engine {
            StorageEngine::Sqlite => Arc::new(SqliteStore::open_with(data_dir, self.sync)?),
            StorageEngine::Postgres => Arc::new(PostgresStore::open(&self.postgres()?).await?),
            StorageEngine::Memory => Arc::new(MemoryStore::default()),
        })
    }

    /// Where the PostgreSQL engine connects, with the password from the environment.
    fn postgres(&self) -> Result<PostgresOptions, StoreError> {
        let url = self.postgres_url.as_deref().ok_or_else(|| {
            StoreError::Config(
                "storage.engine = \"postgres\" needs storage.postgres_url = \"postgres://USER@HOST:PORT/DATABASE\"".into(),
            )
        })?;
        let password = std::env::var(POSTGRES_PASSWORD_VAR).ok();
        let mut options = PostgresOptions::new(url, password.as_deref())?;
        if let Some(ca_file) = &self.postgres_ca_file {
            options = options.with_ca_file(ca_file)?;
        }
        Ok(match &self.instance_id {
            Some(instance) => options.with_instance(instance),
            None => options,
        })
    }

    /// How long a call's lease lasts.
    pub fn lease(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.lease_seconds.clamp(0.5, 3600.0))
    }

    /// What the store is, for messages: the data directory or the database (no password).
    pub fn describe(&self, data_dir: &Path) -> String {
        match self.engine {
            StorageEngine::Sqlite => format!("the SQLite store in {}", data_dir.display()),
            StorageEngine::Postgres => match self.postgres() {
                Ok(options) => format!("the PostgreSQL store at {}", options.target()),
                Err(_) => "the PostgreSQL store".into(),
            },
            StorageEngine::Memory => "the memory store".into(),
        }
    }

    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match (self.engine, &self.postgres_url) {
            (StorageEngine::Postgres, None) => problems.push(
                "storage.engine = \"postgres\" needs storage.postgres_url = \"postgres://USER@HOST:PORT/DATABASE\"".into(),
            ),
            (StorageEngine::Postgres, Some(url)) => {
                let options = PostgresOptions::new(url, None);
                let options = match &self.postgres_ca_file {
                    Some(ca_file) => options.and_then(|o| o.with_ca_file(ca_file)),
                    None => options,
                };
                if let Err(e) = options {
                    problems.push(e.to_string());
                }
            }
            (_, Some(_)) => problems.push(
                "storage.postgres_url is set but storage.engine is not \"postgres\"; set engine = \"postgres\" or remove the URL".into(),
            ),
            (_, None) => {}
        }
        if !(self.lease_seconds.is_finite() && (0.5..=3600.0).contains(&self.lease_seconds)) {
            problems.push(format!(
                "storage.lease_seconds = {} must be between 0.5 and 3600 seconds",
                self.lease_seconds
            ));
        }
        if let Some(instance) = &self.instance_id
            && (instance.is_empty()
                || instance.len() > 200
                || instance.contains(char::is_whitespace))
        {
            problems.push(format!(
                "storage.instance_id = {instance:?} must be 1 to 200 characters without spaces"
            ));
        }
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
