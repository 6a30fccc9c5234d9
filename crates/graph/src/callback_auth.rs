//! Authentication of Graph's callbacks: the bearer JWT on every notification must be an RS256
//! token from Graph's published keys, for this bot, from an allowed issuer and tenant.

mod error;
#[cfg(feature = "issuer")]
pub mod issuer;
mod keys;
#[cfg(test)]
mod tests;
mod verified;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

pub use error::AuthError;
pub use keys::KeysStatus;
use keys::{KeyFetchSettings, KeyId, KeyStore};
use verified::VerifiedTokens;

/// Where the public cloud publishes the keys that sign callback tokens.
pub const DEFAULT_OPENID_CONFIGURATION_URL: &str =
    "https://api.aps.skype.com/v1/.well-known/OpenIdConfiguration";
/// Issuer of callback tokens according to the Graph documentation.
pub const BOT_FRAMEWORK_ISSUER: &str = "https://api.botframework.com";
/// Issuer the Graph communications samples also accept.
pub const GRAPH_ISSUER: &str = "https://graph.microsoft.com";
/// The tolerance of the .NET token handler the Graph samples use: hosts without tight clock
/// sync still accept fresh tokens, and an expired one stays usable for at most this long.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);
/// How long fetched keys are trusted without a refetch (the samples refresh every 2 hours).
pub const DEFAULT_KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(2 * 60 * 60);
/// Least time between two key fetches, so tokens with made-up key ids or an unreachable key
/// endpoint cannot turn every callback into a fetch.
pub const DEFAULT_MIN_KEY_REFETCH_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_KEY_FETCH_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_VERIFIED_CACHE_CAPACITY: usize = 1024;

/// What a callback token must satisfy.
#[derive(Debug, Clone)]
pub struct CallbackAuthSettings {
    /// Default [`DEFAULT_OPENID_CONFIGURATION_URL`].
    pub openid_configuration_url: String,
    /// Compared exactly. `https://api.botframework.com/` (with a slash) is a different issuer:
    /// it has been seen only in a sovereign cloud whose keys live elsewhere anyway, so a
    /// deployment there lists it explicitly together with that cloud's key URL, rather than
    /// every deployment accepting a variant it never receives. Default [`BOT_FRAMEWORK_ISSUER`]
    /// and [`GRAPH_ISSUER`].
    pub allowed_issuers: Vec<String>,
    /// The bot's Microsoft App ID; `aud` must be exactly this.
    pub audience: String,
    /// Tenant ids (`tid`) allowed to call the bot; empty means any tenant.
    pub allowed_tenants: Vec<String>,
    /// Default [`DEFAULT_CLOCK_SKEW`].
    pub clock_skew: Duration,
    /// Default [`DEFAULT_KEY_REFRESH_INTERVAL`].
    pub key_refresh_interval: Duration,
    /// Default [`DEFAULT_MIN_KEY_REFETCH_INTERVAL`].
    pub min_key_refetch_interval: Duration,
    /// Timeout of one fetch of the OpenID configuration or the keys. Default 10 s.
    pub key_fetch_timeout: Duration,
    /// Verified tokens remembered until they expire; 0 disables. Default 1024.
    pub verified_cache_capacity: usize,
}

impl CallbackAuthSettings {
    /// Public-cloud settings for the bot with app id `audience`.
    pub fn new(audience: impl Into<String>) -> Self {
        Self {
            openid_configuration_url: DEFAULT_OPENID_CONFIGURATION_URL.to_owned(),
            allowed_issuers: vec![GRAPH_ISSUER.to_owned(), BOT_FRAMEWORK_ISSUER.to_owned()],
            audience: audience.into(),
            allowed_tenants: Vec::new(),
            clock_skew: DEFAULT_CLOCK_SKEW,
            key_refresh_interval: DEFAULT_KEY_REFRESH_INTERVAL,
            min_key_refetch_interval: DEFAULT_MIN_KEY_REFETCH_INTERVAL,
            key_fetch_timeout: DEFAULT_KEY_FETCH_TIMEOUT,
            verified_cache_capacity: DEFAULT_VERIFIED_CACHE_CAPACITY,
        }
    }
}

