//! For tests of callhost itself: a fresh PostgreSQL database on the test server.
//!
//! `cargo xtask test` starts a private server and names it in `CALLHOST_TEST_POSTGRES_URL`
//! (`cargo xtask postgres` does it for tests run by hand). A test that needs PostgreSQL fails
//! without it, saying so: it is never skipped.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::PostgresOptions;

/// The variable that names the test server (a role that may create databases).
pub const TEST_SERVER_VAR: &str = "CALLHOST_TEST_POSTGRES_URL";

/// The URL of the test server's admin database.
///
/// # Panics
/// When `CALLHOST_TEST_POSTGRES_URL` is not set.
pub fn test_server_url() -> String {
    std::env::var(TEST_SERVER_VAR).unwrap_or_else(|_| {
        panic!(
            "{TEST_SERVER_VAR} is not set: run the tests with `cargo xtask test`, or start a test server with `cargo xtask postgres` and export what it prints"
        )
    })
}

/// Creates an empty database of its own for one test; its connection URL.
///
/// # Panics
/// When there is no test server or the database cannot be made.
pub async fn fresh_database(hint: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let server = test_server_url();
    let name = format!(
        "t_{}_{}_{}",
        hint.chars()
            .filter(char::is_ascii_alphanumeric)
            .take(24)
            .collect::<String>()
            .to_lowercase(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let client = connect(&server).await;
    for statement in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        client.batch_execute(&statement).await.unwrap_or_else(|e| {
            panic!(
                "`{statement}` on the test server: {}",
                crate::postgres::error_chain(&e)
            )
        });
    }
    with_database(&server, &name)
}

/// A client of the database at `url`, connected as the engine connects (TLS included).
///
/// # Panics
/// When the URL is malformed or the server cannot be reached.
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let options = PostgresOptions::new(url, None)
        .unwrap_or_else(|e| panic!("the test server's URL ({TEST_SERVER_VAR}): {e}"));
    let (client, connection) = options.connect_raw().await.unwrap_or_else(|e| {
        panic!(
            "connecting to {}: {}",
            options.target(),
            crate::postgres::error_chain(&e)
        )
    });
    tokio::spawn(connection);
    client
}

/// `url` with its database replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = match base.rsplit_once('/') {
        Some((authority, _))
            if authority.contains("://") && authority.len() > "postgres://".len() - 1 =>
        {
            authority
        }
        _ => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_of_a_url_is_replaced() {
        assert_eq!(
            with_database("postgres://u:p@127.0.0.1:5/postgres", "t_1"),
            "postgres://u:p@127.0.0.1:5/t_1"
        );
        assert_eq!(
            with_database("postgres://u@h:5/postgres?sslmode=disable", "t_1"),
            "postgres://u@h:5/t_1?sslmode=disable"
        );
    }
}
