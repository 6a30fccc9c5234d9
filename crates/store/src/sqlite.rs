//! The embedded engine: one SQLite file under the data directory, in WAL mode (with full sync
//! unless told otherwise), written by one thread that commits whatever is waiting in one
//! transaction (group commit), so that many concurrent appends share one disk sync.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use futures::future::BoxFuture;
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};
use tokio::sync::oneshot;

use crate::{
    Appended, CallRecord, Entry, Held, Intent, IntentRecord, MIGRATIONS, NewEntry, StateEntry,
    StateSwap, StateWrite, Store, StoreError, Swapped, Sweep, component_hash, fresh_revision,
    now_ms,
};

/// `PRAGMA application_id` of a callhost database ("CALH").
const APPLICATION_ID: i64 = 0x4341_4c48;
/// The instance a SQLite store writes as: one process has the data directory, so the owner
/// of its leases is the same across restarts.
pub const LOCAL_INSTANCE: &str = "local";
/// Jobs taken into one transaction at most.
const MAX_BATCH: usize = 512;

/// When a commit counts as stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// On the disk: every commit is synced before it is reported (`PRAGMA synchronous = FULL`).
    /// Nothing reported stored is lost, even to a power cut.
    #[default]
    Full,
    /// Handed to the operating system: the write-ahead log is synced at checkpoints only
    /// (`PRAGMA synchronous = NORMAL`). Nothing is lost when callhost crashes or is killed;
    /// a power cut or a kernel crash can lose the last commits before a checkpoint.
    Normal,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::Normal => "NORMAL",
        }
    }
}

/// How the writer has worked so far.
#[derive(Debug, Default)]
pub struct StoreStats {
    /// Transactions committed.
    pub commits: AtomicU64,
    /// Requests carried out (appends, reads, writes), each in some commit.
    pub jobs: AtomicU64,
    /// Statements sent to the server and answered, each a round trip (PostgreSQL only).
    pub round_trips: AtomicU64,
}

/// The SQLite engine; see the module docs.
#[derive(Clone)]
pub struct SqliteStore {
    jobs: mpsc::Sender<Box<dyn Job>>,
    held: Held,
    stats: Arc<StoreStats>,
    path: Arc<PathBuf>,
    /// Held for as long as the store lives: one process per data directory.
    _lock: Arc<File>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating when missing) `callhost.db` under `data_dir`, takes the directory's
    /// lock, checks the file is a callhost database no newer than this release, and applies
    /// the migrations it lacks. Commits are synced to the disk ([`Synchronous::Full`]).
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(data_dir, Synchronous::Full)
    }

    /// [`Self::open`], with commits stored as `sync` says.
    pub fn open_with(data_dir: &Path, sync: Synchronous) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::data_dir(data_dir, &e))?;
        let lock_path = data_dir.join("callhost.lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StoreError::data_dir(data_dir, &e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Locked {
                    path: data_dir.to_path_buf(),
                    lock: lock_path,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(StoreError::data_dir(data_dir, &e)),
        }
        let path = data_dir.join("callhost.db");
        let conn = open_database(&path, sync)?;
        let stats = Arc::new(StoreStats::default());
        let (jobs, rx) = mpsc::channel::<Box<dyn Job>>();
        let writer_stats = stats.clone();
        let writer_path = path.clone();
        std::thread::Builder::new()
            .name("callhost-store".into())
            .spawn(move || write_loop(conn, &writer_path, rx, &writer_stats))
            .map_err(|e| StoreError::Engine(format!("starting the store's writer thread: {e}")))?;
        Ok(Self {
            jobs,
            held: Held::default(),
            stats,
            path: Arc::new(path),
            _lock: Arc::new(lock),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn stats(&self) -> &StoreStats {
        &self.stats
    }

    /// Places `work` for the writer thread, in the next commit; its result once that commit
    /// is durable.
    fn submit<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> BoxFuture<'static, Result<T, StoreError>> {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Task {
            work: Some(Box::new(work)),
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

fn open_database(path: &Path, sync: Synchronous) -> Result<Connection, StoreError> {
    let foreign = |detail: String| StoreError::Foreign {
        path: path.to_path_buf(),
        detail,
    };
    let conn = Connection::open(path).map_err(|e| classify(path, e))?;
    let application_id: i64 = conn
        .query_row("PRAGMA application_id", [], |row| row.get(0))
        .map_err(|e| match classify(path, e) {
            StoreError::Engine(detail) => foreign(detail),
            other => other,
        })?;
    let tables: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |row| row.get(0),
        )
        .map_err(|e| classify(path, e))?;
    if application_id != APPLICATION_ID && (application_id != 0 || tables > 0) {
        return Err(foreign(format!(
            "application id {application_id:#x}, {tables} tables of another application"
        )));
    }
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; PRAGMA application_id = {APPLICATION_ID};",
        sync.pragma()
    ))
    .map_err(|e| classify(path, e))?;
    migrate(&conn, path)?;
    Ok(conn)
}

