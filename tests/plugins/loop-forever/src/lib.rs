//! Never returns from `on-event`: only the host's deadline can stop it.

#[allow(unsafe_code)] // the generated glue between the component ABI and Rust
mod bindings {
    wit_bindgen::generate!({ world: "workflow", path: "../../../wit" });

    use super::LoopForever;
    export!(LoopForever);
}

use bindings::callhost::workflow::types::{CallContext, Event};
use bindings::exports::callhost::workflow::handler::Guest;
use std::hint::black_box;

struct LoopForever;

impl Guest for LoopForever {
    fn on_event(_call: CallContext, _event: Event) -> Result<(), String> {
        let mut spins: u64 = 0;
        loop {
            spins = black_box(spins.wrapping_add(1));
        }
    }
}
