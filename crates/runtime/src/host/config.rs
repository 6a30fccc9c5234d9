//! `config` (wit/config.wit): the plugin's configured values.

use crate::bindings::config;
use crate::event_ctx::EventCtx;

impl config::Host for EventCtx {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        self.host_call()?;
        Ok(self.plugin.config.get(&key).cloned())
    }

    async fn get_all(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
        self.host_call()?;
        Ok(self
            .plugin
            .config
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}
