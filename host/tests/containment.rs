//! Misbehaving plugins are contained: each ends with the right outcome, the host stays up, and
//! other calls proceed meanwhile.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::*;
use callhost::call::{CallAction, CallState};
use callhost::runtime::{
    EventInput, Invocation, MemoryStateStore, Outcome, PluginLimits, PluginSpec, PluginVersion,
    Runtime, RuntimeSettings,
};

fn runtime() -> Runtime {
    Runtime::new(RuntimeSettings::default()).unwrap()
}

fn load(runtime: &Runtime, name: &str, limits: PluginLimits) -> PluginVersion {
    let mut spec = PluginSpec::new(name);
    spec.limits = limits;
    spec.config.insert(
        "greeting".into(),
        "https://media.example.com/hello.wav".into(),
    );
    runtime.load_file(spec, &plugin_path(name)).unwrap()
}

async fn run(
    runtime: &Runtime,
    plugin: &PluginVersion,
    call_id: &str,
) -> (Invocation, Arc<RecordingControl>) {
    let control = RecordingControl::with_calls(&[call_id]);
    let invocation = runtime
        .invoke(
            plugin,
            EventInput {
                call: context(call_id, CallState::Incoming),
                event: incoming_call(call_id),
                control: control.clone(),
                state: Arc::new(MemoryStateStore::new()),
                timers: Default::default(),
            },
        )
        .await;
    (invocation, control)
}

fn short_deadline() -> PluginLimits {
    PluginLimits {
        deadline: Duration::from_millis(300),
        ..PluginLimits::default()
    }
}

