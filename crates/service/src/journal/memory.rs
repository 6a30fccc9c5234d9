//! The in-memory journal: bounded in calls, in entries and bytes per call, in bytes in all,
//! and in how long ended calls stay. Entries are shared, so reading a timeline copies
//! pointers under the lock and the entries themselves outside it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::record::{JournalRecord, Timeline, TimelineEntry};
use super::{CallJournal, JournalConfig};
use crate::call::{ExchangeLog, GraphExchange};

/// Keeps the latest calls' journals in memory.
#[derive(Debug)]
pub struct MemoryJournal {
    config: JournalConfig,
    calls: Mutex<Calls>,
    changed: Notify,
}

/// The kept calls and two queues over them, so that recording stays O(1) however many calls
/// are kept: calls in the order they were first seen, and ended calls in the order they ended.
/// Queue items name a call by id and generation; an item whose call was dropped (or whose id
/// came back as a new call) is stale and skipped when it reaches the front.
#[derive(Debug, Default)]
struct Calls {
    by_id: HashMap<String, CallLog>,
    /// (generation, call id), oldest first.
    order: VecDeque<(u64, String)>,
    /// (when it ended, generation, call id), earliest first.
    ended: VecDeque<(Instant, u64, String)>,
    next_generation: u64,
    /// Bytes of every kept entry.
    bytes: usize,
}

#[derive(Debug)]
struct CallLog {
    generation: u64,
    entries: Vec<Arc<(Instant, JournalRecord)>>,
    bytes: usize,
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
    fn is_current(&self, generation: u64, id: &str) -> bool {
        self.by_id
            .get(id)
            .is_some_and(|c| c.generation == generation)
    }

    /// Forgets ended calls past their retention.
    fn expire(&mut self, now: Instant, keep: Duration) {
        while let Some((ended, generation, id)) = self.ended.front() {
            if !self.is_current(*generation, id) {
                self.ended.pop_front();
            } else if now.duration_since(*ended) >= keep {
                let (_, _, id) = self.ended.pop_front().expect("front exists");
                self.remove(&id);
            } else {
                break;
            }
        }
        self.compact();
    }

    fn remove(&mut self, id: &str) {
        if let Some(log) = self.by_id.remove(id) {
            self.bytes -= log.bytes;
        }
    }

    /// Makes room: the call that ended first goes, else the oldest call. Returns whether a
    /// call went.
    fn evict_one(&mut self) -> bool {
        while let Some((_, generation, id)) = self.ended.pop_front() {
            if self.is_current(generation, &id) {
                self.remove(&id);
                return true;
            }
        }
        while let Some((generation, id)) = self.order.pop_front() {
            if self.is_current(generation, &id) {
                self.remove(&id);
                return true;
            }
        }
        false
    }

    fn insert(&mut self, call_id: &str) {
        let generation = self.next_generation;
        self.next_generation += 1;
        self.order.push_back((generation, call_id.to_string()));
        self.by_id.insert(
            call_id.to_string(),
            CallLog {
                generation,
                entries: Vec::new(),
                bytes: 0,
                dropped: 0,
                ended: None,
            },
        );
    }

    /// Evicts one call other than `keep` (of generation `generation`): the call that ended
    /// first, else the oldest. Returns whether one went.
    fn evict_other_than(&mut self, keep: &str, generation: Option<u64>) -> bool {
        let is_kept = |g: u64, id: &str| id == keep && Some(g) == generation;
        if let Some(pos) = self
            .ended
            .iter()
            .position(|(_, g, id)| !is_kept(*g, id) && self.is_current(*g, id))
        {
            let (_, _, id) = self.ended.remove(pos).expect("position exists");
            self.remove(&id);
            return true;
        }
        if let Some(pos) = self
            .order
            .iter()
            .position(|(g, id)| !is_kept(*g, id) && self.is_current(*g, id))
        {
            let (_, id) = self.order.remove(pos).expect("position exists");
            self.remove(&id);
            return true;
        }
        false
    }

    /// Drops stale queue items once they outnumber the calls kept (amortised O(1)).
    fn compact(&mut self) {
        if self.order.len() > 2 * self.by_id.len() + 64 {
            let by_id = &self.by_id;
            self.order
                .retain(|(g, id)| by_id.get(id).is_some_and(|c| c.generation == *g));
        }
    }
}

impl ExchangeLog for MemoryJournal {
    fn exchanged(&self, call_id: &str, started: Instant, exchange: GraphExchange) {
        self.record(call_id, started, JournalRecord::GraphRequest(exchange));
    }
}

impl CallJournal for MemoryJournal {
    fn record(&self, call_id: &str, at: Instant, record: JournalRecord) {
        if self.config.max_calls == 0 {
            return;
        }
        let bytes = record.weight();
        {
            let mut calls = self.lock();
            calls.expire(Instant::now(), self.keep_ended());
            if !calls.by_id.contains_key(call_id) {
                while calls.by_id.len() >= self.config.max_calls {
                    calls.evict_one();
                }
                calls.insert(call_id);
            }
            let log = calls.by_id.get_mut(call_id).expect("inserted above");
            let fits = log.entries.len() < self.config.max_entries_per_call
                && log.bytes + bytes <= self.config.max_bytes_per_call;
            if !fits {
                log.dropped += 1;
            } else {
                log.entries.push(Arc::new((at, record)));
                log.bytes += bytes;
                calls.bytes += bytes;
                // Over the total: other calls go first, oldest ended first.
                while calls.bytes > self.config.max_bytes && calls.by_id.len() > 1 {
                    let own = calls.by_id.get(call_id).map(|c| c.generation);
                    if !calls.evict_other_than(call_id, own) {
                        break;
                    }
                }
            }
        }
        self.changed.notify_waiters();
    }