fn migrate(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let engine = |e| classify(path, e);
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at_ms BIGINT NOT NULL)",
    )
    .map_err(engine)?;
    let current: i64 = conn
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |row| row.get(0),
        )
        .map_err(engine)?;
    let known = MIGRATIONS.last().map_or(0, |(v, _)| *v);
    if current > known {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: current,
            known,
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        conn.execute_batch("BEGIN IMMEDIATE").map_err(engine)?;
        let applied = conn.execute_batch(sql).and_then(|()| {
            conn.execute(
                "INSERT INTO schema_migrations (version, applied_at_ms) VALUES (?1, ?2)",
                params![version, now_ms()],
            )
        });
        match applied {
            Ok(_) => conn.execute_batch("COMMIT").map_err(engine)?,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(classify(path, e));
            }
        }
        tracing::info!(path = %path.display(), version, "store schema migrated");
    }
    Ok(())
}

/// A SQLite error as a store error: a full disk and a file that is not a database by name.
fn classify(path: &Path, error: rusqlite::Error) -> StoreError {
    with_path(engine(error), path)
}

/// [`classify`] inside a job, which does not know the file: the writer names it
/// ([`with_path`]) before the error leaves the store.
fn engine(error: rusqlite::Error) -> StoreError {
    match error.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => StoreError::Full {
            path: PathBuf::new(),
        },
        Some(ErrorCode::NotADatabase) => StoreError::Foreign {
            path: PathBuf::new(),
            detail: error.to_string(),
        },
        _ => StoreError::Engine(error.to_string()),
    }
}

/// `error` naming the database file.
fn with_path(error: StoreError, path: &Path) -> StoreError {
    match error {
        StoreError::Full { .. } => StoreError::Full {
            path: path.to_path_buf(),
        },
        StoreError::Foreign { detail, .. } => StoreError::Foreign {
            path: path.to_path_buf(),
            detail,
        },
        StoreError::Engine(detail) => StoreError::Engine(format!("{}: {detail}", path.display())),
        other => other,
    }
}

/// One request for the writer thread.
trait Job: Send {
    /// Does the work inside the open transaction (in a savepoint of its own); its error, if
    /// it failed.
    fn run(&mut self, conn: &Connection) -> Option<StoreError>;
    /// Answers once the transaction is committed (or failed to); errors name `path`.
    fn finish(self: Box<Self>, commit: Result<(), StoreError>, path: &Path);
}

type Work<T> = Box<dyn FnOnce(&Connection) -> Result<T, StoreError> + Send>;

