//! Assembles the service from a validated [`Config`] and serves it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use axum::Router;

use crate::call::CallControl;
use crate::config::Config;
use crate::dispatch::{Dispatcher, DispatcherSettings, Route};
use crate::graph::actions::GraphActions;
use crate::graph::callback_auth::{CallbackAuthSettings, CallbackAuthenticator};
use crate::graph::client::{GraphClient, GraphClientSettings, shared_http_client};
use crate::graph::request::RequestContext;
use crate::graph::token::{ClientSecret, TokenProvider, TokenSettings};
use crate::journal::MemoryJournal;
use crate::plugins::PluginRegistry;
use crate::reload::{ReloadHandle, start_reloader};
use crate::runtime::{MemoryStateStore, Runtime, RuntimeSettings};
use crate::server::service_manager::PassedSockets;
use crate::server::{
    AdminState, BodyLimits, CallbackState, ConnectionLimits, Readiness, admin_router,
    callback_router, service_manager,
};

/// How long shutdown waits for accepted notifications to be handled.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// Longest wait between two attempts to fetch Graph's signing keys while none are at hand.
const KEY_FETCH_RETRY_MAX: Duration = Duration::from_secs(30);

/// The assembled service.
pub struct App {
    pub config: Config,
    pub dispatcher: Dispatcher,
    pub runtime: Runtime,
    pub plugins: PluginRegistry,
    /// Reloads plugins on request; the reloader behind it starts with [`Self::load_plugins`].
    pub reload: ReloadHandle,
    pub callbacks: Router,
    pub admin: Option<Router>,
    /// What happened on each call (also behind [`Dispatcher::journal`]).
    pub journal: Arc<MemoryJournal>,
    /// Verifies Graph's callbacks; holds Graph's signing keys.
    pub auth: CallbackAuthenticator,
    /// What `/readyz` reports.
    pub readiness: Readiness,
}

/// A listener's server, running until the stop signal.
type ServerTask = tokio::task::JoinHandle<anyhow::Result<()>>;
/// A server not started yet.
type DeferredServer = Box<dyn FnOnce() -> ServerTask + Send>;

/// Builds an [`App`] in code; see [`App::builder`].
pub struct AppBuilder {
    config: Config,
    secret: Option<ClientSecret>,
    call_control: Option<Arc<dyn CallControl>>,
    store: Option<Arc<dyn crate::storage::Store>>,
}

impl AppBuilder {
    /// Where calls, journals and state are kept, instead of the engine `storage` configures.
    pub fn with_store(mut self, store: Arc<dyn crate::storage::Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The client secret of the bot's token requests, instead of `bot.client_secret_file` or
    /// `CALLHOST_CLIENT_SECRET`.
    pub fn with_secret(mut self, secret: ClientSecret) -> Self {
        self.secret = Some(secret);
        self
    }

    /// What carries out the plugins' actions, instead of Microsoft Graph at `graph.base_url`.
    pub fn with_call_control(mut self, call_control: Arc<dyn CallControl>) -> Self {
        self.call_control = Some(call_control);
        self
    }

    /// Everything but the plugins; see [`App::assemble`].
    pub async fn assemble(self) -> anyhow::Result<App> {
        App::assemble_from(self).await
    }

    /// Everything, plugins loaded; see [`App::build`].
    pub async fn build(self) -> anyhow::Result<App> {
        let app = self.assemble().await?;
        app.load_plugins().await?;
        Ok(app)
    }
}

/// The listeners of [`App::bind`], bound before any plugin is compiled.
pub struct Listeners {
    callbacks: tokio::net::TcpListener,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    admin: Option<tokio::net::TcpListener>,
    /// The callback socket came from the service manager: connections wait in its backlog
    /// until the calls are restored, instead of being answered `503`.
    callbacks_passed: bool,
}

impl App {
    /// Builds everything and loads every plugin (compiling through the cache): [`Self::assemble`]
    /// then [`Self::load_plugins`]. Reaches no network.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::builder(config).build().await
    }

