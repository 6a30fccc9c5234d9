//! Shared pieces of the integration tests: built plugins, a recording call control, events.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use callhost::call::{
    ActionOrigin, ActionOutput, CallAction, CallContext, CallControl, CallDirection, CallError,
    CallEvent, CallEventKind, CallState, ChangeType, HttpExchange, Identity, IncomingCall,
    Modality, OperationCompleted, OperationKind, OperationStatus, ResultInfo, Returns,
    StateChanged, Tone, ToneReceived,
};
use futures::future::BoxFuture;

pub mod bot;
pub mod cluster;
pub mod ports;
pub mod serve;
pub mod tls;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A plugin built by `cargo xtask build-plugins`.
pub fn plugin_path(name: &str) -> PathBuf {
    let path = repo_root()
        .join("target/plugins")
        .join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "plugin {name} is not built ({} is missing): run `cargo xtask build-plugins` first, or run the tests with `cargo xtask test`",
        path.display()
    );
    path
}

/// A call control that records every action and answers like Graph would.
#[derive(Default)]
pub struct RecordingControl {
    pub actions: Mutex<Vec<(ActionOrigin, CallAction)>>,
    /// Calls that exist; actions on others are `not-found`.
    pub known_calls: Mutex<Vec<String>>,
    next_id: Mutex<u32>,
    last_operation: Mutex<Option<String>>,
    /// The HTTP requests plugins sent, as the call's history would keep them.
    pub fetched: Mutex<Vec<HttpExchange>>,
}

impl RecordingControl {
    pub fn with_calls(calls: &[&str]) -> Arc<Self> {
        let control = Self::default();
        *control.known_calls.lock().unwrap() = calls.iter().map(|c| c.to_string()).collect();
        Arc::new(control)
    }

    pub fn actions(&self) -> Vec<CallAction> {
        self.actions
            .lock()
            .unwrap()
            .iter()
            .map(|(_, a)| a.clone())
            .collect()
    }

    /// The id returned for the most recent operation (play-prompt, record-response, …).
    pub fn last_operation(&self) -> String {
        self.last_operation
            .lock()
            .unwrap()
            .clone()
            .expect("an operation was started")
    }

    pub fn take(&self) -> Vec<CallAction> {
        std::mem::take(&mut *self.actions.lock().unwrap())
            .into_iter()
            .map(|(_, a)| a)
            .collect()
    }
}

impl CallControl for RecordingControl {
    fn fetched(&self, _: &ActionOrigin, _: std::time::Instant, exchange: HttpExchange) {
        self.fetched.lock().unwrap().push(exchange);
    }

    fn execute<'a>(
        &'a self,
        origin: &'a ActionOrigin,
        action: CallAction,
    ) -> BoxFuture<'a, Result<ActionOutput, CallError>> {
        Box::pin(async move {
            if let Some(call_id) = action.call_id()
                && !self
                    .known_calls
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|c| c == call_id)
            {
                return Err(CallError::NotFound);
            }
            self.actions
                .lock()
                .unwrap()
                .push((origin.clone(), action.clone()));
            let mut next = self.next_id.lock().unwrap();
            *next += 1;
            let output = match action.kind().returns() {
                Returns::CallId => ActionOutput::CallId(format!("new-call-{next}")),
                Returns::OperationId(_) => {
                    let id = format!("op-{next}");
                    *self.last_operation.lock().unwrap() = Some(id.clone());
                    ActionOutput::OperationId(id)
                }
                Returns::Nothing => ActionOutput::Done,
            };
            Ok(output)
        })
    }
}

pub fn context(call_id: &str, state: CallState) -> CallContext {
    CallContext {
        call_id: call_id.into(),
        direction: CallDirection::Incoming,
        tenant_id: Some("tenant-1".into()),
        state,
        my_participant_id: Some("me".into()),
        bot_app_id: "bot-app".into(),
        created_by_plugin: false,
    }
}

fn event(call_id: &str, change_type: ChangeType, kind: CallEventKind) -> CallEvent {
    CallEvent {
        kind,
        change_type,
        resource_url: format!("/communications/calls/{call_id}"),
        raw: "{}".into(),
    }
}

pub fn incoming_call(call_id: &str) -> CallEvent {
    event(
        call_id,
        ChangeType::Created,
        CallEventKind::IncomingCall(IncomingCall {
            caller: Identity {
                display_name: Some("Caller".into()),
                ..Identity::user("caller-1")
            },
            callees: vec![Identity::application("bot-app")],
            requested_modalities: vec![Modality::Audio],
            meeting: None,
            call_chain_id: Some("chain-1".into()),
        }),
    )
}

pub fn state_changed(call_id: &str, previous: CallState, state: CallState) -> CallEvent {
    event(
        call_id,
        if state == CallState::Terminated {
            ChangeType::Deleted
        } else {
            ChangeType::Updated
        },
        CallEventKind::StateChanged(StateChanged {
            state,
            previous,
            result: (state == CallState::Terminated).then(|| ResultInfo {
                code: 200,
                subcode: 4097,
                message: Some("ended by the other side".into()),
            }),
            termination_reason: None,
        }),
    )
}

pub fn tone(call_id: &str, key: char, sequence_id: i64) -> CallEvent {
    event(
        call_id,
        ChangeType::Updated,
        CallEventKind::ToneReceived(ToneReceived {
            tone: Tone::from_char(key).expect("a DTMF key"),
            sequence_id,
        }),
    )
}

pub fn timer_fired(call_id: &str, name: &str) -> CallEvent {
    CallEvent {
        resource_url: format!("/communications/calls/{call_id}/timers/{name}"),
        ..event(
            call_id,
            ChangeType::Updated,
            CallEventKind::TimerFired(callhost::call::TimerFired {
                name: name.into(),
                payload: None,
                late_ms: 0,
            }),
        )
    }
}

pub fn prompt_completed(
    call_id: &str,
    operation_id: &str,
    client_context: Option<&str>,
) -> CallEvent {
    CallEvent {
        resource_url: format!("/communications/calls/{call_id}/operations/{operation_id}"),
        ..event(
            call_id,
            ChangeType::Deleted,
            CallEventKind::OperationCompleted(OperationCompleted {
                operation_id: operation_id.into(),
                kind: OperationKind::PlayPrompt,
                status: OperationStatus::Completed,
                client_context: client_context.map(String::from),
                result: Some(ResultInfo {
                    code: 200,
                    subcode: 0,
                    message: Some("Action completed successfully.".into()),
                }),
                recording_location: None,
                recording_access_token: None,
                completion_reason: None,
            }),
        )
    }
}
