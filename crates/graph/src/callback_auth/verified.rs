//! Tokens already verified, by SHA-256 of the token, until they expire: Graph sends the same
//! token with many callbacks, and an RSA check per callback is wasted work.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::CallbackClaims;

pub(super) type TokenDigest = [u8; 32];

pub(super) fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

/// A bounded map from token digest to its claims and `exp` (unix seconds).
pub(super) struct VerifiedTokens {
    capacity: usize,
    entries: Mutex<HashMap<TokenDigest, (CallbackClaims, i64)>>,
}

impl VerifiedTokens {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<TokenDigest, (CallbackClaims, i64)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The claims of a token verified before, while it has not expired.
    pub fn get(&self, digest: &TokenDigest, now: i64) -> Option<CallbackClaims> {
        let mut entries = self.entries();
        match entries.get(digest) {
            Some((claims, exp)) if now < *exp => Some(claims.clone()),
            Some(_) => {
                entries.remove(digest);
                None
            }
            None => None,
        }
    }

    /// Remembers a verified token until `exp`. When full, expired entries go first, then the
    /// one expiring soonest.
    pub fn insert(&self, digest: TokenDigest, claims: CallbackClaims, exp: i64, now: i64) {
        if self.capacity == 0 || exp <= now {
            return;
        }
        let mut entries = self.entries();
        if entries.len() >= self.capacity && !entries.contains_key(&digest) {
            entries.retain(|_, (_, e)| *e > now);
            if entries.len() >= self.capacity {
                let soonest = entries.iter().min_by_key(|(_, (_, e))| *e).map(|(d, _)| *d);
                if let Some(soonest) = soonest {
                    entries.remove(&soonest);
                }
            }
        }
        entries.insert(digest, (claims, exp));
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries().len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    fn claims(tenant: &str) -> CallbackClaims {
        CallbackClaims {
            tenant_id: tenant.into(),
            issuer: "https://api.botframework.com".into(),
            audience: "app".into(),
            expires_at: UNIX_EPOCH,
        }
    }

    #[test]
    fn entries_live_until_exp() {
        let cache = VerifiedTokens::new(4);
        cache.insert(digest("a"), claims("t"), 100, 50);
        assert_eq!(cache.get(&digest("a"), 99).unwrap().tenant_id, "t");
        assert!(cache.get(&digest("a"), 100).is_none());
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn full_cache_evicts_expired_then_soonest() {
        let cache = VerifiedTokens::new(2);
        cache.insert(digest("old"), claims("1"), 60, 0);
        cache.insert(digest("late"), claims("2"), 500, 0);
        cache.insert(digest("new"), claims("3"), 300, 100); // "old" has expired by now
        assert!(cache.get(&digest("late"), 100).is_some());
        assert!(cache.get(&digest("new"), 100).is_some());
        cache.insert(digest("newer"), claims("4"), 400, 100); // evicts "new" (soonest)
        assert!(cache.get(&digest("new"), 100).is_none());
        assert!(cache.get(&digest("late"), 100).is_some());
        assert_eq!(cache.len(), 2);
    }
}
