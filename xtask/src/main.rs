//! Project tasks, run as `cargo xtask <task>` from anywhere in the repository.

mod apt;
mod c;
mod command;
mod fuzz;
mod js;
mod plugins;
mod postgres;
mod profile;
mod python;
mod wasm_target;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

const USAGE: &str = "\
Usage: cargo xtask <task> [args...]

Tasks:
  build-plugins   Build every plugin (plugins/, tests/plugins/) for wasm32-wasip2 and copy the
                  components to target/plugins/<name>.wasm. Plugins in Python, JavaScript and C
                  are built with toolchains installed when missing: componentize-py into
                  target/toolchains/venv, ComponentizeJS into the plugin's node_modules/, and
                  clang-19 with wasi-libc from apt
  build-c DIR     Build the C plugin in DIR (its *.c files, against DIR/wit or else this
                  repository's wit/) into DIR/<name of DIR>.wasm
  test [args...]  Build the plugins, run their unit tests, start a private PostgreSQL server
                  (as `postgres` does), then run `cargo test --release --workspace [args...]`
                  with the CALLHOST_TEST_POSTGRES_* variables pointing at it; the server is
                  stopped when the tests end
  postgres        Start a private PostgreSQL server for the tests: a fresh cluster in
                  target/postgres/ (run by `nobody` under root) on a free port of 127.0.0.1,
                  with Debian's `postgresql` installed when missing. Prints the
                  CALLHOST_TEST_POSTGRES_* variables to export for `cargo test -p ...` and
                  stops the server when its input ends (Ctrl-D) or on Ctrl-C
  demo            Build the plugins, then run sample calls against them on a simulated Graph
                  (`callhost demo`): exits 0 when every call went as expected
  fuzz [TARGET] [--seconds N]
                  Run the cargo-fuzz targets of fuzz/ (notification, join_url, callback_token,
                  config, scenario; all of them, in that order, when none is named) for N
                  seconds each (default 60), with cargo-fuzz 0.13.1 installed into
                  target/tools/ when missing. Seeds come from fuzz/corpus/<target>/; new
                  inputs go to target/fuzz-corpus/<target>/. Prints each target's executions
                  and coverage, and fails naming the input and the command to reproduce it
                  when one crashes
  profile         Run the end-to-end benchmark under `perf record` (linux-perf from apt when
                  missing) and print where callhost's CPU time per notification goes
  help            Show this message
";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let task = args.next();
    let args: Vec<String> = args.collect();
    let root = repo_root();

    let outcome = match task.as_deref() {
        Some("build-plugins") => no_args("build-plugins", &args)
            .and_then(|()| plugins::build(&root))
            .map(|_| ExitCode::SUCCESS),
        Some("test") => test(&root, &args),
        Some("postgres") => no_args("postgres", &args)
            .and_then(|()| postgres::serve(&root))
            .map(|()| ExitCode::SUCCESS),
        Some("build-c") => build_c(&root, &args).map(|()| ExitCode::SUCCESS),

        Some("demo") => no_args("demo", &args).and_then(|()| demo(&root)),
        Some("fuzz") => fuzz::run(&root, &args),
        Some("profile") => no_args("profile", &args)
            .and_then(|()| profile::profile(&root))
            .map(|()| ExitCode::SUCCESS),

        Some("help" | "--help" | "-h") => {
            print!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        Some(unknown) => {
            eprint!("error: unknown task `{unknown}`\n\n{USAGE}");
            Ok(ExitCode::from(2))
        }
        None => {
            eprint!("{USAGE}");
            Ok(ExitCode::from(2))
        }
    };
    outcome.unwrap_or_else(|error| {
        eprintln!("error: {error:#}");
        ExitCode::FAILURE
    })
}

/// The repository: the parent of this crate's directory.
fn repo_root() -> PathBuf {
    let xtask_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask_dir
        .parent()
        .expect("the xtask crate lives in a directory of the repository")
        .to_path_buf()
}

fn no_args(task: &str, args: &[String]) -> Result<()> {
    match args.first() {
        None => Ok(()),
        Some(arg) => {
            anyhow::bail!("`{task}` takes no arguments, got `{arg}`; see `cargo xtask help`")
        }
    }
}

/// Builds a C plugin outside plugins/, as made by `callhost new --lang c`.
fn build_c(root: &Path, args: &[String]) -> Result<()> {
    let [dir] = args else {
        anyhow::bail!("`build-c` takes the plugin's directory; see `cargo xtask help`");
    };
    let dir = std::path::absolute(dir)?;
    let name = dir
        .file_name()
        .and_then(|name| name.to_str())
        .ok_or_else(|| anyhow::anyhow!("{} has no directory name", dir.display()))?;
    let own_wit = dir.join("wit");
    let wit = if own_wit.is_dir() {
        own_wit
    } else {
        root.join("wit")
    };
    let out = dir.join(format!("{name}.wasm"));
    c::ensure_toolchain()?;
    c::build(&wit, &dir, &dir.join("build"), &out)?;
    println!("{}", out.display());
    Ok(())
}

/// Builds the plugins and runs every test: the plugins' own unit tests on the host, then the
/// workspace's, which load the plugins from target/plugins/ and use a private PostgreSQL
/// server, stopped when this returns whatever the tests did.
fn test(root: &Path, cargo_test_args: &[String]) -> Result<ExitCode> {
    plugins::build(root)?;
    plugins::unit_test(root)?;
    let postgres = postgres::Server::start(root)?;

    let mut cargo_test = command::cargo();
    cargo_test
        .args(["test", "--release", "--workspace"])
        .args(cargo_test_args)
        .envs(postgres.env())
        .current_dir(root)
        .stdout(std::process::Stdio::piped());
    let mut child = cargo_test
        .spawn()
        .context("could not start `cargo test`; is cargo on PATH?")?;
    let mut totals = TestTotals::default();
    if let Some(stdout) = child.stdout.take() {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            let line = line.context("reading the output of `cargo test`")?;
            println!("{line}");
            totals.add(&line);
        }
    }
    let status = child.wait().context("waiting for `cargo test`")?;
    // One closing line for the whole run, summed over every test binary.
    println!(
        "tests: {} passed, {} failed, {} skipped",
        totals.passed, totals.failed, totals.ignored
    );
    // Killed by a signal, cargo has no exit code: report a plain failure.
    let code = status.code().and_then(|code| u8::try_from(code).ok());
    Ok(ExitCode::from(code.unwrap_or(1)))
}

