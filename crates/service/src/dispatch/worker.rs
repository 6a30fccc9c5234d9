//! The worker of one call: takes its notifications in order, runs the plugin for each event,
//! applies the fallback when an incoming call was left undecided, and releases everything
//! when the call ends.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::{FutureExt as _, TryFutureExt as _};
use tokio::sync::mpsc;

use super::calls::{CallEntry, Work};
use super::collect::{COLLECT_CONTEXT, COLLECT_KEY, COLLECT_TIMER, Collecting, Step};
use super::control::PluginControl;
use super::decision::DecidedBy;
use super::drops::DropReason;
use super::fallback::{ANNOUNCE_CONTEXT, Fallback};
use super::limits::DECISION_WINDOW;
use super::timers::{CallTimers, Firing, host_scope};
use super::tracker::CallTracker;
use super::{HOST_ORIGIN, Shared};
use crate::call::{
    ActionOrigin, ActionOutput, CallAction, CallContext, CallEvent, CallEventKind, CallState,
    ChangeType, TimerRequest,
};
use crate::journal::{InvocationRecord, JournalRecord, TimerChange, event_name};
use crate::runtime::{EventInput, Outcome, TimerView};
use crate::storage::{StateWrite, StoreError};

/// Where a call's worker starts.
pub(crate) struct Resume {
    pub tracker: CallTracker,
    /// The last journal entry of the call already seen.
    pub last_seq: u64,
    /// The call's host state as stored: its timers and tone collection.
    pub host_state: Vec<(String, Vec<u8>)>,
}

/// Plugin invocations one item of the queue may lead to (a tone collection that ends, a
/// workflow that starts another, …): past it, the rest is dropped with a warning.
const TURNS_PER_ITEM: usize = 16;

/// Who drives the call.
enum Mode {
    Plugin,
    /// The fallback answered and plays its prompt; the plugin gets no more events.
    Announce {
        operation: Option<String>,
    },
}

pub(crate) async fn run(
    shared: Arc<Shared>,
    entry: Arc<CallEntry>,
    resume: Resume,
    mut rx: mpsc::UnboundedReceiver<Work>,
) {
    let mut seen = Seen::new(resume.last_seq);
    let handled =
        AssertUnwindSafe(handle(&shared, &entry, resume, &mut seen, &mut rx)).catch_unwind();
    let stopped = handled.await;
    if matches!(stopped, Ok(Stopped::Elsewhere)) {
        // Nothing is settled: what is queued is in the journal, for the owner.
        shared.calls.forget(&entry.call_id);
        shared.durable.drop_call(&entry.call_id);
        entry.close();
        tracing::debug!(call_id = %entry.call_id, "call left to its owner");
        return;
    }
    if let Err(panic) = stopped {
        // A bug, not an input: contained to this call, which is released.
        let message = panic_message(&panic);
        tracing::error!(call_id = %entry.call_id, plugin = %entry.plugin_id, panic = %message, "the call's worker panicked; releasing the call");
        if entry.direction == crate::call::CallDirection::Incoming
            && let Some(fallback) = entry.route.as_ref().map(|r| r.fallback.clone())
        {
            let deadline = tokio::time::Instant::now();
            if entry.decision.take_for_fallback(deadline).await {
                let outcome = Outcome::Failed {
                    message: format!("the host panicked: {message}"),
                };
                let fallback =
                    AssertUnwindSafe(apply_fallback(&shared, &entry, &fallback, Some(&outcome)));
                if fallback.catch_unwind().await.is_err() {
                    tracing::error!(call_id = %entry.call_id, "the fallback panicked too");
                }
            }
        }
        shared.settings.journal.call_ended(&entry.call_id);
    }
    shared.calls.remove(&entry.call_id);
    shared.durable.drop_call(&entry.call_id);
    // What is still queued counts as handled: the call is over.
    entry.close();
    while let Ok(work) = rx.try_recv() {
        if let Work::Notification(n, seq) = work {
            if seq.is_some_and(|seq| seen.contains(seq)) {
                // Handled from the journal already.
                continue;
            }
            let detail = "the call ended before it was handled";
            let reason = DropReason::CallEnded;
            shared
                .metrics
                .dropped(&entry.call_id, &n.resource_url, reason, detail);
            shared.settle(&entry.key, seq);
        }
    }
    tracing::debug!(call_id = %entry.call_id, "call released");
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

mod waits;

/// Why a call's worker stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stopped {
    /// The call ended (or its queue closed): this instance is done with it.
    Ended,
    /// Another instance owns the call: its journal entries are that instance's to handle.
    Elsewhere,
}

