//! Calls `state.get` 100,000 times in one event, then returns `ok`.

#[allow(unsafe_code)] // the generated glue between the component ABI and Rust
mod bindings {
    wit_bindgen::generate!({ world: "workflow", path: "../../../wit" });

    use super::HostCallFlood;
    export!(HostCallFlood);
}

use bindings::callhost::workflow::state::{self, Scope};
use bindings::callhost::workflow::types::{CallContext, Event};
use bindings::exports::callhost::workflow::handler::Guest;
use std::hint::black_box;

const HOST_CALLS: u32 = 100_000;

struct HostCallFlood;

impl Guest for HostCallFlood {
    fn on_event(_call: CallContext, _event: Event) -> Result<(), String> {
        for _ in 0..HOST_CALLS {
            black_box(state::get(Scope::Call, "flood"));
        }
        Ok(())
    }
}
