//! What one event may spend: host calls, call-control actions and log lines. The counters live
//! in the event's store; the host interfaces borrow the ones they charge.

use crate::outcome::HostLimitExceeded;

/// Host calls (state, log, config, call-control) of one event; past the limit the plugin is
/// stopped.
pub(crate) struct HostCallBudget {
    used: u32,
    limit: u32,
}

impl HostCallBudget {
    pub(crate) fn new(limit: u32) -> Self {
        Self { used: 0, limit }
    }

    /// Counts one host call; the error is the trap that stops the plugin.
    pub(crate) fn charge(&mut self) -> wasmtime::Result<()> {
        charge(&mut self.used, self.limit, "host calls")
    }
}

/// Call-control actions (Graph requests) of one event; past the limit the plugin is stopped.
pub(crate) struct ActionBudget {
    used: u32,
    limit: u32,
    /// Requests the plugin's policy refused.
    pub(crate) denied: u32,
}

impl ActionBudget {
    pub(crate) fn new(limit: u32) -> Self {
        Self {
            used: 0,
            limit,
            denied: 0,
        }
    }

    /// Counts one action; the error is the trap that stops the plugin.
    pub(crate) fn charge(&mut self) -> wasmtime::Result<()> {
        charge(&mut self.used, self.limit, "call-control actions")
    }
}

/// Log lines of one event; past the limit lines are dropped and counted, the plugin goes on.
pub(crate) struct LogBudget {
    used: u32,
    limit: u32,
    pub(crate) dropped: u32,
}

impl LogBudget {
    pub(crate) fn new(limit: u32) -> Self {
        Self {
            used: 0,
            limit,
            dropped: 0,
        }
    }

    /// Whether one more line fits; a line that does not is counted as dropped.
    pub(crate) fn admit(&mut self) -> bool {
        self.used += 1;
        let admitted = self.used <= self.limit;
        if !admitted {
            self.dropped += 1;
        }
        admitted
    }
}

fn charge(used: &mut u32, limit: u32, what: &'static str) -> wasmtime::Result<()> {
    *used += 1;
    if *used > limit {
        return Err(wasmtime::Error::new(HostLimitExceeded { what, limit }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_trap_past_their_limit() {
        let mut calls = HostCallBudget::new(2);
        assert!(calls.charge().is_ok());
        assert!(calls.charge().is_ok());
        let trap = calls.charge().unwrap_err();
        let limit = trap.downcast_ref::<HostLimitExceeded>().unwrap();
        assert_eq!((limit.what, limit.limit), ("host calls", 2));

        let mut actions = ActionBudget::new(0);
        let trap = actions.charge().unwrap_err();
        let limit = trap.downcast_ref::<HostLimitExceeded>().unwrap();
        assert_eq!((limit.what, limit.limit), ("call-control actions", 0));
    }

    #[test]
    fn log_lines_past_the_limit_are_dropped_and_counted() {
        let mut lines = LogBudget::new(1);
        assert!(lines.admit());
        assert!(!lines.admit());
        assert!(!lines.admit());
        assert_eq!(lines.dropped, 2);
    }
}
