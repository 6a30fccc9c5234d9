//! What only the inside can show: a verified token is not checked again. The rest of
//! callback authentication is tested through the public API in tests/graph_auth.rs.

use axum::Router;
use axum::routing::get;
use serde_json::Value;

use super::issuer::{CallbackTokenIssuer, IssueClaims};
use super::*;

#[tokio::test]
async fn verified_token_is_accepted_again_without_keys() {
    let issuer = Arc::new(CallbackTokenIssuer::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let jwks_uri = format!("{base}/keys");
    let (config_issuer, keys_issuer) = (issuer.clone(), issuer.clone());
    let config: Value = config_issuer.openid_configuration(&jwks_uri);
    let router = Router::new()
        .route("/openid", get(move || async move { axum::Json(config) }))
        .route(
            "/keys",
            get(move || async move { axum::Json(keys_issuer.jwks_json()) }),
        );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let mut settings = CallbackAuthSettings::new("app-id");
    settings.openid_configuration_url = format!("{base}/openid");
    let auth = CallbackAuthenticator::new(settings, reqwest::Client::new());
    let header = format!(
        "Bearer {}",
        issuer.issue(IssueClaims::graph_callback("app-id", "t1"))
    );

    let first = auth.verify(Some(&header)).await.unwrap();
    // Without keys (and no fetch allowed), only the cache can accept the token now.
    auth.inner.keys.forget();
    let again = auth.verify(Some(&header)).await.unwrap();
    assert_eq!(first, again);

    let other = format!(
        "Bearer {}",
        issuer.issue(IssueClaims::graph_callback("app-id", "t2"))
    );
    let err = auth.verify(Some(&other)).await.unwrap_err();
    assert!(matches!(err, AuthError::KeysUnavailable { .. }), "{err:?}");
}

#[test]
fn verification_can_run_on_any_executor_thread() {
    fn assert_send<T: Send>(_: &T) {}
    let auth = CallbackAuthenticator::new(CallbackAuthSettings::new("a"), reqwest::Client::new());
    assert_send(&auth.verify(None));
}

#[test]
fn bearer_scheme_is_case_insensitive() {
    assert_eq!(bearer_token("bearer abc"), Ok("abc"));
    assert_eq!(bearer_token("Bearer  abc "), Ok("abc"));
    assert_eq!(bearer_token("Basic abc"), Err(AuthError::BadScheme));
    assert_eq!(bearer_token("Bearer"), Err(AuthError::BadScheme));
    assert!(matches!(
        bearer_token("Bearer  "),
        Err(AuthError::BadScheme | AuthError::Malformed(_))
    ));
}

#[tokio::test]
async fn a_failed_first_fetch_is_retried_within_seconds_not_the_refetch_interval() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let issuer = Arc::new(CallbackTokenIssuer::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config: Value = issuer.openid_configuration(&format!("{base}/keys"));
    let keys = issuer.jwks_json();
    let down = Arc::new(AtomicBool::new(true));
    let down_openid = down.clone();
    let router = Router::new()
        .route(
            "/openid",
            get(move || async move {
                if down_openid.load(Ordering::SeqCst) {
                    Err(axum::http::StatusCode::SERVICE_UNAVAILABLE)
                } else {
                    Ok(axum::Json(config))
                }
            }),
        )
        .route("/keys", get(move || async move { axum::Json(keys) }));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let mut settings = CallbackAuthSettings::new("app-id");
    settings.openid_configuration_url = format!("{base}/openid");
    let auth = CallbackAuthenticator::new(settings, reqwest::Client::new());
    let header = format!(
        "Bearer {}",
        issuer.issue(IssueClaims::graph_callback("app-id", "t1"))
    );
    assert!(auth.verify(Some(&header)).await.is_err());
    down.store(false, Ordering::SeqCst);
    tokio::time::sleep(keys::NEVER_FETCHED_REFETCH_INTERVAL + Duration::from_millis(100)).await;
    auth.verify(Some(&header))
        .await
        .expect("keys are fetched again a second after a failed first fetch");
}

#[cfg(feature = "fuzzing")]
#[test]
fn unsigned_check_runs_the_header_and_claim_checks_of_verify() {
    let issuer = CallbackTokenIssuer::new();
    let settings = CallbackAuthSettings::new("app-id");
    let header = format!(
        "Bearer {}",
        issuer.issue(IssueClaims::graph_callback("app-id", "t1"))
    );
    let claims = check_unsigned(&settings, &header).unwrap();
    assert_eq!(
        (claims.tenant_id.as_str(), claims.audience.as_str()),
        ("t1", "app-id")
    );
    let other_bot = CallbackAuthSettings::new("other-app");
    let err = check_unsigned(&other_bot, &header).unwrap_err();
    assert!(matches!(err, AuthError::WrongAudience { .. }), "{err:?}");
    let payload = header.split('.').nth(1).unwrap();
    let none = format!(
        "Bearer {}.{payload}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#)
    );
    assert_eq!(
        check_unsigned(&settings, &none),
        Err(AuthError::UnsupportedAlgorithm("none".into()))
    );
    assert_eq!(
        check_unsigned(&settings, "Basic x"),
        Err(AuthError::BadScheme)
    );
}
