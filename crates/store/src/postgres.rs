//! The engine for many instances: one PostgreSQL database that every callhost instance of a
//! deployment shares. The same schema and migrations as SQLite (`BLOB` is spelled `BYTEA`).
//!
//! Requests go to one task per store that owns one connection and commits whatever is waiting
//! in one transaction (group commit), as the SQLite writer does: requests commit in the order
//! they were placed, and many concurrent appends share one round of commit. A batch that fails
//! for a reason of its own (a deadlock with another instance, a unique violation) is run again
//! one request per transaction, so one request's conflict never fails another's. A lost
//! connection fails the requests of its batch with [`StoreError::Unavailable`]; the next
//! request connects again.

mod connect;
mod db;
mod listen;
mod tls;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::Row;

use crate::sqlite::StoreStats;
use crate::{
    Appended, CallRecord, Entry, Held, Intent, IntentRecord, NewEntry, StateEntry, StateSwap,
    StateWrite, Store, StoreError, Swapped, Sweep, component_hash, fresh_revision, now_ms,
};
pub use connect::PostgresOptions;
use db::Db;
pub(crate) use db::error_chain;

/// Requests taken into one transaction at most.
const MAX_BATCH: usize = 512;
/// Tries at an append whose sequence number other instances keep taking first.
const MAX_APPEND_TRIES: usize = 64;

/// The PostgreSQL engine; see the module docs.
#[derive(Clone)]
pub struct PostgresStore {
    jobs: mpsc::UnboundedSender<Box<dyn Job>>,
    options: PostgresOptions,
    instance: Arc<str>,
    held: Held,
    stats: Arc<StoreStats>,
    /// `host:port/database`, for messages (never the password).
    target: Arc<str>,
    /// The last news sent before this store was opened: what comes after is for this
    /// instance, even what it was not listening for yet.
    news_before: i64,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects, checks the database is callhost's (or empty) and no newer than this release,
    /// and applies the migrations it lacks (one instance at a time: they take an advisory
    /// lock). A wrong password, a missing database or a server out of reach is an error that
    /// names it.
    pub async fn open(options: &PostgresOptions) -> Result<Self, StoreError> {
        let target: Arc<str> = options.target().into();
        let client = connect::connect(options).await?;
        let stats = Arc::new(StoreStats::default());
        let db = Db::new(client, target.clone(), stats.clone());
        connect::migrate(&db).await?;
        let news_before = db
            .query_opt("SELECT COALESCE(MAX(id), 0) FROM news", &[])
            .await?
            .map_or(0, |row| row.get::<_, i64>(0));
        let (jobs, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(
            Writer {
                options: options.clone(),
                db: Some(db),
                stats: stats.clone(),
            },
            rx,
            stats.clone(),
        ));
        Ok(Self {
            jobs,
            instance: options.instance().into(),
            options: options.clone(),
            held: Held::default(),
            stats,
            target,
            news_before,
        })
    }

    fn fence(&self, call_id: &str) -> Fence {
        Fence {
            held: self.held.clone(),
            instance: self.instance.clone(),
            epoch: self.held.fence(call_id),
        }
    }

    /// `host:port/database` of the server.
    pub fn target(&self) -> &str {
        &self.target
    }

    pub fn stats(&self) -> &StoreStats {
        &self.stats
    }

    /// Places `work` for the writer, in its next transaction; its result once that commits.
    /// `work` may run more than once (its batch failed and is run again request by request):
    /// only the run that commits counts.
    fn submit<T: Send + 'static>(
        &self,
        work: Work<T>,
    ) -> BoxFuture<'static, Result<T, StoreError>> {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Task {
            work,
            result: None,
            reply,
        });
        let sent = self.jobs.send(job).is_ok();
        Box::pin(async move {
            if !sent {
                return Err(StoreError::Closed);
            }
            answer.await.unwrap_or(Err(StoreError::Closed))
        })
    }
}

/// A request: what it does inside the writer's open transaction. It must check before it
/// writes (an error returned after a write would leave the write in the transaction).
type Work<T> = Box<dyn for<'a> Fn(&'a Db) -> BoxFuture<'a, Result<T, StoreError>> + Send + Sync>;

/// `f` as a [`Work`], so that closures get the signature without annotations.
fn work<T, F>(f: F) -> Work<T>
where
    F: for<'a> Fn(&'a Db) -> BoxFuture<'a, Result<T, StoreError>> + Send + Sync + 'static,
{
    Box::new(f)
}

trait Job: Send {
    /// Runs the request in the open transaction; `false` when it failed.
    fn run<'a>(&'a mut self, db: &'a Db) -> BoxFuture<'a, bool>;
    /// The error that failed the request, if it did.
    fn error(&self) -> Option<&StoreError>;
    /// Answers once the transaction is committed (or failed to).
    fn finish(self: Box<Self>, commit: Result<(), StoreError>);
}