struct Task<T> {
    work: Option<Work<T>>,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T: Send> Job for Task<T> {
    fn run(&mut self, conn: &Connection) -> Option<StoreError> {
        let work = self.work.take()?;
        let result = match conn.execute_batch("SAVEPOINT job") {
            Ok(()) => match work(conn) {
                Ok(value) => conn
                    .execute_batch("RELEASE job")
                    .map(|()| value)
                    .map_err(engine),
                Err(error) => {
                    let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
                    Err(error)
                }
            },
            Err(e) => Err(engine(e)),
        };
        let error = result.as_ref().err().cloned();
        self.result = Some(result);
        error
    }

    fn finish(self: Box<Self>, commit: Result<(), StoreError>, path: &Path) {
        let result = match (commit, self.result) {
            (Ok(()), Some(result)) => result.map_err(|e| with_path(e, path)),
            (Err(error), _) => Err(error),
            (Ok(()), None) => Err(StoreError::Closed),
        };
        let _ = self.reply.send(result);
    }
}

fn write_loop(
    conn: Connection,
    path: &Path,
    jobs: mpsc::Receiver<Box<dyn Job>>,
    stats: &StoreStats,
) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let commit = match conn.execute_batch("BEGIN IMMEDIATE") {
            Ok(()) => {
                let mut aborted = None;
                for job in &mut batch {
                    let error = job.run(&conn);
                    // SQLite rolls the whole transaction back on some errors (a full disk, an
                    // I/O error): then nothing of the batch is stored.
                    if conn.is_autocommit() {
                        aborted = Some(error.unwrap_or_else(|| {
                            StoreError::Engine("the transaction was rolled back".into())
                        }));
                        break;
                    }
                }
                match aborted {
                    Some(error) => Err(with_path(error, path)),
                    None => conn.execute_batch("COMMIT").map_err(|e| {
                        let _ = conn.execute_batch("ROLLBACK");
                        classify(path, e)
                    }),
                }
            }
            Err(e) => Err(classify(path, e)),
        };
        if let Err(error) = &commit {
            tracing::error!(%error, jobs = batch.len(), "store commit failed; its requests are refused");
        }
        stats.commits.fetch_add(1, Ordering::Relaxed);
        stats.jobs.fetch_add(batch.len() as u64, Ordering::Relaxed);
        for job in batch {
            job.finish(commit.clone(), path);
        }
    }
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Takes a lease that is free, lapsed or the claimer's own (`?1` call, `?2` owner, `?3` new
/// expiry, `?4` now); the epoch grows when the owner changes. No row: another owner holds it.
const CLAIM: &str = "INSERT INTO leases (call_id, owner, epoch, expires_at_ms) VALUES (?1, ?2, 1, ?3) \
    ON CONFLICT (call_id) DO UPDATE SET \
    epoch = CASE WHEN leases.owner = excluded.owner THEN leases.epoch ELSE leases.epoch + 1 END, \
    owner = excluded.owner, expires_at_ms = excluded.expires_at_ms \
    WHERE leases.owner = excluded.owner OR leases.expires_at_ms <= ?4 \
    RETURNING epoch";

/// Live calls without a lease or with a lapsed one (`?1` now).
const SWEEP_UNOWNED: &str = "SELECT c.call_id FROM calls c LEFT JOIN leases l ON l.call_id = c.call_id \
    WHERE c.ended_at_ms IS NULL AND (l.call_id IS NULL OR l.expires_at_ms <= ?1) \
    ORDER BY c.created_at_ms LIMIT 1000";

/// Calls of `?1` with entries received before `?2` and not handled.
const SWEEP_WAITING: &str = "SELECT DISTINCT j.call_id FROM journal j JOIN leases l ON l.call_id = j.call_id \
    WHERE l.owner = ?1 AND j.handled = 0 AND j.received_at_ms < ?2 LIMIT 1000";

const CALL_COLUMNS: &str = "call_id, tenant_id, direction, route, plugin, plugin_version, state, \
    my_participant_id, callback_uri, created_by_plugin, created_at_ms, last_keepalive_ms, \
    ended_at_ms, end_reason, graph_id";

fn call_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<CallRecord> {
    Ok(CallRecord {
        call_id: row.get(0)?,
        tenant_id: row.get(1)?,
        direction: row.get(2)?,
        route: row.get(3)?,
        plugin: row.get(4)?,
        plugin_version: row.get(5)?,
        state: row.get(6)?,
        my_participant_id: row.get(7)?,
        callback_uri: row.get(8)?,
        created_by_plugin: row.get::<_, i64>(9)? != 0,
        created_at_ms: row.get(10)?,
        last_keepalive_ms: row.get(11)?,
        ended_at_ms: row.get(12)?,
        end_reason: row.get(13)?,
        graph_id: row.get(14)?,
    })
}

impl Store for SqliteStore {
    fn instance(&self) -> &str {
        LOCAL_INSTANCE
    }

