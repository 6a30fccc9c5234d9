//! Callback authentication against a local OpenID/JWKS host, and a callback's tenant carried
//! through to the Graph token request.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, SystemTime};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use callhost::graph::callback_auth::issuer::{CallbackTokenIssuer, ClaimTime, IssueClaims};
use callhost::graph::callback_auth::{
    AuthError, CallbackAuthSettings, CallbackAuthenticator, GRAPH_ISSUER,
};
use callhost::graph::client::{GraphClient, GraphClientSettings};
use callhost::graph::request::GraphRequest;
use callhost::graph::token::{ClientSecret, TokenProvider, TokenSettings};
use serde_json::{Value, json};

const APP_ID: &str = "0efc74f7-41c3-47a4-8775-7259bfef4241";
const TENANT: &str = "1fdd12d0-4620-44ed-baec-459b611f84b2";

/// Graph's signing key, and keys that must not be trusted. Generated once per test run.
static GRAPH: LazyLock<CallbackTokenIssuer> =
    LazyLock::new(|| CallbackTokenIssuer::with_kid("graph-key-1"));
static FORGER: LazyLock<CallbackTokenIssuer> =
    LazyLock::new(|| CallbackTokenIssuer::with_kid("graph-key-1"));
static STRANGER: LazyLock<CallbackTokenIssuer> =
    LazyLock::new(|| CallbackTokenIssuer::with_kid("not-published"));
static ROTATED: LazyLock<CallbackTokenIssuer> =
    LazyLock::new(|| CallbackTokenIssuer::with_kid("graph-key-2"));

/// Serves the OpenID configuration and a JWKS that tests can change, counting JWKS fetches.
#[derive(Clone)]
struct KeyHost {
    base: String,
    jwks: Arc<Mutex<Value>>,
    jwks_fetches: Arc<AtomicUsize>,
    failing: Arc<AtomicBool>,
}

async fn openid(State(host): State<KeyHost>) -> Json<Value> {
    Json(GRAPH.openid_configuration(&format!("{}/v1/keys", host.base)))
}

async fn keys(State(host): State<KeyHost>) -> Response {
    host.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    if host.failing.load(Ordering::SeqCst) {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let jwks = host.jwks.lock().unwrap().clone();
    Json(jwks).into_response()
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base
}

impl KeyHost {
    /// Given Graph publishes `GRAPH`'s key.
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = KeyHost {
            base: format!("http://{}", listener.local_addr().unwrap()),
            jwks: Arc::new(Mutex::new(GRAPH.jwks_json())),
            jwks_fetches: Arc::default(),
            failing: Arc::default(),
        };
        let router = Router::new()
            .route("/v1/.well-known/OpenIdConfiguration", get(openid))
            .route("/v1/keys", get(keys))
            .with_state(host.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        host
    }

    fn openid_url(&self) -> String {
        format!("{}/v1/.well-known/OpenIdConfiguration", self.base)
    }

    fn fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }

    fn authenticator(&self, tune: impl FnOnce(&mut CallbackAuthSettings)) -> CallbackAuthenticator {
        let mut settings = CallbackAuthSettings::new(APP_ID);
        settings.openid_configuration_url = self.openid_url();
        tune(&mut settings);
        CallbackAuthenticator::new(settings, reqwest::Client::new())
    }
}