/// Where the worker is in the call's journal, and what it runs.
struct Handler<'a> {
    shared: &'a Arc<Shared>,
    entry: &'a Arc<CallEntry>,
    control: Arc<PluginControl>,
    tracker: CallTracker,
    mode: Mode,
    end_reason: Option<String>,
    /// The journal entries seen: each is handled once.
    seen: &'a mut Seen,
    timers: CallTimers,
    /// The tone collection in progress.
    collecting: Option<Collecting>,
}

/// Journal sequence numbers seen by a worker: all up to `low`, and some above.
struct Seen {
    low: u64,
    above: std::collections::BTreeSet<u64>,
}

impl Seen {
    fn new(low: u64) -> Self {
        Self {
            low,
            above: std::collections::BTreeSet::new(),
        }
    }

    fn contains(&self, seq: u64) -> bool {
        seq <= self.low || self.above.contains(&seq)
    }

    /// Counts `seq` as seen; `false` when it was already.
    fn insert(&mut self, seq: u64) -> bool {
        if seq <= self.low || !self.above.insert(seq) {
            return false;
        }
        while self.above.remove(&(self.low + 1)) {
            self.low += 1;
        }
        true
    }
}

/// Takes the call's work in order until the call ends or another instance owns it.
async fn handle(
    shared: &Arc<Shared>,
    entry: &Arc<CallEntry>,
    resume: Resume,
    seen: &mut Seen,
    rx: &mut mpsc::UnboundedReceiver<Work>,
) -> Stopped {
    let store = &shared.settings.store;
    // Nothing of the call is run or written here unless this instance holds its lease.
    match store
        .claim(entry.key.clone(), shared.ownership.lease_ms())
        .await
    {
        Ok(Some(_)) => {}
        Ok(None) => {
            tracing::debug!(call_id = %entry.call_id, "the call is owned by another instance; its notifications are woken there");
            let _ = store.wake(entry.key.clone()).await;
            return Stopped::Elsewhere;
        }
        Err(e) => {
            tracing::error!(call_id = %entry.call_id, error = %e, "the call's lease could not be taken; its notifications stay in the journal for the next instance that can");
            return Stopped::Elsewhere;
        }
    }
    let mut handler = Handler {
        shared,
        entry,
        control: Arc::new(PluginControl::new(shared.clone())),
        tracker: resume.tracker,
        mode: Mode::Plugin,
        end_reason: None,
        seen,
        timers: CallTimers::new(shared.clone(), entry.clone()),
        collecting: None,
    };
    handler.restore(resume.host_state);
    // Not waited for: placed before anything the call's events write, so it commits first;
    // until it does, recovery finds the call's notifications as not yet owned.
    let saving = store.save_call(entry.record(&handler.tracker));
    let call_id = entry.call_id.clone();
    tokio::spawn(async move {
        if let Err(e) = saving.await {
            tracing::error!(%call_id, error = %e, "the call could not be stored; it goes on, and is lost if the process stops");
        }
    });
    // Other instances may have journaled notifications for the call before its lease was
    // visible to them: they are in the journal, not in this queue.
    if shared.ownership.is_shared()
        && let Some(stopped) = handler.catch_up().await
    {
        return stopped;
    }
    while let Some(work) = rx.recv().await {
        let weight = work.weight();
        let stopped = handler.take(work).await;
        entry.work_done(weight);
        if let Some(stopped) = stopped {
            return stopped;
        }
    }
    Stopped::Ended
}

