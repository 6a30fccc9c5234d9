//! `cargo xtask fuzz [TARGET] [--seconds N]`: runs the libFuzzer targets of fuzz/ with
//! cargo-fuzz, installed into target/tools/ when missing. Each target starts from the seeds
//! committed in fuzz/corpus/<target>/ and writes what it finds to target/fuzz-corpus/<target>/
//! (crash inputs to target/fuzz-artifacts/<target>/), so a run never changes the repository.
//!
//! The build is uninstrumented by sanitizers (`--sanitizer none`): the fuzzed crates deny
//! unsafe code, so AddressSanitizer would cost build and run time without finding more. Debug
//! assertions and overflow checks are on, so an arithmetic overflow is a crash too.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, Result, bail};

use crate::command;

/// The fuzz targets, in the order they run.
pub const TARGETS: [&str; 5] = [
    "notification",
    "join_url",
    "callback_token",
    "config",
    "scenario",
];

/// The cargo-fuzz release the targets are run with.
const CARGO_FUZZ_VERSION: &str = "0.13.1";

/// How long each target runs unless told.
const DEFAULT_SECONDS: u64 = 60;

/// A unit that runs longer than this is reported as a hang (libFuzzer's `timeout-` file).
const UNIT_TIMEOUT_SECONDS: u64 = 25;

/// What to run: one target or all, for how long each.
#[derive(Debug, PartialEq, Eq)]
struct Request {
    targets: Vec<&'static str>,
    seconds: u64,
}

fn parse_args(args: &[String]) -> Result<Request> {
    let mut targets = Vec::new();
    let mut seconds = DEFAULT_SECONDS;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let value = match arg.strip_prefix("--seconds=") {
            Some(value) => Some(value),
            None if arg == "--seconds" => Some(
                args.next()
                    .map(String::as_str)
                    .context("`--seconds` needs a number of seconds")?,
            ),
            None => None,
        };
        if let Some(value) = value {
            seconds =
                value.parse().ok().filter(|&s| s > 0).with_context(|| {
                    format!("`--seconds {value}`: expected a whole number above 0")
                })?;
            continue;
        }
        if arg.starts_with('-') {
            bail!("`fuzz` has no option `{arg}`; see `cargo xtask help`");
        }
        let Some(target) = TARGETS.iter().find(|t| **t == arg) else {
            bail!(
                "unknown fuzz target `{arg}`; the targets are {}",
                TARGETS.join(", ")
            );
        };
        if !targets.is_empty() {
            bail!("`fuzz` takes at most one target; run it once per target");
        }
        targets.push(*target);
    }
    if targets.is_empty() {
        targets = TARGETS.to_vec();
    }
    Ok(Request { targets, seconds })
}

/// The cargo-fuzz of [`ensure_cargo_fuzz`].
fn cargo_fuzz(root: &Path) -> PathBuf {
    root.join("target/tools/bin/cargo-fuzz")
}

/// Installs cargo-fuzz into target/tools/ unless that version is there.
fn ensure_cargo_fuzz(root: &Path) -> Result<PathBuf> {
    let tool = cargo_fuzz(root);
    if tool.exists() {
        let mut version = Command::new(&tool);
        version.args(["fuzz", "--version"]);
        let printed = command::output(&mut version, "remove target/tools and run again")?;
        if printed.split_whitespace().nth(1) == Some(CARGO_FUZZ_VERSION) {
            return Ok(tool);
        }
    }
    println!(
        "Installing cargo-fuzz {CARGO_FUZZ_VERSION} into {}",
        root.join("target/tools").display()
    );
    let mut install = command::cargo();
    install
        .args(["install", "--locked", "--version", CARGO_FUZZ_VERSION])
        .arg("--root")
        .arg(root.join("target/tools"))
        .arg("cargo-fuzz")
        .current_dir(root);
    command::run(
        &mut install,
        "check that crates.io can be reached, then run `cargo xtask fuzz` again",
    )?;
    Ok(tool)
}

/// The dictionary a target's inputs are built from, relative to fuzz/dict/.
fn dictionary(target: &str) -> &'static str {
    match target {
        "notification" => "json.dict",
        "join_url" => "join_url.dict",
        "callback_token" => "callback_token.dict",
        _ => "toml.dict",
    }
}

/// What libFuzzer reported of one run.
#[derive(Debug, Default, PartialEq, Eq)]
struct Outcome {
    executions: Option<u64>,
    coverage: Option<u64>,
    /// Inputs that crashed, ran out of memory or hung (`crash-…`, `oom-…`, `timeout-…`).
    failures: Vec<String>,
    /// Inputs that were merely slow (`slow-unit-…`).
    slow: Vec<String>,
}