struct Task<T> {
    work: Work<T>,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T: Send> Job for Task<T> {
    fn run<'a>(&'a mut self, db: &'a Db) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let result = (self.work)(db).await;
            let ok = result.is_ok();
            self.result = Some(result);
            ok
        })
    }

    fn error(&self) -> Option<&StoreError> {
        self.result.as_ref().and_then(|r| r.as_ref().err())
    }

    fn finish(self: Box<Self>, commit: Result<(), StoreError>) {
        let result = match (commit, self.result) {
            (Ok(()), Some(result)) => result,
            (Err(error), _) => Err(error),
            (Ok(()), None) => Err(StoreError::Closed),
        };
        let _ = self.reply.send(result);
    }
}

struct Writer {
    options: PostgresOptions,
    stats: Arc<StoreStats>,
    /// `None` after the connection was lost, until the next batch connects again.
    db: Option<Db>,
}

impl Writer {
    async fn db(&mut self) -> Result<&Db, StoreError> {
        if self.db.as_ref().is_some_and(Db::is_closed) {
            self.db = None;
        }
        if self.db.is_none() {
            let client = connect::connect(&self.options).await?;
            tracing::info!(target = %self.options.target(), "connected to PostgreSQL again");
            let target = self.options.target().into();
            self.db = Some(Db::new(client, target, self.stats.clone()));
        }
        Ok(self.db.as_ref().expect("connected above"))
    }

    /// Runs `jobs` in one transaction. `Err` when it did not commit: then none of it did.
    async fn transaction(&mut self, jobs: &mut [Box<dyn Job>]) -> Result<(), StoreError> {
        let db = self.db().await?;
        db.batch("BEGIN").await?;
        let mut failed_sql = None;
        for job in jobs.iter_mut() {
            if !job.run(db).await
                && let Some(error) = job.error().filter(|e| e.aborts_transaction())
            {
                failed_sql = Some(error.clone());
                break;
            }
        }
        match failed_sql {
            None => db.batch("COMMIT").await,
            Some(error) => {
                let _ = db.batch("ROLLBACK").await;
                Err(error)
            }
        }
    }
}

async fn write_loop(
    mut writer: Writer,
    mut jobs: mpsc::UnboundedReceiver<Box<dyn Job>>,
    stats: Arc<StoreStats>,
) {
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let commit = writer.transaction(&mut batch).await;
        stats.commits.fetch_add(1, Ordering::Relaxed);
        stats.jobs.fetch_add(batch.len() as u64, Ordering::Relaxed);
        match commit {
            Err(error) if batch.len() > 1 && error.is_conflict() => {
                // One request's conflict: each alone, so that it fails only itself.
                for mut job in batch {
                    let alone = writer.transaction(std::slice::from_mut(&mut job)).await;
                    stats.commits.fetch_add(1, Ordering::Relaxed);
                    job.finish(alone);
                }
            }
            commit => {
                if let Err(error) = &commit {
                    tracing::error!(%error, jobs = batch.len(), "store commit failed; its requests are refused");
                }
                for job in batch {
                    job.finish(commit.clone());
                }
            }
        }
    }
}

/// Now, in Unix milliseconds by the database's clock: every instance's leases lapse by one
/// clock.
macro_rules! db_now {
    () => {
        "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT"
    };
}

/// The condition that makes a statement a fenced write: no fence (`$6` NULL), or the lease
/// still this instance's (`$7`) at the fence's epoch, locked until the write commits.
macro_rules! fenced {
    () => {
        fenced!("$6", "$7")
    };
    ($epoch:literal, $owner:literal) => {
        concat!(
            "(",
            $epoch,
            "::BIGINT IS NULL OR EXISTS (SELECT 1 FROM leases WHERE call_id = $1 AND owner = ",
            $owner,
            " AND epoch = ",
            $epoch,
            " FOR SHARE))"
        )
    };
}

/// What a write for one call is fenced by: the epoch this instance claimed it at, if it
/// holds it.
#[derive(Clone)]
struct Fence {
    held: Held,
    instance: Arc<str>,
    epoch: Option<u64>,
}

impl Fence {
    /// The epoch as a statement's parameter (`NULL`: the write is not fenced).
    fn epoch(&self) -> Option<i64> {
        self.epoch.map(to_i64)
    }

    fn owner(&self) -> &str {
        &self.instance
    }

    /// Refuses the write when the lease moved on. The lease row is locked until the write
    /// commits, so a takeover waits for it and sees it.
    async fn check(&self, db: &Db, call_id: &str) -> Result<(), StoreError> {
        let Some(epoch) = self.epoch else {
            return Ok(());
        };
        let current = db
            .query_opt(
                "SELECT 1 FROM leases WHERE call_id = $1 AND owner = $2 AND epoch = $3 FOR SHARE",
                &[&call_id, &self.owner(), &to_i64(epoch)],
            )
            .await?;
        match current {
            Some(_) => Ok(()),
            None => Err(self.held.fenced(call_id, epoch)),
        }
    }

