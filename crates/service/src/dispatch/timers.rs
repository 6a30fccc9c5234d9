//! A call's timers. Each pending timer is a task of the call's worker, and a value in the
//! call's host state scope written with the handled marker of the event that set it: after a
//! restart, or on the instance that takes the call over, the worker arms the stored timers
//! again (one due while nobody was running fires at once).
//!
//! A timer that fires appends an entry to the call's journal, under a dedupe key naming the
//! timer's generation, and is handled in order with the call's notifications. The entry is
//! delivered only if the timer is still pending at that generation when its turn comes: one
//! set again or cancelled in between is stale and handled without an event. Handling it
//! deletes the stored timer with the entry's handled marker, so it fires once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Shared;
use super::calls::{CallEntry, Work};
use crate::call::{HOST_TIMER_PREFIX, TimerFired};
use crate::storage::{NewEntry, StateWrite, now_ms};

/// The call-state scope the host keeps a call's timers and tone collection in.
pub(crate) fn host_scope(call_key: &str) -> String {
    format!("call/{call_key}/{HOST_TIMER_PREFIX}host")
}

/// The key of a timer in [`host_scope`].
const TIMER_KEY_PREFIX: &str = "timer/";

/// A pending timer as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredTimer {
    pub due_ms: i64,
    pub generation: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
}

/// A timer that fired, as its journal entry says it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Firing {
    pub name: String,
    pub generation: u64,
    pub due_ms: i64,
}

/// The body of a journal entry of a fired timer. Notifications from Graph are stored as
/// `commsNotifications` documents (`{"value": [...]}`), so the two cannot be confused.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FiringEntry {
    timer_fired: Firing,
}

impl Firing {
    pub(crate) fn entry_body(&self) -> Vec<u8> {
        let entry = FiringEntry {
            timer_fired: self.clone(),
        };
        serde_json::to_vec(&entry).unwrap_or_default()
    }

    /// The firing a journal entry's body records; `None` for a notification.
    pub(crate) fn from_entry(body: &[u8]) -> Option<Firing> {
        if !body.starts_with(b"{\"timerFired\"") {
            return None;
        }
        serde_json::from_slice::<FiringEntry>(body)
            .ok()
            .map(|e| e.timer_fired)
    }

    fn dedupe_key(&self) -> String {
        format!("timer:{}:{}", self.name, self.generation)
    }
}

/// The pending timers of one call, armed in its worker.
pub(crate) struct CallTimers {
    shared: Arc<Shared>,
    entry: Arc<CallEntry>,
    pending: HashMap<String, Armed>,
}

struct Armed {
    stored: StoredTimer,
    task: tokio::task::AbortHandle,
}

impl Drop for CallTimers {
    fn drop(&mut self) {
        for armed in self.pending.values() {
            armed.task.abort();
        }
    }
}

impl CallTimers {
    pub(crate) fn new(shared: Arc<Shared>, entry: Arc<CallEntry>) -> Self {
        Self {
            shared,
            entry,
            pending: HashMap::new(),
        }
    }

    /// Arms the timers stored for the call (`host_scope`'s values).
    pub(crate) fn restore(&mut self, stored: Vec<(String, Vec<u8>)>) {
        for (key, value) in stored {
            let Some(name) = key.strip_prefix(TIMER_KEY_PREFIX) else {
                continue;
            };
            match serde_json::from_slice::<StoredTimer>(&value) {
                Ok(timer) => self.arm(name.to_owned(), timer),
                Err(e) => {
                    tracing::warn!(call_id = %self.entry.call_id, timer = name, error = %e, "a stored timer does not parse; it is dropped");
                }
            }
        }
    }

    /// The names of the workflow's pending timers (not the host's own).
    pub(crate) fn names(&self) -> impl Iterator<Item = &String> {
        self.pending
            .keys()
            .filter(|name| !name.starts_with(HOST_TIMER_PREFIX))
    }

    /// Sets `name` to fire in `delay`, replacing a pending one; stored with the current
    /// work's handled marker.
    pub(crate) fn set(&mut self, name: &str, delay: Duration, payload: Option<String>) {
        let stored = StoredTimer {
            due_ms: now_ms().saturating_add(delay.as_millis() as i64),
            generation: callhost_store::unique_random(),
            payload,
        };
        let value = serde_json::to_vec(&stored).unwrap_or_default();
        self.write(name, Some(value));
        self.arm(name.to_owned(), stored);
    }

    /// Cancels `name`; `true` when it was pending.
    pub(crate) fn cancel(&mut self, name: &str) -> bool {
        let Some(armed) = self.pending.remove(name) else {
            return false;
        };
        armed.task.abort();
        self.write(name, None);
        true
    }

    /// What a fired timer's entry delivers: the timer, when it is still pending at the
    /// generation that fired (it is then no longer pending); `None` for a stale firing.
    pub(crate) fn take(&mut self, firing: &Firing) -> Option<TimerFired> {
        let current = self.pending.get(&firing.name)?;
        if current.stored.generation != firing.generation {
            return None;
        }
        let armed = self.pending.remove(&firing.name)?;
        self.write(&firing.name, None);
        let late_ms = (now_ms() - armed.stored.due_ms).max(0) as u64;
        Some(TimerFired {
            name: firing.name.clone(),
            payload: armed.stored.payload,
            late_ms,
        })
    }

    fn write(&self, name: &str, value: Option<Vec<u8>>) {
        let write = StateWrite {
            scope: host_scope(&self.entry.key),
            key: format!("{TIMER_KEY_PREFIX}{name}"),
            value,
        };
        self.shared.durable.note(&self.entry.key, vec![write]);
    }

    fn arm(&mut self, name: String, stored: StoredTimer) {
        let firing = Firing {
            name: name.clone(),
            generation: stored.generation,
            due_ms: stored.due_ms,
        };
        let wait = Duration::from_millis((stored.due_ms - now_ms()).max(0) as u64);
        let (shared, entry) = (self.shared.clone(), self.entry.clone());
        let task = tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            fire(&shared, &entry, firing).await;
        });
        if let Some(old) = self.pending.insert(
            name,
            Armed {
                stored,
                task: task.abort_handle(),
            },
        ) {
            old.task.abort();
        }
    }
}

/// How long a timer whose entry could not be appended waits before it tries again.
const APPEND_RETRY: Duration = Duration::from_secs(1);

/// Journals the firing and queues it for the call's worker.
async fn fire(shared: &Shared, entry: &CallEntry, firing: Firing) {
    let store = &shared.settings.store;
    loop {
        let new = NewEntry {
            call_id: entry.key.clone(),
            dedupe_key: Some(firing.dedupe_key()),
            tenant_id: entry.tenant_id().unwrap_or_default(),
            received_at_ms: now_ms(),
            body: firing.entry_body(),
        };
        match store.append(vec![new]).await.as_deref() {
            Ok([crate::storage::Appended::Stored { seq }]) => {
                entry.send(Work::Timer(firing, Some(*seq)));
                return;
            }
            // Fired before (a restart armed it again): its entry is in the journal already.
            Ok(_) => return,
            Err(e) => {
                if entry.is_lost() {
                    return;
                }
                tracing::warn!(call_id = %entry.call_id, timer = %firing.name, error = %e, "a timer that fired could not be journaled; trying again");
                tokio::time::sleep(APPEND_RETRY).await;
            }
        }
    }
}
