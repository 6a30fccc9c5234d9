//! Outbound HTTP from plugins: what the allow-list lets through, what it and the address check
//! refuse (directly, through a name, through a redirect), and the caps that cut a huge, a slow
//! or a dripping response, or a flood of requests, each with the typed error the plugin sees,
//! within its deadline. The `fetcher` test plugin sends what its config lists against a
//! loopback service.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::support::*;
use callhost::call::CallState;
use callhost::runtime::{
    AllowedHosts, EventInput, Invocation, MemoryStateStore, Outcome, PluginLimits, PluginSpec,
    Runtime, RuntimeSettings, StateScope, StateStore,
};

/// A loopback HTTP service, counting the requests it gets.
struct Service {
    port: u16,
    hits: Arc<AtomicUsize>,
}

impl Service {
    async fn start() -> Service {
        let hits = Arc::new(AtomicUsize::new(0));
        let app = Router::new()
            .route("/ok", get(|| async { "hello" }))
            .route(
                "/echo",
                axum::routing::post(
                    |body: axum::body::Bytes| async move { body.len().to_string() },
                ),
            )
            .route("/slow", get(slow))
            .route("/drip", get(drip))
            .route("/big", get(big))
            .route("/big-declared", get(big_declared))
            .route("/redirect/{port}", get(redirect))
            .layer(axum::middleware::from_fn_with_state(hits.clone(), count))
            .with_state(());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Service { port, hits }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

async fn count(
    State(hits): State<Arc<AtomicUsize>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    hits.fetch_add(1, Ordering::SeqCst);
    next.run(request).await
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_millis(1200)).await;
    "late"
}

/// A byte every 800 ms, for ever.
async fn drip() -> Response {
    let stream = futures::stream::unfold((), |()| async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        Some((
            Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b".")),
            (),
        ))
    });
    Body::from_stream(stream).into_response()
}

