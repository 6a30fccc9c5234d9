//! Token provider against a local fake login endpoint. [`FakeLogin`] and [`serve`] are also
//! used by the Graph client's tests.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;

use super::*;

/// Serves `router` on an ephemeral local port.
pub(crate) async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// A token request as the fake saw it: the tenant of the URL and the form fields.
type TokenRequest = (String, HashMap<String, String>);

/// A login endpoint that hands out `token-1`, `token-2`, … and records every request.
#[derive(Clone, Default)]
pub(crate) struct FakeLogin {
    issued: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<TokenRequest>>>,
    /// When set, every request is refused with this OAuth2 error.
    pub refuse: Arc<Mutex<Option<(StatusCode, serde_json::Value)>>>,
    /// How long each answer takes, so concurrent callers overlap.
    pub delay: Arc<Mutex<Duration>>,
    pub expires_in: Arc<Mutex<u64>>,
}

impl FakeLogin {
    pub fn new() -> Self {
        let login = Self::default();
        *login.expires_in.lock().unwrap() = 3599;
        login
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .with_state(self.clone())
    }

    /// The token URL template for a fake served at `addr`.
    pub fn url(addr: SocketAddr) -> String {
        format!("http://{addr}/{{tenant}}/oauth2/v2.0/token")
    }

    pub fn request_count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    pub fn tenants(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|(t, _)| t.clone())
            .collect()
    }

    pub fn provider(addr: SocketAddr) -> TokenProvider {
        let mut settings = TokenSettings::new("app-id", ClientSecret::new("s3cret"));
        settings.token_url = Self::url(addr);
        TokenProvider::new(settings, reqwest::Client::new())
    }
}

async fn token(
    State(login): State<FakeLogin>,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    login.requests.lock().unwrap().push((tenant, form));
    let delay = *login.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    if let Some((status, body)) = login.refuse.lock().unwrap().clone() {
        return (status, Json(body)).into_response();
    }
    let n = login.issued.fetch_add(1, Ordering::SeqCst) + 1;
    let expires_in = *login.expires_in.lock().unwrap();
    let access_token = format!("token-{n}");
    Json(json!({"token_type": "Bearer", "expires_in": expires_in, "access_token": access_token}))
        .into_response()
}

async fn started() -> (FakeLogin, TokenProvider) {
    let login = FakeLogin::new();
    let addr = serve(login.router()).await;
    (login.clone(), FakeLogin::provider(addr))
}

#[tokio::test]
async fn token_is_fetched_once_and_cached() {
    let (login, tokens) = started().await;
    let first = tokens.token(Some("Tenant-A")).await.unwrap();
    let second = tokens.token(Some("tenant-a")).await.unwrap();
    assert_eq!(first.secret(), "token-1");
    assert_eq!(second.secret(), "token-1");
    assert_eq!(login.request_count(), 1);

    let (_, form) = login.requests.lock().unwrap()[0].clone();
    assert_eq!(form["client_id"], "app-id");
    assert_eq!(form["scope"], DEFAULT_SCOPE);
    assert_eq!(form["client_secret"], "s3cret");
    assert_eq!(form["grant_type"], "client_credentials");
}

#[tokio::test]
async fn tokens_are_per_tenant_and_common_without_one() {
    let (login, tokens) = started().await;
    tokens.token(Some("tenant-a")).await.unwrap();
    tokens.token(Some("tenant-b")).await.unwrap();
    tokens.token(None).await.unwrap();
    assert_eq!(login.tenants(), ["tenant-a", "tenant-b", "common"]);
}

#[tokio::test]
async fn concurrent_callers_cause_one_token_request() {
    let (login, tokens) = started().await;
    *login.delay.lock().unwrap() = Duration::from_millis(100);
    let calls = (0..8).map(|_| tokens.token(Some("tenant-a")));
    let results = futures::future::join_all(calls).await;
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().unwrap().secret() == "token-1")
    );
    assert_eq!(login.request_count(), 1);
}

#[tokio::test]
async fn token_is_refreshed_before_it_expires() {
    let (login, tokens) = started().await;
    let first = tokens.token(Some("tenant-a")).await.unwrap();
    // Move the cached token into its refresh margin instead of waiting an hour.
    let slot = tokens.slot("tenant-a");
    let mut cached = slot.lock().await;
    let entry = cached.as_mut().unwrap();
    assert!(entry.refresh_at + Duration::from_secs(299) < first.expires_at());
    entry.refresh_at = Instant::now();
    drop(cached);

    let second = tokens.token(Some("tenant-a")).await.unwrap();
    assert_eq!(second.secret(), "token-2");
    assert_eq!(login.request_count(), 2);
}

