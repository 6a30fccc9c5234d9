//! The Graph HTTP client: sends a [`GraphRequest`] with an app token, retries what is safe to
//! retry within a budget, and turns Graph's answers into [`GraphResponse`] or [`GraphError`].

mod error;
mod outcome;
mod retry;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use serde_json::Value;
use tracing::{debug, info, warn};
use uuid::Uuid;

pub use error::GraphError;
use error::ODataError;
use outcome::{
    Attempt, body_excerpt, exhausted, header, parse_success, timeout, transport_failure,
};
pub use retry::RetryPolicy;

use crate::request::{GraphRequest, Method};
use crate::token::{AccessToken, TokenProvider};

/// Graph v1.0 in the public cloud.
pub const DEFAULT_BASE_URL: &str = "https://graph.microsoft.com/v1.0";
/// Limit of one attempt; the retry deadline bounds the whole call.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const CLIENT_REQUEST_ID: &str = "client-request-id";
const REQUEST_ID: &str = "request-id";

/// Where Graph is and how patiently to talk to it.
#[derive(Debug, Clone)]
pub struct GraphClientSettings {
    /// Default [`DEFAULT_BASE_URL`]; request paths are appended to it.
    pub base_url: String,
    /// Default [`DEFAULT_REQUEST_TIMEOUT`].
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for GraphClientSettings {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            retry: RetryPolicy::default(),
        }
    }
}

/// A successful Graph answer.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphResponse {
    pub status: u16,
    /// `None` for an empty body (202 and 204 answers).
    pub body: Option<Value>,
    /// The `Location` header, for example of a created call or a long-running operation.
    pub location: Option<String>,
    /// Graph's `request-id`, for support.
    pub request_id: Option<String>,
}

