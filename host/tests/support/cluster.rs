//! Several `callhost serve` processes on one PostgreSQL database behind a round-robin load
//! balancer, as a deployment runs them: Graph (the simulator) posts every callback to the
//! balancer, which passes each to the next instance that answers. Each instance reaches Graph
//! through a relay of its own, so that what each one sent is known.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use callhost_simulator::{Simulator, SimulatorSettings};
use callhost_store::{PostgresOptions, PostgresStore};

use super::bot::{BOT_APP_ID, merge, service_config};
use super::ports::free_port;
use super::serve::spawn;

/// A request a relay passed on.
#[derive(Debug, Clone)]
pub struct Relayed {
    pub method: String,
    pub path: String,
    pub at: Instant,
}

struct RelayState {
    targets: Vec<String>,
    next: AtomicUsize,
    http: reqwest::Client,
    seen: Mutex<Vec<Relayed>>,
}

/// An HTTP relay on loopback: each request goes to the next target in turn; one that does
/// not answer (refused, or no answer within two seconds) is skipped for the next, as a load
/// balancer does.
pub struct Relay {
    pub url: String,
    state: Arc<RelayState>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Relay {
    pub async fn start(targets: Vec<String>) -> Relay {
        let state = Arc::new(RelayState {
            targets,
            next: AtomicUsize::new(0),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .unwrap(),
            seen: Mutex::default(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .fallback(relay)
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Relay {
            url: format!("http://{addr}"),
            state,
            server,
        }
    }

    /// What was passed on so far.
    pub fn seen(&self) -> Vec<Relayed> {
        self.state.seen.lock().unwrap().clone()
    }
}

async fn relay(
    State(state): State<Arc<RelayState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri
        .path_and_query()
        .map_or(uri.path(), |p| p.as_str())
        .to_owned();
    let first = state.next.fetch_add(1, Ordering::SeqCst);
    for i in 0..state.targets.len() {
        let target = &state.targets[(first + i) % state.targets.len()];
        let mut request = state
            .http
            .request(method.clone(), format!("{target}{path}"))
            .body(body.clone());
        for (name, value) in &headers {
            if name != "host" && name != "content-length" {
                request = request.header(name, value);
            }
        }
        let Ok(response) = request.send().await else {
            continue;
        };
        state.seen.lock().unwrap().push(Relayed {
            method: method.to_string(),
            path: path.clone(),
            at: Instant::now(),
        });
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        let mut out = HeaderMap::new();
        for (name, value) in response.headers() {
            if name != "content-length" && name != "transfer-encoding" && name != "connection" {
                out.insert(name.clone(), value.clone());
            }
        }
        let bytes = response.bytes().await.unwrap_or_default();
        return (status, out, bytes).into_response();
    }
    (StatusCode::BAD_GATEWAY, "no instance answered").into_response()
}

/// A TCP path to the database that can be cut: while cut, open connections are closed and
/// new ones are closed as they come, as when the server restarts or the network fails.
pub struct DatabasePath {
    pub addr: SocketAddr,
    cut: Arc<std::sync::atomic::AtomicBool>,
    open: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for DatabasePath {
    fn drop(&mut self) {
        self.server.abort();
        self.cut_now();
    }
}

impl DatabasePath {
    async fn start(target: SocketAddr) -> DatabasePath {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let open: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (is_cut, conns) = (cut.clone(), open.clone());
        let server = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if is_cut.load(Ordering::SeqCst) {
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns.lock().unwrap().push(task.abort_handle());
            }
        });
        DatabasePath {
            addr,
            cut,
            open,
            server,
        }
    }

    fn cut_now(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for conn in self.open.lock().unwrap().drain(..) {
            conn.abort();
        }
    }

    /// Cuts the path: every connection through it is closed, and new ones until [`Self::heal`].
    pub fn cut(&self) {
        self.cut_now();
    }

    pub fn heal(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// `url` reaching its server through `addr` instead.
fn through(url: &str, addr: SocketAddr) -> String {
    let (head, rest) = url.split_once('@').expect("a URL with user@host");
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    format!("{head}@{addr}{path}")
}

/// The host:port of a database URL.
fn server_of(url: &str) -> SocketAddr {
    let rest = url.split_once('@').expect("a URL with user@host").1;
    let host = rest.split('/').next().unwrap();
    host.parse()
        .expect("the test server is at an IP address and port")
}

/// One `callhost serve` of the cluster.
pub struct Instance {
    pub name: String,
    pub addr: SocketAddr,
    pub admin_url: String,
    /// Its way to Graph: what it sent.
    pub graph: Relay,
    child: Option<tokio::process::Child>,
    config_path: PathBuf,
    log_path: PathBuf,
}

impl Instance {
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .and_then(tokio::process::Child::id)
            .expect("the instance is running")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Sends `signal` (`KILL`, `STOP`, `CONT`, `TERM`) to the process.
    pub fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Graph requests this instance sent since `since` on `call_id`.
    pub fn sent_on(&self, call_id: &str, since: Instant) -> Vec<Relayed> {
        let prefix = format!("/v1.0/communications/calls/{call_id}");
        self.graph
            .seen()
            .into_iter()
            .filter(|r| r.at >= since && r.path.starts_with(&prefix))
            .collect()
    }
}

/// The instances, their balancer, their database and the simulated Graph.
pub struct Cluster {
    pub sim: Simulator,
    pub balancer: Relay,
    /// The instances' way to the database.
    pub database_path: DatabasePath,
    pub instances: Vec<Instance>,
    /// The database's URL, for looking at it.
    pub database: String,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// `count` instances named `a`, `b`, … on a fresh database, with `extra` merged into
    /// each one's configuration (`{instance}` in it stands for the instance's name); returns
    /// once every one is ready.
    pub async fn start(count: usize, settings: SimulatorSettings, extra: &str) -> Cluster {
        let sim = Simulator::start(SimulatorSettings {
            bot_app_id: BOT_APP_ID.into(),
            ..settings
        })
        .await
        .unwrap();
        let database = callhost_store::testing::fresh_database("cluster").await;
        let database_path = DatabasePath::start(server_of(&database)).await;
        let instances_database = through(&database, database_path.addr);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret"), "test-client-secret").unwrap();
        let addrs: Vec<SocketAddr> = (0..count).map(|_| free_port()).collect();
        let balancer = Relay::start(addrs.iter().map(|a| format!("http://{a}")).collect()).await;
        sim.set_callback_url(format!("{}/api/calls", balancer.url));
        let mut instances = Vec::new();
        for (i, addr) in addrs.into_iter().enumerate() {
            let name = ((b'a' + i as u8) as char).to_string();
            let graph = Relay::start(vec![format!("http://{}", sim.addr())]).await;
            let admin = free_port();
            let mut own: toml::Table = format!(
                "[server]\npublic_url = \"{public}\"\n[graph]\nbase_url = \"{graph}/v1.0\"\n\
                 [storage]\nengine = \"postgres\"\npostgres_url = \"{instances_database}\"\ninstance_id = \"{name}\"\n",
                public = balancer.url,
                graph = graph.url,
            )
            .parse()
            .unwrap();
            merge(
                &mut own,
                extra.replace("{instance}", &name).parse().unwrap(),
            );
            let own = toml::to_string(&own).unwrap();
            let config_path = dir.path().join(format!("{name}.toml"));
            std::fs::write(&config_path, service_config(&sim, addr, admin, &own)).unwrap();
            let log_path = dir.path().join(format!("{name}.log"));
            instances.push(Instance {
                child: Some(spawn(&config_path, &log_path, None)),
                name,
                addr,
                admin_url: format!("http://{admin}"),
                graph,
                config_path,
                log_path,
            });
        }
        let cluster = Cluster {
            sim,
            balancer,
            database_path,
            instances,
            database,
            http: reqwest::Client::new(),
            _dir: dir,
        };
        for i in 0..count {
            cluster.wait_ready(i, Duration::from_secs(90)).await;
        }
        cluster
    }

    pub async fn wait_ready(&self, i: usize, within: Duration) {
        let deadline = Instant::now() + within;
        let url = format!("http://{}/readyz", self.instances[i].addr);
        while Instant::now() < deadline {
            if let Ok(response) = self.http.get(&url).send().await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "instance {} never got ready; its log:\n{}",
            self.instances[i].name,
            self.instances[i].log()
        );
    }

    /// SIGKILL: the instance is gone, nothing of it finishes.
    pub async fn kill(&mut self, i: usize) {
        self.instances[i].signal("KILL");
        if let Some(mut child) = self.instances[i].child.take() {
            let _ = child.wait().await;
        }
    }

    /// SIGTERM, waiting for a clean exit within `within`.
    pub async fn terminate(&mut self, i: usize, within: Duration) {
        self.instances[i].signal("TERM");
        let mut child = self.instances[i].child.take().unwrap();
        let exit = tokio::time::timeout(within, child.wait())
            .await
            .unwrap_or_else(|_| panic!("instance {} did not stop", self.instances[i].name));
        assert!(exit.unwrap().success(), "{}", self.instances[i].log());
    }

    /// Starts instance `i` again on its configuration, and waits until it is ready.
    pub async fn restart(&mut self, i: usize) {
        let instance = &mut self.instances[i];
        instance.child = Some(spawn(&instance.config_path, &instance.log_path, None));
        self.wait_ready(i, Duration::from_secs(90)).await;
    }

    /// A handle on the database that owns nothing, for looking at leases and journals.
    pub async fn observer(&self) -> PostgresStore {
        let options = PostgresOptions::new(&self.database, None)
            .unwrap()
            .with_instance("observer");
        PostgresStore::open(&options).await.unwrap()
    }

    /// Every instance's log, each under its name.
    pub fn logs(&self) -> String {
        self.instances
            .iter()
            .map(|i| format!("===== instance {} =====\n{}", i.name, i.log()))
            .collect()
    }

    /// The statuses of the callbacks Graph posted so far, in order.
    pub fn callback_statuses(&self) -> Vec<u16> {
        self.sim
            .records()
            .into_iter()
            .filter_map(|r| match r {
                callhost_simulator::SimRecord::Notification { status, .. } => Some(status),
                callhost_simulator::SimRecord::Request(_) => None,
            })
            .collect()
    }

    /// The Graph `POST`s on the call's `suffix`, from every instance, in order.
    pub fn graph_posts(&self, call_id: &str, suffix: &str) -> usize {
        let path = format!("/v1.0/communications/calls/{call_id}{suffix}");
        self.sim
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == path)
            .count()
    }
}
