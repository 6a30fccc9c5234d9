//! A callback body as Graph POSTs it: parsed into notifications, each converted the way the
//! dispatcher does (per-resource conversions, then per-call tracking into workflow events).
//! Nothing here may panic, and a notification's own envelope must parse back to it.

#![no_main]

use std::collections::HashMap;

use callhost::dispatch::{CallTracker, StartedOperations};
use callhost_call::{CallState, OperationKind};
use callhost_graph::notification::{self, CommsNotification, ResourceData, ResourceTarget};
use libfuzzer_sys::fuzz_target;

/// How many deliveries a tracker remembers (`tracker::DELIVERY_WINDOW`).
const DELIVERY_WINDOW: usize = 256;

fuzz_target!(|body: &[u8]| {
    let Ok(notifications) = notification::parse_delivery(body, Some("message-1")) else {
        assert!(notification::parse(body).is_err());
        return;
    };
    let plain = notification::parse(body).expect("parse and parse_delivery agree");
    assert_eq!(plain.len(), notifications.len());

    // Operations a plugin might have started, so completions can match them.
    let started = StartedOperations::default();
    started.insert("operation-1", OperationKind::PlayPrompt);
    // One tracker per call, as the dispatcher keeps them; a second set starts established.
    let mut incoming: HashMap<String, CallTracker> = HashMap::new();
    let mut established: HashMap<String, CallTracker> = HashMap::new();
    for n in &notifications {
        convert(n);
        round_trip(n);
        let call = n.call_id().unwrap_or_default().to_owned();
        for (trackers, state) in [
            (&mut incoming, CallState::Incoming),
            (&mut established, CallState::Established),
        ] {
            let tracker = trackers
                .entry(call.clone())
                .or_insert_with(|| CallTracker::new(state));
            let applied = tracker.apply(n, &started);
            for event in &applied.events {
                serde_json::to_string(event).expect("events serialize");
            }
        }
    }
    // The same body again: every delivery is recognised and yields no event (while it is
    // within the window of deliveries a tracker remembers).
    if notifications.len() > DELIVERY_WINDOW {
        return;
    }
    for n in &notifications {
        let call = n.call_id().unwrap_or_default();
        if let Some(tracker) = incoming.get_mut(call) {
            let applied = tracker.apply(n, &started);
            assert!(
                applied.events.is_empty(),
                "a repeated delivery gave events: {:?}",
                applied.events
            );
        }
    }
});

/// The per-resource conversions of [`notification`].
fn convert(n: &CommsNotification) {
    let _ = n.is_incoming_call();
    match &n.data {
        ResourceData::Call(call) => {
            let _ = notification::incoming_call(call);
            let _ = notification::meeting_invite(call);
            if let Some(tone) = &call.tone_info {
                let _ = notification::tone_received(tone);
            }
            if let Some(result) = &call.result_info {
                let _ = notification::result_info(result);
            }
        }
        ResourceData::Participants(list) => {
            for p in list {
                let _ = notification::participant(p, Some("participant-1"));
                let _ = notification::participant(p, None);
            }
        }
        ResourceData::Operation(op) => {
            let url_id = match &n.target {
                ResourceTarget::Operation { operation_id, .. } => Some(operation_id.as_str()),
                _ => None,
            };
            let _ = notification::operation_completed(op, url_id);
        }
        ResourceData::Absent | ResourceData::Other(_) | ResourceData::Unparsed { .. } => {}
    }
}

/// The envelope a journal keeps of a notification reads back as a notification about the same
/// resource.
fn round_trip(n: &CommsNotification) {
    let text = serde_json::to_vec(&n.envelope()).expect("envelopes serialize");
    let again = notification::parse(&text)
        .unwrap_or_else(|e| panic!("the envelope of {n:?} does not parse: {e}"));
    assert!(
        !again.is_empty(),
        "the envelope of {n:?} has no notification"
    );
    for back in &again {
        assert_eq!(back.change_type, n.change_type, "change type of {n:?}");
        assert_eq!(back.target, n.target, "target of {n:?}");
    }
}
