//! Calls that ended or were decided without a plugin, remembered for a while: a late or
//! repeated notification for one of them is old news, not a new call.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// How many ended calls are remembered …
const CAPACITY: usize = 10_000;
/// … and for how long.
const REMEMBER_FOR: Duration = Duration::from_secs(60 * 60);

#[derive(Default)]
pub(crate) struct RecentCalls {
    /// Key → when it was remembered.
    by_key: HashMap<String, Instant>,
    order: VecDeque<(Instant, String)>,
}

impl RecentCalls {
    pub(crate) fn remember(&mut self, key: &str) {
        let now = Instant::now();
        self.forget_old(now);
        self.by_key.insert(key.to_owned(), now);
        self.order.push_back((now, key.to_owned()));
    }

    pub(crate) fn contains(&mut self, key: &str) -> bool {
        self.forget_old(Instant::now());
        self.by_key.contains_key(key)
    }

    fn forget_old(&mut self, now: Instant) {
        while let Some((at, _)) = self.order.front() {
            let expired = now.duration_since(*at) >= REMEMBER_FOR;
            if !expired && self.order.len() <= CAPACITY {
                return;
            }
            let (at, key) = self.order.pop_front().expect("front exists");
            if self.by_key.get(&key) == Some(&at) {
                self.by_key.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_calls_are_bounded() {
        let mut recent = RecentCalls::default();
        for n in 0..CAPACITY + 10 {
            recent.remember(&format!("c{n}"));
        }
        assert!(!recent.contains("c0"));
        assert!(recent.contains(&format!("c{}", CAPACITY + 9)));
        assert!(recent.by_key.len() <= CAPACITY);
    }
}
