//! The `callhost.toml` configuration: one sub-table per part of the service, unknown keys
//! rejected, defaults documented, and [`Config::validate`] reporting every problem at once
//! before any port is bound. Secrets never live here: see [`BotConfig::client_secret_file`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;

use crate::dispatch;
use crate::graph::callback_auth::{self, CallbackAuthSettings};
use crate::graph::client::GraphClientSettings;
use crate::graph::token;
use crate::journal::JournalConfig;
use crate::policy::CapabilityPolicy;
use crate::runtime::AllowedHosts;
use crate::runtime::{AllocationStrategy, PluginSpec, RuntimeSettings};
use crate::storage::StorageConfig;

pub use crate::dispatch::{CallerKind, FallbackConfig, RouteConfig, RouteMatch};
pub use crate::plugins::{OnReload, PluginConfig, PluginSource};

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub bot: BotConfig,
    #[serde(default)]
    pub graph: GraphConfig,
    #[serde(default)]
    pub runtime: RuntimeConfig,
    #[serde(default)]
    pub admin: AdminConfig,
    #[serde(default)]
    pub calls: CallsConfig,
    /// What is kept of each call for the admin API's timelines; see [`JournalConfig`].
    #[serde(default)]
    pub journal: JournalConfig,
    /// Where calls are kept so that they survive a restart; see [`StorageConfig`].
    #[serde(default)]
    pub storage: StorageConfig,
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginConfig>,
    /// Directory the relative paths of this file are resolved against (its own directory,
    /// or the directory `serve` runs in when the path has none).
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// The file this configuration was read from; `None` when built from text. Watched for
    /// changes to its routes and plugins when `runtime.watch` is on.
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

/// The callback listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on, e.g. `127.0.0.1:8080` behind a TLS-terminating proxy.
    pub listen: SocketAddr,
    /// The public https base URL Graph reaches this service at; callbacks go to
    /// `<public_url><callback_path>`. Graph refuses callback URLs that are not https, so
    /// `http://` is accepted only for a loopback host (127.0.0.0/8, `[::1]`, `localhost`),
    /// for local testing.
    pub public_url: String,
    /// Path of the notification endpoint. Default `/api/calls`.
    #[serde(default = "default_callback_path")]
    pub callback_path: String,
    /// Largest notification body accepted, in bytes; a larger one is answered `413`.
    /// Default 1 MiB.
    #[serde(default = "default_body_limit")]
    pub body_limit_bytes: usize,
    /// Time for a request's headers (and a TLS handshake), in milliseconds; a connection
    /// slower than that is closed. Default 10000.
    #[serde(default = "default_header_read_timeout_ms")]
    pub header_read_timeout_ms: u64,
    /// Time for a callback's body once its token was verified, in milliseconds; a slower
    /// one is answered `408`. Default 10000.
    #[serde(default = "default_body_read_timeout_ms")]
    pub body_read_timeout_ms: u64,
    /// Connections open at once on the callback listener; more are closed as they arrive.
    /// Default 1024.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Serve TLS directly (PEM files) instead of behind a proxy.
    pub tls: Option<TlsConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The bot's identity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotConfig {
    /// The bot's Microsoft App (client) id: the audience of Graph's callback tokens and the
    /// client id of its own token requests.
    pub app_id: String,
    /// Name shown for the bot when it joins meetings. Default `callhost`.
    #[serde(default = "default_display_name")]
    pub display_name: String,
    /// Tenants whose callbacks are accepted; empty accepts any tenant.
    #[serde(default)]
    pub tenants: Vec<String>,
    /// Tenant used when a request names none (short meeting links, placed calls).
    pub default_tenant: Option<String>,
    /// File holding the client secret. Without it, the secret comes from the environment
    /// variable `CALLHOST_CLIENT_SECRET`.
    pub client_secret_file: Option<PathBuf>,
}

/// Where Microsoft's endpoints are. Defaults are the public cloud's.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GraphConfig {
    pub base_url: String,
    /// `{tenant}` is replaced by the tenant id.
    pub token_url: String,
    pub scope: String,
    /// OpenID configuration whose `jwks_uri` lists the keys of Graph's callback tokens.
    pub openid_config_url: String,
    /// Accepted issuers of callback tokens.
    pub issuers: Vec<String>,
    /// Per-request timeout, in milliseconds.
    pub request_timeout_ms: u64,
    /// Attempts per request, retries on 429/503/504 included.
    pub max_attempts: u32,
}

