//! `callhost build-c [DIR]`: builds the C workflow plugin in DIR (made by `callhost new --lang
//! c`) into `DIR/<name of DIR>.wasm`, against DIR/wit or the WIT built into this binary (see
//! the `callhost-c-plugin` crate for the steps). Everything but the compiler runs in this
//! process; no callhost checkout is needed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use callhost_c_plugin::{APT_PACKAGES, c_files, missing_toolchain_files};

/// Builds the C plugin in `dir` and returns the component's path. Intermediate files go to
/// `dir/build/`.
pub fn build_c(dir: &Path) -> Result<PathBuf> {
    let dir = std::path::absolute(dir)
        .with_context(|| format!("could not resolve the plugin directory {}", dir.display()))?;
    if !dir.is_dir() {
        bail!(
            "{} is not a directory; give the C plugin's directory (made by `callhost new --lang c NAME`)",
            dir.display()
        );
    }
    let name = dir
        .file_name()
        .and_then(|name| name.to_str())
        .with_context(|| format!("{} has no directory name", dir.display()))?;
    c_files(&dir).context(
        "run `callhost build-c` in a C plugin's directory (made by `callhost new --lang c NAME`)",
    )?;
    let missing = missing_toolchain_files();
    if !missing.is_empty() {
        bail!(
            "the C toolchain is missing ({}); on Debian or Ubuntu install it as root with \
             `apt-get update && apt-get install -y {APT_PACKAGES}`, then build again",
            missing.join(", ")
        );
    }
    let build_dir = dir.join("build");
    let own_wit = dir.join("wit");
    let wit = if own_wit.is_dir() {
        own_wit
    } else {
        let embedded = build_dir.join("wit");
        super::new::write_wit(&embedded)
            .with_context(|| format!("could not write {}", embedded.display()))?;
        embedded
    };
    let out = dir.join(format!("{name}.wasm"));
    callhost_c_plugin::build(&wit, &dir, &build_dir, &out).with_context(|| {
        format!(
            "building {}; a broken {}/wit can be deleted to build against the WIT built into callhost",
            dir.display(),
            dir.display()
        )
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_wit_makes_c_bindings() {
        let dir = tempfile::tempdir().unwrap();
        super::super::new::write_wit(&dir.path().join("wit")).unwrap();
        callhost_c_plugin::generate_bindings(&dir.path().join("wit"), &dir.path().join("out"))
            .unwrap();
        let header = std::fs::read_to_string(dir.path().join("out/workflow.h")).unwrap();
        assert!(header.contains("exports_callhost_workflow_handler_on_event"));
    }

    #[test]
    fn a_directory_without_c_sources_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let error = format!("{:#}", build_c(dir.path()).unwrap_err());
        assert!(
            error.contains("no .c files") && error.contains("callhost new --lang c"),
            "{error}"
        );
    }
}
