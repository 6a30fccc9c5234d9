//! Many instances on one PostgreSQL database: an instance killed mid-call, an owner paused
//! past its lease, and a rolling restart under load. Graph (the simulator) posts every
//! callback to a round-robin balancer and posts again what got no 2xx, as Graph does.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use crate::durability::IVR;
use crate::hot_reload::fixture::{recorder_answering, replace, variant, version_of};
use crate::support::bot::admin_get;
use crate::support::bot::{BOT_APP_ID, plugin_table};
use crate::support::cluster::Cluster;
use callhost::call::{Identity, Tone};
use callhost_simulator::SimulatorSettings;
use callhost_store::Store;

/// Leases of two seconds, keepAlives every second: a takeover and the keepAlives after it
/// are seen within the test's time.
fn config() -> String {
    format!(
        "[calls]\nkeepalive_interval_s = 1\n[storage]\nlease_seconds = 2\n[[routes]]\nplugin = \"ivr\"\n{}\n[plugins.ivr.policy]\nallow = [\"*\"]\ntargets = [\"*\"]\n",
        plugin_table("ivr", "ivr-menu", IVR)
    )
}

fn settings() -> SimulatorSettings {
    SimulatorSettings {
        redeliver_for: Duration::from_secs(120),
        ..SimulatorSettings::default()
    }
}

fn caller(n: usize) -> Identity {
    Identity::user(format!("8a34a46b-3d17-4adc-8dce-{n:012}"))
}

fn key(call: &str) -> String {
    callhost::graph::id::id_key(call).into_owned()
}

/// Starts `count` incoming calls, numbered from `first`.
fn ring(cluster: &Cluster, first: usize, count: usize) -> Vec<String> {
    let bot = Identity::application(BOT_APP_ID);
    (first..first + count)
        .map(|n| cluster.sim.incoming_call(caller(n), bot.clone()))
        .collect()
}

