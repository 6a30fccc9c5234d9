//! Why a callback was not accepted as coming from Graph.

/// A rejected callback token. Messages name what was wrong and what to check; they never
/// quote the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no Authorization header; Graph callbacks carry `Authorization: Bearer <JWT>`")]
    MissingHeader,
    #[error("the Authorization header is not `Bearer <JWT>`")]
    BadScheme,
    #[error("the bearer token is not a valid JWT: {0}")]
    Malformed(String),
    #[error("the bearer token is signed with {0:?}; Graph callback tokens are RS256 only")]
    UnsupportedAlgorithm(String),
    #[error(
        "the bearer token's signature does not match key {key_id:?}; it was not issued by Graph"
    )]
    BadSignature { key_id: String },
    #[error(
        "the bearer token is signed with key {key_id:?}, which is not among Graph's signing keys \
         at {jwks_uri}"
    )]
    UnknownKey { key_id: String, jwks_uri: String },
    #[error(
        "the bearer token expired at {expired_at} (unix time; now {now}, clock skew allowed \
         {skew_secs} s); if this repeats, check this host's clock"
    )]
    Expired {
        expired_at: i64,
        now: i64,
        skew_secs: u64,
    },
    #[error(
        "the bearer token is not valid before {not_before} (unix time; now {now}, clock skew \
         allowed {skew_secs} s); if this repeats, check this host's clock"
    )]
    NotYetValid {
        not_before: i64,
        now: i64,
        skew_secs: u64,
    },
    #[error("the bearer token's issuer {issuer:?} is not one of the allowed issuers {allowed:?}")]
    WrongIssuer {
        issuer: String,
        allowed: Vec<String>,
    },
    #[error(
        "the bearer token is for audience {audience:?}, not this bot ({expected:?}); check the \
         configured app id"
    )]
    WrongAudience { audience: String, expected: String },
    #[error("the bearer token has no `tid` (tenant) claim")]
    MissingTenant,
    #[error("tenant {tenant:?} is not in the allowed tenants of this bot")]
    TenantNotAllowed { tenant: String },
    #[error(
        "Graph's signing keys are unavailable from {url}: {reason}; callbacks are rejected until \
         they can be fetched (check outbound network access to it)"
    )]
    KeysUnavailable { url: String, reason: String },
}

impl AuthError {
    /// What the caller is told: which check failed, in a fixed sentence that names none of the
    /// service's settings (its app id, issuers, tenants, key URL) and echoes nothing of the
    /// token. The full error is for the service's log.
    pub fn public_message(&self) -> &'static str {
        match self {
            AuthError::MissingHeader => "unauthorized: no Authorization header",
            AuthError::BadScheme | AuthError::Malformed(_) => {
                "unauthorized: the Authorization header is not a bearer JWT"
            }
            AuthError::UnsupportedAlgorithm(_)
            | AuthError::BadSignature { .. }
            | AuthError::UnknownKey { .. } => {
                "unauthorized: the bearer token's signature does not verify with Graph's signing keys"
            }
            AuthError::Expired { .. } | AuthError::NotYetValid { .. } => {
                "unauthorized: the bearer token has expired or is not valid yet"
            }
            AuthError::WrongIssuer { .. } => {
                "unauthorized: the bearer token's issuer is not accepted"
            }
            AuthError::WrongAudience { .. } => {
                "unauthorized: the bearer token's audience is not this bot"
            }
            AuthError::MissingTenant | AuthError::TenantNotAllowed { .. } => {
                "unauthorized: the bearer token's tenant (tid) is missing or not accepted"
            }
            AuthError::KeysUnavailable { .. } => {
                "unauthorized: the bearer token cannot be verified now (Graph's signing keys are unavailable); retry later"
            }
        }
    }
}