    /// The call ended: its lease is gone.
    fn forget(&self, call_id: &str) {
        self.held.remove(call_id);
    }
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

const CALL_COLUMNS: &str = "call_id, tenant_id, direction, route, plugin, plugin_version, state, \
    my_participant_id, callback_uri, created_by_plugin, created_at_ms, last_keepalive_ms, \
    ended_at_ms, end_reason, graph_id";

fn call_row(row: &Row) -> CallRecord {
    CallRecord {
        call_id: row.get(0),
        tenant_id: row.get(1),
        direction: row.get(2),
        route: row.get(3),
        plugin: row.get(4),
        plugin_version: row.get(5),
        state: row.get(6),
        my_participant_id: row.get(7),
        callback_uri: row.get(8),
        created_by_plugin: row.get::<_, i64>(9) != 0,
        created_at_ms: row.get(10),
        last_keepalive_ms: row.get(11),
        ended_at_ms: row.get(12),
        end_reason: row.get(13),
        graph_id: row.get(14),
    }
}

fn intent_row(row: &Row) -> IntentRecord {
    IntentRecord {
        seq: to_u64(row.get(0)),
        idx: u32::try_from(row.get::<_, i64>(1)).unwrap_or(u32::MAX),
        action: row.get(2),
        result: row.get(3),
    }
}

fn entry_row(row: &Row) -> Entry {
    Entry {
        seq: to_u64(row.get(0)),
        dedupe_key: row.get(1),
        received_at_ms: row.get(2),
        body: row.get(3),
        handled: row.get::<_, i64>(4) != 0,
        tenant_id: row.get(5),
    }
}

/// Calls queries whose text is built once: their statements are cached by text.
fn cached(sql: String) -> &'static str {
    static TEXTS: std::sync::Mutex<Option<HashMap<String, &'static str>>> =
        std::sync::Mutex::new(None);
    let mut texts = TEXTS.lock().unwrap_or_else(|e| e.into_inner());
    let texts = texts.get_or_insert_with(HashMap::new);
    if let Some(text) = texts.get(&sql) {
        return text;
    }
    let text: &'static str = Box::leak(sql.clone().into_boxed_str());
    texts.insert(sql, text);
    text
}

impl Store for PostgresStore {
    fn instance(&self) -> &str {
        &self.instance
    }

