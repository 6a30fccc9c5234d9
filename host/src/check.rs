//! `callhost check <plugin.wasm>`: load and validate a component against the workflow world.
//! Compiled components are kept in a compile cache, as `serve` keeps them, so checking an
//! unchanged plugin again takes milliseconds (a Python component takes many seconds to
//! compile).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use callhost::runtime::{PluginLoadError, PluginSpec, Runtime, RuntimeSettings, WORLD_PACKAGE};

/// What `check` learnt of a valid plugin.
#[derive(Debug)]
pub struct CheckReport {
    pub path: String,
    pub size: usize,
    pub hash: String,
    /// `callhost:workflow` interfaces it imports (`call-control`, `state`, `log`, `config`).
    pub workflow_imports: Vec<String>,
    /// Other imports (WASI).
    pub other_imports: Vec<String>,
    /// Whether it imports `wasi:http/outgoing-handler`: it sends HTTP requests, and needs
    /// `allowed_outbound_hosts` to reach anything.
    pub sends_http: bool,
    /// How long compiling (or loading it from the cache) took.
    pub compile_time: Duration,
    /// Whether the compiled component came from the compile cache.
    pub from_cache: bool,
    /// The compile cache used, if any.
    pub cache_dir: Option<PathBuf>,
}

/// Where `check` keeps compiled components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckCache {
    /// This directory (`--cache-dir`, or the `runtime.cache_dir` of `--config`).
    Dir(PathBuf),
    /// The user's cache directory: [`default_cache_dir`].
    Default,
    /// Compile every time.
    Off,
}

/// `$XDG_CACHE_HOME/callhost/compile`, else `$HOME/.cache/callhost/compile`; `None` without
/// either. A directory of the user's own: compiled code is loaded from it without recompiling,
/// so it must not be writable by others.
pub fn default_cache_dir() -> Option<PathBuf> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    let base = non_empty("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("callhost").join("compile"))
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "ok: {} is a callhost workflow", self.path)?;
        writeln!(f, "  targets:  {WORLD_PACKAGE} (world `workflow`)")?;
        let list = |items: &[String]| {
            if items.is_empty() {
                "(none)".to_string()
            } else {
                items.join(", ")
            }
        };
        writeln!(f, "  imports:  {}", list(&self.workflow_imports))?;
        writeln!(f, "  wasi:     {}", list(&self.other_imports))?;
        match self.sends_http {
            true => writeln!(
                f,
                "  http:     sends requests (wasi:http/outgoing-handler); list where in its plugin table, \
                 as in `allowed_outbound_hosts = [\"https://crm.example.com\"]`: without it every request is refused"
            )?,
            false => writeln!(
                f,
                "  http:     none (it does not import wasi:http/outgoing-handler)"
            )?,
        }
        writeln!(f, "  size:     {} bytes, sha256 {}", self.size, self.hash)?;
        let millis = self.compile_time.as_millis();
        match (&self.cache_dir, self.from_cache) {
            (Some(dir), true) => write!(
                f,
                "  compiled: earlier; loaded from the compile cache {} in {millis} ms",
                dir.display()
            ),
            (Some(dir), false) => write!(
                f,
                "  compiled: in {millis} ms (kept in the compile cache {})",
                dir.display()
            ),
            (None, _) => write!(f, "  compiled: in {millis} ms"),
        }
    }
}

/// Loads `path` the way `serve` would (compiled, linked, exports checked) without running it,
/// with the compile cache of [`default_cache_dir`].
pub fn check(path: &Path) -> Result<CheckReport, PluginLoadError> {
    check_with(path, &CheckCache::Default)
}

/// [`check`] with the compile cache `cache`.
pub fn check_with(path: &Path, cache: &CheckCache) -> Result<CheckReport, PluginLoadError> {
    let id = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let cache_dir = match cache {
        CheckCache::Dir(dir) => Some(dir.clone()),
        CheckCache::Default => default_cache_dir(),
        CheckCache::Off => None,
    };
    let settings = |cache_dir: Option<PathBuf>| RuntimeSettings {
        max_instances: 1,
        cache_dir,
        ..RuntimeSettings::default()
    };
    let runtime_error = |e: anyhow::Error| PluginLoadError::Compile {
        plugin: id.clone(),
        reason: format!("{e:#}"),
    };
    let (runtime, cache_dir) = match Runtime::new(settings(cache_dir.clone())) {
        Ok(runtime) => (runtime, cache_dir),
        // The user's default cache is a convenience: without it, compile as before.
        Err(e) if *cache == CheckCache::Default && cache_dir.is_some() => {
            tracing::warn!(error = %format!("{e:#}"), "compiling without a compile cache");
            (Runtime::new(settings(None)).map_err(runtime_error)?, None)
        }
        Err(e) => return Err(runtime_error(e)),
    };
    let bytes = std::fs::read(path).map_err(|e| PluginLoadError::Read {
        plugin: id.clone(),
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let started = Instant::now();
    let version = runtime.load(PluginSpec::new(id), &bytes)?;
    let compile_time = started.elapsed();
    let info = &version.info;
    Ok(CheckReport {
        path: path.display().to_string(),
        size: bytes.len(),
        hash: info.hash.clone(),
        workflow_imports: info
            .workflow_imports()
            .into_iter()
            .map(String::from)
            .collect(),
        other_imports: info
            .imports
            .iter()
            .filter(|i| !i.starts_with("callhost:workflow/"))
            .cloned()
            .collect(),
        sends_http: info.sends_http(),
        compile_time,
        from_cache: info.from_cache,
        cache_dir,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use callhost_runtime::test_support::built_plugin;

    #[test]
    fn a_second_check_loads_from_the_compile_cache() {
        let plugin = built_plugin("answer-and-greet");
        let cache = tempfile::tempdir().unwrap();
        let cache = CheckCache::Dir(cache.path().join("compile"));
        let first = check_with(&plugin, &cache).unwrap();
        assert!(!first.from_cache, "nothing is cached yet");
        let second = check_with(&plugin, &cache).unwrap();
        assert!(second.from_cache, "the second check compiled again");
        assert_eq!(first.hash, second.hash);
        assert!(
            second.to_string().contains("loaded from the compile cache"),
            "{second}"
        );
        let CheckCache::Dir(dir) = &cache else {
            unreachable!()
        };
        let cached = std::fs::read_dir(dir).unwrap().count();
        assert_eq!(cached, 1, "one compiled component in {}", dir.display());

        let uncached = check_with(&plugin, &CheckCache::Off).unwrap();
        assert!(!uncached.from_cache && uncached.cache_dir.is_none());
    }

    #[test]
    fn the_default_cache_is_the_users() {
        if let Some(dir) = default_cache_dir() {
            assert!(dir.ends_with("callhost/compile"), "{}", dir.display());
        }
    }
}
