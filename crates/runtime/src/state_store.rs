//! Key-value state that outlives a plugin instance: per call, and per plugin.
//!
//! The host owns the storage. An event's writes are buffered in a [`StateTxn`] and committed
//! only when the plugin returned; writes of an event that trapped or hit a limit are dropped.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// Which state a key belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StateScope {
    /// One call of one plugin.
    Call { plugin: Arc<str>, call_id: Arc<str> },
    /// All calls of one plugin.
    Plugin { plugin: Arc<str> },
}

/// Storage behind the `state` interface. In memory today; a durable store implements the same.
pub trait StateStore: Send + Sync + 'static {
    fn get(&self, scope: &StateScope, key: &str) -> Option<Vec<u8>>;
    fn keys(&self, scope: &StateScope) -> Vec<String>;
    /// Total bytes of keys and values in the scope.
    fn size(&self, scope: &StateScope) -> usize;
    /// Applies writes (`Some`) and deletes (`None`) atomically.
    fn commit(&self, scope: &StateScope, changes: BTreeMap<String, Option<Vec<u8>>>);
    /// Drops a whole scope (a call that ended).
    fn drop_scope(&self, scope: &StateScope);
    /// Drops every call scope of a call, whichever plugin wrote it.
    fn drop_call(&self, call_id: &str);
}

type Scope = HashMap<String, Vec<u8>>;

/// [`StateStore`] in process memory.
#[derive(Default)]
pub struct MemoryStateStore {
    scopes: Mutex<HashMap<StateScope, Scope>>,
}

