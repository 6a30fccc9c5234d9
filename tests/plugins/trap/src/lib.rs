//! Panics in `on-event`, which traps the instance: a bug in a workflow.

#[allow(unsafe_code)] // the generated glue between the component ABI and Rust
mod bindings {
    wit_bindgen::generate!({ world: "workflow", path: "../../../wit" });

    use super::Trap;
    export!(Trap);
}

use bindings::callhost::workflow::types::{CallContext, Event};
use bindings::exports::callhost::workflow::handler::Guest;

struct Trap;

impl Guest for Trap {
    fn on_event(_call: CallContext, _event: Event) -> Result<(), String> {
        panic!("workflow bug: unexpected event")
    }
}