impl Handler<'_> {
    /// Handles one item of the queue; `Some` when the worker stops.
    async fn take(&mut self, work: Work) -> Option<Stopped> {
        if self.entry.is_lost() {
            return Some(Stopped::Elsewhere);
        }
        let seq = match &work {
            Work::Notification(_, seq) | Work::Timer(_, seq) => *seq,
            Work::Wake => return self.catch_up().await,
            Work::Lost => return Some(Stopped::Elsewhere),
            Work::EndLocally(_) | Work::OperationFinished(_) => None,
        };
        // Seen before: read from the journal on a wake, then passed on by the dispatcher.
        if let Some(seq) = seq
            && !self.seen.insert(seq)
        {
            return None;
        }
        self.item(work, seq).await
    }

    /// Handles, in order, the call's journal entries not handled and not seen yet: those
    /// another instance received, or whose wake was missed.
    async fn catch_up(&mut self) -> Option<Stopped> {
        let store = &self.shared.settings.store;
        let entries = match store.entries(self.entry.key.clone(), self.seen.low).await {
            Ok(entries) => entries,
            Err(e) => {
                tracing::warn!(call_id = %self.entry.call_id, error = %e, "the call's journal could not be read; its entries are taken at the next wake");
                return None;
            }
        };
        let mut unhandled = Vec::new();
        let mut fired = Vec::new();
        for stored in entries {
            if !self.seen.insert(stored.seq) || stored.handled {
                continue;
            }
            if let Some(firing) = Firing::from_entry(&stored.body) {
                fired.push((firing, stored.seq));
                continue;
            }
            let notifications = crate::graph::notification::parse(&stored.body).unwrap_or_else(|e| {
                tracing::warn!(call_id = %self.entry.call_id, seq = stored.seq, error = ?e, "a stored notification does not parse; skipped");
                Vec::new()
            });
            unhandled.extend(notifications.into_iter().map(|n| (n, stored.seq)));
        }
        // The incoming call first, as the dispatcher queues it: the workflow hears of a call
        // before anything else about it.
        unhandled.sort_by_key(|(n, _)| !n.is_incoming_call());
        for (n, seq) in unhandled {
            super::calls::journal_notification(self.shared, &self.entry.call_id, &n);
            if let Some(stopped) = self.item(Work::Notification(n, Some(seq)), Some(seq)).await {
                return Some(stopped);
            }
        }
        for (firing, seq) in fired {
            if let Some(stopped) = self.item(Work::Timer(firing, Some(seq)), Some(seq)).await {
                return Some(stopped);
            }
        }
        None
    }

    /// Handles one item; `Some` when the worker stops.
    async fn item(&mut self, work: Work, seq: Option<u64>) -> Option<Stopped> {
        let (shared, entry) = (self.shared, self.entry);
        if entry.is_lost() {
            return Some(Stopped::Elsewhere);
        }
        let store = &shared.settings.store;
        let received = tokio::time::Instant::now();
        let stored_before = stored_view(&self.tracker);
        entry.begin_handling(seq);
        let events = match work {
            Work::Notification(notification, _) => {
                let applied = self.tracker.apply(&notification, &entry.operations);
                for dropped in &applied.dropped {
                    let resource = &notification.resource_url;
                    let (reason, detail) = (dropped.reason, &dropped.detail);
                    shared
                        .metrics
                        .dropped(&entry.call_id, resource, reason, detail);
                }
                applied.events
            }
            Work::EndLocally(result) => self.tracker.end_locally(result).into_iter().collect(),
            Work::OperationFinished(completed) => {
                self.tracker
                    .operation_finished(&entry.call_id, completed)
                    .events
            }
            Work::Timer(firing, _) => self.fired(&firing).into_iter().collect(),
            Work::Wake | Work::Lost => Vec::new(),
        };
        self.events(events, received).await;
        entry.begin_handling(None);
        let changed = stored_before != stored_view(&self.tracker);
        if let Err(StoreError::Fenced { .. }) =
            commit(shared, entry, &self.tracker, seq, changed).await
        {
            entry.mark_lost();
            tracing::warn!(call_id = %entry.call_id, "another instance took the call over; this one stops handling it");
            return Some(Stopped::Elsewhere);
        }
        if self.tracker.state.is_final() {
            let reason = self.end_reason.take().unwrap_or_else(|| "ended".into());
            let ended = store.end_call(entry.key.clone(), crate::storage::now_ms(), reason);
            if let Err(e) = ended.await {
                tracing::error!(call_id = %entry.call_id, error = %e, "the end of the call could not be stored; after a restart it is confirmed with Graph");
            }
            // Before the work counts as done: once drained, the journal is complete.
            shared.settings.journal.call_ended(&entry.call_id);
            return Some(Stopped::Ended);
        }
        None
    }

    /// Runs one event: the plugin's (or the announce fallback's) turn. What the plugin asked
    /// of its timers and tone collection.
    async fn event(
        &mut self,
        event: CallEvent,
        received: tokio::time::Instant,
    ) -> Vec<TimerRequest> {
        let (shared, entry) = (self.shared, self.entry);
        if let CallEventKind::StateChanged(change) = &event.kind {
            entry.set_state(change.state);
            if change.state.is_final() {
                self.end_reason = Some(describe_end(change));
            }
        }
        // An incoming call and the call's end always reach the plugin; other events only
        // within the call's event rate.
        // Timers and tone collections are bounded by their own limits.
        let always = matches!(
            &event.kind,
            CallEventKind::IncomingCall(_)
                | CallEventKind::TimerFired(_)
                | CallEventKind::TonesCollected(_)
        ) || matches!(&event.kind, CallEventKind::StateChanged(s) if s.state.is_final());
        if !always && !entry.allow_event() {
            let limits = &shared.settings.limits;
            let detail = format!(
                "over the call's event rate: {} per second, {} at once (calls.events_per_second, calls.event_burst)",
                limits.events_per_second, limits.event_burst
            );
            let reason = DropReason::RateLimited;
            shared
                .metrics
                .dropped(&entry.call_id, &event.resource_url, reason, &detail);
            return Vec::new();
        }
        match &mut self.mode {
            Mode::Plugin => {
                let incoming = matches!(event.kind, CallEventKind::IncomingCall(_));
                let timers = TimerView {
                    pending: self.timers.names().cloned().collect(),
                    collecting: self.collecting.is_some(),
                };
                let call = (&self.control, &self.tracker, timers);
                let (outcome, requests) = deliver(shared, entry, call, event, received).await;
                if incoming && let Some(fallback) = entry.route.as_ref().map(|r| r.fallback.clone())
                {
                    let deadline = received + DECISION_WINDOW;
                    if entry.decision.take_for_fallback(deadline).await {
                        apply_fallback(shared, entry, &fallback, outcome.as_ref()).await;
                    }
                    if matches!(fallback, Fallback::Announce(_)) && fallback_decided(entry) {
                        self.mode = Mode::Announce { operation: None };
                    }
                }
                requests
            }
            Mode::Announce { operation } => {
                announce(shared, entry, operation, &event).await;
                Vec::new()
            }
        }
    }
}

