//! Notifications held for calls not registered yet (a create request has not returned):
//! bounded per call, in calls and in bytes, oldest first out, and expired in arrival order so
//! that holding and expiring cost O(1) per notification however many are held.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::calls::Work;
use super::limits::CallLimits;

/// What the dispatcher holds for calls it does not know yet.
#[derive(Default)]
pub(crate) struct Orphans {
    by_call: HashMap<String, Held>,
    /// (generation, key), in the order calls were first held for; an item whose call was
    /// taken or dropped since is stale and skipped.
    order: VecDeque<(u64, String)>,
    bytes: usize,
    next_generation: u64,
}

struct Held {
    generation: u64,
    since: Instant,
    call_id: String,
    /// (bytes, tenant of the token it came with, work).
    works: VecDeque<(usize, String, Work)>,
    bytes: usize,
}

/// Notifications given up: held past a limit or past their time.
pub(crate) struct Released {
    pub call_id: String,
    pub works: Vec<Work>,
}

/// A held notification and the tenant of the token it came with.
pub(crate) struct HeldWork {
    pub tenant: String,
    pub work: Work,
}

impl Orphans {
    pub(crate) fn is_empty(&self) -> bool {
        self.by_call.is_empty()
    }

    /// Holds `work`, which came with a token for `tenant`, for the call `key`; returns what
    /// had to go to stay within `limits`.
    pub(crate) fn hold(
        &mut self,
        key: &str,
        call_id: &str,
        (tenant, work): (&str, Work),
        bytes: usize,
        limits: &CallLimits,
    ) -> Vec<Released> {
        let mut released = Vec::new();
        if !self.by_call.contains_key(key) {
            while self.by_call.len() >= limits.orphan_calls {
                match self.pop_oldest() {
                    Some(oldest) => released.push(oldest),
                    None => break,
                }
            }
            let generation = self.next_generation;
            self.next_generation += 1;
            self.order.push_back((generation, key.to_owned()));
            self.by_call.insert(
                key.to_owned(),
                Held {
                    generation,
                    since: Instant::now(),
                    call_id: call_id.to_owned(),
                    works: VecDeque::new(),
                    bytes: 0,
                },
            );
        }
        let held = self.by_call.get_mut(key).expect("inserted above");
        held.works.push_back((bytes, tenant.to_owned(), work));
        held.bytes += bytes;
        self.bytes += bytes;
        if held.works.len() > limits.orphans_per_call
            && let Some((size, _, oldest)) = held.works.pop_front()
        {
            held.bytes -= size;
            self.bytes -= size;
            released.push(Released {
                call_id: held.call_id.clone(),
                works: vec![oldest],
            });
        }
        while self.bytes > limits.orphan_bytes {
            match self.pop_oldest() {
                Some(oldest) => released.push(oldest),
                None => break,
            }
        }
        released
    }

    /// Everything held for `key`, in arrival order.
    pub(crate) fn take(&mut self, key: &str) -> Vec<HeldWork> {
        match self.by_call.remove(key) {
            Some(held) => {
                self.bytes -= held.bytes;
                held.works
                    .into_iter()
                    .map(|(_, tenant, work)| HeldWork { tenant, work })
                    .collect()
            }
            None => Vec::new(),
        }
    }

    /// The calls held for `hold` or longer, oldest first.
    pub(crate) fn expired(&mut self, now: Instant, hold: Duration) -> Vec<Released> {
        let mut released = Vec::new();
        while let Some((generation, key)) = self.order.front() {
            match self.by_call.get(key) {
                Some(held) if held.generation == *generation => {
                    if now.duration_since(held.since) < hold {
                        break;
                    }
                    if let Some(oldest) = self.pop_oldest() {
                        released.push(oldest);
                    }
                }
                _ => {
                    self.order.pop_front();
                }
            }
        }
        released
    }

    /// When the oldest held call expires.
    pub(crate) fn next_expiry(&mut self, hold: Duration) -> Option<Instant> {
        self.skip_stale();
        let (_, key) = self.order.front()?;
        self.by_call.get(key).map(|held| held.since + hold)
    }

    fn skip_stale(&mut self) {
        while let Some((generation, key)) = self.order.front() {
            if self
                .by_call
                .get(key)
                .is_some_and(|held| held.generation == *generation)
            {
                return;
            }
            self.order.pop_front();
        }
    }

    fn pop_oldest(&mut self) -> Option<Released> {
        self.skip_stale();
        let (_, key) = self.order.pop_front()?;
        let held = self.by_call.remove(&key)?;
        self.bytes -= held.bytes;
        Some(Released {
            call_id: held.call_id,
            works: held.works.into_iter().map(|(_, _, w)| w).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::ResultInfo;

    fn work() -> Work {
        Work::EndLocally(ResultInfo {
            code: 0,
            subcode: 0,
            message: None,
        })
    }

    impl Orphans {
        fn hold_for(
            &mut self,
            key: &str,
            call_id: &str,
            work: Work,
            bytes: usize,
            limits: &CallLimits,
        ) -> Vec<Released> {
            self.hold(key, call_id, ("t", work), bytes, limits)
        }
    }

    fn limits(per_call: usize, calls: usize, bytes: usize) -> CallLimits {
        CallLimits {
            orphans_per_call: per_call,
            orphan_calls: calls,
            orphan_bytes: bytes,
            ..CallLimits::default()
        }
    }

    #[test]
    fn per_call_calls_and_bytes_are_bounded_oldest_first() {
        let mut orphans = Orphans::default();
        let l = limits(2, 2, 1000);
        assert!(orphans.hold_for("a", "A", work(), 10, &l).is_empty());
        assert!(orphans.hold_for("a", "A", work(), 10, &l).is_empty());
        let over = orphans.hold_for("a", "A", work(), 10, &l);
        assert_eq!((over.len(), over[0].call_id.as_str()), (1, "A"));
        assert!(orphans.hold_for("b", "B", work(), 10, &l).is_empty());
        let over = orphans.hold_for("c", "C", work(), 10, &l);
        assert_eq!(over[0].call_id, "A", "the oldest call goes first");
        assert_eq!(over[0].works.len(), 2);
        let over = orphans.hold_for("d", "D", work(), 995, &l);
        let gone: Vec<&str> = over.iter().map(|r| r.call_id.as_str()).collect();
        assert_eq!(gone, ["B", "C"], "bytes over the limit: oldest calls go");
        assert_eq!(orphans.take("d").len(), 1);
        assert!(orphans.is_empty());
        assert_eq!(orphans.bytes, 0);
    }

    #[test]
    fn expiry_walks_from_the_oldest_and_skips_taken_calls() {
        let mut orphans = Orphans::default();
        let l = limits(10, 10, 1 << 20);
        orphans.hold_for("a", "A", work(), 1, &l);
        orphans.hold_for("b", "B", work(), 1, &l);
        assert_eq!(orphans.take("a").len(), 1);
        let hold = Duration::from_secs(15);
        assert!(orphans.expired(Instant::now(), hold).is_empty());
        let next = orphans.next_expiry(hold).unwrap();
        let expired = orphans.expired(next, hold);
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].call_id, "B");
        assert!(orphans.next_expiry(hold).is_none());
    }

    #[test]
    fn many_orphans_keep_the_order_queue_bounded() {
        let mut orphans = Orphans::default();
        let l = limits(4, 100, 1 << 20);
        for n in 0..100_000 {
            let key = format!("k{n}");
            orphans.hold_for(&key, &key, work(), 8, &l);
        }
        assert_eq!(orphans.by_call.len(), 100);
        assert!(orphans.order.len() <= 100, "{}", orphans.order.len());
    }
}
