//! Instances on one PostgreSQL database: one, two and three services in this process, each
//! on a runtime of its own (its threads named for it), behind the load generator's round
//! robin: each notification goes to the next instance, so with two or three most reach an
//! instance that does not own their call (it journals the notification and wakes the owner).
//!
//! The instances share the machine's two cores with each other, the generator and the
//! server, so raw throughput says little: the rows give CPU per notification (each
//! instance's, and PostgreSQL's from its processes in `/proc`) and the round trips to the
//! server per notification, from the stores' own counters.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::json;

use super::Report;
use super::cpu::{CpuSnapshot, ServiceRuntime};
use super::e2e::{FakeGraph, drive};
use super::run::{BOT, BenchOptions, Storage, start_service};
use callhost_simulator::{IssueClaims, SIM_TENANT, Simulator, SimulatorSettings};
use callhost_store::{PostgresOptions, PostgresStore};

const SECTION: &str = "Scale-out: instances on one PostgreSQL database";

pub(super) async fn measure(options: &BenchOptions, report: &mut Report) -> anyhow::Result<()> {
    if std::env::var_os(callhost_store::testing::TEST_SERVER_VAR).is_none() {
        report.add(
            SECTION,
            "not measured",
            vec![],
            Some(format!(
                "no PostgreSQL server: start one with `cargo xtask postgres` and export {} as it prints",
                callhost_store::testing::TEST_SERVER_VAR
            )),
        );
        return Ok(());
    }
    let seconds = if options.quick { 3 } else { 10 };
    let duration = Duration::from_secs(seconds);
    let concurrency = 64;
    let sim = Simulator::start(SimulatorSettings {
        bot_app_id: BOT.into(),
        ..SimulatorSettings::default()
    })
    .await?;
    let token = sim
        .issuer()
        .issue(IssueClaims::graph_callback(BOT, SIM_TENANT));
    for count in 1..=3usize {
        let database = callhost_store::testing::fresh_database(&format!("bench{count}")).await;
        let (graph, graph_addr) = FakeGraph::start().await?;
        let mut instances = Vec::new();
        for i in 0..count {
            let name = format!("callhost-n{}", i + 1);
            let runtime = ServiceRuntime::named(&name)?;
            let options_pg =
                PostgresOptions::new(&database, None)?.with_instance(&format!("n{}", i + 1));
            // Opened on the instance's runtime: its writer and listener count as its CPU.
            let store = runtime
                .handle()
                .spawn(async move { PostgresStore::open(&options_pg).await })
                .await??;
            let (url, app) = start_service(
                &options.ivr(),
                &sim,
                graph_addr,
                &options.shared_cache(),
                Storage::Postgres(Box::new(store.clone())),
                runtime.handle(),
            )
            .await?;
            instances.push((name, url, app, store, runtime));
        }
        let targets: Vec<String> = instances.iter().map(|(_, url, ..)| url.clone()).collect();
        let stores: Vec<PostgresStore> = instances.iter().map(|i| i.3.clone()).collect();
        let round_trips = || {
            stores
                .iter()
                .map(|store| store.stats().round_trips.load(Ordering::Relaxed))
                .sum::<u64>()
        };
        let trips_before = round_trips();
        let cpu_before = CpuSnapshot::now();
        let server_before = server_cpu();
        let load = drive(
            &targets,
            &token,
            Some(graph.clone()),
            BOT,
            concurrency,
            None,
            duration,
        )
        .await;
        let cpu_after = CpuSnapshot::now();
        let server_used = server_cpu().saturating_sub(server_before);
        let trips = round_trips() - trips_before;
        let notifications = load.notifications.max(1) as f64;
        let per_instance: Vec<f64> = instances
            .iter()
            .map(|(name, ..)| {
                cpu_after.used_by(&cpu_before, name).as_secs_f64() * 1e6 / notifications
            })
            .collect();
        let service_total: f64 = per_instance.iter().sum();
        report.add(
            SECTION,
            &format!("{count} instance{}", if count == 1 { "" } else { "s" }),
            vec![
                ("events/s", json!(load.notifications_per_s.round())),
                ("p50 µs", json!(load.latency.p50_us)),
                ("p99 µs", json!(load.latency.p99_us)),
                ("errors", json!(load.errors)),
                ("service CPU µs/event, all instances", json!(service_total)),
                (
                    "service CPU µs/event, each instance",
                    json!(
                        per_instance
                            .iter()
                            .map(|us| us.round())
                            .collect::<Vec<_>>()
                    ),
                ),
                (
                    "PostgreSQL CPU µs/event",
                    json!(server_used.as_secs_f64() * 1e6 / notifications),
                ),
                ("round trips/event", json!(trips as f64 / notifications)),
            ],
            Some(format!(
                "{concurrency} callers back to back, {seconds} s, each notification to the next instance"
            )),
        );
        drop(graph);
        for (_, _, app, store, runtime) in instances {
            drop(app);
            drop(store);
            drop(runtime);
        }
    }
    Ok(())
}

/// CPU time used so far by every `postgres` process of this machine (the test server's).
fn server_cpu() -> Duration {
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    let mut ticks = 0u64;
    for process in processes.flatten() {
        let path = process.path();
        let is_postgres = std::fs::read_to_string(path.join("comm"))
            .is_ok_and(|comm| comm.trim_end() == "postgres");
        if !is_postgres {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(path.join("stat")) else {
            continue;
        };
        // After the command in parentheses: state is field 3; utime and stime are 14 and 15.
        let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
        ticks += field(14).unwrap_or(0) + field(15).unwrap_or(0);
    }
    // Linux reports these in USER_HZ, 100 per second.
    Duration::from_millis(ticks * 10)
}
