//! The in-process engine: the same semantics as the SQLite one, nothing on disk. For unit tests
//! and the simulator.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::future::BoxFuture;

use crate::{
    Appended, CallRecord, Entry, Held, Intent, IntentRecord, NewEntry, StateEntry, StateSwap,
    StateWrite, Store, StoreError, Swapped, Sweep, component_hash, now_ms,
};

#[derive(Debug, Clone)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
    /// Writes fail as on a full disk; see [`MemoryStore::set_full`].
    full: Arc<AtomicBool>,
    instance: Arc<str>,
    held: Held,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self {
            inner: Arc::default(),
            full: Arc::default(),
            instance: crate::sqlite::LOCAL_INSTANCE.into(),
            held: Held::default(),
        }
    }
}

/// A lease as the memory engine keeps it.
#[derive(Debug, Clone)]
struct Lease {
    owner: Arc<str>,
    epoch: u64,
    expires_at_ms: i64,
}

#[derive(Debug, Default)]
struct Inner {
    journals: HashMap<String, Vec<Entry>>,
    intents: BTreeMap<(String, u64, u32), IntentRecord>,
    calls: BTreeMap<String, CallRecord>,
    state: HashMap<(String, String), StateEntry>,
    components: HashMap<String, Vec<u8>>,
    leases: HashMap<String, Lease>,
}

impl Inner {
    fn apply(&mut self, writes: Vec<StateWrite>) {
        for write in writes {
            let key = (write.scope, write.key);
            match write.value {
                Some(value) => self.state.insert(key, StateEntry::fresh(value)),
                None => self.state.remove(&key),
            };
        }
    }
}

impl MemoryStore {
    /// Another instance on the same data, as a second process on one database would be: its
    /// own leases, the same calls, journals and state.
    pub fn instance_of(&self, instance: &str) -> Self {
        Self {
            inner: self.inner.clone(),
            full: self.full.clone(),
            instance: instance.into(),
            held: Held::default(),
        }
    }

    /// Refuses a write for a call this handle claimed and lost since.
    fn check_fence(&self, inner: &Inner, call_id: &str) -> Result<(), StoreError> {
        let Some(epoch) = self.held.fence(call_id) else {
            return Ok(());
        };
        match inner.leases.get(call_id) {
            Some(lease) if lease.owner == self.instance && lease.epoch == epoch => Ok(()),
            _ => Err(self.held.fenced(call_id, epoch)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// While `full`, every journal append, handled marker, call record and state write fails
    /// with [`StoreError::Full`] and changes nothing, as on a disk with no space left: what a
    /// service on a failing store does can be tested with it.
    pub fn set_full(&self, full: bool) {
        self.full.store(full, Ordering::SeqCst);
    }

    fn writable(&self) -> Result<(), StoreError> {
        if self.full.load(Ordering::SeqCst) {
            return Err(StoreError::Full {
                path: "memory".into(),
            });
        }
        Ok(())
    }
}

/// An answer at once, as a store future.
fn ready<T: Send + 'static>(value: T) -> BoxFuture<'static, T> {
    Box::pin(std::future::ready(value))
}

impl Store for MemoryStore {
    fn instance(&self) -> &str {
        &self.instance
    }

    fn claim(
        &self,
        call_id: String,
        ttl_ms: i64,
    ) -> BoxFuture<'static, Result<Option<u64>, StoreError>> {
        let now = now_ms();
        let mut inner = self.lock();
        let epoch = match inner.leases.get_mut(&call_id) {
            None => {
                let lease = Lease {
                    owner: self.instance.clone(),
                    epoch: 1,
                    expires_at_ms: now + ttl_ms,
                };
                inner.leases.insert(call_id.clone(), lease);
                Some(1)
            }
            Some(lease) if lease.owner == self.instance => {
                lease.expires_at_ms = now + ttl_ms;
                Some(lease.epoch)
            }
            Some(lease) if lease.expires_at_ms <= now => {
                lease.owner = self.instance.clone();
                lease.epoch += 1;
                lease.expires_at_ms = now + ttl_ms;
                Some(lease.epoch)
            }
            Some(_) => None,
        };
        if let Some(epoch) = epoch {
            self.held.insert(&call_id, epoch);
        }
        ready(Ok(epoch))
    }

    fn renew(&self, ttl_ms: i64) -> BoxFuture<'static, Result<Vec<String>, StoreError>> {
        let until = now_ms() + ttl_ms;
        let mut inner = self.lock();
        let still: Vec<(String, u64)> = inner
            .leases
            .iter_mut()
            .filter(|(_, lease)| lease.owner == self.instance)
            .map(|(call, lease)| {
                lease.expires_at_ms = until;
                (call.clone(), lease.epoch)
            })
            .collect();
        drop(inner);
        ready(Ok(self.held.keep_only(&still)))
    }

    fn release(&self, call_ids: Option<Vec<String>>) -> BoxFuture<'static, Result<(), StoreError>> {
        let mut inner = self.lock();
        for (call, lease) in &mut inner.leases {
            let named = call_ids.as_ref().is_none_or(|calls| calls.contains(call));
            if lease.owner == self.instance && named {
                lease.expires_at_ms = 0;
                self.held.remove(call);
            }
        }
        ready(Ok(()))
    }

