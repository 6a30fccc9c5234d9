//! New versions that must not go in service, and files caught while being written.

use super::fixture::*;
use crate::support::bot::Bot;
use callhost::reload::RELOAD_DEBOUNCE;

#[tokio::test]
async fn broken_files_are_rejected_and_the_previous_version_keeps_serving() {
    let files = PluginFiles::new();
    let good = built("recorder");
    let path = files.install("greeter", &good);
    let bot = Bot::start(&recorder_answering("greeter", &path)).await;
    let plugins = bot.dispatcher.plugins().clone();
    let cases = [
        (
            "a truncated file",
            good[..good.len() / 2].to_vec(),
            "invalid component",
        ),
        (
            "a core module",
            wat::parse_str("(module)").unwrap(),
            "core WebAssembly module, not a component",
        ),
        (
            "a component of another world",
            wat::parse_str("(component)").unwrap(),
            "export `callhost:workflow/handler@0.3.0` missing",
        ),
    ];
    for (n, (what, bytes, error)) in cases.iter().enumerate() {
        let failures = plugin(&plugins, "greeter").reloads.failures;
        replace(&path, bytes);
        let rejected =
            wait_for_plugin(&plugins, "greeter", what, |p| p.reloads.failures > failures).await;
        let message = rejected.reloads.last_error.unwrap().message;
        assert!(message.contains(error), "{what}: {message}");
        assert_eq!(rejected.current, version_of(&good), "{what}");
        let call = bot.sim.incoming_call(caller(n), bot_identity());
        wait_for_each(&bot, std::slice::from_ref(&call), "/answer").await;
        assert_eq!(in_progress(&bot, &call).plugin_version, version_of(&good));
    }
    let report = bot.admin_get("/admin/plugins").await;
    let last_error = report["plugins"][0]["reloads"]["lastError"]["message"].as_str();
    assert!(
        last_error.unwrap().contains("handler@0.3.0` missing"),
        "{report:#}"
    );

    // A component that traps at every event is a valid version: it goes in service, and the
    // route's fallback (reject as busy) takes its calls.
    let trap = built("trap");
    replace(&path, &trap);
    wait_for_plugin(
        &plugins,
        "greeter",
        "the trapping version goes in service",
        |p| p.current == version_of(&trap),
    )
    .await;
    let call = bot.sim.incoming_call(caller(9), bot_identity());
    wait_for_each(&bot, std::slice::from_ref(&call), "/reject").await;
    wait_for_plugin(&plugins, "greeter", "the failure is reported", |p| {
        p.versions
            .iter()
            .any(|v| v.version == version_of(&trap) && v.events_failed > 0)
    })
    .await;
    let report = bot.admin_get("/admin/plugins").await;
    let current = report["plugins"][0]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["state"] == "current")
        .unwrap()
        .clone();
    assert_eq!(current["lastFailure"]["outcome"], "trap", "{current:#}");
    assert!(bot.dispatcher.metrics().fallbacks >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_writes_and_editor_renames_put_only_complete_files_in_service() {
    let files = PluginFiles::new();
    let v1 = built("recorder");
    let path = files.install("greeter", &v1);
    let bot = Bot::start(&recorder_answering("greeter", &path)).await;
    let plugins = bot.dispatcher.plugins().clone();

    // A copy that pauses longer than the debounce: the half-written file is rejected at most,
    // and the whole one goes in service.
    let slow = variant(&v1, "slow");
    write_slowly(&path, &slow, RELOAD_DEBOUNCE * 3).await;
    let after_slow = wait_for_plugin(&plugins, "greeter", "the slow copy loads", |p| {
        p.current == version_of(&slow)
    })
    .await;
    assert_eq!(after_slow.reloads.reloads, 1);
    assert!(after_slow.reloads.failures <= 1);

    // An editor: the old file renamed to a backup, the new one written, the backup removed.
    let edited = variant(&v1, "editor");
    let backup = path.with_extension("wasm~");
    std::fs::rename(&path, &backup).unwrap();
    std::fs::write(&path, &edited).unwrap();
    std::fs::remove_file(&backup).unwrap();
    let after_edit = wait_for_plugin(&plugins, "greeter", "the edited file loads", |p| {
        p.current == version_of(&edited)
    })
    .await;
    assert_eq!(after_edit.reloads.reloads, 2);

    // Written in place: truncated, then written.
    let in_place = variant(&v1, "in-place");
    std::fs::write(&path, &in_place).unwrap();
    let done = wait_for_plugin(&plugins, "greeter", "the rewritten file loads", |p| {
        p.current == version_of(&in_place)
    })
    .await;
    assert_eq!(done.reloads.reloads, 3);
    assert_eq!(done.reloads.failures, after_slow.reloads.failures);
    let call = bot.sim.incoming_call(caller(0), bot_identity());
    wait_for_each(&bot, std::slice::from_ref(&call), "/answer").await;
}
