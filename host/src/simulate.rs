//! `callhost simulate --plugin P.wasm [--config C] --scenario S.toml [--json]`: one scenario
//! against one plugin, with the Graph simulator and the service in this process on loopback.

use std::io::Write;
use std::path::Path;

use anyhow::bail;

use callhost_simulator::scenario::{self, Scenario, ScenarioReport, ServiceSpec};

/// Runs the scenario at `scenario` and prints its report; fails, naming the step, when an
/// expectation was not met.
pub fn simulate(
    plugin: &Path,
    config: Option<&Path>,
    scenario: &Path,
    json: bool,
) -> anyhow::Result<()> {
    let scenario = Scenario::load(scenario)?;
    let spec = ServiceSpec::load(plugin, config)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let report = runtime.block_on(scenario::simulate(&spec, &scenario))?;
    print_report(&report, json, &mut std::io::stdout().lock())?;
    if !report.passed() {
        bail!("{}", report.verdict());
    }
    Ok(())
}

/// The report as text, or as one JSON object per line.
pub fn print_report(
    report: &ScenarioReport,
    json: bool,
    out: &mut impl Write,
) -> std::io::Result<()> {
    if json {
        for line in report.json_lines() {
            writeln!(out, "{line}")?;
        }
    } else {
        write!(out, "{report}")?;
    }
    out.flush()
}
