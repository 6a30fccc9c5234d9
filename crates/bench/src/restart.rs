//! Restart to ready: a service on SQLite with calls in progress stops (its runtime shut down,
//! as the end of a process ends it), and a new service on the same data directory is timed
//! from its start until it would report ready: the store opened and checked, the plugin loaded
//! from the compile cache, and every call restored (its version re-pinned, its keep-alive
//! re-armed). Then one restored call is carried on, to show it really is.

use std::path::Path;
use std::time::{Duration, Instant};

use callhost::app::App;
use serde_json::json;

use super::Report;
use super::cpu::ServiceRuntime;
use super::e2e::{FakeGraph, call_script};
use super::run::{BOT, BenchOptions, Storage, open_calls, start_service, tempfile_dir};
use callhost_simulator::{IssueClaims, SIM_TENANT, Simulator, SimulatorSettings};

const SECTION: &str = "Restart to ready: SQLite, calls in progress restored";

pub async fn measure(options: &BenchOptions, report: &mut Report) -> anyhow::Result<()> {
    let sim = Simulator::start(SimulatorSettings {
        bot_app_id: BOT.into(),
        ..SimulatorSettings::default()
    })
    .await?;
    let (graph, graph_addr) = FakeGraph::start().await?;
    let token = sim
        .issuer()
        .issue(IssueClaims::graph_callback(BOT, SIM_TENANT));
    let http = reqwest::Client::new();
    let counts: &[usize] = if options.quick {
        &[0, 1_000]
    } else {
        &[0, 1_000, 10_000]
    };
    for &count in counts {
        let dir = tempfile_dir()?;
        let data_dir = dir.join("data");
        let (url, app, service, _) = start(options, &sim, graph_addr, &data_dir).await?;
        let prefix = format!("restart-{count}");
        open_calls(&http, &url, &token, &graph, &prefix, 0..count).await;
        let live = app.dispatcher.calls().len();
        drop(app);
        drop(service);
        wait_for_release(&data_dir).await?;
        let database = std::fs::metadata(data_dir.join("callhost.db"))
            .map(|m| m.len())
            .unwrap_or(0)
            + std::fs::metadata(data_dir.join("callhost.db-wal"))
                .map(|m| m.len())
                .unwrap_or(0);

        let (url, app, service, took) = start(options, &sim, graph_addr, &data_dir).await?;
        let restored = app.dispatcher.calls().len();
        let carried_on = match count {
            0 => "-".to_string(),
            _ => carry_on(&http, &url, &token, &graph, &format!("{prefix}-0")).await,
        };
        report.add(
            SECTION,
            &format!("{count} calls in progress"),
            vec![
                ("start to ready ms", json!(took.as_secs_f64() * 1e3)),
                ("calls before", json!(live)),
                ("calls restored", json!(restored)),
                ("database MiB", json!(database as f64 / (1 << 20) as f64)),
                ("a restored call carried on", json!(carried_on)),
            ],
            Some(
                "store opened, plugin from the compile cache, every call re-pinned and its \
                 keep-alive re-armed"
                    .into(),
            ),
        );
        drop(app);
        drop(service);
        wait_for_release(&data_dir).await?;
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

/// A service on `data_dir`, and how long it took to be ready.
async fn start(
    options: &BenchOptions,
    sim: &Simulator,
    graph_addr: std::net::SocketAddr,
    data_dir: &Path,
) -> anyhow::Result<(String, App, ServiceRuntime, Duration)> {
    let service = ServiceRuntime::new()?;
    let started = Instant::now();
    let (url, app) = start_service(
        &options.ivr(),
        sim,
        graph_addr,
        &options.shared_cache(),
        Storage::DataDir(data_dir.to_path_buf()),
        service.handle(),
    )
    .await?;
    Ok((url, app, service, started.elapsed()))
}

/// Until the stopped service's tasks have let go of the data directory's lock.
async fn wait_for_release(data_dir: &Path) -> anyhow::Result<()> {
    let lock = std::fs::File::open(data_dir.join("callhost.lock"))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match lock.try_lock() {
            Ok(()) => {
                lock.unlock()?;
                return Ok(());
            }
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err(e) => {
                anyhow::bail!(
                    "the stopped service still holds {}: {e}",
                    data_dir.display()
                )
            }
        }
    }
}

/// The restored call's menu prompt completes: the IVR, restored from the store, listens for
/// keys. Then key 2 → the info prompt. "yes" when that Graph request arrives.
async fn carry_on(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    graph: &FakeGraph,
    call: &str,
) -> String {
    let script = call_script(call, BOT);
    for (body, expect) in script.into_iter().skip(2).take(3) {
        let _ = http.post(url).bearer_auth(token).json(&body).send().await;
        if let Some((suffix, count)) = expect
            && graph
                .wait(call, suffix, count, Duration::from_secs(10))
                .await
                .is_none()
        {
            return format!("no, no {suffix} request");
        }
    }
    "yes".into()
}
