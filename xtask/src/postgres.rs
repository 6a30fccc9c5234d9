//! A private PostgreSQL server for the tests: a fresh cluster in target/postgres/, listening on
//! a free loopback port only, started by `cargo xtask test` and `cargo xtask postgres` and
//! stopped when the task ends. The tests find it through four variables:
//!
//! - `CALLHOST_TEST_POSTGRES_URL`: `postgres://callhost:<password>@127.0.0.1:<port>/postgres`,
//!   a superuser, so a test creates the databases it needs;
//! - `CALLHOST_TEST_POSTGRES_BIN`: the directory of `pg_ctl` and the other programs;
//! - `CALLHOST_TEST_POSTGRES_DATA`: the data directory;
//! - `CALLHOST_TEST_POSTGRES_USER`: who runs the server, so that a test that stops or restarts
//!   it runs `pg_ctl -D <data> -l <log file> restart` as that user (`runuser -u nobody -- …`
//!   under root); without `-l` the server keeps the test's output open.
//!
//! Debian's `postgresql` package is installed when missing; its programs are in
//! /usr/lib/postgresql/<major>/bin/, which is not on PATH. PostgreSQL refuses to run as root,
//! so under root (CI) the server runs as `nobody`.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::{apt, command};

mod certificates;

/// Where Debian puts each major version's programs: /usr/lib/postgresql/<major>/bin/.
const DEBIAN_VERSIONS_DIR: &str = "/usr/lib/postgresql";

/// The superuser the cluster is created with, who is also in the URL.
const ROLE: &str = "callhost";

/// The user that runs the server when this task runs as root.
const NOBODY: &str = "nobody";

/// How many lines of the server's log a start failure shows.
const LOG_LINES_SHOWN: usize = 20;

/// Waits until its standard input closes, which happens however this process ends (returning,
/// Ctrl-C, a kill), then stops the server if it is still running, so an interrupted task does
/// not leave one behind. Ignores the signals a terminal sends to every process of the task.
/// `$1` is the data directory, the rest is the stop command.
const WATCHDOG_SCRIPT: &str = r#"trap '' INT HUP TERM QUIT
cat >/dev/null
[ -f "$1/postmaster.pid" ] || exit 0
shift
exec "$@""#;

/// The server's programs, run as the user who owns the cluster.
struct Programs {
    /// /usr/lib/postgresql/<major>/bin.
    bin: PathBuf,
    /// Under root: run them as `nobody` through `runuser`.
    as_nobody: bool,
}

impl Programs {
    /// `program` of the bin directory, run in `dir` (one that `nobody` can enter: it may not be
    /// able to enter the task's own working directory).
    fn command(&self, program: &str, dir: &Path) -> Command {
        let path = self.bin.join(program);
        let mut command = if self.as_nobody {
            let mut runuser = Command::new("runuser");
            runuser.args(["-u", NOBODY, "--"]).arg(path);
            runuser
        } else {
            Command::new(path)
        };
        command.current_dir(dir);
        command
    }

    /// `pg_ctl stop` of the cluster in `data`: waits until the server has gone.
    fn stop(&self, dir: &Path, data: &Path, mode: &str) -> Command {
        let mut stop = self.command("pg_ctl", dir);
        stop.arg("stop")
            .arg("-D")
            .arg(data)
            .args(["-m", mode, "-w", "-t", "60"]);
        stop
    }
}

/// A running server, stopped when dropped.
pub struct Server {
    programs: Programs,
    /// The cluster's directory: data/, server.log.
    dir: PathBuf,
    data: PathBuf,
    /// Who runs the server: `nobody` or the current user.
    user: String,
    url: String,
    /// Stops the server should this process end without dropping the guard.
    watchdog: Option<Child>,
}

