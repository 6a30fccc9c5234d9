//! What one event does to its call's timers and tone collection: checked when the plugin
//! asks, kept in order, and handed to the host with the invocation only when the plugin
//! returned (like state writes).

use std::collections::BTreeSet;

use callhost_call::{CollectTones, MAX_TIMERS_PER_CALL, TimerRequest, timer_problem};

/// The call's timers as the event starts: what the host knows before the plugin runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimerView {
    /// The names of the call's pending timers (the workflow's own, not the host's).
    pub pending: BTreeSet<String>,
    /// Whether a tone collection is in progress.
    pub collecting: bool,
}

/// Why a timer request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TimerRefusal {
    Invalid(String),
    TooMany(u32),
    NotFound,
}

/// The timer requests of one event.
pub(crate) struct TimerTxn {
    call_id: String,
    view: TimerView,
    requests: Vec<TimerRequest>,
}

impl TimerTxn {
    pub(crate) fn new(call_id: String, view: TimerView) -> Self {
        Self {
            call_id,
            view,
            requests: Vec::new(),
        }
    }

    /// Timers and tone collection act on the event's own call only.
    fn own(&self, call_id: &str) -> Result<(), TimerRefusal> {
        let digits = |id: &str| {
            id.chars()
                .filter(|c| !matches!(c, '-' | '{' | '}'))
                .map(|c| c.to_ascii_lowercase())
                .collect::<String>()
        };
        // Graph writes one GUID in any letter case, with or without dashes or braces.
        match digits(call_id) == digits(&self.call_id) {
            true => Ok(()),
            false => Err(TimerRefusal::NotFound),
        }
    }

    pub(crate) fn set(
        &mut self,
        call_id: &str,
        name: String,
        delay_ms: u64,
        payload: Option<String>,
    ) -> Result<(), TimerRefusal> {
        self.own(call_id)?;
        if let Some(problem) = timer_problem(&name, delay_ms, payload.as_deref()) {
            return Err(TimerRefusal::Invalid(problem));
        }
        if !self.view.pending.contains(&name) && self.view.pending.len() >= MAX_TIMERS_PER_CALL {
            return Err(TimerRefusal::TooMany(MAX_TIMERS_PER_CALL as u32));
        }
        self.view.pending.insert(name.clone());
        self.requests.push(TimerRequest::Set {
            name,
            delay_ms,
            payload,
        });
        Ok(())
    }

    /// `true` when the timer was pending.
    pub(crate) fn cancel(&mut self, call_id: &str, name: String) -> Result<bool, TimerRefusal> {
        self.own(call_id)?;
        let pending = self.view.pending.remove(&name);
        if pending {
            self.requests.push(TimerRequest::Cancel { name });
        }
        Ok(pending)
    }

    pub(crate) fn pending(&self, call_id: &str) -> Result<Vec<String>, TimerRefusal> {
        self.own(call_id)?;
        Ok(self.view.pending.iter().cloned().collect())
    }

    pub(crate) fn collect(
        &mut self,
        call_id: &str,
        options: CollectTones,
    ) -> Result<(), TimerRefusal> {
        self.own(call_id)?;
        if let Some(problem) = options.problem() {
            return Err(TimerRefusal::Invalid(problem));
        }
        self.view.collecting = true;
        self.requests.push(TimerRequest::Collect(options));
        Ok(())
    }

    /// `true` when a collection was in progress.
    pub(crate) fn stop_collecting(&mut self, call_id: &str) -> Result<bool, TimerRefusal> {
        self.own(call_id)?;
        let collecting = std::mem::take(&mut self.view.collecting);
        if collecting {
            self.requests.push(TimerRequest::StopCollecting);
        }
        Ok(collecting)
    }

    /// The requests, for the host to carry out.
    pub(crate) fn into_requests(self) -> Vec<TimerRequest> {
        self.requests
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(pending: &[&str]) -> TimerTxn {
        let view = TimerView {
            pending: pending.iter().map(|n| n.to_string()).collect(),
            collecting: false,
        };
        TimerTxn::new("6b0af4b6-0000-4001-a000-000000000001".into(), view)
    }

    #[test]
    fn the_calls_id_in_any_form_is_its_own() {
        let mut t = txn(&[]);
        t.set(
            "6B0AF4B6000040 01A000000000000001"
                .replace(' ', "")
                .as_str(),
            "a".into(),
            500,
            None,
        )
        .unwrap();
        assert_eq!(
            t.set("another-call", "a".into(), 500, None),
            Err(TimerRefusal::NotFound)
        );
    }

    #[test]
    fn names_delays_and_payloads_are_bounded() {
        let call = "6b0af4b6-0000-4001-a000-000000000001";
        let mut t = txn(&[]);
        let refused = |r: Result<(), TimerRefusal>| match r {
            Err(TimerRefusal::Invalid(text)) => text,
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert!(refused(t.set(call, "".into(), 500, None)).contains("1 to 64 bytes"));
        assert!(refused(t.set(call, "#mine".into(), 500, None)).contains("belong to callhost"));
        assert!(
            refused(t.set(call, "a".into(), 99, None)).contains("100 ms to 86400000 ms; 99 ms")
        );
        let payload = "x".repeat(4097);
        assert!(
            refused(t.set(call, "a".into(), 500, Some(payload))).contains("at most 4096 bytes")
        );
        assert!(t.into_requests().is_empty(), "nothing refused is kept");
    }

    #[test]
    fn a_call_has_at_most_sixteen_pending_and_a_replacement_is_no_new_one() {
        let call = "6b0af4b6-0000-4001-a000-000000000001";
        let names: Vec<String> = (0..16).map(|i| format!("t{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut t = txn(&names);
        assert_eq!(
            t.set(call, "one-more".into(), 500, None),
            Err(TimerRefusal::TooMany(16))
        );
        t.set(call, "t3".into(), 500, None).unwrap();
        assert!(t.cancel(call, "t0".into()).unwrap());
        assert!(!t.cancel(call, "t0".into()).unwrap(), "cancelled already");
        t.set(call, "one-more".into(), 500, None).unwrap();
        assert_eq!(t.pending(call).unwrap().len(), 16);
        let requests = t.into_requests();
        assert_eq!(requests.len(), 3);
    }
}
