//! `state` (wit/state.wit): call- and plugin-scoped key-value state, buffered per event.

use crate::bindings::state::{self, Scope, StateError};
use crate::event_ctx::EventCtx;
use crate::state_store::StateTxn;

impl EventCtx {
    fn scope(&mut self, scope: Scope) -> &mut StateTxn {
        match scope {
            Scope::Call => &mut self.call_state,
            Scope::Plugin => &mut self.plugin_state,
        }
    }
}

impl state::Host for EventCtx {
    async fn get(&mut self, scope: Scope, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        self.host_call()?;
        Ok(self.scope(scope).get(&key))
    }

    async fn set(
        &mut self,
        scope: Scope,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), StateError>> {
        self.host_call()?;
        Ok(self
            .scope(scope)
            .set(key, value)
            .map_err(StateError::QuotaExceeded))
    }

    async fn delete(&mut self, scope: Scope, key: String) -> wasmtime::Result<()> {
        self.host_call()?;
        self.scope(scope).delete(key);
        Ok(())
    }

    async fn list_keys(&mut self, scope: Scope) -> wasmtime::Result<Vec<String>> {
        self.host_call()?;
        Ok(self.scope(scope).keys())
    }
}
