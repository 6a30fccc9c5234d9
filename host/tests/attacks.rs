//! Hostile load against `callhost serve` as its own process, on loopback: each test is one
//! kind of attack or fault from the threat model (docs/security.md), bounded in count and
//! time, and asserts that the bound holds: memory under a stated ceiling, connections closed,
//! one decision per call, another tenant refused, a flood turned into a bounded number of Graph
//! requests, forged ids refused without reaching the log, faults that do not stick.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::support::bot::{BOT_APP_ID, plugin_table};
use crate::support::serve::Served;
use callhost::call::Identity;
use callhost_simulator::{Faults, Notification, SIM_TENANT, SimRecord};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(15);

/// How much the service's peak resident memory may grow while 810 MB of bodies arrive for one
/// call and for calls nobody knows (measured: 150–170 MiB on its own, near 200 MiB when the
/// whole suite shares the machine and bodies wait longer in flight). Retained: at most the
/// call's queue (8 MiB) and journal (4 MiB) and the orphan budget (16 MiB); the rest is bodies
/// in flight on 16 connections, parsed, and the plugin instances that read them. Growth from
/// one round to the next (a leak) is checked apart.
const MEMORY_CEILING_MIB: u64 = 256;

fn caller() -> Identity {
    Identity::user("8a34a46b-3d17-4adc-8dce-dc4e7d572698")
}

fn bot() -> Identity {
    Identity::application(BOT_APP_ID)
}

/// The recorder's config for acting on incoming calls only.
const ON_INCOMING: (&str, &str) = ("on", "incoming-call");

/// The default route (with `route`, more lines of its table) runs the recorder, which makes
/// `actions` on every event (only on the kind of its `on` config, when given); its policy
/// allows everything. `extra` holds other tables.
fn recorder(actions: Value, config: &[(&str, &str)], route: &str, extra: &str) -> String {
    let actions = actions.to_string();
    let mut config = config.to_vec();
    config.push(("actions", &actions));
    let plugin = plugin_table("recorder", "recorder", &config);
    format!(
        "{extra}\n[[routes]]\nplugin = \"recorder\"\n{route}\n{plugin}\n[plugins.recorder.policy]\nallow = [\"*\"]\ntargets = [\"*\"]\n"
    )
}

fn answer() -> Value {
    json!([{"fn": "answer", "call": "$call", "modalities": ["audio"]}])
}

/// A `commsNotifications` document about call `call_id`.
fn document(call_id: &str, change_type: &'static str, resource_data: Value) -> Value {
    Notification::new(
        change_type,
        format!("/communications/calls/{call_id}"),
        resource_data,
    )
    .envelope()
}

fn established(call_id: &str) -> Value {
    document(
        call_id,
        "updated",
        json!({"@odata.type": "#microsoft.graph.call", "state": "established"}),
    )
}

/// One document carrying `count` tone notifications for `call_id`, sequence ids from `first`.
fn tones(call_id: &str, first: i64, count: i64) -> Value {
    let value: Vec<Value> = (first..first + count)
        .map(|sequence| {
            json!({
                "changeType": "updated",
                "resourceUrl": format!("/communications/calls/{call_id}"),
                "resourceData": {"@odata.type": "#microsoft.graph.call", "state": "established",
                    "toneInfo": {"sequenceId": sequence, "tone": "tone1"}},
            })
        })
        .collect();
    json!({"value": value})
}

/// Graph's requests on `call_id` whose path ends with `suffix`.
async fn wait_for_answer(served: &Served, call_id: &str) {
    let path = format!("/v1.0/communications/calls/{call_id}/answer");
    let found = served.sim.wait_for_request(WAIT, |r| r.path == path).await;
    assert!(
        found.is_some(),
        "call {call_id} was never answered; Graph got {:#?}\nlog:\n{}",
        served.sim.requests(),
        served.log()
    );
}