    fn claim(
        &self,
        call_id: String,
        ttl_ms: i64,
    ) -> BoxFuture<'static, Result<Option<u64>, StoreError>> {
        let held = self.held.clone();
        self.submit(move |conn| {
            let now = now_ms();
            let epoch: Option<i64> = conn
                .prepare_cached(CLAIM)
                .and_then(|mut q| {
                    q.query_row(params![call_id, LOCAL_INSTANCE, now + ttl_ms, now], |r| {
                        r.get(0)
                    })
                    .optional()
                })
                .map_err(engine)?;
            let epoch = epoch.map(to_u64);
            if let Some(epoch) = epoch {
                held.insert(&call_id, epoch);
            }
            Ok(epoch)
        })
    }

    fn renew(&self, ttl_ms: i64) -> BoxFuture<'static, Result<Vec<String>, StoreError>> {
        let held = self.held.clone();
        self.submit(move |conn| {
            let mut query = conn
                .prepare_cached(
                    "UPDATE leases SET expires_at_ms = ?2 WHERE owner = ?1 RETURNING call_id, epoch",
                )
                .map_err(engine)?;
            let still = query
                .query_map(params![LOCAL_INSTANCE, now_ms() + ttl_ms], |row| {
                    Ok((row.get::<_, String>(0)?, to_u64(row.get(1)?)))
                })
                .map_err(engine)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(engine)?;
            Ok(held.keep_only(&still))
        })
    }

    fn release(&self, call_ids: Option<Vec<String>>) -> BoxFuture<'static, Result<(), StoreError>> {
        let held = self.held.clone();
        self.submit(move |conn| {
            match &call_ids {
                None => {
                    conn.prepare_cached("UPDATE leases SET expires_at_ms = 0 WHERE owner = ?1")
                        .and_then(|mut q| q.execute(params![LOCAL_INSTANCE]))
                        .map_err(engine)?;
                    held.clear();
                }
                Some(calls) => {
                    for call_id in calls {
                        conn.prepare_cached(
                            "UPDATE leases SET expires_at_ms = 0 WHERE owner = ?1 AND call_id = ?2",
                        )
                        .and_then(|mut q| q.execute(params![LOCAL_INSTANCE, call_id]))
                        .map_err(engine)?;
                        held.remove(call_id);
                    }
                }
            }
            Ok(())
        })
    }

    fn owner(&self, call_id: String) -> BoxFuture<'static, Result<Option<String>, StoreError>> {
        self.submit(move |conn| {
            conn.prepare_cached(
                "SELECT owner FROM leases WHERE call_id = ?1 AND expires_at_ms > ?2",
            )
            .and_then(|mut q| {
                q.query_row(params![call_id, now_ms()], |r| r.get(0))
                    .optional()
            })
            .map_err(engine)
        })
    }

    fn wake(&self, _call_id: String) -> BoxFuture<'static, Result<(), StoreError>> {
        // One process has the data directory: its calls are woken in the process.
        Box::pin(std::future::ready(Ok(())))
    }

    fn announce(&self, _news: String) -> BoxFuture<'static, Result<(), StoreError>> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn wakes(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<crate::Heard>> {
        None
    }

    fn sweep(&self, quiet_before_ms: i64) -> BoxFuture<'static, Result<Sweep, StoreError>> {
        self.submit(move |conn| {
            let strings = |sql: &str, params: &[&dyn rusqlite::ToSql]| {
                let mut query = conn.prepare_cached(sql).map_err(engine)?;
                let rows = query.query_map(params, |row| row.get(0)).map_err(engine)?;
                rows.collect::<Result<Vec<String>, _>>().map_err(engine)
            };
            Ok(Sweep {
                unowned: strings(SWEEP_UNOWNED, &[&now_ms()])?,
                waiting: strings(SWEEP_WAITING, &[&LOCAL_INSTANCE, &quiet_before_ms])?,
            })
        })
    }

    fn append(&self, entries: Vec<NewEntry>) -> BoxFuture<'_, Result<Vec<Appended>, StoreError>> {
        self.submit(move |conn| {
            let mut appended = Vec::with_capacity(entries.len());
            for entry in entries {
                // `dedupe_key = NULL` matches nothing: an entry without a key is never a repeat.
                let existing: Option<i64> = conn
                    .prepare_cached("SELECT seq FROM journal WHERE call_id = ?1 AND dedupe_key = ?2")
                    .and_then(|mut q| {
                        q.query_row(params![entry.call_id, entry.dedupe_key], |r| r.get(0))
                            .optional()
                    })
                    .map_err(engine)?;
                if let Some(seq) = existing {
                    appended.push(Appended::Duplicate { seq: to_u64(seq) });
                    continue;
                }
                // An entry for a call that ended is over as it arrives: nothing handles it.
                let ended: bool = conn
                    .prepare_cached(
                        "SELECT COUNT(*) FROM calls WHERE call_id = ?1 AND ended_at_ms IS NOT NULL",
                    )
                    .and_then(|mut q| q.query_row(params![entry.call_id], |r| r.get::<_, i64>(0)))
                    .map_err(engine)?
                    > 0;
                let last: i64 = conn
                    .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM journal WHERE call_id = ?1")
                    .and_then(|mut q| q.query_row(params![entry.call_id], |r| r.get(0)))
                    .map_err(engine)?;
                conn.prepare_cached(
                    "INSERT INTO journal (call_id, seq, dedupe_key, tenant_id, received_at_ms, body, handled) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .and_then(|mut q| {
                    q.execute(params![
                        entry.call_id,
                        last + 1,
                        entry.dedupe_key,
                        entry.tenant_id,
                        entry.received_at_ms,
                        entry.body,
                        i64::from(ended)
                    ])
                })
                .map_err(engine)?;
                appended.push(Appended::Stored {
                    seq: to_u64(last + 1),
                });
            }
            Ok(appended)
        })
    }

    fn entries(
        &self,
        call_id: String,
        after: u64,
    ) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>> {
        self.submit(move |conn| {
            let mut query = conn
                .prepare_cached(
                    "SELECT seq, dedupe_key, received_at_ms, body, handled, tenant_id FROM journal WHERE call_id = ?1 AND seq > ?2 ORDER BY seq",
                )
                .map_err(engine)?;
            let rows = query
                .query_map(params![call_id, to_i64(after)], |row| {
                    Ok(Entry {
                        seq: to_u64(row.get(0)?),
                        dedupe_key: row.get(1)?,
                        received_at_ms: row.get(2)?,
                        body: row.get(3)?,
                        handled: row.get::<_, i64>(4)? != 0,
                        tenant_id: row.get(5)?,
                    })
                })
                .map_err(engine)?;
            rows.collect::<Result<_, _>>().map_err(engine)
        })
    }

    fn save_call(&self, call: CallRecord) -> BoxFuture<'static, Result<(), StoreError>> {
        let (held, fence) = (self.held.clone(), self.held.fence(&call.call_id));
        self.submit(move |conn| {
            check_fence(conn, &held, &call.call_id, fence)?;
            conn.prepare_cached(
                "INSERT INTO calls (call_id, tenant_id, direction, route, plugin, plugin_version, state, \
                 my_participant_id, callback_uri, created_by_plugin, created_at_ms, last_keepalive_ms, \
                 ended_at_ms, end_reason, graph_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) \
                 ON CONFLICT (call_id) DO UPDATE SET tenant_id = excluded.tenant_id, \
                 direction = excluded.direction, route = excluded.route, plugin = excluded.plugin, \
                 plugin_version = excluded.plugin_version, state = excluded.state, \
                 my_participant_id = excluded.my_participant_id, callback_uri = excluded.callback_uri, \
                 created_by_plugin = excluded.created_by_plugin, created_at_ms = excluded.created_at_ms, \
                 last_keepalive_ms = excluded.last_keepalive_ms, ended_at_ms = excluded.ended_at_ms, \
                 end_reason = excluded.end_reason, graph_id = excluded.graph_id",
            )
            .and_then(|mut q| {
                q.execute(params![
                    call.call_id,
                    call.tenant_id,
                    call.direction,
                    call.route,
                    call.plugin,
                    call.plugin_version,
                    call.state,
                    call.my_participant_id,
                    call.callback_uri,
                    i64::from(call.created_by_plugin),
                    call.created_at_ms,
                    call.last_keepalive_ms,
                    call.ended_at_ms,
                    call.end_reason,
                    call.graph_id,
                ])
            })
            .map_err(engine)?;
            Ok(())
        })
    }

    fn call(&self, call_id: String) -> BoxFuture<'_, Result<Option<CallRecord>, StoreError>> {
        self.submit(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {CALL_COLUMNS} FROM calls WHERE call_id = ?1"
            ))
            .and_then(|mut q| q.query_row(params![call_id], call_row).optional())
            .map_err(engine)
        })
    }

    fn live_calls(&self) -> BoxFuture<'_, Result<Vec<CallRecord>, StoreError>> {
        self.submit(move |conn| {
            let mut query = conn
                .prepare_cached(&format!(
                    "SELECT {CALL_COLUMNS} FROM calls WHERE ended_at_ms IS NULL ORDER BY created_at_ms, call_id"
                ))
                .map_err(engine)?;
            let rows = query.query_map([], call_row).map_err(engine)?;
            rows.collect::<Result<_, _>>().map_err(engine)
        })
    }

    fn handled(
        &self,
        call_id: String,
        seq: u64,
        writes: Vec<StateWrite>,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let (held, fence) = (self.held.clone(), self.held.fence(&call_id));
        self.submit(move |conn| {
            check_fence(conn, &held, &call_id, fence)?;
            let marked = conn
                .prepare_cached(
                    "UPDATE journal SET handled = 1 WHERE call_id = ?1 AND seq = ?2 AND handled = 0",
                )
                .and_then(|mut q| q.execute(params![call_id, to_i64(seq)]))
                .map_err(engine)?;
            if marked == 0 {
                let exists: Option<i64> = conn
                    .prepare_cached("SELECT seq FROM journal WHERE call_id = ?1 AND seq = ?2")
                    .and_then(|mut q| {
                        q.query_row(params![call_id, to_i64(seq)], |r| r.get(0))
                            .optional()
                    })
                    .map_err(engine)?;
                return match exists {
                    Some(_) => Ok(false),
                    None => Err(StoreError::UnknownEntry { call_id, seq }),
                };
            }
            apply_writes(conn, writes)?;
            Ok(true)
        })
    }

    fn write_state(&self, writes: Vec<StateWrite>) -> BoxFuture<'_, Result<(), StoreError>> {
        self.submit(move |conn| apply_writes(conn, writes))
    }

    fn end_call(
        &self,
        call_id: String,
        at_ms: i64,
        reason: String,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        let (held, fence) = (self.held.clone(), self.held.fence(&call_id));
        self.submit(move |conn| {
            check_fence(conn, &held, &call_id, fence)?;
            conn.prepare_cached(
                "UPDATE calls SET ended_at_ms = ?2, end_reason = ?3 WHERE call_id = ?1 AND ended_at_ms IS NULL",
            )
            .and_then(|mut q| q.execute(params![call_id, at_ms, reason]))
            .map_err(engine)?;
            conn.prepare_cached("UPDATE journal SET handled = 1 WHERE call_id = ?1")
                .and_then(|mut q| q.execute(params![call_id]))
                .map_err(engine)?;
            conn.prepare_cached("DELETE FROM leases WHERE call_id = ?1")
                .and_then(|mut q| q.execute(params![call_id]))
                .map_err(engine)?;
            held.remove(&call_id);
            Ok(())
        })
    }

    fn state(
        &self,
        scope: String,
        key: String,
    ) -> BoxFuture<'_, Result<Option<StateEntry>, StoreError>> {
        self.submit(move |conn| stored_state(conn, &scope, &key))
    }

    fn swap_state(&self, swap: StateSwap) -> BoxFuture<'static, Result<Swapped, StoreError>> {
        let (held, fence) = (self.held.clone(), self.held.fence(&swap.call_id));
        self.submit(move |conn| {
            check_fence(conn, &held, &swap.call_id, fence)?;
            // One writer thread: nothing changes the value between the read and the write.
            let current = stored_state(conn, &swap.scope, &swap.key)?.map_or(0, |e| e.revision);
            if current != swap.expected {
                return Ok(Swapped::Conflict { revision: current });
            }
            let write = StateWrite {
                scope: swap.scope,
                key: swap.key,
                value: swap.value,
            };
            Ok(Swapped::Done {
                revision: apply_write(conn, write)?,
            })
        })
    }

    fn put_component(&self, bytes: Vec<u8>) -> BoxFuture<'_, Result<String, StoreError>> {
        self.submit(move |conn| {
            let hash = component_hash(&bytes);
            conn.prepare_cached(
                "INSERT INTO components (hash, bytes, stored_at_ms) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (hash) DO NOTHING",
            )
            .and_then(|mut q| q.execute(params![hash, bytes, now_ms()]))
            .map_err(engine)?;
            Ok(hash)
        })
    }

    fn component(&self, hash: String) -> BoxFuture<'_, Result<Option<Vec<u8>>, StoreError>> {
        self.submit(move |conn| {
            conn.prepare_cached("SELECT bytes FROM components WHERE hash = ?1")
                .and_then(|mut q| q.query_row(params![hash], |r| r.get(0)).optional())
                .map_err(engine)
        })
    }

    fn state_scope(&self, scope: String) -> BoxFuture<'_, Result<crate::StateValues, StoreError>> {
        self.submit(move |conn| {
            let mut query = conn
                .prepare_cached("SELECT key, value FROM state WHERE scope = ?1 ORDER BY key")
                .map_err(engine)?;
            let rows = query
                .query_map(params![scope], |row| Ok((row.get(0)?, row.get(1)?)))
                .map_err(engine)?;
            rows.collect::<Result<_, _>>().map_err(engine)
        })
    }

    fn keepalive(&self, call_id: String, at_ms: i64) -> BoxFuture<'_, Result<(), StoreError>> {
        let (held, fence) = (self.held.clone(), self.held.fence(&call_id));
        self.submit(move |conn| {
            check_fence(conn, &held, &call_id, fence)?;
            conn.prepare_cached("UPDATE calls SET last_keepalive_ms = ?2 WHERE call_id = ?1")
                .and_then(|mut q| q.execute(params![call_id, at_ms]))
                .map_err(engine)?;
            Ok(())
        })
    }

    fn begin_intent(
        &self,
        intent: Intent,
    ) -> BoxFuture<'_, Result<Option<IntentRecord>, StoreError>> {
        let (held, fence) = (self.held.clone(), self.held.fence(&intent.call_id));
        self.submit(move |conn| {
            check_fence(conn, &held, &intent.call_id, fence)?;
            let existing = conn
                .prepare_cached(
                    "SELECT seq, idx, action, result FROM intents WHERE call_id = ?1 AND seq = ?2 AND idx = ?3",
                )
                .and_then(|mut q| {
                    q.query_row(
                        params![intent.call_id, to_i64(intent.seq), i64::from(intent.idx)],
                        intent_row,
                    )
                    .optional()
                })
                .map_err(engine)?;
            if existing.is_some() {
                return Ok(existing);
            }
            conn.prepare_cached(
                "INSERT INTO intents (call_id, seq, idx, action, started_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut q| {
                q.execute(params![
                    intent.call_id,
                    to_i64(intent.seq),
                    i64::from(intent.idx),
                    intent.action,
                    intent.started_at_ms
                ])
            })
            .map_err(engine)?;
            Ok(None)
        })
    }

    fn finish_intent(
        &self,
        call_id: String,
        seq: u64,
        idx: u32,
        result: String,
    ) -> BoxFuture<'static, Result<(), StoreError>> {
        let (held, fence) = (self.held.clone(), self.held.fence(&call_id));
        self.submit(move |conn| {
            check_fence(conn, &held, &call_id, fence)?;
            conn.prepare_cached(
                "UPDATE intents SET result = ?4 WHERE call_id = ?1 AND seq = ?2 AND idx = ?3",
            )
            .and_then(|mut q| q.execute(params![call_id, to_i64(seq), i64::from(idx), result]))
            .map_err(engine)?;
            Ok(())
        })
    }

    fn intents(&self, call_id: String) -> BoxFuture<'_, Result<Vec<IntentRecord>, StoreError>> {
        self.submit(move |conn| {
            let mut query = conn
                .prepare_cached(
                    "SELECT seq, idx, action, result FROM intents WHERE call_id = ?1 ORDER BY seq, idx",
                )
                .map_err(engine)?;
            let rows = query
                .query_map(params![call_id], intent_row)
                .map_err(engine)?;
            rows.collect::<Result<_, _>>().map_err(engine)
        })
    }

    fn ended_calls(&self, limit: usize) -> BoxFuture<'_, Result<Vec<CallRecord>, StoreError>> {
        self.submit(move |conn| {
            let mut query = conn
                .prepare_cached(&format!(
                    "SELECT {CALL_COLUMNS} FROM calls WHERE ended_at_ms IS NOT NULL ORDER BY ended_at_ms DESC, call_id LIMIT ?1"
                ))
                .map_err(engine)?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = query.query_map(params![limit], call_row).map_err(engine)?;
            rows.collect::<Result<_, _>>().map_err(engine)
        })
    }

    fn unowned_entries(
        &self,
        since_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<(String, Entry)>, StoreError>> {
        self.submit(move |conn| {
            let mut query = conn
                .prepare_cached(
                    "SELECT j.call_id, j.seq, j.dedupe_key, j.received_at_ms, j.body, j.tenant_id FROM journal j \
                     WHERE j.received_at_ms >= ?1 AND j.handled = 0 \
                     AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.call_id = j.call_id) \
                     ORDER BY j.received_at_ms, j.call_id, j.seq",
                )
                .map_err(engine)?;
            let rows = query
                .query_map(params![since_ms], |row| {
                    Ok((
                        row.get(0)?,
                        Entry {
                            seq: to_u64(row.get(1)?),
                            dedupe_key: row.get(2)?,
                            received_at_ms: row.get(3)?,
                            body: row.get(4)?,
                            handled: false,
                            tenant_id: row.get(5)?,
                        },
                    ))
                })
                .map_err(engine)?;
            rows.collect::<Result<_, _>>().map_err(engine)
        })
    }

    fn prune(&self, ended_before_ms: i64) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.submit(move |conn| {
            let run = |sql: &str| {
                conn.prepare_cached(sql)
                    .and_then(|mut q| q.execute(params![ended_before_ms]))
                    .map_err(engine)
            };
            run("DELETE FROM journal WHERE call_id IN \
                 (SELECT call_id FROM calls WHERE ended_at_ms < ?1)")?;
            run("DELETE FROM leases WHERE call_id IN \
                 (SELECT call_id FROM calls WHERE ended_at_ms < ?1)")?;
            run("DELETE FROM intents WHERE call_id IN \
                 (SELECT call_id FROM calls WHERE ended_at_ms < ?1)")?;
            run(
                "DELETE FROM state WHERE EXISTS (SELECT 1 FROM calls c WHERE c.ended_at_ms < ?1 \
                 AND substr(state.scope, 1, length(c.call_id) + 6) = 'call/' || c.call_id || '/')",
            )?;
            run("DELETE FROM journal WHERE received_at_ms < ?1 \
                 AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.call_id = journal.call_id)")?;
            let calls = run("DELETE FROM calls WHERE ended_at_ms < ?1")?;
            Ok(calls as u64)
        })
    }
}

