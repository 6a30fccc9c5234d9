//! Key-value state that outlives a plugin instance: per call, and per plugin.
//!
//! The host owns the storage. An event's writes are buffered in a [`StateTxn`] and committed
//! only when the plugin returned; writes of an event that trapped or hit a limit are dropped.
//! Compare-and-swap writes of plugin-scoped values are the exception: they reach the store at
//! once ([`StateStore::swap`]), so that calls on many instances can share counters and records.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;

/// Which state a key belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StateScope {
    /// One call of one plugin.
    Call { plugin: Arc<str>, call_id: Arc<str> },
    /// All calls of one plugin.
    Plugin { plugin: Arc<str> },
}

/// A value as stored, with its revision: a number that changes with every write of the key and
/// is never 0 (the revision of a missing key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revisioned {
    pub value: Vec<u8>,
    pub revision: u64,
}

/// What a compare-and-swap did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swap {
    /// Written; the new revision (0 after a delete).
    Done(u64),
    /// Nothing written: the value is at this revision now (0: missing).
    Conflict(u64),
}

/// Why the store could not answer a read or a swap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateFault {
    /// Out of reach for now; nothing was written. The plugin is told and may go on.
    Unavailable(String),
    /// This instance no longer owns the event's call: the event must stop here.
    Lost(String),
}

/// Storage behind the `state` interface.
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
    /// Brings one key of the scope (`None`: all of it) up to date before an event first reads
    /// it, where others may have written it since (plugin state on a store shared by many
    /// instances).
    fn refresh(
        &self,
        scope: &StateScope,
        key: Option<&str>,
    ) -> BoxFuture<'static, Result<(), StateFault>>;
    /// The value as stored, with its revision.
    fn read(
        &self,
        scope: &StateScope,
        key: &str,
    ) -> BoxFuture<'static, Result<Option<Revisioned>, StateFault>>;
    /// Writes (`Some`) or deletes (`None`) the value at once if its revision is still
    /// `expected` (0: missing).
    fn swap(
        &self,
        scope: &StateScope,
        key: &str,
        expected: u64,
        value: Option<Vec<u8>>,
    ) -> BoxFuture<'static, Result<Swap, StateFault>>;
}

type Scope = HashMap<String, Revisioned>;

#[derive(Default)]
struct Scopes {
    scopes: HashMap<StateScope, Scope>,
    /// The last revision given out.
    revision: u64,
}

impl Scopes {
    fn put(&mut self, scope: &StateScope, key: String, value: Option<Vec<u8>>) -> u64 {
        let entries = self.scopes.entry(scope.clone()).or_default();
        let revision = match value {
            Some(value) => {
                self.revision += 1;
                entries.insert(
                    key,
                    Revisioned {
                        value,
                        revision: self.revision,
                    },
                );
                self.revision
            }
            None => {
                entries.remove(&key);
                0
            }
        };
        if entries.is_empty() {
            self.scopes.remove(scope);
        }
        revision
    }
}

/// [`StateStore`] in process memory.
#[derive(Default)]
pub struct MemoryStateStore {
    scopes: Mutex<Scopes>,
}

impl MemoryStateStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of scopes held (for tests and metrics).
    pub fn scope_count(&self) -> usize {
        self.lock().scopes.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Scopes> {
        // A poisoned lock only means another thread panicked mid-read; the map is intact.
        self.scopes.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn entry_size(key: &str, value: &[u8]) -> usize {
    key.len() + value.len()
}

/// An answer at once, as a store future.
fn ready<T: Send + 'static>(value: T) -> BoxFuture<'static, T> {
    Box::pin(std::future::ready(value))
}

impl StateStore for MemoryStateStore {
    fn get(&self, scope: &StateScope, key: &str) -> Option<Vec<u8>> {
        let scopes = self.lock();
        scopes.scopes.get(scope)?.get(key).map(|e| e.value.clone())
    }

    fn keys(&self, scope: &StateScope) -> Vec<String> {
        self.lock()
            .scopes
            .get(scope)
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn size(&self, scope: &StateScope) -> usize {
        self.lock()
            .scopes
            .get(scope)
            .map(|s| s.iter().map(|(k, e)| entry_size(k, &e.value)).sum())
            .unwrap_or(0)
    }

    fn commit(&self, scope: &StateScope, changes: BTreeMap<String, Option<Vec<u8>>>) {
        let mut scopes = self.lock();
        for (key, value) in changes {
            scopes.put(scope, key, value);
        }
    }

    fn drop_scope(&self, scope: &StateScope) {
        self.lock().scopes.remove(scope);
    }

    fn drop_call(&self, call_id: &str) {
        self.lock().scopes.retain(
            |scope, _| !matches!(scope, StateScope::Call { call_id: c, .. } if &**c == call_id),
        );
    }

    fn refresh(
        &self,
        _scope: &StateScope,
        _key: Option<&str>,
    ) -> BoxFuture<'static, Result<(), StateFault>> {
        ready(Ok(()))
    }

    fn read(
        &self,
        scope: &StateScope,
        key: &str,
    ) -> BoxFuture<'static, Result<Option<Revisioned>, StateFault>> {
        let scopes = self.lock();
        let entry = scopes.scopes.get(scope).and_then(|s| s.get(key)).cloned();
        ready(Ok(entry))
    }

    fn swap(
        &self,
        scope: &StateScope,
        key: &str,
        expected: u64,
        value: Option<Vec<u8>>,
    ) -> BoxFuture<'static, Result<Swap, StateFault>> {
        let mut scopes = self.lock();
        let current = scopes
            .scopes
            .get(scope)
            .and_then(|s| s.get(key))
            .map_or(0, |e| e.revision);
        let swapped = if current == expected {
            Swap::Done(scopes.put(scope, key.to_owned(), value))
        } else {
            Swap::Conflict(current)
        };
        ready(Ok(swapped))
    }
}