impl Default for GraphConfig {
    /// The defaults of the Graph client, the token provider and callback authentication.
    fn default() -> Self {
        let client = GraphClientSettings::default();
        Self {
            base_url: client.base_url,
            token_url: token::DEFAULT_TOKEN_URL.into(),
            scope: token::DEFAULT_SCOPE.into(),
            openid_config_url: callback_auth::DEFAULT_OPENID_CONFIGURATION_URL.into(),
            issuers: CallbackAuthSettings::new("").allowed_issuers,
            request_timeout_ms: client.request_timeout.as_millis() as u64,
            max_attempts: client.retry.max_attempts,
        }
    }
}

/// The plugin runtime.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeConfig {
    /// Where compiled plugins are cached. Default `.callhost/cache` beside this file.
    pub cache_dir: Option<PathBuf>,
    /// Plugin instances alive at once. Default 256.
    pub max_instances: u32,
    /// `auto` (pooling when possible), `pooling` or `on-demand`.
    pub allocation: AllocationStrategy,
    /// Reload plugins, routes and plugin settings when their files change. Default true;
    /// without it they reload on SIGHUP and `POST /admin/plugins/{id}/reload`.
    pub watch: bool,
    /// CA certificates (PEM) plugins' HTTPS requests trust besides the Mozilla roots: a
    /// private CA of the services they call.
    pub outbound_ca_file: Option<PathBuf>,
    /// Services that stand in for the origins plugins send HTTP requests to: set by the
    /// simulator for scenarios, never read from a file.
    #[serde(skip)]
    pub outbound_stand_ins: std::collections::BTreeMap<String, std::net::SocketAddr>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        let runtime = RuntimeSettings::default();
        Self {
            cache_dir: runtime.cache_dir,
            max_instances: runtime.max_instances,
            allocation: runtime.allocation,
            watch: true,
            outbound_ca_file: None,
            outbound_stand_ins: runtime.outbound_stand_ins,
        }
    }
}

/// Call lifecycle.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallsConfig {
    /// How often established calls are kept alive, in seconds. Default 900 (Graph ends a call
    /// without keepAlive after 45 minutes).
    pub keepalive_interval_s: f64,
    /// How long notifications for a call not known yet (its create request has not returned)
    /// are held for it, in seconds. Default 15.
    pub orphan_hold_s: f64,
    /// Notifications queued for one call; a callback past it is answered `503` with
    /// `Retry-After`. Default 500.
    pub queue_per_call: usize,
    /// Bytes queued for one call, and for all calls together; past either, as past
    /// `queue_per_call`. Defaults 8 MiB and 128 MiB.
    pub queue_bytes_per_call: usize,
    pub queue_bytes: usize,
    /// Events a call's plugin runs for per second (and at once); past it they are dropped
    /// with a warning. Defaults 100 and 200.
    pub events_per_second: f64,
    pub event_burst: u32,
    /// Graph requests a call's plugin may make per second (and at once); past it they fail
    /// with `throttled`. Defaults 10 and 40.
    pub actions_per_second: f64,
    pub action_burst: u32,
    /// Notifications held for one call not known yet, calls held for, and their bytes in
    /// all; past any, the oldest are dropped with a warning. Defaults 64, 1000, 16 MiB.
    pub orphans_per_call: usize,
    pub orphan_calls: usize,
    pub orphan_bytes: usize,
    /// Calls tracked at once; an incoming call past it is rejected as busy. Default 10000.
    pub max_calls: usize,
}

impl Default for CallsConfig {
    fn default() -> Self {
        let limits = dispatch::CallLimits::default();
        Self {
            keepalive_interval_s: dispatch::KEEPALIVE_INTERVAL.as_secs_f64(),
            orphan_hold_s: dispatch::ORPHAN_TTL.as_secs_f64(),
            queue_per_call: limits.queue_per_call,
            queue_bytes_per_call: limits.queue_bytes_per_call,
            queue_bytes: limits.queue_bytes,
            events_per_second: limits.events_per_second,
            event_burst: limits.event_burst,
            actions_per_second: limits.actions_per_second,
            action_burst: limits.action_burst,
            orphans_per_call: limits.orphans_per_call,
            orphan_calls: limits.orphan_calls,
            orphan_bytes: limits.orphan_bytes,
            max_calls: limits.max_calls,
        }
    }
}

