//! The services a scenario fakes for the plugin's HTTP requests: a CRM, a webhook. Each
//! stands in for an origin (`https://crm.example.com`) on a loopback port, answering the
//! canned responses the scenario lists (after their delay), `404` to anything else, or
//! refusing every connection when the scenario says it is down. The plugin's
//! `allowed_outbound_hosts` is still checked against the origin.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One origin a scenario fakes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeOrigin {
    /// `scheme://host[:port]`, as the plugin names it.
    pub origin: String,
    /// Every connection is refused.
    pub down: bool,
    pub responses: Vec<CannedResponse>,
}

/// What the fake answers to one method and path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CannedResponse {
    /// `None`: any method.
    pub method: Option<String>,
    /// The path, with its query if the request has one (`/callers/%2B14255550123`).
    pub path: String,
    pub status: u16,
    pub body: String,
    pub content_type: String,
    /// Waited before the response starts.
    pub delay: Duration,
}

/// The fakes of one scenario, running; dropping them stops them.
pub struct FakeServices {
    /// Where each origin's requests go, for the runtime.
    pub stand_ins: BTreeMap<String, SocketAddr>,
    servers: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for FakeServices {
    fn drop(&mut self) {
        for server in &self.servers {
            server.abort();
        }
    }
}

impl FakeServices {
    pub async fn start(origins: &[FakeOrigin]) -> anyhow::Result<Self> {
        let mut stand_ins = BTreeMap::new();
        let mut servers = Vec::new();
        for origin in origins {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let address = listener.local_addr()?;
            stand_ins.insert(origin.origin.clone(), address);
            if origin.down {
                // Nobody listens on the port: connections are refused.
                drop(listener);
                continue;
            }
            let responses = Arc::new(origin.responses.clone());
            let app = axum::Router::new().fallback(move |request: Request<Body>| {
                let responses = responses.clone();
                async move { answer(&responses, request).await }
            });
            servers.push(tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            }));
        }
        Ok(Self { stand_ins, servers })
    }
}

async fn answer(responses: &[CannedResponse], request: Request<Body>) -> Response {
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let method = request.method().as_str().to_owned();
    let canned = responses.iter().find(|r| {
        r.path == path
            && r.method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(&method))
    });
    let Some(canned) = canned else {
        return (StatusCode::NOT_FOUND, "no canned response").into_response();
    };
    tokio::time::sleep(canned.delay).await;
    let status = StatusCode::from_u16(canned.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, canned.content_type.clone())],
        canned.body.clone(),
    )
        .into_response()
}