fn valid() -> IssueClaims {
    IssueClaims::graph_callback(APP_ID, TENANT)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn verify(auth: &CallbackAuthenticator, token: &str) -> Result<(), AuthError> {
    auth.verify(Some(&bearer(token))).await.map(|_| ())
}

#[tokio::test]
async fn valid_token_is_accepted_with_its_claims() {
    let host = KeyHost::start().await;
    let auth = host.authenticator(|_| {});
    let claims = auth
        .verify(Some(&bearer(&GRAPH.issue(valid()))))
        .await
        .unwrap();
    assert_eq!(claims.tenant_id, TENANT);
    assert_eq!(claims.issuer, "https://api.botframework.com");
    assert_eq!(claims.audience, APP_ID);
    let left = claims.expires_at.duration_since(SystemTime::now()).unwrap();
    assert!(
        left > Duration::from_secs(3800) && left <= Duration::from_secs(3900),
        "{left:?}"
    );

    let from_graph = IssueClaims {
        iss: GRAPH_ISSUER.into(),
        ..valid()
    };
    assert_eq!(
        auth.verify(Some(&bearer(&GRAPH.issue(from_graph))))
            .await
            .unwrap()
            .issuer,
        GRAPH_ISSUER
    );
    // Expired a minute ago, within the clock skew.
    let just_expired = IssueClaims {
        exp: ClaimTime::FromNow(-60),
        ..valid()
    };
    verify(&auth, &GRAPH.issue(just_expired)).await.unwrap();
}

/// Whether a rejection is the expected one.
type Expect = fn(&AuthError) -> bool;

#[tokio::test]
async fn invalid_tokens_are_rejected_with_the_reason() {
    let host = KeyHost::start().await;
    let auth = host.authenticator(|s| s.allowed_tenants = vec![TENANT.to_uppercase()]);
    let past = ClaimTime::FromNow(-7200);
    let cases: Vec<(&str, String, Expect)> = vec![
        ("forged", FORGER.issue(valid()), |e| {
            matches!(e, AuthError::BadSignature { .. })
        }),
        (
            "expired",
            GRAPH.issue(IssueClaims {
                iat: past,
                nbf: past,
                exp: ClaimTime::FromNow(-600),
                ..valid()
            }),
            |e| matches!(e, AuthError::Expired { .. }),
        ),
        (
            "not yet valid",
            GRAPH.issue(IssueClaims {
                nbf: ClaimTime::FromNow(600),
                ..valid()
            }),
            |e| matches!(e, AuthError::NotYetValid { .. }),
        ),
        (
            "wrong audience",
            GRAPH.issue(IssueClaims {
                aud: "another-bot".into(),
                ..valid()
            }),
            |e| matches!(e, AuthError::WrongAudience { audience, .. } if audience == "another-bot"),
        ),
        (
            "wrong issuer",
            GRAPH.issue(IssueClaims {
                iss: "https://evil.example".into(),
                ..valid()
            }),
            |e| e.to_string().contains("https://evil.example"),
        ),
        (
            "issuer with a trailing slash",
            GRAPH.issue(IssueClaims {
                iss: "https://api.botframework.com/".into(),
                ..valid()
            }),
            |e| matches!(e, AuthError::WrongIssuer { .. }),
        ),
        (
            "no tid",
            GRAPH.issue(IssueClaims {
                tid: None,
                ..valid()
            }),
            |e| *e == AuthError::MissingTenant,
        ),
        (
            "tenant not allowed",
            GRAPH.issue(IssueClaims {
                tid: Some("other-tenant".into()),
                ..valid()
            }),
            |e| matches!(e, AuthError::TenantNotAllowed { tenant } if tenant == "other-tenant"),
        ),
        ("alg none", unsigned(&valid().payload()), |e| {
            *e == AuthError::UnsupportedAlgorithm("none".into())
        }),
        (
            "HS256 keyed with the public key",
            hmac_signed(&valid().payload()),
            |e| *e == AuthError::UnsupportedAlgorithm("HS256".into()),
        ),
        ("garbage", "not-a-jwt".into(), |e| {
            matches!(e, AuthError::Malformed(_))
        }),
        ("bad base64", "%%%.e30.sig".into(), |e| {
            matches!(e, AuthError::Malformed(_))
        }),
    ];
    for (case, token, expected) in cases {
        let err = verify(&auth, &token).await.expect_err(case);
        assert!(expected(&err), "{case}: {err:?}");
    }
    assert_eq!(auth.verify(None).await, Err(AuthError::MissingHeader));
    assert_eq!(
        auth.verify(Some("Basic dXNlcjpwYXNz")).await,
        Err(AuthError::BadScheme)
    );
    // The allowed tenant, compared without regard to case, still gets in.
    verify(&auth, &GRAPH.issue(valid())).await.unwrap();
}

fn part(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn unsigned(claims: &Value) -> String {
    format!(
        "{}.{}.",
        part(&json!({"alg": "none", "typ": "JWT", "kid": "graph-key-1"})),
        part(claims)
    )
}

fn hmac_signed(claims: &Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("graph-key-1".into());
    let public_modulus = GRAPH.jwk()["n"].as_str().unwrap().to_owned();
    let key = jsonwebtoken::EncodingKey::from_secret(public_modulus.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

#[tokio::test]
async fn unknown_key_is_refetched_once_and_still_rejected() {
    let host = KeyHost::start().await;
    let auth = host.authenticator(|s| s.min_key_refetch_interval = Duration::ZERO);
    verify(&auth, &GRAPH.issue(valid())).await.unwrap();
    assert_eq!(host.fetches(), 1);
    let err = verify(&auth, &STRANGER.issue(valid())).await.unwrap_err();
    let AuthError::UnknownKey { key_id, jwks_uri } = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        (key_id.as_str(), jwks_uri),
        ("not-published", format!("{}/v1/keys", host.base))
    );
    assert_eq!(host.fetches(), 2);
}

#[tokio::test]
async fn rotated_key_is_picked_up_on_refetch() {
    let host = KeyHost::start().await;
    let auth = host.authenticator(|s| s.min_key_refetch_interval = Duration::ZERO);
    verify(&auth, &GRAPH.issue(valid())).await.unwrap();
    *host.jwks.lock().unwrap() = json!({"keys": [GRAPH.jwk(), ROTATED.jwk()]});
    verify(&auth, &ROTATED.issue(valid())).await.unwrap();
    assert_eq!(host.fetches(), 2);
}

#[tokio::test]
async fn unknown_key_refetches_are_rate_limited() {
    let host = KeyHost::start().await;
    let auth = host.authenticator(|s| s.min_key_refetch_interval = Duration::from_secs(60));
    for _ in 0..3 {
        let err = verify(&auth, &STRANGER.issue(valid())).await.unwrap_err();
        assert!(matches!(err, AuthError::UnknownKey { .. }), "{err:?}");
    }
    assert_eq!(host.fetches(), 1);
}

#[tokio::test]
async fn unreachable_keys_reject_every_token() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!(
        "http://{}/v1/.well-known/OpenIdConfiguration",
        listener.local_addr().unwrap()
    );
    drop(listener);
    let mut settings = CallbackAuthSettings::new(APP_ID);
    settings.openid_configuration_url = closed.clone();
    let auth = CallbackAuthenticator::new(settings, reqwest::Client::new());
    for _ in 0..2 {
        let err = verify(&auth, &GRAPH.issue(valid())).await.unwrap_err();
        assert!(
            matches!(&err, AuthError::KeysUnavailable { url, .. } if *url == closed),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn failing_key_endpoint_is_named_and_retried_later() {
    let host = KeyHost::start().await;
    host.failing.store(true, Ordering::SeqCst);
    let auth = host.authenticator(|s| s.min_key_refetch_interval = Duration::ZERO);
    let err = verify(&auth, &GRAPH.issue(valid())).await.unwrap_err();
    let AuthError::KeysUnavailable { url, reason } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*url, format!("{}/v1/keys", host.base));
    assert!(reason.contains("500"), "{reason}");
    host.failing.store(false, Ordering::SeqCst);
    verify(&auth, &GRAPH.issue(valid())).await.unwrap();
}

#[tokio::test]
async fn callback_tenant_is_the_tenant_of_the_graph_token() {
    let host = KeyHost::start().await;
    let auth = host.authenticator(|_| {});
    let claims = auth
        .verify(Some(&bearer(&GRAPH.issue(valid()))))
        .await
        .unwrap();

    let tenants = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = tenants.clone();
    let login = post(
        move |axum::extract::Path(tenant): axum::extract::Path<String>| async move {
            seen.lock().unwrap().push(tenant);
            Json(json!({"token_type": "Bearer", "expires_in": 3599, "access_token": "app-token"}))
        },
    );
    let graph = post(|headers: axum::http::HeaderMap| async move {
        match headers["authorization"].to_str() {
            Ok("Bearer app-token") => StatusCode::ACCEPTED,
            _ => StatusCode::UNAUTHORIZED,
        }
    });
    let base = serve(
        Router::new()
            .route("/{tenant}/oauth2/v2.0/token", login)
            .route("/v1.0/communications/calls/{id}/answer", graph),
    )
    .await;
    let mut token_settings = TokenSettings::new(APP_ID, ClientSecret::new("secret"));
    token_settings.token_url = format!("{base}/{{tenant}}/oauth2/v2.0/token");
    let http = reqwest::Client::new();
    let tokens = TokenProvider::new(token_settings, http.clone());
    let settings = GraphClientSettings {
        base_url: format!("{base}/v1.0"),
        ..Default::default()
    };
    let client = GraphClient::new(settings, tokens, http);

    let answer = GraphRequest::post_empty("/communications/calls/c1/answer");
    let response = client
        .send(Some(&claims.tenant_id), &answer, false)
        .await
        .unwrap();
    assert_eq!(response.status, 202);
    assert_eq!(*tenants.lock().unwrap(), [TENANT]);
}