#[test]
fn refresh_margin_is_five_minutes_or_a_tenth() {
    assert_eq!(
        refresh_margin(Duration::from_secs(3599)),
        Duration::from_secs(300)
    );
    assert_eq!(
        refresh_margin(Duration::from_secs(600)),
        Duration::from_secs(60)
    );
}

#[tokio::test]
async fn rejected_token_is_replaced_once() {
    let (login, tokens) = started().await;
    let first = tokens.token(Some("tenant-a")).await.unwrap();
    let (a, b) = tokio::join!(
        tokens.refresh(Some("tenant-a"), &first),
        tokens.refresh(Some("tenant-a"), &first)
    );
    assert_eq!(a.unwrap().secret(), "token-2");
    assert_eq!(b.unwrap().secret(), "token-2");
    assert_eq!(login.request_count(), 2);
}

#[tokio::test]
async fn refused_token_request_gives_a_clear_error() {
    let (login, tokens) = started().await;
    *login.refuse.lock().unwrap() = Some((
        StatusCode::UNAUTHORIZED,
        json!({
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided."
        }),
    ));
    let err = tokens.token(Some("tenant-a")).await.unwrap_err();
    let TokenError::Rejected {
        url,
        status,
        error,
        description,
    } = &err
    else {
        panic!("unexpected {err:?}");
    };
    assert!(url.ends_with("/tenant-a/oauth2/v2.0/token"), "{url}");
    assert_eq!((*status, error.as_str()), (401, "invalid_client"));
    assert!(description.starts_with("AADSTS7000215"));
    let text = err.to_string();
    assert!(
        text.contains(url.as_str()) && text.contains(CLIENT_SECRET_ENV),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");
}

#[tokio::test]
async fn unreachable_token_endpoint_names_the_url() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = FakeLogin::provider(addr).token(None).await.unwrap_err();
    assert!(matches!(err, TokenError::Transport { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&format!("http://{addr}/common/")),
        "{err}"
    );
}

#[tokio::test]
async fn tenant_that_is_not_a_name_is_refused_without_a_request() {
    let (login, tokens) = started().await;
    let err = tokens.token(Some("../evil?x=")).await.unwrap_err();
    assert!(matches!(err, TokenError::InvalidTenant { .. }));
    assert_eq!(login.request_count(), 0);
}

#[test]
fn access_token_debug_hides_the_value() {
    let token = AccessToken {
        value: Arc::from("eyJsecret"),
        expires_at: Instant::now(),
    };
    assert!(!format!("{token:?}").contains("eyJsecret"));
}

#[tokio::test]
async fn a_login_endpoint_blip_is_retried() {
    let (login, tokens) = started().await;
    *login.refuse.lock().unwrap() = Some((
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"error": "temporarily_unavailable", "error_description": "try again"}),
    ));
    let refuse = login.refuse.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        *refuse.lock().unwrap() = None;
    });
    let token = tokens.token(Some("tenant-a")).await.unwrap();
    assert_eq!(token.secret(), "token-1");
    assert!(login.request_count() >= 2, "{}", login.request_count());
}

#[tokio::test]
async fn a_refusal_that_will_not_pass_is_not_retried() {
    let (login, tokens) = started().await;
    *login.refuse.lock().unwrap() = Some((
        StatusCode::BAD_REQUEST,
        json!({"error": "invalid_request", "error_description": "AADSTS90002"}),
    ));
    tokens.token(Some("tenant-a")).await.unwrap_err();
    assert_eq!(login.request_count(), 1);
}

#[tokio::test]
async fn a_huge_expires_in_is_clamped() {
    let (login, tokens) = started().await;
    *login.expires_in.lock().unwrap() = u64::MAX;
    let token = tokens.token(Some("tenant-a")).await.unwrap();
    let left = token.expires_at.saturating_duration_since(Instant::now());
    assert!(left <= MAX_TOKEN_LIFETIME, "{left:?}");
    assert_eq!(
        tokens.token(Some("tenant-a")).await.unwrap().secret(),
        "token-1"
    );
}