    fn call_ended(&self, call_id: &str) {
        {
            let mut calls = self.lock();
            if let Some(log) = calls.by_id.get_mut(call_id)
                && log.ended.is_none()
            {
                let now = Instant::now();
                log.ended = Some(now);
                let generation = log.generation;
                calls
                    .ended
                    .push_back((now, generation, call_id.to_string()));
            }
        }
        self.changed.notify_waiters();
    }

    fn timeline(&self, call_id: &str) -> Option<Timeline> {
        let (mut entries, ended, dropped) = {
            let mut calls = self.lock();
            calls.expire(Instant::now(), self.keep_ended());
            let log = calls.by_id.get(call_id)?;
            (log.entries.clone(), log.ended.is_some(), log.dropped)
        };
        entries.sort_by_key(|entry| entry.0);
        let start = entries.first().map(|entry| entry.0);
        Some(Timeline {
            call_id: call_id.to_string(),
            ended,
            dropped_entries: dropped,
            entries: entries
                .iter()
                .map(|entry| TimelineEntry {
                    at: start.map(|s| entry.0.duration_since(s)).unwrap_or_default(),
                    record: entry.1.clone(),
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
            ..JournalConfig::default()
        })
    }

    fn big(bytes: usize) -> JournalRecord {
        JournalRecord::Notification {
            body: json!({ "data": "x".repeat(bytes) }),
        }
    }

    #[test]
    fn an_http_exchange_reads_as_one_line_and_one_json_entry() {
        let j = journal(10, 60, 10);
        let exchange = crate::call::HttpExchange {
            method: "GET".into(),
            url: "https://crm.example.com/callers/42".into(),
            status: None,
            request_bytes: 0,
            response_bytes: 0,
            duration: std::time::Duration::from_millis(800),
            error: Some("connection-read-timeout: no response within 800 ms".into()),
        };
        j.record("c", Instant::now(), JournalRecord::HttpRequest(exchange));
        let timeline = j.timeline("c").unwrap();
        let line = timeline.entries[0].to_string();
        assert!(
            line.contains("-> http          GET https://crm.example.com/callers/42 => no answer in 800 ms, 0 bytes (connection-read-timeout"),
            "{line}"
        );
        let entry = serde_json::to_value(&timeline.entries[0]).unwrap();
        assert_eq!(entry["kind"], "http-request");
        assert_eq!(entry["url"], "https://crm.example.com/callers/42");
        assert_eq!(entry["durationMs"], 800);
        assert_eq!(entry["responseBytes"], 0);
        assert!(entry.get("status").is_none());
    }

    #[test]
    fn a_call_keeps_at_most_its_bytes() {
        let j = MemoryJournal::new(JournalConfig {
            max_bytes_per_call: 10_000,
            ..JournalConfig::default()
        });
        for _ in 0..10 {
            j.record("c", Instant::now(), big(3_000));
        }
        let timeline = j.timeline("c").unwrap();
        assert_eq!((timeline.entries.len(), timeline.dropped_entries), (3, 7));
        assert!(j.lock().bytes <= 10_000);
    }

    #[test]
    fn the_total_is_bounded_by_evicting_other_calls_oldest_first() {
        let j = MemoryJournal::new(JournalConfig {
            max_bytes: 25_000,
            ..JournalConfig::default()
        });
        for n in 0..10 {
            j.record(&format!("c{n}"), Instant::now(), big(5_000));
        }
        assert!(j.lock().bytes <= 25_000, "{}", j.lock().bytes);
        assert!(j.timeline("c0").is_none());
        assert!(j.timeline("c9").is_some());
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
    fn a_call_id_seen_again_after_eviction_is_a_new_call() {
        let j = journal(2, 60, 10);
        j.record("a", Instant::now(), note(1));
        j.call_ended("a");
        j.record("b", Instant::now(), note(1));
        j.record("c", Instant::now(), note(1));
        assert!(j.timeline("a").is_none());
        // "a" comes back: the stale queue items of the first "a" must not evict it.
        j.record("a", Instant::now(), note(2));
        assert!(j.timeline("b").is_none(), "the oldest call goes");
        j.record("d", Instant::now(), note(1));
        assert!(j.timeline("c").is_none());
        assert_eq!(
            j.timeline("a").unwrap().notifications(),
            vec![json!({"n": 2})]
        );
    }

    #[test]
    fn many_ended_calls_keep_the_queues_bounded() {
        let j = journal(100, 0, 10);
        for n in 0..10_000 {
            let id = format!("call-{n}");
            j.record(&id, Instant::now(), note(n));
            j.call_ended(&id);
        }
        let calls = j.lock();
        assert!(calls.by_id.len() <= 1);
        assert!(calls.order.len() <= 2 * calls.by_id.len() + 65);
        assert!(calls.ended.len() <= 1);
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