impl Server {
    /// Installs PostgreSQL when missing, creates a fresh cluster (stopping and removing the one
    /// a previous run left) and starts its server on a free port of 127.0.0.1.
    pub fn start(root: &Path) -> Result<Server> {
        let installed = || bin_dir_in(Path::new(DEBIAN_VERSIONS_DIR));
        apt::ensure("PostgreSQL", "postgresql", || match installed() {
            Some(_) => vec![],
            None => vec![format!("{DEBIAN_VERSIONS_DIR}/<major>/bin/initdb")],
        })?;
        // The server's certificate is made with it (postgresql brings it along, through
        // ssl-cert; a trimmed system may lack it all the same).
        apt::ensure("OpenSSL", "openssl", || {
            let on_path = Command::new("openssl").arg("version").output().is_ok();
            if on_path {
                vec![]
            } else {
                vec!["openssl".into()]
            }
        })?;
        let bin = installed().with_context(|| {
            format!(
                "no {DEBIAN_VERSIONS_DIR}/<major>/bin/ has initdb and pg_ctl; reinstall them \
                 with `apt-get install --reinstall postgresql`"
            )
        })?;
        let as_nobody = apt::is_root()?;
        let programs = Programs { bin, as_nobody };
        let user = if as_nobody {
            NOBODY.to_string()
        } else {
            let mut id = Command::new("id");
            id.arg("-un");
            command::output(&mut id, "check the system's `id` command")?
                .trim()
                .to_string()
        };

        let dir = cluster_dir(root, as_nobody)?;
        let data = dir.join("data");
        let log = dir.join("server.log");
        if data.join("postmaster.pid").exists() {
            // A server of a run that was killed; no server behind a stale pid file is fine too.
            let _ = programs.stop(&dir, &data, "immediate").output();
        }
        if data.exists() {
            fs::remove_dir_all(&data).with_context(|| {
                format!(
                    "could not remove the old cluster {}; remove it by hand",
                    data.display()
                )
            })?;
        }
        if log.exists() {
            fs::remove_file(&log)
                .with_context(|| format!("could not remove the old log {}", log.display()))?;
        }

        let password = random_hex(16)?;
        init_cluster(&programs, &dir, &data, &password)?;
        let tls = certificates::make(&dir, as_nobody.then_some(NOBODY))?;

        let port = free_port()?;
        let server = Server {
            watchdog: Some(watchdog(&programs, &dir, &data)?),
            programs,
            dir,
            data,
            user,
            url: url(&password, port, &tls.ca),
        };
        // From here a failure drops `server`, which stops whatever did start.
        let mut start = server.programs.command("pg_ctl", &server.dir);
        start
            .arg("start")
            .arg("-D")
            .arg(&server.data)
            .args(["-w", "-t", "60", "-l"])
            .arg(&log)
            .arg("-o")
            .arg(server_options(port, &tls));
        if let Err(error) = command::output(&mut start, "the server's log follows") {
            bail!(
                "PostgreSQL did not start: {error:#}\n{}\nFix what the log says and run again; \
                 the whole log is {}",
                log_tail(&log),
                log.display()
            );
        }
        println!(
            "PostgreSQL for the tests on 127.0.0.1:{port}, cluster in {}",
            server.data.display()
        );
        Ok(server)
    }

    /// The variables that point the tests at this server.
    pub fn env(&self) -> Vec<(&'static str, OsString)> {
        vec![
            ("CALLHOST_TEST_POSTGRES_URL", self.url.clone().into()),
            (
                "CALLHOST_TEST_POSTGRES_BIN",
                self.programs.bin.clone().into(),
            ),
            ("CALLHOST_TEST_POSTGRES_DATA", self.data.clone().into()),
            ("CALLHOST_TEST_POSTGRES_USER", self.user.clone().into()),
        ]
    }
}

impl Drop for Server {
    /// Stops the server unless a test already did, then lets the watchdog go.
    fn drop(&mut self) {
        if self.data.join("postmaster.pid").exists() {
            let fix = format!(
                "stop it by hand: `pg_ctl stop -D {}` as {}",
                self.data.display(),
                self.user
            );
            let mut stop = self.programs.stop(&self.dir, &self.data, "fast");
            if let Err(error) = command::output(&mut stop, &fix) {
                eprintln!("warning: PostgreSQL did not stop: {error:#}");
            }
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            // Closing its input lets it end; it finds the server gone.
            drop(watchdog.stdin.take());
            let _ = watchdog.wait();
        }
    }
}

/// `cargo xtask postgres`: starts the server, prints the variables to export for running
/// `cargo test` by hand against it, and stops it when standard input ends (Ctrl-D) or the task
/// is interrupted (Ctrl-C).
pub fn serve(root: &Path) -> Result<()> {
    let server = Server::start(root)?;
    for (name, value) in server.env() {
        println!("export {name}={}", shell_quoted(&value.to_string_lossy()));
    }
    println!("# The server runs until this task's input ends: press Ctrl-D or Ctrl-C to stop it");
    io::copy(&mut io::stdin().lock(), &mut io::sink()).context("reading standard input")?;
    drop(server);
    println!("PostgreSQL stopped");
    Ok(())
}

/// The bin directory of the highest major version in `versions_dir` that has both initdb and
/// pg_ctl.
fn bin_dir_in(versions_dir: &Path) -> Option<PathBuf> {
    let entries = fs::read_dir(versions_dir).ok()?;
    entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let major: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((major, bin))
        })
        .max_by_key(|(major, _)| *major)
        .map(|(_, bin)| bin)
}