/// Refuses a write for a call this instance claimed at `fence` and has lost since.
fn check_fence(
    conn: &Connection,
    held: &Held,
    call_id: &str,
    fence: Option<u64>,
) -> Result<(), StoreError> {
    let Some(epoch) = fence else {
        return Ok(());
    };
    let current = conn
        .prepare_cached("SELECT 1 FROM leases WHERE call_id = ?1 AND owner = ?2 AND epoch = ?3")
        .and_then(|mut q| {
            q.query_row(params![call_id, LOCAL_INSTANCE, to_i64(epoch)], |_| Ok(()))
                .optional()
        })
        .map_err(engine)?;
    match current {
        Some(()) => Ok(()),
        None => Err(held.fenced(call_id, epoch)),
    }
}

fn apply_writes(conn: &Connection, writes: Vec<StateWrite>) -> Result<(), StoreError> {
    for write in writes {
        apply_write(conn, write)?;
    }
    Ok(())
}

/// Writes or deletes one value; its new revision (0 once deleted).
fn apply_write(conn: &Connection, write: StateWrite) -> Result<u64, StoreError> {
    match write.value {
        Some(value) => {
            let revision = fresh_revision();
            conn.prepare_cached(
                "INSERT INTO state (scope, key, value, revision) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value, revision = excluded.revision",
            )
            .and_then(|mut q| q.execute(params![write.scope, write.key, value, revision]))
            .map_err(engine)?;
            Ok(to_u64(revision))
        }
        None => {
            conn.prepare_cached("DELETE FROM state WHERE scope = ?1 AND key = ?2")
                .and_then(|mut q| q.execute(params![write.scope, write.key]))
                .map_err(engine)?;
            Ok(0)
        }
    }
}

fn stored_state(
    conn: &Connection,
    scope: &str,
    key: &str,
) -> Result<Option<StateEntry>, StoreError> {
    conn.prepare_cached("SELECT value, revision FROM state WHERE scope = ?1 AND key = ?2")
        .and_then(|mut q| {
            q.query_row(params![scope, key], |r| {
                Ok(StateEntry {
                    value: r.get(0)?,
                    revision: to_u64(r.get(1)?),
                })
            })
            .optional()
        })
        .map_err(engine)
}

fn intent_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<IntentRecord> {
    Ok(IntentRecord {
        seq: to_u64(row.get(0)?),
        idx: u32::try_from(row.get::<_, i64>(1)?).unwrap_or(u32::MAX),
        action: row.get(2)?,
        result: row.get(3)?,
    })
}

#[cfg(test)]
mod tests;
