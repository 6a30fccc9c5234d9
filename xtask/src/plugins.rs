//! Building the plugins: every `cdylib` crate of the guest workspaces, and every plugin of
//! plugins/ written in another language, becomes a component in target/plugins/<name>.wasm.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::wasm_target::{self, WASM_TARGET};
use crate::{c, command, js, python};

/// The guest workspaces, relative to the repository: shipped plugins and test plugins.
const GUEST_WORKSPACES: &[&str] = &["plugins", "tests/plugins"];

/// The first bytes of a WebAssembly component (a core module has version 01 00 00 00).
const COMPONENT_MAGIC: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

/// A built plugin.
pub struct Plugin {
    /// The crate's package name, also the component's file name.
    pub name: String,
    pub path: PathBuf,
    pub bytes: u64,
}

/// Builds every guest workspace for wasm32-wasip2 (sharing target/guests/) and every plugin in
/// another language, installing their toolchains when missing, and puts the components in
/// target/plugins/. Prints one line per plugin.
pub fn build(root: &Path) -> Result<Vec<Plugin>> {
    let plugins_dir = root.join("target").join("plugins");
    fs::create_dir_all(&plugins_dir)
        .with_context(|| format!("could not create {}", plugins_dir.display()))?;

    let mut plugins = build_rust(root, &plugins_dir)?;
    for (name, language) in other_language_plugins(&root.join("plugins"))? {
        plugins.push(build_other(root, &plugins_dir, name, language)?);
    }
    check_unique(&plugins)?;
    remove_stale(&plugins_dir, &plugins)?;

    let width = plugins
        .iter()
        .map(|plugin| plugin.name.len())
        .max()
        .unwrap_or(0);
    for plugin in &plugins {
        let shown = plugin.path.strip_prefix(root).unwrap_or(&plugin.path);
        println!(
            "{:<width$}  {:>9} bytes  {}",
            plugin.name,
            plugin.bytes,
            shown.display()
        );
    }
    Ok(plugins)
}

/// The languages besides Rust that plugins are written in, each told by a file of the plugin.
#[derive(Debug, Clone, Copy)]
enum Language {
    /// `app.py`, built with componentize-py.
    Python,
    /// `package.json` with `build.mjs` and `app.js`, built with ComponentizeJS.
    JavaScript,
    /// `app.c` (and any other `*.c`), built with clang-19 and wasi-libc.
    C,
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Language::Python => "Python",
            Language::JavaScript => "JavaScript",
            Language::C => "C",
        })
    }
}

