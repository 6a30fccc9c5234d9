//! The `Workflow` trait: one method per kind of event, and the dispatch of `on-event` to it.

use crate::types::{
    CallContext, Event, EventKind, IncomingCall, OperationCompleted, OtherEvent,
    ParticipantsChanged, StateChanged, TimerFired, ToneReceived, TonesCollected,
};
use crate::{Call, Result, log};

/// A call workflow. Each method handles one kind of event of a call and returns `Err` to report
/// a failure, which the host logs. Every method has a default: an incoming call is answered
/// with audio, and other events are logged at debug level and otherwise ignored.
pub trait Workflow {
    /// A call rings at the bot. Answer, reject or redirect it; doing none of them applies the
    /// route's fallback.
    fn on_incoming_call(call: &Call, incoming: &IncomingCall) -> Result<()> {
        let _ = incoming;
        call.answer(&[])
    }

    /// The call moved to a new state (`change.state`), for example `established` after answering.
    fn on_state_changed(call: &Call, change: &StateChanged) -> Result<()> {
        let _ = (call, change);
        nothing_to_do()
    }

    /// The caller pressed a key; arrives after [`Call::subscribe_to_tones`].
    fn on_tone(call: &Call, tone: &ToneReceived) -> Result<()> {
        let _ = (call, tone);
        nothing_to_do()
    }

    /// A prompt, recording or other operation finished.
    fn on_operation_completed(call: &Call, operation: &OperationCompleted) -> Result<()> {
        let _ = (call, operation);
        nothing_to_do()
    }

    /// The roster of a group call or meeting changed.
    fn on_participants_changed(call: &Call, change: &ParticipantsChanged) -> Result<()> {
        let _ = (call, change);
        nothing_to_do()
    }

    /// A timer set with [`Call::set_timer`] fired.
    fn on_timer(call: &Call, timer: &TimerFired) -> Result<()> {
        let _ = (call, timer);
        nothing_to_do()
    }

    /// A tone collection started with [`Call::collect_tones`] ended.
    fn on_tones_collected(call: &Call, collected: &TonesCollected) -> Result<()> {
        let _ = (call, collected);
        nothing_to_do()
    }

    /// A notification without a typed event; [`Call::raw_event`] has its JSON.
    fn on_other(call: &Call, other: &OtherEvent) -> Result<()> {
        let _ = (call, other);
        nothing_to_do()
    }
}

fn nothing_to_do() -> Result<()> {
    log::debug("nothing to do for this event", &[]);
    Ok(())
}

/// Hands one `on-event` to the method of `W` for its kind.
pub fn dispatch<W: Workflow>(context: CallContext, event: Event) -> Result<(), String> {
    let Event {
        kind,
        change_type,
        resource_url,
        raw,
    } = event;
    let call = Call::new(context, change_type, resource_url, raw);
    let handled = match &kind {
        EventKind::IncomingCall(incoming) => W::on_incoming_call(&call, incoming),
        EventKind::StateChanged(change) => W::on_state_changed(&call, change),
        EventKind::ToneReceived(tone) => W::on_tone(&call, tone),
        EventKind::OperationCompleted(operation) => W::on_operation_completed(&call, operation),
        EventKind::ParticipantsChanged(change) => W::on_participants_changed(&call, change),
        EventKind::Other(other) => W::on_other(&call, other),
        EventKind::TimerFired(timer) => W::on_timer(&call, timer),
        EventKind::TonesCollected(collected) => W::on_tones_collected(&call, collected),
    };
    handled.map_err(String::from)
}