/// Whether the server closed `stream` (a read returns end of file or an error) within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// The status line's code of the response `stream` receives within `within`.
async fn response_status(stream: &mut TcpStream, within: Duration) -> Option<u16> {
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(within, stream.read(&mut buf))
        .await
        .ok()?
        .ok()?;
    let head = String::from_utf8_lossy(&buf[..n]);
    head.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// Item 1 of the threat model: memory is bounded in bytes. Three rounds of 300 bodies of
/// 900 KB each, 16 at a time: a third for an answered call, a third for one call nobody knows
/// and a third for 100 such calls per round. The peak is reached in the first round; the later
/// ones, with every budget full, add next to nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_bodies_for_known_and_unknown_calls_keep_memory_under_the_ceiling() {
    let served = Served::start(&recorder(answer(), &[ON_INCOMING], "", "")).await;
    let call = served.sim.incoming_call(caller(), bot());
    wait_for_answer(&served, &call).await;
    let before = served.memory_kib("VmHWM");
    let token = served.sim_token();
    let padding = "x".repeat(900_000);
    let mut peaks_mib = Vec::new();
    let mut by_status: HashMap<u16, usize> = HashMap::new();
    let started = Instant::now();
    for round in 0..3 {
        let bodies = (0..300).map(|i| {
            let id = match i % 3 {
                0 => call.clone(),
                1 => "9b0c1f0e-0000-4000-8000-000000000001".to_string(),
                _ => format!("9b0c1f0e-0000-4000-8000-{round:04}{i:08}"),
            };
            let mut body = established(&id);
            body["value"][0]["resourceData"]["padding"] = json!(padding);
            serde_json::to_vec(&body).unwrap()
        });
        let statuses: Vec<u16> = futures::stream::iter(bodies)
            .map(|body| served.post(body, &token))
            .buffer_unordered(16)
            .collect()
            .await;
        for status in statuses {
            *by_status.entry(status).or_default() += 1;
        }
        peaks_mib.push(served.memory_kib("VmHWM").saturating_sub(before) / 1024);
    }
    eprintln!(
        "900 bodies of 900 KB in {:?} ({by_status:?}): peak RSS growth after each round {peaks_mib:?} MiB",
        started.elapsed()
    );
    assert!(
        by_status.keys().all(|s| [202, 503].contains(s)),
        "{by_status:?}"
    );
    assert!(
        by_status.get(&202).copied().unwrap_or(0) >= 600,
        "most bodies are accepted: {by_status:?}"
    );
    let grown = peaks_mib[2];
    assert!(
        grown < MEMORY_CEILING_MIB,
        "peak RSS grew by {grown} MiB, over the ceiling of {MEMORY_CEILING_MIB} MiB"
    );
    assert!(
        peaks_mib[2] - peaks_mib[0] < 48,
        "memory keeps growing with the bodies sent: {peaks_mib:?} MiB"
    );
    // What was dropped is counted and said.
    let metrics = served.admin_get("/admin/metrics").await;
    assert!(
        metrics.to_string().contains("orphan-overflow"),
        "orphans past the budget are counted: {metrics}"
    );
    assert!(served.log().contains("orphan"), "and logged");
}

