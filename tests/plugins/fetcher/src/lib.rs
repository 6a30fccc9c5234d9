//! Sends the HTTP requests its `requests` config lists (a JSON array), on the event kind its
//! `on` config names (every event without it), and keeps what came of each in call state
//! under `fetched`, for the host's outbound HTTP tests. Each request is
//! `{"url", "method", "body-bytes", "repeat", "read", "follow",
//!   "connect-timeout-ms", "first-byte-timeout-ms", "between-bytes-timeout-ms"}`, all but
//! `url` optional. What came of it is `{"status", "bytes", "location", "error", "ms"}`; with
//! `repeat` above 1, `{"outcomes": {"200": n, "connection-limit-reached": m, …}, "ms"}`.
//! With `follow`, a 3xx is followed once to its `Location`, and what came of that is
//! `"followed"`.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use wasi::http::outgoing_handler;
use wasi::http::types::{
    ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasi::io::streams::StreamError;

#[allow(unsafe_code)] // the generated glue between the component ABI and Rust
mod bindings {
    wit_bindgen::generate!({ world: "workflow", path: "../../../wit" });

    use super::Fetcher;
    export!(Fetcher);
}

use bindings::callhost::workflow::types::{CallContext, Event};
use bindings::callhost::workflow::{config, state};
use bindings::exports::callhost::workflow::handler::Guest;

struct Fetcher;

impl Guest for Fetcher {
    fn on_event(call: CallContext, event: Event) -> Result<(), String> {
        if let Some(on) = config::get("on")
            && on != kind_name(&event)
        {
            return Ok(());
        }
        let requests = config::get("requests").ok_or("config `requests` is missing")?;
        let requests: Vec<Value> =
            serde_json::from_str(&requests).map_err(|e| format!("config `requests`: {e}"))?;
        let results: Vec<Value> = requests.iter().map(run).collect();
        let _ = call;
        state::set(
            state::Scope::Call,
            "fetched",
            Value::Array(results).to_string().as_bytes(),
        )
        .map_err(|e| format!("state: {e:?}"))?;
        Ok(())
    }
}

fn kind_name(event: &Event) -> String {
    let debug = format!("{:?}", event.kind);
    debug
        .split(['(', ' ', '{'])
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn now_ms() -> u64 {
    wasi::clocks::monotonic_clock::now() / 1_000_000
}

fn run(spec: &Value) -> Value {
    let started = now_ms();
    let repeat = spec["repeat"].as_u64().unwrap_or(1);
    let url = spec["url"].as_str().unwrap_or_default();
    if repeat > 1 {
        let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
        for _ in 0..repeat {
            let outcome = match fetch(spec, url) {
                Ok(got) => got.status.to_string(),
                Err(error) => error,
            };
            *outcomes.entry(outcome).or_default() += 1;
        }
        return json!({ "outcomes": outcomes, "ms": now_ms() - started });
    }
    let mut result = describe(fetch(spec, url));
    if spec["follow"].as_bool().unwrap_or(false)
        && let Some(location) = result["location"].as_str().map(str::to_owned)
    {
        result["followed"] = describe(fetch(spec, &location));
    }
    result["ms"] = json!(now_ms() - started);
    result
}

fn describe(outcome: Result<Got, String>) -> Value {
    match outcome {
        Ok(got) => json!({
            "status": got.status,
            "bytes": got.bytes,
            "location": got.location,
            "error": got.body_error,
        }),
        Err(error) => json!({ "error": error }),
    }
}

struct Got {
    status: u16,
    bytes: u64,
    location: Option<String>,
    /// Why reading the body stopped early.
    body_error: Option<String>,
}

/// `http://host:port/path?query` → its parts.
fn split(url: &str) -> Result<(Scheme, &str, &str), String> {
    let (scheme, rest) = url.split_once("://").ok_or(format!("`{url}`: no scheme"))?;
    let scheme = match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => Scheme::Other(other.to_owned()),
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, "/"),
    };
    Ok((scheme, authority, path))
}

fn millis(spec: &Value, key: &str) -> Option<u64> {
    spec[key].as_u64().map(|ms| ms * 1_000_000)
}

fn fetch(spec: &Value, url: &str) -> Result<Got, String> {
    let (scheme, authority, path) = split(url)?;
    let request = OutgoingRequest::new(Fields::new());
    let method = match spec["method"].as_str().unwrap_or("GET") {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        other => Method::Other(other.to_owned()),
    };
    request.set_method(&method).map_err(|()| "bad method")?;
    request
        .set_scheme(Some(&scheme))
        .map_err(|()| "bad scheme")?;
    request
        .set_authority(Some(authority))
        .map_err(|()| "bad authority")?;
    request
        .set_path_with_query(Some(path))
        .map_err(|()| "bad path")?;
    let options = RequestOptions::new();
    let _ = options.set_connect_timeout(millis(spec, "connect-timeout-ms"));
    let _ = options.set_first_byte_timeout(millis(spec, "first-byte-timeout-ms"));
    let _ = options.set_between_bytes_timeout(millis(spec, "between-bytes-timeout-ms"));
    let body = request.body().map_err(|()| "no request body")?;
    let pending = outgoing_handler::handle(request, Some(options)).map_err(|e| name(&e))?;
    let body_bytes = spec["body-bytes"].as_u64().unwrap_or(0);
    {
        let stream = body.write().map_err(|()| "no body stream")?;
        let chunk = vec![b'x'; 4096];
        let mut left = body_bytes;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            if stream.blocking_write_and_flush(&chunk[..n]).is_err() {
                break;
            }
            left -= n as u64;
        }
    }
    let _ = OutgoingBody::finish(body, None);
    pending.subscribe().block();
    let response = match pending.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(e))) => return Err(name(&e)),
        Some(Err(())) => return Err("response taken twice".into()),
        None => return Err("no response after waiting".into()),
    };
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .first()
        .map(|v| String::from_utf8_lossy(v).into_owned());
    let mut got = Got {
        status,
        bytes: 0,
        location,
        body_error: None,
    };
    if !spec["read"].as_bool().unwrap_or(true) {
        return Ok(got);
    }
    let body = response.consume().map_err(|()| "no response body")?;
    let stream = body.stream().map_err(|()| "no response stream")?;
    loop {
        match stream.blocking_read(64 << 10) {
            Ok(chunk) => got.bytes += chunk.len() as u64,
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                // The host's reason, as the stream's error says it (its first line).
                got.body_error = Some(
                    wasi::http::types::http_error_code(&e)
                        .map(|code| name(&code))
                        .unwrap_or_else(|| {
                            let text = e.to_debug_string();
                            text.lines().next().unwrap_or_default().to_owned()
                        }),
                );
                break;
            }
        }
    }
    Ok(got)
}

/// The error code as WIT spells it: `http-request-denied`, `destination-ip-prohibited`, …
fn name(error: &ErrorCode) -> String {
    let debug = format!("{error:?}");
    let variant = debug
        .trim_start_matches("ErrorCode::")
        .split(['(', ' ', '{'])
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut kebab = String::new();
    for (i, c) in variant.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                kebab.push('-');
            }
            kebab.push(c.to_ascii_lowercase());
        } else {
            kebab.push(c);
        }
    }
    kebab
}
