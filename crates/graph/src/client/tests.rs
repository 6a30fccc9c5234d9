//! The Graph client against a local fake Graph that answers from a script.

use std::collections::VecDeque;
use std::sync::Mutex;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::json;

use super::*;
use crate::token::tests::{FakeLogin, serve};
use callhost_call::CallError;

/// One scripted answer of the fake Graph.
#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Option<Value>,
    delay: Duration,
}

fn reply(status: u16) -> Reply {
    Reply {
        status,
        headers: Vec::new(),
        body: None,
        delay: Duration::ZERO,
    }
}

impl Reply {
    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }
    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
    fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A request as the fake Graph saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    authorization: Option<String>,
    content_type: Option<String>,
    client_request_id: Option<String>,
    body: Vec<u8>,
    at: Instant,
}

#[derive(Clone, Default)]
struct FakeGraph {
    script: Arc<Mutex<VecDeque<Reply>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeGraph {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn answer(State(graph): State<FakeGraph>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let text = |name: &str| {
        parts
            .headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let mut seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        authorization: text("authorization"),
        content_type: text("content-type"),
        client_request_id: text("client-request-id"),
        body: Vec::new(),
        at: Instant::now(),
    };
    seen.body = to_bytes(body, usize::MAX).await.unwrap().to_vec();
    graph.seen.lock().unwrap().push(seen);
    let next = graph.script.lock().unwrap().pop_front();
    let reply = next.unwrap_or_else(|| reply(200).body(json!({})));
    tokio::time::sleep(reply.delay).await;
    let mut response = Response::builder().status(reply.status);
    for (name, value) in reply.headers {
        response = response.header(name, value);
    }
    let body = reply.body.map(|b| b.to_string()).unwrap_or_default();
    response.body(Body::from(body)).unwrap()
}

/// Given Graph will answer with `script`, a client with fast backoffs (tuned by `tune`).
async fn given(
    script: Vec<Reply>,
    tune: impl FnOnce(&mut GraphClientSettings),
) -> (FakeLogin, FakeGraph, GraphClient) {
    let login = FakeLogin::new();
    let graph = FakeGraph::default();
    graph.script.lock().unwrap().extend(script);
    let fake_graph = Router::new().fallback(answer).with_state(graph.clone());
    let addr = serve(login.router().merge(fake_graph)).await;
    let mut settings = GraphClientSettings {
        base_url: format!("http://{addr}/v1.0"),
        request_timeout: Duration::from_secs(2),
        retry: RetryPolicy {
            max_attempts: 4,
            base_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            overall_deadline: Duration::from_secs(5),
        },
    };
    tune(&mut settings);
    let client = GraphClient::new(settings, FakeLogin::provider(addr), reqwest::Client::new());
    (login, graph, client)
}

fn answer_call() -> GraphRequest {
    GraphRequest::post(
        "/communications/calls/c1/answer",
        json!({"callbackUri": "https://bot/cb"}),
    )
}

#[tokio::test]
async fn request_carries_token_json_and_a_fresh_client_request_id() {
    let created = reply(201)
        .header("location", "https://graph/v1.0/communications/calls/c2")
        .header("request-id", "graph-req-1")
        .body(json!({"id": "c2"}));
    let (_, graph, client) = given(vec![created], |_| {}).await;
    let response = client
        .send(Some("tenant-a"), &answer_call(), false)
        .await
        .unwrap();
    client
        .send(
            Some("tenant-a"),
            &GraphRequest::get("/communications/calls/c2"),
            true,
        )
        .await
        .unwrap();

    assert_eq!(response.status, 201);
    assert_eq!(response.body, Some(json!({"id": "c2"})));
    assert_eq!(
        response.location.as_deref(),
        Some("https://graph/v1.0/communications/calls/c2")
    );
    assert_eq!(response.request_id.as_deref(), Some("graph-req-1"));
    let seen = graph.seen();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("POST", "/v1.0/communications/calls/c1/answer")
    );
    assert_eq!(seen[0].authorization.as_deref(), Some("Bearer token-1"));
    assert_eq!(seen[0].content_type.as_deref(), Some("application/json"));
    assert_eq!(
        serde_json::from_slice::<Value>(&seen[0].body).unwrap(),
        json!({"callbackUri": "https://bot/cb"})
    );
    assert_eq!(seen[1].content_type, None);
    let ids: Vec<Uuid> = seen
        .iter()
        .map(|s| s.client_request_id.as_deref().unwrap().parse().unwrap())
        .collect();
    assert_ne!(ids[0], ids[1]);
}

#[tokio::test]
async fn throttled_request_waits_for_retry_after() {
    let (_, graph, client) = given(
        vec![reply(429).header("retry-after", "1"), reply(202)],
        |_| {},
    )
    .await;
    let response = client.send(None, &answer_call(), false).await.unwrap();
    assert_eq!((response.status, response.body), (202, None));
    let seen = graph.seen();
    assert_eq!(seen.len(), 2);
    assert!(
        seen[1].at - seen[0].at >= Duration::from_millis(950),
        "{:?}",
        seen[1].at - seen[0].at
    );
}

#[tokio::test]
async fn unavailable_graph_is_retried_even_for_non_idempotent_requests() {
    let (_, graph, client) = given(vec![reply(503), reply(202)], |_| {}).await;
    let response = client.send(None, &answer_call(), false).await.unwrap();
    assert_eq!(response.status, 202);
    assert_eq!(graph.seen().len(), 2);
}

#[tokio::test]
async fn throttling_until_attempts_run_out_gives_throttled() {
    let throttled = reply(429).header("retry-after", "0");
    let script = vec![
        throttled.clone(),
        throttled.clone(),
        throttled.clone(),
        throttled,
    ];
    let (_, graph, client) = given(script, |s| s.retry.max_attempts = 3).await;
    let err = client.send(None, &answer_call(), false).await.unwrap_err();
    assert!(
        matches!(err, GraphError::Throttled { attempts: 3, .. }),
        "{err:?}"
    );
    assert_eq!(graph.seen().len(), 3);
    assert_eq!(CallError::from(err), CallError::Throttled);
}

#[tokio::test]
async fn retry_after_beyond_the_deadline_gives_up_at_once() {
    let (_, graph, client) = given(vec![reply(429).header("retry-after", "60")], |_| {}).await;
    let started = Instant::now();
    let err = client.send(None, &answer_call(), true).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    let GraphError::Throttled {
        retry_after,
        attempts: 1,
        ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(retry_after, Some(Duration::from_secs(60)));
    assert_eq!(graph.seen().len(), 1);
}

#[tokio::test]
async fn non_idempotent_request_that_times_out_is_not_retried() {
    let slow = reply(202).after(Duration::from_secs(2));
    let (_, graph, client) = given(vec![slow], |s| {
        s.request_timeout = Duration::from_millis(200)
    })
    .await;
    let err = client.send(None, &answer_call(), false).await.unwrap_err();
    assert!(matches!(err, GraphError::Timeout { .. }), "{err:?}");
    assert_eq!(graph.seen().len(), 1);
    assert_eq!(CallError::from(err), CallError::Timeout);
}

#[tokio::test]
async fn idempotent_request_that_times_out_is_retried() {
    let slow = reply(200).after(Duration::from_secs(2));
    let (_, graph, client) = given(vec![slow, reply(200).body(json!({"id": "c1"}))], |s| {
        s.request_timeout = Duration::from_millis(200)
    })
    .await;
    let get = GraphRequest::get("/communications/calls/c1");
    let response = client.send(None, &get, true).await.unwrap();
    assert_eq!(response.body, Some(json!({"id": "c1"})));
    assert_eq!(graph.seen().len(), 2);
}

#[tokio::test]
async fn gateway_timeout_on_a_non_idempotent_request_is_not_retried() {
    let (_, graph, client) = given(vec![reply(504), reply(202)], |_| {}).await;
    let err = client.send(None, &answer_call(), false).await.unwrap_err();
    assert!(matches!(err, GraphError::Timeout { .. }), "{err:?}");
    assert_eq!(graph.seen().len(), 1);
}

#[tokio::test]
async fn unauthorized_refreshes_the_token_once() {
    let (login, graph, client) = given(vec![reply(401), reply(202)], |_| {}).await;
    client
        .send(Some("tenant-a"), &answer_call(), false)
        .await
        .unwrap();
    assert_eq!(login.request_count(), 2);
    let auth: Vec<_> = graph
        .seen()
        .into_iter()
        .map(|s| s.authorization.unwrap())
        .collect();
    assert_eq!(auth, ["Bearer token-1", "Bearer token-2"]);

    let (login, graph, client) = given(vec![reply(401), reply(401), reply(202)], |_| {}).await;
    let err = client
        .send(Some("tenant-a"), &answer_call(), false)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert_eq!((login.request_count(), graph.seen().len()), (2, 2));
}

#[tokio::test]
async fn odata_error_gives_the_innermost_code() {
    let body = json!({"error": {"code": "itemNotFound", "message": "Call not found",
        "innerError": {"code": "8522", "request-id": "r-9", "client-request-id": "x"}}});
    let (_, _, client) = given(vec![reply(404).body(body)], |_| {}).await;
    let err = client.send(None, &answer_call(), false).await.unwrap_err();
    let GraphError::Status {
        status,
        code,
        message,
        request_id,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        (*status, code.as_str(), message.as_str()),
        (404, "8522", "Call not found")
    );
    assert_eq!(request_id.as_deref(), Some("r-9"));
    assert_eq!(CallError::from(err), CallError::NotFound);
}

#[tokio::test]
async fn error_statuses_map_to_call_errors() {
    let odata = |code: &str, message: &str| json!({"error": {"code": code, "message": message}});
    let cases = [
        (
            403,
            odata("Forbidden", "Application does not have permission"),
            CallError::Forbidden,
        ),
        (
            400,
            odata("BadRequest", "Invalid callback URI"),
            CallError::InvalidArgument("Invalid callback URI".into()),
        ),
        (
            500,
            odata("UnknownError", "Internal error"),
            CallError::Upstream {
                status: 500,
                code: "UnknownError".into(),
                message: "Internal error".into(),
            },
        ),
    ];
    for (status, body, expected) in cases {
        let (_, _, client) = given(vec![reply(status).body(body)], |_| {}).await;
        let err = client.send(None, &answer_call(), false).await.unwrap_err();
        assert_eq!(CallError::from(err), expected);
    }
}

#[tokio::test]
async fn unreachable_graph_is_retried_and_names_the_url() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let login = FakeLogin::new();
    let addr = serve(login.router()).await;
    let mut settings = GraphClientSettings {
        base_url: format!("http://{closed}/v1.0"),
        ..Default::default()
    };
    settings.retry.base_backoff = Duration::from_millis(5);
    let client = GraphClient::new(settings, FakeLogin::provider(addr), reqwest::Client::new());
    let err = client.send(None, &answer_call(), false).await.unwrap_err();
    assert!(matches!(err, GraphError::Transport { .. }), "{err:?}");
    let CallError::Other(text) = CallError::from(err) else {
        panic!("not Other")
    };
    assert!(
        text.contains(&format!(
            "http://{closed}/v1.0/communications/calls/c1/answer"
        )),
        "{text}"
    );
}

#[tokio::test]
async fn token_failure_sends_nothing_to_graph() {
    let (login, graph, client) = given(vec![], |_| {}).await;
    *login.refuse.lock().unwrap() = Some((
        axum::http::StatusCode::BAD_REQUEST,
        json!({"error": "invalid_request", "error_description": "AADSTS90002: Tenant not found."}),
    ));
    let err = client
        .send(Some("tenant-a"), &answer_call(), false)
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::Token(_)), "{err:?}");
    assert!(graph.seen().is_empty());
}