/// Waits until every call's menu is playing.
async fn wait_for_menus(cluster: &Cluster, calls: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while calls
        .iter()
        .any(|c| cluster.graph_posts(c, "/playPrompt") == 0)
    {
        assert!(
            Instant::now() < deadline,
            "not every menu played; logs:\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The owner of each call, by the database.
async fn owners(cluster: &Cluster, calls: &[String]) -> BTreeMap<String, Vec<String>> {
    let observer = cluster.observer().await;
    let mut by_owner: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for call in calls {
        let owner = observer.owner(key(call)).await.unwrap().unwrap_or_default();
        by_owner.entry(owner).or_default().push(call.clone());
    }
    by_owner
}

/// Presses 1 on every call of `calls` not pressed yet, and waits until each is transferred
/// and over; how long each took from `since`.
async fn press_and_finish(
    cluster: &Cluster,
    calls: &[String],
    pressed: &mut HashMap<String, bool>,
    since: Instant,
) -> HashMap<String, Duration> {
    let mut done = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        for call in calls {
            if !pressed.get(call).copied().unwrap_or(false) {
                cluster.sim.press(call, Tone::Tone1);
                pressed.insert(call.clone(), true);
            }
            if !done.contains_key(call) && cluster.graph_posts(call, "/transfer") > 0 {
                done.insert(call.clone(), since.elapsed());
            }
        }
        let over = calls
            .iter()
            .all(|c| cluster.sim.call_state(c).is_none() && done.contains_key(c));
        if over {
            return done;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} calls transferred; logs:\n{}",
            done.len(),
            calls.len(),
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Each call answered, its menu played and transferred exactly once, whoever handled it; its
/// journal handled to the end and its record ended.
async fn each_done_once(cluster: &Cluster, calls: &[String]) {
    for call in calls {
        for action in ["/answer", "/playPrompt", "/transfer"] {
            let n = cluster.graph_posts(call, action);
            assert_eq!(
                n,
                1,
                "call {call}: {action} sent {n} times; logs:\n{}",
                cluster.logs()
            );
        }
    }
    let observer = cluster.observer().await;
    // Ends are written after the last event: give the owners a moment.
    let deadline = Instant::now() + Duration::from_secs(20);
    for call in calls {
        loop {
            let entries = observer.entries(key(call), 0).await.unwrap();
            let record = observer.call(key(call)).await.unwrap();
            let ended = record.as_ref().is_some_and(|r| r.ended_at_ms.is_some());
            if ended && entries.iter().all(|e| e.handled) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "call {call}: record {record:?}, entries {:?}; logs:\n{}",
                entries
                    .iter()
                    .map(|e| (e.seq, e.handled))
                    .collect::<Vec<_>>(),
                cluster.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_mid_call_loses_nothing_and_its_calls_go_on_elsewhere() {
    let mut cluster = Cluster::start(3, settings(), &config()).await;
    let mut calls = ring(&cluster, 0, 24);
    wait_for_menus(&cluster, &calls).await;
    let by_owner = owners(&cluster, &calls).await;
    assert!(
        by_owner.len() > 1 && !by_owner.contains_key(""),
        "the calls are spread over the instances by who received them: {by_owner:?}"
    );
    // The instance with the most calls dies.
    let (victim_name, victims) = by_owner
        .iter()
        .max_by_key(|(_, calls)| calls.len())
        .map(|(owner, calls)| (owner.clone(), calls.clone()))
        .unwrap();
    let victim = cluster
        .instances
        .iter()
        .position(|i| i.name == victim_name)
        .unwrap();
    // A few of its calls stay in the menu until a keepAlive reaches them from elsewhere.
    let held: Vec<String> = victims.iter().take(2).cloned().collect();
    println!(
        "calls by owner: {:?}; killing {victim_name}",
        by_owner
            .iter()
            .map(|(o, c)| (o, c.len()))
            .collect::<Vec<_>>()
    );
    let killed = Instant::now();
    cluster.kill(victim).await;
    // Load goes on: new calls while the instance is gone.
    let later = ring(&cluster, 100, 6);
    let mut pressed: HashMap<String, bool> = held.iter().map(|c| (c.clone(), true)).collect();
    let pressing: Vec<String> = calls
        .iter()
        .filter(|c| !held.contains(c))
        .cloned()
        .collect();
    let took = press_and_finish(&cluster, &pressing, &mut pressed, killed).await;
    let mut waits: Vec<Duration> = victims
        .iter()
        .filter_map(|c| took.get(c).copied())
        .collect();
    waits.sort();
    println!("the killed instance's calls transferred after {waits:?}");
    for call in &victims {
        if let Some(took) = took.get(call) {
            assert!(
                *took < Duration::from_secs(10),
                "call {call} of the killed instance waited {took:?}"
            );
        }
    }
    // keepAlives go on for the killed instance's calls, from the instances that took them.
    let deadline = Instant::now() + Duration::from_secs(10);
    for call in &held {
        loop {
            let from_survivors = cluster
                .instances
                .iter()
                .filter(|i| i.name != victim_name)
                .any(|i| {
                    i.sent_on(call, killed)
                        .iter()
                        .any(|r| r.path.ends_with("/keepAlive"))
                });
            if from_survivors {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "call {call} got no keepAlive after its instance died; logs:\n{}",
                cluster.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        pressed.insert(call.clone(), false);
    }
    wait_for_menus(&cluster, &later).await;
    calls.extend(later);
    press_and_finish(&cluster, &calls, &mut pressed, killed).await;
    each_done_once(&cluster, &calls).await;
    let taken = cluster.logs().matches("call taken over").count();
    assert!(
        taken >= victims.len(),
        "{taken} takeovers logged for {} calls",
        victims.len()
    );
}

/// A timer set on one instance fires on the one that took its call over: the IVR's silence
/// timer (3 s, longer than the 2 s lease) is stored with the call and armed by the new owner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timer_moves_with_its_call_to_the_instance_that_takes_it_over() {
    let mut ivr: Vec<(&str, &str)> = IVR
        .iter()
        .filter(|(k, _)| *k != "no_input_ms")
        .copied()
        .collect();
    ivr.push(("no_input_ms", "3000"));
    let config = format!(
        "[calls]\nkeepalive_interval_s = 1\n[storage]\nlease_seconds = 2\n[[routes]]\nplugin = \"ivr\"\n{}\n[plugins.ivr.policy]\nallow = [\"*\"]\ntargets = [\"*\"]\n",
        plugin_table("ivr", "ivr-menu", &ivr)
    );
    let mut cluster = Cluster::start(2, settings(), &config).await;
    let calls = ring(&cluster, 0, 1);
    let call = calls[0].clone();
    wait_for_menus(&cluster, &calls).await;
    // The menu's completion comes after the simulator's media time; the timer is set with it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let by_owner = owners(&cluster, &calls).await;
    let owner_name = by_owner.keys().next().cloned().unwrap();
    let owner = cluster
        .instances
        .iter()
        .position(|i| i.name == owner_name)
        .unwrap();
    let killed = Instant::now();
    cluster.kill(owner).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while cluster.graph_posts(&call, "/playPrompt") < 2 {
        assert!(
            Instant::now() < deadline,
            "the silence timer did not fire after the takeover; logs:\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let survivor = &cluster.instances[1 - owner];
    let replayed = survivor
        .sent_on(&call, killed)
        .iter()
        .filter(|r| r.path.ends_with("/playPrompt"))
        .count();
    assert_eq!(
        replayed,
        1,
        "the instance that took the call over played the menu again; logs:\n{}",
        cluster.logs()
    );
    let mut pressed = HashMap::new();
    press_and_finish(&cluster, &calls, &mut pressed, killed).await;
    assert_eq!(
        cluster.graph_posts(&call, "/playPrompt"),
        2,
        "once: logs:\n{}",
        cluster.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_paused_past_its_lease_writes_and_sends_nothing_after_it_wakes() {
    let cluster = Cluster::start(2, settings(), &config()).await;
    let calls = ring(&cluster, 0, 8);
    wait_for_menus(&cluster, &calls).await;
    let by_owner = owners(&cluster, &calls).await;
    let (paused_name, paused_calls) = by_owner
        .iter()
        .find(|(owner, _)| !owner.is_empty())
        .map(|(o, c)| (o.clone(), c.clone()))
        .unwrap();
    let paused = cluster
        .instances
        .iter()
        .find(|i| i.name == paused_name)
        .unwrap();
    paused.signal("STOP");
    let stopped = Instant::now();
    // The caller presses while the owner is frozen: the other instance journals it, and once
    // the lease lapses, takes the call and transfers it.
    let mut pressed = HashMap::new();
    let took = press_and_finish(&cluster, &paused_calls, &mut pressed, stopped).await;
    for (call, took) in &took {
        // Slower than a takeover after a kill: callbacks to the frozen instance wait out the
        // balancer's two-second timeout before they go elsewhere.
        assert!(
            *took < Duration::from_secs(20),
            "call {call} waited {took:?}"
        );
    }
    println!(
        "paused {paused_name} with {} calls; they were transferred after {took:?}",
        paused_calls.len()
    );
    let woke = Instant::now();
    paused.signal("CONT");
    // It wakes with overdue timers, a wake for the calls and their leases to renew.
    tokio::time::sleep(Duration::from_secs(4)).await;
    for call in &paused_calls {
        let sent = paused.sent_on(call, woke);
        assert!(
            sent.is_empty(),
            "the paused owner sent {sent:?} on call {call} after it woke; its log:\n{}",
            paused.log()
        );
    }
    each_done_once(&cluster, &paused_calls).await;
    let log = paused.log();
    assert!(
        log.contains("another instance took the call over")
            || log.contains("taken over by another instance")
            || log.contains("may no longer own the call"),
        "the paused owner's log says nothing of losing its calls:\n{log}"
    );
    // The instance is fine: it takes new calls.
    let more = ring(&cluster, 200, 4);
    wait_for_menus(&cluster, &more).await;
    let mut pressed = HashMap::new();
    press_and_finish(&cluster, &more, &mut pressed, Instant::now()).await;
    each_done_once(&cluster, &more).await;
}

/// What the calls' recorders counted with `increment` in plugin state, and what they kept of
/// their events in call state.
async fn counted_and_recorded(cluster: &Cluster, calls: &[String]) -> (usize, usize) {
    let observer = cluster.observer().await;
    let mut recorded = 0;
    for call in calls {
        let scope = callhost_store::call_scope(&key(call), "recorder");
        if let Some(events) = observer.state(scope, "events".into()).await.unwrap() {
            recorded += serde_json::from_slice::<Vec<serde_json::Value>>(&events.value)
                .unwrap()
                .len();
        }
    }
    let scope = callhost_store::plugin_scope("recorder");
    let counted = observer.state(scope, "events".into()).await.unwrap();
    let counted = counted.map_or(0, |c| String::from_utf8(c.value).unwrap().parse().unwrap());
    (counted, recorded)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_on_every_instance_count_on_one_plugin_counter_and_lose_no_increment() {
    let answer = r#"[{"fn": "answer", "call": "$call", "modalities": ["audio"]}]"#;
    let plugin = plugin_table(
        "recorder",
        "recorder",
        &[
            ("on", "incoming-call"),
            ("actions", answer),
            ("count", "events"),
        ],
    );
    let config = format!(
        "[[routes]]\nplugin = \"recorder\"\n[plugins.recorder.policy]\nallow = [\"*\"]\n{plugin}"
    );
    let cluster = Cluster::start(3, settings(), &config).await;
    let calls = ring(&cluster, 0, 24);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = (0, 0);
    loop {
        let established = calls
            .iter()
            .all(|c| cluster.sim.call_state(c).as_deref() == Some("established"));
        let now = counted_and_recorded(&cluster, &calls).await;
        // Settled: every call established, every event recorded and counted, twice alike.
        if established && now.1 >= 2 * calls.len() && now.0 == now.1 && now == last {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "counted {} events with `increment`, recorded {}; logs:\n{}",
            now.0,
            now.1,
            cluster.logs()
        );
        last = now;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let by_owner = owners(&cluster, &calls).await;
    assert!(
        by_owner.len() >= 2,
        "the calls should be spread over the instances: {by_owner:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_on_one_instance_puts_the_version_in_service_on_every_instance() {
    // Each instance has its own copy of the file; only `a`'s changes.
    let files = tempfile::tempdir().unwrap();
    let v1 = std::fs::read(crate::support::plugin_path("recorder")).unwrap();
    for name in ["a", "b", "c"] {
        std::fs::create_dir(files.path().join(name)).unwrap();
        std::fs::write(files.path().join(name).join("flow.wasm"), &v1).unwrap();
    }
    let path = files.path().join("{instance}").join("flow.wasm");
    let config = format!(
        "[runtime]\nwatch = false\n{}",
        recorder_answering("flow", &path)
    );
    let cluster = Cluster::start(3, settings(), &config).await;
    let current = async |i: usize| {
        let report = admin_get(
            &cluster.http,
            &cluster.instances[i].admin_url,
            "/admin/plugins",
        );
        report.await["plugins"][0]["current"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(current(1).await, version_of(&v1));

    let v2 = variant(&v1, "everywhere");
    replace(&files.path().join("a").join("flow.wasm"), &v2);
    let response = cluster
        .http
        .post(format!(
            "{}/admin/plugins/flow/reload",
            cluster.instances[0].admin_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    for i in 1..3 {
        while current(i).await != version_of(&v2) {
            assert!(
                Instant::now() < deadline,
                "instance {i} still serves {}; logs:\n{}",
                current(i).await,
                cluster.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // New calls on every instance get it.
    let calls = ring(&cluster, 0, 6);
    let observer = cluster.observer().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    for call in &calls {
        loop {
            let record = observer.call(key(call)).await.unwrap();
            if let Some(record) = record {
                assert_eq!(record.plugin_version, callhost_store::component_hash(&v2));
                break;
            }
            assert!(Instant::now() < deadline, "call {call} never stored");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert!(
        cluster
            .logs()
            .contains("plugin reloaded as another instance did")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_under_load_loses_nothing_and_fails_no_event() {
    let mut cluster = Cluster::start(3, settings(), &config()).await;
    let mut calls = Vec::new();
    let mut pressed = HashMap::new();
    for round in 0..3 {
        // Calls arrive, some press during the restart, some after.
        let arriving = ring(&cluster, round * 100, 8);
        wait_for_menus(&cluster, &arriving).await;
        for call in arriving.iter().take(4) {
            cluster.sim.press(call, Tone::Tone1);
            pressed.insert(call.clone(), true);
        }
        calls.extend(arriving);
        let handed = Instant::now();
        cluster.terminate(round, Duration::from_secs(30)).await;
        let took = handed.elapsed();
        assert!(took < Duration::from_secs(20), "stopping took {took:?}");
        cluster.restart(round).await;
    }
    press_and_finish(&cluster, &calls, &mut pressed, Instant::now()).await;
    each_done_once(&cluster, &calls).await;
    let logs = cluster.logs();
    assert!(
        !logs.contains("did not complete") && !logs.contains("applying the route's fallback"),
        "an event failed during the rolling restart; logs:\n{logs}"
    );
    assert!(logs.contains("leases released"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_out_of_reach_for_seconds_refuses_callbacks_and_loses_nothing() {
    let cluster = Cluster::start(2, settings(), &config()).await;
    let calls = ring(&cluster, 0, 8);
    wait_for_menus(&cluster, &calls).await;
    // The menus' completions come after the simulator's media time: in before the cut.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = cluster.callback_statuses().len();
    cluster.database_path.cut();
    // The callers press while the database is gone: callbacks are refused, Graph retries.
    for call in &calls {
        cluster.sim.press(call, Tone::Tone1);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during: Vec<u16> = cluster.callback_statuses()[before..].to_vec();
    assert!(
        during.contains(&503) && !during.contains(&202),
        "callbacks while the database was gone: {during:?}"
    );
    cluster.database_path.heal();
    let mut pressed: HashMap<String, bool> = calls.iter().map(|c| (c.clone(), true)).collect();
    press_and_finish(&cluster, &calls, &mut pressed, Instant::now()).await;
    each_done_once(&cluster, &calls).await;
    // Nothing that got a 202 was lost: every call ended with its journal handled (above),
    // and new calls are taken as before.
    let more = ring(&cluster, 300, 4);
    wait_for_menus(&cluster, &more).await;
    let mut pressed = HashMap::new();
    press_and_finish(&cluster, &more, &mut pressed, Instant::now()).await;
    each_done_once(&cluster, &more).await;
}

#[tokio::test]
async fn a_wrong_password_or_a_missing_database_stops_the_start_with_the_fix() {
    use crate::support::serve::serve_refused;
    let server = callhost_store::testing::test_server_url();
    let dir = tempfile::tempdir().unwrap();
    let (user_and_password, rest) = server
        .strip_prefix("postgres://")
        .unwrap()
        .split_once('@')
        .unwrap();
    let user = user_and_password.split(':').next().unwrap();
    let cases = [
        (
            format!("postgres://{user}:wrong@{rest}"),
            "CALLHOST_POSTGRES_PASSWORD",
        ),
        (
            callhost_store::testing::with_database(&server, "no_such_database"),
            "createdb",
        ),
    ];
    for (i, (url, fix)) in cases.iter().enumerate() {
        let config = dir.path().join(format!("bad-{i}.toml"));
        std::fs::write(
            &config,
            format!(
                "[server]\nlisten = \"127.0.0.1:0\"\npublic_url = \"https://bot.example.com\"\n\
                 [bot]\napp_id = \"{BOT_APP_ID}\"\n[admin]\nlisten = \"127.0.0.1:0\"\n\
                 [storage]\nengine = \"postgres\"\npostgres_url = \"{url}\"\n"
            ),
        )
        .unwrap();
        let (status, output) = serve_refused(&config).await;
        assert!(!status.success(), "{output}");
        assert!(output.contains(fix), "{fix} not in:\n{output}");
        assert!(
            !output.contains("wrong@"),
            "the password is printed:\n{output}"
        );
    }
}
