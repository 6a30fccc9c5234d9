//! Graph payloads copied from Microsoft's docs (`crates/graph/fixtures`), for tests.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The fixture folder, part of the repository; a missing folder fails the test rather than
/// skipping it.
pub(crate) fn dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    assert!(
        dir.is_dir(),
        "Graph fixtures not found: looked in {}; restore crates/graph/fixtures from the repository",
        dir.display()
    );
    dir
}

/// The names of the fixtures starting with `prefix`, sorted.
pub(crate) fn names(prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .expect("fixture folder is readable")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with(prefix) && name.ends_with(".json"))
        .collect();
    names.sort();
    assert!(
        !names.is_empty(),
        "no {prefix}*.json fixtures in {}",
        dir().display()
    );
    names
}

/// A fixture's bytes.
pub(crate) fn bytes(name: &str) -> Vec<u8> {
    let path = dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A fixture as JSON.
pub(crate) fn json(name: &str) -> Value {
    serde_json::from_slice(&bytes(name)).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"))
}
