//! The bot service end to end: signed notifications from the Graph simulator reach the real
//! router, plugins run, and their call-control calls arrive at the simulated Graph as the
//! exact requests the docs describe.

use std::time::{Duration, Instant};

use crate::support::bot::{BOT_APP_ID, Bot, plugin_table};
use callhost::call::{Identity, Tone};
use callhost_simulator::{Faults, RecordedRequest};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

fn caller() -> Identity {
    Identity {
        display_name: Some("Alex Caller".into()),
        ..Identity::user("8a34a46b-3d17-4adc-8dce-dc4e7d572698")
    }
}

fn bot_identity() -> Identity {
    Identity::application(BOT_APP_ID)
}

/// A service whose default route runs the recorder with `actions` on incoming calls.
async fn recorder_bot(actions: Value) -> Bot {
    let plugin = plugin_table(
        "recorder",
        "recorder",
        &[("on", "incoming-call"), ("actions", &actions.to_string())],
    );
    Bot::start(&format!("[[routes]]\nplugin = \"recorder\"\n[plugins.recorder.policy]\nallow = [\"*\"]\ntargets = [\"*\"]\n{plugin}")).await
}

async fn request(bot: &Bot, method: &str, suffix: &str) -> RecordedRequest {
    bot.sim
        .wait_for_request(WAIT, |r| r.method == method && r.path.ends_with(suffix))
        .await
        .unwrap_or_else(|| {
            panic!(
                "Graph never received {method} …{suffix}; it got {:#?}",
                bot.sim.requests()
            )
        })
}

/// Runs one action on an incoming call and returns the request Graph received for it.
async fn action_request(action: Value, method: &str, suffix: &str) -> (String, RecordedRequest) {
    let bot = recorder_bot(json!([action])).await;
    let call = bot.sim.incoming_call(caller(), bot_identity());
    let request = request(&bot, method, suffix).await;
    assert_eq!(
        request.path,
        format!("/v1.0/communications/calls/{call}{suffix}")
    );
    (call, request)
}

fn body(request: &RecordedRequest) -> &Value {
    request.body.as_ref().expect("a request body")
}

#[tokio::test]
async fn answer_is_sent_with_service_hosted_media_and_the_callback() {
    let (_, r) = action_request(
        json!({"fn": "answer", "call": "$call", "modalities": ["audio"], "prefetch": [{"uri": "https://cdn.example.com/beep.wav", "resource-id": "beep"}]}),
        "POST",
        "/answer",
    )
    .await;
    let b = body(&r);
    assert_eq!(b["acceptedModalities"], json!(["audio"]));
    assert_eq!(
        b["mediaConfig"]["@odata.type"],
        "#microsoft.graph.serviceHostedMediaConfig"
    );
    assert_eq!(
        b["mediaConfig"]["preFetchMedia"][0]["uri"],
        "https://cdn.example.com/beep.wav"
    );
    assert_eq!(b["mediaConfig"]["preFetchMedia"][0]["resourceId"], "beep");
    assert!(b["callbackUri"].as_str().unwrap().ends_with("/api/calls"));
}

#[tokio::test]
async fn reject_busy() {
    let (_, r) = action_request(
        json!({"fn": "reject", "call": "$call", "reason": "busy"}),
        "POST",
        "/reject",
    )
    .await;
    assert_eq!(body(&r)["reason"], "busy");
}

#[tokio::test]
async fn redirect_rings_several_targets_at_once() {
    let (_, r) = action_request(
        json!({"fn": "redirect", "call": "$call", "targets": [
            {"kind": "user", "id": "u-1", "display-name": "One"},
            {"kind": "user", "id": "u-2", "display-name": "Two"}
        ], "timeout-seconds": 30}),
        "POST",
        "/redirect",
    )
    .await;
    let b = body(&r);
    assert_eq!(b["targets"].as_array().unwrap().len(), 2);
    assert_eq!(b["targets"][1]["identity"]["user"]["id"], "u-2");
    assert_eq!(b["timeout"], 30);
}