    fn claim(
        &self,
        call_id: String,
        ttl_ms: i64,
    ) -> BoxFuture<'static, Result<Option<u64>, StoreError>> {
        let (held, instance) = (self.held.clone(), self.instance.clone());
        self.submit(work(move |db| {
            let (held, instance, call_id) = (held.clone(), instance.clone(), call_id.clone());
            Box::pin(async move {
                let row = db
                    .query_opt(
                        concat!(
                            "INSERT INTO leases (call_id, owner, epoch, expires_at_ms) VALUES ($1, $2, 1, ",
                            db_now!(),
                            " + $3) ON CONFLICT (call_id) DO UPDATE SET \
                             epoch = CASE WHEN leases.owner = excluded.owner THEN leases.epoch ELSE leases.epoch + 1 END, \
                             owner = excluded.owner, expires_at_ms = excluded.expires_at_ms \
                             WHERE leases.owner = excluded.owner OR leases.expires_at_ms <= ",
                            db_now!(),
                            " RETURNING epoch"
                        ),
                        &[&call_id, &&*instance, &ttl_ms],
                    )
                    .await?;
                let epoch = row.map(|r| to_u64(r.get(0)));
                if let Some(epoch) = epoch {
                    held.insert(&call_id, epoch);
                }
                Ok(epoch)
            })
        }))
    }

    fn renew(&self, ttl_ms: i64) -> BoxFuture<'static, Result<Vec<String>, StoreError>> {
        let (held, instance) = (self.held.clone(), self.instance.clone());
        self.submit(work(move |db| {
            let (held, instance) = (held.clone(), instance.clone());
            Box::pin(async move {
                let rows = db
                    .query(
                        concat!(
                            "UPDATE leases SET expires_at_ms = ",
                            db_now!(),
                            " + $2 WHERE owner = $1 RETURNING call_id, epoch"
                        ),
                        &[&&*instance, &ttl_ms],
                    )
                    .await?;
                let still: Vec<(String, u64)> =
                    rows.iter().map(|r| (r.get(0), to_u64(r.get(1)))).collect();
                Ok(held.keep_only(&still))
            })
        }))
    }

    fn release(&self, call_ids: Option<Vec<String>>) -> BoxFuture<'static, Result<(), StoreError>> {
        let (held, instance) = (self.held.clone(), self.instance.clone());
        self.submit(work(move |db| {
            let (held, instance, call_ids) = (held.clone(), instance.clone(), call_ids.clone());
            Box::pin(async move {
                match &call_ids {
                    None => {
                        db.execute(
                            "UPDATE leases SET expires_at_ms = 0 WHERE owner = $1",
                            &[&&*instance],
                        )
                        .await?;
                        held.clear();
                    }
                    Some(calls) => {
                        db.execute(
                            "UPDATE leases SET expires_at_ms = 0 WHERE owner = $1 AND call_id = ANY($2)",
                            &[&&*instance, calls],
                        )
                        .await?;
                        for call in calls {
                            held.remove(call);
                        }
                    }
                }
                Ok(())
            })
        }))
    }

    fn owner(&self, call_id: String) -> BoxFuture<'static, Result<Option<String>, StoreError>> {
        self.submit(work(move |db| {
            let call_id = call_id.clone();
            Box::pin(async move {
                let row = db
                    .query_opt(
                        concat!(
                            "SELECT owner FROM leases WHERE call_id = $1 AND expires_at_ms > ",
                            db_now!()
                        ),
                        &[&call_id],
                    )
                    .await?;
                Ok(row.map(|r| r.get(0)))
            })
        }))
    }

    fn wake(&self, call_id: String) -> BoxFuture<'static, Result<(), StoreError>> {
        self.submit(work(move |db| {
            let call_id = call_id.clone();
            Box::pin(async move {
                // Delivered when the transaction commits, to every listener; the owner's
                // instance takes it (see `listen`).
                db.query(
                    "SELECT pg_notify($2, owner || ' ' || call_id) FROM leases WHERE call_id = $1",
                    &[&call_id, &listen::CHANNEL],
                )
                .await?;
                Ok(())
            })
        }))
    }

    fn announce(&self, news: String) -> BoxFuture<'static, Result<(), StoreError>> {
        let instance = self.instance.clone();
        self.submit(work(move |db| {
            let (instance, news) = (instance.clone(), news.clone());
            Box::pin(async move {
                // Kept for whoever does not listen right now; a day is far longer than any
                // instance takes to start or to listen again.
                db.execute(
                    "DELETE FROM news WHERE sent_at_ms < $1",
                    &[&(now_ms() - listen::NEWS_KEPT_MS)],
                )
                .await?;
                let id: i64 = db
                    .query_opt(
                        "INSERT INTO news (sender, news, sent_at_ms) VALUES ($1, $2, $3) RETURNING id",
                        &[&&*instance, &news, &now_ms()],
                    )
                    .await?
                    .map_or(0, |row| row.get(0));
                let payload = listen::news(&instance, id, &news);
                db.query("SELECT pg_notify($1, $2)", &[&listen::CHANNEL, &payload])
                    .await?;
                Ok(())
            })
        }))
    }

    fn wakes(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<crate::Heard>> {
        Some(listen::spawn(
            self.options.clone(),
            self.instance.clone(),
            self.news_before,
        ))
    }

    fn sweep(&self, quiet_before_ms: i64) -> BoxFuture<'static, Result<Sweep, StoreError>> {
        let instance = self.instance.clone();
        self.submit(work(move |db| {
            let instance = instance.clone();
            Box::pin(async move {
                let unowned = db
                    .query(
                        concat!(
                            "SELECT c.call_id FROM calls c LEFT JOIN leases l ON l.call_id = c.call_id \
                             WHERE c.ended_at_ms IS NULL AND (l.call_id IS NULL OR l.expires_at_ms <= ",
                            db_now!(),
                            ") ORDER BY c.created_at_ms LIMIT 1000"
                        ),
                        &[],
                    )
                    .await?;
                let waiting = db
                    .query(
                        "SELECT DISTINCT j.call_id FROM journal j JOIN leases l ON l.call_id = j.call_id \
                         WHERE l.owner = $1 AND j.handled = 0 AND j.received_at_ms < $2 LIMIT 1000",
                        &[&&*instance, &quiet_before_ms],
                    )
                    .await?;
                Ok(Sweep {
                    unowned: unowned.iter().map(|r| r.get(0)).collect(),
                    waiting: waiting.iter().map(|r| r.get(0)).collect(),
                })
            })
        }))
    }

    fn append(&self, entries: Vec<NewEntry>) -> BoxFuture<'_, Result<Vec<Appended>, StoreError>> {
        self.submit(work(move |db| {
            let entries = entries.clone();
            Box::pin(async move {
                let mut appended = Vec::with_capacity(entries.len());
                for entry in entries {
                    appended.push(append_one(db, &entry).await?);
                }
                Ok(appended)
            })
        }))
    }

    fn entries(
        &self,
        call_id: String,
        after: u64,
    ) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>> {
        self.submit(work(move |db| {
            let call_id = call_id.clone();
            Box::pin(async move {
                let rows = db
                    .query(
                        "SELECT seq, dedupe_key, received_at_ms, body, handled, tenant_id FROM journal \
                         WHERE call_id = $1 AND seq > $2 ORDER BY seq",
                        &[&call_id, &to_i64(after)],
                    )
                    .await?;
                Ok(rows.iter().map(entry_row).collect())
            })
        }))
    }

    fn save_call(&self, call: CallRecord) -> BoxFuture<'static, Result<(), StoreError>> {
        let fence = self.fence(&call.call_id);
        self.submit(work(move |db| {
            let fence = fence.clone();
            let call = call.clone();
            Box::pin(async move {
                let epoch = fence.epoch();
                let saved = db.execute(
                    "INSERT INTO calls (call_id, tenant_id, direction, route, plugin, plugin_version, state, \
                     my_participant_id, callback_uri, created_by_plugin, created_at_ms, last_keepalive_ms, \
                     ended_at_ms, end_reason, graph_id) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15 \
                     WHERE ($16::BIGINT IS NULL OR EXISTS (SELECT 1 FROM leases \
                     WHERE call_id = $1 AND owner = $17 AND epoch = $16 FOR SHARE)) \
                     ON CONFLICT (call_id) DO UPDATE SET tenant_id = excluded.tenant_id, \
                     direction = excluded.direction, route = excluded.route, plugin = excluded.plugin, \
                     plugin_version = excluded.plugin_version, state = excluded.state, \
                     my_participant_id = excluded.my_participant_id, callback_uri = excluded.callback_uri, \
                     created_by_plugin = excluded.created_by_plugin, created_at_ms = excluded.created_at_ms, \
                     last_keepalive_ms = excluded.last_keepalive_ms, ended_at_ms = excluded.ended_at_ms, \
                     end_reason = excluded.end_reason, graph_id = excluded.graph_id",
                    &[
                        &call.call_id,
                        &call.tenant_id,
                        &call.direction,
                        &call.route,
                        &call.plugin,
                        &call.plugin_version,
                        &call.state,
                        &call.my_participant_id,
                        &call.callback_uri,
                        &i64::from(call.created_by_plugin),
                        &call.created_at_ms,
                        &call.last_keepalive_ms,
                        &call.ended_at_ms,
                        &call.end_reason,
                        &call.graph_id,
                        &epoch,
                        &fence.owner(),
                    ],
                )
                .await?;
                if saved == 0 {
                    fence.check(db, &call.call_id).await?;
                }
                Ok(())
            })
        }))
    }

    fn call(&self, call_id: String) -> BoxFuture<'_, Result<Option<CallRecord>, StoreError>> {
        let sql = cached(format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE call_id = $1"
        ));
        self.submit(work(move |db| {
            let call_id = call_id.clone();
            Box::pin(async move {
                let row = db.query_opt(sql, &[&call_id]).await?;
                Ok(row.as_ref().map(call_row))
            })
        }))
    }

    fn live_calls(&self) -> BoxFuture<'_, Result<Vec<CallRecord>, StoreError>> {
        let sql = cached(format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE ended_at_ms IS NULL ORDER BY created_at_ms, call_id"
        ));
        self.submit(work(move |db| {
            Box::pin(async move {
                let rows = db.query(sql, &[]).await?;
                Ok(rows.iter().map(call_row).collect())
            })
        }))
    }

    fn handled(
        &self,
        call_id: String,
        seq: u64,
        writes: Vec<StateWrite>,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let fence = self.fence(&call_id);
        self.submit(work(move |db| {
            let fence = fence.clone();
            let (call_id, writes) = (call_id.clone(), writes.clone());
            Box::pin(async move {
                // One statement on the way that counts: the marker, its fence and the state
                // writes. Nothing is written unless the entry was unhandled and the lease held.
                let writes = Collapsed::from(&writes);
                let epoch = fence.epoch();
                let marked = db
                    .query_opt(
                        "WITH marked AS (UPDATE journal SET handled = 1 \
                         WHERE call_id = $1 AND seq = $2 AND handled = 0 \
                         AND ($3::BIGINT IS NULL OR EXISTS (SELECT 1 FROM leases \
                         WHERE call_id = $1 AND owner = $4 AND epoch = $3 FOR SHARE)) RETURNING 1), \
                         upserted AS (INSERT INTO state (scope, key, value, revision) \
                         SELECT s, k, v, r FROM unnest($5::TEXT[], $6::TEXT[], $7::BYTEA[], $10::BIGINT[]) \
                         AS w (s, k, v, r) WHERE EXISTS (SELECT 1 FROM marked) \
                         ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value, \
                         revision = excluded.revision RETURNING 1), \
                         deleted AS (DELETE FROM state WHERE EXISTS (SELECT 1 FROM marked) \
                         AND (scope, key) IN (SELECT s, k FROM unnest($8::TEXT[], $9::TEXT[]) AS d (s, k)) \
                         RETURNING 1) \
                         SELECT (SELECT COUNT(*) FROM marked), (SELECT COUNT(*) FROM upserted), \
                         (SELECT COUNT(*) FROM deleted)",
                        &[
                            &call_id,
                            &to_i64(seq),
                            &epoch,
                            &fence.owner(),
                            &writes.set_scopes,
                            &writes.set_keys,
                            &writes.set_values,
                            &writes.delete_scopes,
                            &writes.delete_keys,
                            &writes.set_revisions,
                        ],
                    )
                    .await?;
                if marked.is_some_and(|row| row.get::<_, i64>(0) > 0) {
                    return Ok(true);
                }
                // Why not: the lease moved on, the entry was handled before, or there is none.
                fence.check(db, &call_id).await?;
                let exists = db
                    .query_opt(
                        "SELECT seq FROM journal WHERE call_id = $1 AND seq = $2",
                        &[&call_id, &to_i64(seq)],
                    )
                    .await?;
                match exists {
                    Some(_) => Ok(false),
                    None => Err(StoreError::UnknownEntry { call_id, seq }),
                }
            })
        }))
    }

    fn write_state(&self, writes: Vec<StateWrite>) -> BoxFuture<'_, Result<(), StoreError>> {
        self.submit(work(move |db| {
            let writes = writes.clone();
            Box::pin(async move { apply_writes(db, &writes).await })
        }))
    }

    fn end_call(
        &self,
        call_id: String,
        at_ms: i64,
        reason: String,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        let fence = self.fence(&call_id);
        self.submit(work(move |db| {
            let fence = fence.clone();
            let (call_id, reason) = (call_id.clone(), reason.clone());
            Box::pin(async move {
                fence.check(db, &call_id).await?;
                db.execute(
                    "UPDATE calls SET ended_at_ms = $2, end_reason = $3 WHERE call_id = $1 AND ended_at_ms IS NULL",
                    &[&call_id, &at_ms, &reason],
                )
                .await?;
                db.execute(
                    "UPDATE journal SET handled = 1 WHERE call_id = $1 AND handled = 0",
                    &[&call_id],
                )
                .await?;
                db.execute("DELETE FROM leases WHERE call_id = $1", &[&call_id])
                    .await?;
                fence.forget(&call_id);
                Ok(())
            })
        }))
    }

    fn state(
        &self,
        scope: String,
        key: String,
    ) -> BoxFuture<'_, Result<Option<StateEntry>, StoreError>> {
        self.submit(work(move |db| {
            let (scope, key) = (scope.clone(), key.clone());
            Box::pin(async move { stored_state(db, &scope, &key).await })
        }))
    }

    fn swap_state(&self, swap: StateSwap) -> BoxFuture<'static, Result<Swapped, StoreError>> {
        let fence = self.fence(&swap.call_id);
        self.submit(work(move |db| {
            let (fence, swap) = (fence.clone(), swap.clone());
            Box::pin(async move { swap_state(db, &fence, swap).await })
        }))
    }

    fn put_component(&self, bytes: Vec<u8>) -> BoxFuture<'_, Result<String, StoreError>> {
        let bytes = Arc::new(bytes);
        self.submit(work(move |db| {
            let bytes = bytes.clone();
            Box::pin(async move {
                let hash = component_hash(&bytes);
                db.execute(
                    "INSERT INTO components (hash, bytes, stored_at_ms) VALUES ($1, $2, $3) \
                     ON CONFLICT (hash) DO NOTHING",
                    &[&hash, &bytes.as_slice(), &now_ms()],
                )
                .await?;
                Ok(hash)
            })
        }))
    }

    fn component(&self, hash: String) -> BoxFuture<'_, Result<Option<Vec<u8>>, StoreError>> {
        self.submit(work(move |db| {
            let hash = hash.clone();
            Box::pin(async move {
                let row = db
                    .query_opt("SELECT bytes FROM components WHERE hash = $1", &[&hash])
                    .await?;
                Ok(row.map(|r| r.get(0)))
            })
        }))
    }

    fn state_scope(&self, scope: String) -> BoxFuture<'_, Result<crate::StateValues, StoreError>> {
        self.submit(work(move |db| {
            let scope = scope.clone();
            Box::pin(async move {
                let rows = db
                    .query(
                        "SELECT key, value FROM state WHERE scope = $1 ORDER BY key",
                        &[&scope],
                    )
                    .await?;
                Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
            })
        }))
    }

    fn keepalive(&self, call_id: String, at_ms: i64) -> BoxFuture<'_, Result<(), StoreError>> {
        let fence = self.fence(&call_id);
        self.submit(work(move |db| {
            let fence = fence.clone();
            let call_id = call_id.clone();
            Box::pin(async move {
                fence.check(db, &call_id).await?;
                db.execute(
                    "UPDATE calls SET last_keepalive_ms = $2 WHERE call_id = $1",
                    &[&call_id, &at_ms],
                )
                .await?;
                Ok(())
            })
        }))
    }

    fn begin_intent(
        &self,
        intent: Intent,
    ) -> BoxFuture<'_, Result<Option<IntentRecord>, StoreError>> {
        let fence = self.fence(&intent.call_id);
        self.submit(work(move |db| {
            let fence = fence.clone();
            let intent = intent.clone();
            Box::pin(async move {
                let (seq, idx) = (to_i64(intent.seq), i64::from(intent.idx));
                let epoch = fence.epoch();
                let inserted = db
                    .execute(
                        concat!(
                            "INSERT INTO intents (call_id, seq, idx, action, started_at_ms) \
                             SELECT $1, $2, $3, $4, $5 WHERE ",
                            fenced!(),
                            " ON CONFLICT (call_id, seq, idx) DO NOTHING"
                        ),
                        &[
                            &intent.call_id,
                            &seq,
                            &idx,
                            &intent.action,
                            &intent.started_at_ms,
                            &epoch,
                            &fence.owner(),
                        ],
                    )
                    .await?;
                if inserted == 1 {
                    return Ok(None);
                }
                fence.check(db, &intent.call_id).await?;
                let existing = db
                    .query_opt(
                        "SELECT seq, idx, action, result FROM intents WHERE call_id = $1 AND seq = $2 AND idx = $3",
                        &[&intent.call_id, &seq, &idx],
                    )
                    .await?;
                Ok(existing.as_ref().map(intent_row))
            })
        }))
    }

    fn finish_intent(
        &self,
        call_id: String,
        seq: u64,
        idx: u32,
        result: String,
    ) -> BoxFuture<'static, Result<(), StoreError>> {
        let fence = self.fence(&call_id);
        self.submit(work(move |db| {
            let fence = fence.clone();
            let (call_id, result) = (call_id.clone(), result.clone());
            Box::pin(async move {
                let epoch = fence.epoch();
                let updated = db
                    .execute(
                        concat!(
                            "UPDATE intents SET result = $4 WHERE call_id = $1 AND seq = $2 AND idx = $3 AND ",
                            fenced!("$5", "$6")
                        ),
                        &[&call_id, &to_i64(seq), &i64::from(idx), &result, &epoch, &fence.owner()],
                    )
                    .await?;
                if updated == 0 {
                    fence.check(db, &call_id).await?;
                }
                Ok(())
            })
        }))
    }

    fn intents(&self, call_id: String) -> BoxFuture<'_, Result<Vec<IntentRecord>, StoreError>> {
        self.submit(work(move |db| {
            let call_id = call_id.clone();
            Box::pin(async move {
                let rows = db
                    .query(
                        "SELECT seq, idx, action, result FROM intents WHERE call_id = $1 ORDER BY seq, idx",
                        &[&call_id],
                    )
                    .await?;
                Ok(rows.iter().map(intent_row).collect())
            })
        }))
    }

    fn ended_calls(&self, limit: usize) -> BoxFuture<'_, Result<Vec<CallRecord>, StoreError>> {
        let sql = cached(format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE ended_at_ms IS NOT NULL ORDER BY ended_at_ms DESC, call_id LIMIT $1"
        ));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.submit(work(move |db| {
            Box::pin(async move {
                let rows = db.query(sql, &[&limit]).await?;
                Ok(rows.iter().map(call_row).collect())
            })
        }))
    }

    fn unowned_entries(
        &self,
        since_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<(String, Entry)>, StoreError>> {
        self.submit(work(move |db| {
            Box::pin(async move {
                let rows = db
                    .query(
                        "SELECT j.seq, j.dedupe_key, j.received_at_ms, j.body, j.handled, j.tenant_id, j.call_id \
                         FROM journal j WHERE j.received_at_ms >= $1 AND j.handled = 0 \
                         AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.call_id = j.call_id) \
                         ORDER BY j.received_at_ms, j.call_id, j.seq",
                        &[&since_ms],
                    )
                    .await?;
                Ok(rows.iter().map(|r| (r.get(6), entry_row(r))).collect())
            })
        }))
    }

    fn prune(&self, ended_before_ms: i64) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.submit(work(move |db| {
            Box::pin(async move {
                let cut = &[&ended_before_ms as &(dyn tokio_postgres::types::ToSql + Sync)];
                db.execute(
                    "DELETE FROM journal WHERE call_id IN (SELECT call_id FROM calls WHERE ended_at_ms < $1)",
                    cut,
                )
                .await?;
                db.execute(
                    "DELETE FROM intents WHERE call_id IN (SELECT call_id FROM calls WHERE ended_at_ms < $1)",
                    cut,
                )
                .await?;
                db.execute(
                    "DELETE FROM leases WHERE call_id IN (SELECT call_id FROM calls WHERE ended_at_ms < $1)",
                    cut,
                )
                .await?;
                db.execute(
                    "DELETE FROM state WHERE EXISTS (SELECT 1 FROM calls c WHERE c.ended_at_ms < $1 \
                     AND substr(state.scope, 1, length(c.call_id) + 6) = 'call/' || c.call_id || '/')",
                    cut,
                )
                .await?;
                db.execute(
                    "DELETE FROM journal WHERE received_at_ms < $1 \
                     AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.call_id = journal.call_id)",
                    cut,
                )
                .await?;
                db.execute("DELETE FROM calls WHERE ended_at_ms < $1", cut)
                    .await
            })
        }))
    }
}

