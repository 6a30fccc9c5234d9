//! Hot reload: from the `rename` of a new plugin file over the served one to the new version
//! serving, with an empty compile cache (the new version is compiled) and a warm one (two
//! versions compiled once, then swapped back and forth). The watcher's quiet period is
//! included, as operators see it.

use std::path::Path;
use std::time::{Duration, Instant};

use super::Report;
use super::run::{BenchOptions, Loaded, Storage, loaded_service, tempfile_dir};
use callhost::plugins::PluginRegistry;
use callhost::runtime::version_of;
use serde_json::json;

const SECTION: &str = "Hot reload: file change → new version serving";

/// The workflows reloaded, with (cold, warm) runs: Python compiles for seconds.
const PLUGINS: &[(&str, usize, usize)] = &[("ivr-menu", 5, 6), ("ivr-menu-python", 1, 4)];

pub async fn measure(options: &BenchOptions, report: &mut Report) -> anyhow::Result<()> {
    for &(name, cold_runs, warm_runs) in PLUGINS {
        let built = options.plugin(name);
        if !built.exists() {
            report.add(
                SECTION,
                name,
                vec![],
                Some(format!("not built ({})", built.display())),
            );
            continue;
        }
        let base = std::fs::read(&built)?;
        let dir = tempfile_dir()?;
        let path = dir.join("plugin.wasm");
        std::fs::write(&path, &base)?;
        let Loaded {
            app,
            sim: _sim,
            service: _service,
            ..
        } = loaded_service(&path, &dir.join("cache"), Storage::Memory).await?;

        let tag = |kind: &str, run: usize| format!("{kind}-{run}-{}", std::process::id());
        let mut cold = Vec::new();
        for run in 0..cold_runs {
            let bytes = tagged_variant(&base, &tag("cold", run));
            cold.push(change(&app.plugins, &path, &bytes).await?);
        }
        let warm_versions = [
            tagged_variant(&base, &tag("warm-a", 0)),
            tagged_variant(&base, &tag("warm-b", 0)),
        ];
        for bytes in &warm_versions {
            change(&app.plugins, &path, bytes).await?;
        }
        let mut warm = Vec::new();
        for run in 0..warm_runs {
            warm.push(change(&app.plugins, &path, &warm_versions[run % 2]).await?);
        }
        let median_ms = |mut runs: Vec<Duration>| {
            runs.sort();
            runs[runs.len() / 2].as_secs_f64() * 1e3
        };
        report.add(
            SECTION,
            &format!("{name} ({} KiB)", base.len() / 1024),
            vec![
                ("cold cache ms", json!(median_ms(cold))),
                ("warm cache ms", json!(median_ms(warm))),
            ],
            Some(format!(
                "median of {cold_runs} cold and {warm_runs} warm reloads, 200 ms quiet period included"
            )),
        );
        drop(app);
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

/// Replaces the file as deployers should (a new file renamed over it) and waits until its
/// version serves.
async fn change(plugins: &PluginRegistry, path: &Path, bytes: &[u8]) -> anyhow::Result<Duration> {
    let version = version_of(bytes);
    let mut changes = plugins.changes();
    let tmp = path.with_extension("wasm.tmp");
    let started = Instant::now();
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    loop {
        let serving = plugins
            .current("ivr")
            .is_some_and(|v| v.info.version() == version);
        if serving {
            return Ok(started.elapsed());
        }
        tokio::time::timeout(Duration::from_secs(120), changes.changed())
            .await
            .map_err(|_| anyhow::anyhow!("version {version} not serving within 2 minutes"))??;
    }
}

/// `component` with one more custom section holding `tag`: a valid component that behaves the
/// same and has another hash, so another version.
pub fn tagged_variant(component: &[u8], tag: &str) -> Vec<u8> {
    let name = b"callhost-variant";
    let mut section = leb128(name.len());
    section.extend_from_slice(name);
    section.extend_from_slice(tag.as_bytes());
    let mut bytes = component.to_vec();
    bytes.push(0); // custom section id
    bytes.extend(leb128(section.len()));
    bytes.extend(section);
    bytes
}

fn leb128(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}
