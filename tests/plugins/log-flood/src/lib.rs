//! Writes a million lines each to the log interface, stdout and stderr, then returns `ok`: the
//! host must bound what it keeps of them.

#[allow(unsafe_code)] // the generated glue between the component ABI and Rust
mod bindings {
    wit_bindgen::generate!({ world: "workflow", path: "../../../wit" });

    use super::LogFlood;
    export!(LogFlood);
}

use bindings::callhost::workflow::log::{self, Level};
use bindings::callhost::workflow::types::{CallContext, Event};
use bindings::exports::callhost::workflow::handler::Guest;
use std::io::{self, Write};

const LINES: u32 = 1_000_000;

struct LogFlood;

impl Guest for LogFlood {
    fn on_event(_call: CallContext, _event: Event) -> Result<(), String> {
        for line in 0..LINES {
            log::log(Level::Info, &format!("log line {line}"), &[]);
        }
        // Write errors are ignored: a host may close or cap the streams, and the flood goes on.
        let mut stdout = io::stdout().lock();
        for line in 0..LINES {
            let _ = writeln!(stdout, "stdout line {line}");
        }
        let mut stderr = io::stderr().lock();
        for line in 0..LINES {
            let _ = writeln!(stderr, "stderr line {line}");
        }
        Ok(())
    }
}