/// Test counts summed over the `test result:` lines of a `cargo test` run.
#[derive(Default)]
struct TestTotals {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl TestTotals {
    /// Adds the counts of a line such as `test result: ok. 3 passed; 0 failed; 1 ignored; …`.
    fn add(&mut self, line: &str) {
        let Some(counts) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        for part in counts.split(['.', ';']) {
            let mut words = part.split_whitespace();
            let (Some(number), Some(what)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(number) = number.parse::<u64>() else {
                continue;
            };
            match what {
                "passed" => self.passed += number,
                "failed" => self.failed += number,
                "ignored" => self.ignored += number,
                _ => {}
            }
        }
    }
}

/// Builds the plugins, then runs `callhost demo` against them; quiet logs unless
/// `CALLHOST_LOG` says otherwise.
fn demo(root: &Path) -> Result<ExitCode> {
    plugins::build(root)?;
    let mut run = command::cargo();
    run.args(["run", "--release", "-p", "callhost-cli", "--", "demo"])
        .current_dir(root)
        .env(
            "CALLHOST_LOG",
            std::env::var("CALLHOST_LOG").unwrap_or_else(|_| "warn".into()),
        );
    let status = command::status(&mut run)?;
    let code = status.code().and_then(|code| u8::try_from(code).ok());
    Ok(ExitCode::from(code.unwrap_or(1)))
}

#[cfg(test)]
mod tests {
    use super::TestTotals;

    #[test]
    fn totals_sum_every_test_result_line() {
        let mut totals = TestTotals::default();
        for line in [
            "test result: ok. 154 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 2.04s",
            "running 3 tests",
            "test result: FAILED. 2 passed; 1 failed; 4 ignored; 0 measured; 0 filtered out",
        ] {
            totals.add(line);
        }
        assert_eq!((totals.passed, totals.failed, totals.ignored), (156, 1, 4));
    }
}
