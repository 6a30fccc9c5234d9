//! The example workflows, driven event by event through the runtime with a recording call
//! control: given this call, when the caller presses 1, then a transfer to sales is requested.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use callhost::call::{
    AnswerOptions, CallAction, CallEvent, CallState, Identity, MediaPrompt, Modality,
    TransferRequest,
};
use callhost::runtime::{
    EventInput, MemoryStateStore, Outcome, PluginSpec, PluginVersion, Runtime, RuntimeSettings,
};
use support::*;

const CALL: &str = "call-1";

struct Harness {
    runtime: Runtime,
    plugin: PluginVersion,
    control: Arc<RecordingControl>,
    state: Arc<MemoryStateStore>,
    call_state: CallState,
}

impl Harness {
    fn new(plugin: &str, config: &[(&str, &str)]) -> Self {
        let runtime = Runtime::new(RuntimeSettings::default()).unwrap();
        let mut spec = PluginSpec::new(plugin);
        spec.config = config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>();
        let plugin = runtime.load_file(spec, &plugin_path(plugin)).unwrap();
        Self {
            runtime,
            plugin,
            control: RecordingControl::with_calls(&[CALL]),
            state: Arc::new(MemoryStateStore::new()),
            call_state: CallState::Incoming,
        }
    }

    async fn send(&mut self, event: CallEvent) -> Vec<CallAction> {
        if let callhost::call::CallEventKind::StateChanged(s) = &event.kind {
            self.call_state = s.state;
        }
        let invocation = self
            .runtime
            .invoke(
                &self.plugin,
                EventInput {
                    call: context(CALL, self.call_state),
                    event,
                    control: self.control.clone(),
                    state: self.state.clone(),
                },
            )
            .await;
        assert_eq!(
            invocation.outcome,
            Outcome::Completed,
            "plugin {}",
            self.plugin.info.id
        );
        self.control.take()
    }

    async fn establish(&mut self) -> Vec<CallAction> {
        self.send(state_changed(
            CALL,
            CallState::Establishing,
            CallState::Established,
        ))
        .await
    }
}

fn prompt(uri: &str) -> MediaPrompt {
    MediaPrompt::new(uri)
}

fn operation_of(actions: &[CallAction]) -> usize {
    actions
        .iter()
        .position(|a| matches!(a, CallAction::PlayPrompt { .. }))
        .expect("a play-prompt")
}

const GREETING: &str = "https://media.example.com/greeting.wav";

#[tokio::test]
async fn answer_and_greet_answers_greets_and_hangs_up_after_the_prompt() {
    let mut h = Harness::new("answer-and-greet", &[("greeting", GREETING)]);
    let actions = h.send(incoming_call(CALL)).await;
    assert_eq!(
        actions,
        vec![CallAction::Answer {
            call_id: CALL.into(),
            options: AnswerOptions {
                modalities: vec![Modality::Audio],
                prefetch: vec![prompt(GREETING)]
            },
        }]
    );
    let actions = h.establish().await;
    assert!(
        matches!(&actions[..], [CallAction::PlayPrompt { call_id, prompts, .. }] if call_id == CALL && prompts == &vec![prompt(GREETING)]),
        "{actions:?}"
    );
    let CallAction::PlayPrompt { client_context, .. } = &actions[0] else {
        unreachable!()
    };
    let op = h.control.last_operation();
    let actions = h
        .send(prompt_completed(CALL, &op, client_context.as_deref()))
        .await;
    assert_eq!(
        actions,
        vec![CallAction::HangUp {
            call_id: CALL.into()
        }]
    );
}

#[tokio::test]
async fn answer_and_greet_reports_missing_configuration() {
    let h = Harness::new("answer-and-greet", &[]);
    let invocation = h
        .runtime
        .invoke(
            &h.plugin,
            EventInput {
                call: context(CALL, CallState::Established),
                event: state_changed(CALL, CallState::Establishing, CallState::Established),
                control: h.control.clone(),
                state: h.state.clone(),
            },
        )
        .await;
    match invocation.outcome {
        Outcome::Failed { message } => assert!(message.contains("greeting"), "{message}"),
        other => panic!("expected a failure naming the missing key, got {other:?}"),
    }
}

