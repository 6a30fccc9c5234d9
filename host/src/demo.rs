//! `callhost demo`: sample calls against the example plugins on a simulated Graph, all in
//! this process on loopback. Each sample is a scenario from `examples/scenarios/`, built in,
//! with expectations; the demo succeeds when every call went as expected.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use callhost::config::Config;
use callhost_simulator::scenario::{self, Scenario, ScenarioReport, ServiceSpec};

/// A built-in sample call.
struct Sample {
    file: &'static str,
    text: &'static str,
}

const SAMPLES: &[Sample] = &[
    Sample {
        file: "ivr-press-1-transfer.toml",
        text: include_str!("../../examples/scenarios/ivr-press-1-transfer.toml"),
    },
    Sample {
        file: "ivr-hang-up-during-menu.toml",
        text: include_str!("../../examples/scenarios/ivr-hang-up-during-menu.toml"),
    },
    Sample {
        file: "ivr-wrong-keys.toml",
        text: include_str!("../../examples/scenarios/ivr-wrong-keys.toml"),
    },
    Sample {
        file: "meeting-greeter.toml",
        text: include_str!("../../examples/scenarios/meeting-greeter.toml"),
    },
];

/// The configuration each example workflow runs with, in the format `callhost serve` reads.
fn workflow_config(workflow: &str) -> Option<&'static str> {
    match workflow {
        "ivr-menu" => Some(include_str!("../../examples/ivr-menu.toml")),
        "answer-and-greet" => Some(include_str!("../../examples/callhost.toml")),
        _ => None,
    }
}

/// Runs every sample with the plugins in `plugins_dir`, prints their timelines, and fails
/// unless all went as expected.
pub fn demo(plugins_dir: &Path) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let mut out = std::io::stdout().lock();
    let reports = runtime.block_on(run_samples(plugins_dir, &mut out))?;
    let failed: Vec<String> = reports
        .iter()
        .filter(|r| !r.passed())
        .map(ScenarioReport::verdict)
        .collect();
    if !failed.is_empty() {
        bail!(
            "{} of {} sample calls did not go as expected:\n  {}",
            failed.len(),
            reports.len(),
            failed.join("\n  ")
        );
    }
    writeln!(
        out,
        "demo: all {} sample calls went as expected",
        reports.len()
    )?;
    Ok(())
}

/// The built-in samples (each names its workflow).
pub fn samples() -> anyhow::Result<Vec<Scenario>> {
    SAMPLES
        .iter()
        .map(|s| {
            Scenario::parse(s.text, &format!("examples/scenarios/{}", s.file)).map_err(Into::into)
        })
        .collect()
}

/// Runs the samples one after the other, each on a fresh simulator, printing each report.
pub async fn run_samples(
    plugins_dir: &Path,
    out: &mut impl Write,
) -> anyhow::Result<Vec<ScenarioReport>> {
    let samples = samples()?;
    let mut runs = Vec::new();
    for sample in &samples {
        let workflow = sample.workflow.as_deref().unwrap_or_default();
        let plugin = plugins_dir.join(format!("{workflow}.wasm"));
        if !plugin.is_file() {
            bail!(
                "{} is missing: build the example plugins with `cargo xtask build-plugins` (or run `cargo xtask demo`, which builds them first)",
                plugin.display()
            );
        }
        runs.push((sample, spec(&plugin, workflow, plugins_dir)?));
    }
    let mut reports = Vec::new();
    for (sample, spec) in runs {
        writeln!(out, "=== {}", sample.name)?;
        if let Some(description) = &sample.description {
            writeln!(out, "    {}", description.trim())?;
        }
        let report = scenario::simulate(&spec, sample).await?;
        crate::simulate::print_report(&report, false, out)?;
        writeln!(out)?;
        reports.push(report);
    }
    Ok(reports)
}

fn spec(plugin: &Path, workflow: &str, plugins_dir: &Path) -> anyhow::Result<ServiceSpec> {
    let text = workflow_config(workflow)
        .with_context(|| format!("no example configuration for the workflow `{workflow}`"))?;
    let config = Config::parse(text)
        .map_err(|e| anyhow::anyhow!("example configuration of {workflow}: {e}"))?;
    let mut spec = ServiceSpec::new(plugin)?.with_config(&config)?;
    // Beside the plugins, as `cargo xtask` builds them: target/callhost-cache.
    spec.cache_dir = Some(
        plugins_dir
            .parent()
            .map(|target| target.join("callhost-cache"))
            .unwrap_or_else(|| PathBuf::from("callhost-cache")),
    );
    Ok(spec)
}