/// Where the cluster lives: target/postgres/ of the repository, or, when `nobody` runs the
/// server and cannot reach that (a parent directory that others may not enter, as for a clone
/// under /root), a directory of the temporary directory named after the repository. Under
/// root the directory is handed to `nobody`.
fn cluster_dir(root: &Path, as_nobody: bool) -> Result<PathBuf> {
    let dir = root.join("target/postgres");
    create_dir(&dir)?;
    if !as_nobody {
        return Ok(dir);
    }
    give_to_nobody(&dir)?;
    if nobody_can_write(&dir)? {
        return Ok(dir);
    }
    let fallback = fallback_dir(&std::env::temp_dir(), root);
    println!(
        "PostgreSQL runs as `{NOBODY}`, who cannot reach {}: its cluster is in {} instead",
        dir.display(),
        fallback.display()
    );
    create_dir(&fallback)?;
    give_to_nobody(&fallback)?;
    if !nobody_can_write(&fallback)? {
        bail!(
            "`{NOBODY}` cannot write to {} either; let others enter the repository's parent \
             directories (`chmod o+x`), or run the task as a user other than root",
            fallback.display()
        );
    }
    Ok(fallback)
}

fn create_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))
}

/// The cluster's directory in `temp_dir` for the repository at `root`: one per repository, so
/// that two clones do not share a cluster, and the same on every run, so that a run finds what
/// the previous one left.
fn fallback_dir(temp_dir: &Path, root: &Path) -> PathBuf {
    temp_dir.join(format!(
        "callhost-postgres-{:016x}",
        fnv1a(root.as_os_str().as_encoded_bytes())
    ))
}

/// The 64-bit FNV-1a hash: small and the same in every build, unlike std's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn give_to_nobody(path: &Path) -> Result<()> {
    let mut chown = Command::new("chown");
    chown.args(["-R", NOBODY]).arg(path);
    command::run(
        &mut chown,
        &format!("check that the user `{NOBODY}` exists (`id {NOBODY}`)"),
    )
}

fn nobody_can_write(dir: &Path) -> Result<bool> {
    let mut test = Command::new("runuser");
    test.args(["-u", NOBODY, "--", "test", "-w"])
        .arg(dir)
        .current_dir("/");
    Ok(command::status(&mut test)?.success())
}

/// Creates the cluster in `data` with the superuser `callhost` and `password`, which is in a
/// file readable by the server's user only while initdb runs.
fn init_cluster(programs: &Programs, dir: &Path, data: &Path, password: &str) -> Result<()> {
    let pwfile = dir.join("pwfile");
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&pwfile)
        .and_then(|mut file| io::Write::write_all(&mut file, password.as_bytes()))
        .with_context(|| format!("could not write {}", pwfile.display()))?;
    if programs.as_nobody {
        give_to_nobody(&pwfile)?;
    }
    let mut initdb = programs.command("initdb", dir);
    initdb
        .arg("-D")
        .arg(data)
        .args(["-U", ROLE, "--auth=scram-sha-256", "--pwfile"])
        .arg(&pwfile)
        // --no-sync skips only initdb's own flush of the new files; the server still fsyncs.
        .args(["-E", "UTF8", "--no-locale", "--no-sync"]);
    let created = command::output(
        &mut initdb,
        &format!("the cluster was to be created in {}", data.display()),
    );
    let _ = fs::remove_file(&pwfile);
    created.map(|_| ())
}

/// `bytes` random bytes from the kernel, in hex.
fn random_hex(bytes: usize) -> Result<String> {
    let mut random = vec![0; bytes];
    fs::File::open("/dev/urandom")
        .and_then(|mut urandom| urandom.read_exact(&mut random))
        .context("could not read /dev/urandom for the server's password")?;
    Ok(random.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// A port of 127.0.0.1 that nothing listens on: the kernel's pick, released for the server.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .context("could not bind a port of 127.0.0.1 to find a free one")?;
    Ok(listener.local_addr()?.port())
}

/// The server's settings: TCP on 127.0.0.1 only, no Unix socket, room for the many pools the
/// tests open. fsync stays on, so that what the durability tests check is real.
fn server_options(port: u16, tls: &certificates::Certificates) -> String {
    format!(
        "-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='' \
         -c max_connections=200 -c shared_buffers=64MB \
         -c ssl=on -c ssl_cert_file='{}' -c ssl_key_file='{}'",
        tls.cert.display(),
        tls.key.display()
    )
}

/// The tests connect over TLS, verifying the server against the cluster's own CA.
fn url(password: &str, port: u16, ca: &Path) -> String {
    format!(
        "postgres://{ROLE}:{password}@127.0.0.1:{port}/postgres?sslmode=require&sslrootcert={}",
        ca.display()
    )
}

/// Starts the watchdog (see [`WATCHDOG_SCRIPT`]) for the cluster in `data`.
fn watchdog(programs: &Programs, dir: &Path, data: &Path) -> Result<Child> {
    let stop = programs.stop(dir, data, "fast");
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg(WATCHDOG_SCRIPT)
        .arg("callhost-postgres-watchdog")
        .arg(data)
        .arg(stop.get_program())
        .args(stop.get_args())
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null());
    sh.spawn()
        .context("could not start `sh` to watch the PostgreSQL server; is sh on PATH?")
}