/// Item 2: connections are bounded in number and time, and the token comes before the body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_idle_and_unauthenticated_connections_are_cut_off() {
    let config = "[server]\nheader_read_timeout_ms = 2000\nbody_read_timeout_ms = 1000\nmax_connections = 64\n";
    let mut served = Served::start(&recorder(answer(), &[ON_INCOMING], "", config)).await;
    let addr = served.addr;

    // Past the cap, a connection is closed at once; the ones within it are served.
    let mut connections = Vec::new();
    for _ in 0..80 {
        connections.push(TcpStream::connect(addr).await.unwrap());
    }
    let closed = futures::future::join_all(
        connections
            .iter_mut()
            .map(|stream| closed_within(stream, Duration::from_millis(800))),
    );
    let closed_at_once = closed.await.into_iter().filter(|closed| *closed).count();
    assert_eq!(closed_at_once, 16, "80 connections on a cap of 64");
    drop(connections);

    // Slowloris: headers a byte at a time never finish; each connection is closed at the
    // header timeout.
    let started = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..48 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"POST /api/calls HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        slow.push(stream);
    }
    for _ in 0..15 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        for stream in &mut slow {
            let _ = stream.write_all(b"X").await;
        }
    }
    let mut cut = 0;
    for stream in &mut slow {
        if closed_within(stream, Duration::from_secs(3)).await {
            cut += 1;
        }
    }
    assert_eq!(cut, 48, "every slowloris connection is closed");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );

    // A forged token is refused from the headers: the megabyte it announces is never read.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /api/calls HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer forged\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n{")
        .await
        .unwrap();
    assert_eq!(
        response_status(&mut stream, Duration::from_secs(2)).await,
        Some(401)
    );

    // A valid token with a body that trickles: 408 at the body timeout.
    let token = served.sim_token();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/calls HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{\"value\": ["
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    assert_eq!(
        response_status(&mut stream, Duration::from_secs(3)).await,
        Some(408)
    );

    // A body announced past the limit: 413 before it is sent.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/calls HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 2097152\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    assert_eq!(
        response_status(&mut stream, Duration::from_secs(2)).await,
        Some(413)
    );

    // SIGTERM with half-sent requests open does not wait for them.
    let mut half_sent = Vec::new();
    for _ in 0..32 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"POST /api/calls HTTP/1.1\r\n")
            .await
            .unwrap();
        half_sent.push(stream);
    }
    let took = served.terminate(Duration::from_secs(10)).await;
    assert!(
        took.is_some(),
        "callhost serve still runs 10 s after SIGTERM; log:\n{}",
        served.log()
    );
}

/// Item 3: one decision per incoming call. Graph takes a second to answer while the route's
/// decision budget is 300 ms: the answer in flight is awaited, not raced by the fallback; an
/// incoming-call notification sent again (another etag, after the answer, after the end) is
/// not a new call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_incoming_call_gets_exactly_one_decision() {
    let config = recorder(answer(), &[ON_INCOMING], "decision_budget_ms = 300", "");
    let served = Served::start(&config).await;
    served.sim.set_faults(Faults {
        slow: Duration::from_millis(1000),
        ..Faults::default()
    });
    let calls: Vec<String> = (0..20)
        .map(|_| served.sim.incoming_call(caller(), bot()))
        .collect();
    for call in &calls {
        wait_for_answer(&served, call).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for call in &calls {
        let decisions: Vec<String> = ["/answer", "/reject", "/redirect"]
            .iter()
            .flat_map(|suffix| served.graph_posts(call, suffix))
            .map(|r| r.path)
            .collect();
        assert_eq!(decisions.len(), 1, "call {call}: {decisions:?}");
    }

    served.sim.set_faults(Faults::default());
    let call = served.sim.incoming_call(caller(), bot());
    wait_for_answer(&served, &call).await;
    let incoming = served
        .sim
        .wait_until(WAIT, || {
            served
                .sim
                .records()
                .into_iter()
                .find_map(|record| match record {
                    SimRecord::Notification { call_id, body, .. }
                        if call_id == call && body.to_string().contains("\"incoming\"") =>
                    {
                        Some(body)
                    }
                    _ => None,
                })
        })
        .await
        .expect("the simulator sent the incoming call");
    let token = served.sim_token();
    let resend = |etag: &str| {
        let mut body = incoming.clone();
        body["value"][0]["resourceData"]["@odata.etag"] = json!(etag);
        serde_json::to_vec(&body).unwrap()
    };
    for i in 0..5 {
        assert_eq!(
            served.post(resend(&format!("W/\"{i}\"")), &token).await,
            202
        );
    }
    served.sim.remote_hang_up(&call);
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 5..8 {
        served.post(resend(&format!("W/\"{i}\"")), &token).await;
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        served.graph_posts(&call, "/answer").len(),
        1,
        "an incoming call sent again is not answered again"
    );
}