impl CallsConfig {
    /// The dispatcher's per-call limits.
    pub fn limits(&self) -> dispatch::CallLimits {
        dispatch::CallLimits {
            queue_per_call: self.queue_per_call,
            queue_bytes_per_call: self.queue_bytes_per_call,
            queue_bytes: self.queue_bytes,
            events_per_second: self.events_per_second,
            event_burst: self.event_burst,
            actions_per_second: self.actions_per_second,
            action_burst: self.action_burst,
            orphans_per_call: self.orphans_per_call,
            orphan_calls: self.orphan_calls,
            orphan_bytes: self.orphan_bytes,
            max_calls: self.max_calls,
        }
    }
}

/// The admin API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Default `127.0.0.1:8081`. Anywhere but loopback, `CALLHOST_ADMIN_TOKEN` is required.
    pub listen: SocketAddr,
    pub enabled: bool,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            enabled: true,
        }
    }
}

/// Graph sends callbacks only to `https://` URLs: `server.public_url` must be one, except on a
/// loopback host (127.0.0.0/8, `[::1]`, `localhost`), where plain `http://` serves local tests
/// with a simulated Graph.
fn check_public_url(public_url: &str) -> Result<(), String> {
    const FIX: &str = "set it to the https URL Graph reaches this service at (TLS ends at a \
        proxy in front of callhost, or at callhost itself with [server.tls])";
    let url = url::Url::parse(public_url)
        .map_err(|e| format!("server.public_url `{public_url}` is not a URL ({e}); {FIX}"))?;
    let Some(host) = url.host() else {
        return Err(format!(
            "server.public_url `{public_url}` has no host; {FIX}"
        ));
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&host) => Ok(()),
        "http" => Err(format!(
            "server.public_url `{public_url}` is http://, and Graph refuses callback URLs that \
             are not https; {FIX}. Plain http:// is allowed only for a loopback host \
             (127.0.0.0/8, [::1] or localhost), for local testing"
        )),
        scheme => Err(format!(
            "server.public_url `{public_url}` is a {scheme}: URL, not https; {FIX}"
        )),
    }
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

fn default_callback_path() -> String {
    "/api/calls".into()
}

fn default_body_limit() -> usize {
    1 << 20
}

fn default_header_read_timeout_ms() -> u64 {
    10_000
}

fn default_body_read_timeout_ms() -> u64 {
    10_000
}

fn default_max_connections() -> usize {
    1024
}

fn default_display_name() -> String {
    "callhost".into()
}

/// Every problem found in a configuration, one line each.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration {path}:\n{}", problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError {
    pub path: String,
    pub problems: Vec<String>,
}

