//! The generated bindings of the `callhost:workflow` world. The only `bindgen!` in callhost.

wasmtime::component::bindgen!({
    world: "workflow",
    path: "../../wit",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub use self::callhost::workflow::{call_control, config, log, state, types};
