//! Graph's callback signing keys: the OpenID configuration names a JWKS; its RS256 keys are
//! cached by `kid` and `x5t` and fetched again, lazily and rate-limited, when they are old or
//! a token names a key we do not have.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use serde_json::Value;
use tracing::{info, warn};

use super::AuthError;

/// Least time between two fetches while no key was ever fetched.
pub(super) const NEVER_FETCHED_REFETCH_INTERVAL: Duration = Duration::from_secs(1);

/// Which key a token says it is signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct KeyId {
    pub kid: Option<String>,
    pub x5t: Option<String>,
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.kid, &self.x5t) {
            (Some(kid), _) => f.write_str(kid),
            (None, Some(x5t)) => write!(f, "x5t {x5t}"),
            (None, None) => f.write_str("(none)"),
        }
    }
}

/// Usable keys of one JWKS document.
#[derive(Default)]
pub(super) struct KeySet {
    by_kid: HashMap<String, Arc<DecodingKey>>,
    by_x5t: HashMap<String, Arc<DecodingKey>>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    #[serde(rename = "use")]
    usage: Option<String>,
    alg: Option<String>,
    kid: Option<String>,
    x5t: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

impl KeySet {
    /// The RSA signing keys of `{"keys":[…]}`; others (encryption keys, other algorithms,
    /// keys given only as certificates) are skipped.
    pub fn parse(jwks: &Value) -> Self {
        let mut set = KeySet::default();
        let keys = jwks
            .get("keys")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for key in keys {
            let Ok(jwk) = Jwk::deserialize(key) else {
                continue;
            };
            let signing = jwk.kty == "RSA"
                && jwk.usage.as_deref().is_none_or(|u| u == "sig")
                && jwk.alg.as_deref().is_none_or(|a| a == "RS256");
            let (Some(n), Some(e)) = (jwk.n.as_deref(), jwk.e.as_deref()) else {
                continue;
            };
            let (Some(n), Some(e)) = (base64url(n), base64url(e)) else {
                continue;
            };
            if !signing {
                continue;
            }
            let decoding = Arc::new(DecodingKey::from_rsa_raw_components(&n, &e));
            if let Some(kid) = jwk.kid {
                set.by_kid.insert(kid, decoding.clone());
            }
            if let Some(x5t) = jwk.x5t {
                set.by_x5t.insert(x5t, decoding);
            }
        }
        set
    }

    pub fn get(&self, id: &KeyId) -> Option<Arc<DecodingKey>> {
        match (&id.kid, &id.x5t) {
            (Some(kid), _) => self.by_kid.get(kid).cloned(),
            (None, Some(x5t)) => self.by_x5t.get(x5t).cloned(),
            (None, None) => None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_kid.is_empty() && self.by_x5t.is_empty()
    }
}

/// Base64url with or without padding, as JWKS publishers vary.
fn base64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

/// Whether Graph's signing keys are at hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeysStatus {
    /// Fetched: callbacks can be verified.
    Fetched,
    /// No fetch tried yet.
    NotFetched,
    /// Every fetch so far failed; the last one at `url`, for `reason`.
    Unavailable { url: String, reason: String },
}

impl KeysStatus {
    pub fn is_fetched(&self) -> bool {
        *self == KeysStatus::Fetched
    }
}

/// Timing of key fetches.
#[derive(Debug, Clone)]
pub(super) struct KeyFetchSettings {
    pub openid_configuration_url: String,
    pub refresh_interval: Duration,
    pub min_refetch_interval: Duration,
    pub fetch_timeout: Duration,
}

/// The cached keys and when they were fetched. One fetch runs at a time.
pub(super) struct KeyStore {
    settings: KeyFetchSettings,
    http: reqwest::Client,
    state: Mutex<KeyState>,
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct KeyState {
    keys: Arc<KeySet>,
    jwks_uri: Option<String>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
    /// URL and reason of the last failed fetch, cleared by a successful one.
    last_failure: Option<(String, String)>,
}

impl KeyState {
    fn fresh(&self, refresh_interval: Duration) -> bool {
        self.fetched_at
            .is_some_and(|at| at.elapsed() < refresh_interval)
    }

