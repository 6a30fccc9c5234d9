//! `config` (wit/config.wit): the plugin's configured values.

use std::collections::BTreeMap;

use crate::bindings::config;
use crate::limits::HostCallBudget;

/// What the `config` interface acts on: the plugin's `config` table.
pub(crate) struct ConfigCtx<'a> {
    pub config: &'a BTreeMap<String, String>,
    pub host_calls: &'a mut HostCallBudget,
}

impl config::Host for ConfigCtx<'_> {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        self.host_calls.charge()?;
        Ok(self.config.get(&key).cloned())
    }

    async fn get_all(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
        self.host_calls.charge()?;
        Ok(self
            .config
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

#[cfg(test)]
mod tests;
