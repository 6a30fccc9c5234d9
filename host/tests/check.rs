//! `callhost check`: valid plugins are described; every kind of bad file gets one clear line.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::plugin_path;

fn callhost_check(path: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_callhost"))
        .arg("check")
        .arg(path)
        .env("CALLHOST_LOG", "error")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn assert_fails_with(path: &Path, expected: &[&str]) {
    let (ok, _, stderr) = callhost_check(path);
    assert!(!ok, "check should fail for {}", path.display());
    let line = stderr.trim();
    assert_eq!(line.lines().count(), 1, "one clear line, got: {line}");
    for part in expected {
        assert!(line.contains(part), "`{line}` should mention `{part}`");
    }
}

#[test]
fn a_valid_workflow_is_described() {
    let (ok, stdout, stderr) = callhost_check(&plugin_path("ivr-menu"));
    assert!(ok, "{stderr}");
    assert!(stdout.contains("callhost:workflow@0.3.0"), "{stdout}");
    for interface in ["call-control", "state", "log", "config"] {
        assert!(
            stdout.contains(interface),
            "imports should list {interface}: {stdout}"
        );
    }
    assert!(stdout.contains("wasi:"), "{stdout}");
    assert!(stdout.contains("http:     none"), "{stdout}");
}

#[test]
fn a_workflow_that_sends_http_is_told_the_config_it_needs() {
    let (ok, stdout, stderr) = callhost_check(&plugin_path("fetcher"));
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("http:     sends requests (wasi:http/outgoing-handler)")
            && stdout.contains("allowed_outbound_hosts = [\"https://crm.example.com\"]"),
        "{stdout}"
    );
}

#[test]
fn a_file_that_is_not_wasm() {
    let dir = tempfile::tempdir().unwrap();
    assert_fails_with(
        &write(&dir, "notes.wasm", b"hello, world"),
        &["not a WebAssembly file"],
    );
}

#[test]
fn a_missing_file() {
    assert_fails_with(
        Path::new("/no/such/plugin.wasm"),
        &["cannot read", "/no/such/plugin.wasm"],
    );
}

#[test]
fn a_core_module_instead_of_a_component() {
    let dir = tempfile::tempdir().unwrap();
    let module = wat::parse_str("(module (func (export \"on-event\")))").unwrap();
    assert_fails_with(
        &write(&dir, "core.wasm", &module),
        &["core WebAssembly module", "wasm32-wasip2"],
    );
}

#[test]
fn a_component_of_another_world() {
    let dir = tempfile::tempdir().unwrap();
    let component = wat::parse_str(
        r#"(component
            (core module $m (func (export "run")))
            (core instance $i (instantiate $m))
            (func $run (canon lift (core func $i "run")))
            (instance $handler (export "run" (func $run)))
            (export "other:app/handler@1.0.0" (instance $handler)))"#,
    )
    .unwrap();
    assert_fails_with(
        &write(&dir, "other.wasm", &component),
        &[
            "callhost:workflow/handler@0.3.0",
            "missing",
            "other:app/handler@1.0.0",
        ],
    );
}

#[test]
fn a_component_built_against_the_previous_contract_is_named_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let component = wat::parse_str(
        r#"(component
            (import "callhost:workflow/state@0.2.0" (instance (export "delete" (func (param "key" string)))))
            (core module $m (func (export "run")))
            (core instance $i (instantiate $m))
            (func $run (canon lift (core func $i "run")))
            (instance $handler (export "run" (func $run)))
            (export "callhost:workflow/handler@0.2.0" (instance $handler)))"#,
    )
    .unwrap();
    assert_fails_with(
        &write(&dir, "old.wasm", &component),
        &[
            "built against callhost:workflow@0.2.0",
            "serves callhost:workflow@0.3.0",
            "rebuild the plugin against wit/",
        ],
    );
}

#[test]
fn a_component_without_the_handler_export() {
    let dir = tempfile::tempdir().unwrap();
    let component = wat::parse_str("(component)").unwrap();
    assert_fails_with(
        &write(&dir, "empty.wasm", &component),
        &["handler", "missing", "exports nothing"],
    );
}

#[test]
fn an_unsatisfiable_import() {
    let dir = tempfile::tempdir().unwrap();
    let component = wat::parse_str(
        r#"(component (import "acme:billing/charge@1.0.0" (instance (export "charge" (func)))))"#,
    )
    .unwrap();
    assert_fails_with(
        &write(&dir, "importer.wasm", &component),
        &["cannot provide", "acme:billing/charge@1.0.0"],
    );
}

#[test]
fn a_truncated_component() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(plugin_path("ivr-menu")).unwrap();
    assert_fails_with(
        &write(&dir, "cut.wasm", &bytes[..bytes.len() / 2]),
        &["invalid component"],
    );
}
