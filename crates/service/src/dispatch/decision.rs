//! The one decision on an incoming call: answered, rejected or redirected by its plugin, or
//! the route's fallback — exactly once. A plugin's deciding request holds the decision while
//! it is in flight; the fallback takes only a decision nobody holds, and waits for one in
//! flight rather than racing it.

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// Who settled the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecidedBy {
    Plugin,
    Fallback,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// A deciding request is in flight.
    InFlight,
    Decided(DecidedBy),
}

/// The decision of one incoming call.
#[derive(Debug)]
pub(crate) struct Decision {
    state: Mutex<State>,
    settled: Notify,
}

impl Default for Decision {
    fn default() -> Self {
        Self {
            state: Mutex::new(State::Open),
            settled: Notify::new(),
        }
    }
}

/// A deciding request in flight; see [`Decision::begin`]. Dropped without
/// [`Ticket::decided`] (the request failed, or was abandoned), the decision is open again.
#[derive(Debug)]
pub(crate) struct Ticket {
    decision: Arc<Decision>,
    settled: bool,
}

impl Ticket {
    /// The request succeeded: the call is decided.
    pub(crate) fn decided(mut self) {
        self.settled = true;
        self.decision.settle(State::Decided(DecidedBy::Plugin));
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.settled {
            self.decision.settle(State::Open);
        }
    }
}

impl Decision {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn settle(&self, state: State) {
        *self.lock() = state;
        self.settled.notify_waiters();
    }

    /// Holds the decision for a deciding request, or says why it cannot be made: the call
    /// was decided already, or another deciding request is in flight.
    pub(crate) fn begin(self: &Arc<Self>) -> Result<Ticket, String> {
        let mut state = self.lock();
        match *state {
            State::Open => {
                *state = State::InFlight;
                Ok(Ticket {
                    decision: self.clone(),
                    settled: false,
                })
            }
            State::InFlight => Err("another answer, reject or redirect of this call is in flight".into()),
            State::Decided(DecidedBy::Plugin) => {
                Err("the call was already answered, rejected or redirected".into())
            }
            State::Decided(DecidedBy::Fallback) => Err(
                "the route's fallback decided on the call: the plugin did not decide within its decision budget"
                    .into(),
            ),
        }
    }

    /// Takes the decision for the fallback if nobody decided: waits while a deciding request
    /// is in flight, until `deadline`. Returns whether the fallback is to run.
    pub(crate) async fn take_for_fallback(&self, deadline: tokio::time::Instant) -> bool {
        loop {
            let settled = self.settled.notified();
            {
                let mut state = self.lock();
                match *state {
                    State::Open => {
                        *state = State::Decided(DecidedBy::Fallback);
                        return true;
                    }
                    State::Decided(_) => return false,
                    State::InFlight => {}
                }
            }
            if tokio::time::timeout_at(deadline, settled).await.is_err() {
                return false;
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn is_decided(&self) -> bool {
        self.decided_by().is_some()
    }

    pub(crate) fn decided_by(&self) -> Option<DecidedBy> {
        match *self.lock() {
            State::Decided(by) => Some(by),
            State::Open | State::InFlight => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn soon(ms: u64) -> tokio::time::Instant {
        tokio::time::Instant::now() + Duration::from_millis(ms)
    }

    #[tokio::test]
    async fn the_fallback_takes_only_an_open_decision() {
        let decision = Arc::new(Decision::default());
        assert!(decision.take_for_fallback(soon(10)).await);
        let refused = decision.begin().unwrap_err();
        assert!(refused.contains("fallback"), "{refused}");
        assert!(!decision.take_for_fallback(soon(10)).await);
    }

    #[tokio::test]
    async fn a_decision_in_flight_is_awaited_not_raced() {
        let decision = Arc::new(Decision::default());
        let ticket = decision.begin().unwrap();
        assert!(decision.begin().is_err(), "one deciding request at a time");
        let waiting = {
            let decision = decision.clone();
            tokio::spawn(async move { decision.take_for_fallback(soon(5_000)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        ticket.decided();
        assert!(!waiting.await.unwrap(), "the plugin decided: no fallback");
        assert!(decision.is_decided());
    }

    #[tokio::test]
    async fn a_failed_request_reopens_the_decision_for_the_fallback() {
        let decision = Arc::new(Decision::default());
        let ticket = decision.begin().unwrap();
        let waiting = {
            let decision = decision.clone();
            tokio::spawn(async move { decision.take_for_fallback(soon(5_000)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(ticket);
        assert!(
            waiting.await.unwrap(),
            "the answer failed: the fallback runs"
        );
    }

    #[tokio::test]
    async fn a_request_in_flight_past_the_window_is_given_up() {
        let decision = Arc::new(Decision::default());
        let _ticket = decision.begin().unwrap();
        assert!(!decision.take_for_fallback(soon(20)).await);
    }
}
