//! Plugin state that outlives the process: reads come from memory, and the writes of an event
//! are kept until the journal entry being handled is marked handled, with which they commit
//! ([`Store::handled`]). After a crash, an entry whose writes were not committed is handled
//! again from the state as it was before it.
//!
//! On a store shared by many instances, plugin-scoped state is read from the store again the
//! first time an event uses it, and compare-and-swap writes go to the store at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;

use callhost_store::{StateSwap, StateWrite, Swapped};

use super::{Store, StoreError, call_scope, plugin_scope};
use crate::graph::id::id_key;
use crate::runtime::{Revisioned, StateFault, StateScope, StateStore, Swap};

/// The plugins' state: an in-memory copy every read is served from, and the writes of each
/// call's current work not yet stored.
pub(crate) struct DurableState {
    memory: Arc<dyn StateStore>,
    store: Arc<dyn Store>,
    /// Whether other instances write the store too: then plugin state is read from it again.
    shared: AtomicBool,
    /// Per call key: writes to commit with the call's next handled marker.
    pending: Mutex<HashMap<String, Vec<StateWrite>>>,
}

impl DurableState {
    pub(crate) fn new(memory: Arc<dyn StateStore>, store: Arc<dyn Store>) -> Self {
        Self {
            memory,
            store,
            shared: AtomicBool::new(false),
            pending: Mutex::default(),
        }
    }

    /// From now on other instances write the store too.
    pub(crate) fn share(&self) {
        self.shared.store(true, Ordering::SeqCst);
    }

    /// What a plugin invocation for the call keyed `call_key` reads and writes through.
    pub(crate) fn for_call(self: &Arc<Self>, call_key: &str) -> Arc<dyn StateStore> {
        Arc::new(EventState {
            state: self.clone(),
            call_key: call_key.to_owned(),
        })
    }

    /// The writes made for the call since the last time, for its handled marker.
    pub(crate) fn take(&self, call_key: &str) -> Vec<StateWrite> {
        self.lock().remove(call_key).unwrap_or_default()
    }

    /// Writes of the host's own for the call, to commit with its next handled marker.
    pub(crate) fn note(&self, call_key: &str, writes: Vec<StateWrite>) {
        self.lock()
            .entry(call_key.to_owned())
            .or_default()
            .extend(writes);
    }

    /// Forgets the call's state in memory (it stays stored, for the admin API, until pruned).
    pub(crate) fn drop_call(&self, call_id: &str) {
        self.memory.drop_call(call_id);
        self.lock().remove(id_key(call_id).as_ref());
    }

    /// Reads a stored scope into memory.
    pub(crate) async fn load(
        &self,
        store: &dyn Store,
        scope: &StateScope,
    ) -> Result<usize, StoreError> {
        let values = store.state_scope(stored_scope(scope)).await?;
        let count = values.len();
        let changes: BTreeMap<String, Option<Vec<u8>>> =
            values.into_iter().map(|(k, v)| (k, Some(v))).collect();
        self.memory.commit(scope, changes);
        Ok(count)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<StateWrite>>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// How a scope is named in the store: calls by their key.
pub(crate) fn stored_scope(scope: &StateScope) -> String {
    match scope {
        StateScope::Call { plugin, call_id } => call_scope(&id_key(call_id), plugin),
        StateScope::Plugin { plugin } => plugin_scope(plugin),
    }
}

/// The state one call's plugin invocations see: [`DurableState`], with their writes noted
/// for the call's next handled marker.
pub(crate) struct EventState {
    state: Arc<DurableState>,
    call_key: String,
}

impl StateStore for EventState {
    fn get(&self, scope: &StateScope, key: &str) -> Option<Vec<u8>> {
        self.state.memory.get(scope, key)
    }

    fn keys(&self, scope: &StateScope) -> Vec<String> {
        self.state.memory.keys(scope)
    }

    fn size(&self, scope: &StateScope) -> usize {
        self.state.memory.size(scope)
    }

    fn commit(&self, scope: &StateScope, changes: BTreeMap<String, Option<Vec<u8>>>) {
        if changes.is_empty() {
            return;
        }
        let stored = stored_scope(scope);
        let writes = changes.iter().map(|(key, value)| StateWrite {
            scope: stored.clone(),
            key: key.clone(),
            value: value.clone(),
        });
        self.state
            .lock()
            .entry(self.call_key.clone())
            .or_default()
            .extend(writes);
        self.state.memory.commit(scope, changes);
    }

    fn drop_scope(&self, scope: &StateScope) {
        self.state.memory.drop_scope(scope);
    }

    fn drop_call(&self, call_id: &str) {
        self.state.drop_call(call_id);
    }

    fn refresh(
        &self,
        scope: &StateScope,
        key: Option<&str>,
    ) -> BoxFuture<'static, Result<(), StateFault>> {
        let shared = self.state.shared.load(Ordering::SeqCst);
        if !shared || !matches!(scope, StateScope::Plugin { .. }) {
            return Box::pin(std::future::ready(Ok(())));
        }
        let (store, memory) = (self.state.store.clone(), self.state.memory.clone());
        let (scope, key) = (scope.clone(), key.map(str::to_owned));
        Box::pin(async move {
            if let Some(key) = key {
                let stored = store.state(stored_scope(&scope), key.clone()).await;
                let value = stored.map_err(fault)?.map(|e| e.value);
                memory.commit(&scope, BTreeMap::from([(key, value)]));
                return Ok(());
            }
            let stored = store
                .state_scope(stored_scope(&scope))
                .await
                .map_err(fault)?;
            // One commit: keys gone from the store go here too, and no reader sees it half done.
            let mut changes: BTreeMap<String, Option<Vec<u8>>> =
                memory.keys(&scope).into_iter().map(|k| (k, None)).collect();
            changes.extend(stored.into_iter().map(|(k, v)| (k, Some(v))));
            memory.commit(&scope, changes);
            Ok(())
        })
    }

    fn read(
        &self,
        scope: &StateScope,
        key: &str,
    ) -> BoxFuture<'static, Result<Option<Revisioned>, StateFault>> {
        let store = self.state.store.clone();
        let (scope, key) = (stored_scope(scope), key.to_owned());
        Box::pin(async move {
            let entry = store.state(scope, key).await.map_err(fault)?;
            Ok(entry.map(|e| Revisioned {
                value: e.value,
                revision: e.revision,
            }))
        })
    }