/// Stores what handling one item did: the call's new state, and the plugin's state writes
/// with the item's handled marker (or on their own, for work that has no journal entry).
async fn commit(
    shared: &Shared,
    entry: &CallEntry,
    tracker: &CallTracker,
    seq: Option<u64>,
    record_changed: bool,
) -> Result<(), StoreError> {
    let store = &shared.settings.store;
    // Both placed at once, so that they share a commit.
    let saved = match record_changed {
        true => store.save_call(entry.record(tracker)),
        false => futures::future::ok(()).boxed(),
    };
    let writes = shared.durable.take(&entry.key);
    let committed = match seq {
        Some(seq) => store
            .handled(entry.key.clone(), seq, writes)
            .map_ok(|_| ())
            .boxed(),
        None if writes.is_empty() => futures::future::ok(()).boxed(),
        None => store.write_state(writes),
    };
    let (saved, committed) = futures::join!(saved, committed);
    if let Err(e) = &saved {
        tracing::warn!(call_id = %entry.call_id, error = %e, "the call's new state could not be stored");
    }
    if let Err(e) = &committed {
        // The plugin ran and its Graph requests are recorded; after a restart the entry is
        // handled again from the state as it was before it.
        tracing::error!(call_id = %entry.call_id, seq, error = %e, "the handled marker and state writes could not be stored");
    }
    saved.and(committed)
}

