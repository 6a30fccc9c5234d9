//! Calls that outlive the process: `callhost serve` killed with SIGKILL at random moments
//! while dozens of calls are in progress, and started again on the same data directory. The
//! simulated Graph posts again every notification that got no 2xx, as Graph does.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::support::bot::{BOT_APP_ID, plugin_table};
use crate::support::serve::Served;
use callhost::call::{Identity, Tone};
use callhost_simulator::SimulatorSettings;
use callhost_store::{SqliteStore, Store};

const CALLS: usize = 24;
/// Calls kept in the menu until after the last restart, to see their keepAlives go on.
const HELD: usize = 4;
const KILLS: usize = 3;

const IVR: &[(&str, &str)] = &[
    ("menu", "https://media.example.com/menu.wav"),
    ("info", "https://media.example.com/info.wav"),
    ("goodbye", "https://media.example.com/goodbye.wav"),
    ("sales", "user:5f3c2a1b-0d4e-4f6a-8b7c-9d0e1f2a3b4c"),
    ("operator", "phone:+14255550100"),
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
    let path = format!("/v1.0/communications/calls/{call_id}/{action}");
    served
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == path)
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
            press_in_menu(&served, &calls, &mut pressed, None);
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
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        press_in_menu(&served, &calls, &mut pressed, Some(last_restart));
        // Over for Graph (the simulator forgets a call that ended), and for callhost.
        let ended = calls
            .iter()
            .filter(|c| served.sim.call_state(c).is_none())
            .count();
        let tracked = served.admin_get("/admin/calls").await["calls"]
            .as_array()
            .map_or(0, Vec::len);
        if ended == calls.len() && tracked == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{ended} of {} calls finished, callhost tracks {tracked}; log:\n{}",
            calls.len(),
            served.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
    }
    println!("restart to ready: {restarts:?}");
}

/// Presses 1 once on each call whose menu is playing; the last [`HELD`] calls only once they
/// got a keepAlive after `released` (`None`: not yet).
fn press_in_menu(
    served: &Served,
    calls: &[String],
    pressed: &mut HashMap<String, bool>,
    released: Option<Duration>,
) {
    for (n, call) in calls.iter().enumerate() {
        let held = n >= calls.len().saturating_sub(HELD);
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