impl MemoryStateStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of scopes held (for tests and metrics).
    pub fn scope_count(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<StateScope, Scope>> {
        // A poisoned lock only means another thread panicked mid-read; the map is intact.
        self.scopes.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn entry_size(key: &str, value: &[u8]) -> usize {
    key.len() + value.len()
}

impl StateStore for MemoryStateStore {
    fn get(&self, scope: &StateScope, key: &str) -> Option<Vec<u8>> {
        self.lock().get(scope).and_then(|s| s.get(key)).cloned()
    }

    fn keys(&self, scope: &StateScope) -> Vec<String> {
        self.lock()
            .get(scope)
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn size(&self, scope: &StateScope) -> usize {
        self.lock()
            .get(scope)
            .map(|s| s.iter().map(|(k, v)| entry_size(k, v)).sum())
            .unwrap_or(0)
    }

    fn commit(&self, scope: &StateScope, changes: BTreeMap<String, Option<Vec<u8>>>) {
        if changes.is_empty() {
            return;
        }
        let mut scopes = self.lock();
        let entries = scopes.entry(scope.clone()).or_default();
        for (key, value) in changes {
            match value {
                Some(value) => {
                    entries.insert(key, value);
                }
                None => {
                    entries.remove(&key);
                }
            }
        }
        if entries.is_empty() {
            scopes.remove(scope);
        }
    }

    fn drop_scope(&self, scope: &StateScope) {
        self.lock().remove(scope);
    }

    fn drop_call(&self, call_id: &str) {
        self.lock().retain(
            |scope, _| !matches!(scope, StateScope::Call { call_id: c, .. } if &**c == call_id),
        );
    }
}

/// Quotas of one scope.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StateQuota {
    pub max_key_bytes: usize,
    pub max_scope_bytes: usize,
}

/// The buffered writes of one event to one scope.
pub(crate) struct StateTxn {
    store: Arc<dyn StateStore>,
    scope: StateScope,
    quota: StateQuota,
    changes: BTreeMap<String, Option<Vec<u8>>>,
    /// Size of the scope as committed, learnt on the first write.
    base_size: Option<usize>,
    /// Bytes the pending changes add (or remove) on top of `base_size`.
    pending_delta: isize,
}

impl StateTxn {
    pub(crate) fn new(store: Arc<dyn StateStore>, scope: StateScope, quota: StateQuota) -> Self {
        Self {
            store,
            scope,
            quota,
            changes: BTreeMap::new(),
            base_size: None,
            pending_delta: 0,
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<Vec<u8>> {
        match self.changes.get(key) {
            Some(change) => change.clone(),
            None => self.store.get(&self.scope, key),
        }
    }

    pub(crate) fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), String> {
        if key.len() > self.quota.max_key_bytes {
            return Err(format!(
                "key of {} bytes is longer than the limit of {} bytes",
                key.len(),
                self.quota.max_key_bytes
            ));
        }
        let base = *self
            .base_size
            .get_or_insert_with(|| self.store.size(&self.scope));
        let delta = entry_size(&key, &value) as isize - self.visible_size(&key) as isize;
        let projected = (base as isize + self.pending_delta + delta).max(0) as usize;
        if projected > self.quota.max_scope_bytes {
            return Err(format!(
                "storing {} bytes under `{key}` would bring the scope to {projected} bytes, over its limit of {} bytes",
                value.len(),
                self.quota.max_scope_bytes
            ));
        }
        self.pending_delta += delta;
        self.changes.insert(key, Some(value));
        Ok(())
    }

    pub(crate) fn delete(&mut self, key: String) {
        self.pending_delta -= self.visible_size(&key) as isize;
        self.changes.insert(key, None);
    }

    pub(crate) fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .store
            .keys(&self.scope)
            .into_iter()
            .filter(|k| !self.changes.contains_key(k))
            .collect();
        keys.extend(
            self.changes
                .iter()
                .filter(|(_, v)| v.is_some())
                .map(|(k, _)| k.clone()),
        );
        keys
    }

    /// Applies the event's writes to the store.
    pub(crate) fn commit(self) {
        self.store.commit(&self.scope, self.changes);
    }

    /// Bytes `key` takes now, as this event sees it.
    fn visible_size(&self, key: &str) -> usize {
        self.get(key).map(|v| entry_size(key, &v)).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call_scope(call: &str) -> StateScope {
        StateScope::Call {
            plugin: "p".into(),
            call_id: call.into(),
        }
    }

    const QUOTA: StateQuota = StateQuota {
        max_key_bytes: 16,
        max_scope_bytes: 64,
    };

    #[test]
    fn writes_are_invisible_until_committed() {
        let store: Arc<dyn StateStore> = Arc::new(MemoryStateStore::new());
        let mut txn = StateTxn::new(store.clone(), call_scope("c1"), QUOTA);
        txn.set("k".into(), b"v".to_vec()).unwrap();
        assert_eq!(txn.get("k"), Some(b"v".to_vec()));
        assert_eq!(store.get(&call_scope("c1"), "k"), None);
        txn.commit();
        assert_eq!(store.get(&call_scope("c1"), "k"), Some(b"v".to_vec()));
    }

    #[test]
    fn quota_counts_committed_and_pending_bytes() {
        let store: Arc<dyn StateStore> = Arc::new(MemoryStateStore::new());
        let mut txn = StateTxn::new(store.clone(), call_scope("c1"), QUOTA);
        txn.set("a".into(), vec![0; 40]).unwrap();
        txn.commit();
        let mut txn = StateTxn::new(store.clone(), call_scope("c1"), QUOTA);
        assert!(txn.set("b".into(), vec![0; 30]).is_err());
        // Replacing `a` with a smaller value frees room.
        txn.set("a".into(), vec![0; 10]).unwrap();
        txn.set("b".into(), vec![0; 30]).unwrap();
        assert!(txn.set("this-key-is-far-too-long".into(), vec![]).is_err());
        txn.delete("a".into());
        assert_eq!(txn.keys(), vec!["b".to_string()]);
    }

    #[test]
    fn dropping_a_call_keeps_other_calls_and_plugin_state() {
        let store = MemoryStateStore::new();
        let plugin = StateScope::Plugin { plugin: "p".into() };
        for scope in [call_scope("c1"), call_scope("c2"), plugin.clone()] {
            store.commit(&scope, BTreeMap::from([("k".to_string(), Some(vec![1]))]));
        }
        store.drop_call("c1");
        assert_eq!(store.get(&call_scope("c1"), "k"), None);
        assert!(store.get(&call_scope("c2"), "k").is_some());
        assert!(store.get(&plugin, "k").is_some());
    }
}
