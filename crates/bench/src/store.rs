//! The store on its own: journal appends as the callback path makes them (one callback's
//! notification per append, many callbacks at once), on SQLite with full sync in a temporary
//! data directory against the memory engine, in the same run.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::Report;
use super::cpu::CpuSnapshot;
use super::run::{BenchOptions, tempfile_dir};
use super::stats::Stats;
use callhost_store::{MemoryStore, NewEntry, SqliteStore, Store, Synchronous};
use serde_json::json;

const SECTION: &str = "Store: journal appends, SQLite (WAL) against memory";
/// About the size of a tone notification as journaled.
const BODY_BYTES: usize = 400;

pub async fn measure(options: &BenchOptions, report: &mut Report) -> anyhow::Result<()> {
    let appends = if options.quick { 2_000 } else { 20_000 };
    for appenders in [1, 16, 64] {
        let who = if appenders == 1 {
            "1 appender".to_string()
        } else {
            format!("{appenders} appenders")
        };
        let memory: Arc<dyn Store> = Arc::new(MemoryStore::default());
        let (stats, _) = run(memory, appenders, appends).await?;
        report.add(
            SECTION,
            &format!("memory, {who}"),
            vec![
                ("appends/s", json!(stats.per_second.round())),
                ("p50 µs", json!(stats.latency.p50_us)),
                ("p99 µs", json!(stats.latency.p99_us)),
            ],
            None,
        );
        for sync in [Synchronous::Full, Synchronous::Normal] {
            let dir = tempfile_dir()?;
            let sqlite = SqliteStore::open_with(&dir, sync)?;
            let commits_before = sqlite.stats().commits.load(Ordering::Relaxed);
            let cpu_before = CpuSnapshot::now();
            let (stats, elapsed) = run(Arc::new(sqlite.clone()), appenders, appends).await?;
            let commits = sqlite.stats().commits.load(Ordering::Relaxed) - commits_before;
            let writer_cpu = CpuSnapshot::now().used_by(&cpu_before, "callhost-store");
            report.add(
                SECTION,
                &format!("sqlite ({sync:?} sync), {who}").to_lowercase(),
                vec![
                    ("appends/s", json!(stats.per_second.round())),
                    ("p50 µs", json!(stats.latency.p50_us)),
                    ("p99 µs", json!(stats.latency.p99_us)),
                    (
                        "commits/s",
                        json!((commits as f64 / elapsed.as_secs_f64()).round()),
                    ),
                    (
                        "appends per commit",
                        json!(appends as f64 / commits.max(1) as f64),
                    ),
                    (
                        "writer CPU µs/append",
                        json!(writer_cpu.as_secs_f64() * 1e6 / appends as f64),
                    ),
                ],
                Some(format!("{appends} appends of {BODY_BYTES} bytes")),
            );
            drop(sqlite);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    Ok(())
}

struct Measured {
    per_second: f64,
    latency: Stats,
}

/// `appends` single-entry appends by `appenders` tasks, each on calls of its own.
async fn run(
    store: Arc<dyn Store>,
    appenders: usize,
    appends: usize,
) -> anyhow::Result<(Measured, Duration)> {
    let started = Instant::now();
    let tasks: Vec<_> = (0..appenders)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                for i in 0..appends / appenders {
                    let entry = NewEntry {
                        call_id: format!("bench-call-{task}-{}", i / 50),
                        dedupe_key: Some(format!("tone:{i}")),
                        tenant_id: "bench-tenant".into(),
                        received_at_ms: 0,
                        body: vec![b'x'; BODY_BYTES],
                    };
                    let at = Instant::now();
                    store.append(vec![entry]).await?;
                    latencies.push(at.elapsed());
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = started.elapsed();
    let measured = Measured {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        latency: Stats::from_samples(&mut latencies),
    };
    Ok((measured, elapsed))
}
