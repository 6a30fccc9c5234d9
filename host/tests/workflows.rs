//! The example workflows, driven event by event through the runtime with a recording call
//! control: given this call, when the caller presses 1, then a transfer to sales is requested.
//!
//! The IVR menu is written in Rust, Python, JavaScript and C. Every IVR scenario runs against
//! each of them (`ivr_menu_python::key_1_transfers_to_sales`, …), so a failure names the
//! language, and the four must agree on actions, call state and error messages.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use crate::support::*;
use callhost::call::{
    AnswerOptions, CallAction, CallEvent, CallEventKind, CallState, ChangeType, Identity,
    MediaPrompt, Modality, ResultInfo, StateChanged, TimerRequest, TransferRequest,
};
use callhost::policy::{CapabilityPolicy, PolicyConfig};
use callhost::runtime::{
    EventInput, MemoryStateStore, Outcome, PluginSpec, PluginVersion, Runtime, RuntimeSettings,
    StateScope, StateStore, TimerView,
};

const CALL: &str = "call-1";

/// One runtime for the whole test binary, with the compile cache the tests share: Python and
/// JavaScript components take seconds to compile.
static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    Runtime::new(RuntimeSettings {
        cache_dir: Some(repo_root().join("target/test-compile-cache")),
        ..RuntimeSettings::default()
    })
    .expect("a runtime")
});

/// Plugins loaded so far, by plugin and configuration.
static LOADED: LazyLock<Mutex<BTreeMap<(String, Config), PluginVersion>>> =
    LazyLock::new(Mutex::default);

type Config = &'static [(&'static str, &'static str)];

