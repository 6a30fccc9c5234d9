//! End to end under load: signed Graph notifications over keep-alive connections → JWT check →
//! dispatch → fresh plugin instance → call-control → the Graph request arriving at a fake
//! Graph. Each virtual caller runs the IVR through a whole call: incoming (→ answer),
//! established (→ subscribe + menu), prompt completed, roster update, key 2 (→ info prompt),
//! info completed (→ hang up), terminated. Latency is from a notification's POST to the
//! Graph request it causes.
//!
//! The ceiling is a bare axum handler that parses the same JSON and answers 202, driven by the
//! same generator on the same machine.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::Stats;
use super::cpu::{BARE_THREADS, CpuSnapshot, CpuSplit, ServiceRuntime};
use callhost_simulator::Notification;

/// Graph requests seen, per call, each call with its own waiters (a request wakes only the
/// caller waiting on that call).
#[derive(Default)]
pub struct FakeGraph {
    calls: Mutex<HashMap<String, CallLog>>,
}

#[derive(Default)]
struct CallLog {
    /// (path suffix, when).
    requests: Vec<(String, Instant)>,
    changed: Arc<Notify>,
}

impl FakeGraph {
    /// Starts a fake Graph that answers every request at once.
    pub async fn start() -> anyhow::Result<(Arc<Self>, SocketAddr)> {
        let graph = Arc::new(Self::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/{tenant}/oauth2/v2.0/token", axum::routing::post(|| async { axum::Json(json!({"token_type": "Bearer", "expires_in": 3599, "access_token": "bench-token"})) }))
            .fallback(answer)
            .with_state(graph.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok((graph, addr))
    }

    fn calls(&self) -> std::sync::MutexGuard<'_, HashMap<String, CallLog>> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until the call has seen `count` requests ending in `suffix`; returns when the
    /// last of them arrived.
    pub async fn wait(
        &self,
        call: &str,
        suffix: &str,
        count: usize,
        timeout: Duration,
    ) -> Option<Instant> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self
                .calls()
                .entry(call.to_string())
                .or_default()
                .changed
                .clone();
            let notified = changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let found = self.calls().get(call).and_then(|log| {
                log.requests
                    .iter()
                    .filter(|(p, _)| p.ends_with(suffix))
                    .nth(count - 1)
                    .map(|(_, t)| *t)
            });
            if found.is_some() {
                return found;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    pub fn forget(&self, call: &str) {
        self.calls().remove(call);
    }
}

async fn answer(State(graph): State<Arc<FakeGraph>>, uri: Uri, _body: Bytes) -> Response {
    let now = Instant::now();
    let path = uri.path();
    let call = path
        .strip_prefix("/v1.0/communications/calls/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("")
        .to_string();
    let suffix = path.rsplit('/').next().unwrap_or("").to_string();
    let count = {
        let mut calls = graph.calls();
        let log = calls.entry(call.clone()).or_default();
        log.requests.push((
            if suffix == call {
                "DELETE".into()
            } else {
                suffix.clone()
            },
            now,
        ));
        log.changed.notify_waiters();
        log.requests.iter().filter(|(p, _)| *p == suffix).count()
    };
    match suffix.as_str() {
        "playPrompt" => (StatusCode::OK, axum::Json(json!({"@odata.type": "#microsoft.graph.playPromptOperation", "id": format!("{call}-op-{count}"), "status": "running"}))).into_response(),
        "subscribeToTone" => (StatusCode::OK, axum::Json(json!({"@odata.type": "#microsoft.graph.subscribeToToneOperation", "id": format!("{call}-tones"), "status": "completed"}))).into_response(),
        s if s == call => StatusCode::NO_CONTENT.into_response(),
        _ => StatusCode::ACCEPTED.into_response(),
    }
}

/// The notifications of one IVR call, in order, each with the Graph request it should cause
/// (path suffix and how many such requests the call has seen by then).
pub fn call_script(call: &str, bot_app_id: &str) -> Vec<(Value, Option<(&'static str, usize)>)> {
    let url = format!("/communications/calls/{call}");
    let state = |s: &str| json!({"@odata.type": "#microsoft.graph.call", "state": s});
    let completed = |n: usize| {
        Notification::new(
            "deleted",
            format!("{url}/operations/{call}-op-{n}"),
            json!({"@odata.type": "#microsoft.graph.playPromptOperation", "id": format!("{call}-op-{n}"), "status": "completed",
                   "resultInfo": {"code": 200, "subcode": 0, "message": "Action completed successfully."}}),
        )
        .envelope()
    };
    vec![
        (
            Notification::new(
                "created",
                url.clone(),
                json!({"@odata.type": "#microsoft.graph.call", "state": "incoming", "direction": "incoming", "tenantId": callhost_simulator::SIM_TENANT,
                       "myParticipantId": format!("{call}-me"),
                       "source": {"identity": {"user": {"id": "caller", "displayName": "Caller"}}},
                       "targets": [{"identity": {"application": {"id": bot_app_id}}}], "requestedModalities": ["audio"]}),
            )
            .envelope(),
            Some(("answer", 1)),
        ),
        (Notification::new("updated", url.clone(), state("established")).envelope(), Some(("playPrompt", 1))),
        (completed(1), None),
        (
            Notification::new(
                "updated",
                format!("{url}/participants"),
                json!([{"@odata.type": "#microsoft.graph.participant", "id": format!("{call}-me"), "isMuted": false, "isInLobby": false,
                        "info": {"identity": {"application": {"id": bot_app_id}}}},
                       {"@odata.type": "#microsoft.graph.participant", "id": format!("{call}-caller"), "isMuted": false, "isInLobby": false,
                        "info": {"identity": {"user": {"id": "caller"}}}}]),
            )
            .envelope(),
            None,
        ),
        (
            Notification::new("updated", url.clone(), json!({"@odata.type": "#microsoft.graph.call", "state": "established", "toneInfo": {"sequenceId": 1, "tone": "tone2"}})).envelope(),
            Some(("playPrompt", 2)),
        ),
        (completed(2), Some(("DELETE", 1))),
        (
            Notification::new("deleted", url, json!({"@odata.type": "#microsoft.graph.call", "state": "terminated", "resultInfo": {"code": 200, "subcode": 7000, "message": "ended"}})).envelope(),
            None,
        ),
    ]
}

/// What a load run measured.
#[derive(Debug, Clone)]
pub struct LoadResult {
    pub notifications: usize,
    pub notifications_per_s: f64,
    /// CPU time of the service's threads and of everything else (generator, fake Graph).
    pub cpu: CpuSplit,
    pub latency: Stats,
    pub errors: usize,
}

/// Drives `target` with whole IVR calls. With `rate = None`, `concurrency` callers run back to
/// back (saturation); with a rate, new calls start at that many notifications per second.
pub async fn drive(
    targets: &[String],
    token: &str,
    graph: Option<Arc<FakeGraph>>,
    bot_app_id: &str,
    concurrency: usize,
    rate: Option<f64>,
    duration: Duration,
) -> LoadResult {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency * 2)
        .build()
        .expect("an HTTP client");
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let errors = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let cpu_before = CpuSnapshot::now();
    let stop_at = started + duration;
    let script_len = call_script("x", bot_app_id).len();
    // Call ids never repeat between runs: callhost drops an incoming call for an id that
    // ended within the hour as a repeat.
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let one_call = {
        let (http, latencies, sent, errors) = (
            http.clone(),
            latencies.clone(),
            sent.clone(),
            errors.clone(),
        );
        let (targets, token, bot_app_id) = (
            Arc::new(targets.to_vec()),
            token.to_string(),
            bot_app_id.to_string(),
        );
        move |call: String| {
            let (http, latencies, sent, errors, graph) = (
                http.clone(),
                latencies.clone(),
                sent.clone(),
                errors.clone(),
                graph.clone(),
            );
            let (targets, token, bot_app_id) = (targets.clone(), token.clone(), bot_app_id.clone());
            async move {
                for (body, expect) in call_script(&call, &bot_app_id) {
                    let posted = Instant::now();
                    // Each notification to the next instance, as a round-robin balancer does.
                    let n = sent.load(std::sync::atomic::Ordering::Relaxed);
                    let target = &targets[n % targets.len()];
                    let ok = http
                        .post(target)
                        .bearer_auth(&token)
                        .json(&body)
                        .send()
                        .await
                        .map(|r| r.status().is_success())
                        .unwrap_or(false);
                    sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if !ok {
                        errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        return;
                    }
                    if let (Some(graph), Some((suffix, count))) = (&graph, expect) {
                        match graph
                            .wait(&call, suffix, count, Duration::from_secs(10))
                            .await
                        {
                            Some(at) => latencies
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push(at.saturating_duration_since(posted)),
                            None => {
                                errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                return;
                            }
                        }
                    }
                }
                if let Some(graph) = &graph {
                    graph.forget(&call);
                }
            }
        }
    };
    let mut tasks = Vec::new();
    match rate {
        None => {
            for worker in 0..concurrency {
                let one_call = one_call.clone();
                tasks.push(tokio::spawn(async move {
                    let mut n = 0;
                    while Instant::now() < stop_at {
                        one_call(format!("load-{run}-{worker}-{n}")).await;
                        n += 1;
                    }
                }));
            }
        }
        Some(rate) => {
            let calls_per_s = rate / script_len as f64;
            let interval = Duration::from_secs_f64(1.0 / calls_per_s);
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut n = 0;
            while Instant::now() < stop_at {
                ticker.tick().await;
                tasks.push(tokio::spawn(one_call(format!("paced-{run}-{n}"))));
                n += 1;
            }
        }
    }
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = CpuSnapshot::now().since(&cpu_before);
    let mut samples = std::mem::take(&mut *latencies.lock().unwrap_or_else(|e| e.into_inner()));
    let notifications = sent.load(std::sync::atomic::Ordering::Relaxed);
    LoadResult {
        notifications,
        notifications_per_s: notifications as f64 / elapsed,
        cpu,
        latency: Stats::from_samples(&mut samples),
        errors: errors.load(std::sync::atomic::Ordering::Relaxed),
    }
}

impl LoadResult {
    /// CPU time per notification: (service threads, everything else), in microseconds.
    pub fn cpu_per_notification_us(&self) -> (f64, f64) {
        let per = |d: Duration| d.as_secs_f64() * 1e6 / self.notifications.max(1) as f64;
        (per(self.cpu.service), per(self.cpu.others))
    }
}

/// The ceiling: parse the JSON, answer 202; served from a runtime of its own like callhost is,
/// its threads named apart. Serves until the returned runtime is dropped.
pub async fn start_bare_handler() -> anyhow::Result<(ServiceRuntime, SocketAddr)> {
    let runtime = ServiceRuntime::named(BARE_THREADS)?;
    let addr = runtime
        .handle()
        .spawn(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let app = Router::new().route(
                "/api/calls",
                axum::routing::post(|body: Bytes| async move {
                    match serde_json::from_slice::<Value>(&body) {
                        Ok(_) => StatusCode::ACCEPTED,
                        Err(_) => StatusCode::BAD_REQUEST,
                    }
                }),
            );
            tokio::spawn(async move { axum::serve(listener, app).await });
            anyhow::Ok(addr)
        })
        .await??;
    Ok((runtime, addr))
}