/// Appends one entry: the next sequence number of its call, unless its dedupe key is there.
/// Another instance may take the same number first; then the insert waits for its commit,
/// does nothing, and is tried again with the number after.
async fn append_one(db: &Db, entry: &NewEntry) -> Result<Appended, StoreError> {
    for _ in 0..MAX_APPEND_TRIES {
        let stored = db
            .query_opt(
                "INSERT INTO journal (call_id, seq, dedupe_key, tenant_id, received_at_ms, body, handled) \
                 SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, \
                 CASE WHEN EXISTS (SELECT 1 FROM calls WHERE call_id = $1 AND ended_at_ms IS NOT NULL) \
                 THEN 1 ELSE 0 END FROM journal WHERE call_id = $1 \
                 ON CONFLICT DO NOTHING RETURNING seq",
                &[
                    &entry.call_id,
                    &entry.dedupe_key,
                    &entry.tenant_id,
                    &entry.received_at_ms,
                    &entry.body,
                ],
            )
            .await?;
        if let Some(row) = stored {
            return Ok(Appended::Stored {
                seq: to_u64(row.get(0)),
            });
        }
        if entry.dedupe_key.is_some() {
            let existing = db
                .query_opt(
                    "SELECT seq FROM journal WHERE call_id = $1 AND dedupe_key = $2",
                    &[&entry.call_id, &entry.dedupe_key],
                )
                .await?;
            if let Some(row) = existing {
                return Ok(Appended::Duplicate {
                    seq: to_u64(row.get(0)),
                });
            }
        }
    }
    Err(StoreError::Conflict(format!(
        "call {} had its next journal number taken {MAX_APPEND_TRIES} times in a row",
        entry.call_id
    )))
}