    /// Builds a service in code: from `config`, with what a test, the simulator or the bench
    /// gives instead of what `serve` reads (the client secret, Graph itself).
    pub fn builder(config: Config) -> AppBuilder {
        AppBuilder {
            config,
            secret: None,
            call_control: None,
            store: None,
        }
    }

    /// Runs the service until `shutdown` resolves: binds its ports first, so health checks
    /// are answered (not ready) while plugins compile, then loads the plugins and fetches
    /// Graph's signing keys; `/readyz` turns ready when both are done.
    pub async fn run(
        config: Config,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let app = Self::assemble(config).await?;
        let listeners = app.bind().await?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let deferred = listeners.callbacks_passed;
        let (mut servers, mut callbacks) = app.serve_on(listeners, stop_rx.clone(), deferred);
        let keys = tokio::spawn(fetch_signing_keys(app.auth.clone()));
        let mut stopping = stop_rx.clone();
        let mut ready = None;
        tokio::select! {
            loaded = app.load_plugins() => {
                loaded?;
                if let Some(start) = callbacks.take() {
                    tracing::info!("calls restored: taking the callbacks waiting on the passed socket");
                    servers.push(start());
                }
                ready = Some(tokio::spawn(tell_when_ready(app.auth.clone())));
            }
            _ = stopping.wait_for(|stop| *stop) => {}
        }
        let _ = stopping.wait_for(|stop| *stop).await;
        // Not ready from here on; the servers stop accepting (with socket activation new
        // connections wait in the kernel's backlog for the next process).
        app.readiness.stopping();
        service_manager::notify("STOPPING=1");
        for server in servers {
            server.await??;
        }
        keys.abort();
        if let Some(ready) = ready {
            ready.abort();
        }
        tracing::info!("listeners closed; finishing accepted notifications");
        if !app.dispatcher.drain(SHUTDOWN_GRACE).await {
            tracing::warn!("shutdown grace period passed with notifications still queued");
        }
        // Other instances on the same database take this one's calls at once.
        app.dispatcher.hand_off().await;
        // Every commit was synced before its answer: nothing is left to flush but the log.
        tracing::info!("stopped: every accepted notification is handled or stored");
        Ok(())
    }

    /// Builds everything but the plugins: the runtime, the Graph client, callback
    /// authentication, the dispatcher and the routers. Compiles nothing, reaches no network;
    /// callbacks are answered `503` until [`Self::load_plugins`] is done.
    pub async fn assemble(config: Config) -> anyhow::Result<Self> {
        Self::builder(config).assemble().await
    }

    async fn assemble_from(builder: AppBuilder) -> anyhow::Result<Self> {
        let AppBuilder {
            config,
            secret,
            call_control,
            store,
        } = builder;
        // Before anything else: a second process on the same data directory, or a file that
        // is not callhost's, stops the start here.
        let store =
            match store {
                Some(store) => store,
                None => {
                    let data_dir = config.data_dir();
                    config.storage.open(&data_dir).await.with_context(|| {
                        format!("opening {}", config.storage.describe(&data_dir))
                    })?
                }
            };
        let outbound_roots = match &config.runtime.outbound_ca_file {
            Some(path) => outbound_roots(&config.resolve(path))?,
            None => Vec::new(),
        };
        let runtime = Runtime::new(RuntimeSettings {
            outbound_roots,
            cache_dir: Some(config.cache_dir()),
            max_instances: config.runtime.max_instances,
            allocation: config.runtime.allocation,
            outbound_stand_ins: config.runtime.outbound_stand_ins.clone(),
            ..RuntimeSettings::default()
        })?;
        let plugins = PluginRegistry::new();
        let reload = ReloadHandle::new(plugins.clone());
        let routes = config
            .routes
            .iter()
            .map(Route::from_config)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!(e))?;
        if routes.is_empty() {
            tracing::warn!("no [[routes]] configured: incoming calls will not be answered");
        }

