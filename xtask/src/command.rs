//! Running the tools a task needs, with failures that name the command and what to do.

use std::ffi::OsString;
use std::io::ErrorKind;
use std::process::{Command, ExitStatus};

use anyhow::{Context, Result, bail};

/// The cargo that runs this task (cargo sets `CARGO` for `cargo run`), else the one on `PATH`.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo")))
}

/// Runs `command` and insists that it succeeds; `fix` tells the user what to do if it does not.
pub fn run(command: &mut Command, fix: &str) -> Result<()> {
    let status = status(command)?;
    if !status.success() {
        bail!("`{}` failed ({status}); {fix}", shown(command));
    }
    Ok(())
}

/// Runs `command` and returns its exit status, whatever it is.
pub fn status(command: &mut Command) -> Result<ExitStatus> {
    command.status().with_context(|| {
        format!(
            "could not start `{}`; is it installed and on PATH?",
            shown(command)
        )
    })
}

/// Runs `command` and returns its standard output, or `None` when the program is not installed.
pub fn output_if_installed(command: &mut Command, fix: &str) -> Result<Option<String>> {
    let output = match command.output() {
        Ok(output) => output,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(error).with_context(|| format!("could not start `{}`", shown(command)));
        }
    };
    if !output.status.success() {
        bail!(
            "`{}` failed ({}): {}; {fix}",
            shown(command),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    String::from_utf8(output.stdout)
        .map(Some)
        .with_context(|| format!("`{}` printed something that is not UTF-8", shown(command)))
}

/// Runs `command` and returns its standard output.
pub fn output(command: &mut Command, fix: &str) -> Result<String> {
    output_if_installed(command, fix)?.with_context(|| {
        format!(
            "could not start `{}`; is it installed and on PATH?",
            shown(command)
        )
    })
}

/// The command as a user would type it, with the directory it runs in.
fn shown(command: &Command) -> String {
    let mut shown = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        shown.push(' ');
        shown.push_str(&arg.to_string_lossy());
    }
    if let Some(dir) = command.get_current_dir() {
        shown.push_str(&format!("` in `{}", dir.display()));
    }
    shown
}