    fn swap(
        &self,
        scope: &StateScope,
        key: &str,
        expected: u64,
        value: Option<Vec<u8>>,
    ) -> BoxFuture<'static, Result<Swap, StateFault>> {
        let swapped = self.state.store.swap_state(StateSwap {
            call_id: self.call_key.clone(),
            scope: stored_scope(scope),
            key: key.to_owned(),
            expected,
            value: value.clone(),
        });
        let memory = self.state.memory.clone();
        let (scope, key) = (scope.clone(), key.to_owned());
        Box::pin(async move {
            match swapped.await.map_err(fault)? {
                Swapped::Done { revision } => {
                    memory.commit(&scope, BTreeMap::from([(key, value)]));
                    Ok(Swap::Done(revision))
                }
                Swapped::Conflict { revision } => Ok(Swap::Conflict(revision)),
            }
        })
    }
}

/// A store error as the `state` interface reports it.
fn fault(error: StoreError) -> StateFault {
    match error {
        StoreError::Fenced { .. } => StateFault::Lost(error.to_string()),
        other => StateFault::Unavailable(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::MemoryStateStore;
    use callhost_store::MemoryStore;

    fn plugin() -> StateScope {
        StateScope::Plugin { plugin: "p".into() }
    }

    fn write(key: &str, value: Option<&str>) -> StateWrite {
        StateWrite {
            scope: plugin_scope("p"),
            key: key.into(),
            value: value.map(|v| v.as_bytes().to_vec()),
        }
    }

    /// Two instances on one store: what `b` writes, `a`'s events read once they refresh.
    #[tokio::test]
    async fn on_a_shared_store_plugin_state_is_read_again_and_swaps_reach_the_store() {
        let a = MemoryStore::default();
        let b = a.instance_of("b");
        let state = Arc::new(DurableState::new(
            Arc::new(MemoryStateStore::new()),
            Arc::new(a),
        ));
        let event = state.for_call("call-1");
        b.write_state(vec![write("menu", Some("v1")), write("gone", Some("x"))])
            .await
            .unwrap();
        // Not shared: this instance's copy is the truth and nothing is read again.
        event.refresh(&plugin(), None).await.unwrap();
        assert_eq!(event.get(&plugin(), "menu"), None);

        state.share();
        event.refresh(&plugin(), Some("menu")).await.unwrap();
        assert_eq!(event.get(&plugin(), "menu"), Some(b"v1".to_vec()));
        b.write_state(vec![write("gone", None), write("menu", Some("v2"))])
            .await
            .unwrap();
        event.refresh(&plugin(), None).await.unwrap();
        assert_eq!(event.get(&plugin(), "menu"), Some(b"v2".to_vec()));
        assert_eq!(event.keys(&plugin()), vec!["menu".to_string()]);

        // A swap goes to the store at once and into this instance's copy.
        let stored = event.read(&plugin(), "menu").await.unwrap().unwrap();
        let swapped = event
            .swap(&plugin(), "menu", stored.revision, Some(b"v3".to_vec()))
            .await
            .unwrap();
        assert!(matches!(swapped, Swap::Done(r) if r != stored.revision));
        assert_eq!(event.get(&plugin(), "menu"), Some(b"v3".to_vec()));
        let seen_by_b = b.state(plugin_scope("p"), "menu".into()).await.unwrap();
        assert_eq!(seen_by_b.map(|e| e.value), Some(b"v3".to_vec()));
        let stale = event
            .swap(&plugin(), "menu", stored.revision, Some(b"v4".to_vec()))
            .await
            .unwrap();
        assert!(matches!(stale, Swap::Conflict(_)));
    }
}