/// What of the tracker the call's record keeps: a change is stored.
fn stored_view(tracker: &CallTracker) -> (CallState, Option<String>, Option<String>) {
    (
        tracker.state,
        tracker.my_participant_id.clone(),
        tracker.callback_uri.clone(),
    )
}

/// How a call's end is written in its record: `terminated 0/4097: reason`.
fn describe_end(change: &crate::call::StateChanged) -> String {
    let mut text = change.state.as_str().to_owned();
    if let Some(result) = &change.result {
        text.push_str(&format!(" {}/{}", result.code, result.subcode));
        if let Some(message) = &result.message {
            text.push_str(&format!(": {message}"));
        }
    }
    if let Some(reason) = &change.termination_reason {
        text.push_str(&format!(" ({reason})"));
    }
    text
}

/// Whether the route's fallback, not the plugin, decided on the call.
fn fallback_decided(entry: &CallEntry) -> bool {
    entry.decision.decided_by() == Some(DecidedBy::Fallback)
}

/// Runs the plugin for one event. For an incoming call, within the route's decision budget;
/// `None` when the budget passed.
/// With what the plugin asked of its timers and tone collection.
async fn deliver(
    shared: &Arc<Shared>,
    entry: &Arc<CallEntry>,
    (control, tracker, timers): (&Arc<PluginControl>, &CallTracker, TimerView),
    event: CallEvent,
    received: tokio::time::Instant,
) -> (Option<Outcome>, Vec<TimerRequest>) {
    let input = EventInput {
        call: CallContext {
            call_id: entry.call_id.clone(),
            direction: entry.direction,
            tenant_id: entry.tenant_id(),
            state: tracker.state,
            my_participant_id: tracker.my_participant_id.clone(),
            bot_app_id: shared.settings.bot_app_id.clone(),
            created_by_plugin: entry.created_by_plugin,
        },
        event,
        control: control.clone(),
        state: shared.durable.for_call(&entry.key),
        timers,
    };
    let budget = match (&input.event.kind, &entry.route) {
        (CallEventKind::IncomingCall(_), Some(route)) => Some(route.decision_budget),
        _ => None,
    };
    let version = entry.version_for_event();
    let event = event_name(&input.event.kind);
    let started = std::time::Instant::now();
    let journal = |duration, outcome| {
        let record = InvocationRecord {
            plugin: entry.plugin_id.clone(),
            version: version.info.version().to_string(),
            event: event.to_string(),
            duration,
            outcome,
        };
        let journal = &shared.settings.journal;
        journal.record(&entry.call_id, started, JournalRecord::Invocation(record));
    };
    let invocation = shared.runtime.invoke(&version, input);
    let invocation = match budget {
        // Past the budget the invocation is dropped; a deciding request it started runs on
        // in its own task, and the worker waits for it before any fallback.
        Some(budget) => match tokio::time::timeout_at(received + budget, invocation).await {
            Ok(invocation) => invocation,
            Err(_) => {
                tracing::warn!(call_id = %entry.call_id, plugin = %entry.plugin_id, budget_ms = budget.as_millis() as u64, "plugin did not decide on the incoming call within the route's budget");
                shared.metrics.event(false);
                let limit_ms = budget.as_millis() as u64;
                journal(budget, Outcome::Timeout { limit_ms });
                return (None, Vec::new());
            }
        },
        None => invocation.await,
    };
    journal(invocation.duration, invocation.outcome.clone());
    let completed = invocation.outcome == Outcome::Completed;
    shared.metrics.event(completed);
    shared.metrics.denied(invocation.actions_denied);
    version.served(&invocation);
    if !completed {
        tracing::warn!(call_id = %entry.call_id, plugin = %entry.plugin_id, version = invocation.plugin.version(), outcome = %invocation.outcome.kind(), "plugin invocation did not complete");
    }
    (Some(invocation.outcome), invocation.timers)
}

