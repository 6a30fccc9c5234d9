//! Making sure the Rust toolchain can build for the plugins' target.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Result, bail};

use crate::command;

/// The target every plugin is built for: its output is a WebAssembly component.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// Installs the target with rustup when it is missing. Without rustup the target must already
/// be in the toolchain's sysroot.
pub fn ensure_installed() -> Result<()> {
    let mut list = Command::new("rustup");
    list.args(["target", "list", "--installed"]);
    let fix = "check the rustup installation";
    match command::output_if_installed(&mut list, fix)? {
        Some(installed) if installed.lines().any(|target| target.trim() == WASM_TARGET) => Ok(()),
        Some(_) => {
            println!("Installing the Rust target {WASM_TARGET}");
            let mut add = Command::new("rustup");
            add.args(["target", "add", WASM_TARGET]);
            command::run(
                &mut add,
                "check the network connection and run the command again by hand",
            )
        }
        None if in_sysroot()? => Ok(()),
        None => bail!(
            "the Rust target {WASM_TARGET} is not installed, and rustup, which would install it, \
             was not found. Install rustup (https://rustup.rs) and run \
             `rustup target add {WASM_TARGET}`, or install the {WASM_TARGET} standard library \
             that matches your rustc from the same source as rustc"
        ),
    }
}

/// Whether the toolchain's sysroot has the target's standard library.
fn in_sysroot() -> Result<bool> {
    let mut libdir = Command::new("rustc");
    libdir.args(["--print", "target-libdir", "--target", WASM_TARGET]);
    let libdir = command::output(&mut libdir, "check the Rust installation")?;
    Ok(PathBuf::from(libdir.trim()).is_dir())
}
