//! Reaching the server, with errors a person can act on, and bringing its schema up to date.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::db::{Db, error_chain};
use super::tls;
use crate::{MIGRATIONS, StoreError, now_ms};

/// A connection to the server, plain or TLS, for its caller to drive.
pub(crate) type Connection = tokio_postgres::Connection<
    tokio_postgres::Socket,
    <MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>>::Stream,
>;

/// The advisory lock instances take while they migrate ("CALH").
const MIGRATION_LOCK: i64 = 0x4341_4c48;

/// Where the PostgreSQL engine connects.
#[derive(Clone)]
pub struct PostgresOptions {
    config: Config,
    /// Verifies the server whenever TLS is used (see [`tls`]).
    tls: MakeRustlsConnect,
    /// The CA file the server's certificate is verified against, besides the Mozilla roots.
    ca_file: Option<PathBuf>,
    /// The owner this instance's leases are held as.
    instance: String,
}

impl std::fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresOptions")
            .field("target", &self.target())
            .finish_non_exhaustive()
    }
}

impl PostgresOptions {
    /// From a connection URL (`postgres://user@host:port/database?…`) or a key=value string,
    /// with `password` (from the environment, kept out of configuration files) when given.
    /// `sslmode` and `sslrootcert` mean what they mean to libpq, except that every TLS
    /// connection verifies the server ([`tls`]).
    pub fn new(url: &str, password: Option<&str>) -> Result<Self, StoreError> {
        let (url, ca_file) = tls::split_url(url);
        let mut config: Config = url.parse().map_err(|e: tokio_postgres::Error| {
            StoreError::Config(format!(
                "storage.postgres_url is not a PostgreSQL connection URL ({}); write it as postgres://USER@HOST:PORT/DATABASE",
                error_chain(&e)
            ))
        })?;
        if let Some(password) = password {
            config.password(password);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        if config.get_application_name().is_none() {
            config.application_name("callhost");
        }
        config.keepalives_idle(Duration::from_secs(10));
        let ca_file = ca_file.map(PathBuf::from);
        Ok(Self {
            tls: tls::connector(ca_file.as_deref())?,
            ca_file,
            config,
            instance: default_instance(),
        })
    }

    /// Verifies the server's certificate against the CA certificates (PEM) in `path` too, and
    /// uses TLS or nothing unless the URL says `sslmode=disable`.
    pub fn with_ca_file(mut self, path: &Path) -> Result<Self, StoreError> {
        self.tls = tls::connector(Some(path))?;
        self.ca_file = Some(path.to_owned());
        if self.config.get_ssl_mode() == SslMode::Prefer {
            self.config.ssl_mode(SslMode::Require);
        }
        Ok(self)
    }

    /// Holds leases as `instance` (unique among the instances sharing the database).
    #[must_use]
    pub fn with_instance(mut self, instance: &str) -> Self {
        self.instance = instance.to_owned();
        self
    }

    /// The owner this instance's leases are held as.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// `user@host:port/database`, for messages: never the password.
    pub fn target(&self) -> String {
        let host = self.config.get_hosts().first().map_or_else(
            || "localhost".to_owned(),
            |host| match host {
                tokio_postgres::config::Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
            },
        );
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        let user = self.config.get_user().unwrap_or("(no user)");
        let database = self.config.get_dbname().unwrap_or(user);
        format!("{user}@{host}:{port}/{database}")
    }

    /// Connects as configured; the connection itself is the caller's to drive.
    pub(crate) async fn connect_raw(&self) -> Result<(Client, Connection), tokio_postgres::Error> {
        self.config.connect(self.tls.clone()).await
    }
}

/// An instance name unique to this process: the host, the process id and a random part, so
/// that a restarted process is a new owner whose predecessor's leases others may take.
fn default_instance() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{host}-{}-{nanos:08x}", std::process::id())
}

/// Connects; the connection's own task runs until the client is dropped or the server goes.
pub(crate) async fn connect(options: &PostgresOptions) -> Result<Client, StoreError> {
    let target = options.target();
    let (client, connection) = options
        .connect_raw()
        .await
        .map_err(|e| refused(options, &target, &e))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(target = %target, error = %error_chain(&error), "the connection to PostgreSQL was lost");
        }
    });
    Ok(client)
}