/// The keys an event brought up to date, or all of them.
#[derive(Default)]
struct Primed {
    all: bool,
    keys: std::collections::HashSet<String>,
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
    /// What of the scope was brought up to date for this event ([`StateTxn::prime`]).
    primed: Primed,
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
            primed: Primed::default(),
        }
    }

    /// Brings `key` (`None`: the whole scope) up to date before the event first reads it. A
    /// store out of reach leaves the copy this instance has, with a warning.
    pub(crate) async fn prime(&mut self, key: Option<&str>) -> Result<(), StateFault> {
        let done = match key {
            _ if self.primed.all => true,
            Some(key) => self.changes.contains_key(key) || self.primed.keys.contains(key),
            None => false,
        };
        if done {
            return Ok(());
        }
        match self.store.refresh(&self.scope, key).await {
            Ok(()) => {}
            Err(StateFault::Unavailable(why)) => {
                tracing::warn!(scope = ?self.scope, "plugin state read from this instance's copy: the store is out of reach ({why})");
            }
            Err(lost) => return Err(lost),
        }
        match key {
            Some(key) => {
                self.primed.keys.insert(key.to_owned());
            }
            None => self.primed.all = true,
        }
        Ok(())
    }

    /// The value as stored, with its revision (the event's own pending writes aside).
    pub(crate) async fn read(&self, key: &str) -> Result<Option<Revisioned>, StateFault> {
        self.store.read(&self.scope, key).await
    }

    /// A compare-and-swap that reaches the store at once; `Err(text)` when it would break the
    /// scope's quota.
    pub(crate) async fn swap(
        &mut self,
        key: String,
        expected: u64,
        value: Option<Vec<u8>>,
    ) -> Result<Result<Swap, String>, StateFault> {
        if let Some(value) = &value
            && let Err(over) = self.admit(&key, value)
        {
            return Ok(Err(over));
        }
        let swapped = self.store.swap(&self.scope, &key, expected, value).await?;
        // The stored size changed under the pending writes: learnt again on the next write.
        self.base_size = None;
        self.pending_delta = 0;
        for (key, change) in &self.changes {
            let stored = self
                .store
                .get(&self.scope, key)
                .map_or(0, |v| entry_size(key, &v));
            let pending = change.as_ref().map_or(0, |v| entry_size(key, v));
            self.pending_delta += pending as isize - stored as isize;
        }
        Ok(Ok(swapped))
    }

    pub(crate) fn get(&self, key: &str) -> Option<Vec<u8>> {
        match self.changes.get(key) {
            Some(change) => change.clone(),
            None => self.store.get(&self.scope, key),
        }
    }

    pub(crate) fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), String> {
        let delta = self.admit(&key, &value)?;
        self.pending_delta += delta;
        self.changes.insert(key, Some(value));
        Ok(())
    }

    /// Whether storing `value` under `key` keeps the scope in its quota; the bytes it adds.
    fn admit(&mut self, key: &str, value: &[u8]) -> Result<isize, String> {
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
        let delta = entry_size(key, value) as isize - self.visible_size(key) as isize;
        let projected = (base as isize + self.pending_delta + delta).max(0) as usize;
        if projected > self.quota.max_scope_bytes {
            return Err(format!(
                "storing {} bytes under `{key}` would bring the scope to {projected} bytes, over its limit of {} bytes",
                value.len(),
                self.quota.max_scope_bytes
            ));
        }
        Ok(delta)
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