    fn owner(&self, call_id: String) -> BoxFuture<'static, Result<Option<String>, StoreError>> {
        let now = now_ms();
        let owner = self
            .lock()
            .leases
            .get(&call_id)
            .filter(|lease| lease.expires_at_ms > now)
            .map(|lease| lease.owner.to_string());
        ready(Ok(owner))
    }

    fn wake(&self, _call_id: String) -> BoxFuture<'static, Result<(), StoreError>> {
        ready(Ok(()))
    }

    fn announce(&self, _news: String) -> BoxFuture<'static, Result<(), StoreError>> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn wakes(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<crate::Heard>> {
        None
    }

    fn sweep(&self, quiet_before_ms: i64) -> BoxFuture<'static, Result<Sweep, StoreError>> {
        let now = now_ms();
        let inner = self.lock();
        let mut live: Vec<&CallRecord> = inner
            .calls
            .values()
            .filter(|c| c.ended_at_ms.is_none())
            .filter(|c| {
                inner
                    .leases
                    .get(&c.call_id)
                    .is_none_or(|lease| lease.expires_at_ms <= now)
            })
            .collect();
        live.sort_by_key(|c| c.created_at_ms);
        let unowned = live.into_iter().map(|c| c.call_id.clone()).collect();
        let mut waiting: Vec<String> = inner
            .leases
            .iter()
            .filter(|(_, lease)| lease.owner == self.instance)
            .filter(|(call, _)| {
                inner.journals.get(*call).is_some_and(|journal| {
                    journal
                        .iter()
                        .any(|e| !e.handled && e.received_at_ms < quiet_before_ms)
                })
            })
            .map(|(call, _)| call.clone())
            .collect();
        waiting.sort();
        ready(Ok(Sweep { unowned, waiting }))
    }

    fn append(&self, entries: Vec<NewEntry>) -> BoxFuture<'_, Result<Vec<Appended>, StoreError>> {
        if let Err(e) = self.writable() {
            return ready(Err(e));
        }
        let mut inner = self.lock();
        let appended = entries
            .into_iter()
            .map(|entry| {
                let ended = inner
                    .calls
                    .get(&entry.call_id)
                    .is_some_and(|c| c.ended_at_ms.is_some());
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
                    handled: ended,
                    tenant_id: entry.tenant_id,
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

    fn save_call(&self, call: CallRecord) -> BoxFuture<'static, Result<(), StoreError>> {
        if let Err(e) = self.writable() {
            return ready(Err(e));
        }
        let mut inner = self.lock();
        if let Err(e) = self.check_fence(&inner, &call.call_id) {
            return ready(Err(e));
        }
        inner.calls.insert(call.call_id.clone(), call);
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
        if let Err(e) = self.writable() {
            return ready(Err(e));
        }
        let mut inner = self.lock();
        if let Err(e) = self.check_fence(&inner, &call_id) {
            return ready(Err(e));
        }
        let entry = inner
            .journals
            .get_mut(&call_id)
            .and_then(|journal| journal.iter_mut().find(|e| e.seq == seq));
        let result = match entry {
            None => Err(StoreError::UnknownEntry { call_id, seq }),
            Some(entry) if entry.handled => Ok(false),
            Some(entry) => {
                entry.handled = true;
                inner.apply(writes);
                Ok(true)
            }
        };
        drop(inner);
        ready(result)
    }

    fn write_state(&self, writes: Vec<StateWrite>) -> BoxFuture<'_, Result<(), StoreError>> {
        if let Err(e) = self.writable() {
            return ready(Err(e));
        }
        self.lock().apply(writes);
        ready(Ok(()))
    }

    fn end_call(
        &self,
        call_id: String,
        at_ms: i64,
        reason: String,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        let mut inner = self.lock();
        if let Err(e) = self.check_fence(&inner, &call_id) {
            return ready(Err(e));
        }
        inner.leases.remove(&call_id);
        self.held.remove(&call_id);
        if let Some(call) = inner.calls.get_mut(&call_id)
            && call.ended_at_ms.is_none()
        {
            call.ended_at_ms = Some(at_ms);
            call.end_reason = Some(reason);
        }
        for entry in inner.journals.get_mut(&call_id).into_iter().flatten() {
            entry.handled = true;
        }
        ready(Ok(()))
    }

    fn state(
        &self,
        scope: String,
        key: String,
    ) -> BoxFuture<'_, Result<Option<StateEntry>, StoreError>> {
        let value = self.lock().state.get(&(scope, key)).cloned();
        ready(Ok(value))
    }

    fn swap_state(&self, swap: StateSwap) -> BoxFuture<'static, Result<Swapped, StoreError>> {
        if let Err(e) = self.writable() {
            return ready(Err(e));
        }
        let mut inner = self.lock();
        if let Err(e) = self.check_fence(&inner, &swap.call_id) {
            return ready(Err(e));
        }
        let key = (swap.scope, swap.key);
        let current = inner.state.get(&key).map_or(0, |e| e.revision);
        if current != swap.expected {
            return ready(Ok(Swapped::Conflict { revision: current }));
        }
        let revision = match swap.value {
            Some(value) => {
                let entry = StateEntry::fresh(value);
                let revision = entry.revision;
                inner.state.insert(key, entry);
                revision
            }
            None => {
                inner.state.remove(&key);
                0
            }
        };
        ready(Ok(Swapped::Done { revision }))
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

    fn state_scope(&self, scope: String) -> BoxFuture<'_, Result<crate::StateValues, StoreError>> {
        let mut values: Vec<(String, Vec<u8>)> = self
            .lock()
            .state
            .iter()
            .filter(|((s, _), _)| *s == scope)
            .map(|((_, k), v)| (k.clone(), v.value.clone()))
            .collect();
        values.sort();
        ready(Ok(values))
    }

    fn keepalive(&self, call_id: String, at_ms: i64) -> BoxFuture<'_, Result<(), StoreError>> {
        let mut inner = self.lock();
        if let Err(e) = self.check_fence(&inner, &call_id) {
            return ready(Err(e));
        }
        if let Some(call) = inner.calls.get_mut(&call_id) {
            call.last_keepalive_ms = Some(at_ms);
        }
        ready(Ok(()))
    }

    fn begin_intent(
        &self,
        intent: Intent,
    ) -> BoxFuture<'_, Result<Option<IntentRecord>, StoreError>> {
        let mut inner = self.lock();
        if let Err(e) = self.check_fence(&inner, &intent.call_id) {
            return ready(Err(e));
        }
        let key = (intent.call_id, intent.seq, intent.idx);
        let existing = inner.intents.get(&key).cloned();
        if existing.is_none() {
            let record = IntentRecord {
                seq: intent.seq,
                idx: intent.idx,
                action: intent.action,
                result: None,
            };
            inner.intents.insert(key, record);
        }
        drop(inner);
        ready(Ok(existing))
    }

    fn finish_intent(
        &self,
        call_id: String,
        seq: u64,
        idx: u32,
        result: String,
    ) -> BoxFuture<'static, Result<(), StoreError>> {
        let mut inner = self.lock();
        if let Err(e) = self.check_fence(&inner, &call_id) {
            return ready(Err(e));
        }
        if let Some(intent) = inner.intents.get_mut(&(call_id, seq, idx)) {
            intent.result = Some(result);
        }
        ready(Ok(()))
    }

    fn intents(&self, call_id: String) -> BoxFuture<'_, Result<Vec<IntentRecord>, StoreError>> {
        let intents = self
            .lock()
            .intents
            .iter()
            .filter(|((c, _, _), _)| *c == call_id)
            .map(|(_, i)| i.clone())
            .collect();
        ready(Ok(intents))
    }

    fn ended_calls(&self, limit: usize) -> BoxFuture<'_, Result<Vec<CallRecord>, StoreError>> {
        let mut ended: Vec<CallRecord> = self
            .lock()
            .calls
            .values()
            .filter(|c| c.ended_at_ms.is_some())
            .cloned()
            .collect();
        ended.sort_by(|a, b| {
            (std::cmp::Reverse(a.ended_at_ms), &a.call_id)
                .cmp(&(std::cmp::Reverse(b.ended_at_ms), &b.call_id))
        });
        ended.truncate(limit);
        ready(Ok(ended))
    }

    fn unowned_entries(
        &self,
        since_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<(String, Entry)>, StoreError>> {
        let inner = self.lock();
        let mut entries: Vec<(String, Entry)> = inner
            .journals
            .iter()
            .filter(|(call, _)| !inner.calls.contains_key(*call))
            .flat_map(|(call, journal)| {
                journal
                    .iter()
                    .filter(|e| e.received_at_ms >= since_ms && !e.handled)
                    .map(|e| (call.clone(), e.clone()))
            })
            .collect();
        drop(inner);
        entries.sort_by(|(a, x), (b, y)| {
            (x.received_at_ms, a, x.seq).cmp(&(y.received_at_ms, b, y.seq))
        });
        ready(Ok(entries))
    }

    fn prune(&self, ended_before_ms: i64) -> BoxFuture<'_, Result<u64, StoreError>> {
        let mut inner = self.lock();
        let gone: Vec<String> = inner
            .calls
            .values()
            .filter(|c| c.ended_at_ms.is_some_and(|at| at < ended_before_ms))
            .map(|c| c.call_id.clone())
            .collect();
        for call in &gone {
            inner.calls.remove(call);
            inner.leases.remove(call);
            inner.journals.remove(call);
            inner.intents.retain(|(c, _, _), _| c != call);
            let prefix = format!("call/{call}/");
            inner
                .state
                .retain(|(scope, _), _| !scope.starts_with(&prefix));
        }
        let Inner {
            journals, calls, ..
        } = &mut *inner;
        journals.retain(|call, journal| {
            calls.contains_key(call) || {
                journal.retain(|e| e.received_at_ms >= ended_before_ms);
                !journal.is_empty()
            }
        });
        drop(inner);
        ready(Ok(gone.len() as u64))
    }
}
