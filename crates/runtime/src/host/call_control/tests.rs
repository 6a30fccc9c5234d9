//! The `call-control` interface on its own context, against a fake [`CallControl`]: the
//! actions it builds, how failures reach the workflow, and the limits that stop it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;

use super::*;
use crate::bindings::call_control::{Host as _, MeetingRef, Transferee as WitTransferee};
use crate::bindings::types::{Host as _, IdentityKind, JoinMeetingIdInfo, Modality, UpstreamError};
use crate::outcome::HostLimitExceeded;
use callhost_call::{self as call, ActionKind, Returns};

/// What the fake answers.
#[derive(Clone)]
enum Reply {
    /// What Graph returns for the kind of action: nothing, a call id or an operation id.
    AsGraph,
    /// Success without an id, whatever was asked.
    Done,
    Fail(CallError),
}

/// Records every action it is given and answers with its [`Reply`].
struct Fake {
    reply: Reply,
    delay: Duration,
    actions: Mutex<Vec<CallAction>>,
}

impl Fake {
    fn new(reply: Reply) -> Arc<Self> {
        Arc::new(Self {
            reply,
            delay: Duration::ZERO,
            actions: Mutex::default(),
        })
    }

    fn take(&self) -> Vec<CallAction> {
        std::mem::take(&mut self.actions.lock().unwrap())
    }
}

impl CallControl for Fake {
    fn execute<'a>(
        &'a self,
        _origin: &'a ActionOrigin,
        action: CallAction,
    ) -> BoxFuture<'a, Result<ActionOutput, CallError>> {
        let reply = match &self.reply {
            Reply::AsGraph => Ok(match action.kind().returns() {
                Returns::Nothing => ActionOutput::Done,
                Returns::CallId => ActionOutput::CallId("new-call".into()),
                Returns::OperationId(_) => ActionOutput::OperationId("op-1".into()),
            }),
            Reply::Done => Ok(ActionOutput::Done),
            Reply::Fail(error) => Err(error.clone()),
        };
        self.actions.lock().unwrap().push(action);
        let delay = self.delay;
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            reply
        })
    }
}

/// What the event's store holds for call-control.
struct Event {
    policy: CapabilityPolicy,
    origin: ActionOrigin,
    control: Arc<Fake>,
    host_calls: HostCallBudget,
    actions: ActionBudget,
    timers: TimerTxn,
}

impl Event {
    fn new(policy: CapabilityPolicy, control: Arc<Fake>) -> Self {
        Self {
            policy,
            origin: ActionOrigin {
                plugin_id: "ivr".into(),
                call_id: "c1".into(),
                tenant_id: None,
            },
            control,
            host_calls: HostCallBudget::new(100),
            actions: ActionBudget::new(50),
            timers: TimerTxn::new("c1".into(), Default::default()),
        }
    }

    fn ctx(&mut self) -> CallControlCtx<'_> {
        CallControlCtx {
            plugin_id: "ivr",
            policy: &self.policy,
            origin: &self.origin,
            control: &*self.control,
            host_calls: &mut self.host_calls,
            actions: &mut self.actions,
            timers: &mut self.timers,
        }
    }
}

fn user(id: &str) -> Identity {
    Identity {
        kind: IdentityKind::User,
        id: id.into(),
        display_name: None,
        tenant_id: Some("t1".into()),
    }
}

fn domain_user(id: &str) -> call::Identity {
    call::Identity {
        kind: call::IdentityKind::User,
        id: id.into(),
        display_name: None,
        tenant_id: Some("t1".into()),
    }
}

fn prompt() -> MediaPrompt {
    MediaPrompt {
        uri: "https://example.test/hi.wav".into(),
        resource_id: Some("hi".into()),
    }
}

fn domain_prompt() -> call::MediaPrompt {
    call::MediaPrompt {
        uri: "https://example.test/hi.wav".into(),
        resource_id: Some("hi".into()),
    }
}

fn ctx_text() -> Option<String> {
    Some("ctx".into())
}

/// The converted `call-error` of a failed call, or the trap.
fn wit_error(
    ctx: &mut CallControlCtx<'_>,
    error: CallControlError,
) -> wasmtime::Result<WitCallError> {
    ctx.convert_call_error(error)
}

mod actions;
mod collect;
mod failures;
