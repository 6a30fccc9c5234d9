//! Why an app-only Graph token could not be obtained.

use super::CLIENT_SECRET_ENV;

/// A failure to get a token from the login endpoint. Every message names the endpoint.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(
        "tenant {tenant:?} is neither a tenant id nor a domain name; Graph tokens are requested \
         per tenant (the `tid` of the callback or the meeting's tenant)"
    )]
    InvalidTenant { tenant: String },
    #[error("cannot reach the token endpoint {url}: {source}; check outbound network access to it")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error(
        "the token endpoint {url} answered {status} {error}: {description}{}",
        rejection_hint(error)
    )]
    Rejected {
        url: String,
        status: u16,
        /// OAuth2 `error`, for example `invalid_client`.
        error: String,
        /// OAuth2 `error_description` (Entra ID puts its `AADSTS…` code here).
        description: String,
    },
    #[error("the token endpoint {url} answered with an unusable token response: {detail}")]
    InvalidResponse { url: String, detail: String },
}

impl TokenError {
    /// Whether the same request may succeed shortly: the endpoint was unreachable, or it
    /// answered 429 or a server error.
    pub fn is_transient(&self) -> bool {
        match self {
            TokenError::Transport { .. } => true,
            TokenError::Rejected { status, .. } => *status == 429 || *status >= 500,
            TokenError::InvalidTenant { .. } | TokenError::InvalidResponse { .. } => false,
        }
    }
}

/// The fix for the OAuth2 errors a misconfigured bot typically sees.
fn rejection_hint(error: &str) -> String {
    match error {
        "invalid_client" | "unauthorized_client" => format!(
            "; check the bot's app id (client id) and its client secret ({CLIENT_SECRET_ENV} or \
             the secret file)"
        ),
        "invalid_scope" => "; the scope must be https://graph.microsoft.com/.default".into(),
        "invalid_request" => {
            "; check that the tenant exists and has consented to the bot's application".into()
        }
        _ => String::new(),
    }
}
