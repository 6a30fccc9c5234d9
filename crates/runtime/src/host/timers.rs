//! `timers` (wit/timers.wit): the call's timers, kept in the event's [`TimerTxn`] until it
//! returns.

use crate::bindings::timers::{self, TimerError};
use crate::limits::HostCallBudget;
use crate::timers::{TimerRefusal, TimerTxn};

/// What the `timers` interface acts on.
pub(crate) struct TimersCtx<'a> {
    pub timers: &'a mut TimerTxn,
    pub host_calls: &'a mut HostCallBudget,
}

fn error(refusal: TimerRefusal) -> TimerError {
    match refusal {
        TimerRefusal::Invalid(text) => TimerError::InvalidArgument(text),
        TimerRefusal::TooMany(limit) => TimerError::TooMany(limit),
        TimerRefusal::NotFound => TimerError::NotFound,
    }
}

impl timers::Host for TimersCtx<'_> {
    async fn set_timer(
        &mut self,
        call_id: String,
        name: String,
        delay_ms: u32,
        payload: Option<String>,
    ) -> wasmtime::Result<Result<(), TimerError>> {
        self.host_calls.charge()?;
        let set = self
            .timers
            .set(&call_id, name, u64::from(delay_ms), payload);
        Ok(set.map_err(error))
    }

    async fn cancel_timer(
        &mut self,
        call_id: String,
        name: String,
    ) -> wasmtime::Result<Result<bool, TimerError>> {
        self.host_calls.charge()?;
        Ok(self.timers.cancel(&call_id, name).map_err(error))
    }

    async fn pending_timers(
        &mut self,
        call_id: String,
    ) -> wasmtime::Result<Result<Vec<String>, TimerError>> {
        self.host_calls.charge()?;
        Ok(self.timers.pending(&call_id).map_err(error))
    }
}
