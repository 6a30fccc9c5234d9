//! The author's path, per language, as a newcomer walks it: a copy of the callhost binary in a
//! folder of its own (nothing beside it, so it cannot find the repository it was built from),
//! `callhost new` in a folder outside the repository, the build with the command the plugin's
//! README documents, `callhost check` (a second check comes from the compile cache),
//! `callhost simulate` with the template's scenario, and the component answers an incoming call.
//!
//! The builds use the toolchains `cargo xtask build-plugins` installs, as the generated README
//! says they can be used: componentize-py in target/toolchains/venv, ComponentizeJS from npm's
//! cache (`npm ci --offline` with the template's lock file), clang-19 and wasi-libc from apt.
//! A missing one fails the test with what to run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use crate::support::*;
use callhost::call::{AnswerOptions, CallAction, CallState, Modality};
use callhost::runtime::{
    EventInput, MemoryStateStore, Outcome, PluginSpec, Runtime, RuntimeSettings,
};
use callhost_cli::new::Language;

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

/// A copy of the callhost binary alone in a temporary folder, run from another one.
struct Newcomer {
    bin: tempfile::TempDir,
    work: tempfile::TempDir,
}

impl Newcomer {
    fn new() -> Self {
        let bin = tempfile::tempdir().unwrap();
        std::fs::copy(env!("CARGO_BIN_EXE_callhost"), bin.path().join("callhost")).unwrap();
        let work = tempfile::tempdir().unwrap();
        assert!(!work.path().starts_with(repo_root()));
        Self { bin, work }
    }

    /// `command` in `dir`, with the copy first on PATH as `callhost`.
    fn command(&self, program: &str, dir: &Path) -> Command {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![self.bin.path().to_path_buf()];
        paths.extend(std::env::split_paths(&path));
        let mut command = Command::new(program);
        command
            .current_dir(dir)
            .env("PATH", std::env::join_paths(paths).unwrap())
            // The compile cache the tests share: Python and JavaScript compile once.
            .env(
                "CALLHOST_CACHE_DIR",
                repo_root().join("target/test-compile-cache"),
            )
            .env("CALLHOST_LOG", "warn");
        command
    }

    fn callhost(&self, dir: &Path) -> Command {
        let mut command = self.command("callhost", dir);
        command.env_remove("CARGO_MANIFEST_DIR");
        command
    }
}

/// What `callhost new` printed: the plugin's setup step, build command and component.
struct Made {
    dir: PathBuf,
    setup: Option<String>,
    build: String,
    wasm: String,
}

fn parse_new(output: &str, dir: PathBuf) -> Made {
    let field = |name: &str| {
        output
            .lines()
            .find_map(|line| line.trim().strip_prefix(name))
            .map(|value| value.trim().to_string())
    };
    let check = field("check:").expect("`callhost new` prints the check command");
    Made {
        dir,
        setup: field("once:"),
        build: field("build:").expect("`callhost new` prints the build command"),
        wasm: check.strip_prefix("callhost check ").unwrap().to_string(),
    }
}

async fn author_path(language: Language) {
    let newcomer = Newcomer::new();
    let name = format!("hello-{}", language.key());
    let made =
        run(newcomer
            .callhost(newcomer.work.path())
            .args(["new", "--lang", language.key(), &name]));
    let made = parse_new(&stdout(&made), newcomer.work.path().join(&name));
    assert_names_no_checkout(&made.dir);
    let readme = std::fs::read_to_string(made.dir.join("README.md")).unwrap();
    assert!(
        readme.contains(&made.build),
        "the README documents the build:\n{readme}"
    );

    let wasm = build(&newcomer, language, &made);
    for attempt in ["first", "second"] {
        let checked = run(newcomer.callhost(&made.dir).arg("check").arg(&wasm));
        let report = stdout(&checked);
        assert!(
            report.contains("is a callhost workflow"),
            "callhost check {}:\n{report}",
            wasm.display()
        );
        if attempt == "second" {
            assert!(
                report.contains("loaded from the compile cache"),
                "the second check compiled again:\n{report}"
            );
        }
    }
    // `simulate` fails when the scenario's expectations (answered, no fallback) are not met.
    run(newcomer
        .callhost(&made.dir)
        .args(["simulate", "--plugin"])
        .arg(&wasm)
        .args(["--scenario", "scenario.toml"]));

    assert_answers(&name, &wasm).await;
}

/// Builds the plugin with its documented command and returns the component.
fn build(newcomer: &Newcomer, language: Language, made: &Made) -> PathBuf {
    let mut build = newcomer.command("sh", &made.dir);
    build.arg("-c").arg(&made.build);
    let wasm = match language {
        Language::Rust => {
            rust_target_installed();
            // A lasting target directory, so that the SDK's dependencies build once; offline:
            // the lock file pins the crates callhost's own plugins were built with.
            let target_dir = repo_root().join("target/scaffold-test");
            build
                .env("CARGO_TARGET_DIR", &target_dir)
                .env("CARGO_NET_OFFLINE", "true");
            let wasm = Path::new(&made.wasm).strip_prefix("target").unwrap();
            target_dir.join(wasm)
        }
        Language::Python => {
            // The README's alternative to the `once` step: the venv xtask installed.
            link_toolchain(
                &repo_root().join("target/toolchains/venv"),
                &made.dir.join(".venv"),
            );
            made.dir.join(&made.wasm)
        }
        Language::Js => {
            // The `once` step, from npm's cache only: it holds the packages xtask installed
            // for plugins/ivr-menu-js, which the template's lock file pins.
            assert_eq!(made.setup.as_deref(), Some("npm ci"));
            assert!(
                repo_root()
                    .join("plugins/ivr-menu-js/node_modules")
                    .is_dir(),
                "plugins/ivr-menu-js/node_modules is missing: {BUILD_TOOLCHAINS_FIRST}"
            );
            run(newcomer.command("npm", &made.dir).args([
                "ci",
                "--offline",
                "--no-audit",
                "--no-fund",
            ]));
            made.dir.join(&made.wasm)
        }
        Language::C => {
            assert_eq!(made.build, "callhost build-c");
            for file in ["/usr/bin/clang-19", "/usr/lib/wasm32-wasi/libc.a"] {
                assert!(
                    Path::new(file).exists(),
                    "{file} is missing: {BUILD_TOOLCHAINS_FIRST}"
                );
            }
            made.dir.join(&made.wasm)
        }
    };
    run(&mut build);
    assert!(wasm.exists(), "`{}` made no {}", made.build, wasm.display());
    wasm
}

/// No file `callhost new` wrote points into the checkout the binary was built from.
fn assert_names_no_checkout(dir: &Path) {
    let checkout = repo_root().canonicalize().unwrap().display().to_string();
    for file in walk(dir) {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            !text.contains(&checkout),
            "{} names the checkout {checkout}",
            file.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
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
                timers: Default::default(),
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
