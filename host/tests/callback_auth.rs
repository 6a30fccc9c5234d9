//! Graph's callbacks at the real router: only validly signed tokens for this bot get through;
//! everything else is refused before any plugin runs or any Graph request is made.

use std::time::Duration;

use crate::support::bot::{BOT_APP_ID, Bot, plugin_table};
use callhost_simulator::{CallbackTokenIssuer, ClaimTime, IssueClaims};
use callhost_simulator::{Notification, SIM_TENANT};
use serde_json::json;

async fn bot() -> Bot {
    let plugin = plugin_table(
        "recorder",
        "recorder",
        &[(
            "actions",
            r#"[{"fn": "answer", "call": "$call", "modalities": ["audio"]}]"#,
        )],
    );
    Bot::start(&format!("[[routes]]\nplugin = \"recorder\"\n{plugin}")).await
}

fn incoming_call_body() -> serde_json::Value {
    Notification::new(
        "created",
        "/communications/calls/4a1f0600-1b2c-4d3e-8f40-5a6b7c8d9e0f".into(),
        json!({
            "@odata.type": "#microsoft.graph.call",
            "state": "incoming",
            "direction": "incoming",
            "source": { "identity": { "user": { "id": "caller-1", "displayName": "Caller" } } },
            "targets": [{ "identity": { "application": { "id": BOT_APP_ID } } }],
            "requestedModalities": ["audio"],
        }),
    )
    .envelope()
}

async fn post(bot: &Bot, token: Option<&str>, body: Vec<u8>) -> (u16, String) {
    let mut request = bot
        .http
        .post(&bot.callback_url)
        .header("content-type", "application/json")
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn valid() -> IssueClaims {
    IssueClaims::graph_callback(BOT_APP_ID, SIM_TENANT)
}

async fn assert_refused(bot: &Bot, token: Option<&str>, why: &str, expected: &str) {
    let (status, text) = post(
        bot,
        token,
        serde_json::to_vec(&incoming_call_body()).unwrap(),
    )
    .await;
    assert_eq!(status, 401, "{why}: {text}");
    assert!(
        text.to_lowercase().contains(expected),
        "{why}: the error should say `{expected}`: {text}"
    );
}

#[tokio::test]
async fn bad_tokens_are_refused_and_never_reach_a_plugin() {
    let bot = bot().await;
    let issuer = bot.sim.issuer();
    let forger = CallbackTokenIssuer::with_kid(issuer.kid());
    let stranger = CallbackTokenIssuer::new();
    assert_refused(&bot, None, "no token", "authorization").await;
    assert_refused(
        &bot,
        Some(&forger.issue(valid())),
        "forged with the right kid",
        "signature",
    )
    .await;
    assert_refused(&bot, Some(&stranger.issue(valid())), "unknown key", "key").await;
    let expired = IssueClaims {
        exp: ClaimTime::FromNow(-3600),
        iat: ClaimTime::FromNow(-7200),
        nbf: ClaimTime::FromNow(-7200),
        ..valid()
    };
    assert_refused(&bot, Some(&issuer.issue(expired)), "expired", "expired").await;
    let other_bot = IssueClaims {
        aud: "another-bot".into(),
        ..valid()
    };
    assert_refused(
        &bot,
        Some(&issuer.issue(other_bot)),
        "wrong audience",
        "audience",
    )
    .await;
    let other_issuer = IssueClaims {
        iss: "https://login.example.com".into(),
        ..valid()
    };
    assert_refused(
        &bot,
        Some(&issuer.issue(other_issuer)),
        "wrong issuer",
        "issuer",
    )
    .await;
    let no_tenant = IssueClaims {
        tid: None,
        ..valid()
    };
    assert_refused(&bot, Some(&issuer.issue(no_tenant)), "no tenant", "tid").await;
    assert_refused(&bot, Some("not.a.jwt"), "garbage", "").await;

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        bot.dispatcher.metrics().notifications,
        0,
        "nothing was accepted"
    );
    assert!(
        bot.sim.requests().is_empty(),
        "no Graph request was made: {:#?}",
        bot.sim.requests()
    );

    // The same body with a valid token goes through.
    let (status, _) = post(
        &bot,
        Some(&issuer.issue(valid())),
        serde_json::to_vec(&incoming_call_body()).unwrap(),
    )
    .await;
    assert_eq!(status, 202);
    let answered = bot
        .sim
        .wait_for_request(Duration::from_secs(10), |r| r.path.ends_with("/answer"))
        .await;
    assert!(answered.is_some());
}

#[tokio::test]
async fn malformed_legacy_and_oversized_bodies() {
    let bot = bot().await;
    let token = bot.sim.issuer().issue(valid());
    let (status, text) = post(&bot, Some(&token), b"{\"value\": [".to_vec()).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("malformed"), "{text}");
    let legacy = json!({ "id": "legacy", "type": "Call", "callState": "Incoming" });
    let (status, _) = post(&bot, Some(&token), serde_json::to_vec(&legacy).unwrap()).await;
    assert_eq!(
        status, 204,
        "a non-Graph-format first notification is answered 204 so Graph resends it"
    );
    let huge = vec![b' '; 2 << 20];
    let (status, _) = post(&bot, Some(&token), huge).await;
    assert_eq!(status, 413);
    assert_eq!(bot.dispatcher.metrics().notifications, 0);
}