/// What a verified callback token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackClaims {
    /// `tid`: the tenant of the call, also the tenant for outbound Graph tokens about it.
    pub tenant_id: String,
    pub issuer: String,
    pub audience: String,
    pub expires_at: SystemTime,
}

/// Verifies callback tokens. Cheap to clone; keys and verified tokens are shared.
#[derive(Clone)]
pub struct CallbackAuthenticator {
    inner: Arc<AuthInner>,
}

struct AuthInner {
    settings: CallbackAuthSettings,
    keys: KeyStore,
    verified: VerifiedTokens,
    /// Signature only; the claims are checked here to give precise errors.
    signature_only: Validation,
}

#[derive(Deserialize)]
struct JoseHeader {
    alg: String,
    kid: Option<String>,
    x5t: Option<String>,
}

#[derive(Deserialize)]
struct TokenClaims {
    iss: Option<String>,
    aud: Option<Audience>,
    exp: Option<i64>,
    nbf: Option<i64>,
    tid: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl CallbackAuthenticator {
    /// Nothing is fetched until the first callback arrives or [`Self::fetch_keys`] is called.
    pub fn new(settings: CallbackAuthSettings, http: reqwest::Client) -> Self {
        let keys = KeyStore::new(
            KeyFetchSettings {
                openid_configuration_url: settings.openid_configuration_url.clone(),
                refresh_interval: settings.key_refresh_interval,
                min_refetch_interval: settings.min_key_refetch_interval,
                fetch_timeout: settings.key_fetch_timeout,
            },
            http,
        );
        let verified = VerifiedTokens::new(settings.verified_cache_capacity);
        let mut signature_only = Validation::new(Algorithm::RS256);
        signature_only.required_spec_claims.clear();
        signature_only.validate_exp = false;
        signature_only.validate_nbf = false;
        signature_only.validate_aud = false;
        Self {
            inner: Arc::new(AuthInner {
                settings,
                keys,
                verified,
                signature_only,
            }),
        }
    }

    pub fn settings(&self) -> &CallbackAuthSettings {
        &self.inner.settings
    }

    /// Whether Graph's signing keys were fetched; until they are, no callback can be verified.
    pub fn keys_status(&self) -> KeysStatus {
        self.inner.keys.status()
    }

    /// Fetches Graph's signing keys now, unless they were fetched already.
    pub async fn fetch_keys(&self) -> KeysStatus {
        self.inner.keys.prefetch().await
    }

    /// Verifies the `Authorization` header of a callback and returns the token's claims.
    pub async fn verify(
        &self,
        authorization_header: Option<&str>,
    ) -> Result<CallbackClaims, AuthError> {
        let token = bearer_token(authorization_header.ok_or(AuthError::MissingHeader)?)?;
        let now = unix_now();
        let digest = verified::digest(token);
        if let Some(claims) = self.inner.verified.get(&digest, now) {
            return Ok(claims);
        }
        let key_id = signing_key_id(token)?;
        let key = self.inner.keys.key(&key_id).await?;
        let decoded = jsonwebtoken::decode::<TokenClaims>(token, &key, &self.inner.signature_only)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => AuthError::BadSignature {
                    key_id: key_id.to_string(),
                },
                _ => AuthError::Malformed(e.to_string()),
            })?;
        let (claims, exp) = check_claims(&self.inner.settings, decoded.claims, now)?;
        self.inner.verified.insert(digest, claims.clone(), exp, now);
        Ok(claims)
    }
}

/// Checks an `Authorization` header as [`CallbackAuthenticator::verify`] does, except for the
/// signature, which is not looked at: the header, the algorithm and key id, then the claims,
/// for fuzzing the parsing and checks without forging RS256 signatures. Never for a service.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub fn check_unsigned(
    settings: &CallbackAuthSettings,
    authorization_header: &str,
) -> Result<CallbackClaims, AuthError> {
    let token = bearer_token(authorization_header)?;
    signing_key_id(token)?;
    let payload = token.split('.').nth(1).unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| AuthError::Malformed("the payload is not base64url".into()))?;
    let claims = serde_json::from_slice(&bytes).map_err(|e| AuthError::Malformed(e.to_string()))?;
    check_claims(settings, claims, unix_now()).map(|(claims, _)| claims)
}