/// State writes as one statement's arrays: the last write of each key, set or deleted.
struct Collapsed {
    set_scopes: Vec<String>,
    set_keys: Vec<String>,
    set_values: Vec<Vec<u8>>,
    set_revisions: Vec<i64>,
    delete_scopes: Vec<String>,
    delete_keys: Vec<String>,
}

impl Collapsed {
    fn from(writes: &[StateWrite]) -> Self {
        let mut last: HashMap<(&str, &str), Option<&Vec<u8>>> = HashMap::new();
        let mut order = Vec::new();
        for write in writes {
            let key = (write.scope.as_str(), write.key.as_str());
            if last.insert(key, write.value.as_ref()).is_none() {
                order.push(key);
            }
        }
        let mut collapsed = Self {
            set_scopes: Vec::new(),
            set_keys: Vec::new(),
            set_values: Vec::new(),
            set_revisions: Vec::new(),
            delete_scopes: Vec::new(),
            delete_keys: Vec::new(),
        };
        for key @ (scope, name) in order {
            match last[&key] {
                Some(value) => {
                    collapsed.set_scopes.push(scope.to_owned());
                    collapsed.set_keys.push(name.to_owned());
                    collapsed.set_values.push(value.clone());
                    collapsed.set_revisions.push(fresh_revision());
                }
                None => {
                    collapsed.delete_scopes.push(scope.to_owned());
                    collapsed.delete_keys.push(name.to_owned());
                }
            }
        }
        collapsed
    }
}

