//! What one call may cost: queued notifications, events and Graph requests per second, and
//! what is held for calls not registered yet. Each limit has a default that no real call
//! reaches; what goes past one is refused or dropped with a warning that names the limit.

use std::time::{Duration, Instant};

/// Per-call and orphan limits of the dispatcher.
#[derive(Debug, Clone, PartialEq)]
pub struct CallLimits {
    /// Notifications queued for one call and not handled yet; a callback that would queue
    /// more is answered `503` with `Retry-After` and nothing of it is queued.
    pub queue_per_call: usize,
    /// Bytes of the notifications queued for one call; past it, as past `queue_per_call`.
    pub queue_bytes_per_call: usize,
    /// Bytes of the notifications queued for all calls together; past it, every callback
    /// that would queue more is answered `503` with `Retry-After`.
    pub queue_bytes: usize,
    /// Events a call's plugin is run for per second, on average …
    pub events_per_second: f64,
    /// … and at once. Past it, events are dropped with a warning (`rate-limited`).
    pub event_burst: u32,
    /// Graph requests a call's plugin may make per second, on average …
    pub actions_per_second: f64,
    /// … and at once. Past it, the plugin's request fails with `throttled`.
    pub action_burst: u32,
    /// Notifications held for one call not registered yet; past it the oldest goes.
    pub orphans_per_call: usize,
    /// Calls not registered yet that notifications are held for; past it the oldest goes.
    pub orphan_calls: usize,
    /// Bytes of all held notifications together; past it the oldest go.
    pub orphan_bytes: usize,
    /// Calls that are known at once; an incoming call past it is rejected as busy.
    pub max_calls: usize,
}

impl Default for CallLimits {
    fn default() -> Self {
        Self {
            queue_per_call: 500,
            queue_bytes_per_call: 8 << 20,
            queue_bytes: 128 << 20,
            events_per_second: 100.0,
            event_burst: 200,
            actions_per_second: 10.0,
            action_burst: 40,
            orphans_per_call: 64,
            orphan_calls: 1000,
            orphan_bytes: 16 << 20,
            max_calls: 10_000,
        }
    }
}

impl CallLimits {
    /// Every problem with the limits, as `calls.<key>` lines.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut positive = |key: &str, ok: bool| {
            if !ok {
                problems.push(format!("calls.{key} must be greater than 0"));
            }
        };
        positive("queue_per_call", self.queue_per_call > 0);
        positive("queue_bytes_per_call", self.queue_bytes_per_call > 0);
        positive("queue_bytes", self.queue_bytes > 0);
        positive("events_per_second", self.events_per_second > 0.0);
        positive("event_burst", self.event_burst > 0);
        positive("actions_per_second", self.actions_per_second > 0.0);
        positive("action_burst", self.action_burst > 0);
        positive("orphans_per_call", self.orphans_per_call > 0);
        positive("orphan_calls", self.orphan_calls > 0);
        positive("orphan_bytes", self.orphan_bytes > 0);
        positive("max_calls", self.max_calls > 0);
        problems
    }
}

/// A token bucket: `burst` at once, refilled at `per_second`.
#[derive(Debug)]
pub(crate) struct RateLimit {
    per_second: f64,
    burst: f64,
    tokens: f64,
    updated: Instant,
}

impl RateLimit {
    pub(crate) fn new(per_second: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            per_second,
            burst,
            tokens: burst,
            updated: Instant::now(),
        }
    }

    /// Takes one token if there is one.
    pub(crate) fn allow(&mut self) -> bool {
        self.allow_at(Instant::now())
    }

    fn allow_at(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.updated);
        self.updated = now;
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.per_second).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// How long Graph waits for an incoming call's answer: a decision still in flight past it
/// is given up.
pub const DECISION_WINDOW: Duration = Duration::from_secs(15);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let mut limit = RateLimit::new(10.0, 3);
        let start = limit.updated;
        assert!((0..3).all(|_| limit.allow_at(start)));
        assert!(!limit.allow_at(start));
        assert!(!limit.allow_at(start + Duration::from_millis(50)));
        assert!(limit.allow_at(start + Duration::from_millis(110)));
        assert!(!limit.allow_at(start + Duration::from_millis(120)));
        // Refilled to the burst, never past it.
        let later = start + Duration::from_secs(60);
        assert!((0..3).all(|_| limit.allow_at(later)));
        assert!(!limit.allow_at(later));
    }

    #[test]
    fn zero_limits_are_named() {
        let limits = CallLimits {
            queue_per_call: 0,
            action_burst: 0,
            ..CallLimits::default()
        };
        assert_eq!(
            limits.problems(),
            [
                "calls.queue_per_call must be greater than 0",
                "calls.action_burst must be greater than 0"
            ]
        );
        assert!(CallLimits::default().problems().is_empty());
    }
}
