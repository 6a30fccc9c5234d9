//! One connection with its prepared statements, and PostgreSQL's errors as store errors.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement};

use std::sync::atomic::Ordering;

use crate::{StoreError, StoreStats};

/// A connection of the store: each query's statement is prepared once and kept.
pub(crate) struct Db {
    client: Client,
    statements: Mutex<HashMap<&'static str, Statement>>,
    /// `host:port/database`, for errors.
    target: Arc<str>,
    stats: Arc<StoreStats>,
}

type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

impl Db {
    pub(crate) fn new(client: Client, target: Arc<str>, stats: Arc<StoreStats>) -> Self {
        Self {
            client,
            statements: Mutex::new(HashMap::new()),
            target,
            stats,
        }
    }

    fn round_trip(&self) {
        self.stats.round_trips.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn target(&self) -> &str {
        &self.target
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    async fn statement(&self, sql: &'static str) -> Result<Statement, StoreError> {
        let known = self
            .statements
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(sql)
            .cloned();
        if let Some(statement) = known {
            return Ok(statement);
        }
        let statement = self.client.prepare(sql).await.map_err(|e| self.error(&e))?;
        self.statements
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sql, statement.clone());
        Ok(statement)
    }

    pub(crate) async fn query(
        &self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Vec<Row>, StoreError> {
        let statement = self.statement(sql).await?;
        self.round_trip();
        self.client
            .query(&statement, params)
            .await
            .map_err(|e| self.error(&e))
    }

    pub(crate) async fn query_opt(
        &self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Option<Row>, StoreError> {
        let statement = self.statement(sql).await?;
        self.round_trip();
        self.client
            .query_opt(&statement, params)
            .await
            .map_err(|e| self.error(&e))
    }

    pub(crate) async fn execute(
        &self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<u64, StoreError> {
        let statement = self.statement(sql).await?;
        self.round_trip();
        self.client
            .execute(&statement, params)
            .await
            .map_err(|e| self.error(&e))
    }

    /// Runs statements without parameters (transaction control, migrations).
    pub(crate) async fn batch(&self, sql: &str) -> Result<(), StoreError> {
        self.round_trip();
        self.client
            .batch_execute(sql)
            .await
            .map_err(|e| self.error(&e))
    }

    pub(crate) fn error(&self, error: &tokio_postgres::Error) -> StoreError {
        classify(&self.target, error)
    }
}

/// A PostgreSQL error as a store error: a server out of reach is [`StoreError::Unavailable`]
/// (the request may succeed later), a full disk is [`StoreError::Full`], a conflict between
/// concurrent transactions is [`StoreError::Conflict`].
pub(crate) fn classify(target: &str, error: &tokio_postgres::Error) -> StoreError {
    let Some(db) = error.as_db_error() else {
        return StoreError::Unavailable {
            target: target.to_owned(),
            detail: error_chain(error),
        };
    };
    let code = db.code();
    if *code == SqlState::DISK_FULL {
        return StoreError::Full {
            path: target.into(),
        };
    }
    if [
        SqlState::T_R_DEADLOCK_DETECTED,
        SqlState::T_R_SERIALIZATION_FAILURE,
        SqlState::UNIQUE_VIOLATION,
    ]
    .contains(code)
    {
        return StoreError::Conflict(format!("{target}: {}", db.message()));
    }
    if code.code().starts_with("08")
        || code.code().starts_with("57P")
        || *code == SqlState::CANNOT_CONNECT_NOW
    {
        return StoreError::Unavailable {
            target: target.to_owned(),
            detail: db.message().to_owned(),
        };
    }
    StoreError::Engine(format!("{target}: {} ({})", db.message(), code.code()))
}

/// An error with its causes, as one line.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