#[tokio::test]
async fn an_infinite_loop_times_out_at_its_deadline() {
    let runtime = runtime();
    let plugin = load(&runtime, "loop-forever", short_deadline());
    let started = Instant::now();
    let (invocation, _) = run(&runtime, &plugin, "c1").await;
    assert_eq!(invocation.outcome, Outcome::Timeout { limit_ms: 300 });
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "took {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_calls_proceed_while_a_plugin_loops() {
    let runtime = runtime();
    let looping = load(
        &runtime,
        "loop-forever",
        PluginLimits {
            deadline: Duration::from_millis(1500),
            ..PluginLimits::default()
        },
    );
    let greeter = load(&runtime, "answer-and-greet", PluginLimits::default());
    let spinning = tokio::spawn({
        let runtime = runtime.clone();
        async move { run(&runtime, &looping, "looping-call").await.0 }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    for i in 0..20 {
        let call = format!("good-call-{i}");
        let (invocation, control) = run(&runtime, &greeter, &call).await;
        assert_eq!(invocation.outcome, Outcome::Completed);
        assert!(
            matches!(&control.actions()[..], [CallAction::Answer { call_id, .. }] if *call_id == call)
        );
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(1000),
        "20 events of another call took {took:?} while a plugin looped"
    );
    assert!(
        !spinning.is_finished(),
        "the looping plugin should still be running"
    );
    assert!(matches!(
        spinning.await.unwrap().outcome,
        Outcome::Timeout { .. }
    ));
}

#[tokio::test]
async fn a_memory_hog_hits_its_cap() {
    let runtime = runtime();
    let limits = PluginLimits {
        memory_bytes: 32 << 20,
        ..PluginLimits::default()
    };
    let plugin = load(&runtime, "memory-hog", limits);
    let (invocation, _) = run(&runtime, &plugin, "c1").await;
    assert_eq!(
        invocation.outcome,
        Outcome::OutOfMemory {
            limit_bytes: 32 << 20
        }
    );
}

#[tokio::test]
async fn deep_recursion_overflows_the_stack() {
    let runtime = runtime();
    let plugin = load(&runtime, "deep-recursion", PluginLimits::default());
    let (invocation, _) = run(&runtime, &plugin, "c1").await;
    assert_eq!(invocation.outcome, Outcome::StackOverflow);
}

#[tokio::test]
async fn a_trap_reports_its_message_and_backtrace() {
    let runtime = runtime();
    let plugin = load(&runtime, "trap", PluginLimits::default());
    let (invocation, control) = run(&runtime, &plugin, "c1").await;
    match invocation.outcome {
        Outcome::Trap { message, backtrace } => {
            assert!(message.contains("unreachable"), "{message}");
            assert!(
                message.contains("workflow bug"),
                "the panic message is part of the outcome: {message}"
            );
            let backtrace = backtrace.expect("a backtrace");
            assert!(
                backtrace.contains("wasm function") || backtrace.contains("on_event"),
                "{backtrace}"
            );
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    assert!(control.actions().is_empty());
}

#[tokio::test]
async fn a_log_flood_is_cut_off_by_the_host_call_limit() {
    let runtime = runtime();
    let plugin = load(&runtime, "log-flood", PluginLimits::default());
    let started = Instant::now();
    let (invocation, _) = run(&runtime, &plugin, "c1").await;
    assert_eq!(
        invocation.outcome,
        Outcome::HostCallLimit {
            what: "host calls".into(),
            limit: 10_000
        }
    );
    assert_eq!(
        invocation.logs_dropped,
        10_000 - 1_000,
        "lines past the log limit are dropped, not written"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn stdout_and_stderr_floods_are_bounded_without_stopping_the_plugin() {
    let runtime = runtime();
    // With room for a million log calls, the flood ends by itself; its output is capped.
    let plugin = load(
        &runtime,
        "log-flood",
        PluginLimits {
            host_calls: 2_000_000,
            deadline: Duration::from_secs(60),
            ..PluginLimits::default()
        },
    );
    let (invocation, _) = run(&runtime, &plugin, "c1").await;
    assert_eq!(invocation.outcome, Outcome::Completed);
    assert_eq!(invocation.logs_dropped, 1_000_000 - 1_000);
}

#[tokio::test]
async fn a_hundred_thousand_host_calls_hit_the_limit() {
    let runtime = runtime();
    let plugin = load(&runtime, "host-call-flood", PluginLimits::default());
    let (invocation, _) = run(&runtime, &plugin, "c1").await;
    assert_eq!(
        invocation.outcome,
        Outcome::HostCallLimit {
            what: "host calls".into(),
            limit: 10_000
        }
    );
}

#[tokio::test]
async fn actions_on_an_unknown_call_get_not_found_and_reach_nothing() {
    let runtime = runtime();
    let plugin = load(&runtime, "unknown-call", PluginLimits::default());
    let (invocation, control) = run(&runtime, &plugin, "c1").await;
    match invocation.outcome {
        Outcome::Failed { message } => assert!(
            message.to_lowercase().contains("not-found")
                || message.to_lowercase().contains("notfound")
                || message.to_lowercase().contains("not found"),
            "{message}"
        ),
        other => panic!("expected the plugin to return the not-found error, got {other:?}"),
    }
    assert!(control.actions().is_empty());
}

#[tokio::test]
async fn every_event_starts_from_the_initial_memory() {
    let runtime = runtime();
    let plugin = load(&runtime, "remember", PluginLimits::default());
    for n in 0..5 {
        let (invocation, _) = run(&runtime, &plugin, "c1").await;
        assert_eq!(invocation.outcome, Outcome::Completed, "event {n}");
    }
}

#[tokio::test]
async fn the_host_keeps_serving_after_every_kind_of_failure() {
    let runtime = runtime();
    for name in ["trap", "deep-recursion", "memory-hog", "host-call-flood"] {
        let plugin = load(&runtime, name, short_deadline());
        let (invocation, _) = run(&runtime, &plugin, "c1").await;
        assert!(
            !invocation.outcome.returned(),
            "{name}: {:?}",
            invocation.outcome
        );
    }
    let greeter = load(&runtime, "answer-and-greet", PluginLimits::default());
    let (invocation, _) = run(&runtime, &greeter, "c2").await;
    assert_eq!(invocation.outcome, Outcome::Completed);
}