#[tokio::test]
async fn blind_consultative_and_group_transfers() {
    let (_, r) = action_request(
        json!({"fn": "transfer", "call": "$call", "target": {"kind": "user", "id": "target-1", "display-name": "Target"}}),
        "POST",
        "/transfer",
    )
    .await;
    assert_eq!(
        body(&r)["transferTarget"]["identity"]["user"]["id"],
        "target-1"
    );
    assert!(
        body(&r)["transferTarget"]
            .get("replacesCallId")
            .is_none_or(Value::is_null)
    );

    let (_, r) = action_request(
        json!({"fn": "transfer", "call": "$call", "target": {"kind": "user", "id": "target-1"}, "replaces-call-id": "other-call"}),
        "POST",
        "/transfer",
    )
    .await;
    assert_eq!(body(&r)["transferTarget"]["replacesCallId"], "other-call");

    let (_, r) = action_request(
        json!({"fn": "transfer", "call": "$call", "target": {"kind": "phone", "id": "+14255550100"},
               "transferee": {"identity": {"kind": "user", "id": "u-9", "tenant-id": "t-1"}, "participant-id": "p-9"}}),
        "POST",
        "/transfer",
    )
    .await;
    assert_eq!(
        body(&r)["transferTarget"]["identity"]["phone"]["id"],
        "+14255550100"
    );
    assert_eq!(body(&r)["transferee"]["participantId"], "p-9");
    assert_eq!(body(&r)["transferee"]["identity"]["user"]["id"], "u-9");
}

#[tokio::test]
async fn hang_up_deletes_the_call() {
    let (_, r) = action_request(json!({"fn": "hang-up", "call": "$call"}), "DELETE", "").await;
    assert!(r.body.is_none());
}

#[tokio::test]
async fn media_actions() {
    let (_, r) = action_request(
        json!({"fn": "play-prompt", "call": "$call", "prompts": [{"uri": "https://cdn.example.com/hello.wav"}], "client-context": "ctx-1"}),
        "POST",
        "/playPrompt",
    )
    .await;
    assert_eq!(
        body(&r)["prompts"][0]["@odata.type"],
        "#microsoft.graph.mediaPrompt"
    );
    assert_eq!(
        body(&r)["prompts"][0]["mediaInfo"]["uri"],
        "https://cdn.example.com/hello.wav"
    );
    // The host's mark (the journal entry and request it was made for), then the plugin's own.
    let context = body(&r)["clientContext"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        context.starts_with("ch1:") && context.ends_with("|ctx-1"),
        "{context}"
    );

    let (_, r) = action_request(
        json!({"fn": "record-response", "call": "$call", "prompts": [], "barge-in-allowed": true, "initial-silence-timeout-seconds": 10,
               "max-silence-timeout-seconds": 3, "max-record-duration-seconds": 60, "play-beep": true, "stop-tones": ["#", "1"]}),
        "POST",
        "/recordResponse",
    )
    .await;
    let b = body(&r);
    assert_eq!(
        (
            b["bargeInAllowed"].clone(),
            b["maxRecordDurationInSeconds"].clone()
        ),
        (json!(true), json!(60))
    );
    assert_eq!(b["stopTones"], json!(["#", "1"]));

    let (_, r) = action_request(
        json!({"fn": "subscribe-to-tone", "call": "$call", "client-context": "tones"}),
        "POST",
        "/subscribeToTone",
    )
    .await;
    assert_eq!(body(&r)["clientContext"], "tones");

    let (_, r) = action_request(
        json!({"fn": "send-dtmf-tones", "call": "$call", "tones": ["one", "star", "pound"], "delay-between-tones-ms": 200}),
        "POST",
        "/sendDtmfTones",
    )
    .await;
    assert_eq!(body(&r)["tones"], json!(["tone1", "star", "pound"]));
    assert_eq!(body(&r)["delayBetweenTonesMs"], 200);

    let (_, r) = action_request(
        json!({"fn": "cancel-media-processing", "call": "$call", "client-context": "stop"}),
        "POST",
        "/cancelMediaProcessing",
    )
    .await;
    assert_eq!(body(&r)["clientContext"], "stop");
}

