//! Plugins reloaded while the service runs: calls in progress keep the version that took their
//! first event (or move to the new one, with their state, when the plugin migrates), new calls
//! get the new version within a second, files that are broken or still being written never go
//! in service, configuration changes apply as a whole or not at all, and restarts compile only
//! what changed.

mod support;

#[path = "hot_reload/bench.rs"]
mod bench;
#[path = "hot_reload/fixture.rs"]
mod fixture;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use callhost::app::App;
use callhost::call::Tone;
use callhost::plugins::RELOAD_DEBOUNCE;
use callhost::simulator::SimRecord;
use fixture::*;
use serde_json::json;
use support::bot::{Bot, plugin_table_at, test_cache_dir};

/// Calls in progress when the file changes.
const EARLY_CALLS: usize = 200;
/// How long new calls keep arriving after the file changed.
const TRAFFIC: Duration = Duration::from_millis(1500);
/// New calls get the new version within this of the file change.
const RELOAD_DEADLINE: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_under_load_keeps_each_call_on_one_version_and_new_calls_move_within_a_second() {
    let files = PluginFiles::new();
    let v1 = built("ivr-menu");
    let v2 = variant(&v1, "under-load");
    let (old, new) = (version_of(&v1), version_of(&v2));
    let path = files.install("ivr", &v1);
    let bot = ivr_bot(&path, "pin", "").await;
    let plugins = bot.dispatcher.plugins().clone();

    let early: Vec<String> = (0..EARLY_CALLS)
        .map(|n| bot.sim.incoming_call(caller(n), bot_identity()))
        .collect();
    wait_for_each(&bot, &early, "/playPrompt").await;

    // The new version arrives while calls keep coming and callers keep pressing keys.
    let changed = Instant::now();
    replace(&path, &v2);
    let mut late = Vec::new();
    let mut menus: HashMap<String, usize> = early.iter().map(|c| (c.clone(), 1)).collect();
    let mut swapped = None;
    while changed.elapsed() < TRAFFIC {
        let n = EARLY_CALLS + late.len();
        late.push((
            changed.elapsed(),
            bot.sim.incoming_call(caller(n), bot_identity()),
        ));
        let pressed = &early[n % EARLY_CALLS];
        bot.sim.press(pressed, Tone::Star);
        *menus.get_mut(pressed).unwrap() += 1;
        if swapped.is_none() && plugin(&plugins, "ivr").current == new {
            swapped = Some(changed.elapsed());
        }
        // Paces the arrivals; nothing waits on an effect here.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let swapped = swapped.expect("the new version goes in service while calls keep arriving");
    assert!(
        swapped < RELOAD_DEADLINE,
        "new calls got the new version {swapped:?} after the file changed"
    );
    let late_calls: Vec<String> = late.iter().map(|(_, c)| c.clone()).collect();
    menus.extend(late_calls.iter().map(|c| (c.clone(), 1)));
    // Every key pressed replays the menu: wait until each was handled.
    wait_for_counts(&bot, &menus, "/playPrompt").await;

    let report = plugin(&plugins, "ivr");
    let pinned = |v: &str| report.versions.iter().find(|s| s.version == v).unwrap();
    assert_eq!(pinned(&old).state, "draining");
    assert_eq!(pinned(&new).state, "current");
    assert!(pinned(&old).calls_pinned >= EARLY_CALLS, "{report:#?}");
    assert_eq!(
        pinned(&old).calls_pinned + pinned(&new).calls_pinned,
        EARLY_CALLS + late.len(),
        "each call in progress holds one version"
    );

    for call in early.iter().chain(&late_calls) {
        bot.sim.remote_hang_up(call);
    }
    assert!(bot.wait_until_no_calls(WAIT).await);
    assert!(bot.dispatcher.drain(WAIT).await);

    let metrics = bot.dispatcher.metrics();
    assert_eq!((metrics.invocations_failed, metrics.fallbacks), (0, 0));
    let notifications = bot.sim.records().into_iter().filter_map(|r| match r {
        SimRecord::Notification { status, .. } => Some(status),
        _ => None,
    });
    assert!(
        notifications.clone().all(|s| s == 202),
        "every notification accepted"
    );
    assert!(notifications.count() >= (EARLY_CALLS + late.len()) * 4);

    let versions = |call: &str| -> (BTreeSet<String>, Vec<String>) {
        let served = served(&bot, call);
        (
            served.iter().map(|(v, _)| v.clone()).collect(),
            served.into_iter().map(|(_, e)| e).collect(),
        )
    };
    for call in &early {
        let (versions, events) = versions(call);
        assert_eq!(versions, BTreeSet::from([old.clone()]), "call {call}");
        assert_eq!(events.first().unwrap(), "incoming-call", "call {call}");
        assert_eq!(events.last().unwrap(), "state-changed", "call {call}");
        assert!(events.iter().any(|e| e == "tone-received"), "call {call}");
    }
    let mut on_new = 0;
    for (started, call) in &late {
        let (versions, events) = versions(call);
        assert_eq!(versions.len(), 1, "call {call} served by {versions:?}");
        assert_eq!(events.first().unwrap(), "incoming-call", "call {call}");
        assert_eq!(events.last().unwrap(), "state-changed", "call {call}");
        if versions.contains(&new) {
            on_new += 1;
        } else {
            assert!(
                *started < RELOAD_DEADLINE,
                "call {call} started {started:?} after the change"
            );
        }
    }
    assert!(on_new > 0);

    wait_for_plugin(
        &plugins,
        "ivr",
        "the old version is dropped with its last call",
        |p| p.versions.iter().all(|v| v.version != old),
    )
    .await;
}

#[tokio::test]
async fn with_migrate_calls_move_at_their_next_event_and_keep_their_state() {
    let files = PluginFiles::new();
    let v1 = built("ivr-menu");
    let v2 = variant(&v1, "migrate");
    let (old, new) = (version_of(&v1), version_of(&v2));
    let path = files.install("ivr", &v1);
    let bot = ivr_bot(&path, "migrate", "").await;
    let plugins = bot.dispatcher.plugins().clone();

    let calls: Vec<String> = (0..20)
        .map(|n| bot.sim.incoming_call(caller(n), bot_identity()))
        .collect();
    wait_for_each(&bot, &calls, "/playPrompt").await;
    replace(&path, &v2);
    wait_for_plugin(&plugins, "ivr", "the new version goes in service", |p| {
        p.current == new
    })
    .await;

    // The menu stage was written by the old version; only with it does key 1 transfer.
    for call in &calls {
        bot.sim.press(call, Tone::Tone1);
    }
    wait_for_each(&bot, &calls, "/transfer").await;
    for request in bot
        .sim
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/transfer"))
    {
        let body = request.body.as_ref().unwrap();
        assert_eq!(body["transferTarget"]["identity"]["user"]["id"], SALES);
    }
    assert!(bot.wait_until_no_calls(WAIT).await);
    for call in &calls {
        let served = served(&bot, call);
        let moved = served.iter().position(|(v, _)| *v == new).unwrap();
        assert!(served[..moved].iter().all(|(v, _)| *v == old), "{served:?}");
        assert!(served[moved..].iter().all(|(v, _)| *v == new), "{served:?}");
        assert!(
            served[moved..].iter().any(|(_, e)| e == "tone-received"),
            "{served:?}"
        );
    }
    assert_eq!(bot.dispatcher.metrics().invocations_failed, 0);
    wait_for_plugin(&plugins, "ivr", "the old version is dropped", |p| {
        p.versions.iter().all(|v| v.version != old)
    })
    .await;
}

#[tokio::test]
async fn a_replaced_version_serves_its_calls_until_the_last_ends_then_is_dropped() {
    let files = PluginFiles::new();
    let v1 = built("ivr-menu");
    let v2 = variant(&v1, "drain");
    let (old, new) = (version_of(&v1), version_of(&v2));
    let path = files.install("ivr", &v1);
    let bot = ivr_bot(&path, "pin", "").await;
    let plugins = bot.dispatcher.plugins().clone();
    let calls: Vec<String> = (0..3)
        .map(|n| bot.sim.incoming_call(caller(n), bot_identity()))
        .collect();
    wait_for_each(&bot, &calls, "/playPrompt").await;
    replace(&path, &v2);
    wait_for_plugin(&plugins, "ivr", "the new version goes in service", |p| {
        p.current == new
    })
    .await;
    let fresh = bot.sim.incoming_call(caller(3), bot_identity());
    wait_for_each(&bot, std::slice::from_ref(&fresh), "/playPrompt").await;

    let report = admin_get(&bot, "/admin/plugins").await;
    let ivr = &report["plugins"][0];
    assert_eq!(ivr["id"], "ivr");
    assert_eq!(ivr["onReload"], "pin");
    assert_eq!(ivr["current"], new.as_str());
    assert_eq!(ivr["reloads"]["reloads"], 1);
    let version = |v: &str| {
        ivr["versions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["version"] == v)
            .unwrap()
            .clone()
    };
    assert_eq!(version(&old)["state"], "draining");
    assert_eq!(version(&old)["callsPinned"], 3);
    assert_eq!(version(&new)["state"], "current");
    assert_eq!(version(&new)["callsPinned"], 1);
    for key in [
        "hash",
        "loadedAt",
        "fromCache",
        "loadMs",
        "events",
        "eventsFailed",
    ] {
        assert!(version(&new).get(key).is_some(), "{key} in {ivr:#}");
    }

    for (ended, call) in calls.iter().enumerate() {
        bot.sim.remote_hang_up(call);
        let left = calls.len() - ended - 1;
        wait_for_plugin(&plugins, "ivr", "a call ended", |p| {
            let old = p.versions.iter().find(|v| v.version == old);
            match left {
                0 => old.is_none(),
                n => old.is_some_and(|v| v.calls_pinned == n),
            }
        })
        .await;
    }
    assert_eq!(plugin(&plugins, "ivr").versions.len(), 1);
}

/// `[plugins.<id>]`: the recorder at `path`, answering incoming calls.
fn recorder_table(id: &str, path: &Path) -> String {
    let answer = json!([{"fn": "answer", "call": "$call", "modalities": ["audio"]}]);
    let actions = answer.to_string();
    plugin_table_at(
        id,
        path,
        "",
        &[("on", "incoming-call"), ("actions", &actions)],
    )
}

/// [`recorder_table`] and a default route to it.
fn recorder_answering(id: &str, path: &Path) -> String {
    format!(
        "[[routes]]\nplugin = \"{id}\"\n{}",
        recorder_table(id, path)
    )
}

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
            "export `callhost:workflow/handler@0.1.0` missing",
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
        assert!(
            served(&bot, &call)
                .iter()
                .all(|(v, _)| *v == version_of(&good))
        );
    }
    let report = admin_get(&bot, "/admin/plugins").await;
    let last_error = report["plugins"][0]["reloads"]["lastError"]["message"].as_str();
    assert!(
        last_error.unwrap().contains("handler@0.1.0` missing"),
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
    let report = admin_get(&bot, "/admin/plugins").await;
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

#[tokio::test]
async fn without_watching_plugins_reload_on_admin_requests_and_on_sighup() {
    let files = PluginFiles::new();
    let v1 = built("recorder");
    let path = files.install("greeter", &v1);
    let runtime = format!(
        "[runtime]\ncache_dir = {:?}\nwatch = false\n",
        test_cache_dir().display().to_string()
    );
    let bot = Bot::start(&format!(
        "{runtime}\n{}",
        recorder_answering("greeter", &path)
    ))
    .await;
    let plugins = bot.dispatcher.plugins().clone();

    let v2 = variant(&v1, "admin");
    replace(&path, &v2);
    let (status, body) = admin_post(&bot, "/admin/plugins/greeter/reload").await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["reloaded"], true);
    assert_eq!(body["version"], version_of(&v2).as_str());
    let (status, body) = admin_post(&bot, "/admin/plugins/greeter/reload").await;
    assert_eq!(
        (status, &body["reloaded"]),
        (200, &json!(false)),
        "{body:#}"
    );
    let (status, _) = admin_post(&bot, "/admin/plugins/nobody/reload").await;
    assert_eq!(status, 404);

    replace(&path, b"not a component");
    let (status, body) = admin_post(&bot, "/admin/plugins/greeter/reload").await;
    assert_eq!(status, 422, "{body:#}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("not a WebAssembly file")
    );
    let greeter = plugin(&plugins, "greeter");
    assert_eq!(greeter.current, version_of(&v2));
    assert!(
        greeter
            .reloads
            .last_error
            .unwrap()
            .message
            .contains("not a WebAssembly file")
    );

    let v3 = variant(&v1, "sighup");
    replace(&path, &v3);
    let pid = std::process::id().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status();
    assert!(kill.unwrap().success());
    wait_for_plugin(&plugins, "greeter", "SIGHUP reloads", |p| {
        p.current == version_of(&v3)
    })
    .await;
}

#[tokio::test]
async fn configuration_changes_apply_as_a_whole_or_not_at_all() {
    let files = PluginFiles::new();
    let recorder = built("recorder");
    let first = files.install("first", &recorder);
    let second = files.install("second", &variant(&recorder, "second"));
    let broken = files.install("broken", &wat::parse_str("(component)").unwrap());
    let bot = Bot::start(&recorder_answering("first", &first)).await;
    let plugins = bot.dispatcher.plugins().clone();
    let handled_by = |call: &str| -> BTreeSet<String> {
        let timeline = bot.dispatcher.journal().timeline(call).unwrap();
        timeline.invocations().map(|i| i.plugin.clone()).collect()
    };
    let mut n = 0;
    let mut call_handled_by = async |plugin: &str| {
        n += 1;
        let call = bot.sim.incoming_call(caller(n), bot_identity());
        wait_for_each(&bot, std::slice::from_ref(&call), "/answer").await;
        assert_eq!(handled_by(&call), BTreeSet::from([plugin.to_string()]));
    };
    call_handled_by("first").await;

    // A new plugin, and new calls routed to it.
    let original = std::fs::read_to_string(&bot.config_path).unwrap();
    let routed_to = |id: &str, path: &Path| {
        original.replace("plugin = \"first\"", &format!("plugin = \"{id}\""))
            + &recorder_table(id, path)
    };
    let routed_to_second = routed_to("second", &second);
    std::fs::write(&bot.config_path, &routed_to_second).unwrap();
    wait_for_report(&plugins, "the configuration reloads", |r| {
        r.config.reloads == 1
    })
    .await;
    assert_eq!(plugins.ids(), ["first", "second"]);
    call_handled_by("second").await;

    // An invalid configuration is rejected; the one in force stays.
    std::fs::write(
        &bot.config_path,
        format!("{routed_to_second}\n[[routes]]\nplugin = \"nobody\"\n"),
    )
    .unwrap();
    let report = wait_for_report(&plugins, "the configuration is rejected", |r| {
        r.config.failures >= 1
    })
    .await;
    let message = report.config.last_error.unwrap().message;
    assert!(message.contains("nobody"), "{message}");
    call_handled_by("second").await;

    // A valid configuration whose new plugin cannot load: its route change is not applied
    // either, and the plugin it drops stays.
    let routed_to_broken = routed_to("broken", &broken);
    let failures = plugins.report().config.failures;
    std::fs::write(&bot.config_path, &routed_to_broken).unwrap();
    let report = wait_for_report(&plugins, "the configuration is rejected", |r| {
        r.config.failures > failures
    })
    .await;
    let message = report.config.last_error.unwrap().message;
    assert!(message.contains("plugin broken"), "{message}");
    assert_eq!(plugins.ids(), ["first", "second"]);
    assert_eq!(report.config.reloads, 1);
    call_handled_by("second").await;
}

#[tokio::test]
async fn restarts_compile_only_what_changed_and_reloads_use_the_same_cache() {
    let files = PluginFiles::new();
    let cache = tempfile::tempdir().unwrap();
    let v1 = built("ivr-menu");
    let path = files.install("ivr", &v1);
    let config = bench::config(files.dir(), cache.path(), &path, false);
    let from_cache = async || {
        let app = App::build(config.clone()).await.unwrap();
        let from_cache = app.plugins.current("ivr").unwrap().info.from_cache;
        (app, from_cache)
    };
    assert!(!from_cache().await.1, "the first start compiles");
    assert!(from_cache().await.1, "a restart compiles nothing");
    replace(&path, &variant(&v1, "changed"));
    assert!(!from_cache().await.1, "a changed plugin is compiled");
    let (app, cached) = from_cache().await;
    assert!(cached, "once");

    replace(&path, &variant(&v1, "reloaded"));
    let outcome = app.plugins.reload("ivr").await.unwrap();
    assert!(outcome.reloaded && !outcome.from_cache, "{outcome:?}");
    replace(&path, &variant(&v1, "changed"));
    let outcome = app.plugins.reload("ivr").await.unwrap();
    assert!(outcome.reloaded && outcome.from_cache, "{outcome:?}");
}

/// File change to new version in service, for the Rust IVR menu and (when built) the Python
/// one, with a cold and a warm compile cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: cargo test --release -p callhost --test hot_reload -- --ignored --nocapture"]
async fn reload_latency() {
    for plugin in ["ivr-menu", "ivr-menu-python"] {
        if !support::repo_root()
            .join(format!("target/plugins/{plugin}.wasm"))
            .exists()
        {
            println!("{plugin}: not built; skipped");
            continue;
        }
        let report = bench::reload_latency(plugin, bench::RUNS).await;
        println!("{report}");
    }
}