/// Why a connection was refused, with the fix.
fn refused(options: &PostgresOptions, target: &str, error: &tokio_postgres::Error) -> StoreError {
    let detail = error_chain(error);
    if let Some(fix) = tls_fix(options, &detail) {
        return StoreError::Refused {
            target: target.to_owned(),
            detail,
            fix,
        };
    }
    let code = error.as_db_error().map(|db| db.code().clone());
    let fix = match code {
        Some(SqlState::INVALID_PASSWORD | SqlState::INVALID_AUTHORIZATION_SPECIFICATION) => {
            "check the user in storage.postgres_url and the password in CALLHOST_POSTGRES_PASSWORD"
        }
        Some(SqlState::INVALID_CATALOG_NAME) => {
            "create the database (`createdb -O USER DATABASE`) or name an existing one in storage.postgres_url"
        }
        Some(SqlState::TOO_MANY_CONNECTIONS) => {
            "raise the server's max_connections, or run fewer callhost instances against it"
        }
        Some(_) => "see the server's log",
        None => {
            return StoreError::Unavailable {
                target: target.to_owned(),
                detail,
            };
        }
    };
    StoreError::Refused {
        target: target.to_owned(),
        detail,
        fix: fix.to_owned(),
    }
}

/// The fix for a TLS handshake that failed, when that is why.
fn tls_fix(options: &PostgresOptions, detail: &str) -> Option<String> {
    let untrusted = ["UnknownIssuer", "BadSignature", "invalid peer certificate"];
    if untrusted.iter().any(|u| detail.contains(u)) {
        return Some(match &options.ca_file {
            Some(path) => format!(
                "the server's certificate is not signed by a CA in {} or the Mozilla roots; name its CA's certificate there",
                path.display()
            ),
            None => "the server's certificate is not signed by a CA callhost trusts; set storage.postgres_ca_file (or sslrootcert in the URL) to its CA's certificate, or sslmode=disable on a network you trust".to_owned(),
        });
    }
    if detail.contains("NotValidForName") {
        return Some("the server's certificate does not name the host in storage.postgres_url; connect by a name the certificate has".to_owned());
    }
    if detail.contains("server does not support TLS") {
        return Some("turn TLS on at the server (ssl = on), or drop sslmode=require from storage.postgres_url".to_owned());
    }
    None
}

/// Refuses a database that holds another application's tables or a newer schema, and applies
/// the migrations it lacks, one instance at a time.
pub(crate) async fn migrate(db: &Db) -> Result<(), StoreError> {
    let target = db.target().to_owned();
    db.batch(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
        .await?;
    let migrated = apply(db, &target).await;
    let unlocked = db
        .batch(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
        .await;
    migrated.and(unlocked)
}

async fn apply(db: &Db, target: &str) -> Result<(), StoreError> {
    let tables = db
        .query_opt(
            "SELECT COUNT(*) FILTER (WHERE table_name = 'schema_migrations'), COUNT(*) \
             FROM information_schema.tables WHERE table_schema = current_schema()",
            &[],
        )
        .await?
        .map_or((0, 0), |row| (row.get::<_, i64>(0), row.get::<_, i64>(1)));
    if tables.0 == 0 && tables.1 > 0 {
        return Err(StoreError::Foreign {
            path: target.into(),
            detail: format!(
                "{} tables of another application and no schema_migrations table",
                tables.1
            ),
        });
    }
    db.batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at_ms BIGINT NOT NULL)",
    )
    .await?;
    let current: i64 = db
        .query_opt(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .await?
        .map_or(0, |row| row.get(0));
    let known = MIGRATIONS.last().map_or(0, |(v, _)| *v);
    if current > known {
        return Err(StoreError::TooNew {
            path: target.into(),
            found: current,
            known,
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        // The schema is written once for both engines; PostgreSQL spells bytes BYTEA and
        // numbers rows with BIGSERIAL.
        let sql = sql
            .replace("BLOB", "BYTEA")
            .replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY");
        db.batch("BEGIN").await?;
        let applied = async {
            db.batch(&sql).await?;
            db.execute(
                "INSERT INTO schema_migrations (version, applied_at_ms) VALUES ($1, $2)",
                &[version, &now_ms()],
            )
            .await
        }
        .await;
        match applied {
            Ok(_) => db.batch("COMMIT").await?,
            Err(e) => {
                let _ = db.batch("ROLLBACK").await;
                return Err(e);
            }
        }
        tracing::info!(target, version, "store schema migrated");
    }
    Ok(())
}
