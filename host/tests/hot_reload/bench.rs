//! How long a plugin file change takes to put the new version in service, with a cold and a
//! warm compile cache. The time runs from the rename of the new file over the old one to the
//! registry's switch, so it includes the watcher, the debounce, reading, compiling (or loading
//! from the cache), validating and the probe instantiation.

use std::path::Path;
use std::time::{Duration, Instant};

use callhost::app::App;
use callhost::config::Config;
use callhost::plugins::PluginRegistry;

use super::fixture::{IVR_CONFIG, PluginFiles, built, plugin, replace, variant, version_of};
use crate::support::bot::{BOT_APP_ID, plugin_table_at};

/// Runs per plugin and cache state.
pub const RUNS: usize = 7;

/// A configuration running the plugin at `path` as `p`, compiling into `cache`, without
/// listening anywhere (nothing is served).
pub fn config(dir: &Path, cache: &Path, path: &Path, watch: bool) -> Config {
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:9"
public_url = "http://127.0.0.1:9"

[bot]
app_id = "{BOT_APP_ID}"

[runtime]
cache_dir = {cache:?}
watch = {watch}

[admin]
enabled = false

# Started more than once in one process: nothing to keep between the starts.
[storage]
engine = "memory"

{plugin}
"#,
        cache = cache.display().to_string(),
        plugin = plugin_table_at("ivr", path, "", IVR_CONFIG),
    );
    let mut config = Config::parse(&text).unwrap();
    config.base_dir = dir.to_path_buf();
    config.validate().unwrap();
    config
}

/// Reload times of `runs` new versions of `plugin` never compiled before (cold), then of
/// `runs` versions found in the compile cache (warm), as a printable report.
pub async fn reload_latency(plugin_name: &str, runs: usize) -> String {
    let files = PluginFiles::new();
    let cache = tempfile::tempdir().unwrap();
    let base = built(plugin_name);
    let path = files.install("ivr", &base);
    let app = App::build(config(files.dir(), cache.path(), &path, true))
        .await
        .unwrap();
    let plugins = &app.plugins;

    let mut cold = Vec::new();
    for run in 0..runs {
        let bytes = variant(&base, &format!("cold-{run}-{}", std::process::id()));
        cold.push(change(plugins, &path, &bytes).await);
    }
    // Two versions compiled once, then swapped back and forth: every load is a cache hit.
    let warm_versions = [variant(&base, "warm-a"), variant(&base, "warm-b")];
    for bytes in &warm_versions {
        change(plugins, &path, bytes).await;
    }
    let mut warm = Vec::new();
    for run in 0..runs {
        warm.push(change(plugins, &path, &warm_versions[run % 2]).await);
    }
    format!(
        "{plugin_name} ({} KiB):\n  cold cache: {}\n  warm cache: {}",
        base.len() / 1024,
        summary(&cold),
        summary(&warm)
    )
}

/// Replaces the file and waits for its version: (file change to service, load time).
async fn change(plugins: &PluginRegistry, path: &Path, bytes: &[u8]) -> (Duration, Duration) {
    let version = version_of(bytes);
    let mut changes = plugins.changes();
    let started = Instant::now();
    replace(path, bytes);
    loop {
        let summary = plugin(plugins, "ivr");
        if summary.current == version {
            let load = summary.versions.iter().find(|v| v.version == version);
            let load_ms = load.map(|v| v.load_ms).unwrap_or_default();
            return (started.elapsed(), Duration::from_millis(load_ms));
        }
        let wait = tokio::time::timeout(Duration::from_secs(120), changes.changed());
        wait.await
            .expect("the new version goes in service within 2 minutes")
            .unwrap();
    }
}

fn summary(runs: &[(Duration, Duration)]) -> String {
    let median = |mut values: Vec<Duration>| {
        values.sort();
        values[values.len() / 2]
    };
    let live: Vec<Duration> = runs.iter().map(|r| r.0).collect();
    let load: Vec<Duration> = runs.iter().map(|r| r.1).collect();
    let (min, max) = (live.iter().min().unwrap(), live.iter().max().unwrap());
    format!(
        "change to live median {:?} (min {min:?}, max {max:?}); read+compile+probe median {:?}; {} runs",
        median(live.clone()),
        median(load),
        runs.len()
    )
}
