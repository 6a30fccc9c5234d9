//! {{name}}: a callhost workflow. It answers every call with audio and logs how the call goes.
//!
//! Each method of `Workflow` handles one kind of event; the ones left out have defaults.
//! Config values: `config::required("key")`, `config::prompt("key")`, `config::target("key")`.
//! What must survive between events of a call goes into `state::call()`; what all calls share
//! (on every instance) into `state::plugin()`.

use callhost_sdk::prelude::*;

struct {{Name}};

impl Workflow for {{Name}} {
    /// A call rings at the bot: answer it. Prompts to prefetch go in the list, for example
    /// `call.answer(&[config::prompt("greeting")?])`.
    fn on_incoming_call(call: &Call, incoming: &IncomingCall) -> Result<()> {
        // Counted once per call whichever instance answers it, however many answer at once.
        let calls = state::plugin().add("calls", 1)?;
        log::info(
            "answering",
            &[("caller", &incoming.caller.id), ("calls", &calls.to_string())],
        );
        call.answer(&[])
    }

    /// The call moved on: `established` once answered, `terminated` when it ended.
    fn on_state_changed(_call: &Call, change: &StateChanged) -> Result<()> {
        log::info("call state", &[("state", &format!("{:?}", change.state))]);
        Ok(())
    }
}

export_workflow!({{Name}});
