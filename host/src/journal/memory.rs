//! The in-memory journal: bounded in calls, in entries per call, and in how long ended calls
//! stay.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::record::{JournalRecord, Timeline, TimelineEntry};
use super::{CallJournal, JournalConfig};

/// Keeps the latest calls' journals in memory.
#[derive(Debug)]
pub struct MemoryJournal {
    config: JournalConfig,
    calls: Mutex<Calls>,
    changed: Notify,
}

#[derive(Debug, Default)]
struct Calls {
    by_id: HashMap<String, CallLog>,
    /// Call ids, oldest first.
    order: VecDeque<String>,
}

#[derive(Debug)]
struct CallLog {
    entries: Vec<(Instant, JournalRecord)>,
    dropped: usize,
    ended: Option<Instant>,
}

impl MemoryJournal {
    pub fn new(config: JournalConfig) -> Self {
        Self {
            config,
            calls: Mutex::new(Calls::default()),
            changed: Notify::new(),
        }
    }

    /// Whether the call is known and has ended.
    pub fn has_ended(&self, call_id: &str) -> bool {
        self.lock()
            .by_id
            .get(call_id)
            .is_some_and(|c| c.ended.is_some())
    }

    /// Waits until `check` returns something, re-checking whenever the journal changes.
    pub async fn wait_until<T>(
        &self,
        timeout: Duration,
        check: impl Fn() -> Option<T>,
    ) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.changed.notified();
            if let Some(found) = check() {
                return Some(found);
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return check();
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Calls> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn keep_ended(&self) -> Duration {
        Duration::from_secs(self.config.keep_ended_s)
    }
}

impl Calls {
    /// Forgets ended calls past their retention.
    fn expire(&mut self, now: Instant, keep: Duration) {
        let by_id = &mut self.by_id;
        self.order.retain(|id| {
            let expired = by_id
                .get(id)
                .and_then(|c| c.ended)
                .is_some_and(|ended| now.duration_since(ended) >= keep);
            if expired {
                by_id.remove(id);
            }
            !expired
        });
    }

    /// Makes room for one more call: the oldest ended call goes, else the oldest call.
    fn evict_one(&mut self) {
        let victim = self
            .order
            .iter()
            .position(|id| self.by_id.get(id).is_some_and(|c| c.ended.is_some()))
            .unwrap_or(0);
        if let Some(id) = self.order.remove(victim) {
            self.by_id.remove(&id);
        }
    }
}

impl CallJournal for MemoryJournal {
    fn record(&self, call_id: &str, at: Instant, record: JournalRecord) {
        if self.config.max_calls == 0 {
            return;
        }
        {
            let mut calls = self.lock();
            calls.expire(Instant::now(), self.keep_ended());
            if !calls.by_id.contains_key(call_id) {
                while calls.by_id.len() >= self.config.max_calls {
                    calls.evict_one();
                }
                calls.order.push_back(call_id.to_string());
                calls.by_id.insert(
                    call_id.to_string(),
                    CallLog {
                        entries: Vec::new(),
                        dropped: 0,
                        ended: None,
                    },
                );
            }
            let log = calls.by_id.get_mut(call_id).expect("inserted above");
            if log.entries.len() < self.config.max_entries_per_call {
                log.entries.push((at, record));
            } else {
                log.dropped += 1;
            }
        }
        self.changed.notify_waiters();
    }

    fn call_ended(&self, call_id: &str) {
        if let Some(log) = self.lock().by_id.get_mut(call_id) {
            log.ended.get_or_insert_with(Instant::now);
        }
        self.changed.notify_waiters();
    }

    fn timeline(&self, call_id: &str) -> Option<Timeline> {
        let mut calls = self.lock();
        calls.expire(Instant::now(), self.keep_ended());
        let log = calls.by_id.get(call_id)?;
        let mut entries = log.entries.clone();
        entries.sort_by_key(|(at, _)| *at);
        let start = entries.first().map(|(at, _)| *at);
        Some(Timeline {
            call_id: call_id.to_string(),
            ended: log.ended.is_some(),
            dropped_entries: log.dropped,
            entries: entries
                .into_iter()
                .map(|(at, record)| TimelineEntry {
                    at: start.map(|s| at.duration_since(s)).unwrap_or_default(),
                    record,
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn note(n: u64) -> JournalRecord {
        JournalRecord::Notification {
            body: json!({ "n": n }),
        }
    }

    fn journal(max_calls: usize, keep_ended_s: u64, max_entries: usize) -> MemoryJournal {
        MemoryJournal::new(JournalConfig {
            max_calls,
            keep_ended_s,
            max_entries_per_call: max_entries,
        })
    }

    #[test]
    fn entries_are_ordered_by_start_and_offset_from_the_first() {
        let j = journal(10, 60, 10);
        let t0 = Instant::now();
        j.record("c", t0 + Duration::from_millis(5), note(2));
        j.record("c", t0, note(1));
        let timeline = j.timeline("c").unwrap();
        assert_eq!(
            timeline.notifications(),
            vec![json!({"n": 1}), json!({"n": 2})]
        );
        assert_eq!(timeline.entries[1].at, Duration::from_millis(5));
        assert!(!timeline.ended);
    }

    #[test]
    fn the_oldest_ended_call_is_evicted_first() {
        let j = journal(2, 60, 10);
        j.record("a", Instant::now(), note(1));
        j.record("b", Instant::now(), note(1));
        j.call_ended("b");
        j.record("c", Instant::now(), note(1));
        assert!(j.timeline("a").is_some());
        assert!(j.timeline("b").is_none());
        j.record("d", Instant::now(), note(1));
        assert!(
            j.timeline("a").is_none(),
            "no ended call left: the oldest goes"
        );
        assert!(j.timeline("c").is_some() && j.timeline("d").is_some());
    }

    #[test]
    fn ended_calls_expire_and_entries_are_capped() {
        let j = journal(10, 0, 2);
        for n in 0..5 {
            j.record("c", Instant::now(), note(n));
        }
        let timeline = j.timeline("c").unwrap();
        assert_eq!((timeline.entries.len(), timeline.dropped_entries), (2, 3));
        j.call_ended("c");
        assert!(j.timeline("c").is_none());
    }

    #[test]
    fn zero_calls_keeps_nothing() {
        let j = journal(0, 60, 10);
        j.record("c", Instant::now(), note(1));
        assert!(j.timeline("c").is_none());
    }
}
