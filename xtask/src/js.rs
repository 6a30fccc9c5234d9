//! JavaScript plugins: ComponentizeJS (from npm, pinned in the plugin's package-lock.json and
//! installed with `npm ci` into its node_modules/) packs `app.js` and the StarlingMonkey engine
//! into a component; the plugin's `build.mjs` drives it.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use anyhow::{Context, Result, bail};

use crate::command;

/// Oldest Node.js major version ComponentizeJS 0.23 runs on.
const MIN_NODE_MAJOR: u32 = 18;

/// Checks Node.js and installs the plugin's npm packages, unless node_modules/ is at least as
/// new as package-lock.json.
pub fn ensure_installed(plugin_dir: &Path) -> Result<()> {
    ensure_node()?;
    install_packages(plugin_dir)
}

/// Builds the plugin in `plugin_dir` (package.json, build.mjs, app.js) into the component `out`.
pub fn build(plugin_dir: &Path, out: &Path) -> Result<()> {
    let mut node = Command::new("node");
    node.arg("build.mjs").arg(out).current_dir(plugin_dir);
    command::run(
        &mut node,
        "fix the JavaScript errors above and run `cargo xtask build-plugins` again",
    )
}

fn ensure_node() -> Result<()> {
    let fix = format!(
        "install Node.js {MIN_NODE_MAJOR} or newer with npm (Debian: `apt-get install -y nodejs npm`)"
    );
    let mut version = Command::new("node");
    version.arg("--version");
    let Some(version) = command::output_if_installed(&mut version, &fix)? else {
        bail!("`node` was not found; {fix}");
    };
    let major = version
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|major| major.parse::<u32>().ok());
    match major {
        Some(major) if major >= MIN_NODE_MAJOR => Ok(()),
        _ => bail!("Node.js {} is too old; {fix}", version.trim()),
    }
}

fn install_packages(plugin_dir: &Path) -> Result<()> {
    let lock = plugin_dir.join("package-lock.json");
    let installed = plugin_dir.join("node_modules").join(".package-lock.json");
    let locked = modified(&lock)?.with_context(|| {
        format!(
            "{} is missing; run `npm install` there to pin the packages",
            lock.display()
        )
    })?;
    if modified(&installed)? >= Some(locked) {
        return Ok(());
    }
    println!("Installing the npm packages of {}", plugin_dir.display());
    let mut npm = Command::new("npm");
    npm.args(["ci", "--no-audit", "--no-fund"])
        .current_dir(plugin_dir);
    command::run(
        &mut npm,
        "check that the npm registry can be reached, then run `cargo xtask build-plugins` again",
    )
}

fn modified(path: &Path) -> Result<Option<SystemTime>> {
    match fs::metadata(path) {
        Ok(metadata) => Ok(Some(metadata.modified()?)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).with_context(|| format!("could not read {}", path.display())),
    }
}
