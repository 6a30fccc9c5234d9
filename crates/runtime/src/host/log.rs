//! `log` (wit/log.wit): plugin log lines into the host log, tagged with plugin and call.

use crate::bindings::log::{self, Level};
use crate::limits::{HostCallBudget, LogBudget};

/// Longest message or field value kept; the rest is cut.
const MAX_TEXT: usize = 4096;

/// Fields kept per line; the rest are dropped.
const MAX_FIELDS: usize = 32;

/// What the `log` interface acts on: the tags of its lines and the event's line budget.
pub(crate) struct LogCtx<'a> {
    pub plugin_id: &'a str,
    pub call_id: &'a str,
    pub lines: &'a mut LogBudget,
    pub host_calls: &'a mut HostCallBudget,
}

/// `text` cut to at most [`MAX_TEXT`] bytes, at a character boundary.
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

impl log::Host for LogCtx<'_> {
    async fn log(
        &mut self,
        level: Level,
        message: String,
        fields: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        self.host_calls.charge()?;
        if !self.lines.admit() {
            return Ok(());
        }
        let plugin = self.plugin_id;
        let call_id = self.call_id;
        let message = clip(&message);
        let fields = fields
            .iter()
            .take(MAX_FIELDS)
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

#[cfg(test)]
mod tests;
