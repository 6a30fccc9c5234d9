//! Calls that outlive the process: `callhost serve` killed with SIGKILL at random moments
//! while dozens of calls are in progress, and started again on the same data directory. The
//! simulated Graph posts again every notification that got no 2xx, as Graph does.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::support::bot::{BOT_APP_ID, plugin_table};
use crate::support::serve::{Served, serve_refused};
use callhost::call::{Identity, Tone};
use callhost_simulator::SimulatorSettings;
use callhost_store::{SqliteStore, Store};

const CALLS: usize = 24;
/// Calls kept in the menu until after the last restart, to see their keepAlives go on.
const HELD: usize = 4;
const KILLS: usize = 3;

/// The IVR menu's configuration in these tests (also the instances' in `cluster`).
pub(crate) const IVR: &[(&str, &str)] = &[
    ("menu", "https://media.example.com/menu.wav"),
    ("info", "https://media.example.com/info.wav"),
    ("goodbye", "https://media.example.com/goodbye.wav"),
    ("sales", "user:5f3c2a1b-0d4e-4f6a-8b7c-9d0e1f2a3b4c"),
    ("operator", "phone:+14255550100"),
    // Longer than any of these tests: a silence after the menu plays it again.
    ("no_input_ms", "600000"),
];

/// The IVR menu with a short silence timer, for the timer's restart test.
const IVR_QUICK_SILENCE: &[(&str, &str)] = &[
    ("menu", "https://media.example.com/menu.wav"),
    ("info", "https://media.example.com/info.wav"),
    ("goodbye", "https://media.example.com/goodbye.wav"),
    ("sales", "user:5f3c2a1b-0d4e-4f6a-8b7c-9d0e1f2a3b4c"),
    ("operator", "phone:+14255550100"),
    ("no_input_ms", "1500"),
];

/// A small random number generator, seeded from the clock; the seed is printed so that a
/// failing run can be told apart.
struct Xorshift(u64);