fn load(plugin: &str, config: Config) -> PluginVersion {
    let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    loaded
        .entry((plugin.to_string(), config))
        .or_insert_with(|| {
            let mut spec = PluginSpec::new(plugin);
            spec.config = config
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            spec.policy = CapabilityPolicy::from_config(&PolicyConfig {
                allow: None,
                // Phone numbers are reachable only when the policy says: the operator's is.
                targets: Some(vec!["user".into(), "phone:+1425*".into()]),
            })
            .expect("a valid policy");
            RUNTIME
                .load_file(spec, &plugin_path(plugin))
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .clone()
}

/// One call of one plugin: its events go through the runtime, its actions are recorded.
struct Harness {
    plugin: PluginVersion,
    control: Arc<RecordingControl>,
    state: Arc<MemoryStateStore>,
    call_state: CallState,
    /// The call's timers, as the host would keep them.
    timers: TimerView,
    /// What the last event asked of its timers.
    timer_requests: Vec<TimerRequest>,
}

impl Harness {
    fn new(plugin: &str, config: Config) -> Self {
        Self {
            plugin: load(plugin, config),
            control: RecordingControl::with_calls(&[CALL]),
            state: Arc::new(MemoryStateStore::new()),
            call_state: CallState::Incoming,
            timers: TimerView::default(),
            timer_requests: Vec::new(),
        }
    }

    /// Runs the plugin for `event` and returns how it ended.
    async fn invoke(&mut self, event: CallEvent) -> Outcome {
        if let CallEventKind::StateChanged(change) = &event.kind {
            self.call_state = change.state;
        }
        let input = EventInput {
            call: context(CALL, self.call_state),
            event,
            control: self.control.clone(),
            state: self.state.clone(),
            timers: self.timers.clone(),
        };
        if let CallEventKind::TimerFired(fired) = &input.event.kind {
            self.timers.pending.remove(&fired.name);
        }
        let invocation = RUNTIME.invoke(&self.plugin, input).await;
        for request in &invocation.timers {
            match request {
                TimerRequest::Set { name, .. } => self.timers.pending.insert(name.clone()),
                TimerRequest::Cancel { name } => self.timers.pending.remove(name),
                _ => false,
            };
        }
        self.timer_requests = invocation.timers;
        invocation.outcome
    }

    /// Runs the plugin for `event`, which it must handle, and returns the actions it took.
    async fn send(&mut self, event: CallEvent) -> Vec<CallAction> {
        let outcome = self.invoke(event).await;
        assert_eq!(
            outcome,
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

    /// The text the plugin stored under `key` in the call's state.
    fn call_state(&self, key: &str) -> Option<String> {
        let scope = StateScope::Call {
            plugin: self.plugin.info.id.as_str().into(),
            call_id: CALL.into(),
        };
        let value = self.state.get(&scope, key)?;
        Some(String::from_utf8(value).expect("call state is text"))
    }
}

/// A prompt of the examples' config: `https://media.example.com/<key>.wav`, with the resource id
/// the workflows derive from its URL.
fn prompt(key: &str) -> MediaPrompt {
    let resource_id = match key {
        "menu" => "menu-c099f159",
        "info" => "info-c31c86e6",
        "goodbye" => "goodbye-6ade9755",
        "greeting" => "greeting-3a111bad",
        _ => panic!("no prompt {key}"),
    };
    MediaPrompt {
        uri: format!("https://media.example.com/{key}.wav"),
        resource_id: Some(resource_id.to_string()),
    }
}

fn play(key: &str) -> CallAction {
    CallAction::PlayPrompt {
        call_id: CALL.into(),
        prompts: vec![prompt(key)],
        client_context: Some(key.to_string()),
    }
}

fn answer(prefetch: &str) -> CallAction {
    CallAction::Answer {
        call_id: CALL.into(),
        options: AnswerOptions {
            modalities: vec![Modality::Audio],
            prefetch: vec![prompt(prefetch)],
        },
    }
}

fn hang_up() -> CallAction {
    CallAction::HangUp {
        call_id: CALL.into(),
    }
}

mod answer_and_greet {
    use super::*;

    const CONFIG: Config = &[("greeting", "https://media.example.com/greeting.wav")];

    #[tokio::test]
    async fn answers_greets_and_hangs_up_after_the_prompt() {
        let mut h = Harness::new("answer-and-greet", CONFIG);
        assert_eq!(h.send(incoming_call(CALL)).await, vec![answer("greeting")]);
        assert_eq!(h.establish().await, vec![play("greeting")]);
        let op = h.control.last_operation();
        assert_eq!(h.call_state("greeting-operation"), Some(op.clone()));
        let actions = h.send(prompt_completed(CALL, &op, Some("greeting"))).await;
        assert_eq!(actions, vec![hang_up()]);
    }

    #[tokio::test]
    async fn reports_missing_configuration() {
        let mut h = Harness::new("answer-and-greet", &[]);
        let outcome = h
            .invoke(state_changed(
                CALL,
                CallState::Establishing,
                CallState::Established,
            ))
            .await;
        match outcome {
            Outcome::Failed { message } => assert!(message.contains("greeting"), "{message}"),
            other => panic!("expected a failure naming the missing key, got {other:?}"),
        }
    }
}

/// The IVR menu's scenarios, each run against one implementation of it.
mod ivr {
    use super::*;

    const SALES: &str = "5f3c2a1b-0d4e-4f6a-8b7c-9d0e1f2a3b4c";
    const OPERATOR: &str = "+14255550100";

    pub const CONFIG: Config = &[
        ("menu", "https://media.example.com/menu.wav"),
        ("info", "https://media.example.com/info.wav"),
        ("goodbye", "https://media.example.com/goodbye.wav"),
        ("sales", "user:5f3c2a1b-0d4e-4f6a-8b7c-9d0e1f2a3b4c"),
        ("operator", "phone:+14255550100"),
        ("no_input_ms", "4000"),
    ];

    fn no_input_timer() -> TimerRequest {
        TimerRequest::Set {
            name: "no-input".into(),
            delay_ms: 4000,
            payload: None,
        }
    }

    /// `sales` is not a transfer target and `goodbye` is missing.
    const BROKEN_CONFIG: Config = &[
        ("menu", "https://media.example.com/menu.wav"),
        ("info", "https://media.example.com/info.wav"),
        ("sales", "user:alice@contoso.com"),
        ("operator", "phone:+14255550100"),
    ];

    /// A call in the menu, after the answer and the menu's first playing.
    pub async fn in_menu(plugin: &str, config: Config) -> Harness {
        let mut h = Harness::new(plugin, config);
        assert_eq!(h.send(incoming_call(CALL)).await, vec![answer("menu")]);
        let subscribe = CallAction::SubscribeToTone {
            call_id: CALL.into(),
            client_context: None,
        };
        assert_eq!(h.establish().await, vec![subscribe, play("menu")]);
        assert_eq!(h.call_state("stage").as_deref(), Some("menu"));
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

    /// The call back in `established` after a failed transfer.
    fn transfer_failed() -> CallEvent {
        CallEvent {
            kind: CallEventKind::StateChanged(StateChanged {
                state: CallState::Established,
                previous: CallState::Transferring,
                result: Some(ResultInfo {
                    code: 500,
                    subcode: 7000,
                    message: Some("transfer failed".into()),
                }),
                termination_reason: None,
            }),
            change_type: ChangeType::Updated,
            resource_url: format!("/communications/calls/{CALL}"),
            raw: "{}".into(),
        }
    }

    fn failure(outcome: Outcome) -> String {
        match outcome {
            Outcome::Failed { message } => message,
            other => panic!("expected the plugin to fail with a message, got {other:?}"),
        }
    }

    pub async fn answers_subscribes_and_offers_the_menu(plugin: &str) {
        in_menu(plugin, CONFIG).await;
    }

    pub async fn key_1_transfers_to_sales(plugin: &str) {
        let mut h = in_menu(plugin, CONFIG).await;
        let actions = h.send(tone(CALL, '1', 1)).await;
        assert_eq!(actions, vec![transfer_to(Identity::user(SALES))]);
        assert_eq!(h.call_state("stage").as_deref(), Some("transferring"));
        let actions = h.send(tone(CALL, '0', 2)).await;
        assert_eq!(actions, vec![], "keys are ignored during a transfer");
    }

    pub async fn key_0_transfers_to_the_operator(plugin: &str) {
        let mut h = in_menu(plugin, CONFIG).await;
        let actions = h.send(tone(CALL, '0', 1)).await;
        assert_eq!(actions, vec![transfer_to(Identity::phone(OPERATOR))]);
    }

    pub async fn a_failed_transfer_brings_the_menu_back(plugin: &str) {
        let mut h = in_menu(plugin, CONFIG).await;
        h.send(tone(CALL, '1', 1)).await;
        assert_eq!(h.send(transfer_failed()).await, vec![play("menu")]);
        assert_eq!(h.call_state("stage").as_deref(), Some("menu"));
        let actions = h.send(tone(CALL, '0', 2)).await;
        assert_eq!(actions, vec![transfer_to(Identity::phone(OPERATOR))]);
    }

    pub async fn key_2_plays_info_then_hangs_up(plugin: &str) {
        let mut h = in_menu(plugin, CONFIG).await;
        assert_eq!(h.send(tone(CALL, '2', 1)).await, vec![play("info")]);
        let op = h.control.last_operation();
        assert_eq!(h.call_state("stage").as_deref(), Some("hanging-up"));
        assert_eq!(h.call_state("hang-up-after"), Some(op.clone()));
        let actions = h.send(tone(CALL, '1', 2)).await;
        assert_eq!(
            actions,
            vec![],
            "keys are ignored while the last prompt plays"
        );
        let actions = h.send(prompt_completed(CALL, &op, Some("info"))).await;
        assert_eq!(actions, vec![hang_up()]);
    }

    pub async fn star_and_wrong_keys_replay_the_menu_and_three_wrong_keys_say_goodbye(
        plugin: &str,
    ) {
        let mut h = in_menu(plugin, CONFIG).await;
        assert_eq!(h.send(tone(CALL, '*', 1)).await, vec![play("menu")]);
        assert_eq!(h.call_state("invalid-keys"), None, "* is no wrong key");
        for (seq, key, count) in [(2, '9', "1"), (3, '#', "2")] {
            let actions = h.send(tone(CALL, key, seq)).await;
            assert_eq!(actions, vec![play("menu")], "wrong key {key}");
            assert_eq!(h.call_state("invalid-keys").as_deref(), Some(count));
        }
        assert_eq!(h.send(tone(CALL, '5', 4)).await, vec![play("goodbye")]);
        assert_eq!(h.call_state("invalid-keys").as_deref(), Some("3"));
        assert_eq!(h.call_state("stage").as_deref(), Some("hanging-up"));
        let op = h.control.last_operation();
        let actions = h.send(prompt_completed(CALL, &op, Some("goodbye"))).await;
        assert_eq!(actions, vec![hang_up()]);
    }

    pub async fn silence_after_the_menu_offers_it_again_and_three_say_goodbye(plugin: &str) {
        let mut h = in_menu(plugin, CONFIG).await;
        for silences in ["1", "2"] {
            let op = h.control.last_operation();
            assert_eq!(
                h.send(prompt_completed(CALL, &op, Some("menu"))).await,
                vec![]
            );
            assert_eq!(
                h.timer_requests,
                vec![no_input_timer()],
                "the menu has played"
            );
            let actions = h.send(timer_fired(CALL, "no-input")).await;
            assert_eq!(actions, vec![play("menu")], "silence {silences}");
            assert_eq!(h.call_state("silences").as_deref(), Some(silences));
        }
        let op = h.control.last_operation();
        h.send(prompt_completed(CALL, &op, Some("menu"))).await;
        assert_eq!(
            h.send(timer_fired(CALL, "no-input")).await,
            vec![play("goodbye")]
        );
        assert_eq!(h.call_state("stage").as_deref(), Some("hanging-up"));
        let op = h.control.last_operation();
        let actions = h.send(prompt_completed(CALL, &op, Some("goodbye"))).await;
        assert_eq!(actions, vec![hang_up()]);
        assert_eq!(h.timer_requests, vec![], "no timer after goodbye");
    }

    pub async fn a_key_cancels_the_silence_timer(plugin: &str) {
        let mut h = in_menu(plugin, CONFIG).await;
        let op = h.control.last_operation();
        h.send(prompt_completed(CALL, &op, Some("menu"))).await;
        assert_eq!(h.send(tone(CALL, '*', 1)).await, vec![play("menu")]);
        let cancel = TimerRequest::Cancel {
            name: "no-input".into(),
        };
        assert_eq!(h.timer_requests, vec![cancel]);
        let actions = h.send(tone(CALL, '1', 2)).await;
        assert_eq!(actions, vec![transfer_to(Identity::user(SALES))]);
        assert_eq!(h.timer_requests, vec![], "no timer was pending");
        let late = h.send(timer_fired(CALL, "no-input")).await;
        assert_eq!(
            late,
            vec![],
            "a silence during the transfer changes nothing"
        );
    }

    pub async fn keys_before_the_call_is_established_are_ignored(plugin: &str) {
        let mut h = Harness::new(plugin, CONFIG);
        h.send(incoming_call(CALL)).await;
        assert_eq!(h.send(tone(CALL, '1', 1)).await, vec![]);
        assert_eq!(h.call_state("stage"), None);
    }

    pub async fn completions_of_other_operations_change_nothing(plugin: &str) {
        let mut h = in_menu(plugin, CONFIG).await;
        let actions = h
            .send(prompt_completed(CALL, "op-unrelated", Some("someone-else")))
            .await;
        assert_eq!(
            actions,
            vec![],
            "only the IVR's own last prompt ends the call"
        );
    }

    pub async fn a_failed_request_is_reported_with_its_reason(plugin: &str) {
        let mut h = Harness::new(plugin, CONFIG);
        h.control = RecordingControl::with_calls(&[]);
        let message = failure(h.invoke(incoming_call(CALL)).await);
        assert_eq!(message, "answer failed: not-found (the call is gone)");
    }

    pub async fn a_malformed_target_is_reported_by_its_key(plugin: &str) {
        let mut h = in_menu(plugin, BROKEN_CONFIG).await;
        let message = failure(h.invoke(tone(CALL, '1', 1)).await);
        assert_eq!(
            message,
            "config value `sales` = `user:alice@contoso.com` is not a transfer target; expected \
             `user:<object-id>`, `phone:+<E.164 number>` or `application:<app-id>`"
        );
        assert_eq!(h.control.take(), vec![], "no transfer was requested");
    }

    pub async fn a_missing_prompt_is_reported_by_its_key(plugin: &str) {
        let mut h = in_menu(plugin, BROKEN_CONFIG).await;
        for (seq, key) in [(1, '7'), (2, '8')] {
            h.send(tone(CALL, key, seq)).await;
        }
        let message = failure(h.invoke(tone(CALL, '9', 3)).await);
        assert_eq!(
            message,
            "config value `goodbye` is not set; add it to the plugin's `config` table"
        );
    }
}

/// Runs every IVR scenario against every implementation: one test module per language.
macro_rules! ivr_menu_in_every_language {
    ($($scenario:ident),* $(,)?) => {
        ivr_menu_in_every_language!(@language ivr_menu_rust "ivr-menu"; $($scenario),*);
        ivr_menu_in_every_language!(@language ivr_menu_python "ivr-menu-python"; $($scenario),*);
        ivr_menu_in_every_language!(@language ivr_menu_js "ivr-menu-js"; $($scenario),*);
        ivr_menu_in_every_language!(@language ivr_menu_c "ivr-menu-c"; $($scenario),*);
    };
    (@language $language:ident $plugin:literal; $($scenario:ident),*) => {
        mod $language {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::ivr::$scenario($plugin).await;
                }
            )*
        }
    };
}

ivr_menu_in_every_language!(
    answers_subscribes_and_offers_the_menu,
    key_1_transfers_to_sales,
    key_0_transfers_to_the_operator,
    a_failed_transfer_brings_the_menu_back,
    key_2_plays_info_then_hangs_up,
    star_and_wrong_keys_replay_the_menu_and_three_wrong_keys_say_goodbye,
    keys_before_the_call_is_established_are_ignored,
    silence_after_the_menu_offers_it_again_and_three_say_goodbye,
    a_key_cancels_the_silence_timer,
    completions_of_other_operations_change_nothing,
    a_failed_request_is_reported_with_its_reason,
    a_malformed_target_is_reported_by_its_key,
    a_missing_prompt_is_reported_by_its_key,
);

/// The cost of one event per language: a fresh instance plus `on-event`, as the host runs
/// every event. `cargo test --release -p callhost-cli --test e2e -- --ignored --nocapture workflows::`
#[tokio::test]
#[ignore = "a measurement, not a test"]
async fn ivr_menu_cost_per_event() {
    for (plugin, runs) in [
        ("ivr-menu", 5000),
        ("ivr-menu-c", 5000),
        ("ivr-menu-js", 1000),
        ("ivr-menu-python", 1000),
    ] {
        let h = ivr::in_menu(plugin, ivr::CONFIG).await;
        for (name, event) in [
            ("incoming call", incoming_call(CALL)),
            ("key * in the menu", tone(CALL, '*', 1)),
        ] {
            let mut times = Vec::with_capacity(runs);
            for _ in 0..runs {
                let input = EventInput {
                    call: context(CALL, h.call_state),
                    event: event.clone(),
                    control: h.control.clone(),
                    state: h.state.clone(),
                    timers: Default::default(),
                };
                let invocation = RUNTIME.invoke(&h.plugin, input).await;
                assert_eq!(invocation.outcome, Outcome::Completed);
                times.push(invocation.duration);
                h.control.take();
            }
            times.sort();
            let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
            println!(
                "{plugin:<16} {name:<18} p50 {:>8.1} µs  p99 {:>8.1} µs  ({runs} events)",
                micros(at(0.50)),
                micros(at(0.99)),
            );
        }
    }
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}
