//! For tests of the crates that run this repository's plugins.

use std::path::{Path, PathBuf};

/// A plugin `cargo xtask build-plugins` built (`answer-and-greet`, `recorder`, …).
pub fn built_plugin(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/plugins")
        .join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask build-plugins` first",
        path.display()
    );
    path
}