async fn apply_fallback(
    shared: &Arc<Shared>,
    entry: &Arc<CallEntry>,
    fallback: &Fallback,
    outcome: Option<&Outcome>,
) {
    shared.metrics.fallback();
    let why = match outcome {
        None => "decision budget exceeded".to_string(),
        Some(Outcome::Completed) => {
            "plugin returned without answering, rejecting or redirecting".to_string()
        }
        Some(Outcome::Failed { message }) => {
            format!("plugin returned an error without deciding: {message}")
        }
        Some(outcome) => format!("plugin invocation ended with {}", outcome.kind()),
    };
    tracing::warn!(call_id = %entry.call_id, plugin = %entry.plugin_id, fallback = fallback.name(), reason = %why, "applying the route's fallback");
    let record = JournalRecord::Fallback {
        fallback: fallback.name().to_string(),
        reason: why,
    };
    let now = std::time::Instant::now();
    shared.settings.journal.record(&entry.call_id, now, record);
    let origin = host_origin(entry);
    if let Err(e) = shared
        .graph
        .execute(&origin, fallback.first_action(&entry.call_id))
        .await
    {
        tracing::error!(call_id = %entry.call_id, error = %e, "the fallback's request failed");
    }
}

/// The announce fallback: play the prompt once established, hang up when it completed.
async fn announce(
    shared: &Arc<Shared>,
    entry: &Arc<CallEntry>,
    operation: &mut Option<String>,
    event: &CallEvent,
) {
    let Some(Fallback::Announce(prompt)) = entry.route.as_ref().map(|r| &r.fallback) else {
        return;
    };
    let origin = host_origin(entry);
    let call_id = entry.call_id.clone();
    let action = match &event.kind {
        CallEventKind::StateChanged(s)
            if s.state == CallState::Established && operation.is_none() =>
        {
            CallAction::PlayPrompt {
                call_id,
                prompts: vec![prompt.clone()],
                client_context: Some(ANNOUNCE_CONTEXT.into()),
            }
        }
        CallEventKind::OperationCompleted(op)
            if Some(&op.operation_id) == operation.as_ref()
                || op.client_context.as_deref() == Some(ANNOUNCE_CONTEXT) =>
        {
            CallAction::HangUp { call_id }
        }
        _ => return,
    };
    match shared.graph.execute(&origin, action).await {
        Ok(crate::call::ActionOutput::OperationId(id)) => *operation = Some(id),
        // The prompt finished as it started: nothing more will come for it.
        Ok(crate::call::ActionOutput::Finished(_)) => {
            let hang_up = CallAction::HangUp {
                call_id: entry.call_id.clone(),
            };
            if let Err(e) = shared.graph.execute(&origin, hang_up).await {
                tracing::error!(call_id = %entry.call_id, error = %e, "the announce fallback's hang-up failed");
            }
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(call_id = %entry.call_id, error = %e, "the announce fallback's request failed")
        }
    }
}

fn host_origin(entry: &CallEntry) -> ActionOrigin {
    ActionOrigin {
        plugin_id: HOST_ORIGIN.into(),
        call_id: entry.call_id.clone(),
        tenant_id: entry.tenant_id(),
    }
}
