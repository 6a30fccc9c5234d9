//! `state` (wit/state.wit): call- and plugin-scoped key-value state, buffered per event.

use crate::bindings::state::{self, Scope, StateError};
use crate::limits::HostCallBudget;
use crate::state_store::StateTxn;

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
}

impl state::Host for StateCtx<'_> {
    async fn get(&mut self, scope: Scope, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        self.host_calls.charge()?;
        Ok(self.scope(scope).get(&key))
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
        Ok(self.scope(scope).keys())
    }
}

#[cfg(test)]
mod tests;
