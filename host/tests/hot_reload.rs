//! Plugins reloaded while the service runs: calls in progress keep the version that took their
//! first event (or move to the new one, with their state, when the plugin migrates), new calls
//! get the new version within a second, files that are broken or still being written never go
//! in service, configuration changes apply as a whole or not at all, and restarts compile only
//! what changed.

#[path = "hot_reload/bench.rs"]
mod bench;
#[path = "hot_reload/fixture.rs"]
pub mod fixture;
#[path = "hot_reload/rejected.rs"]
mod rejected;
#[path = "hot_reload/triggers.rs"]
mod triggers;

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use callhost::app::App;
use callhost::call::Tone;
use callhost_simulator::SimRecord;
use fixture::*;

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
    // Every call in progress before the change gets an event after it, however few calls
    // arrived meanwhile on a busy machine.
    for (call, played) in menus.iter_mut().filter(|(_, played)| **played == 1) {
        bot.sim.press(call, Tone::Star);
        *played += 1;
    }
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
    let Reloaded {
        bot,
        plugins,
        calls,
        old,
        new,
        ..
    } = menu_calls_then_reload("migrate", 20, "migrate").await;

    // The menu stage was written by the old version; only with it does key 1 transfer.
    for call in &calls {
        bot.sim.press(call, Tone::Tone1);
    }
    wait_for_each(&bot, &calls, "/transfer").await;
    let requests = bot.sim.requests();
    for request in requests.iter().filter(|r| r.path.ends_with("/transfer")) {
        let body = request.body.as_ref().unwrap();
        assert_eq!(body["transferTarget"]["identity"]["user"]["id"], SALES);
    }
    assert!(bot.wait_until_no_calls(WAIT).await);
    for call in &calls {
        let served = served(&bot, call);
        let moved = served.iter().position(|(v, _)| *v == new).unwrap();
        assert!(served[..moved].iter().all(|(v, _)| *v == old), "{served:?}");
        assert!(served[moved..].iter().all(|(v, _)| *v == new), "{served:?}");
        let tone = served[moved..].iter().any(|(_, e)| e == "tone-received");
        assert!(tone, "{served:?}");
    }
    assert_eq!(bot.dispatcher.metrics().invocations_failed, 0);
    wait_for_plugin(&plugins, "ivr", "the old version is dropped", |p| {
        p.versions.iter().all(|v| v.version != old)
    })
    .await;
}

#[tokio::test]
async fn a_replaced_version_serves_its_calls_until_the_last_ends_then_is_dropped() {
    let Reloaded {
        bot,
        plugins,
        calls,
        old,
        new,
        ..
    } = menu_calls_then_reload("pin", 3, "drain").await;
    let fresh = bot.sim.incoming_call(caller(3), bot_identity());
    wait_for_each(&bot, std::slice::from_ref(&fresh), "/playPrompt").await;

    let report = bot.admin_get("/admin/plugins").await;
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
    let outcome = app.reload.reload("ivr").await.unwrap();
    assert!(outcome.reloaded && !outcome.from_cache, "{outcome:?}");
    replace(&path, &variant(&v1, "changed"));
    let outcome = app.reload.reload("ivr").await.unwrap();
    assert!(outcome.reloaded && outcome.from_cache, "{outcome:?}");
}

/// File change to new version in service, for the Rust IVR menu and (when built) the Python
/// one, with a cold and a warm compile cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: cargo test --release -p callhost-cli --test e2e -- --ignored --nocapture hot_reload::"]
async fn reload_latency() {
    for plugin in ["ivr-menu", "ivr-menu-python"] {
        if !crate::support::repo_root()
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