const IVR_CONFIG: &[(&str, &str)] = &[
    ("menu", "https://media.example.com/menu.wav"),
    ("info", "https://media.example.com/info.wav"),
    ("goodbye", "https://media.example.com/goodbye.wav"),
    ("sales", "user:sales-user-id"),
    ("operator", "phone:+14255550100"),
];

async fn ivr_in_menu() -> Harness {
    let mut h = Harness::new("ivr-menu", IVR_CONFIG);
    let actions = h.send(incoming_call(CALL)).await;
    assert!(
        matches!(&actions[..], [CallAction::Answer { options, .. }] if options.prefetch == vec![prompt(IVR_CONFIG[0].1)]),
        "{actions:?}"
    );
    let actions = h.establish().await;
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, CallAction::SubscribeToTone { .. })),
        "{actions:?}"
    );
    let play = &actions[operation_of(&actions)];
    assert!(
        matches!(play, CallAction::PlayPrompt { prompts, .. } if prompts == &vec![prompt(IVR_CONFIG[0].1)])
    );
    h
}

fn transfer_to(target: Identity) -> CallAction {
    CallAction::Transfer {
        call_id: CALL.into(),
        request: TransferRequest {
            target,
            replaces_call_id: None,
            transferee: None,
        },
    }
}

#[tokio::test]
async fn ivr_key_1_transfers_to_sales() {
    let mut h = ivr_in_menu().await;
    let actions = h.send(tone(CALL, '1', 1)).await;
    assert_eq!(actions, vec![transfer_to(Identity::user("sales-user-id"))]);
}

#[tokio::test]
async fn ivr_key_0_transfers_to_the_operator() {
    let mut h = ivr_in_menu().await;
    let actions = h.send(tone(CALL, '0', 1)).await;
    assert_eq!(actions, vec![transfer_to(Identity::phone("+14255550100"))]);
}

#[tokio::test]
async fn ivr_key_2_plays_info_then_hangs_up() {
    let mut h = ivr_in_menu().await;
    let actions = h.send(tone(CALL, '2', 1)).await;
    let CallAction::PlayPrompt {
        prompts,
        client_context,
        ..
    } = &actions[operation_of(&actions)]
    else {
        unreachable!()
    };
    assert_eq!(prompts, &vec![prompt(IVR_CONFIG[1].1)]);
    let op = h.control.last_operation();
    let actions = h
        .send(prompt_completed(CALL, &op, client_context.as_deref()))
        .await;
    assert_eq!(
        actions,
        vec![CallAction::HangUp {
            call_id: CALL.into()
        }]
    );
}

#[tokio::test]
async fn ivr_star_and_wrong_keys_replay_the_menu_and_three_wrong_keys_say_goodbye() {
    let mut h = ivr_in_menu().await;
    let replay = |actions: &[CallAction]| matches!(actions, [CallAction::PlayPrompt { prompts, .. }] if prompts == &vec![prompt(IVR_CONFIG[0].1)]);
    let actions = h.send(tone(CALL, '*', 1)).await;
    assert!(replay(&actions), "* replays the menu: {actions:?}");
    for (seq, key) in [(2, '9'), (3, '#')] {
        let actions = h.send(tone(CALL, key, seq)).await;
        assert!(
            replay(&actions),
            "wrong key {key} replays the menu: {actions:?}"
        );
    }
    let actions = h.send(tone(CALL, '5', 4)).await;
    let CallAction::PlayPrompt {
        prompts,
        client_context,
        ..
    } = &actions[0]
    else {
        panic!("goodbye expected: {actions:?}")
    };
    assert_eq!(prompts, &vec![prompt(IVR_CONFIG[2].1)]);
    let op = h.control.last_operation();
    let actions = h
        .send(prompt_completed(CALL, &op, client_context.as_deref()))
        .await;
    assert_eq!(
        actions,
        vec![CallAction::HangUp {
            call_id: CALL.into()
        }]
    );
}

#[tokio::test]
async fn a_prompt_completion_of_another_operation_changes_nothing() {
    let mut h = ivr_in_menu().await;
    let actions = h
        .send(prompt_completed(CALL, "op-unrelated", Some("someone-else")))
        .await;
    assert_eq!(actions, vec![], "only the IVR's own prompts drive it");
}
