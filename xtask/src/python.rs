//! Python plugins: componentize-py, installed from PyPI into a virtualenv under
//! target/toolchains/, packs `app.py` and CPython into a component.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};

use crate::command;

/// The componentize-py release the plugins are built and tested with.
const COMPONENTIZE_PY_VERSION: &str = "0.25.1";

/// The virtualenv that holds componentize-py.
pub fn venv(root: &Path) -> PathBuf {
    root.join("target").join("toolchains").join("venv")
}

/// The componentize-py of [`venv`].
pub fn componentize_py(root: &Path) -> PathBuf {
    venv(root).join("bin").join("componentize-py")
}

/// Creates the virtualenv and installs componentize-py into it, unless that version is there.
pub fn ensure_installed(root: &Path) -> Result<PathBuf> {
    let tool = componentize_py(root);
    if installed_version(&tool)?.as_deref() == Some(COMPONENTIZE_PY_VERSION) {
        return Ok(tool);
    }
    let venv = venv(root);
    println!(
        "Installing componentize-py {COMPONENTIZE_PY_VERSION} into {}",
        venv.display()
    );
    let mut create = Command::new("python3");
    create.args(["-m", "venv"]).arg(&venv);
    command::run(
        &mut create,
        "Python 3 with its venv module is needed: on Debian `apt-get install -y python3 python3-venv`",
    )?;
    let mut install = Command::new(venv.join("bin").join("pip"));
    install.args([
        "install",
        "--quiet",
        &format!("componentize-py=={COMPONENTIZE_PY_VERSION}"),
    ]);
    command::run(
        &mut install,
        "check that PyPI can be reached, then run `cargo xtask build-plugins` again",
    )?;
    if installed_version(&tool)?.as_deref() != Some(COMPONENTIZE_PY_VERSION) {
        bail!(
            "{} is not componentize-py {COMPONENTIZE_PY_VERSION} after installing it; remove {} and run again",
            tool.display(),
            venv.display()
        );
    }
    Ok(tool)
}

/// `componentize-py 0.25.1` → `0.25.1`; `None` when the tool is not installed.
fn installed_version(tool: &Path) -> Result<Option<String>> {
    if !tool.exists() {
        return Ok(None);
    }
    let mut version = Command::new(tool);
    version.arg("--version");
    let printed =
        command::output_if_installed(&mut version, "remove the virtualenv and run again")?;
    Ok(printed.and_then(|text| {
        text.split_whitespace()
            .nth(1)
            .map(|version| version.to_string())
    }))
}

/// Builds the plugin whose `app.py` is in `plugin_dir` into the component `out`, with the
/// componentize-py of [`ensure_installed`].
pub fn build(root: &Path, plugin_dir: &Path, out: &Path) -> Result<()> {
    let mut componentize = Command::new(componentize_py(root));
    componentize
        .arg("--quiet")
        .arg("--wit-path")
        .arg(root.join("wit"))
        .args([
            "--world",
            "workflow",
            "componentize",
            "app",
            "--python-path",
        ])
        .arg(plugin_dir)
        .arg("--output")
        .arg(out)
        .current_dir(plugin_dir);
    command::run(
        &mut componentize,
        "fix the Python errors above and run `cargo xtask build-plugins` again",
    )
}
