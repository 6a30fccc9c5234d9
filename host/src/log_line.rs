//! Log output that stays one line per event, whatever a logged value holds.
//!
//! A call id, an error from Graph, a plugin's log message or a header can carry a newline, a
//! carriage return or a terminal escape; written as they are, they would forge log lines or
//! rewrite the operator's terminal. [`OneLine`] escapes them in each formatted event (the
//! formatter hands over a whole event, ending in its newline, in one write).

use std::io::{self, Write};

use tracing_subscriber::fmt::MakeWriter;

/// Makes writers that escape control characters inside each event; see the module docs.
#[derive(Clone, Debug)]
pub struct OneLine<M> {
    inner: M,
    /// Whether ESC passes: the formatter colours its own output for a terminal.
    keep_escape: bool,
}

impl<M> OneLine<M> {
    /// Escapes for `inner`; `ansi` tells whether the formatter writes colours (then ESC is
    /// kept, and values cannot be told apart from the colours).
    pub fn new(inner: M, ansi: bool) -> Self {
        Self {
            inner,
            keep_escape: ansi,
        }
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for OneLine<M> {
    type Writer = OneLineWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        OneLineWriter {
            inner: self.inner.make_writer(),
            keep_escape: self.keep_escape,
        }
    }
}

/// A writer of one event; see [`OneLine`].
#[derive(Debug)]
pub struct OneLineWriter<W> {
    inner: W,
    keep_escape: bool,
}

impl<W: Write> Write for OneLineWriter<W> {
    fn write(&mut self, event: &[u8]) -> io::Result<usize> {
        let (text, newline) = match event.strip_suffix(b"\n") {
            Some(text) => (text, true),
            None => (event, false),
        };
        let escaped = |b: u8| needs_escape(b, self.keep_escape);
        if !text.iter().copied().any(escaped) {
            self.inner.write_all(event)?;
            return Ok(event.len());
        }
        let mut line = Vec::with_capacity(event.len() + 16);
        for &b in text {
            match b {
                b'\n' => line.extend_from_slice(b"\\n"),
                b'\r' => line.extend_from_slice(b"\\r"),
                b if escaped(b) => line.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
                b => line.push(b),
            }
        }
        if newline {
            line.push(b'\n');
        }
        self.inner.write_all(&line)?;
        Ok(event.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Control characters but the tab (and ESC where colours are written), and DEL.
fn needs_escape(b: u8, keep_escape: bool) -> bool {
    (b < 0x20 && b != b'\t' && !(keep_escape && b == 0x1b)) || b == 0x7f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(event: &str, ansi: bool) -> String {
        let mut out = Vec::new();
        let mut writer = OneLineWriter {
            inner: &mut out,
            keep_escape: ansi,
        };
        writer.write_all(event.as_bytes()).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn an_event_stays_on_its_line() {
        assert_eq!(
            written("WARN call_id=abc\nERROR forged\r\n", false),
            "WARN call_id=abc\\nERROR forged\\r\n"
        );
        assert_eq!(
            written("INFO \u{1b}[2J wiped\u{7f}\n", false),
            "INFO \\x1b[2J wiped\\x7f\n"
        );
        assert_eq!(
            written("INFO plain\ttext é\n", false),
            "INFO plain\ttext é\n"
        );
    }

    #[test]
    fn colours_pass_on_a_terminal() {
        let coloured = "\u{1b}[32m INFO\u{1b}[0m a\nb\n";
        assert_eq!(written(coloured, true), "\u{1b}[32m INFO\u{1b}[0m a\\nb\n");
    }

    #[test]
    fn through_the_formatter() {
        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = out.clone();
        let make = move || SharedBuf(sink.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(OneLine::new(make, false))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let call_id = "abc\nERROR forged";
            tracing::warn!(%call_id, "refused");
        });
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("call_id=abc\\nERROR forged"), "{text}");
    }

    struct SharedBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for SharedBuf {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
}
