//! A call's timeline as a person reads it: one line per entry, with its offset in ms.

use std::fmt;

use serde_json::Value;

use super::record::{JournalRecord, Timeline, TimelineEntry};

impl fmt::Display for Timeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = if self.ended { "ended" } else { "in progress" };
        writeln!(f, "call {} ({status})", self.call_id)?;
        for entry in &self.entries {
            writeln!(f, "{entry}")?;
        }
        if self.dropped_entries > 0 {
            writeln!(f, "  … {} more entries not kept", self.dropped_entries)?;
        }
        Ok(())
    }
}

impl fmt::Display for TimelineEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = format!("+{} ms", self.at.as_millis());
        match &self.record {
            JournalRecord::Notification { body } => {
                write!(
                    f,
                    "  {at:>9}  <- notification  {}",
                    notification_summary(body)
                )
            }
            JournalRecord::Invocation(i) => write!(
                f,
                "  {at:>9}  ** plugin        {} {} {}: {} in {} ms",
                i.plugin,
                i.version,
                i.event,
                i.outcome.kind(),
                i.duration.as_millis()
            ),
            JournalRecord::GraphRequest(r) => {
                let status = r
                    .status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "no answer".into());
                write!(
                    f,
                    "  {at:>9}  -> graph         {} {} => {status} in {} ms",
                    r.method,
                    r.path,
                    r.duration.as_millis()
                )?;
                if r.origin == crate::call::HOST_ORIGIN {
                    write!(f, " (by callhost)")?;
                }
                Ok(())
            }
            JournalRecord::HttpRequest(r) => {
                let status = r
                    .status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "no answer".into());
                write!(
                    f,
                    "  {at:>9}  -> http          {} {} => {status} in {} ms, {} bytes",
                    r.method,
                    r.url,
                    r.duration.as_millis(),
                    r.response_bytes
                )?;
                if let Some(error) = &r.error {
                    write!(f, " ({error})")?;
                }
                Ok(())
            }
            JournalRecord::Fallback { fallback, reason } => {
                write!(f, "  {at:>9}  !! fallback      {fallback}: {reason}")
            }
            JournalRecord::Timer {
                timer,
                change,
                delay_ms,
            } => {
                let change = serde_json::to_value(change)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                write!(f, "  {at:>9}  .. timer         {timer} {change}")?;
                if let Some(ms) = delay_ms {
                    write!(f, " ({ms} ms)")?;
                }
                Ok(())
            }
        }
    }
}

/// `created call: incoming`, `updated call: established, tone 1`, `deleted
/// playPromptOperation: completed 200/0`, `updated roster: 3 participants`.
pub(crate) fn notification_summary(body: &Value) -> String {
    let Some(entries) = body.get("value").and_then(Value::as_array) else {
        return "(not a commsNotifications document)".into();
    };
    entries
        .iter()
        .map(|entry| {
            let change = entry
                .get("changeType")
                .and_then(Value::as_str)
                .unwrap_or("?");
            format!("{change} {}", resource_summary(entry.get("resourceData")))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn resource_summary(data: Option<&Value>) -> String {
    let Some(data) = data else {
        return "(no resourceData)".into();
    };
    if let Some(list) = data.as_array() {
        return format!("roster: {} participants", list.len());
    }
    let kind = data
        .get("@odata.type")
        .and_then(Value::as_str)
        .map(|t| t.trim_start_matches("#microsoft.graph."))
        .unwrap_or("resource");
    let mut parts = Vec::new();
    for key in ["state", "status"] {
        if let Some(value) = data.get(key).and_then(Value::as_str) {
            parts.push(value.to_string());
        }
    }
    if let Some(tone) = data.pointer("/toneInfo/tone").and_then(Value::as_str) {
        parts.push(format!("tone {tone}"));
    }
    if let Some(result) = data.get("resultInfo") {
        let code = |k: &str| result.get(k).and_then(Value::as_i64).unwrap_or_default();
        parts.push(format!("result {}/{}", code("code"), code("subcode")));
    }
    if parts.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {}", parts.join(", "))
    }
}
