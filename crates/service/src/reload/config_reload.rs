//! Applying a changed configuration file while serving: its `[[routes]]` and `[plugins.*]`
//! tables take effect at once, as a whole or not at all. Other tables take effect at the
//! next start.

use std::time::Instant;

use crate::config::{Config, ConfigError};
use crate::dispatch::{Dispatcher, Route};
use crate::plugins::PluginRegistry;
use crate::runtime::Runtime;

/// Reads the file `old` came from and applies what changed in its routes and plugins.
/// Returns the new configuration, `None` when routes and plugins are as they were, or why
/// the new one was rejected (then nothing was applied).
pub(super) async fn apply(
    old: &Config,
    runtime: &Runtime,
    plugins: &PluginRegistry,
    dispatcher: &Dispatcher,
) -> Result<Option<Config>, String> {
    let path = old
        .path
        .clone()
        .ok_or("the configuration was not read from a file")?;
    let problem = |problem: String| {
        ConfigError {
            path: path.display().to_string(),
            problems: vec![problem],
        }
        .to_string()
    };
    let text = tokio::fs::read_to_string(&path)
        .await
        .map_err(|e| problem(format!("cannot read it: {e}")))?;
    let mut new = Config::parse(&text).map_err(problem)?;
    new.base_dir = old.base_dir.clone();
    new.path = old.path.clone();
    new.validate().map_err(|problems| {
        ConfigError {
            path: path.display().to_string(),
            problems,
        }
        .to_string()
    })?;

    let changed: Vec<&String> = new
        .plugins
        .iter()
        .filter(|(id, plugin)| old.plugins.get(*id) != Some(plugin))
        .map(|(id, _)| id)
        .collect();
    let removed: Vec<&String> = old
        .plugins
        .keys()
        .filter(|id| !new.plugins.contains_key(*id))
        .collect();
    let routes_changed = new.routes != old.routes;
    if changed.is_empty() && removed.is_empty() && !routes_changed {
        return Ok(None);
    }
    let routes = new
        .routes
        .iter()
        .map(Route::from_config)
        .collect::<Result<Vec<_>, _>>()
        .map_err(problem)?;
    // Everything is loaded before anything is applied.
    let mut loaded = Vec::with_capacity(changed.len());
    for id in &changed {
        let started = Instant::now();
        let source = new.plugin_source(id).map_err(|e| format!("{e:#}"))?;
        let (bytes, _) = source.read().await.map_err(|e| format!("{e:#}"))?;
        let version = source
            .compile(runtime, bytes, started)
            .await
            .map_err(|e| format!("{e:#}"))?;
        loaded.push((source, version));
    }

    for (source, new) in loaded {
        let info = &new.version.info;
        tracing::info!(
            plugin = source.id(),
            version = info.version(),
            from_cache = info.from_cache,
            load_ms = new.took.as_millis() as u64,
            "plugin configured"
        );
        plugins.install_reloaded(source, new.version, new.took);
    }
    if routes_changed {
        dispatcher.set_routes(routes);
    }
    for id in &removed {
        plugins.remove(id);
    }
    tracing::info!(
        path = %path.display(),
        plugins_loaded = changed.len(),
        plugins_removed = removed.len(),
        routes_changed,
        "configuration reloaded (changes outside [[routes]] and [plugins] take effect at the next start)"
    );
    Ok(Some(new))
}
