//! App-only Graph tokens by OAuth2 client credentials, cached per tenant and refreshed shortly
//! before they expire, one token request at a time per tenant.

mod error;
mod secret;
#[cfg(test)]
pub(crate) mod tests;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tracing::{debug, warn};

pub use error::TokenError;
pub use secret::{CLIENT_SECRET_ENV, ClientSecret, SecretError, SecretSource};

/// Entra ID's v2 token endpoint; `{tenant}` is replaced by the tenant of the request.
pub const DEFAULT_TOKEN_URL: &str = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token";
/// App-only access to everything the app registration was granted in Graph.
pub const DEFAULT_SCOPE: &str = "https://graph.microsoft.com/.default";
/// The tenant asked for when a request names none (the Graph samples do the same).
pub const FALLBACK_TENANT: &str = "common";
/// A token is replaced this long before it expires at the latest …
const MAX_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);
/// … or earlier by a tenth of its lifetime when that is shorter.
const REFRESH_MARGIN_DIVISOR: u32 = 10;
const DEFAULT_TOKEN_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest lifetime a token is trusted for, whatever `expires_in` says (Entra ID issues app
/// tokens for 60–90 minutes).
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// Attempts of one token request when the login endpoint cannot be reached or answers
/// 429 or 5xx.
const TOKEN_ATTEMPTS: u32 = 3;
/// Wait before the second attempt; doubled before each further one.
const TOKEN_RETRY_BACKOFF: Duration = Duration::from_millis(200);

/// How the bot asks for its own tokens.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// Token endpoint with a `{tenant}` placeholder. Default [`DEFAULT_TOKEN_URL`].
    pub token_url: String,
    /// The bot's Microsoft App ID.
    pub client_id: String,
    /// Default [`DEFAULT_SCOPE`].
    pub scope: String,
    pub secret: ClientSecret,
    /// Timeout of one token request. Default 10 s.
    pub request_timeout: Duration,
}

impl TokenSettings {
    /// Settings with the public-cloud defaults.
    pub fn new(client_id: impl Into<String>, secret: ClientSecret) -> Self {
        Self {
            token_url: DEFAULT_TOKEN_URL.to_owned(),
            client_id: client_id.into(),
            scope: DEFAULT_SCOPE.to_owned(),
            secret,
            request_timeout: DEFAULT_TOKEN_REQUEST_TIMEOUT,
        }
    }

    fn url_for(&self, tenant: &str) -> String {
        self.token_url.replace("{tenant}", tenant)
    }
}

/// A bearer token for one tenant. `Debug` never shows the value.
#[derive(Clone)]
pub struct AccessToken {
    value: Arc<str>,
    expires_at: Instant,
}

impl AccessToken {
    /// The token itself, for the `Authorization` header only.
    pub fn secret(&self) -> &str {
        &self.value
    }

