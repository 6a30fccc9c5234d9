//! Assembles the service from a validated [`Config`] and serves it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Context as _, bail};
use axum::Router;

use crate::config::Config;
use crate::dispatch::{Dispatcher, DispatcherSettings, Route};
use crate::graph::actions::GraphActions;
use crate::graph::client::{GraphClient, GraphClientSettings, shared_http_client};
use crate::graph::request::RequestContext;
use crate::graph::token::{ClientSecret, TokenProvider, TokenSettings};
use crate::journal::MemoryJournal;
use crate::plugins::{PluginRegistry, PluginSource, start_reloader};
use crate::runtime::{MemoryStateStore, Runtime, RuntimeSettings};
use crate::server::auth::{CallbackAuthSettings, CallbackAuthenticator};
use crate::server::{AdminState, CallbackState, admin_router, callback_router};

/// How long shutdown waits for accepted notifications to be handled.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// The assembled service.
pub struct App {
    pub config: Config,
    pub dispatcher: Dispatcher,
    pub runtime: Runtime,
    pub plugins: PluginRegistry,
    pub callbacks: Router,
    pub admin: Option<Router>,
    /// What happened on each call (also behind [`Dispatcher::journal`]).
    pub journal: Arc<MemoryJournal>,
}

impl App {
    /// Builds everything: loads every plugin (compiling through the cache), wires the Graph
    /// client, callback authentication and the dispatcher, and starts reloading plugins and
    /// routes when they change. Reaches no network.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let cache_dir = config
            .runtime
            .cache_dir
            .as_ref()
            .map(|d| config.resolve(d))
            .unwrap_or_else(|| config.base_dir.join(".callhost/cache"));
        let runtime = Runtime::new(RuntimeSettings {
            cache_dir: Some(cache_dir),
            max_instances: config.runtime.max_instances,
            allocation: config.runtime.allocation,
            ..RuntimeSettings::default()
        })?;
        let plugins = PluginRegistry::new();
        for id in config.plugins.keys() {
            let started = std::time::Instant::now();
            let source = PluginSource::from_config(&config, id)?;
            let version = source.load(&runtime).await?;
            tracing::info!(plugin = %id, version = version.info.version(), from_cache = version.info.from_cache, "plugin loaded");
            plugins.install(source, version, started.elapsed());
        }
        let routes = config
            .routes
            .iter()
            .map(Route::from_config)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!(e))?;
        if routes.is_empty() {
            tracing::warn!("no [[routes]] configured: incoming calls will not be answered");
        }

        let mut not_ready = None;
        let secret = match ClientSecret::from_env_or_file(
            config
                .bot
                .client_secret_file
                .as_deref()
                .map(|p| config.resolve(p))
                .as_deref(),
        ) {
            Ok(secret) => secret,
            Err(e) => {
                tracing::warn!(error = %e, "no client secret: Graph requests will fail until one is configured");
                not_ready = Some(e.to_string());
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
        let actions = GraphActions::new(
            client,
            RequestContext {
                callback_uri: config.callback_url(),
                bot_app_id: config.bot.app_id.clone(),
                bot_display_name: Some(config.bot.display_name.clone()),
                default_tenant_id: config.bot.default_tenant.clone(),
            },
        )
        .with_journal(journal.clone());
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
                journal: journal.clone(),
                ..DispatcherSettings::new(config.bot.app_id.clone())
            },
            runtime.clone(),
            plugins.clone(),
            routes,
            Arc::new(MemoryStateStore::new()),
            Arc::new(actions),
        );
        start_reloader(
            config.clone(),
            runtime.clone(),
            plugins.clone(),
            dispatcher.clone(),
        );
        let ready = Arc::new(AtomicBool::new(not_ready.is_none()));
        let callbacks = callback_router(
            CallbackState {
                dispatcher: dispatcher.clone(),
                auth,
                ready,
                not_ready_reason: Arc::new(std::sync::Mutex::new(not_ready)),
            },
            &config.server.callback_path,
            config.server.body_limit_bytes,
        );
        let admin = if config.admin.enabled {
            let token = std::env::var(crate::server::admin::ADMIN_TOKEN_ENV)
                .ok()
                .filter(|t| !t.is_empty());
            let listen = config
                .admin
                .listen
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8081)));
            if token.is_none() && !listen.ip().is_loopback() {
                bail!(
                    "admin.listen {listen} is not a loopback address: set {} to a secret token, or bind the admin API to 127.0.0.1",
                    crate::server::admin::ADMIN_TOKEN_ENV
                );
            }
            Some(admin_router(AdminState {
                dispatcher: dispatcher.clone(),
                token: token.map(Into::into),
            }))
        } else {
            None
        };
        Ok(Self {
            config,
            dispatcher,
            runtime,
            plugins,
            callbacks,
            admin,
            journal,
        })
    }

    /// Serves until `shutdown` resolves, then lets in-flight events finish.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let listen = self.config.server.listen;
        let mut servers = Vec::new();
        match &self.config.server.tls {
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
                let handle = axum_server::Handle::new();
                let server = axum_server::bind_rustls(listen, tls_config)
                    .handle(handle.clone())
                    .serve(self.callbacks.clone().into_make_service());
                let rx = stop_rx.clone();
                tokio::spawn(async move {
                    stopped(rx).await;
                    handle.graceful_shutdown(Some(SHUTDOWN_GRACE));
                });
                tracing::info!(%listen, callback = %self.config.callback_url(), "serving callbacks over TLS");
                servers.push(tokio::spawn(async move {
                    server.await.context("callback listener")
                }));
            }
            None => {
                let listener = tokio::net::TcpListener::bind(listen)
                    .await
                    .with_context(|| format!("binding server.listen {listen}"))?;
                tracing::info!(listen = %listener.local_addr()?, callback = %self.config.callback_url(), "serving callbacks");
                let server = axum::serve(listener, self.callbacks.clone())
                    .with_graceful_shutdown(stopped(stop_rx.clone()));
                servers.push(tokio::spawn(async move {
                    server.await.context("callback listener")
                }));
            }
        }
        if let Some(admin) = self.admin.clone() {
            let addr = self
                .config
                .admin
                .listen
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8081)));
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding admin.listen {addr}"))?;
            tracing::info!(listen = %listener.local_addr()?, "serving the admin API");
            let server =
                axum::serve(listener, admin).with_graceful_shutdown(stopped(stop_rx.clone()));
            servers.push(tokio::spawn(async move {
                server.await.context("admin listener")
            }));
        }
        for server in servers {
            server.await??;
        }
        tracing::info!("listeners closed; finishing accepted notifications");
        if !self.dispatcher.drain(SHUTDOWN_GRACE).await {
            tracing::warn!("shutdown grace period passed with notifications still queued");
        }
        Ok(())
    }
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