        let readiness = Readiness::new();
        let secret_file = config
            .bot
            .client_secret_file
            .as_deref()
            .map(|p| config.resolve(p));
        let secret = match secret.map_or_else(
            || ClientSecret::from_env_or_file(secret_file.as_deref()),
            Ok,
        ) {
            Ok(secret) => secret,
            Err(e) => {
                tracing::warn!(error = %e, "no client secret: Graph requests will fail until one is configured");
                readiness.credentials_missing(e.to_string());
                ClientSecret::new(String::new())
            }
        };
        let http = shared_http_client().context("building the HTTP client")?;
        let tokens = TokenProvider::new(
            TokenSettings {
                token_url: config.graph.token_url.clone(),
                scope: config.graph.scope.clone(),
                ..TokenSettings::new(config.bot.app_id.clone(), secret)
            },
            http.clone(),
        );
        let mut graph_settings = GraphClientSettings {
            base_url: config.graph.base_url.clone(),
            request_timeout: Duration::from_millis(config.graph.request_timeout_ms),
            ..GraphClientSettings::default()
        };
        graph_settings.retry.max_attempts = config.graph.max_attempts;
        let client = GraphClient::new(graph_settings, tokens, http.clone());
        let journal = Arc::new(MemoryJournal::new(config.journal.clone()));
        let call_control = call_control.unwrap_or_else(|| {
            let actions = GraphActions::new(
                client,
                RequestContext {
                    callback_uri: config.callback_url(),
                    bot_app_id: config.bot.app_id.clone(),
                    bot_display_name: Some(config.bot.display_name.clone()),
                    default_tenant_id: config.bot.default_tenant.clone(),
                },
            )
            .with_exchange_log(journal.clone());
            Arc::new(actions)
        });
        let auth = CallbackAuthenticator::new(
            CallbackAuthSettings {
                openid_configuration_url: config.graph.openid_config_url.clone(),
                allowed_issuers: config.graph.issuers.clone(),
                allowed_tenants: config.bot.tenants.clone(),
                ..CallbackAuthSettings::new(config.bot.app_id.clone())
            },
            http,
        );
        let dispatcher = Dispatcher::new(
            DispatcherSettings {
                keepalive_interval: Duration::from_secs_f64(config.calls.keepalive_interval_s),
                orphan_hold: Duration::from_secs_f64(config.calls.orphan_hold_s),
                lease: config.storage.lease(),
                journal: journal.clone(),
                limits: config.calls.limits(),
                store,
                ..DispatcherSettings::new(config.bot.app_id.clone())
            },
            runtime.clone(),
            plugins.clone(),
            routes,
            Arc::new(MemoryStateStore::new()),
            call_control,
        );
        let callbacks = callback_router(
            CallbackState {
                dispatcher: dispatcher.clone(),
                auth: auth.clone(),
                readiness: readiness.clone(),
                limits: BodyLimits {
                    body_limit_bytes: config.server.body_limit_bytes,
                    body_read_timeout: Duration::from_millis(config.server.body_read_timeout_ms),
                },
            },
            &config.server.callback_path,
        );
        let admin = if config.admin.enabled {
            let token = std::env::var(crate::server::admin::ADMIN_TOKEN_ENV)
                .ok()
                .filter(|t| !t.is_empty());
            let listen = config.admin.listen;
            if token.is_none() && !listen.ip().is_loopback() {
                bail!(
                    "admin.listen {listen} is not a loopback address: set {} to a secret token, or bind the admin API to 127.0.0.1",
                    crate::server::admin::ADMIN_TOKEN_ENV
                );
            }
            Some(admin_router(AdminState {
                dispatcher: dispatcher.clone(),
                reload: reload.clone(),
                loopback_only: listen.ip().is_loopback(),
                token: token.map(Into::into),
                readiness: readiness.clone(),
                auth: auth.clone(),
            }))
        } else {
            None
        };
        Ok(Self {
            config,
            dispatcher,
            runtime,
            plugins,
            reload,
            callbacks,
            admin,
            journal,
            auth,
            readiness,
        })
    }

    /// Loads every configured plugin, one after the other, logging each start and outcome
    /// (how long it took, whether it came from the compile cache), then starts reloading
    /// plugins and routes when they change. The first plugin that does not load stops it.
    pub async fn load_plugins(&self) -> anyhow::Result<()> {
        let config = &self.config;
        let total = config.plugins.len();
        self.readiness.plugins_loading(total);
        for (n, id) in config.plugins.keys().enumerate() {
            let started = Instant::now();
            self.readiness.plugin_loading(id);
            let loaded = async {
                let source = config.plugin_source(id)?;
                tracing::info!(plugin = %id, path = %source.path.display(), "loading plugin {} of {total}", n + 1);
                let (bytes, _) = source.read().await?;
                // Stored first: a call pinned to this version survives the file changing.
                self.dispatcher
                    .store()
                    .put_component(bytes.clone())
                    .await
                    .with_context(|| format!("plugin {id}: storing its component"))?;
                let version = source.compile(&self.runtime, bytes, started).await?.version;
                anyhow::Ok((source, version))
            };
            let (source, version) = match loaded.await {
                Ok(loaded) => loaded,
                Err(e) => {
                    self.readiness.plugin_failed(id);
                    return Err(e);
                }
            };
            let took = started.elapsed();
            tracing::info!(
                plugin = %id,
                version = version.info.version(),
                from_cache = version.info.from_cache,
                took_ms = took.as_millis() as u64,
                "plugin loaded ({})",
                if version.info.from_cache { "from the compile cache" } else { "compiled" },
            );
            self.plugins.install(source, version, took);
            self.readiness.plugin_loaded();
        }
        let restored = match self.dispatcher.restore().await {
            Ok(restored) => restored,
            Err(e) => {
                self.readiness.plugin_failed("(restoring calls)");
                return Err(anyhow::Error::new(e).context("restoring the calls in progress"));
            }
        };
        if restored.calls + restored.unowned + restored.abandoned > 0 {
            tracing::info!(
                calls = restored.calls,
                queued = restored.queued,
                unowned = restored.unowned,
                from_stored_components = restored.from_stored_components,
                abandoned = restored.abandoned,
                took_ms = restored.took_ms,
                "calls in progress restored from the store"
            );
        }
        self.dispatcher.start_ownership();
        tokio::spawn(prune_history(
            self.dispatcher.store().clone(),
            config.storage.keep_ended(),
        ));
        start_reloader(
            config.clone(),
            self.runtime.clone(),
            self.plugins.clone(),
            self.dispatcher.clone(),
            &self.reload,
        );
        self.readiness.plugins_loaded();
        Ok(())
    }

    /// Binds the callback listener (and loads its TLS certificate) and the admin listener.
    pub async fn bind(&self) -> anyhow::Result<Listeners> {
        let listen = self.config.server.listen;
        let tls = match &self.config.server.tls {
            Some(tls) => {
                let _ = rustls::crypto::ring::default_provider().install_default();
                let tls_config = axum_server::tls_rustls::RustlsConfig::from_pem_file(
                    self.config.resolve(&tls.cert),
                    self.config.resolve(&tls.key),
                )
                .await
                .with_context(|| {
                    format!(
                        "loading the TLS certificate {} and key {}",
                        tls.cert.display(),
                        tls.key.display()
                    )
                })?;
                Some(tls_config)
            }
            None => None,
        };
        let mut passed = PassedSockets::take()?;
        let passed_callbacks = passed.listener("callbacks");
        let callbacks_passed = passed_callbacks.is_some();
        let callbacks = match passed_callbacks {
            Some(listener) => {
                tracing::info!(
                    passed = ?listener.local_addr().ok(),
                    "callbacks: serving on the socket passed by the service manager (server.listen is not bound)"
                );
                tokio::net::TcpListener::from_std(listener)?
            }
            None => tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("binding server.listen {listen}"))?,
        };
        let admin = match (&self.admin, passed.listener("admin")) {
            (Some(_), Some(listener)) => Some(tokio::net::TcpListener::from_std(listener)?),
            (Some(_), None) => {
                let addr = self.config.admin.listen;
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("binding admin.listen {addr}"))?;
                Some(listener)
            }
            (None, Some(_)) => bail!(
                "the service manager passed an admin socket but admin.enabled is false; enable \
                 the admin API or remove the admin socket from the socket unit"
            ),
            (None, None) => None,
        };
        debug_assert!(passed.unused().is_empty());
        Ok(Listeners {
            callbacks,
            tls,
            admin,
            callbacks_passed,
        })
    }

    /// Serves on `listeners` until `stop` turns true; returns the servers' tasks. With
    /// `defer_callbacks` the callback server is not started but returned, to start later.
    fn serve_on(
        &self,
        listeners: Listeners,
        stop: tokio::sync::watch::Receiver<bool>,
        defer_callbacks: bool,
    ) -> (Vec<ServerTask>, Option<DeferredServer>) {
        let server = &self.config.server;
        let limits = ConnectionLimits {
            max_connections: server.max_connections,
            header_read_timeout: Duration::from_millis(server.header_read_timeout_ms),
            shutdown_grace: SHUTDOWN_GRACE,
        };
        let callback = self.config.callback_url();
        let listen = listeners
            .callbacks
            .local_addr()
            .map_or_else(|_| server.listen.to_string(), |a| a.to_string());
        let tls = listeners.tls.map(|tls| {
            tracing::info!(%listen, %callback, "serving callbacks over TLS");
            tokio_rustls::TlsAcceptor::from(tls.get_inner())
        });
        if tls.is_none() {
            tracing::info!(%listen, %callback, "serving callbacks");
        }
        let callbacks = {
            let (listener, router) = (listeners.callbacks, self.callbacks.clone());
            let (limits, stop) = (limits.clone(), stop.clone());
            move || {
                tokio::spawn(crate::server::serve(
                    "callbacks",
                    listener,
                    router,
                    tls,
                    limits,
                    stop,
                ))
            }
        };
        let mut servers = Vec::new();
        let deferred: Option<DeferredServer> = if defer_callbacks {
            Some(Box::new(callbacks))
        } else {
            servers.push(callbacks());
            None
        };
        if let (Some(listener), Some(admin)) = (listeners.admin, self.admin.clone()) {
            if let Ok(addr) = listener.local_addr() {
                tracing::info!(listen = %addr, "serving the admin API");
            }
            servers.push(tokio::spawn(crate::server::serve(
                "admin", listener, admin, None, limits, stop,
            )));
        }
        (servers, deferred)
    }
}

