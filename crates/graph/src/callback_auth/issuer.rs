//! The other side of callback authentication, for tests and the local Graph simulator: an
//! RSA key that signs callback tokens the way Graph does, published as OpenID configuration
//! and JWKS.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::RsaPrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::rand_core::OsRng;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};

use super::BOT_FRAMEWORK_ISSUER;

const KEY_BITS: usize = 2048;
/// Lifetime of a callback token as in Graph's example claims (`exp - iat`).
const CALLBACK_TOKEN_LIFETIME_SECS: i64 = 3900;

/// Signs callback tokens with its own RSA-2048 key. Generating the key takes a moment, so
/// make one issuer and reuse it.
pub struct CallbackTokenIssuer {
    kid: String,
    signing_key: EncodingKey,
    modulus: String,
    exponent: String,
}

impl fmt::Debug for CallbackTokenIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackTokenIssuer")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Default for CallbackTokenIssuer {
    fn default() -> Self {
        Self::new()
    }
}

impl CallbackTokenIssuer {
    /// A new key with a random key id.
    pub fn new() -> Self {
        Self::with_kid(format!("callhost-{}", uuid::Uuid::new_v4().simple()))
    }

    /// A new key published under `kid`.
    ///
    /// # Panics
    /// When the operating system's random number generator fails.
    pub fn with_kid(kid: impl Into<String>) -> Self {
        let private = RsaPrivateKey::new(&mut OsRng, KEY_BITS)
            .expect("generating an RSA key needs the operating system's random numbers");
        let der = private
            .to_pkcs1_der()
            .expect("a generated RSA key encodes as PKCS#1");
        Self {
            kid: kid.into(),
            signing_key: EncodingKey::from_rsa_der(der.as_bytes()),
            modulus: URL_SAFE_NO_PAD.encode(private.n().to_bytes_be()),
            exponent: URL_SAFE_NO_PAD.encode(private.e().to_bytes_be()),
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as one JWK.
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "n": self.modulus,
            "e": self.exponent,
            "alg": "RS256",
        })
    }

    /// `{"keys":[…]}` with this issuer's key, as served at a `jwks_uri`.
    pub fn jwks_json(&self) -> Value {
        json!({ "keys": [self.jwk()] })
    }

    /// The OpenID configuration document that points at `jwks_uri`.
    pub fn openid_configuration(&self, jwks_uri: &str) -> Value {
        json!({
            "issuer": BOT_FRAMEWORK_ISSUER,
            "jwks_uri": jwks_uri,
            "id_token_signing_alg_values_supported": ["RS256"],
        })
    }

    /// A signed RS256 token with this issuer's `kid` in its header.
    pub fn issue(&self, claims: IssueClaims) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims.payload(), &self.signing_key)
            .expect("signing with a generated RSA key cannot fail")
    }
}

/// A claim time, relative to when the token is issued or absolute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimTime {
    /// Seconds from now; negative is in the past.
    FromNow(i64),
    /// Unix seconds.
    Unix(i64),
}

impl ClaimTime {
    pub fn at(self, now_unix: i64) -> i64 {
        match self {
            ClaimTime::FromNow(offset) => now_unix + offset,
            ClaimTime::Unix(at) => at,
        }
    }
}

/// The claims of a callback token to issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueClaims {
    pub iss: String,
    pub aud: String,
    /// Omitted from the token when `None`.
    pub tid: Option<String>,
    pub iat: ClaimTime,
    pub nbf: ClaimTime,
    pub exp: ClaimTime,
}

impl IssueClaims {
    /// A valid callback token for bot `app_id` about a call in `tenant_id`, shaped like
    /// Graph's example: issued and valid from now, expiring in 65 minutes.
    pub fn graph_callback(app_id: &str, tenant_id: &str) -> Self {
        Self {
            iss: BOT_FRAMEWORK_ISSUER.to_owned(),
            aud: app_id.to_owned(),
            tid: Some(tenant_id.to_owned()),
            iat: ClaimTime::FromNow(0),
            nbf: ClaimTime::FromNow(0),
            exp: ClaimTime::FromNow(CALLBACK_TOKEN_LIFETIME_SECS),
        }
    }

    /// The JSON payload, with times resolved against the current clock.
    pub fn payload(&self) -> Value {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        let mut payload = json!({
            "iss": self.iss,
            "aud": self.aud,
            "iat": self.iat.at(now),
            "nbf": self.nbf.at(now),
            "exp": self.exp.at(now),
        });
        if let Some(tid) = &self.tid {
            payload["tid"] = json!(tid);
        }
        payload
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_documents_have_the_expected_shape() {
        let issuer = CallbackTokenIssuer::with_kid("k1");
        let jwks = issuer.jwks_json();
        let key = &jwks["keys"][0];
        assert_eq!(
            (key["kty"].as_str(), key["kid"].as_str()),
            (Some("RSA"), Some("k1"))
        );
        assert_eq!(key["e"], "AQAB");
        let modulus = URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap();
        assert_eq!(modulus.len(), KEY_BITS / 8);
        let config = issuer.openid_configuration("http://127.0.0.1/keys");
        assert_eq!(config["jwks_uri"], "http://127.0.0.1/keys");

        let token = issuer.issue(IssueClaims::graph_callback("app", "tenant"));
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(
            (header.alg, header.kid.as_deref()),
            (Algorithm::RS256, Some("k1"))
        );
        let claims: Value = jsonwebtoken::dangerous::insecure_decode(&token)
            .unwrap()
            .claims;
        assert_eq!(claims["tid"], "tenant");
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            3900
        );
    }
}