impl Xorshift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn posts(served: &Served, call_id: &str, action: &str) -> Vec<Duration> {
    served
        .graph_posts(call_id, &format!("/{action}"))
        .into_iter()
        .map(|r| r.at)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_finish_and_nothing_is_done_twice_across_kills_and_restarts() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("seed {seed}");
    let mut random = Xorshift(seed);
    let settings = SimulatorSettings {
        redeliver_for: Duration::from_secs(120),
        ..SimulatorSettings::default()
    };
    let extra = format!(
        "[calls]\nkeepalive_interval_s = 1\n[[routes]]\nplugin = \"ivr\"\n{}\n[plugins.ivr.policy]\nallow = [\"*\"]\ntargets = [\"*\"]\n",
        plugin_table("ivr", "ivr-menu", IVR)
    );
    let mut served = Served::start_with(settings, &extra).await;
    let bot = Identity::application(BOT_APP_ID);
    let mut calls = Vec::new();
    let mut pressed: HashMap<String, bool> = HashMap::new();
    let mut restarts = Vec::new();
    let mut last_restart = Duration::ZERO;
    for kill in 0..=KILLS {
        // A third of the calls arrive in each round; the ones in the menu press 1.
        let arriving = if kill < KILLS { CALLS / KILLS } else { 0 };
        for i in 0..arriving {
            let caller = Identity::user(format!("8a34a46b-3d17-4adc-8dce-{:012}", calls.len() + i));
            let call = served.sim.incoming_call(caller, bot.clone());
            pressed.insert(call.clone(), false);
            calls.push(call);
        }
        let until = Instant::now() + Duration::from_millis(150 + random.below(600));
        while Instant::now() < until {
            press_in_menu(&served, &calls, &mut pressed, HELD, None);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if kill == KILLS {
            break;
        }
        served.kill().await;
        // Graph's retries meet a closed port for a while.
        tokio::time::sleep(Duration::from_millis(random.below(400))).await;
        restarts.push(served.restart().await);
        last_restart = served.sim.elapsed();
    }
    // After the last restart the held calls see keepAlives, then press 1 too.
    finish_calls(&served, &calls, &mut pressed, HELD, Some(last_restart)).await;
    for call in &calls {
        let answers = posts(&served, call, "answer");
        let plays = posts(&served, call, "playPrompt");
        let transfers = posts(&served, call, "transfer");
        let log = || served.log();
        assert_eq!(
            answers.len(),
            1,
            "call {call} answered {} times; log:\n{}",
            answers.len(),
            log()
        );
        assert_eq!(
            plays.len(),
            1,
            "call {call}: the menu played {} times",
            plays.len()
        );
        assert_eq!(
            transfers.len(),
            1,
            "call {call} transferred {} times",
            transfers.len()
        );
    }
    let held: Vec<&String> = calls.iter().rev().take(HELD).collect();
    for call in &held {
        let keepalives = posts(&served, call, "keepAlive");
        assert!(
            keepalives.iter().any(|at| *at > last_restart),
            "call {call} got no keepAlive after the last restart: {keepalives:?}\nlog:\n{}",
            served.log()
        );
    }
    // Each restart found calls in progress and restored them.
    let log = served.log();
    let restores = log
        .matches("calls in progress restored from the store")
        .count();
    assert_eq!(restores, KILLS, "restores logged; log:\n{log}");
    served
        .terminate(Duration::from_secs(20))
        .await
        .expect("stops on SIGTERM");

    // The journal: every entry handled, each once (the store refuses a second marker).
    let store = SqliteStore::open(&served.dir().join(".callhost/data")).unwrap();
    for call in &calls {
        let key = callhost::graph::id::id_key(call).into_owned();
        let entries = store.entries(key.clone(), 0).await.unwrap();
        assert!(entries.len() >= 3, "call {call}: {} entries", entries.len());
        assert!(
            entries.iter().all(|e| e.handled),
            "call {call} has unhandled entries: {:?}",
            entries
                .iter()
                .map(|e| (e.seq, e.handled))
                .collect::<Vec<_>>()
        );
        let record = store.call(key).await.unwrap().expect("the call is stored");
        assert!(record.ended_at_ms.is_some(), "{record:?}");
        // What Graph said of the call is kept with it.
        assert!(record.my_participant_id.is_some(), "{record:?}");
    }
    println!("restart to ready: {restarts:?}");
}

/// A timer set before a SIGKILL fires after the restart, once: the IVR's silence timer, set
/// when its menu has played, is stored with the call and armed again by the new process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timer_set_before_a_kill_fires_after_the_restart_once() {
    let extra = format!(
        "[[routes]]\nplugin = \"ivr\"\n{}\n[plugins.ivr.policy]\nallow = [\"*\"]\ntargets = [\"*\"]\n",
        plugin_table("ivr", "ivr-menu", IVR_QUICK_SILENCE)
    );
    let mut served = Served::start_with(SimulatorSettings::default(), &extra).await;
    let bot = Identity::application(BOT_APP_ID);
    let call = served.sim.incoming_call(
        Identity::user(format!("8a34a46b-3d17-4adc-8dce-{:012}", 1)),
        bot,
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while posts(&served, &call, "playPrompt").is_empty() {
        assert!(
            Instant::now() < deadline,
            "the menu never played; log:\n{}",
            served.log()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The prompt completes after the simulator's media time; the timer is stored with it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    served.kill().await;
    let killed_at = served.sim.elapsed();
    served.restart().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while posts(&served, &call, "playPrompt").len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the silence timer did not fire after the restart; log:\n{}",
            served.log()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The menu again: the caller presses 1 and is transferred, which ends the call.
    served.sim.press(&call, Tone::Tone1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while served.sim.call_state(&call).is_some() {
        assert!(
            Instant::now() < deadline,
            "the call did not end; log:\n{}",
            served.log()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let plays = posts(&served, &call, "playPrompt");
    assert_eq!(
        plays.len(),
        2,
        "the menu, and once again after the silence: {plays:?}\nlog:\n{}",
        served.log()
    );
    assert!(
        plays[1] > killed_at,
        "the replay came after the restart: {plays:?}, killed at {killed_at:?}"
    );
    assert_eq!(posts(&served, &call, "transfer").len(), 1);
    served
        .terminate(Duration::from_secs(20))
        .await
        .expect("stops on SIGTERM");
}

/// A tone collection goes on across a SIGKILL: the keys pressed before it and after the
/// restart end in one `tones-collected` with all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tone_collection_goes_on_across_a_kill() {
    let collect = serde_json::json!({
        "fn": "collect-tones", "call": "$call", "prompts": [], "max-digits": 6,
        "first-digit-timeout-ms": 8000, "inter-digit-timeout-ms": 8000,
        "terminators": ["pound"], "tries": 1, "client-context": "pin",
    });
    let answer = serde_json::json!({"fn": "answer", "call": "$call", "modalities": ["audio"]});
    let actions = serde_json::json!([answer, collect]).to_string();
    let settings = [
        ("on", "incoming-call"),
        ("actions", actions.as_str()),
        ("keep-events", "plugin"),
    ];
    let extra = format!(
        "[[routes]]\nplugin = \"pin\"\n{}\n[plugins.pin.policy]\nallow = [\"*\"]\n",
        plugin_table("pin", "recorder", &settings)
    );
    let mut served = Served::start_with(SimulatorSettings::default(), &extra).await;
    let caller = Identity::user("8a34a46b-3d17-4adc-8dce-000000000077");
    let call = served
        .sim
        .incoming_call(caller, Identity::application(BOT_APP_ID));
    let deadline = Instant::now() + Duration::from_secs(10);
    while posts(&served, &call, "subscribeToTone").is_empty() {
        assert!(
            Instant::now() < deadline,
            "the collection never began; log:\n{}",
            served.log()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    served.sim.press(&call, Tone::Tone1);
    served.sim.press(&call, Tone::Tone2);
    // Handled and stored before the kill.
    tokio::time::sleep(Duration::from_millis(400)).await;
    served.kill().await;
    served.restart().await;
    served.sim.press(&call, Tone::Tone3);
    served.sim.press(&call, Tone::Pound);
    tokio::time::sleep(Duration::from_millis(600)).await;
    served.sim.remote_hang_up(&call);
    tokio::time::sleep(Duration::from_millis(300)).await;
    served
        .terminate(Duration::from_secs(20))
        .await
        .expect("stops on SIGTERM");
    let store = SqliteStore::open(&served.dir().join(".callhost/data")).unwrap();
    let kept = store
        .state("plugin/pin".into(), format!("events/{call}"))
        .await
        .unwrap()
        .expect("the recorder kept the call's events");
    let kept: Vec<serde_json::Value> = serde_json::from_slice(&kept.value).unwrap();
    let collected: Vec<&serde_json::Value> = kept
        .iter()
        .filter_map(|e| e["event"]["kind"].get("tones-collected"))
        .collect();
    assert_eq!(collected.len(), 1, "{kept:?}");
    assert_eq!(collected[0]["digits"], "123", "{kept:?}");
    assert_eq!(collected[0]["reason"], "terminator");
    let tones = kept
        .iter()
        .filter(|e| e["event"]["kind"].get("tone-received").is_some())
        .count();
    assert_eq!(tones, 0, "the collection's keys are its own: {kept:?}");
}

/// Presses 1 in the menus (see [`press_in_menu`]) until every call is over, for Graph (the
/// simulator forgets a call that ended) and for callhost.
async fn finish_calls(
    served: &Served,
    calls: &[String],
    pressed: &mut HashMap<String, bool>,
    hold: usize,
    released: Option<Duration>,
) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        press_in_menu(served, calls, pressed, hold, released);
        let ended = calls
            .iter()
            .filter(|c| served.sim.call_state(c).is_none())
            .count();
        let tracked = served.admin_get("/admin/calls").await["calls"]
            .as_array()
            .map_or(0, Vec::len);
        if ended == calls.len() && tracked == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{ended} of {} calls finished, callhost tracks {tracked}; log:\n{}",
            calls.len(),
            served.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Presses 1 once on each call whose menu is playing; the last `hold` calls only once they
/// got a keepAlive after `released` (`None`: not yet).
fn press_in_menu(
    served: &Served,
    calls: &[String],
    pressed: &mut HashMap<String, bool>,
    hold: usize,
    released: Option<Duration>,
) {
    for (n, call) in calls.iter().enumerate() {
        let held = n >= calls.len().saturating_sub(hold);
        let kept_alive = |after: Duration| {
            posts(served, call, "keepAlive")
                .iter()
                .any(|at| *at > after)
        };
        if held && !released.is_some_and(kept_alive) {
            continue;
        }
        if pressed[call] || posts(served, call, "playPrompt").is_empty() {
            continue;
        }
        served.sim.press(call, Tone::Tone1);
        pressed.insert(call.clone(), true);
    }
}

/// A graceful restart as systemd does one with socket activation: the callback socket is
/// bound by the service manager (here, the test) and passed in; SIGTERM, then a new process on
/// the same socket and data directory, twice, while calls are in progress and fresh
/// connections keep arriving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_restart_on_a_passed_socket_refuses_no_connection_and_loses_nothing() {
    const ROUNDS: usize = 3;
    const PER_ROUND: usize = 6;
    let settings = SimulatorSettings {
        // Graph posts again what got no 2xx: a keep-alive connection closed under a request.
        redeliver_for: Duration::from_secs(30),
        ..SimulatorSettings::default()
    };
    let extra = format!(
        "[[routes]]\nplugin = \"ivr\"\n{}\n[plugins.ivr.policy]\nallow = [\"*\"]\ntargets = [\"*\"]\n",
        plugin_table("ivr", "ivr-menu", IVR)
    );
    let mut served = Served::start_activated(settings, &extra).await;

    // Each probe a new connection: a refused or dropped one is an error here.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let probers: Vec<_> = (0..2)
        .map(|_| {
            let (stop, url) = (stop.clone(), format!("http://{}/healthz", served.addr));
            tokio::spawn(async move {
                let http = reqwest::Client::builder()
                    .pool_max_idle_per_host(0)
                    .timeout(Duration::from_secs(30))
                    .build()
                    .unwrap();
                let (mut ok, mut failed) = (0usize, Vec::new());
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    match http.get(&url).send().await {
                        Ok(r) if r.status().is_success() => ok += 1,
                        Ok(r) => failed.push(format!("status {}", r.status())),
                        Err(e) => failed.push(format!("{e:?}")),
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                (ok, failed)
            })
        })
        .collect();

    let bot = Identity::application(BOT_APP_ID);
    let mut calls = Vec::new();
    let mut pressed: HashMap<String, bool> = HashMap::new();
    let mut stops = Vec::new();
    for round in 0..ROUNDS {
        for i in 0..PER_ROUND {
            let caller = Identity::user(format!("9b45b57c-4e28-4bed-9edf-{:012}", calls.len() + i));
            let call = served.sim.incoming_call(caller, bot.clone());
            pressed.insert(call.clone(), false);
            calls.push(call);
        }
        let until = Instant::now() + Duration::from_millis(300);
        while Instant::now() < until {
            press_in_menu(&served, &calls, &mut pressed, 0, None);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if round + 1 == ROUNDS {
            break;
        }
        let stopped = served
            .terminate(Duration::from_secs(40))
            .await
            .unwrap_or_else(|| panic!("no exit on SIGTERM; log:\n{}", served.log()));
        stops.push((stopped, served.restart().await));
    }
    finish_calls(&served, &calls, &mut pressed, 0, None).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (mut probes, mut refused) = (0, Vec::new());
    for prober in probers {
        let (ok, failed) = prober.await.unwrap();
        probes += ok;
        refused.extend(failed);
    }
    assert!(
        refused.is_empty(),
        "{} of {} connections failed during the restarts: {:?}",
        refused.len(),
        probes + refused.len(),
        &refused[..refused.len().min(5)]
    );
    assert!(probes > 50, "only {probes} probes got through");
    for call in &calls {
        for action in ["answer", "playPrompt", "transfer"] {
            let sent = posts(&served, call, action).len();
            assert_eq!(sent, 1, "call {call}: {action} sent {sent} times");
        }
    }
    // Nothing waited for the new process was turned away with 503: the connections queued.
    let statuses: Vec<u16> = served
        .sim
        .records()
        .into_iter()
        .filter_map(|r| match r {
            callhost_simulator::SimRecord::Notification { status, .. } => Some(status),
            _ => None,
        })
        .collect();
    let unavailable = statuses.iter().filter(|s| **s == 503).count();
    assert_eq!(
        unavailable, 0,
        "notifications answered 503 during the restarts"
    );
    let log = served.log();
    assert_eq!(
        log.matches("taking the callbacks waiting on the passed socket")
            .count(),
        ROUNDS,
        "log:\n{log}"
    );
    println!(
        "graceful restarts (stop, start to ready): {stops:?}; {probes} fresh connections, none \
         refused; {} notification posts, {} without a 2xx (posted again)",
        statuses.len(),
        statuses.iter().filter(|s| !(200..300).contains(*s)).count()
    );
}

/// A data directory `serve` cannot use stops the start with an error that names the file and
/// the fix, and changes nothing in it: a file that is not a callhost database, a directory that
/// cannot be created. Put right, the calls stored before are all there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_database_or_an_unusable_data_dir_stops_the_start_and_changes_nothing() {
    let extra = format!(
        "[[routes]]\nplugin = \"ivr\"\n{}\n[plugins.ivr.policy]\nallow = [\"*\"]\ntargets = [\"*\"]\n",
        plugin_table("ivr", "ivr-menu", IVR)
    );
    let mut served = Served::start(&extra).await;
    let caller = Identity::user("7c23b35a-2c06-4bcb-8cbd-000000000001");
    let call = served
        .sim
        .incoming_call(caller, Identity::application(BOT_APP_ID));
    let deadline = Instant::now() + Duration::from_secs(20);
    while posts(&served, &call, "playPrompt").is_empty() {
        assert!(Instant::now() < deadline, "log:\n{}", served.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    served
        .terminate(Duration::from_secs(20))
        .await
        .expect("stops on SIGTERM");
    let data = served.dir().join(".callhost/data");
    let db = data.join("callhost.db");
    // The database with its write-ahead log, moved aside together.
    let files = ["callhost.db", "callhost.db-wal", "callhost.db-shm"];
    let saved = served.dir().join("saved");
    std::fs::create_dir(&saved).unwrap();
    let mut stored = Vec::new();
    for file in files {
        if let Ok(bytes) = std::fs::read(data.join(file)) {
            std::fs::rename(data.join(file), saved.join(file)).unwrap();
            stored.push((file, bytes));
        }
    }

    // Not a database at all.
    let garbage = b"these bytes are not a SQLite database, nor anything else".repeat(200);
    std::fs::write(&db, &garbage).unwrap();
    let (status, output) = serve_refused(served.config_path()).await;
    assert!(!status.success());
    assert!(
        output.contains("is not a callhost database") && output.contains("callhost.db"),
        "{output}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), garbage, "the file was changed");

    // A SQLite database of something else.
    for file in files {
        let _ = std::fs::remove_file(data.join(file));
    }
    let other = foreign_database(&db);
    let (status, output) = serve_refused(served.config_path()).await;
    assert!(!status.success());
    assert!(output.contains("is not a callhost database"), "{output}");
    assert_eq!(std::fs::read(&db).unwrap(), other, "the file was changed");

    // A data directory that cannot be made: a file is in its way.
    let in_the_way = served.dir().join("in-the-way");
    std::fs::write(&in_the_way, "a file").unwrap();
    let config = served.dir().join("unusable.toml");
    let text = std::fs::read_to_string(served.config_path()).unwrap();
    std::fs::write(
        &config,
        format!("{text}\n[storage]\ndata_dir = \"in-the-way/data\"\n"),
    )
    .unwrap();
    let (status, output) = serve_refused(&config).await;
    assert!(!status.success());
    assert!(
        output.contains("in-the-way/data") && output.contains("storage.data_dir"),
        "{output}"
    );

    // Put right: the call stored before is restored.
    for file in files {
        let _ = std::fs::remove_file(data.join(file));
    }
    for (file, bytes) in &stored {
        std::fs::rename(saved.join(file), data.join(file)).unwrap();
        assert_eq!(&std::fs::read(data.join(file)).unwrap(), bytes);
    }
    served.restart().await;
    let calls = served.admin_get("/admin/calls").await;
    let ids: Vec<&str> = calls["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["call_id"].as_str())
        .collect();
    assert!(ids.contains(&call.as_str()), "{calls}");
}

/// A SQLite database of another application at `path`; its bytes.
fn foreign_database(path: &std::path::Path) -> Vec<u8> {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine');")
        .unwrap();
    drop(conn);
    std::fs::read(path).unwrap()
}