/// Forgets ended calls older than `keep` (`storage.keep_ended_hours`), every few minutes.
async fn prune_history(store: Arc<dyn crate::storage::Store>, keep: Duration) {
    const EVERY: Duration = Duration::from_secs(300);
    loop {
        let cut = crate::storage::now_ms() - i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
        match store.prune(cut).await {
            Ok(0) => {}
            Ok(calls) => {
                tracing::debug!(calls, "ended calls past storage.keep_ended_hours forgotten")
            }
            Err(e) => tracing::warn!(error = %e, "pruning the call history failed; retrying later"),
        }
        tokio::time::sleep(EVERY).await;
    }
}

/// Fetches Graph's signing keys until that succeeds, waiting longer after each failure (each
/// failure is logged by the key store); callbacks cannot be verified before.
async fn fetch_signing_keys(auth: CallbackAuthenticator) {
    let mut wait = Duration::from_secs(1);
    loop {
        if auth.fetch_keys().await.is_fetched() {
            return;
        }
        tracing::warn!(
            retry_in_s = wait.as_secs(),
            "not ready: Graph's callback signing keys could not be fetched"
        );
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(KEY_FETCH_RETRY_MAX);
    }
}

/// The CA certificates of `runtime.outbound_ca_file`.
fn outbound_roots(
    path: &std::path::Path,
) -> anyhow::Result<Vec<rustls::pki_types::CertificateDer<'static>>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let fix = "give runtime.outbound_ca_file a PEM file of CA certificates";
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| anyhow::anyhow!("runtime.outbound_ca_file {}: {e}; {fix}", path.display()))?;
    if certs.is_empty() {
        bail!(
            "runtime.outbound_ca_file {} holds no certificate; {fix}",
            path.display()
        );
    }
    Ok(certs)
}