async fn apply_writes(db: &Db, writes: &[StateWrite]) -> Result<(), StoreError> {
    for write in writes {
        match &write.value {
            Some(value) => {
                db.execute(
                    "INSERT INTO state (scope, key, value, revision) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value, \
                     revision = excluded.revision",
                    &[&write.scope, &write.key, value, &fresh_revision()],
                )
                .await?
            }
            None => {
                db.execute(
                    "DELETE FROM state WHERE scope = $1 AND key = $2",
                    &[&write.scope, &write.key],
                )
                .await?
            }
        };
    }
    Ok(())
}

async fn stored_state(db: &Db, scope: &str, key: &str) -> Result<Option<StateEntry>, StoreError> {
    let row = db
        .query_opt(
            "SELECT value, revision FROM state WHERE scope = $1 AND key = $2",
            &[&scope, &key],
        )
        .await?;
    Ok(row.map(|r| StateEntry {
        value: r.get(0),
        revision: to_u64(r.get(1)),
    }))
}

/// A compare-and-swap in one statement whose condition is the revision and the fence; when it
/// wrote nothing, why.
async fn swap_state(db: &Db, fence: &Fence, swap: StateSwap) -> Result<Swapped, StoreError> {
    let StateSwap {
        call_id,
        scope,
        key,
        expected,
        value,
    } = swap;
    let (epoch, owner, expected_at) = (fence.epoch(), fence.owner(), to_i64(expected));
    let revision = fresh_revision();
    let written = match (&value, expected) {
        (Some(value), 0) => {
            db.execute(
                concat!(
                    "INSERT INTO state (scope, key, value, revision) \
                     SELECT $2::TEXT, $3::TEXT, $4::BYTEA, $5::BIGINT WHERE ",
                    fenced!("$6", "$7"),
                    " ON CONFLICT (scope, key) DO NOTHING"
                ),
                &[&call_id, &scope, &key, value, &revision, &epoch, &owner],
            )
            .await?
        }
        (Some(value), _) => {
            db.execute(
                concat!(
                    "UPDATE state SET value = $4, revision = $5 \
                     WHERE scope = $2 AND key = $3 AND revision = $8 AND ",
                    fenced!("$6", "$7")
                ),
                &[
                    &call_id,
                    &scope,
                    &key,
                    value,
                    &revision,
                    &epoch,
                    &owner,
                    &expected_at,
                ],
            )
            .await?
        }
        (None, 0) => 0,
        (None, _) => {
            db.execute(
                concat!(
                    "DELETE FROM state WHERE scope = $2 AND key = $3 AND revision = $4 AND ",
                    fenced!("$5", "$6")
                ),
                &[&call_id, &scope, &key, &expected_at, &epoch, &owner],
            )
            .await?
        }
    };
    if written > 0 {
        let revision = if value.is_some() { to_u64(revision) } else { 0 };
        return Ok(Swapped::Done { revision });
    }
    fence.check(db, &call_id).await?;
    let current = stored_state(db, &scope, &key)
        .await?
        .map_or(0, |e| e.revision);
    Ok(match (value, current) {
        // Deleting what is missing already.
        (None, 0) if expected == 0 => Swapped::Done { revision: 0 },
        _ => Swapped::Conflict { revision: current },
    })
}

#[cfg(test)]
mod tests;