/// The last lines of the server's log, or why there are none.
fn log_tail(log: &Path) -> String {
    match fs::read_to_string(log) {
        Ok(text) => format!(
            "Last lines of {}:\n{}",
            log.display(),
            last_lines(&text, LOG_LINES_SHOWN)
        ),
        Err(error) => format!("The server wrote no log to {} ({error})", log.display()),
    }
}

fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

/// `value` as one shell word: unquoted when that is safe, else in single quotes.
fn shell_quoted(value: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./:@%+=,".contains(c);
    if !value.is_empty() && value.chars().all(plain) {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use super::{bin_dir_in, fallback_dir, last_lines, server_options, shell_quoted, url};

    #[test]
    fn url_names_the_role_password_and_port() {
        assert_eq!(
            url("0a1b", 54321, Path::new("/t/ca.crt")),
            "postgres://callhost:0a1b@127.0.0.1:54321/postgres?sslmode=require&sslrootcert=/t/ca.crt"
        );
    }

    #[test]
    fn server_listens_on_the_port_of_loopback_only() {
        let tls = super::certificates::Certificates {
            ca: "/t/ca.crt".into(),
            cert: "/t/server.crt".into(),
            key: "/t/server.key".into(),
        };
        let options = server_options(5999, &tls);
        assert!(options.contains(
            "-c ssl=on -c ssl_cert_file='/t/server.crt' -c ssl_key_file='/t/server.key'"
        ));
        assert!(options.contains("-c listen_addresses=127.0.0.1 -c port=5999 "));
        assert!(options.contains("-c unix_socket_directories=''"));
        assert!(!options.contains("fsync"));
    }

    #[test]
    fn fallback_dir_is_named_after_the_repository() {
        let tmp = Path::new("/tmp");
        let dir = fallback_dir(tmp, Path::new("/root/callhost"));
        assert_eq!(dir, fallback_dir(tmp, Path::new("/root/callhost")));
        assert_ne!(dir, fallback_dir(tmp, Path::new("/root/callhost-2")));
        assert_eq!(dir.parent(), Some(tmp));
        let name = dir.file_name().unwrap().to_str().unwrap();
        let hash = name.strip_prefix("callhost-postgres-").unwrap();
        assert_eq!(hash.len(), 16);
        assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn bin_dir_is_the_highest_major_with_the_programs() {
        let versions = std::env::temp_dir().join(format!(
            "callhost-xtask-postgres-versions-{}",
            std::process::id()
        ));
        for (major, programs) in [
            ("9", &["initdb", "pg_ctl"][..]),
            ("13", &["initdb", "pg_ctl"]),
            ("15", &["initdb", "pg_ctl"]),
            ("16", &["pg_ctl"]),
            ("main", &["initdb", "pg_ctl"]),
        ] {
            let bin = versions.join(major).join("bin");
            fs::create_dir_all(&bin).unwrap();
            for program in programs {
                fs::write(bin.join(program), "").unwrap();
            }
        }
        let found = bin_dir_in(&versions);
        let missing = bin_dir_in(&versions.join("none"));
        fs::remove_dir_all(&versions).unwrap();
        assert_eq!(found, Some(versions.join("15/bin")));
        assert_eq!(missing, None);
    }

    #[test]
    fn last_lines_keeps_the_end() {
        assert_eq!(last_lines("a\nb\nc\n", 2), "b\nc");
        assert_eq!(last_lines("a\n", 20), "a");
    }

    #[test]
    fn shell_quoted_quotes_only_when_needed() {
        assert_eq!(
            shell_quoted("postgres://callhost:ab12@127.0.0.1:5432/postgres"),
            "postgres://callhost:ab12@127.0.0.1:5432/postgres"
        );
        assert_eq!(shell_quoted("/tmp/a dir"), "'/tmp/a dir'");
        assert_eq!(shell_quoted("it's"), r"'it'\''s'");
        assert_eq!(shell_quoted(""), "''");
    }
}