/// The directories of `plugins_dir` that hold a plugin in another language than Rust.
fn other_language_plugins(plugins_dir: &Path) -> Result<Vec<(String, Language)>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(plugins_dir)
        .with_context(|| format!("could not list {}", plugins_dir.display()))?
    {
        let dir = entry?.path();
        let Some(name) = dir.file_name().and_then(|name| name.to_str()) else {
            continue;
        };
        let has = |file: &str| dir.join(file).is_file();
        let language = if has("Cargo.toml") {
            continue;
        } else if has("app.py") {
            Language::Python
        } else if has("package.json") {
            Language::JavaScript
        } else if has("app.c") {
            Language::C
        } else {
            continue;
        };
        found.push((name.to_string(), language));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// Installs the toolchain of one plugin in another language when missing, and builds the
/// plugin unless its component is newer than its sources and the WIT.
fn build_other(
    root: &Path,
    plugins_dir: &Path,
    name: String,
    language: Language,
) -> Result<Plugin> {
    let plugin_dir = root.join("plugins").join(&name);
    let path = plugins_dir.join(format!("{name}.wasm"));
    let wit = root.join("wit");
    match language {
        Language::Python => python::ensure_installed(root).map(drop)?,
        Language::JavaScript => js::ensure_installed(&plugin_dir)?,
        Language::C => c::ensure_toolchain()?,
    }
    if is_up_to_date(&path, &[&plugin_dir, &wit])? {
        println!("{name} ({language}) is up to date");
    } else {
        println!("Building {name} ({language})");
        let started = Instant::now();
        match language {
            Language::Python => python::build(root, &plugin_dir, &path)?,
            Language::JavaScript => js::build(&plugin_dir, &path)?,
            Language::C => {
                let build_dir = root.join("target").join("guests").join("c").join(&name);
                c::build(&wit, &plugin_dir, &build_dir, &path)?
            }
        }
        println!("Built {name} in {:.1} s", started.elapsed().as_secs_f64());
    }
    check_component(&path)?;
    let bytes = fs::metadata(&path)?.len();
    Ok(Plugin { name, path, bytes })
}

/// Whether `output` exists and is newer than every file directly in `input_dirs`.
fn is_up_to_date(output: &Path, input_dirs: &[&Path]) -> Result<bool> {
    let Ok(built) = fs::metadata(output).and_then(|metadata| metadata.modified()) else {
        return Ok(false);
    };
    let mut newest_input = SystemTime::UNIX_EPOCH;
    for dir in input_dirs {
        for entry in
            fs::read_dir(dir).with_context(|| format!("could not list {}", dir.display()))?
        {
            let metadata = entry?.metadata()?;
            if metadata.is_file() {
                newest_input = newest_input.max(metadata.modified()?);
            }
        }
    }
    Ok(built > newest_input)
}

/// Builds the Rust guest workspaces and copies their components to `plugins_dir`.
fn build_rust(root: &Path, plugins_dir: &Path) -> Result<Vec<Plugin>> {
    wasm_target::ensure_installed()?;
    let target_dir = root.join("target").join("guests");
    let built_dir = target_dir.join(WASM_TARGET).join("release");

    let mut plugins = Vec::new();
    for workspace in GUEST_WORKSPACES {
        let workspace = root.join(workspace);
        let mut build = command::cargo();
        build
            .args([
                "build",
                "--release",
                "--target",
                WASM_TARGET,
                "--target-dir",
            ])
            .arg(&target_dir)
            .current_dir(&workspace);
        command::run(
            &mut build,
            "fix the errors above and run `cargo xtask build-plugins` again",
        )?;

        for (name, lib_name) in cdylib_crates(&workspace)? {
            let built = built_dir.join(format!("{lib_name}.wasm"));
            let path = plugins_dir.join(format!("{name}.wasm"));
            check_component(&built)?;
            let bytes = fs::copy(&built, &path).with_context(|| {
                format!("could not copy {} to {}", built.display(), path.display())
            })?;
            plugins.push(Plugin { name, path, bytes });
        }
    }
    Ok(plugins)
}

/// Runs the plugins' unit tests, which are plain Rust and run on the host's own target.
pub fn unit_test(root: &Path) -> Result<()> {
    let target_dir = root.join("target").join("guests");
    for workspace in GUEST_WORKSPACES {
        let mut test = command::cargo();
        test.args(["test", "--release", "--target-dir"])
            .arg(&target_dir)
            .current_dir(root.join(workspace));
        command::run(&mut test, "fix the failing plugin tests above")?;
    }
    Ok(())
}

/// The `(package name, library name)` of each `cdylib` crate of the workspace.
fn cdylib_crates(workspace: &Path) -> Result<Vec<(String, String)>> {
    let mut metadata = command::cargo();
    metadata
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(workspace);
    let metadata = command::output(&mut metadata, "check the workspace's Cargo.toml")?;
    let metadata: Value =
        serde_json::from_str(&metadata).context("cargo metadata printed no JSON")?;

    let mut crates = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let name = package["name"].as_str().context("a package without name")?;
        for target in package["targets"].as_array().into_iter().flatten() {
            let is_cdylib = target["crate_types"]
                .as_array()
                .is_some_and(|types| types.iter().any(|kind| kind == "cdylib"));
            if let (true, Some(lib_name)) = (is_cdylib, target["name"].as_str()) {
                crates.push((name.to_string(), lib_name.replace('-', "_")));
            }
        }
    }
    if crates.is_empty() {
        bail!(
            "{} has no cdylib crates; each plugin crate needs `crate-type = [\"cdylib\"]`",
            workspace.display()
        );
    }
    Ok(crates)
}

fn check_component(path: &Path) -> Result<()> {
    let bytes = fs::read(path).with_context(|| format!("{} was not built", path.display()))?;
    if !bytes.starts_with(&COMPONENT_MAGIC) {
        bail!(
            "{} is not a WebAssembly component; plugins must be built for {WASM_TARGET}",
            path.display()
        );
    }
    Ok(())
}

fn check_unique(plugins: &[Plugin]) -> Result<()> {
    let mut names = BTreeSet::new();
    for plugin in plugins {
        if !names.insert(&plugin.name) {
            bail!(
                "two plugin crates are named `{}`; rename one, since both would be target/plugins/{0}.wasm",
                plugin.name
            );
        }
    }
    Ok(())
}

/// Removes components of crates that no longer exist, so that nothing loads an old build.
fn remove_stale(plugins_dir: &Path, plugins: &[Plugin]) -> Result<()> {
    let entries = fs::read_dir(plugins_dir)
        .with_context(|| format!("could not list {}", plugins_dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        let is_wasm = path
            .extension()
            .is_some_and(|extension| extension == "wasm");
        if is_wasm && !plugins.iter().any(|plugin| plugin.path == path) {
            fs::remove_file(&path)
                .with_context(|| format!("could not remove the stale {}", path.display()))?;
        }
    }
    Ok(())
}
