//! `callhost check <plugin.wasm>`: load and validate a component against the workflow world.

use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::runtime::{PluginLoadError, PluginSpec, Runtime, RuntimeSettings, WORLD_PACKAGE};

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
    pub compile_time: Duration,
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
        writeln!(f, "  size:     {} bytes, sha256 {}", self.size, self.hash)?;
        write!(f, "  compiled: in {} ms", self.compile_time.as_millis())
    }
}

/// Loads `path` the way `serve` would (compiled, linked, exports checked) without running it.
pub fn check(path: &Path) -> Result<CheckReport, PluginLoadError> {
    let id = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let runtime = Runtime::new(RuntimeSettings {
        max_instances: 1,
        ..RuntimeSettings::default()
    })
    .map_err(|e| PluginLoadError::Compile {
        plugin: id.clone(),
        reason: format!("{e:#}"),
    })?;
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
        compile_time,
    })
}
