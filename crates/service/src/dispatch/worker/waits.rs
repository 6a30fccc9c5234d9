//! The worker's side of waiting: a call's timers and its tone collection, fed by the events
//! of the call before the plugin sees them, and by what the plugin asked when it returned.

use std::collections::VecDeque;
use std::time::Duration;

use super::*;
use crate::call::CallControl as _;

impl Handler<'_> {
    /// Arms the call's stored timers and takes up its stored tone collection.
    pub(super) fn restore(&mut self, host_state: Vec<(String, Vec<u8>)>) {
        let collecting = host_state.iter().find(|(key, _)| key == COLLECT_KEY);
        self.collecting = collecting.and_then(|(_, value)| {
            serde_json::from_slice(value)
                .inspect_err(|e| tracing::warn!(call_id = %self.entry.call_id, error = %e, "a stored tone collection does not parse; it is dropped"))
                .ok()
        });
        self.timers.restore(host_state);
    }

    /// The event of a fired timer: `None` when it is stale (set again or cancelled since).
    pub(super) fn fired(&mut self, firing: &Firing) -> Option<CallEvent> {
        let Some(fired) = self.timers.take(firing) else {
            tracing::debug!(call_id = %self.entry.call_id, timer = %firing.name, "a timer fired after it was set again or cancelled; nothing is delivered");
            self.note_timer(&firing.name, TimerChange::Stale, None);
            return None;
        };
        self.note_timer(&firing.name, TimerChange::Fired, None);
        let resource = format!("/timers/{}", fired.name);
        Some(self.host_event(&resource, CallEventKind::TimerFired(fired)))
    }

    /// Runs the events of one item in order: each goes to the tone collection when it is the
    /// collection's, else to the plugin; what either starts runs after them.
    pub(super) async fn events(&mut self, events: Vec<CallEvent>, received: tokio::time::Instant) {
        let mut queue = VecDeque::from(events);
        let mut turns = 0;
        while let Some(event) = queue.pop_front() {
            if let Some(steps) = self.collection_takes(&event) {
                queue.extend(self.steps(steps).await);
                continue;
            }
            let connected = matches!(&event.kind, CallEventKind::StateChanged(c) if c.state == CallState::Established);
            turns += 1;
            if turns > TURNS_PER_ITEM {
                let (resource, detail) = (
                    &event.resource_url,
                    "too many plugin turns for one notification: a tone collection or timer that ends at once, started again and again",
                );
                tracing::warn!(call_id = %self.entry.call_id, resource, "{detail}");
                break;
            }
            let requests = self.event(event, received).await;
            if connected {
                queue.extend(self.begin_collecting().await);
            }
            queue.extend(self.carry_out(requests).await);
        }
    }

    /// Begins the tone collection asked for before the call was established.
    async fn begin_collecting(&mut self) -> Vec<CallEvent> {
        let Some(collecting) = self.collecting.as_mut().filter(|c| !c.has_begun()) else {
            return Vec::new();
        };
        let steps = collecting.begin();
        self.steps(steps).await
    }

    /// The steps the tone collection takes for `event`, when the event is the collection's
    /// (the plugin does not see it).
    fn collection_takes(&mut self, event: &CallEvent) -> Option<Vec<Step>> {
        match &event.kind {
            CallEventKind::ToneReceived(tone) => {
                let collecting = self.collecting.as_mut()?;
                Some(collecting.tone(tone.tone))
            }
            CallEventKind::OperationCompleted(done) => {
                let its_own = done.client_context.as_deref() == Some(COLLECT_CONTEXT);
                let collecting = self.collecting.as_mut();
                match collecting {
                    Some(c) if its_own || c.is_its_prompt(done) => Some(c.prompt_completed(done)),
                    // A prompt of a collection that is over, or its tone subscription.
                    _ if its_own => Some(Vec::new()),
                    _ => None,
                }
            }
            CallEventKind::TimerFired(fired) if fired.name == COLLECT_TIMER => {
                Some(match self.collecting.as_mut() {
                    Some(c) => c.timed_out(),
                    None => Vec::new(),
                })
            }
            CallEventKind::StateChanged(change) if change.state.is_final() => {
                self.collecting = None;
                None
            }
            _ => None,
        }
    }

    /// Carries out what the plugin asked when it returned; the events that follow at once.
    async fn carry_out(&mut self, requests: Vec<TimerRequest>) -> Vec<CallEvent> {
        let mut events = Vec::new();
        for request in requests {
            match request {
                TimerRequest::Set {
                    name,
                    delay_ms,
                    payload,
                } => {
                    self.timers
                        .set(&name, Duration::from_millis(delay_ms), payload);
                    self.note_timer(&name, TimerChange::Set, Some(delay_ms));
                }
                TimerRequest::Cancel { name } => {
                    if self.timers.cancel(&name) {
                        self.note_timer(&name, TimerChange::Cancelled, None);
                    }
                }
                TimerRequest::Collect(options) => {
                    self.timers.cancel(COLLECT_TIMER);
                    let state = self.tracker.state;
                    if state.is_final() || state == CallState::Terminating {
                        tracing::debug!(call_id = %self.entry.call_id, "a tone collection asked for as the call ends is dropped");
                        self.collecting = None;
                        self.store_collection();
                        continue;
                    }
                    let mut collecting = Collecting::new(options);
                    let steps = match state {
                        CallState::Established => collecting.begin(),
                        // Begins when the call is established: tones need media.
                        _ => Vec::new(),
                    };
                    self.collecting = Some(collecting);
                    events.extend(self.steps(steps).await);
                }
                TimerRequest::StopCollecting => {
                    self.timers.cancel(COLLECT_TIMER);
                    self.collecting = None;
                    self.store_collection();
                }
            }
        }
        events
    }

    /// Carries out the tone collection's steps (and those they lead to); the event it ends
    /// with, if it does.
    async fn steps(&mut self, steps: Vec<Step>) -> Vec<CallEvent> {
        let mut steps = VecDeque::from(steps);
        let mut events = Vec::new();
        while let Some(step) = steps.pop_front() {
            match step {
                Step::Subscribe => {
                    let subscribe = CallAction::SubscribeToTone {
                        call_id: self.entry.call_id.clone(),
                        client_context: Some(COLLECT_CONTEXT.into()),
                    };
                    if let Err(e) = self.act(subscribe).await
                        && let Some(c) = self.collecting.as_mut()
                    {
                        let why = format!("subscribing to tones failed: {e}");
                        steps.extend(c.prompt_failed(why));
                    }
                }
                Step::Play(prompts) => {
                    let play = CallAction::PlayPrompt {
                        call_id: self.entry.call_id.clone(),
                        prompts,
                        client_context: Some(COLLECT_CONTEXT.into()),
                    };
                    let played = self.act(play).await;
                    let Some(c) = self.collecting.as_mut() else {
                        continue;
                    };
                    steps.extend(match played {
                        Ok(ActionOutput::OperationId(id)) => c.prompt_started(Some(id)),
                        Ok(_) => c.prompt_started(None),
                        Err(e) => c.prompt_failed(format!("the prompt could not be played: {e}")),
                    });
                }
                Step::StopPrompt => {
                    let cancel = CallAction::CancelMediaProcessing {
                        call_id: self.entry.call_id.clone(),
                        client_context: Some(COLLECT_CONTEXT.into()),
                    };
                    if let Err(e) = self.act(cancel).await {
                        tracing::debug!(call_id = %self.entry.call_id, error = %e, "stopping the tone collection's prompt failed; it plays to its end");
                    }
                }
                Step::Wait(ms) => {
                    let delay = Duration::from_millis(u64::from(ms));
                    self.timers.set(COLLECT_TIMER, delay, None);
                    self.note_timer(COLLECT_TIMER, TimerChange::Set, Some(u64::from(ms)));
                }
                Step::StopWaiting => {
                    if self.timers.cancel(COLLECT_TIMER) {
                        self.note_timer(COLLECT_TIMER, TimerChange::Cancelled, None);
                    }
                }
                Step::Done(collected) => {
                    self.collecting = None;
                    tracing::debug!(call_id = %self.entry.call_id, digits = collected.digits.len(), reason = collected.reason.as_str(), "tone collection over");
                    events.push(self.host_event("", CallEventKind::TonesCollected(collected)));
                }
            }
        }
        self.store_collection();
        events
    }

    /// A request of the tone collection, made for the plugin (its policy was checked when
    /// the plugin asked for the collection).
    async fn act(&self, action: CallAction) -> Result<ActionOutput, crate::call::CallError> {
        let origin = ActionOrigin {
            plugin_id: self.entry.plugin_id.clone(),
            call_id: self.entry.call_id.clone(),
            tenant_id: self.entry.tenant_id(),
        };
        self.control.execute(&origin, action).await
    }

    /// Stores the collection with the current work's handled marker.
    fn store_collection(&self) {
        let value = self
            .collecting
            .as_ref()
            .and_then(|c| serde_json::to_vec(c).ok());
        let write = StateWrite {
            scope: host_scope(&self.entry.key),
            key: COLLECT_KEY.into(),
            value,
        };
        self.shared.durable.note(&self.entry.key, vec![write]);
    }

    /// An event the host makes of its own (no notification behind it), on the call's resource
    /// and `resource` below it.
    fn host_event(&self, resource: &str, kind: CallEventKind) -> CallEvent {
        CallEvent {
            resource_url: format!("/communications/calls/{}{resource}", self.entry.call_id),
            kind,
            change_type: ChangeType::Updated,
            raw: "null".into(),
        }
    }

    /// A timeline row for a timer: the workflow's, and the tone collection's timeouts
    /// (`#collect-tones`).
    fn note_timer(&self, name: &str, change: TimerChange, delay_ms: Option<u64>) {
        let record = JournalRecord::Timer {
            timer: name.to_owned(),
            change,
            delay_ms,
        };
        let journal = &self.shared.settings.journal;
        journal.record(&self.entry.call_id, std::time::Instant::now(), record);
    }
}