/// 16 MiB in chunks, without a length.
async fn big() -> Response {
    let chunk = axum::body::Bytes::from(vec![b'x'; 64 << 10]);
    let stream =
        futures::stream::iter((0..256).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    Body::from_stream(stream).into_response()
}

/// A response that announces 16 MiB.
async fn big_declared() -> Response {
    (
        [(header::CONTENT_LENGTH, (16u64 << 20).to_string())],
        vec![b'x'; 16 << 20],
    )
        .into_response()
}

/// To another port, by a name that resolves to loopback.
async fn redirect(axum::extract::Path(port): axum::extract::Path<u16>) -> Response {
    (
        StatusCode::FOUND,
        [(header::LOCATION, format!("http://localhost:{port}/ok"))],
    )
        .into_response()
}

fn runtime() -> Runtime {
    Runtime::new(RuntimeSettings::default()).unwrap()
}

/// What the fetcher made of each request, and how the event went.
struct Fetched {
    results: Vec<Value>,
    invocation: Invocation,
    control: Arc<RecordingControl>,
    took: Duration,
}

async fn fetch(allowed: &[&str], limits: PluginLimits, requests: Value) -> Fetched {
    fetch_with(runtime(), allowed, limits, requests).await
}

async fn fetch_with(
    runtime: Runtime,
    allowed: &[&str],
    limits: PluginLimits,
    requests: Value,
) -> Fetched {
    let mut spec = PluginSpec::new("fetcher");
    spec.limits = limits;
    spec.allowed_outbound_hosts = AllowedHosts::parse(allowed).unwrap();
    spec.config.insert("requests".into(), requests.to_string());
    let plugin = runtime.load_file(spec, &plugin_path("fetcher")).unwrap();
    let control = RecordingControl::with_calls(&["c1"]);
    let state = Arc::new(MemoryStateStore::new());
    let started = Instant::now();
    let invocation = runtime
        .invoke(
            &plugin,
            EventInput {
                call: context("c1", CallState::Incoming),
                event: incoming_call("c1"),
                control: control.clone(),
                state: state.clone(),
                timers: Default::default(),
            },
        )
        .await;
    let took = started.elapsed();
    let scope = StateScope::Call {
        plugin: "fetcher".into(),
        call_id: "c1".into(),
    };
    let results = match state.get(&scope, "fetched") {
        Some(bytes) => serde_json::from_slice(&bytes).unwrap(),
        None => Vec::new(),
    };
    Fetched {
        results,
        invocation,
        control,
        took,
    }
}

fn one(url: &str) -> Value {
    json!([{ "url": url }])
}

fn error_of(fetched: &Fetched, i: usize) -> &str {
    assert_eq!(
        fetched.invocation.outcome,
        Outcome::Completed,
        "{:?}",
        fetched.results
    );
    fetched.results[i]["error"]
        .as_str()
        .unwrap_or_else(|| panic!("request {i} did not fail: {}", fetched.results[i]))
}

#[tokio::test]
async fn an_allowed_host_answers_and_the_exchange_reaches_the_calls_history() {
    let service = Service::start().await;
    let allowed = format!("http://127.0.0.1:{}", service.port);
    let url = service.url("/ok?token=secret");
    let fetched = fetch(&[&allowed], PluginLimits::default(), one(&url)).await;
    assert_eq!(fetched.invocation.outcome, Outcome::Completed);
    assert_eq!(fetched.results[0]["status"], 200, "{:?}", fetched.results);
    assert_eq!(fetched.results[0]["bytes"], 5);
    let history = fetched.control.fetched.lock().unwrap().clone();
    assert_eq!(history.len(), 1, "{history:?}");
    let exchange = &history[0];
    assert_eq!(exchange.method, "GET");
    assert_eq!(exchange.url, service.url("/ok"), "the query is not kept");
    assert_eq!(exchange.status, Some(200));
    assert_eq!(exchange.response_bytes, 5);
    assert_eq!(exchange.error, None);
}

#[tokio::test]
async fn a_host_off_the_list_is_refused_and_reached_by_nothing() {
    let service = Service::start().await;
    let other = Service::start().await;
    let allowed = format!("http://127.0.0.1:{}", service.port);
    let fetched = fetch(&[&allowed], PluginLimits::default(), one(&other.url("/ok"))).await;
    assert_eq!(error_of(&fetched, 0), "http-request-denied");
    // Nothing allowed at all: the default.
    let fetched = fetch(&[], PluginLimits::default(), one(&service.url("/ok"))).await;
    assert_eq!(error_of(&fetched, 0), "http-request-denied");
    assert_eq!(other.hits() + service.hits(), 0);
    let history = fetched.control.fetched.lock().unwrap().clone();
    let error = history[0].error.clone().unwrap();
    assert!(
        error.contains("allowed_outbound_hosts is empty"),
        "the history says why and what to change: {error}"
    );
}

#[tokio::test]
async fn loopback_private_and_metadata_addresses_are_refused_unless_named() {
    let service = Service::start().await;
    let port = service.port;
    // Any host on any port: still no address that is not public.
    let requests = json!([
        { "url": format!("http://127.0.0.1:{port}/ok") },
        { "url": format!("http://localhost:{port}/ok") },
        { "url": format!("http://[::1]:{port}/ok") },
        { "url": "http://169.254.169.254/latest/meta-data/" },
        { "url": "http://10.11.12.13/" },
        { "url": format!("http://[::ffff:127.0.0.1]:{port}/ok") },
    ]);
    let fetched = fetch(&["http://*:*"], PluginLimits::default(), requests.clone()).await;
    for i in 0..6 {
        assert_eq!(
            error_of(&fetched, i),
            "destination-ip-prohibited",
            "request {i}: {}",
            fetched.results[i]
        );
    }
    assert_eq!(service.hits(), 0);
    assert!(
        fetched.took < Duration::from_secs(2),
        "refused without connecting: {:?}",
        fetched.took
    );
    let history = fetched.control.fetched.lock().unwrap().clone();
    let through_dns = history[1].error.clone().unwrap();
    assert!(
        through_dns.contains("`localhost` resolves to") && through_dns.contains("loopback"),
        "{through_dns}"
    );
    // An entry naming the address lets it through.
    let named = format!("http://127.0.0.1:{port}");
    let fetched = fetch(&[&named], PluginLimits::default(), one(&service.url("/ok"))).await;
    assert_eq!(fetched.results[0]["status"], 200, "{:?}", fetched.results);
}

#[tokio::test]
async fn a_redirect_is_not_followed_by_the_host_and_following_it_is_checked() {
    let service = Service::start().await;
    let target = Service::start().await;
    // The redirect's target is allowed by name, and its address is not named.
    let allowed = [
        format!("http://127.0.0.1:{}", service.port),
        format!("http://localhost:{}", target.port),
    ];
    let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
    let redirect = service.url(&format!("/redirect/{}", target.port));
    let requests = json!([{ "url": redirect, "follow": true }]);
    let fetched = fetch(&allowed, PluginLimits::default(), requests).await;
    let result = &fetched.results[0];
    assert_eq!(result["status"], 302, "{result}");
    assert_eq!(
        result["followed"]["error"], "destination-ip-prohibited",
        "a name that resolves to loopback is refused: {result}"
    );
    assert_eq!(service.hits(), 1, "only the redirect itself was reached");
    assert_eq!(target.hits(), 0);
}

#[tokio::test]
async fn huge_responses_and_request_bodies_are_cut_at_their_caps() {
    let service = Service::start().await;
    let allowed = format!("http://127.0.0.1:{}", service.port);
    let limits = PluginLimits {
        http_response_bytes: 1 << 20,
        http_request_bytes: 64 << 10,
        ..PluginLimits::default()
    };
    let requests = json!([
        { "url": service.url("/big") },
        { "url": service.url("/big-declared") },
        { "url": service.url("/echo"), "method": "POST", "body-bytes": 1 << 20 },
        { "url": service.url("/echo"), "method": "POST", "body-bytes": 1000 },
    ]);
    let fetched = fetch(&[&allowed], limits, requests).await;
    assert_eq!(fetched.invocation.outcome, Outcome::Completed);
    let streamed = &fetched.results[0];
    assert_eq!(streamed["status"], 200);
    // wasi-http 0.2 gives a body cut mid-way to the plugin as a stream error with its reason.
    assert!(
        streamed["error"]
            .as_str()
            .is_some_and(|e| e.contains("body size exceeds limit: 1048576")),
        "{streamed}"
    );
    assert!(
        streamed["bytes"].as_u64().unwrap() <= 1 << 20,
        "at most the cap reaches the plugin: {streamed}"
    );
    assert_eq!(error_of(&fetched, 1), "http-response-body-size");
    assert_eq!(error_of(&fetched, 2), "http-request-body-size");
    assert_eq!(
        fetched.results[3]["status"], 200,
        "under the cap: {}",
        fetched.results[3]
    );
    let history = fetched.control.fetched.lock().unwrap().clone();
    assert!(
        history[2].request_bytes <= (64 << 10) + 4096,
        "{:?}",
        history[2]
    );
    assert_eq!(history[3].request_bytes, 1000);
}

#[tokio::test]
async fn a_slow_drip_and_a_slow_answer_are_cut_by_their_timeouts() {
    let service = Service::start().await;
    let allowed = format!("http://127.0.0.1:{}", service.port);
    let limits = PluginLimits {
        http_between_bytes_timeout: Duration::from_millis(300),
        http_first_byte_timeout: Duration::from_millis(400),
        ..PluginLimits::default()
    };
    let requests = json!([
        { "url": service.url("/drip") },
        { "url": service.url("/slow") },
        // A plugin may ask for less than its limits, never for more.
        { "url": service.url("/slow"), "first-byte-timeout-ms": 100000 },
    ]);
    let fetched = fetch(&[&allowed], limits, requests).await;
    assert_eq!(fetched.invocation.outcome, Outcome::Completed);
    assert_eq!(fetched.results[0]["status"], 200);
    assert_eq!(
        fetched.results[0]["error"], "connection read timeout",
        "the stream's error says why: {}",
        fetched.results[0]
    );
    assert_eq!(error_of(&fetched, 1), "connection-read-timeout");
    assert_eq!(error_of(&fetched, 2), "connection-read-timeout");
    // 0.3 + 0.4 + 0.4 s of timeouts, with room for a loaded machine.
    assert!(
        fetched.took < Duration::from_secs(5),
        "each cut at its timeout: {:?}",
        fetched.took
    );
}

#[tokio::test]
async fn waiting_on_http_is_wall_time_not_compute_time() {
    let service = Service::start().await;
    let allowed = format!("http://127.0.0.1:{}", service.port);
    // Three answers of 1.2 s each, with 300 ms of compute time: the event completes.
    let limits = PluginLimits {
        deadline: Duration::from_millis(300),
        ..PluginLimits::default()
    };
    let slow = json!({ "url": service.url("/slow") });
    let fetched = fetch(&[&allowed], limits, json!([slow, slow, slow])).await;
    assert_eq!(fetched.invocation.outcome, Outcome::Completed);
    assert!(fetched.results.iter().all(|r| r["status"] == 200));
    // The wall-clock bound still holds: a request cannot outlast it.
    let limits = PluginLimits {
        wall_timeout: Duration::from_millis(2000),
        ..PluginLimits::default()
    };
    let fetched = fetch(&[&allowed], limits, json!([slow, slow, slow])).await;
    assert_eq!(fetched.invocation.outcome, Outcome::Completed);
    assert_eq!(fetched.results[0]["status"], 200);
    assert_eq!(error_of(&fetched, 1), "connection-read-timeout");
    // Refused at once when no time is left, or cut by what little is.
    let third = error_of(&fetched, 2);
    assert!(
        ["connection-timeout", "connection-read-timeout"].contains(&third),
        "{third}"
    );
    assert!(fetched.took < Duration::from_secs(2), "{:?}", fetched.took);
}

#[tokio::test]
async fn thousands_of_requests_in_one_event_stop_at_the_limit() {
    let service = Service::start().await;
    let allowed = format!("http://127.0.0.1:{}", service.port);
    let limits = PluginLimits {
        http_requests: 10,
        ..PluginLimits::default()
    };
    let requests = json!([{ "url": service.url("/ok"), "repeat": 5000 }]);
    let fetched = fetch(&[&allowed], limits, requests).await;
    assert_eq!(fetched.invocation.outcome, Outcome::Completed);
    assert_eq!(
        fetched.results[0]["outcomes"],
        json!({ "200": 10, "connection-limit-reached": 4990 })
    );
    assert_eq!(service.hits(), 10);
    let history = fetched.control.fetched.lock().unwrap().clone();
    assert_eq!(
        history.len(),
        11,
        "ten exchanges and the first refusal, not thousands of rows"
    );
}

/// An HTTPS service with a certificate of the tests' own CA, on 127.0.0.1.
async fn https_service(certs: &crate::support::tls::TestCertificates) -> u16 {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&certs.cert, &certs.key)
        .await
        .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new().route("/ok", get(|| async { "secure" }));
    tokio::spawn(async move {
        axum_server::from_tcp_rustls(listener, config)
            .serve(app.into_make_service())
            .await
    });
    port
}

