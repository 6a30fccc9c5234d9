//! What each part of the event path costs on its own.

use std::time::{Duration, Instant};

use serde_json::json;

use super::e2e::{FakeGraph, call_script, start_bare_handler};
use super::{Report, Stats};
use callhost::call::{ActionOrigin, AnswerOptions, CallAction, CallControl, Modality};
use callhost::graph::actions::GraphActions;
use callhost::graph::callback_auth::{CallbackAuthSettings, CallbackAuthenticator};
use callhost::graph::client::{GraphClient, GraphClientSettings, shared_http_client};
use callhost::graph::request::{RequestContext, build};
use callhost::graph::token::{ClientSecret, TokenProvider, TokenSettings};
use callhost_simulator::IssueClaims;
use callhost_simulator::{SIM_TENANT, Simulator, SimulatorSettings};

const SECTION: &str = "Per part";
const BOT: &str = "bench-bot";

fn row(report: &mut Report, name: &str, stats: Stats, note: Option<String>) {
    report.add(
        SECTION,
        name,
        vec![
            ("p50 µs", json!(stats.p50_us)),
            ("p99 µs", json!(stats.p99_us)),
        ],
        note,
    );
}

async fn time_async<F, Fut>(iterations: usize, mut f: F) -> Stats
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut samples: Vec<Duration> = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let started = Instant::now();
        f(i).await;
        samples.push(started.elapsed());
    }
    Stats::from_samples(&mut samples)
}

/// `plugin`: a built workflow whose instance creation is measured on its own.
pub async fn measure(
    report: &mut Report,
    iterations: usize,
    plugin: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let sim = Simulator::start(SimulatorSettings {
        bot_app_id: BOT.into(),
        ..SimulatorSettings::default()
    })
    .await?;
    let http = shared_http_client()?;
    inbound_http(report, iterations).await?;
    let settings = |cache: usize| CallbackAuthSettings {
        openid_configuration_url: sim.openid_url(),
        verified_cache_capacity: cache,
        ..CallbackAuthSettings::new(BOT)
    };
    let token = sim
        .issuer()
        .issue(IssueClaims::graph_callback(BOT, SIM_TENANT));
    let header = format!("Bearer {token}");
    let cold = CallbackAuthenticator::new(settings(0), http.clone());
    cold.verify(Some(&header)).await?;
    let stats = time_async(iterations, |_| async {
        cold.verify(Some(&header))
            .await
            .map(|_| ())
            .expect("a valid token")
    })
    .await;
    row(
        report,
        "JWT verification, RS256 (no verified-token cache)",
        stats,
        None,
    );
    let cached = CallbackAuthenticator::new(settings(1024), http.clone());
    cached.verify(Some(&header)).await?;
    let stats = time_async(iterations, |_| async {
        cached
            .verify(Some(&header))
            .await
            .map(|_| ())
            .expect("a valid token")
    })
    .await;
    row(
        report,
        "JWT verification, cached by token hash",
        stats,
        None,
    );

    for (name, index) in [("incoming call", 0), ("tone", 4), ("roster update", 3)] {
        let body =
            serde_json::to_vec(&call_script("57dab8b1-894c-409a-b240-bd8beae78896", BOT)[index].0)?;
        let mut samples = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let started = Instant::now();
            let parsed = callhost::graph::notification::parse(&body);
            samples.push(started.elapsed());
            assert!(parsed.is_ok());
        }
        row(
            report,
            &format!("notification parse: {name}"),
            Stats::from_samples(&mut samples),
            Some(format!("{} bytes", body.len())),
        );
    }

    dispatch_hop(report, iterations).await?;
    if let Some(path) = plugin {
        instance_lifecycle(report, iterations, path).await?;
    }

    let context = RequestContext {
        callback_uri: "https://bot.example.com/api/calls".into(),
        bot_app_id: BOT.into(),
        bot_display_name: None,
        default_tenant_id: Some(SIM_TENANT.into()),
    };
    let answer = CallAction::Answer {
        call_id: "57dab8b1-894c-409a-b240-bd8beae78896".into(),
        options: AnswerOptions {
            modalities: vec![Modality::Audio],
            prefetch: vec![],
        },
    };
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        let request = build(&answer, &context);
        samples.push(started.elapsed());
        assert!(request.is_ok());
    }
    row(
        report,
        "Graph request build: answer",
        Stats::from_samples(&mut samples),
        None,
    );

    let (_graph, addr) = FakeGraph::start().await?;
    let tokens = TokenProvider::new(
        TokenSettings {
            token_url: format!("http://{addr}/{{tenant}}/oauth2/v2.0/token"),
            ..TokenSettings::new(BOT, ClientSecret::new("secret"))
        },
        http.clone(),
    );
    let client = GraphClient::new(
        GraphClientSettings {
            base_url: format!("http://{addr}/v1.0"),
            ..GraphClientSettings::default()
        },
        tokens,
        http,
    );
    let actions = GraphActions::new(client, context);
    let origin = ActionOrigin {
        plugin_id: "bench".into(),
        call_id: String::new(),
        tenant_id: Some(SIM_TENANT.into()),
    };
    actions.execute(&origin, answer.clone()).await?;
    let stats = time_async(iterations, |i| {
        let action = CallAction::Answer {
            call_id: format!("call-{i}"),
            options: AnswerOptions {
                modalities: vec![Modality::Audio],
                prefetch: vec![],
            },
        };
        let (actions, origin) = (&actions, &origin);
        async move {
            actions
                .execute(origin, action)
                .await
                .expect("the fake Graph answers");
        }
    })
    .await;
    row(
        report,
        "Graph request build + send to loopback (answer, token cached)",
        stats,
        None,
    );
    Ok(())
}