#[tokio::test]
async fn mute_unmute_and_participant_actions() {
    action_request(json!({"fn": "mute", "call": "$call"}), "POST", "/mute").await;
    action_request(json!({"fn": "unmute", "call": "$call"}), "POST", "/unmute").await;
    action_request(
        json!({"fn": "mute-participant", "call": "$call", "participant-id": "p-1"}),
        "POST",
        "/participants/p-1/mute",
    )
    .await;
    let (_, r) = action_request(
        json!({"fn": "invite-participants", "call": "$call", "participants": [{"identity": {"kind": "user", "id": "u-7", "display-name": "Seven"}}]}),
        "POST",
        "/participants/invite",
    )
    .await;
    assert_eq!(body(&r)["participants"][0]["identity"]["user"]["id"], "u-7");
    let (_, r) = action_request(
        json!({"fn": "start-hold-music", "call": "$call", "participant-id": "p-1", "custom-prompt": {"uri": "https://cdn.example.com/hold.wav"}}),
        "POST",
        "/participants/p-1/startHoldMusic",
    )
    .await;
    assert_eq!(
        body(&r)["customPrompt"]["mediaInfo"]["uri"],
        "https://cdn.example.com/hold.wav"
    );
    action_request(
        json!({"fn": "stop-hold-music", "call": "$call", "participant-id": "p-1"}),
        "POST",
        "/participants/p-1/stopHoldMusic",
    )
    .await;
}

async fn created_call(actions: Value) -> RecordedRequest {
    let bot = recorder_bot(actions).await;
    bot.sim.incoming_call(caller(), bot_identity());
    bot.sim
        .wait_for_request(WAIT, |r| {
            r.method == "POST" && r.path == "/v1.0/communications/calls"
        })
        .await
        .unwrap_or_else(|| panic!("no create-call request; got {:#?}", bot.sim.requests()))
}

const CLASSIC_URL: &str = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_NTg0NmQ3NTctZDVkZC00YzRhLThmNmEtOGQ3M2E0ODdmZDZk%40thread.v2/0?context=%7b%22Tid%22%3a%2272f988bf-86f1-41af-91ab-2d7cd011db47%22%2c%22Oid%22%3a%224b444206-207c-42f8-92a6-e332b41c88a2%22%7d";

#[tokio::test]
async fn plugins_join_meetings_by_classic_url_short_url_and_meeting_id() {
    let r =
        created_call(json!([{"fn": "join-meeting", "meeting": {"join-url": CLASSIC_URL}}])).await;
    let b = body(&r);
    assert_eq!(
        b["chatInfo"]["threadId"],
        "19:meeting_NTg0NmQ3NTctZDVkZC00YzRhLThmNmEtOGQ3M2E0ODdmZDZk@thread.v2"
    );
    assert_eq!(
        b["meetingInfo"]["@odata.type"],
        "#microsoft.graph.organizerMeetingInfo"
    );
    assert_eq!(
        b["meetingInfo"]["organizer"]["user"]["id"],
        "4b444206-207c-42f8-92a6-e332b41c88a2"
    );
    assert_eq!(b["tenantId"], "72f988bf-86f1-41af-91ab-2d7cd011db47");

    let r = created_call(json!([{"fn": "join-meeting", "meeting": {"join-url": "https://teams.microsoft.com/meet/2513337842?p=ZkgAgYv3"}}])).await;
    assert_eq!(
        body(&r)["meetingInfo"]["@odata.type"],
        "#microsoft.graph.joinMeetingIdMeetingInfo"
    );
    assert_eq!(body(&r)["meetingInfo"]["joinMeetingId"], "2513337842");
    assert_eq!(body(&r)["meetingInfo"]["passcode"], "ZkgAgYv3");
    assert_eq!(
        body(&r)["tenantId"],
        callhost_simulator::SIM_TENANT,
        "the default tenant fills in for a short link"
    );

    let r = created_call(json!([{"fn": "join-meeting", "meeting": {"join-meeting-id": {"join-meeting-id": "1234567890", "passcode": null}}, "tenant-id": "t-42"}])).await;
    assert_eq!(body(&r)["meetingInfo"]["joinMeetingId"], "1234567890");
    assert_eq!(body(&r)["tenantId"], "t-42");
}

