//! `callhost serve` as its own process, wired to a Graph simulator in the test's process: what
//! an operator runs, so that its memory, connections, logs and shutdown can be measured.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use callhost_simulator::{IssueClaims, RecordedRequest, SIM_TENANT, Simulator, SimulatorSettings};
use serde_json::Value;

use super::bot::{BOT_APP_ID, admin_get, service_config};
use super::ports::free_port;

/// A running `callhost serve` and its simulated Graph.
pub struct Served {
    pub sim: Simulator,
    /// The callback listener's address.
    pub addr: SocketAddr,
    /// Where Graph posts notifications.
    pub callback_url: String,
    pub admin_url: String,
    pub http: reqwest::Client,
    child: tokio::process::Child,
    config_path: PathBuf,
    log_path: PathBuf,
    /// The callback socket, held here as a service manager holds it, when socket activated.
    socket: Option<std::net::TcpListener>,
    _dir: tempfile::TempDir,
}

/// Starts `callhost serve --config <config_path>`, appending its output to `log_path`; with
/// `socket`, as a service manager does socket activation: the listening socket passed as file
/// descriptor 3 with `LISTEN_FDS`, `LISTEN_FDNAMES` and `LISTEN_PID`.
pub(super) fn spawn(
    config_path: &std::path::Path,
    log_path: &std::path::Path,
    socket: Option<&std::net::TcpListener>,
) -> tokio::process::Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .unwrap();
    let callhost = env!("CARGO_BIN_EXE_callhost");
    let mut command = match socket {
        None => tokio::process::Command::new(callhost),
        Some(socket) => {
            // `LISTEN_PID` must be the service's own pid: the shell sets it to its own, then
            // becomes the service.
            let mut command = tokio::process::Command::new("sh");
            command
                .args(["-c", "LISTEN_PID=$$ exec \"$0\" \"$@\"", callhost])
                .env("LISTEN_FDS", "1")
                .env("LISTEN_FDNAMES", "callbacks");
            pass_as_fd3(&mut command, socket);
            command
        }
    };
    command
        .arg("serve")
        .arg("--config")
        .arg(config_path)
        .env("CALLHOST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// Makes `socket` the child's file descriptor 3, open across `exec`.
fn pass_as_fd3(command: &mut tokio::process::Command, socket: &std::net::TcpListener) {
    use std::os::fd::AsRawFd as _;
    let fd = socket.as_raw_fd();
    // SAFETY: runs in the forked child before exec and calls only dup2 and fcntl, which are
    // async-signal-safe; `fd` stays open in the parent for as long as the test holds `socket`.
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(move || {
            if fd != 3 && libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Runs `callhost serve --config <config>` expecting it to refuse to start: its exit status
/// and what it printed.
pub async fn serve_refused(config: &std::path::Path) -> (std::process::ExitStatus, String) {
    let log_path = config.with_extension("refused.log");
    let _ = std::fs::remove_file(&log_path);
    let mut child = spawn(config, &log_path, None);
    let exit = tokio::time::timeout(Duration::from_secs(60), child.wait()).await;
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    match exit {
        Ok(status) => (status.unwrap(), output),
        Err(_) => panic!(
            "callhost serve --config {} started:\n{output}",
            config.display()
        ),
    }
}

impl Served {
    /// Starts `callhost serve` with `extra` merged over the base configuration (see
    /// [`service_config`]) and waits until `/readyz` says ready.
    pub async fn start(extra: &str) -> Served {
        Self::start_with(SimulatorSettings::default(), extra).await
    }

    /// [`Self::start`] with a simulator of `settings` (its bot app id is the test bot's).
    pub async fn start_with(settings: SimulatorSettings, extra: &str) -> Served {
        Self::start_on(settings, extra, false).await
    }

    /// [`Self::start_with`], the callback socket bound here and passed in as systemd's socket
    /// activation does; it stays open across restarts.
    pub async fn start_activated(settings: SimulatorSettings, extra: &str) -> Served {
        Self::start_on(settings, extra, true).await
    }

    async fn start_on(settings: SimulatorSettings, extra: &str, activated: bool) -> Served {
        let sim = Simulator::start(SimulatorSettings {
            bot_app_id: BOT_APP_ID.into(),
            ..settings
        })
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret"), "test-client-secret").unwrap();
        let (addr, admin_addr) = (free_port(), free_port());
        let config_path = dir.path().join("callhost.toml");
        std::fs::write(&config_path, service_config(&sim, addr, admin_addr, extra)).unwrap();
        let log_path = dir.path().join("callhost.log");
        let socket = activated.then(|| std::net::TcpListener::bind(addr).unwrap());
        let child = spawn(&config_path, &log_path, socket.as_ref());
        let callback_url = format!("http://{addr}/api/calls");
        sim.set_callback_url(callback_url.clone());
        let served = Served {
            sim,
            addr,
            callback_url,
            admin_url: format!("http://{admin_addr}"),
            // No idle connections kept: a test that counts connections counts only its own.
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
            child,
            config_path,
            log_path,
            socket,
            _dir: dir,
        };
        served.wait_ready(Duration::from_secs(60)).await;
        served
    }

    async fn wait_ready(&self, within: Duration) {
        let deadline = Instant::now() + within;
        let url = format!("http://{}/readyz", self.addr);
        while Instant::now() < deadline {
            if let Ok(response) = self.http.get(&url).send().await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("callhost serve never got ready; its log:\n{}", self.log());
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("callhost serve is running")
    }

    /// A `/proc/<pid>/status` figure in KiB: `VmRSS` now, `VmHWM` the peak so far.
    pub fn memory_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|rest| rest.trim().strip_suffix("kB")?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status:\n{status}"))
    }

    /// Everything the service logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// A valid callback token from Graph for a call in `tenant`.
    pub fn token(&self, tenant: &str) -> String {
        self.sim
            .issuer()
            .issue(IssueClaims::graph_callback(BOT_APP_ID, tenant))
    }

    /// A valid callback token for the simulator's tenant.
    pub fn sim_token(&self) -> String {
        self.token(SIM_TENANT)
    }

    /// Posts `body` as Graph would, with `token`; the status.
    pub async fn post(&self, body: impl Into<reqwest::Body>, token: &str) -> u16 {
        self.http
            .post(&self.callback_url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    }

    /// The `POST`s Graph got on the call's `suffix` (`/answer`, `/playPrompt`, ...), in order.
    pub fn graph_posts(&self, call_id: &str, suffix: &str) -> Vec<RecordedRequest> {
        let path = format!("/v1.0/communications/calls/{call_id}{suffix}");
        self.sim
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == path)
            .collect()
    }

    /// `GET` on the admin API, as JSON.
    pub async fn admin_get(&self, path: &str) -> Value {
        admin_get(&self.http, &self.admin_url, path).await
    }

    /// The configuration file's directory (the data directory is under it).
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// Kills the process with SIGKILL: nothing is flushed, nothing finishes.
    pub async fn kill(&mut self) {
        let status = std::process::Command::new("kill")
            .args(["-KILL", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -KILL failed");
        let _ = self.child.wait().await;
    }

    /// Starts the process again on the same configuration and data directory, and waits
    /// until it is ready; how long that took.
    pub async fn restart(&mut self) -> Duration {
        let started = Instant::now();
        self.child = spawn(&self.config_path, &self.log_path, self.socket.as_ref());
        self.wait_ready(Duration::from_secs(60)).await;
        started.elapsed()
    }

    /// The configuration file.
    pub fn config_path(&self) -> &std::path::Path {
        &self.config_path
    }

    /// Sends SIGTERM and waits up to `within` for the process to exit; how long it took.
    pub async fn terminate(&mut self, within: Duration) -> Option<Duration> {
        let started = Instant::now();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM failed");
        match tokio::time::timeout(within, self.child.wait()).await {
            Ok(exit) => {
                assert!(exit.unwrap().success(), "log:\n{}", self.log());
                Some(started.elapsed())
            }
            Err(_) => None,
        }
    }
}