impl Outcome {
    /// Takes in one line of libFuzzer's output.
    fn add(&mut self, line: &str) {
        let line = line.trim();
        if let Some(count) = line.strip_prefix("stat::number_of_executed_units:") {
            self.executions = count.trim().parse().ok().or(self.executions);
        } else if let Some(rest) = line.strip_prefix("Done ") {
            // `Done 123 runs in 60 second(s)`, in case the stats are missing.
            if self.executions.is_none() {
                self.executions = rest.split_whitespace().next().and_then(|n| n.parse().ok());
            }
        } else if line.starts_with('#')
            && let Some(cov) = line.split_once("cov: ")
        {
            // `#123\tDONE   cov: 456 ft: …`, and every status line before it.
            let value = cov.1.split_whitespace().next().and_then(|n| n.parse().ok());
            self.coverage = value.or(self.coverage);
        }
        if let Some((_, path)) = line.split_once("Test unit written to ") {
            let path = path.trim().to_owned();
            let name = Path::new(&path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with("slow-unit-") {
                self.slow.push(path);
            } else if !self.failures.contains(&path) {
                self.failures.push(path);
            }
        }
    }
}

/// Runs the targets `args` name (all when none) and prints one summary line for each.
pub fn run(root: &Path, args: &[String]) -> Result<ExitCode> {
    let request = parse_args(args)?;
    let tool = ensure_cargo_fuzz(root)?;
    let mut summaries = Vec::new();
    let mut failed = false;
    for target in &request.targets {
        let outcome = run_target(root, &tool, target, request.seconds)?;
        let show = |n: Option<u64>| n.map_or_else(|| "?".to_owned(), |n| n.to_string());
        let summary = format!(
            "fuzz {target}: {} s, {} executions, coverage {}, {} crashes",
            request.seconds,
            show(outcome.executions),
            show(outcome.coverage),
            outcome.failures.len()
        );
        println!("{summary}");
        for slow in &outcome.slow {
            println!("  slow input (not a failure): {slow}");
        }
        for file in &outcome.failures {
            failed = true;
            let shown = file
                .strip_prefix(&format!("{}/", root.display()))
                .unwrap_or(file);
            println!(
                "  crash: {shown}\n  run again: cargo xtask fuzz {target}\n  reproduce: \
                 RUSTC_BOOTSTRAP=1 target/tools/bin/cargo-fuzz run --fuzz-dir fuzz \
                 --target-dir target/fuzz --sanitizer none --debug-assertions {target} {shown}"
            );
        }
        summaries.push(summary);
    }
    if request.targets.len() > 1 {
        println!("\nSummary:");
        for summary in &summaries {
            println!("  {summary}");
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Builds and runs one target for `seconds`, passing libFuzzer's output through.
fn run_target(root: &Path, tool: &Path, target: &str, seconds: u64) -> Result<Outcome> {
    let corpus = root.join("target/fuzz-corpus").join(target);
    let artifacts = root.join("target/fuzz-artifacts").join(target);
    for dir in [&corpus, &artifacts] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut fuzz = Command::new(tool);
    fuzz.args(["fuzz", "run", "--fuzz-dir"])
        .arg(root.join("fuzz"))
        .arg("--target-dir")
        .arg(root.join("target/fuzz"))
        .args(["--release", "--debug-assertions", "--sanitizer", "none"])
        .arg(target)
        .arg(&corpus)
        .arg(root.join("fuzz/corpus").join(target))
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!(
            "-dict={}",
            root.join("fuzz/dict").join(dictionary(target)).display()
        ))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg(format!("-timeout={UNIT_TIMEOUT_SECONDS}"))
        .arg("-print_final_stats=1")
        // cargo-fuzz passes flags only nightly accepts; this lets the stable toolchain take them.
        .env("RUSTC_BOOTSTRAP", "1")
        .current_dir(root)
        .stderr(Stdio::piped());
    println!("Fuzzing {target} for {seconds} s");
    let mut child = fuzz
        .spawn()
        .with_context(|| format!("could not start {}", tool.display()))?;
    let mut outcome = Outcome::default();
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).split(b'\n') {
            let line = line.context("reading the output of cargo-fuzz")?;
            let line = String::from_utf8_lossy(&line);
            eprintln!("{line}");
            outcome.add(&line);
        }
    }
    let status = child.wait().context("waiting for cargo-fuzz")?;
    if !status.success() && outcome.failures.is_empty() {
        bail!(
            "fuzzing {target} failed ({status}) without writing a crash input; see the output \
             above (a build error, or libFuzzer stopped for another reason)"
        );
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(args: &[&str]) -> Result<Request> {
        parse_args(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn arguments_name_one_target_or_all() {
        assert_eq!(
            args(&[]).unwrap(),
            Request {
                targets: TARGETS.to_vec(),
                seconds: 60
            }
        );
        assert_eq!(
            args(&["join_url", "--seconds", "600"]).unwrap(),
            Request {
                targets: vec!["join_url"],
                seconds: 600
            }
        );
        assert_eq!(args(&["--seconds=5"]).unwrap().seconds, 5);
        let unknown = args(&["json"]).unwrap_err().to_string();
        assert!(unknown.contains("notification, join_url, callback_token, config, scenario"));
        assert!(args(&["--seconds", "0"]).is_err());
        assert!(args(&["--seconds"]).is_err());
        assert!(args(&["config", "scenario"]).is_err());
    }

    #[test]
    fn outcome_reads_the_final_stats_and_crash_files() {
        let mut outcome = Outcome::default();
        for line in [
            "#2\tINITED cov: 120 ft: 130 corp: 5/1024b exec/s: 0 rss: 40Mb",
            "#40960\tpulse  cov: 800 ft: 2000 corp: 90/9Kb lim: 400 exec/s: 20480 rss: 60Mb",
            "#61234\tDONE   cov: 812 ft: 2101 corp: 95/10Kb lim: 400 exec/s: 1020 rss: 61Mb",
            "Done 61234 runs in 60 second(s)",
            "stat::number_of_executed_units: 61235",
            "stat::average_exec_per_sec:     1020",
            "artifact_prefix='/r/target/fuzz-artifacts/config/'; Test unit written to /r/target/fuzz-artifacts/config/crash-0a1b",
            "Test unit written to /r/target/fuzz-artifacts/config/slow-unit-99",
        ] {
            outcome.add(line);
        }
        assert_eq!(outcome.executions, Some(61235));
        assert_eq!(outcome.coverage, Some(812));
        assert_eq!(
            outcome.failures,
            vec!["/r/target/fuzz-artifacts/config/crash-0a1b".to_owned()]
        );
        assert_eq!(outcome.slow.len(), 1);
    }
}
