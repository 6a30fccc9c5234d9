//! Recurses without bound until the Wasm stack is exhausted (a trap). Each frame keeps a value
//! live across the call, so the optimiser cannot turn the recursion into a loop.

#[allow(unsafe_code)] // the generated glue between the component ABI and Rust
mod bindings {
    wit_bindgen::generate!({ world: "workflow", path: "../../../wit" });

    use super::DeepRecursion;
    export!(DeepRecursion);
}

use bindings::callhost::workflow::types::{CallContext, Event};
use bindings::exports::callhost::workflow::handler::Guest;
use std::hint::black_box;

struct DeepRecursion;

impl Guest for DeepRecursion {
    fn on_event(_call: CallContext, _event: Event) -> Result<(), String> {
        let depth = descend(0);
        Err(format!("returned from a recursion of depth {depth}"))
    }
}

fn descend(depth: u64) -> u64 {
    // `black_box(true)` hides from the compiler that this never ends; `depth` stays live across
    // the call in a Wasm local, so each level costs a frame of the Wasm stack itself.
    if black_box(true) {
        descend(depth + 1).wrapping_add(depth)
    } else {
        depth
    }
}
