//! Outbound HTTP: look a caller up in a CRM, post to a webhook. A small blocking client over
//! `wasi:http/outgoing-handler`.
//!
//! ```ignore
//! let response = http::get("https://crm.example.com/callers/+14255550100")
//!     .timeout(Duration::from_millis(800))
//!     .send()?;
//! let caller: Caller = response.json()?;
//! ```
//!
//! The host sends a request only to an origin the plugin's `allowed_outbound_hosts` lists
//! (none by default), and never to a loopback, private or link-local address unless an entry
//! names the address. Its limits (`limits.http_*`) cap each request's timeouts and body
//! sizes and how many requests one event may send. Time waiting for a response counts
//! against the event's wall-clock bound, not its compute deadline. Redirects are not
//! followed: a 3xx is the response.

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasi::http::outgoing_handler;
use wasi::http::types::{
    ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasi::io::streams::StreamError;

/// A request being built: [`get`], [`post`], [`request`].
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    timeout: Option<Duration>,
}

/// A response, its body read whole.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The host refused it: not on the plugin's `allowed_outbound_hosts`, an address it may
    /// not reach, or over the event's request count. What the host logs says which.
    Refused(String),
    /// It timed out: connecting, waiting for the response, or between bytes of its body.
    Timeout(String),
    /// It failed otherwise: the service is down, the name does not resolve, TLS failed, the
    /// response was too large.
    Failed(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(why) => write!(f, "refused by the host: {why}"),
            Self::Timeout(why) => write!(f, "timed out: {why}"),
            Self::Failed(why) => write!(f, "failed: {why}"),
        }
    }
}

impl std::error::Error for HttpError {}

impl From<HttpError> for crate::Error {
    fn from(error: HttpError) -> Self {
        crate::Error::new(format!("HTTP request {error}"))
    }
}

/// A `GET` of `url`.
pub fn get(url: impl Into<String>) -> Request {
    request("GET", url)
}

/// A `POST` to `url`; give it a body with [`Request::json`] or [`Request::body`].
pub fn post(url: impl Into<String>) -> Request {
    request("POST", url)
}

/// A request with any method.
pub fn request(method: &str, url: impl Into<String>) -> Request {
    Request {
        method: method.to_owned(),
        url: url.into(),
        headers: Vec::new(),
        body: Vec::new(),
        timeout: None,
    }
}

impl Request {
    pub fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// `value` as the JSON body, with its content type.
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_default();
        self.header("content-type", "application/json").body(body)
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// How long to wait for the connection and for the response to start, each: at most the
    /// plugin's `limits.http_connect_timeout_ms` and `limits.http_first_byte_timeout_ms`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends the request and reads the whole response.
    pub fn send(self) -> Result<Response, HttpError> {
        let failed =
            |what: &str| HttpError::Failed(format!("{what} ({} {})", self.method, self.url));
        let (scheme, authority, path) = split_url(&self.url)
            .ok_or_else(|| HttpError::Failed(format!("`{}` is not an http(s) URL", self.url)))?;
        let headers = Fields::new();
        for (name, value) in &self.headers {
            headers
                .append(name, value)
                .map_err(|e| failed(&format!("header `{name}`: {e:?}")))?;
        }
        let request = OutgoingRequest::new(headers);
        let method = match self.method.as_str() {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            "HEAD" => Method::Head,
            other => Method::Other(other.to_owned()),
        };
        request
            .set_method(&method)
            .map_err(|()| failed("bad method"))?;
        request
            .set_scheme(Some(&scheme))
            .map_err(|()| failed("bad scheme"))?;
        request
            .set_authority(Some(authority))
            .map_err(|()| failed("bad host"))?;
        request
            .set_path_with_query(Some(path))
            .map_err(|()| failed("bad path"))?;
        let options = RequestOptions::new();
        if let Some(timeout) = self.timeout {
            let nanos = timeout.as_nanos().min(u64::MAX as u128) as u64;
            let _ = options.set_connect_timeout(Some(nanos));
            let _ = options.set_first_byte_timeout(Some(nanos));
        }
        let body = request.body().map_err(|()| failed("no request body"))?;
        let pending = outgoing_handler::handle(request, Some(options)).map_err(classify)?;
        {
            let stream = body
                .write()
                .map_err(|()| failed("no request body stream"))?;
            for chunk in self.body.chunks(4096) {
                if stream.blocking_write_and_flush(chunk).is_err() {
                    break;
                }
            }
        }
        OutgoingBody::finish(body, None).map_err(classify)?;
        pending.subscribe().block();
        let response = match pending.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(error))) => return Err(classify(error)),
            Some(Err(())) | None => return Err(failed("no response")),
        };
        let status = response.status();
        let headers = response.headers().entries();
        let incoming = response
            .consume()
            .map_err(|()| failed("no response body"))?;
        let stream = incoming
            .stream()
            .map_err(|()| failed("no response body stream"))?;
        let mut body = Vec::new();
        loop {
            match stream.blocking_read(64 << 10) {
                Ok(chunk) => body.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(error)) => {
                    let why = match wasi::http::types::http_error_code(&error) {
                        Some(code) => return Err(classify(code)),
                        None => error.to_debug_string(),
                    };
                    let why = why.lines().next().unwrap_or_default().to_owned();
                    return Err(match why.contains("timeout") {
                        true => HttpError::Timeout(why),
                        false => HttpError::Failed(why),
                    });
                }
            }
        }
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

impl Response {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of header `name`, as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, value)| std::str::from_utf8(value).ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> crate::Result<T> {
        serde_json::from_slice(&self.body)
            .map_err(|e| crate::Error::new(format!("the response is not the JSON expected: {e}")))
    }
}

/// `scheme://authority/path?query` → its parts.
fn split_url(url: &str) -> Option<(Scheme, &str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        _ => return None,
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(at) if rest[at..].starts_with('/') => rest.split_at(at),
        Some(_) | None => (rest, "/"),
    };
    (!authority.is_empty()).then_some((scheme, authority, path))
}

fn classify(error: ErrorCode) -> HttpError {
    let why = format!("{error:?}");
    match error {
        ErrorCode::HttpRequestDenied
        | ErrorCode::DestinationIpProhibited
        | ErrorCode::ConnectionLimitReached => HttpError::Refused(why),
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::HttpResponseTimeout
        | ErrorCode::DnsTimeout => HttpError::Timeout(why),
        _ => HttpError::Failed(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_scheme_host_and_path() {
        let (scheme, authority, path) = split_url("https://crm.example.com:8443/a/b?c=d").unwrap();
        assert!(matches!(scheme, Scheme::Https));
        assert_eq!((authority, path), ("crm.example.com:8443", "/a/b?c=d"));
        let (_, authority, path) = split_url("http://crm").unwrap();
        assert_eq!((authority, path), ("crm", "/"));
        assert!(split_url("ftp://crm").is_none());
        assert!(split_url("crm.example.com").is_none());
        assert!(split_url("https:///path").is_none());
    }
}
