//! `cargo xtask profile`: where callhost's CPU time goes under load. Runs the end-to-end
//! benchmark (`callhost bench --quick --only end-to-end`) under `perf record` with DWARF call
//! graphs, then sorts the samples of the service's threads (`callhost-svc`, `callhost-log`,
//! `callhost-epoch`; not the load generator, the fake Graph or the bare handler) into the parts
//! of the event path, and prints each part's share and its CPU microseconds per notification.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{apt, command, plugins};

/// The parts of the event path, each named by frames that only it runs. A sample goes to the
/// first part with a frame anywhere in its stack, so nested parts come before what holds them
/// (a Graph request is made from inside a plugin's host call).
const PARTS: &[(&str, &[&str])] = &[
    (
        "Graph request: build, send, answer (client side, TCP)",
        &["GraphClient::send", "GraphActions::"],
    ),
    ("journal", &["callhost::journal::"]),
    (
        "logging (formatting)",
        &["tracing_core::event::Event::dispatch"],
    ),
    ("plugin instance: create", &["instantiate_async"]),
    (
        "plugin instance: tear down",
        &[
            "Store<T>::into_data",
            "drop_in_place<wasmtime::runtime::store::StoreInner",
        ],
    ),
    (
        "plugin on-event: guest code and host calls",
        &[
            "call_on_event",
            "HostFn::",
            "wasm[",
            "wasmtime_fiber_start",
            "component-trampolines",
        ],
    ),
    (
        "callback authentication (JWT)",
        &["callhost::server::auth::"],
    ),
    ("notification parse", &["callhost::graph::notification::"]),
    (
        "dispatch: queues, call tracking, worker",
        &["callhost::dispatch::"],
    ),
    (
        "inbound HTTP: hyper server, TCP",
        &["axum::serve::", "hyper::proto::h1", "hyper_util::server"],
    ),
    (
        "scheduler: tokio, epoll, futex",
        &["tokio::runtime::", "epoll_wait", "futex"],
    ),
];

pub fn profile(root: &Path) -> Result<()> {
    plugins::build(root)?;
    let mut build = command::cargo();
    build
        .args(["build", "--release", "-p", "callhost-cli"])
        .current_dir(root);
    command::run(&mut build, "fix the build errors above")?;
    apt::ensure("perf", "linux-perf", || {
        let mut version = Command::new("perf");
        version.arg("--version");
        match command::output_if_installed(&mut version, "check the perf installation") {
            Ok(Some(_)) => vec![],
            _ => vec!["perf".to_string()],
        }
    })?;

    let out = root.join("target/profile");
    fs::create_dir_all(&out)?;
    let data = out.join("perf.data");
    let report = out.join("bench.json");
    let mut record = Command::new("perf");
    record
        .args(["record", "-F", "999", "--call-graph", "dwarf,32768", "-o"])
        .arg(&data)
        .arg("--")
        .arg(root.join("target/release/callhost"))
        .args(["bench", "--quick", "--only", "end-to-end", "--json"])
        .arg(&report)
        .current_dir(root)
        .env("CALLHOST_LOG", "warn");
    command::run(
        &mut record,
        "perf could not record: run as root, or allow it with `sysctl kernel.perf_event_paranoid=1`",
    )?;
    let mut script = Command::new("perf");
    script
        .args(["script", "--no-inline", "-F", "comm,ip,sym", "-i"])
        .arg(&data);
    let stacks = command::output(&mut script, "look at `perf script`'s errors above")?;
    let shares = classify(&stacks);
    let per_event = service_cpu_per_event(&report)?;
    print_table(&shares, per_event);
    println!(
        "\nThe samples are in {}: browse them with `perf report -i {}`.",
        data.display(),
        data.display()
    );
    Ok(())
}

/// Sample counts per part, of the service's threads only.
fn classify(stacks: &str) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for sample in stacks.split("\n\n") {
        let mut lines = sample.lines().filter(|l| !l.trim().is_empty());
        let Some(header) = lines.next() else { continue };
        let comm = header.split_whitespace().next().unwrap_or("");
        if !comm.starts_with("callhost-") || comm.starts_with("callhost-bare") {
            continue;
        }
        let frames: Vec<&str> = lines
            .map(|l| l.trim().split_once(' ').map_or("", |(_, sym)| sym))
            .collect();
        let part = match comm {
            "callhost-log" => "logging (writing)",
            "callhost-epoch" => "epoch ticker",
            _ => PARTS
                .iter()
                .find(|(_, marks)| {
                    frames
                        .iter()
                        .any(|frame| marks.iter().any(|mark| frame.contains(mark)))
                })
                .map_or("other", |(name, _)| name),
        };
        *counts.entry(part).or_default() += 1;
    }
    counts
}

/// The service's CPU microseconds per notification at saturation, from the benchmark report.
fn service_cpu_per_event(report: &Path) -> Result<f64> {
    let text = fs::read_to_string(report)
        .with_context(|| format!("reading the benchmark report {}", report.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)?;
    let rows = json["rows"].as_array().cloned().unwrap_or_default();
    let row = rows
        .iter()
        .find(|row| row["name"] == "callhost at saturation")
        .context("the benchmark report has no `callhost at saturation` row")?;
    let values = row["values"].as_array().cloned().unwrap_or_default();
    for pair in values {
        if pair[0] == "service CPU µs/event"
            && let Some(us) = pair[1].as_f64()
        {
            return Ok(us);
        }
    }
    bail!("the benchmark report has no service CPU figure")
}

fn print_table(counts: &BTreeMap<&'static str, usize>, per_event_us: f64) {
    let total: usize = counts.values().sum();
    let mut rows: Vec<_> = counts.iter().collect();
    rows.sort_by(|a, b| b.1.cmp(a.1));
    println!("\nService CPU per notification at saturation: {per_event_us:.0} µs\n");
    println!("| part | share of service CPU | µs per notification |");
    println!("|---|---|---|");
    for (part, count) in rows {
        let share = *count as f64 / total.max(1) as f64;
        println!(
            "| {part} | {:.1} % | {:.0} |",
            share * 100.0,
            share * per_event_us
        );
    }
}
