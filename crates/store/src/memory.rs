//! The in-process engine: the same semantics as the SQLite one, nothing on disk. For unit tests
//! and the simulator.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::future::BoxFuture;

use crate::{Appended, CallRecord, Entry, NewEntry, StateWrite, Store, StoreError, component_hash};

#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    journals: HashMap<String, Vec<Entry>>,
    calls: BTreeMap<String, CallRecord>,
    state: HashMap<(String, String), Vec<u8>>,
    components: HashMap<String, Vec<u8>>,
}

impl MemoryStore {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// An answer at once, as a store future.
fn ready<T: Send + 'static>(value: T) -> BoxFuture<'static, T> {
    Box::pin(std::future::ready(value))
}

impl Store for MemoryStore {
    fn append(&self, entries: Vec<NewEntry>) -> BoxFuture<'_, Result<Vec<Appended>, StoreError>> {
        let mut inner = self.lock();
        let appended = entries
            .into_iter()
            .map(|entry| {
                let journal = inner.journals.entry(entry.call_id).or_default();
                let repeat = entry
                    .dedupe_key
                    .as_ref()
                    .and_then(|key| journal.iter().find(|e| e.dedupe_key.as_ref() == Some(key)));
                if let Some(existing) = repeat {
                    return Appended::Duplicate { seq: existing.seq };
                }
                let seq = journal.last().map_or(0, |e| e.seq) + 1;
                journal.push(Entry {
                    seq,
                    dedupe_key: entry.dedupe_key,
                    received_at_ms: entry.received_at_ms,
                    body: entry.body,
                });
                Appended::Stored { seq }
            })
            .collect();
        drop(inner);
        ready(Ok(appended))
    }

    fn entries(
        &self,
        call_id: String,
        after: u64,
    ) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>> {
        let entries = self
            .lock()
            .journals
            .get(&call_id)
            .map(|journal| journal.iter().filter(|e| e.seq > after).cloned().collect())
            .unwrap_or_default();
        ready(Ok(entries))
    }

    fn save_call(&self, mut call: CallRecord) -> BoxFuture<'_, Result<(), StoreError>> {
        let mut inner = self.lock();
        call.handled_seq = inner.calls.get(&call.call_id).map_or(0, |c| c.handled_seq);
        inner.calls.insert(call.call_id.clone(), call);
        drop(inner);
        ready(Ok(()))
    }

    fn call(&self, call_id: String) -> BoxFuture<'_, Result<Option<CallRecord>, StoreError>> {
        let call = self.lock().calls.get(&call_id).cloned();
        ready(Ok(call))
    }

    fn live_calls(&self) -> BoxFuture<'_, Result<Vec<CallRecord>, StoreError>> {
        let mut live: Vec<CallRecord> = self
            .lock()
            .calls
            .values()
            .filter(|c| c.ended_at_ms.is_none())
            .cloned()
            .collect();
        live.sort_by(|a, b| (a.created_at_ms, &a.call_id).cmp(&(b.created_at_ms, &b.call_id)));
        ready(Ok(live))
    }

    fn handled(
        &self,
        call_id: String,
        seq: u64,
        writes: Vec<StateWrite>,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let mut inner = self.lock();
        let result = match inner.calls.get(&call_id).map(|c| c.handled_seq) {
            None => Err(StoreError::UnknownCall(call_id)),
            Some(handled) if handled >= seq => Ok(false),
            Some(_) => {
                for write in writes {
                    let key = (write.scope, write.key);
                    match write.value {
                        Some(value) => inner.state.insert(key, value),
                        None => inner.state.remove(&key),
                    };
                }
                if let Some(call) = inner.calls.get_mut(&call_id) {
                    call.handled_seq = seq;
                }
                Ok(true)
            }
        };
        drop(inner);
        ready(result)
    }

    fn end_call(
        &self,
        call_id: String,
        at_ms: i64,
        reason: String,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        if let Some(call) = self.lock().calls.get_mut(&call_id)
            && call.ended_at_ms.is_none()
        {
            call.ended_at_ms = Some(at_ms);
            call.end_reason = Some(reason);
        }
        ready(Ok(()))
    }

    fn state(
        &self,
        scope: String,
        key: String,
    ) -> BoxFuture<'_, Result<Option<Vec<u8>>, StoreError>> {
        let value = self.lock().state.get(&(scope, key)).cloned();
        ready(Ok(value))
    }

    fn put_component(&self, bytes: Vec<u8>) -> BoxFuture<'_, Result<String, StoreError>> {
        let hash = component_hash(&bytes);
        self.lock().components.entry(hash.clone()).or_insert(bytes);
        ready(Ok(hash))
    }

    fn component(&self, hash: String) -> BoxFuture<'_, Result<Option<Vec<u8>>, StoreError>> {
        let bytes = self.lock().components.get(&hash).cloned();
        ready(Ok(bytes))
    }
}
