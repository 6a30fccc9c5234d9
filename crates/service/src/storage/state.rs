//! Plugin state that outlives the process: reads come from memory, and the writes of an event
//! are kept until the journal entry being handled is marked handled, with which they commit
//! ([`Store::handled`]). After a crash, an entry whose writes were not committed is handled
//! again from the state as it was before it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use callhost_store::StateWrite;

use super::{Store, StoreError, call_scope, plugin_scope};
use crate::graph::id::id_key;
use crate::runtime::{StateScope, StateStore};

/// The plugins' state: an in-memory copy every read is served from, and the writes of each
/// call's current work not yet stored.
pub(crate) struct DurableState {
    memory: Arc<dyn StateStore>,
    /// Per call key: writes to commit with the call's next handled marker.
    pending: Mutex<HashMap<String, Vec<StateWrite>>>,
}

impl DurableState {
    pub(crate) fn new(memory: Arc<dyn StateStore>) -> Self {
        Self {
            memory,
            pending: Mutex::default(),
        }
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
}