#[tokio::test]
async fn https_verifies_the_server_against_the_trusted_roots() {
    let dir = tempfile::tempdir().unwrap();
    let certs = crate::support::tls::make(dir.path());
    let port = https_service(&certs).await;
    let allowed = format!("https://127.0.0.1:{port}");
    let url = format!("https://127.0.0.1:{port}/ok");
    // The Mozilla roots do not vouch for the tests' CA.
    let fetched = fetch(&[&allowed], PluginLimits::default(), one(&url)).await;
    assert_eq!(error_of(&fetched, 0), "tls-certificate-error");
    // With the CA trusted, as `runtime.outbound_ca_file` makes it.
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let ca = CertificateDer::from_pem_file(&certs.ca).unwrap();
    let runtime = Runtime::new(RuntimeSettings {
        outbound_roots: vec![ca],
        ..RuntimeSettings::default()
    })
    .unwrap();
    let fetched = fetch_with(runtime, &[&allowed], PluginLimits::default(), one(&url)).await;
    assert_eq!(fetched.results[0]["status"], 200, "{:?}", fetched.results);
    assert_eq!(fetched.results[0]["bytes"], 6);
}

#[test]
fn bad_entries_are_refused_with_the_fix() {
    let error = AllowedHosts::parse(&["crm.example.com"]).unwrap_err();
    assert!(error.contains("scheme is required"), "{error}");
}