/// The key that must have signed `token`, from its unverified JOSE header.
fn signing_key_id(token: &str) -> Result<KeyId, AuthError> {
    let header = jose_header(token)?;
    // Only RS256: never let the token choose `none` or an HMAC keyed with the public key.
    if header.alg != "RS256" {
        return Err(AuthError::UnsupportedAlgorithm(header.alg));
    }
    let key_id = KeyId {
        kid: header.kid,
        x5t: header.x5t,
    };
    if key_id.kid.is_none() && key_id.x5t.is_none() {
        return Err(AuthError::Malformed(
            "the header names no key (`kid` or `x5t`)".into(),
        ));
    }
    Ok(key_id)
}

/// The token of `Bearer <token>`; the scheme is case-insensitive (RFC 9110).
fn bearer_token(header: &str) -> Result<&str, AuthError> {
    let (scheme, token) = header.trim().split_once(' ').ok_or(AuthError::BadScheme)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::BadScheme);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::Malformed("the bearer token is empty".into()));
    }
    Ok(token)
}

/// The unverified JOSE header of a compact JWS (three parts; the signature may be empty so
/// that `alg: none` is reported as such).
fn jose_header(token: &str) -> Result<JoseHeader, AuthError> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, _signature] = parts.as_slice() else {
        return Err(AuthError::Malformed(
            "expected three dot-separated parts".into(),
        ));
    };
    if header.is_empty() || payload.is_empty() {
        return Err(AuthError::Malformed("empty header or payload".into()));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .map_err(|_| AuthError::Malformed("the header is not base64url".into()))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| AuthError::Malformed("the header is not a JSON object with `alg`".into()))
}

/// Checks the claims of a token whose signature is valid; returns them and `exp`.
fn check_claims(
    settings: &CallbackAuthSettings,
    claims: TokenClaims,
    now: i64,
) -> Result<(CallbackClaims, i64), AuthError> {
    let issuer = claims
        .iss
        .ok_or_else(|| AuthError::Malformed("no `iss` claim".into()))?;
    if !settings.allowed_issuers.contains(&issuer) {
        let allowed = settings.allowed_issuers.clone();
        return Err(AuthError::WrongIssuer { issuer, allowed });
    }
    let audiences = match claims.aud {
        Some(Audience::One(aud)) => vec![aud],
        Some(Audience::Many(auds)) => auds,
        None => Vec::new(),
    };
    if !audiences.contains(&settings.audience) {
        let audience = audiences.join(" ");
        return Err(AuthError::WrongAudience {
            audience,
            expected: settings.audience.clone(),
        });
    }
    let skew = settings.clock_skew.as_secs();
    let skew_secs = i64::try_from(skew).unwrap_or(i64::MAX);
    let exp = claims
        .exp
        .ok_or_else(|| AuthError::Malformed("no `exp` claim".into()))?;
    if now > exp.saturating_add(skew_secs) {
        return Err(AuthError::Expired {
            expired_at: exp,
            now,
            skew_secs: skew,
        });
    }
    if let Some(nbf) = claims.nbf
        && nbf.saturating_sub(skew_secs) > now
    {
        return Err(AuthError::NotYetValid {
            not_before: nbf,
            now,
            skew_secs: skew,
        });
    }
    let tenant_id = claims
        .tid
        .filter(|t| !t.is_empty())
        .ok_or(AuthError::MissingTenant)?;
    let allowed = &settings.allowed_tenants;
    if !allowed.is_empty() && !allowed.iter().any(|t| t.eq_ignore_ascii_case(&tenant_id)) {
        return Err(AuthError::TenantNotAllowed { tenant: tenant_id });
    }
    let expires_at = UNIX_EPOCH + Duration::from_secs(u64::try_from(exp).unwrap_or(0));
    let audience = settings.audience.clone();
    Ok((
        CallbackClaims {
            tenant_id,
            issuer,
            audience,
            expires_at,
        },
        exp,
    ))
}

fn unix_now() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX)
}
