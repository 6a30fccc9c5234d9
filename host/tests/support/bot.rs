//! A whole callhost service wired to the Graph simulator on loopback.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use callhost::app::App;
use callhost::config::Config;
use callhost::dispatch::Dispatcher;
use callhost_simulator::{Simulator, SimulatorSettings};

use super::{plugin_path, repo_root};

pub const BOT_APP_ID: &str = "9d6f1c42-4b4e-4d3a-9a53-0f1c2b3d4e5f";

/// A running service and its simulated Graph.
pub struct Bot {
    pub sim: Simulator,
    /// Where Graph posts notifications.
    pub callback_url: String,
    /// The admin API's base URL.
    pub admin_url: String,
    pub dispatcher: Dispatcher,
    pub http: reqwest::Client,
    /// The configuration file the service runs with (and watches).
    pub config_path: PathBuf,
    _dir: tempfile::TempDir,
}

/// `[plugins.<id>]` tables for the named plugins, with their config tables.
pub fn plugin_table(id: &str, plugin: &str, config: &[(&str, &str)]) -> String {
    plugin_table_at(id, &plugin_path(plugin), "", config)
}

/// [`plugin_table`] for a component file anywhere; `settings` are more lines of the
/// `[plugins.<id>]` table (`on_reload = "migrate"`, …).
pub fn plugin_table_at(id: &str, path: &Path, settings: &str, config: &[(&str, &str)]) -> String {
    let mut table = format!(
        "[plugins.{id}]\npath = {:?}\n{settings}\n",
        path.display().to_string()
    );
    table.push_str(&format!("[plugins.{id}.config]\n"));
    for (k, v) in config {
        table.push_str(&format!("{k} = {}\n", toml_string(v)));
    }
    table
}

/// The compile cache the tests share.
pub fn test_cache_dir() -> PathBuf {
    repo_root().join("target/test-compile-cache")
}

pub fn toml_string(v: &str) -> String {
    format!("'''{v}'''")
}

/// The configuration of a service on `addr` (admin API on `admin_addr`) that talks to `sim`,
/// with `extra` merged over it: its tables add to and override the base's key by key (so a
/// test can set `[server] max_connections` or `[bot] tenants`), its arrays of tables
/// (`[[routes]]`) are added. The client secret is the file `secret` beside the configuration.
pub fn service_config(
    sim: &Simulator,
    addr: SocketAddr,
    admin_addr: SocketAddr,
    extra: &str,
) -> String {
    let base = format!(
        r#"
[server]
listen = "{addr}"
public_url = "http://{addr}"

[bot]
app_id = "{BOT_APP_ID}"
client_secret_file = "secret"
default_tenant = "{tenant}"

[graph]
base_url = "{graph}"
token_url = "{token}"
openid_config_url = "{openid}"
request_timeout_ms = 3000

[runtime]
cache_dir = {cache:?}

[admin]
listen = "{admin_addr}"

[calls]
keepalive_interval_s = 900
"#,
        tenant = callhost_simulator::SIM_TENANT,
        graph = sim.graph_url(),
        token = sim.token_url(),
        openid = sim.openid_url(),
        cache = test_cache_dir().display().to_string(),
    );
    let mut config: toml::Table = base.parse().unwrap();
    let extra: toml::Table = extra
        .parse()
        .unwrap_or_else(|e| panic!("test config: {e}\n{extra}"));
    merge(&mut config, extra);
    toml::to_string(&config).unwrap()
}

/// `GET path` on the admin API at `admin_url`, as JSON; panics unless it succeeds.
pub async fn admin_get(http: &reqwest::Client, admin_url: &str, path: &str) -> serde_json::Value {
    let response = http.get(format!("{admin_url}{path}")).send();
    let response = response.await.unwrap();
    assert!(response.status().is_success(), "GET {path}: {response:?}");
    response.json().await.unwrap()
}

pub fn merge(into: &mut toml::Table, from: toml::Table) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(toml::Value::Table(base)), toml::Value::Table(table)) => merge(base, table),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

impl Bot {
    /// Starts the service with `extra` (routes, plugins, overrides) on top of a base config.
    pub async fn start(extra: &str) -> Bot {
        Self::start_with(
            SimulatorSettings {
                bot_app_id: BOT_APP_ID.into(),
                ..SimulatorSettings::default()
            },
            extra,
        )
        .await
    }

    pub async fn start_with(settings: SimulatorSettings, extra: &str) -> Bot {
        let sim = Simulator::start(settings).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret"), "test-client-secret").unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let admin_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin_addr = admin_listener.local_addr().unwrap();
        let text = service_config(&sim, addr, admin_addr, extra);
        let config_path = dir.path().join("callhost.toml");
        std::fs::write(&config_path, &text).unwrap();
        let config =
            Config::load(&config_path).unwrap_or_else(|e| panic!("test config: {e}\n{text}"));
        let callback_url = config.callback_url();
        let app = App::build(config).await.unwrap();
        sim.set_callback_url(callback_url.clone());
        let dispatcher = app.dispatcher.clone();
        tokio::spawn(async move { axum::serve(listener, app.callbacks).await.unwrap() });
        let admin = app.admin.expect("the admin API is on");
        tokio::spawn(async move { axum::serve(admin_listener, admin).await.unwrap() });
        Bot {
            sim,
            callback_url,
            admin_url: format!("http://{admin_addr}"),
            dispatcher,
            http: reqwest::Client::new(),
            config_path,
            _dir: dir,
        }
    }

    /// `GET` on the admin API, as JSON.
    pub async fn admin_get(&self, path: &str) -> serde_json::Value {
        admin_get(&self.http, &self.admin_url, path).await
    }

    /// Waits until no call is tracked any more.
    pub async fn wait_until_no_calls(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if self.dispatcher.calls().is_empty() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }
}
