//! The generated bindings of the `callhost:workflow` world. The only `bindgen!` in callhost.
//!
//! Call-control functions return `Result<T, CallControlError>`: bindgen turns the error into
//! the WIT `call-error` or, for a limit the plugin hit, into a trap.

wasmtime::component::bindgen!({
    world: "workflow",
    path: "../../wit",
    imports: { default: async | trappable },
    exports: { default: async },
    trappable_error_type: {
        "callhost:workflow/types.call-error" => crate::host::CallControlError,
    },
});

pub use self::callhost::workflow::{call_control, config, log, state, timers, types};
