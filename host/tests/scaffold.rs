//! The author's path, per language: `callhost new` makes a plugin, it builds with the command
//! the template documents, passes `callhost check` and the template's scenario, and answers an
//! incoming call.
//!
//! The builds use the toolchains `cargo xtask build-plugins` installs: componentize-py in
//! target/toolchains/venv, ComponentizeJS in plugins/ivr-menu-js/node_modules, clang-19 and
//! wasi-libc from apt. A missing one fails the test with what to run.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use callhost::call::{AnswerOptions, CallAction, CallState, Modality};
use callhost::cli::new::{Language, NewPlugin};
use callhost::runtime::{
    EventInput, MemoryStateStore, Outcome, PluginSpec, Runtime, RuntimeSettings,
};
use support::*;

const CALL: &str = "call-1";
const BUILD_TOOLCHAINS_FIRST: &str = "run `cargo xtask build-plugins` first";

#[tokio::test]
async fn a_new_rust_plugin_builds_checks_and_answers() {
    author_path(Language::Rust).await;
}

#[tokio::test]
async fn a_new_python_plugin_builds_checks_and_answers() {
    author_path(Language::Python).await;
}

#[tokio::test]
async fn a_new_js_plugin_builds_checks_and_answers() {
    author_path(Language::Js).await;
}

#[tokio::test]
async fn a_new_c_plugin_builds_checks_and_answers() {
    author_path(Language::C).await;
}

async fn author_path(language: Language) {
    let parent = tempfile::tempdir().unwrap();
    let name = format!("hello-{}", language.key());
    let plugin = callhost::cli::new::new(language, &name, parent.path()).unwrap();

    let wasm = build(&plugin);
    let checked = run(callhost().arg("check").arg(&wasm));
    assert!(
        stdout(&checked).contains("is a callhost workflow"),
        "callhost check {}:\n{}",
        wasm.display(),
        stdout(&checked)
    );
    // `simulate` fails when the scenario's expectations (answered, no fallback) are not met.
    run(callhost()
        .args(["simulate", "--plugin"])
        .arg(&wasm)
        .arg("--scenario")
        .arg(plugin.dir.join("scenario.toml")));

    assert_answers(&name, &wasm).await;
}

/// Builds the plugin with its documented command and returns the component.
fn build(plugin: &NewPlugin) -> PathBuf {
    let mut build = Command::new("sh");
    build.arg("-c").arg(&plugin.build).current_dir(&plugin.dir);
    let wasm = match plugin.language {
        Language::Rust => {
            rust_target_installed();
            // A lasting target directory, so that the SDK's dependencies build once.
            let target_dir = repo_root().join("target/scaffold-test");
            build.env("CARGO_TARGET_DIR", &target_dir);
            let wasm = Path::new(&plugin.wasm).strip_prefix("target").unwrap();
            target_dir.join(wasm)
        }
        Language::Python => {
            // The `once` step, `python3 -m venv .venv && .venv/bin/pip install …`, done by xtask.
            link_toolchain(
                &repo_root().join("target/toolchains/venv"),
                &plugin.dir.join(".venv"),
            );
            plugin.dir.join(&plugin.wasm)
        }
        Language::Js => {
            // The `once` step, `npm install`, done by xtask for plugins/ivr-menu-js, which pins
            // the same packages as the template.
            let ivr_menu_js = repo_root().join("plugins/ivr-menu-js");
            assert_eq!(
                npm_dev_dependencies(&ivr_menu_js),
                npm_dev_dependencies(&plugin.dir),
                "the JavaScript template and plugins/ivr-menu-js must pin the same packages"
            );
            link_toolchain(
                &ivr_menu_js.join("node_modules"),
                &plugin.dir.join("node_modules"),
            );
            plugin.dir.join(&plugin.wasm)
        }
        Language::C => {
            for file in ["/usr/bin/clang-19", "/usr/lib/wasm32-wasi/libc.a"] {
                assert!(
                    Path::new(file).exists(),
                    "{file} is missing: {BUILD_TOOLCHAINS_FIRST}"
                );
            }
            plugin.dir.join(&plugin.wasm)
        }
    };
    run(&mut build);
    assert!(
        wasm.exists(),
        "`{}` made no {}",
        plugin.build,
        wasm.display()
    );
    wasm
}

/// One incoming call through the runtime: the plugin answers it with audio.
async fn assert_answers(name: &str, wasm: &Path) {
    let runtime = Runtime::new(RuntimeSettings {
        cache_dir: Some(repo_root().join("target/test-compile-cache")),
        ..RuntimeSettings::default()
    })
    .unwrap();
    let plugin = runtime
        .load_file(PluginSpec::new(name), wasm)
        .unwrap_or_else(|e| panic!("{e}"));
    let control = RecordingControl::with_calls(&[CALL]);
    let invocation = runtime
        .invoke(
            &plugin,
            EventInput {
                call: context(CALL, CallState::Incoming),
                event: incoming_call(CALL),
                control: control.clone(),
                state: Arc::new(MemoryStateStore::new()),
            },
        )
        .await;
    assert_eq!(invocation.outcome, Outcome::Completed, "plugin {name}");
    let answered = CallAction::Answer {
        call_id: CALL.into(),
        options: AnswerOptions {
            modalities: vec![Modality::Audio],
            prefetch: vec![],
        },
    };
    assert_eq!(control.take(), vec![answered], "plugin {name}");
}

fn callhost() -> Command {
    Command::new(env!("CARGO_BIN_EXE_callhost"))
}

fn run(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("could not run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}\n{}",
        output.status,
        stdout(&output),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Puts the toolchain xtask installed where the template's setup step would have.
fn link_toolchain(installed: &Path, link: &Path) {
    assert!(
        installed.exists(),
        "{} is missing: {BUILD_TOOLCHAINS_FIRST}",
        installed.display()
    );
    std::os::unix::fs::symlink(installed, link).unwrap();
}

fn npm_dev_dependencies(project: &Path) -> serde_json::Value {
    let package = std::fs::read_to_string(project.join("package.json")).unwrap();
    let package: serde_json::Value = serde_json::from_str(&package).unwrap();
    package["devDependencies"].clone()
}

fn rust_target_installed() {
    let libdir = Command::new("rustc")
        .args(["--print", "target-libdir", "--target", "wasm32-wasip2"])
        .output()
        .expect("rustc runs");
    let libdir = PathBuf::from(String::from_utf8_lossy(&libdir.stdout).trim());
    assert!(
        libdir.is_dir(),
        "the Rust target wasm32-wasip2 is missing: {BUILD_TOOLCHAINS_FIRST}"
    );
}
