//! `state` (wit/state.wit): call- and plugin-scoped key-value state, buffered per event, and
//! compare-and-swap of plugin-scoped values, at once.

use crate::bindings::state::{self, Revisioned, Scope, StateError};
use crate::limits::HostCallBudget;
use crate::state_store::{StateFault, StateTxn, Swap};

/// How many times `increment` reads and swaps again when other calls keep changing the counter
/// before it gives up with `conflict`.
const INCREMENT_TRIES: u32 = 64;

/// What the `state` interface acts on: the event's two buffered scopes.
pub(crate) struct StateCtx<'a> {
    pub call: &'a mut StateTxn,
    pub plugin: &'a mut StateTxn,
    pub host_calls: &'a mut HostCallBudget,
}

impl StateCtx<'_> {
    fn scope(&mut self, scope: Scope) -> &mut StateTxn {
        match scope {
            Scope::Call => &mut *self.call,
            Scope::Plugin => &mut *self.plugin,
        }
    }

    /// The scope, with `key` (`None`: all of it) current: plugin state may have been written
    /// by another instance since this one read it.
    async fn current(
        &mut self,
        scope: Scope,
        key: Option<&str>,
    ) -> wasmtime::Result<&mut StateTxn> {
        if let Scope::Plugin = scope {
            self.plugin.prime(key).await.map_err(lost)?;
        }
        Ok(self.scope(scope))
    }

    /// A compare-and-swap of a plugin-scoped value.
    async fn swap(
        &mut self,
        key: String,
        expected: u64,
        value: Option<Vec<u8>>,
    ) -> wasmtime::Result<Result<u64, StateError>> {
        let swapped = self.plugin.swap(key, expected, value).await;
        Ok(match swapped {
            Ok(Ok(Swap::Done(revision))) => Ok(revision),
            Ok(Ok(Swap::Conflict(revision))) => Err(StateError::Conflict(revision)),
            Ok(Err(over)) => Err(StateError::QuotaExceeded(over)),
            Err(fault) => Err(unavailable(fault)?),
        })
    }

    async fn read(
        &mut self,
        key: &str,
    ) -> wasmtime::Result<Result<Option<Revisioned>, StateError>> {
        Ok(match self.plugin.read(key).await {
            Ok(entry) => Ok(entry.map(|e| Revisioned {
                value: e.value,
                revision: e.revision,
            })),
            Err(fault) => Err(unavailable(fault)?),
        })
    }
}

/// A store out of reach is the plugin's to handle; a call this instance lost ends the event.
fn unavailable(fault: StateFault) -> wasmtime::Result<StateError> {
    match fault {
        StateFault::Unavailable(why) => Ok(StateError::Unavailable(why)),
        lost @ StateFault::Lost(_) => Err(self::lost(lost)),
    }
}

fn lost(fault: StateFault) -> wasmtime::Error {
    let why = match fault {
        StateFault::Lost(why) | StateFault::Unavailable(why) => why,
    };
    wasmtime::Error::msg(format!(
        "the event stopped: this instance no longer owns its call ({why})"
    ))
}

impl state::Host for StateCtx<'_> {
    async fn get(&mut self, scope: Scope, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        self.host_calls.charge()?;
        Ok(self.current(scope, Some(&key)).await?.get(&key))
    }

    async fn set(
        &mut self,
        scope: Scope,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), StateError>> {
        self.host_calls.charge()?;
        Ok(self
            .scope(scope)
            .set(key, value)
            .map_err(StateError::QuotaExceeded))
    }

    async fn delete(&mut self, scope: Scope, key: String) -> wasmtime::Result<()> {
        self.host_calls.charge()?;
        self.scope(scope).delete(key);
        Ok(())
    }

    async fn list_keys(&mut self, scope: Scope) -> wasmtime::Result<Vec<String>> {
        self.host_calls.charge()?;
        Ok(self.current(scope, None).await?.keys())
    }

    async fn read_plugin(
        &mut self,
        key: String,
    ) -> wasmtime::Result<Result<Option<Revisioned>, StateError>> {
        self.host_calls.charge()?;
        self.read(&key).await
    }

    async fn compare_and_swap(
        &mut self,
        key: String,
        expected: u64,
        value: Option<Vec<u8>>,
    ) -> wasmtime::Result<Result<u64, StateError>> {
        self.host_calls.charge()?;
        self.swap(key, expected, value).await
    }

    async fn increment(
        &mut self,
        key: String,
        delta: i64,
    ) -> wasmtime::Result<Result<i64, StateError>> {
        self.host_calls.charge()?;
        let mut last = 0;
        for _ in 0..INCREMENT_TRIES {
            let (count, expected) = match self.read(&key).await? {
                Err(e) => return Ok(Err(e)),
                Ok(None) => (0, 0),
                Ok(Some(entry)) => match counter(&key, &entry.value) {
                    Ok(count) => (count, entry.revision),
                    Err(e) => return Ok(Err(e)),
                },
            };
            let Some(next) = count.checked_add(delta) else {
                return Ok(Err(StateError::Invalid(format!(
                    "`{key}` is {count}; adding {delta} overflows a signed 64-bit integer"
                ))));
            };
            match self
                .swap(key.clone(), expected, Some(next.to_string().into_bytes()))
                .await?
            {
                Ok(_) => return Ok(Ok(next)),
                Err(StateError::Conflict(revision)) => last = revision,
                Err(e) => return Ok(Err(e)),
            }
        }
        Ok(Err(StateError::Conflict(last)))
    }
}

/// A counter's value: a decimal integer, as `increment` stores it.
fn counter(key: &str, value: &[u8]) -> Result<i64, StateError> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .ok_or_else(|| {
            let shown = String::from_utf8_lossy(&value[..value.len().min(32)]).into_owned();
            StateError::Invalid(format!(
                "`{key}` holds {} bytes that are not a decimal integer (`{shown}`), so it cannot be incremented",
                value.len()
            ))
        })
}

#[cfg(test)]
mod tests;