/// Tells the service manager the service is ready once Graph's signing keys are at hand (the
/// plugins are loaded and the calls restored before this starts).
async fn tell_when_ready(auth: CallbackAuthenticator) {
    while !matches!(
        auth.keys_status(),
        crate::graph::callback_auth::KeysStatus::Fetched
    ) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tracing::info!("ready");
    service_manager::notify("READY=1");
}

/// Resolves when the process is asked to stop (Ctrl-C or SIGTERM).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn an_outbound_ca_file_that_holds_no_certificate_is_named_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let error = super::outbound_roots(&missing).unwrap_err().to_string();
        assert!(
            error.contains("runtime.outbound_ca_file") && error.contains("missing.pem"),
            "{error}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let error = super::outbound_roots(&empty).unwrap_err().to_string();
        assert!(error.contains("holds no certificate"), "{error}");
    }

    use axum::http::{Request, StatusCode, header};
    use axum::routing::get;
    use serde_json::Value;
    use tower::ServiceExt as _;

    use super::*;
    use crate::graph::callback_auth::issuer::{CallbackTokenIssuer, IssueClaims};
    use crate::runtime::test_support::built_plugin;

    const APP_ID: &str = "0c3b2a19-6d5e-4f70-8a9b-1c2d3e4f5a6b";
    const TENANT: &str = "11111111-1111-1111-1111-111111111111";

    /// Graph's OpenID configuration and keys on loopback; answers 503 while `down`.
    struct KeyServer {
        issuer: Arc<CallbackTokenIssuer>,
        openid_url: String,
        jwks_url: String,
        down: Arc<AtomicBool>,
    }

    impl KeyServer {
        async fn start(down: bool) -> Self {
            let issuer = Arc::new(CallbackTokenIssuer::new());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let jwks_url = format!("{base}/keys");
            let down = Arc::new(AtomicBool::new(down));
            let config = issuer.openid_configuration(&jwks_url);
            let keys = issuer.jwks_json();
            let (down_a, down_b) = (down.clone(), down.clone());
            let answer = |down: Arc<AtomicBool>, body: Value| async move {
                if down.load(Ordering::SeqCst) {
                    Err(StatusCode::SERVICE_UNAVAILABLE)
                } else {
                    Ok(axum::Json(body))
                }
            };
            let router = Router::new()
                .route(
                    "/openid",
                    get(move || answer(down_a.clone(), config.clone())),
                )
                .route("/keys", get(move || answer(down_b.clone(), keys.clone())));
            tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
            Self {
                issuer,
                openid_url: format!("{base}/openid"),
                jwks_url,
                down,
            }
        }
    }

    fn config(dir: &Path, keys: &KeyServer) -> Config {
        std::fs::write(dir.join("secret"), "test-secret").unwrap();
        let text = format!(
            r#"
[server]
listen = "127.0.0.1:0"
public_url = "http://127.0.0.1:9"
[bot]
app_id = "{APP_ID}"
client_secret_file = "secret"
[graph]
base_url = "http://127.0.0.1:9/v1.0"
token_url = "http://127.0.0.1:9/{{tenant}}/token"
openid_config_url = "{openid}"
[runtime]
watch = false
[admin]
enabled = false
[[routes]]
plugin = "greet"
[plugins.greet]
path = {plugin:?}
"#,
            openid = keys.openid_url,
            plugin = built_plugin("answer-and-greet").display().to_string(),
        );
        let mut config = Config::parse(&text).unwrap();
        config.base_dir = dir.to_path_buf();
        config.validate().unwrap();
        config
    }

    async fn get_json(url: &str) -> (StatusCode, Value) {
        let response = reqwest::get(url).await.unwrap();
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        (status, response.json().await.unwrap())
    }

    #[tokio::test]
    async fn ready_only_once_plugins_are_loaded_and_signing_keys_fetched() {
        let keys = KeyServer::start(true).await;
        let dir = tempfile::tempdir().unwrap();
        let app = App::assemble(config(dir.path(), &keys)).await.unwrap();
        let listeners = app.bind().await.unwrap();
        let base = format!("http://{}", listeners.callbacks.local_addr().unwrap());
        let (_stop, stop) = tokio::sync::watch::channel(false);
        let _servers = app.serve_on(listeners, stop, false);

        // Bound and answering before any plugin is compiled; the public listener says only
        // whether it is ready.
        let (status, body) = get_json(&format!("{base}/readyz")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body, serde_json::json!({ "ready": false }));
        // Why not is for the operator (log, admin API).
        let reasons = || app.readiness.reasons(&app.auth).join("; ");
        let reason = reasons();
        assert!(reason.contains("plugins are not loaded"), "{reason}");
        let callback = reqwest::Client::new()
            .post(format!("{base}/api/calls"))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(callback.status().as_u16(), 503);
        assert!(callback.headers().contains_key(header::RETRY_AFTER));

        app.load_plugins().await.unwrap();
        assert!(app.plugins.current("greet").is_some());
        let (status, body) = get_json(&format!("{base}/readyz")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        let reason = reasons();
        assert!(
            reason.contains("signing keys") && !reason.contains("plugins"),
            "{reason}"
        );

        // Graph's keys cannot be fetched: still not ready, and the body names no URL.
        let fetching = tokio::spawn(fetch_signing_keys(app.auth.clone()));
        tokio::time::timeout(Duration::from_secs(5), async {
            while !matches!(
                app.auth.keys_status(),
                crate::graph::callback_auth::KeysStatus::Unavailable { .. }
            ) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .unwrap();
        let (status, body) = get_json(&format!("{base}/readyz")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        let reason = reasons();
        assert!(reason.contains("cannot be fetched"), "{reason}");
        assert!(!reason.contains(&keys.openid_url), "{reason}");

        keys.down.store(false, Ordering::SeqCst);
        tokio::time::timeout(Duration::from_secs(10), fetching)
            .await
            .expect("the keys are fetched once reachable")
            .unwrap();
        let (status, body) = get_json(&format!("{base}/readyz")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["ready"], true);
    }

    #[tokio::test]
    async fn a_store_that_cannot_write_gets_503_and_loses_nothing_stored_before() {
        let keys = KeyServer::start(false).await;
        let dir = tempfile::tempdir().unwrap();
        let store = crate::storage::MemoryStore::default();
        let app = App::builder(config(dir.path(), &keys))
            .with_store(Arc::new(store.clone()))
            .build()
            .await
            .unwrap();
        assert!(app.auth.fetch_keys().await.is_fetched());
        let token = keys
            .issuer
            .issue(IssueClaims::graph_callback(APP_ID, TENANT));
        let call = "491f0b00-ffff-4bc9-a43e-b226498ec22a";
        let update = |state: &str| {
            serde_json::json!({"value": [{"changeType": "updated",
                "resourceUrl": format!("/communications/calls/{call}"),
                "resourceData": {"@odata.type": "#microsoft.graph.call", "state": state}}]})
            .to_string()
        };
        let post = |body: String| {
            let request = Request::post("/api/calls")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(axum::body::Body::from(body))
                .unwrap();
            app.callbacks.clone().oneshot(request)
        };
        let journal = || {
            let store = store.clone();
            async move {
                let key = crate::graph::id::id_key(call).into_owned();
                crate::storage::Store::entries(&store, key, 0)
                    .await
                    .unwrap()
            }
        };
        let stored = post(update("establishing")).await.unwrap();
        assert_eq!(stored.status(), StatusCode::ACCEPTED);
        assert_eq!(journal().await.len(), 1);

        // The disk is full: refused with a retry, nothing stored, nothing queued.
        store.set_full(true);
        let refused = post(update("established")).await.unwrap();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.headers()[header::RETRY_AFTER], "5");
        let body = axum::body::to_bytes(refused.into_body(), 1 << 16)
            .await
            .unwrap();
        assert!(
            String::from_utf8_lossy(&body).contains("could not be stored"),
            "{body:?}"
        );
        let entries = journal().await;
        assert_eq!(entries.len(), 1, "what was stored before is all there is");
        assert!(entries[0].body.windows(12).any(|w| w == b"establishing"));

        // Space again: Graph's retry is taken.
        store.set_full(false);
        let retried = post(update("established")).await.unwrap();
        assert_eq!(retried.status(), StatusCode::ACCEPTED);
        assert_eq!(journal().await.len(), 2);
    }

    #[tokio::test]
    async fn a_refused_callback_learns_nothing_of_the_configuration() {
        let keys = KeyServer::start(true).await;
        let dir = tempfile::tempdir().unwrap();
        let app = App::build(config(dir.path(), &keys)).await.unwrap();
        let secrets = [
            APP_ID,
            &keys.openid_url,
            &keys.jwks_url,
            "127.0.0.1",
            "api.botframework.com",
            "graph.microsoft.com",
        ];
        let post = |token: String| {
            let request = Request::post("/api/calls")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(axum::body::Body::from("{\"value\":[]}"))
                .unwrap();
            app.callbacks.clone().oneshot(request)
        };
        let refused = async |token: String| {
            let response = post(token).await.unwrap();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
            let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .unwrap();
            let body = String::from_utf8(body.to_vec()).unwrap();
            for secret in secrets {
                assert!(!body.contains(secret), "the 401 tells `{secret}`: {body}");
            }
            body
        };

        // Keys unreachable: the error names the key URL, the answer must not.
        let valid = keys
            .issuer
            .issue(IssueClaims::graph_callback(APP_ID, TENANT));
        let body = refused(valid.clone()).await;
        assert!(body.contains("unauthorized"), "{body}");

        keys.down.store(false, Ordering::SeqCst);
        assert!(app.auth.fetch_keys().await.is_fetched());
        let other_bot = IssueClaims::graph_callback("another-bot", TENANT);
        assert!(
            refused(keys.issuer.issue(other_bot))
                .await
                .contains("audience")
        );
        let other_issuer = IssueClaims {
            iss: "https://login.example.com".into(),
            ..IssueClaims::graph_callback(APP_ID, TENANT)
        };
        assert!(
            refused(keys.issuer.issue(other_issuer))
                .await
                .contains("issuer")
        );
        let stranger = CallbackTokenIssuer::new();
        let unknown_key = stranger.issue(IssueClaims::graph_callback(APP_ID, TENANT));
        assert!(refused(unknown_key).await.contains("signature"));

        let accepted = post(valid).await.unwrap();
        assert_ne!(accepted.status(), StatusCode::UNAUTHORIZED);
    }
}
