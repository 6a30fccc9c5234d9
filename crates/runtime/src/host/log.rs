//! `log` (wit/log.wit): plugin log lines into the host log, tagged with plugin and call.

use crate::bindings::log::{self, Level};
use crate::event_ctx::EventCtx;

/// Longest message or field value kept; the rest is cut.
const MAX_TEXT: usize = 4096;

fn clip(text: &str) -> &str {
    if text.len() <= MAX_TEXT {
        return text;
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl log::Host for EventCtx {
    async fn log(
        &mut self,
        level: Level,
        message: String,
        fields: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        self.host_call()?;
        if !self.log_line_allowed() {
            return Ok(());
        }
        let plugin = self.plugin.id.as_str();
        let call_id = self.origin.call_id.as_str();
        let message = clip(&message);
        let fields = fields
            .iter()
            .take(32)
            .map(|(k, v)| format!("{}={}", clip(k), clip(v)))
            .collect::<Vec<_>>()
            .join(" ");
        macro_rules! emit {
            ($lvl:ident) => {
                tracing::$lvl!(target: "callhost::plugin", plugin, call_id, fields = %fields, "{message}")
            };
        }
        match level {
            Level::Trace => emit!(trace),
            Level::Debug => emit!(debug),
            Level::Info => emit!(info),
            Level::Warn => emit!(warn),
            Level::Error => emit!(error),
        }
        Ok(())
    }
}
