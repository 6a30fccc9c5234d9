//! Tries to carry memory from one event to the next: a global counter and an 8 MiB heap buffer
//! written on every event. Each event must start from the component's initial memory, so
//! `on-event` fails if either still holds an earlier event's writes.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

#[allow(unsafe_code)] // the generated glue between the component ABI and Rust
mod bindings {
    wit_bindgen::generate!({ world: "workflow", path: "../../../wit" });

    use super::Remember;
    export!(Remember);
}

use bindings::callhost::workflow::types::{CallContext, Event};
use bindings::exports::callhost::workflow::handler::Guest;

static EVENTS_SEEN: AtomicU32 = AtomicU32::new(0);
static HEAP: Mutex<Vec<u8>> = Mutex::new(Vec::new());

const HEAP_BYTES: usize = 8 << 20;

struct Remember;

impl Guest for Remember {
    fn on_event(_call: CallContext, _event: Event) -> Result<(), String> {
        let seen = EVENTS_SEEN.fetch_add(1, Ordering::SeqCst);
        let mut heap = HEAP.lock().map_err(|_| "poisoned".to_string())?;
        let leftover = heap.len();
        heap.resize(HEAP_BYTES, 0xab);
        if seen > 0 || leftover > 0 {
            return Err(format!(
                "memory kept from an earlier event: {seen} events seen, {leftover} heap bytes left"
            ));
        }
        Ok(())
    }
}