/// Item 4: the tenant comes from the verified token, never from the body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_belongs_to_the_tenant_of_its_token() {
    let extra = format!("[bot]\ntenants = [\"{SIM_TENANT}\", \"tenant-b\"]\n");
    let served = Served::start(&recorder(answer(), &[ON_INCOMING], "", &extra)).await;
    let call = served.sim.incoming_call(caller(), bot());
    wait_for_answer(&served, &call).await;

    let body = serde_json::to_vec(&established(&call)).unwrap();
    let other_tenant = served.token("tenant-b");
    assert_eq!(
        served.post(body.clone(), &other_tenant).await,
        403,
        "another allowed tenant cannot reach this call"
    );
    assert_eq!(
        served.post(body.clone(), &served.token("tenant-c")).await,
        401,
        "a tenant off the allowlist is refused"
    );

    // A new call whose body claims another tenant is the token's tenant's call.
    let id = "7c2e4f10-0000-4000-8000-00000000000b";
    let mut incoming = document(
        id,
        "created",
        json!({
            "@odata.type": "#microsoft.graph.call",
            "state": "incoming",
            "direction": "incoming",
            "tenantId": "tenant-b",
            "source": {"identity": {"user": {"id": "u-1"}}},
            "targets": [{"identity": {"application": {"id": BOT_APP_ID}}}],
            "requestedModalities": ["audio"],
        }),
    );
    incoming["value"][0]["resourceData"]["@odata.id"] =
        json!(format!("/communications/calls/{id}"));
    let incoming = serde_json::to_vec(&incoming).unwrap();
    assert_eq!(served.post(incoming, &served.sim_token()).await, 202);
    let deadline = Instant::now() + WAIT;
    let found = loop {
        let calls = served.admin_get("/admin/calls").await;
        let found = calls["calls"].as_array().into_iter().flatten();
        if let Some(found) = found.into_iter().find(|c| c["call_id"] == id) {
            break found.clone();
        }
        assert!(
            Instant::now() < deadline,
            "call {id} is never tracked: {calls}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(found["tenant_id"], SIM_TENANT, "{found}");
    let body = serde_json::to_vec(&established(id)).unwrap();
    assert_eq!(served.post(body, &other_tenant).await, 403);
    assert!(served.log().contains("tenant"), "the refusals are logged");
}

/// Item 5: a flood of tones becomes a bounded number of Graph requests, and ids that would
/// forge or flood the log are refused before they reach it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tone_flood_is_bounded_and_forged_ids_never_reach_the_log() {
    let actions = json!([
        {"fn": "answer", "call": "$call", "modalities": ["audio"]},
        {"fn": "play-prompt", "call": "$call", "prompts": [{"uri": "https://media.example.com/a.wav"}]}
    ]);
    let config = recorder(actions, &[("keep-events", "none")], "", "");
    let served = Served::start(&config).await;
    let call = served.sim.incoming_call(caller(), bot());
    wait_for_answer(&served, &call).await;
    let token = served.sim_token();

    // More than a call's queue holds, in one callback: refused whole, to be sent again.
    let flood = serde_json::to_vec(&tones(&call, 1, 4000)).unwrap();
    assert!(flood.len() < 1 << 20, "{} bytes", flood.len());
    let response = served
        .http
        .post(&served.callback_url)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(flood)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert!(response.headers().contains_key("retry-after"));

    // 400 tones fit the queue: the events past the call's rate are dropped, the plays past
    // its action rate are refused as throttled; Graph sees a bounded number of requests.
    let plays_before = served.graph_posts(&call, "/playPrompt").len();
    let started = Instant::now();
    let body = serde_json::to_vec(&tones(&call, 4001, 400)).unwrap();
    assert_eq!(served.post(body, &token).await, 202);
    // Until the plays stop coming (the call's queue is drained), up to 20 s.
    let mut plays = 0;
    let mut last_change = Instant::now();
    while last_change.elapsed() < Duration::from_secs(2) && started.elapsed() < 2 * WAIT {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = served.graph_posts(&call, "/playPrompt").len() - plays_before;
        if now != plays {
            (plays, last_change) = (now, Instant::now());
        }
    }
    let seconds = (last_change - started).as_secs_f64();
    let bound = 40 + (10.0 * seconds).ceil() as usize + 2;
    // The plays the plugin asked for past the bucket were refused before Graph.
    assert!(
        served.log().contains("over the call's action rate"),
        "the action rate never engaged; log:\n{}",
        served.log()
    );
    assert!(
        (1..=bound).contains(&plays),
        "400 tones made {plays} plays in {seconds:.1} s (bound {bound}); log:\n{}",
        served.log()
    );
    eprintln!("400 tones made {plays} plays in {seconds:.1} s (bound {bound})");

    // Ids that would forge a log line or fill the log: 400, and the log does not grow by them.
    let log_before = served.log().len();
    let forged = established("abc\nERROR forged line");
    assert_eq!(
        served
            .post(serde_json::to_vec(&forged).unwrap(), &token)
            .await,
        400
    );
    let huge = established(&"a".repeat(400_000));
    assert_eq!(
        served
            .post(serde_json::to_vec(&huge).unwrap(), &token)
            .await,
        400
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = served.log();
    let grown = log.len() - log_before;
    assert!(grown < 16 * 1024, "the log grew by {grown} bytes");
    assert!(
        !log.lines().any(|line| line.starts_with("ERROR forged")),
        "a call id forged a log line"
    );
}

/// Item 6: faults that used to stick. Two failed token requests (a login endpoint blip) still
/// answer the call, and the public readiness check says ready or not, nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_blip_still_answers_and_readiness_tells_nothing_more() {
    let served = Served::start(&recorder(answer(), &[ON_INCOMING], "", "")).await;
    let readyz: Value = served
        .http
        .get(format!("http://{}/readyz", served.addr))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(readyz, json!({"ready": true}));

    served.sim.set_faults(Faults {
        token_outages: 2,
        ..Faults::default()
    });
    let call = served.sim.incoming_call(caller(), bot());
    wait_for_answer(&served, &call).await;
    assert!(served.graph_posts(&call, "/reject").is_empty());
}

/// Item 7: the admin API keeps the plugin's policy and checks the Host header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_calls_keep_the_plugins_policy_and_foreign_hosts_are_refused() {
    let plugin = plugin_table("quiet", "recorder", &[("actions", "[]")]);
    let served = Served::start(&format!(
        "[[routes]]\nplugin = \"quiet\"\n{plugin}\n[plugins.quiet.policy]\nallow = [\"answer\"]\n"
    ))
    .await;
    let place = |override_policy: bool| {
        served
            .http
            .post(format!("{}/admin/calls", served.admin_url))
            .json(&json!({"targets": ["user:8a34a46b-3d17-4adc-8dce-dc4e7d572698"], "plugin": "quiet", "overridePolicy": override_policy}))
            .send()
    };
    let refused = place(false).await.unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    let text = refused.text().await.unwrap();
    assert!(
        text.contains("overridePolicy") || text.contains("policy"),
        "{text}"
    );
    let placed = place(true).await.unwrap();
    let status = placed.status().as_u16();
    assert_eq!(status, 201, "{}", placed.text().await.unwrap());

    let rebound = served
        .http
        .get(format!("{}/admin/calls", served.admin_url))
        .header("host", "attacker.example:80")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status().as_u16(), 421);
}