    /// Whether a fetch may start now: once keys were fetched, not within `min_interval` of
    /// the last attempt; while none ever were, every [`NEVER_FETCHED_REFETCH_INTERVAL`], so
    /// that one failure right after start does not refuse valid callbacks for long.
    fn may_fetch(&self, min_interval: Duration) -> bool {
        let interval = match self.fetched_at {
            Some(_) => min_interval,
            None => min_interval.min(NEVER_FETCHED_REFETCH_INTERVAL),
        };
        self.last_attempt.is_none_or(|at| at.elapsed() >= interval)
    }
}

impl KeyStore {
    pub fn new(settings: KeyFetchSettings, http: reqwest::Client) -> Self {
        let state = Mutex::new(KeyState::default());
        Self {
            settings,
            http,
            state,
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, KeyState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The key `id` names, fetching keys when there are none yet, when they are older than the
    /// refresh interval, or when `id` is unknown; never more often than the minimum refetch
    /// interval.
    pub async fn key(&self, id: &KeyId) -> Result<Arc<DecodingKey>, AuthError> {
        let (refresh, min_interval) = (
            self.settings.refresh_interval,
            self.settings.min_refetch_interval,
        );
        {
            let state = self.state();
            if state.fresh(refresh)
                && let Some(key) = state.keys.get(id)
            {
                return Ok(key);
            }
        }
        let _one_fetch_at_a_time = self.fetching.lock().await;
        let mut fetched = false;
        let due = {
            let state = self.state();
            !state.fresh(refresh) && state.may_fetch(min_interval)
        };
        if due {
            self.refetch().await;
            fetched = true;
        }
        if let Some(key) = self.state().keys.get(id) {
            return Ok(key);
        }
        // A key we do not know may have been rotated in since the last fetch.
        if !fetched && self.state().may_fetch(min_interval) {
            self.refetch().await;
            if let Some(key) = self.state().keys.get(id) {
                return Ok(key);
            }
        }
        let state = self.state();
        match (&state.last_failure, &state.jwks_uri) {
            (Some((url, reason)), _) => Err(AuthError::KeysUnavailable {
                url: url.clone(),
                reason: reason.clone(),
            }),
            (None, Some(jwks_uri)) => Err(AuthError::UnknownKey {
                key_id: id.to_string(),
                jwks_uri: jwks_uri.clone(),
            }),
            (None, None) => Err(AuthError::KeysUnavailable {
                url: self.settings.openid_configuration_url.clone(),
                reason: "not fetched yet; waiting for the minimum refetch interval".into(),
            }),
        }
    }

    async fn refetch(&self) {
        self.state().last_attempt = Some(Instant::now());
        let fetched = self.fetch().await;
        let mut state = self.state();
        match fetched {
            Ok((jwks_uri, keys)) => {
                info!(%jwks_uri, "fetched Graph's callback signing keys");
                state.keys = Arc::new(keys);
                state.jwks_uri = Some(jwks_uri);
                state.fetched_at = Some(Instant::now());
                state.last_failure = None;
            }
            Err((url, reason)) => {
                warn!(%url, %reason, "cannot fetch Graph's callback signing keys");
                state.last_failure = Some((url, reason));
            }
        }
    }

    async fn fetch(&self) -> Result<(String, KeySet), (String, String)> {
        let openid_url = &self.settings.openid_configuration_url;
        let config = self.get_json(openid_url).await?;
        let Some(jwks_uri) = config.get("jwks_uri").and_then(Value::as_str) else {
            return Err((
                openid_url.clone(),
                "the OpenID configuration has no jwks_uri".into(),
            ));
        };
        let jwks = self.get_json(jwks_uri).await?;
        let keys = KeySet::parse(&jwks);
        if keys.is_empty() {
            return Err((
                jwks_uri.to_owned(),
                "no RS256 signing keys in the key set".into(),
            ));
        }
        Ok((jwks_uri.to_owned(), keys))
    }

    async fn get_json(&self, url: &str) -> Result<Value, (String, String)> {
        let failed = |reason: String| (url.to_owned(), reason);
        let response = self
            .http
            .get(url)
            .timeout(self.settings.fetch_timeout)
            .send()
            .await
            .map_err(|e| failed(e.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(failed(format!("answered {status}")));
        }
        response
            .json()
            .await
            .map_err(|e| failed(format!("not a JSON document: {e}")))
    }

    /// Whether keys were fetched. Once fetched, a set stays in use until a newer one is (a
    /// failed refresh keeps it).
    pub fn status(&self) -> KeysStatus {
        let state = self.state();
        match (&state.fetched_at, &state.last_failure) {
            (Some(_), _) => KeysStatus::Fetched,
            (None, Some((url, reason))) => KeysStatus::Unavailable {
                url: url.clone(),
                reason: reason.clone(),
            },
            (None, None) => KeysStatus::NotFetched,
        }
    }

    /// Fetches the keys now unless some were fetched already; the outcome is [`Self::status`].
    /// Callers pace their attempts themselves: this ignores the minimum refetch interval.
    pub async fn prefetch(&self) -> KeysStatus {
        let _one_fetch_at_a_time = self.fetching.lock().await;
        if self.state().fetched_at.is_none() {
            self.refetch().await;
        }
        self.status()
    }

    /// Drops the cached keys and blocks fetching for the minimum refetch interval.
    #[cfg(test)]
    pub fn forget(&self) {
        *self.state() = KeyState {
            last_attempt: Some(Instant::now()),
            ..KeyState::default()
        };
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn signing_keys_are_found_by_kid_or_x5t() {
        let jwks = json!({"keys": [
            {"kty": "RSA", "use": "sig", "kid": "k1", "x5t": "t1", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "kid": "k2", "n": "sXch==", "e": "AQAB"},
            {"kty": "RSA", "use": "enc", "kid": "k3", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "alg": "RS512", "kid": "k4", "n": "sXch", "e": "AQAB"},
            {"kty": "EC", "kid": "k5", "crv": "P-256", "x": "a", "y": "b"},
            {"kty": "RSA", "kid": "k6", "x5c": ["MIIC"]},
        ]});
        let set = KeySet::parse(&jwks);
        let id = |kid: Option<&str>, x5t: Option<&str>| KeyId {
            kid: kid.map(str::to_owned),
            x5t: x5t.map(str::to_owned),
        };
        assert!(set.get(&id(Some("k1"), None)).is_some());
        assert!(set.get(&id(None, Some("t1"))).is_some());
        assert!(set.get(&id(Some("k2"), None)).is_some());
        for skipped in ["k3", "k4", "k5", "k6"] {
            assert!(set.get(&id(Some(skipped), None)).is_none(), "{skipped}");
        }
        assert!(set.get(&id(None, None)).is_none());
    }

    #[test]
    fn document_without_keys_is_empty() {
        assert!(KeySet::parse(&json!({"value": 1})).is_empty());
    }
}