    pub fn expires_at(&self) -> Instant {
        self.expires_at
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Gets and caches app-only tokens per tenant. Cheap to clone.
#[derive(Clone)]
pub struct TokenProvider {
    inner: Arc<ProviderInner>,
}

struct ProviderInner {
    settings: TokenSettings,
    http: reqwest::Client,
    /// One slot per tenant; its async lock makes concurrent refreshes single-flight.
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<CachedToken>>>>>,
}

#[derive(Clone)]
struct CachedToken {
    token: AccessToken,
    refresh_at: Instant,
}

#[derive(Deserialize)]
struct TokenResponse {
    token_type: String,
    /// Seconds; v1 endpoints send it as a string.
    expires_in: serde_json::Value,
    access_token: String,
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: String,
}

impl TokenProvider {
    pub fn new(settings: TokenSettings, http: reqwest::Client) -> Self {
        let slots = Mutex::new(HashMap::new());
        Self {
            inner: Arc::new(ProviderInner {
                settings,
                http,
                slots,
            }),
        }
    }

    pub fn settings(&self) -> &TokenSettings {
        &self.inner.settings
    }

    /// A valid token for `tenant` ([`FALLBACK_TENANT`] when `None`), from the cache when it
    /// is not about to expire.
    pub async fn token(&self, tenant: Option<&str>) -> Result<AccessToken, TokenError> {
        self.obtain(tenant, None).await
    }

    /// A new token after Graph rejected `rejected` with 401. When another caller already
    /// replaced it, that newer token is returned without another request.
    pub async fn refresh(
        &self,
        tenant: Option<&str>,
        rejected: &AccessToken,
    ) -> Result<AccessToken, TokenError> {
        self.obtain(tenant, Some(rejected)).await
    }

    async fn obtain(
        &self,
        tenant: Option<&str>,
        rejected: Option<&AccessToken>,
    ) -> Result<AccessToken, TokenError> {
        let tenant = normalize_tenant(tenant)?;
        let slot = self.slot(&tenant);
        let mut cached = slot.lock().await;
        let now = Instant::now();
        if let Some(current) = cached.as_ref() {
            let was_rejected = rejected.is_some_and(|r| r.value == current.token.value);
            if !was_rejected && now < current.refresh_at {
                return Ok(current.token.clone());
            }
        }
        match self.fetch_with_retries(&tenant).await {
            Ok(fresh) => {
                let token = fresh.token.clone();
                *cached = Some(fresh);
                Ok(token)
            }
            // A token inside its refresh margin still works; keep using it while the login
            // endpoint is failing, unless Graph has just rejected it.
            Err(err) => match cached.as_ref() {
                Some(current)
                    if rejected.is_none() && Instant::now() < current.token.expires_at =>
                {
                    warn!(
                        %tenant,
                        error = %err,
                        "token refresh failed; using the current token until it expires"
                    );
                    Ok(current.token.clone())
                }
                _ => Err(err),
            },
        }
    }

    fn slot(&self, tenant: &str) -> Arc<tokio::sync::Mutex<Option<CachedToken>>> {
        let mut slots = self.inner.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.entry(tenant.to_owned()).or_default().clone()
    }

    /// [`Self::fetch`], again after a short wait when the failure may pass (the endpoint
    /// unreachable, 429, 5xx).
    async fn fetch_with_retries(&self, tenant: &str) -> Result<CachedToken, TokenError> {
        let mut wait = TOKEN_RETRY_BACKOFF;
        let mut attempt = 1;
        loop {
            match self.fetch(tenant).await {
                Err(e) if attempt < TOKEN_ATTEMPTS && e.is_transient() => {
                    warn!(%tenant, attempt, error = %e, retry_in_ms = wait.as_millis() as u64, "token request failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    async fn fetch(&self, tenant: &str) -> Result<CachedToken, TokenError> {
        let settings = &self.inner.settings;
        let url = settings.url_for(tenant);
        let form = [
            ("client_id", settings.client_id.as_str()),
            ("scope", settings.scope.as_str()),
            ("client_secret", settings.secret.expose()),
            ("grant_type", "client_credentials"),
        ];
        let requested_at = Instant::now();
        let transport = |source| TokenError::Transport {
            url: url.clone(),
            source,
        };
        let response = self
            .inner
            .http
            .post(&url)
            .timeout(settings.request_timeout)
            .form(&form)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let body = response.bytes().await.map_err(transport)?;
        if !status.is_success() {
            let (error, description) = match serde_json::from_slice::<OAuthError>(&body) {
                Ok(e) => (e.error, e.error_description),
                Err(_) => (String::new(), excerpt(&body)),
            };
            return Err(TokenError::Rejected {
                url,
                status: status.as_u16(),
                error,
                description,
            });
        }
        // The body holds the token itself: error details never quote it.
        let invalid = |detail: &str| TokenError::InvalidResponse {
            url: url.clone(),
            detail: detail.into(),
        };
        let parsed: TokenResponse = serde_json::from_slice(&body)
            .map_err(|_| invalid("expected JSON with token_type, expires_in and access_token"))?;
        if !parsed.token_type.eq_ignore_ascii_case("bearer") {
            return Err(invalid("token_type is not Bearer"));
        }
        let lifetime = seconds(&parsed.expires_in)
            .map(Duration::from_secs)
            .ok_or_else(|| invalid("expires_in is not a number of seconds"))?
            .min(MAX_TOKEN_LIFETIME);
        debug!(%tenant, expires_in = lifetime.as_secs(), "got a Graph app token");
        Ok(CachedToken {
            token: AccessToken {
                value: Arc::from(parsed.access_token),
                expires_at: requested_at + lifetime,
            },
            refresh_at: requested_at + lifetime - refresh_margin(lifetime),
        })
    }
}

/// How long before expiry a token of this lifetime is replaced.
fn refresh_margin(lifetime: Duration) -> Duration {
    MAX_REFRESH_MARGIN.min(lifetime / REFRESH_MARGIN_DIVISOR)
}

fn seconds(value: &serde_json::Value) -> Option<u64> {
    match value {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Tenant ids are GUIDs or domain names; anything else would change the token URL's path.
fn normalize_tenant(tenant: Option<&str>) -> Result<String, TokenError> {
    let tenant = tenant
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or(FALLBACK_TENANT);
    let valid = tenant.len() <= 253
        && tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && !tenant.starts_with('.');
    if !valid {
        return Err(TokenError::InvalidTenant {
            tenant: tenant.to_owned(),
        });
    }
    Ok(tenant.to_ascii_lowercase())
}

/// The start of a non-JSON error body, for the error message.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}
