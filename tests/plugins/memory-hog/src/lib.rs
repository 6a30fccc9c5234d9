//! Allocates memory 1 MiB at a time and writes to all of it, until an allocation fails (which
//! aborts: a trap). Only the host's memory cap can stop it.

#[allow(unsafe_code)] // the generated glue between the component ABI and Rust
mod bindings {
    wit_bindgen::generate!({ world: "workflow", path: "../../../wit" });

    use super::MemoryHog;
    export!(MemoryHog);
}

use bindings::callhost::workflow::types::{CallContext, Event};
use bindings::exports::callhost::workflow::handler::Guest;
use std::hint::black_box;

const CHUNK_BYTES: usize = 1 << 20;

struct MemoryHog;

impl Guest for MemoryHog {
    fn on_event(_call: CallContext, _event: Event) -> Result<(), String> {
        let mut chunks: Vec<Vec<u8>> = Vec::new();
        loop {
            // Writing every byte makes the pages real, not just reserved.
            let chunk = vec![0xa5_u8; CHUNK_BYTES];
            chunks.push(black_box(chunk));
        }
    }
}