impl Config {
    /// A configuration with every default, no routes and no plugins, for building a service in
    /// code; relative paths resolve against the working directory.
    pub fn new(
        listen: SocketAddr,
        public_url: impl Into<String>,
        app_id: impl Into<String>,
    ) -> Self {
        Self {
            storage: StorageConfig::in_memory(),
            server: ServerConfig {
                listen,
                public_url: public_url.into(),
                callback_path: default_callback_path(),
                body_limit_bytes: default_body_limit(),
                header_read_timeout_ms: default_header_read_timeout_ms(),
                body_read_timeout_ms: default_body_read_timeout_ms(),
                max_connections: default_max_connections(),
                tls: None,
            },
            bot: BotConfig {
                app_id: app_id.into(),
                display_name: default_display_name(),
                tenants: Vec::new(),
                default_tenant: None,
                client_secret_file: None,
            },
            graph: GraphConfig::default(),
            runtime: RuntimeConfig::default(),
            admin: AdminConfig::default(),
            calls: CallsConfig::default(),
            journal: JournalConfig::default(),
            routes: Vec::new(),
            plugins: BTreeMap::new(),
            base_dir: PathBuf::from("."),
            path: None,
        }
    }

    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let fail = |problem: String| ConfigError {
            path: path.display().to_string(),
            problems: vec![problem],
        };
        let text =
            std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
        let mut config = Self::parse(&text).map_err(fail)?;
        config.base_dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        config.path = Some(path.to_path_buf());
        if let Some(ca_file) = &config.storage.postgres_ca_file {
            config.storage.postgres_ca_file = Some(config.resolve(ca_file));
        }
        config.validate().map_err(|problems| ConfigError {
            path: path.display().to_string(),
            problems,
        })?;
        Ok(config)
    }

    /// Parses TOML text (no validation).
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim().replace('\n', " "))
    }

    /// Every problem with the configuration, or nothing.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if self.bot.app_id.trim().is_empty() {
            problems
                .push("bot.app_id is empty; set it to the bot's Microsoft App (client) id".into());
        }
        if let Err(problem) = check_public_url(&self.server.public_url) {
            problems.push(problem);
        }
        if !self.server.callback_path.starts_with('/') {
            problems.push(format!(
                "server.callback_path `{}` must start with /",
                self.server.callback_path
            ));
        }
        for (what, url) in [
            ("graph.base_url", &self.graph.base_url),
            ("graph.token_url", &self.graph.token_url),
            ("graph.openid_config_url", &self.graph.openid_config_url),
        ] {
            if url::Url::parse(url).is_err() {
                problems.push(format!("{what} `{url}` is not a URL"));
            }
        }
        if self.graph.issuers.is_empty() {
            problems.push("graph.issuers is empty; no callback could ever be accepted".into());
        }
        if !(0.01..=2400.0).contains(&self.calls.keepalive_interval_s) {
            problems.push(format!(
                "calls.keepalive_interval_s {} must be between 0.01 and 2400 (Graph ends calls without keepAlive after 45 minutes)",
                self.calls.keepalive_interval_s
            ));
        }
        if !(0.01..=600.0).contains(&self.calls.orphan_hold_s) {
            problems.push(format!(
                "calls.orphan_hold_s {} must be between 0.01 and 600",
                self.calls.orphan_hold_s
            ));
        }
        if self.runtime.max_instances == 0 {
            problems.push("runtime.max_instances must be at least 1".into());
        }
        problems.extend(self.calls.limits().problems());
        problems.extend(self.storage.problems());
        for (key, value) in [
            (
                "server.body_limit_bytes",
                self.server.body_limit_bytes as u64,
            ),
            (
                "server.header_read_timeout_ms",
                self.server.header_read_timeout_ms,
            ),
            (
                "server.body_read_timeout_ms",
                self.server.body_read_timeout_ms,
            ),
            ("server.max_connections", self.server.max_connections as u64),
            (
                "journal.max_bytes_per_call",
                self.journal.max_bytes_per_call as u64,
            ),
        ] {
            if value == 0 {
                problems.push(format!("{key} must be greater than 0"));
            }
        }
        for (id, plugin) in &self.plugins {
            let path = self.resolve(&plugin.path);
            if !path.is_file() {
                problems.push(format!(
                    "plugins.{id}.path {} does not exist; build the plugins (`cargo xtask build-plugins`) or fix the path",
                    path.display()
                ));
            }
            if let Err(e) = CapabilityPolicy::from_config(&plugin.policy) {
                problems.push(format!("plugins.{id}.{e}"));
            }
            if let Err(e) = AllowedHosts::parse(&plugin.allowed_outbound_hosts) {
                problems.push(format!("plugins.{id}.{e}"));
            }
            if let Some(sha) = &plugin.sha256
                && (sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()))
            {
                problems.push(format!("plugins.{id}.sha256 must be 64 hex digits"));
            }
            if plugin.limits.memory_bytes < (1 << 20) {
                problems.push(format!("plugins.{id}.limits.memory_bytes is below 1 MiB"));
            }
            if plugin.limits.deadline.is_zero() {
                problems.push(format!("plugins.{id}.limits.deadline_ms must be above 0"));
            }
        }
        crate::dispatch::validate_routes(
            &self.routes,
            |id| self.plugins.contains_key(id),
            &mut problems,
        );
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// A path from this file, resolved against its directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }

    /// Where compiled plugins are kept: `runtime.cache_dir`, resolved against this file's
    /// directory, by default `.callhost/cache` beside it.
    pub fn cache_dir(&self) -> PathBuf {
        self.runtime
            .cache_dir
            .as_ref()
            .map(|dir| self.resolve(dir))
            .unwrap_or_else(|| self.base_dir.join(".callhost/cache"))
    }

    /// Where the SQLite store keeps its file: `storage.data_dir`, resolved against this
    /// file's directory, by default `.callhost/data` beside it.
    pub fn data_dir(&self) -> PathBuf {
        self.storage
            .data_dir
            .as_ref()
            .map(|dir| self.resolve(dir))
            .unwrap_or_else(|| self.base_dir.join(".callhost/data"))
    }

    /// The plugin `id` of a validated configuration, its path resolved against this file.
    pub fn plugin_source(&self, id: &str) -> anyhow::Result<PluginSource> {
        let plugin = self
            .plugins
            .get(id)
            .with_context(|| format!("no plugin `{id}` in the configuration"))?;
        let policy = CapabilityPolicy::from_config(&plugin.policy)
            .map_err(|e| anyhow::anyhow!("plugin {id}: {e}"))?;
        let allowed_outbound_hosts = AllowedHosts::parse(&plugin.allowed_outbound_hosts)
            .map_err(|e| anyhow::anyhow!("plugin {id}: {e}"))?;
        Ok(PluginSource {
            path: self.resolve(&plugin.path),
            sha256: plugin.sha256.clone(),
            on_reload: plugin.on_reload,
            spec: PluginSpec {
                id: id.to_string(),
                config: plugin.config.clone(),
                limits: plugin.limits.clone(),
                policy,
                allowed_outbound_hosts,
            },
        })
    }

    /// The full callback URL Graph posts to.
    pub fn callback_url(&self) -> String {
        format!(
            "{}{}",
            self.server.public_url.trim_end_matches('/'),
            self.server.callback_path
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems_with_public_url(public_url: &str) -> Vec<String> {
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:8080\"\npublic_url = \"{public_url}\"\n\
             [bot]\napp_id = \"app\"\n"
        );
        let config = Config::parse(&text).unwrap();
        match config.validate() {
            Ok(()) => Vec::new(),
            Err(problems) => problems,
        }
    }

    #[test]
    fn public_url_must_be_https() {
        for url in [
            "http://bot.example.com",
            "http://10.0.0.5:8080",
            "http://[2001:db8::1]",
        ] {
            let problems = problems_with_public_url(url);
            assert_eq!(problems.len(), 1, "{url}: {problems:?}");
            let problem = &problems[0];
            for part in ["server.public_url", url, "https", "loopback", "127.0.0.0/8"] {
                assert!(problem.contains(part), "`{problem}` names {part}");
            }
        }
        for url in ["ftp://bot.example.com", "bot.example.com", "https://"] {
            let problems = problems_with_public_url(url);
            assert!(
                problems.len() == 1 && problems[0].contains("server.public_url"),
                "{url}: {problems:?}"
            );
        }
    }

    #[test]
    fn https_and_loopback_http_are_accepted() {
        for url in [
            "https://bot.example.com",
            "https://bot.example.com:8443/base/",
            "http://127.0.0.1:8080",
            "http://127.1.2.3",
            "http://[::1]:8080",
            "http://localhost:3978",
            "http://LOCALHOST",
        ] {
            assert_eq!(problems_with_public_url(url), Vec::<String>::new(), "{url}");
        }
    }

    #[test]
    fn storage_sync_is_full_unless_told_and_a_wrong_word_names_the_choices() {
        let base = "[server]\nlisten = \"127.0.0.1:8080\"\npublic_url = \"https://b\"\n\
                    [bot]\napp_id = \"app\"\n";
        let config = Config::parse(base).unwrap();
        assert_eq!(config.storage.sync, crate::storage::Synchronous::Full);
        let config = Config::parse(&format!("{base}[storage]\nsync = \"normal\"\n")).unwrap();
        assert_eq!(config.storage.sync, crate::storage::Synchronous::Normal);
        let error = Config::parse(&format!("{base}[storage]\nsync = \"off\"\n")).unwrap_err();
        for part in ["sync", "off", "full", "normal"] {
            assert!(error.contains(part), "`{error}` names {part}");
        }
    }

    #[test]
    fn the_postgres_ca_file_is_beside_the_file_and_must_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let text = "[server]\nlisten = \"127.0.0.1:8080\"\npublic_url = \"https://b\"\n\
                    [bot]\napp_id = \"app\"\n[storage]\nengine = \"postgres\"\n\
                    postgres_url = \"postgres://callhost@db:5432/callhost\"\n\
                    postgres_ca_file = \"db-ca.pem\"\n";
        let path = dir.path().join("callhost.toml");
        std::fs::write(&path, text).unwrap();
        let error = Config::load(&path).unwrap_err().to_string();
        let expected = dir.path().join("db-ca.pem");
        assert!(
            error.contains(&expected.display().to_string()),
            "the CA file is resolved beside the configuration and named: {error}"
        );
        std::fs::write(&expected, "not a certificate").unwrap();
        let error = Config::load(&path).unwrap_err().to_string();
        assert!(error.contains("holds no certificate"), "{error}");
    }

    #[test]
    fn the_cache_dir_is_beside_the_file_unless_configured() {
        let text = "[server]\nlisten = \"127.0.0.1:8080\"\npublic_url = \"https://b\"\n\
                    [bot]\napp_id = \"app\"\n";
        let mut config = Config::parse(text).unwrap();
        config.base_dir = PathBuf::from("/srv/callhost");
        assert_eq!(
            config.cache_dir(),
            Path::new("/srv/callhost/.callhost/cache")
        );
        config.runtime.cache_dir = Some(PathBuf::from("cache"));
        assert_eq!(config.cache_dir(), Path::new("/srv/callhost/cache"));
    }
}
