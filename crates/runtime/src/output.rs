//! A plugin's stdout and stderr: captured per event, bounded, then written to the host log
//! tagged with the plugin and the call. Writes past the bound are dropped, never refused, so a
//! chatty plugin is neither trapped nor blocked.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

#[derive(Default)]
struct Buffer {
    kept: Vec<u8>,
    dropped: usize,
}

/// One bounded output stream (stdout or stderr) of one event.
#[derive(Clone)]
pub(crate) struct CapturedOutput {
    capacity: usize,
    buffer: Arc<Mutex<Buffer>>,
}

impl CapturedOutput {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            buffer: Arc::default(),
        }
    }

    fn push(&self, bytes: &[u8]) {
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let room = self.capacity.saturating_sub(buffer.kept.len());
        let kept = room.min(bytes.len());
        buffer.kept.extend_from_slice(&bytes[..kept]);
        buffer.dropped += bytes.len() - kept;
    }

    /// The captured text and the number of bytes dropped.
    pub(crate) fn take(&self) -> (String, usize) {
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let text = String::from_utf8_lossy(&buffer.kept).into_owned();
        let dropped = buffer.dropped;
        *buffer = Buffer::default();
        (text, dropped)
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for CapturedOutput {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 << 10)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CapturedOutput {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for CapturedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Writes captured output (`text`, `dropped` bytes) to the host log, one record per line.
pub(crate) fn emit(stream: &str, (text, dropped): &(String, usize), plugin: &str, call_id: &str) {
    for line in text.lines().filter(|l| !l.is_empty()) {
        tracing::info!(target: "callhost::plugin", plugin, call_id, stream, "{line}");
    }
    if *dropped > 0 {
        tracing::warn!(target: "callhost::plugin", plugin, call_id, stream, dropped_bytes = dropped, "plugin output over the per-event limit was dropped");
    }
}

/// The message of a Rust panic printed to stderr (`panicked at …:` then the message), if any.
pub(crate) fn panic_message(stderr: &str) -> Option<String> {
    let mut lines = stderr.lines().skip_while(|l| !l.contains("panicked at"));
    let location = lines.next()?;
    let message: Vec<&str> = lines.take_while(|l| !l.starts_with("note:")).collect();
    let location = location
        .split("panicked at ")
        .nth(1)
        .unwrap_or(location)
        .trim_end_matches(':');
    Some(format!("{} (at {location})", message.join(" ").trim()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_the_panic_message() {
        let stderr = "\nthread '<unnamed>' panicked at src/lib.rs:20:9:\nworkflow bug: unexpected event\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(
            super::panic_message(stderr).as_deref(),
            Some("workflow bug: unexpected event (at src/lib.rs:20:9)")
        );
        assert_eq!(super::panic_message("just output"), None);
    }
}
