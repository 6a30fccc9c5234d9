//! The cost of an outbound HTTP request from a plugin: the CRM router's `established` event,
//! which looks the caller up with one `GET`, against a loopback service answering at once,
//! beside the same event with the lookup refused by policy (no request leaves). The difference
//! is what one request costs: the send hook's checks, the connection, HTTP/1.1, the response
//! body through wasi-http, and the timeline record. CPU is the whole process's (plugin, host
//! and the loopback service).

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use super::Report;
use super::cpu::CpuSnapshot;
use super::events::{NullControl, context, established_event};
use super::run::BenchOptions;
use super::stats::Stats;
use callhost::call::CallState;
use callhost::runtime::{
    AllowedHosts, EventInput, MemoryStateStore, Outcome, PluginSpec, Runtime, RuntimeSettings,
};

pub(super) async fn measure(options: &BenchOptions, report: &mut Report) -> anyhow::Result<()> {
    let section = "Outbound HTTP: one request from a plugin";
    let path = options.plugin("crm-router");
    if !path.exists() {
        report.add(
            section,
            "crm-router",
            vec![],
            Some(format!("not built ({})", path.display())),
        );
        return Ok(());
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let crm = axum::Router::new().fallback(|| async {
        (
            [("content-type", "application/json")],
            r#"{"name": "Contoso", "accountManager": "user:33333333-3333-3333-3333-333333333333"}"#,
        )
    });
    let server = tokio::spawn(async move { axum::serve(listener, crm).await });
    let runtime = Runtime::new(RuntimeSettings::default())?;
    let bytes = std::fs::read(&path)?;
    let iterations = if options.quick { 300 } else { 2000 };
    let origin = format!("http://127.0.0.1:{port}");
    for (row, allowed) in [
        ("lookup refused by policy (no request)", Vec::new()),
        (
            "lookup answered 200 by a loopback service",
            vec![origin.clone()],
        ),
    ] {
        let mut spec = PluginSpec::new("crm");
        spec.allowed_outbound_hosts =
            AllowedHosts::parse(&allowed).map_err(|e| anyhow::anyhow!(e))?;
        for (k, v) in [
            ("crm_url", format!("{origin}/callers/{{caller}}")),
            ("menu", "https://media.example.com/menu.wav".into()),
            ("sales", "user:22222222-2222-2222-2222-222222222222".into()),
            ("operator", "phone:+14255550100".into()),
        ] {
            spec.config.insert(k.into(), v);
        }
        let plugin = runtime.load(spec, &bytes)?;
        let state = Arc::new(MemoryStateStore::new());
        let warmup = iterations / 10;
        let mut samples = Vec::with_capacity(iterations);
        let mut cpu_before = CpuSnapshot::now();
        for i in 0..warmup + iterations {
            if i == warmup {
                cpu_before = CpuSnapshot::now();
            }
            let call_id = format!("call-{i}");
            let started = Instant::now();
            let invocation = runtime
                .invoke(
                    &plugin,
                    EventInput {
                        call: context(&call_id, CallState::Established),
                        event: established_event(&call_id),
                        control: Arc::new(NullControl),
                        state: state.clone(),
                        timers: Default::default(),
                    },
                )
                .await;
            if invocation.outcome != Outcome::Completed {
                anyhow::bail!("the CRM router did not complete: {:?}", invocation.outcome);
            }
            if i >= warmup {
                samples.push(started.elapsed());
            }
        }
        let cpu = CpuSnapshot::now().since(&cpu_before);
        let cpu_us = (cpu.service + cpu.others).as_secs_f64() * 1e6 / iterations as f64;
        let stats = Stats::from_samples(&mut samples);
        report.add(
            section,
            row,
            vec![
                ("p50 µs", json!(stats.p50_us)),
                ("p99 µs", json!(stats.p99_us)),
                ("CPU µs/event", json!(cpu_us.round())),
            ],
            Some(format!(
                "{iterations} `established` events of crm-router, each in a fresh instance; a new connection per request"
            )),
        );
    }
    server.abort();
    Ok(())
}