/// One notification POSTed over a keep-alive loopback connection to the bare handler: the
/// HTTP cost every notification pays before callhost does anything.
async fn inbound_http(report: &mut Report, iterations: usize) -> anyhow::Result<()> {
    let (_bare, addr) = start_bare_handler().await?;
    let url = format!("http://{addr}/api/calls");
    let body = serde_json::to_vec(&call_script("57dab8b1-894c-409a-b240-bd8beae78896", BOT)[0].0)?;
    let client = reqwest::Client::new();
    let post = || client.post(&url).body(body.clone()).send();
    post().await?;
    let stats = time_async(iterations, |_| async {
        let response = post().await.expect("the bare handler answers");
        assert_eq!(response.status(), reqwest::StatusCode::ACCEPTED);
    })
    .await;
    row(
        report,
        "notification POST round trip to a bare handler (loopback, keep-alive)",
        stats,
        Some(format!("{} bytes", body.len())),
    );
    Ok(())
}

/// From the callback handler to the call's worker: the per-call queue hop and turning the
/// notification into events.
async fn dispatch_hop(report: &mut Report, iterations: usize) -> anyhow::Result<()> {
    use callhost::dispatch::CallTracker;
    use callhost::graph::notification::CommsNotification;
    let body = serde_json::to_vec(&call_script("57dab8b1-894c-409a-b240-bd8beae78896", BOT)[4].0)?;
    let notification = callhost::graph::notification::parse(&body)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .remove(0);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(
        CommsNotification,
        tokio::sync::oneshot::Sender<usize>,
    )>();
    tokio::spawn(async move {
        while let Some((notification, done)) = rx.recv().await {
            // A fresh tracker each time: a known tone sequence is a duplicate and yields nothing.
            let mut tracker = CallTracker::new(callhost::call::CallState::Established);
            let started = callhost::dispatch::StartedOperations::default();
            let _ = done.send(tracker.apply(&notification, &started).events.len());
        }
    });
    let stats = time_async(iterations, |_| {
        let (done, events) = tokio::sync::oneshot::channel();
        tx.send((notification.clone(), done))
            .expect("the worker runs");
        async move {
            assert_eq!(events.await, Ok(1));
        }
    })
    .await;
    row(
        report,
        "dispatch: queue hop to the call's worker + notification → events (tone)",
        stats,
        None,
    );
    Ok(())
}

/// A store with the event's sandbox, the component instantiated, then torn down: what a
/// fresh instance per event costs before the plugin does anything.
async fn instance_lifecycle(
    report: &mut Report,
    iterations: usize,
    path: &std::path::Path,
) -> anyhow::Result<()> {
    let runtime = callhost::runtime::Runtime::new(callhost::runtime::RuntimeSettings::default())?;
    let plugin = super::events::load_example(&runtime, "ivr-menu", path)?;
    runtime.probe(&plugin).await.map_err(anyhow::Error::msg)?;
    let stats = time_async(iterations, |_| async {
        runtime.probe(&plugin).await.expect("instantiates");
    })
    .await;
    row(
        report,
        "instance creation + teardown (ivr-menu, no call into it)",
        stats,
        None,
    );
    Ok(())
}