#[tokio::test]
async fn plugins_place_calls() {
    let r = created_call(json!([{"fn": "place-call", "targets": [{"kind": "user", "id": "u-5", "display-name": "Five"}]}])).await;
    assert_eq!(body(&r)["targets"][0]["identity"]["user"]["id"], "u-5");
    assert_eq!(
        body(&r)["mediaConfig"]["@odata.type"],
        "#microsoft.graph.serviceHostedMediaConfig"
    );
    assert!(
        body(&r)["callbackUri"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1")
    );
}

#[tokio::test]
async fn the_admin_api_joins_meetings_and_places_calls() {
    let bot = recorder_bot(json!([])).await;
    let join = |body: Value| {
        let http = bot.http.clone();
        let url = format!("{}/admin/meetings/join", bot.admin_url);
        async move { http.post(url).json(&body).send().await.unwrap() }
    };
    let response =
        join(json!({"joinUrl": CLASSIC_URL, "plugin": "recorder", "displayName": "Recorder"}))
            .await;
    assert_eq!(response.status(), 201);
    let call_id = response.json::<Value>().await.unwrap()["callId"]
        .as_str()
        .unwrap()
        .to_string();
    let listed: Value = bot
        .http
        .get(format!("{}/admin/calls", bot.admin_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        listed["calls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["call_id"] == call_id && c["plugin"] == "recorder"),
        "{listed}"
    );

    let response =
        join(json!({"joinUrl": "https://example.com/not-a-meeting", "plugin": "recorder"})).await;
    assert_eq!(response.status(), 400);
    let error = response.json::<Value>().await.unwrap()["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.contains("join"), "{error}");

    let response =
        join(json!({"joinMeetingId": "2513337842", "passcode": "abc", "plugin": "recorder"})).await;
    assert_eq!(response.status(), 201);

    let response = bot
        .http
        .post(format!("{}/admin/calls", bot.admin_url))
        .json(&json!({"targets": ["user:u-77"], "plugin": "recorder"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    let hang_up = bot
        .http
        .delete(format!("{}/admin/calls/{call_id}", bot.admin_url))
        .send()
        .await
        .unwrap();
    assert_eq!(hang_up.status(), 202);
    request(&bot, "DELETE", &call_id).await;
}

#[tokio::test]
async fn throttled_requests_are_retried_after_retry_after() {
    let bot =
        recorder_bot(json!([{"fn": "answer", "call": "$call", "modalities": ["audio"]}])).await;
    bot.sim.set_faults(Faults {
        fail_next: 1,
        fail_status: 429,
        retry_after: Some(1),
        ..Faults::default()
    });
    let started = Instant::now();
    bot.sim.incoming_call(caller(), bot_identity());
    let answered = bot
        .sim
        .wait_for_request(WAIT, |r| r.path.ends_with("/answer") && r.status == 202)
        .await
        .expect("answered after the retry");
    let attempts: Vec<u16> = bot
        .sim
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/answer"))
        .map(|r| r.status)
        .collect();
    assert_eq!(attempts, vec![429, 202]);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
    assert!(answered.at >= Duration::from_secs(1));
}

#[tokio::test]
async fn a_refused_token_is_refreshed_once() {
    let bot =
        recorder_bot(json!([{"fn": "answer", "call": "$call", "modalities": ["audio"]}])).await;
    let call = bot.sim.incoming_call(caller(), bot_identity());
    request(&bot, "POST", "/answer").await;
    assert_eq!(bot.sim.tokens_issued(), 1, "one token serves many requests");
    // The cached token is revoked: Graph answers 401, callhost fetches a new one and retries.
    bot.sim.set_faults(Faults {
        revoke_tokens_upto: 1,
        ..Faults::default()
    });
    bot.sim.remote_hang_up(&call);
    let second = bot.sim.incoming_call(caller(), bot_identity());
    let r = bot
        .sim
        .wait_for_request(WAIT, |r| {
            r.path.ends_with(&format!("{second}/answer")) && r.status == 202
        })
        .await;
    assert!(r.is_some(), "{:#?}", bot.sim.requests());
    assert_eq!(bot.sim.tokens_issued(), 2);
}

#[tokio::test]
async fn ivr_menu_runs_end_to_end_and_releases_the_call() {
    let plugin = plugin_table(
        "ivr",
        "ivr-menu",
        &[
            ("menu", "https://media.example.com/menu.wav"),
            ("info", "https://media.example.com/info.wav"),
            ("goodbye", "https://media.example.com/goodbye.wav"),
            ("sales", "user:5e3ce6c0-2b1f-4285-8d4b-75ee78787346"),
            ("operator", "user:6f5a4bc1-3c2e-4396-9e5c-86ff89898457"),
        ],
    );
    let bot = Bot::start(&format!("[[routes]]\nplugin = \"ivr\"\n{plugin}")).await;
    let call = bot.sim.incoming_call(caller(), bot_identity());
    request(&bot, "POST", "/answer").await;
    request(&bot, "POST", "/subscribeToTone").await;
    let menu = request(&bot, "POST", "/playPrompt").await;
    assert_eq!(
        body(&menu)["prompts"][0]["mediaInfo"]["uri"],
        "https://media.example.com/menu.wav"
    );
    bot.sim.press(&call, Tone::Tone1);
    let transfer = request(&bot, "POST", "/transfer").await;
    assert_eq!(
        body(&transfer)["transferTarget"]["identity"]["user"]["id"],
        "5e3ce6c0-2b1f-4285-8d4b-75ee78787346"
    );
    assert!(
        bot.wait_until_no_calls(WAIT).await,
        "the call is released after the transfer completed"
    );
    assert_eq!(bot.dispatcher.metrics().fallbacks, 0);
}

#[tokio::test]
async fn answer_and_greet_runs_end_to_end_even_with_duplicate_and_reordered_notifications() {
    let plugin = plugin_table(
        "greeter",
        "answer-and-greet",
        &[("greeting", "https://media.example.com/hello.wav")],
    );
    let bot = Bot::start(&format!("[[routes]]\nplugin = \"greeter\"\n{plugin}")).await;
    bot.sim.set_faults(Faults {
        duplicate_notifications: true,
        swap_establishing: true,
        ..Faults::default()
    });
    let call = bot.sim.incoming_call(caller(), bot_identity());
    request(&bot, "DELETE", &call).await;
    assert!(bot.wait_until_no_calls(WAIT).await);
    let requests = bot.sim.requests();
    let count = |suffix: &str| requests.iter().filter(|r| r.path.ends_with(suffix)).count();
    assert_eq!(
        (count("/answer"), count("/playPrompt")),
        (1, 1),
        "each notification acted on once: {requests:#?}"
    );
}

#[tokio::test]
async fn a_trapping_plugin_gets_the_routes_fallback() {
    let plugin = plugin_table("broken", "trap", &[]);
    let bot = Bot::start(&format!("[[routes]]\nplugin = \"broken\"\nfallback = {{ action = \"redirect\", targets = [\"user:operator-1\"] }}\n{plugin}")).await;
    bot.sim.incoming_call(caller(), bot_identity());
    let redirect = request(&bot, "POST", "/redirect").await;
    assert_eq!(
        body(&redirect)["targets"][0]["identity"]["user"]["id"],
        "operator-1"
    );
    assert_eq!(bot.dispatcher.metrics().fallbacks, 1);
}

#[tokio::test]
async fn a_plugin_that_never_decides_gets_rejected_as_busy_within_its_budget() {
    let plugin = plugin_table("slow", "loop-forever", &[]);
    let bot = Bot::start(&format!(
        "[[routes]]\nplugin = \"slow\"\ndecision_budget_ms = 300\n{plugin}\n[plugins.slow.limits]\ndeadline_ms = 5000\n"
    ))
    .await;
    let started = Instant::now();
    bot.sim.incoming_call(caller(), bot_identity());
    let reject = request(&bot, "POST", "/reject").await;
    assert_eq!(body(&reject)["reason"], "busy");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn keepalive_keeps_calls_up_and_a_404_ends_them() {
    let plugin = plugin_table(
        "greeter",
        "answer-and-greet",
        &[("greeting", "https://media.example.com/hello.wav")],
    );
    let settings = callhost_simulator::SimulatorSettings {
        bot_app_id: BOT_APP_ID.into(),
        keepalive_timeout: Duration::from_millis(400),
        media_duration: Duration::from_secs(3600),
        ..Default::default()
    };
    let bot = Bot::start_with(
        settings,
        &format!("[calls]\nkeepalive_interval_s = 0.1\n[[routes]]\nplugin = \"greeter\"\n{plugin}"),
    )
    .await;
    let call = bot.sim.incoming_call(caller(), bot_identity());
    request(&bot, "POST", "/playPrompt").await;
    let kept = bot
        .sim
        .wait_until(WAIT, || {
            (bot.sim
                .requests()
                .iter()
                .filter(|r| r.path.ends_with("/keepAlive"))
                .count()
                >= 8)
                .then_some(())
        })
        .await;
    assert!(kept.is_some(), "keepAlive every 100 ms");
    let refused: Vec<_> = bot
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/keepAlive") && r.status != 200)
        .collect();
    assert!(
        refused.is_empty(),
        "keepAlive is a POST with Content-Length: 0, which Graph takes: {refused:#?}"
    );
    assert_eq!(
        bot.sim.call_state(&call).as_deref(),
        Some("established"),
        "the call outlived the 400 ms keepAlive timeout"
    );
    bot.sim.forget_call(&call);
    assert!(
        bot.wait_until_no_calls(WAIT).await,
        "a 404 from keepAlive ends the call locally"
    );
}
