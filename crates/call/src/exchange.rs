//! What a call-control request looked like on the wire, for whoever keeps a call's history:
//! the Graph side fills it in, the journal keeps it, neither knows the other. Likewise for the
//! HTTP requests a plugin sends on its own (outbound HTTP).

use std::time::{Duration, Instant};

use serde::{Serialize, Serializer};
use serde_json::Value;

/// A Graph request and Graph's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphExchange {
    /// Who asked: the plugin id, or `callhost` for the host's own requests.
    pub origin: String,
    pub method: String,
    /// As Graph receives it: `/v1.0/communications/calls/{id}/answer`.
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Graph's status; absent when no answer came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(rename = "durationMs", serialize_with = "millis")]
    pub duration: Duration,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An HTTP request a plugin sent (outbound HTTP) and what came of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpExchange {
    pub method: String,
    /// Scheme, host, port and path; never the query, which often carries secrets.
    pub url: String,
    /// The response's status; absent when none came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Body bytes sent and received (as far as the plugin read the response).
    pub request_bytes: u64,
    pub response_bytes: u64,
    /// From the request to the end of its response body (or its failure).
    #[serde(rename = "durationMs", serialize_with = "millis")]
    pub duration: Duration,
    /// Why it failed or was refused: the error the plugin saw and what caused it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Where each [`GraphExchange`] goes, under the call it is about.
pub trait ExchangeLog: Send + Sync {
    /// `exchange` about `call_id` started at `started`.
    fn exchanged(&self, call_id: &str, started: Instant, exchange: GraphExchange);
}

fn millis<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(duration.as_millis() as u64)
}