/// The HTTP client shared by the token provider, the Graph client and callback
/// authentication: rustls, a bounded connect time, and callhost's user agent.
pub fn shared_http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("callhost/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Sends requests to Graph on behalf of the bot. Cheap to clone.
#[derive(Clone)]
pub struct GraphClient {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    settings: GraphClientSettings,
    tokens: TokenProvider,
    http: reqwest::Client,
}

impl GraphClient {
    pub fn new(
        settings: GraphClientSettings,
        tokens: TokenProvider,
        http: reqwest::Client,
    ) -> Self {
        Self {
            inner: Arc::new(ClientInner {
                settings,
                tokens,
                http,
            }),
        }
    }

    pub fn settings(&self) -> &GraphClientSettings {
        &self.inner.settings
    }

    pub fn tokens(&self) -> &TokenProvider {
        &self.inner.tokens
    }

    /// Sends `request` with a token for `tenant`.
    ///
    /// 429 and 503 answers are retried for every request (Graph refused them), honouring
    /// `Retry-After`. Timeouts, 504 and broken connections are retried only when `idempotent`;
    /// otherwise they give [`GraphError::Timeout`] so the caller can read the call's state
    /// first. A 401 fetches a new token once.
    pub async fn send(
        &self,
        tenant: Option<&str>,
        request: &GraphRequest,
        idempotent: bool,
    ) -> Result<GraphResponse, GraphError> {
        let policy = self.inner.settings.retry;
        let deadline = Instant::now() + policy.overall_deadline;
        let url = format!(
            "{}{}",
            self.inner.settings.base_url.trim_end_matches('/'),
            request.path
        );
        let mut token = self.inner.tokens.token(tenant).await?;
        let mut token_refreshed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                let detail = format!("deadline of {:?} reached", policy.overall_deadline);
                return Err(timeout(request, detail));
            }
            let limit = remaining.min(self.inner.settings.request_timeout);
            match self
                .attempt(&url, request, &token, idempotent, limit, attempt)
                .await
            {
                Attempt::Done(response) => return Ok(response),
                Attempt::Fail(error) => return Err(error),
                Attempt::Unauthorized(error) if token_refreshed => return Err(error),
                Attempt::Unauthorized(_) => {
                    // An expired or revoked token; Graph did not act on the request. This
                    // attempt does not count against the retry budget.
                    token = self.inner.tokens.refresh(tenant, &token).await?;
                    token_refreshed = true;
                    attempt -= 1;
                }
                Attempt::Retry { error, retry_after } => {
                    let wait = retry_after.unwrap_or_else(|| policy.backoff(attempt));
                    let out_of_time = Instant::now() + wait >= deadline;
                    if attempt >= policy.max_attempts || out_of_time {
                        warn!(
                            method = request.method.as_str(),
                            path = %request.path,
                            attempt,
                            error = %error,
                            "giving up on Graph request"
                        );
                        return Err(exhausted(error, attempt, retry_after));
                    }
                    warn!(
                        method = request.method.as_str(),
                        path = %request.path,
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        error = %error,
                        "retrying Graph request"
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn attempt(
        &self,
        url: &str,
        request: &GraphRequest,
        token: &AccessToken,
        idempotent: bool,
        limit: Duration,
        attempt: u32,
    ) -> Attempt {
        let client_request_id = Uuid::new_v4();
        let method = request.method.as_str();
        let mut builder = self
            .inner
            .http
            .request(http_method(request.method), url)
            .bearer_auth(token.secret())
            .header(CLIENT_REQUEST_ID, client_request_id.to_string())
            .timeout(limit);
        builder = match &request.body {
            Some(body) => builder.json(body), // also sets Content-Type: application/json
            // A POST without a body still says so: Graph answers 411 to a POST that has no
            // Content-Length (keepAlive).
            None if request.method == Method::Post => builder
                .header(reqwest::header::CONTENT_LENGTH, "0")
                .body(Vec::<u8>::new()),
            None => builder,
        };
        let started = Instant::now();
        let response = match builder.send().await {
            Ok(response) => response,
            Err(source) => {
                warn!(
                    method,
                    path = %request.path,
                    %client_request_id,
                    attempt,
                    error = %source,
                    "Graph request failed"
                );
                return transport_failure(request, url, source, idempotent, limit);
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        let request_id = header(&headers, REQUEST_ID);
        let body = match response.bytes().await {
            Ok(body) => body,
            // The status line arrived, so Graph has the request.
            Err(source) => return transport_failure(request, url, source, idempotent, limit),
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        if status.is_success() {
            debug!(
                method,
                path = %request.path,
                status = status.as_u16(),
                %client_request_id,
                request_id = request_id.as_deref(),
                attempt,
                elapsed_ms,
                "Graph request done"
            );
            return parse_success(request, status, &headers, &body, request_id);
        }
        // A 4xx is usually an answer about the call (it has ended, say); 429 and 5xx are trouble.
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            warn!(
                method,
                path = %request.path,
                status = status.as_u16(),
                %client_request_id,
                request_id = request_id.as_deref(),
                attempt,
                elapsed_ms,
                "Graph answered with an error"
            );
        } else {
            info!(
                method,
                path = %request.path,
                status = status.as_u16(),
                %client_request_id,
                request_id = request_id.as_deref(),
                attempt,
                elapsed_ms,
                "Graph refused the request"
            );
        }
        let retry_after = header(&headers, RETRY_AFTER.as_str())
            .and_then(|v| retry::parse_retry_after(&v, SystemTime::now()));
        let odata = ODataError::parse(&body);
        let error = GraphError::Status {
            status: status.as_u16(),
            method: request.method,
            path: request.path.clone(),
            code: odata.as_ref().map(|o| o.code.clone()).unwrap_or_default(),
            message: odata
                .as_ref()
                .map_or_else(|| body_excerpt(status, &body), |o| o.message.clone()),
            request_id: request_id.or_else(|| odata.and_then(|o| o.request_id)),
            client_request_id,
        };
        match status {
            StatusCode::UNAUTHORIZED => Attempt::Unauthorized(error),
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                Attempt::Retry { error, retry_after }
            }
            // A gateway gave up waiting for Graph, which may still carry the request out.
            StatusCode::GATEWAY_TIMEOUT if !idempotent => Attempt::Fail(timeout(
                request,
                "Graph answered 504 Gateway Timeout".into(),
            )),
            StatusCode::GATEWAY_TIMEOUT => Attempt::Retry { error, retry_after },
            _ => Attempt::Fail(error),
        }
    }
}

fn http_method(method: Method) -> reqwest::Method {
    match method {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
        Method::Delete => reqwest::Method::DELETE,
    }
}
