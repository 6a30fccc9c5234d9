//! Timer lateness: how long after it was due a timer's Graph request reaches Graph. The IVR
//! sets its silence timer when Graph reports the menu played; when it fires, the IVR plays the
//! menu again. Lateness is that second `playPrompt`'s arrival at the fake Graph minus the
//! completion's acknowledgement minus the timer's delay: it holds the completion's handling,
//! the firing's journal append, the queue, the plugin's turn and the Graph request. Measured
//! on an idle service and under saturating load from the end-to-end callers, on SQLite.

use std::time::{Duration, Instant};

use serde_json::json;

use super::Report;
use super::e2e::{call_script, drive};
use super::run::{BOT, BenchOptions, Loaded, NO_INPUT_MS, Storage, loaded_service, tempfile_dir};
use super::stats::Stats;
use callhost_simulator::Notification;
use callhost_store::{SqliteStore, Synchronous};

pub(super) async fn measure(options: &BenchOptions, report: &mut Report) -> anyhow::Result<()> {
    let section = "Timers: lateness of a firing";
    let calls = if options.quick { 100 } else { 400 };
    let load_for = Duration::from_secs(if options.quick { 3 } else { 8 });
    for loaded in [false, true] {
        let dir = tempfile_dir()?;
        let store = SqliteStore::open_with(&dir, Synchronous::Normal)?;
        let Loaded {
            url,
            token,
            graph,
            app: _app,
            sim: _sim,
            service: _service,
        } = loaded_service(
            &options.ivr(),
            &options.shared_cache(),
            Storage::Sqlite(store, Synchronous::Normal),
        )
        .await?;
        let load = loaded.then(|| {
            let (url, token, graph) = (url.clone(), token.clone(), graph.clone());
            tokio::spawn(async move {
                drive(&[url], &token, Some(graph), BOT, 64, None, load_for).await
            })
        });
        // The load reaches its pace before the timers start.
        if loaded {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let http = reqwest::Client::new();
        let mut menus_over = Vec::with_capacity(calls);
        let run = if loaded { "loaded" } else { "idle" };
        for n in 0..calls {
            let call = format!("timer-{run}-{n}-{}", std::process::id());
            let script = call_script(&call, BOT);
            for (body, _) in &script[..2] {
                post(&http, &url, &token, body).await?;
            }
            graph
                .wait(&call, "playPrompt", 1, Duration::from_secs(10))
                .await
                .ok_or_else(|| anyhow::anyhow!("call {call}: the menu never played"))?;
            let menu_over = Notification::new(
                "deleted",
                format!("/communications/calls/{call}/operations/{call}-op-1"),
                json!({"@odata.type": "#microsoft.graph.playPromptOperation", "id": format!("{call}-op-1"),
                       "status": "completed", "clientContext": "menu",
                       "resultInfo": {"code": 200, "subcode": 0, "message": "Action completed successfully."}}),
            )
            .envelope();
            post(&http, &url, &token, &menu_over).await?;
            menus_over.push((call, Instant::now()));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let delay = Duration::from_millis(NO_INPUT_MS);
        let mut late = Vec::with_capacity(calls);
        for (call, acked) in &menus_over {
            let again = graph
                .wait(call, "playPrompt", 2, Duration::from_secs(30))
                .await
                .ok_or_else(|| anyhow::anyhow!("call {call}: the silence timer never fired"))?;
            late.push(again.saturating_duration_since(*acked + delay));
        }
        let notifications = match load {
            Some(load) => load.await?.notifications_per_s.round(),
            None => 0.0,
        };
        let stats = Stats::from_samples(&mut late);
        let max_ms = late.iter().max().map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        report.add(
            section,
            if loaded { "under load" } else { "idle" },
            vec![
                ("timers", json!(calls)),
                ("p50 µs", json!(stats.p50_us)),
                ("p99 µs", json!(stats.p99_us)),
                ("max ms", json!((max_ms * 10.0).round() / 10.0)),
                ("load events/s", json!(notifications)),
            ],
            Some(format!(
                "{NO_INPUT_MS} ms timers, one set every 5 ms; SQLite (synchronous = normal)"
            )),
        );
    }
    Ok(())
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    body: &serde_json::Value,
) -> anyhow::Result<()> {
    let status = http
        .post(url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await?
        .status();
    anyhow::ensure!(status.is_success(), "a notification was answered {status}");
    Ok(())
}
