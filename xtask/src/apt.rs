//! Debian packages a task needs, installed with apt when missing. CI runs as root on Debian;
//! elsewhere the error says what to run.

use std::process::Command;

use anyhow::{Result, bail};

use crate::command;

/// Installs `packages` (space-separated) for `what` unless `missing` already reports nothing
/// missing; `missing` lists what is still absent (files, programs) and is checked again after.
pub fn ensure(what: &str, packages: &str, missing: impl Fn() -> Vec<String>) -> Result<()> {
    if missing().is_empty() {
        return Ok(());
    }
    let install = format!("apt-get update && apt-get install -y {packages}");
    if !has_apt()? {
        bail!("{what} is missing and apt-get was not found; on Debian or Ubuntu run `{install}`");
    }
    if !is_root()? {
        bail!("{what} is missing; run `sudo sh -c '{install}'`");
    }
    println!("Installing {what}: {packages}");
    let fix = format!("run `{install}` by hand and look at its errors");
    let mut update = Command::new("apt-get");
    update.arg("update");
    command::run(&mut update, &fix)?;
    let mut apt_install = Command::new("apt-get");
    apt_install
        .args(["install", "-y", "--no-install-recommends"])
        .args(packages.split(' '))
        .env("DEBIAN_FRONTEND", "noninteractive");
    command::run(&mut apt_install, &fix)?;
    let still = missing();
    if !still.is_empty() {
        bail!(
            "{} still missing after installing {packages}; {fix}",
            still.join(", ")
        );
    }
    Ok(())
}

fn has_apt() -> Result<bool> {
    let mut version = Command::new("apt-get");
    version.arg("--version");
    Ok(command::output_if_installed(&mut version, "check the apt installation")?.is_some())
}

/// Whether this process runs as root.
pub fn is_root() -> Result<bool> {
    let mut id = Command::new("id");
    id.arg("-u");
    Ok(command::output(&mut id, "check the system's `id` command")?.trim() == "0")
}
