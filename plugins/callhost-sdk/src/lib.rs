//! Write callhost workflows in Rust. A workflow is a type that implements [`Workflow`], one
//! method per kind of call event, exported with [`export_workflow!`]:
//!
//! ```ignore
//! use callhost_sdk::prelude::*;
//!
//! struct Greeter;
//!
//! impl Workflow for Greeter {
//!     fn on_incoming_call(call: &Call, _incoming: &IncomingCall) -> Result<()> {
//!         call.answer(&[config::prompt("greeting")?])
//!     }
//!
//!     fn on_state_changed(call: &Call, change: &StateChanged) -> Result<()> {
//!         if change.state == CallState::Established {
//!             call.play(&config::prompt("greeting")?)?;
//!         }
//!         Ok(())
//!     }
//! }
//!
//! export_workflow!(Greeter);
//! ```
//!
//! The crate is built with `cargo build --release --target wasm32-wasip2`, which makes the
//! WebAssembly component callhost loads. A fresh instance runs for each event, so whatever a
//! workflow must remember between events of a call goes into [`state`].

// Lets the generated code and the `export_workflow!` expansion name this crate the same way,
// inside it and in the workflow crates that use it.
extern crate self as callhost_sdk;

mod call;
mod collect;
pub mod config;
mod error;
pub mod http;
pub mod log;
pub mod menu;
mod prompt;
pub mod state;
mod target;
mod tone;
mod workflow;

pub use call::Call;
pub use collect::Collect;
pub use error::{Error, Result};
pub use prompt::Prompt;
pub use target::{Target, parse_target};
pub use workflow::Workflow;

/// The bindings of the `callhost:workflow` world, generated from `wit/` of this repository.
/// Workflows rarely need them directly: [`Call`], [`config`], [`state`] and [`log`] wrap them.
#[allow(unsafe_code)] // the generated glue between the component ABI and Rust
pub mod bindings {
    wit_bindgen::generate!({
        world: "workflow",
        path: "../../wit",
        additional_derives: [PartialEq, Eq],
        pub_export_macro: true,
        default_bindings_module: "callhost_sdk::bindings",
        runtime_path: "callhost_sdk::__private::wit_bindgen::rt",
    });
}

/// The WIT types of calls and events: identities, states, tones, prompts, event records.
pub mod types {
    pub use crate::bindings::callhost::workflow::call_control::{
        AnswerOptions, CollectOptions, RejectReason, TransferRequest,
    };
    pub use crate::bindings::callhost::workflow::types::*;
}

/// Every call-control function of the contract, for what [`Call`] does not wrap.
pub use bindings::callhost::workflow::call_control;

/// What a workflow module usually imports: `use callhost_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::types::{
        CallState, CollectEnd, IncomingCall, OperationCompleted, OperationStatus, OtherEvent,
        ParticipantsChanged, StateChanged, TimerFired, Tone, ToneReceived, TonesCollected,
    };
    pub use crate::{
        Call, Collect, Error, Prompt, Result, Target, Workflow, config, export_workflow, log, state,
    };
}

/// Exports a [`Workflow`] as the plugin's `handler`. Use it once, in the crate's `lib.rs`.
#[macro_export]
macro_rules! export_workflow {
    ($workflow:ty) => {
        const _: () = {
            struct ExportedWorkflow;

            impl $crate::bindings::exports::callhost::workflow::handler::Guest for ExportedWorkflow {
                fn on_event(
                    call: $crate::types::CallContext,
                    event: $crate::types::Event,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    $crate::__private::dispatch::<$workflow>(call, event)
                }
            }

            $crate::bindings::export!(ExportedWorkflow with_types_in $crate::bindings);
        };
    };
}

/// What `export_workflow!` and the generated code refer to; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::workflow::dispatch;
    pub use wit_bindgen;
}
