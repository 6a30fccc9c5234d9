//! Outbound HTTP for plugins: `wasi:http/outgoing-handler`, sent by the host's own hook.
//!
//! A plugin reaches only the origins its `allowed_outbound_hosts` lists (none by default).
//! The host resolves names itself and connects to an address it checked: loopback, private,
//! link-local and metadata addresses are refused unless an entry names the address. Each
//! request's connect, first-byte and between-bytes timeouts are the plugin's limits at most,
//! and never reach past the event's wall-clock bound; request and response bodies are capped,
//! requests per event are counted, and each exchange goes to the call's history
//! ([`CallControl::fetched`]). Redirects are not followed: the plugin sees the 3xx, and a
//! request it makes to where it points is checked like any other. Time spent waiting on HTTP
//! is the event's wall time, not its compute time (see `invoke`).

mod addresses;
mod allowed_hosts;
mod body;
mod send;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::BodyExt as _;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use self::allowed_hosts::{Host, Origin, Scheme};
use self::body::Counted;
use self::send::{Failure, Plan};
use super::plugin::PluginInfo;
use callhost_call::{ActionOrigin, CallControl, HttpExchange};

pub use self::allowed_hosts::AllowedHosts;

/// How long before the event's wall-clock bound a request gives up at the latest.
const WALL_MARGIN: Duration = Duration::from_millis(250);

/// What every event's requests share: the TLS roots, and the services that stand in for
/// origins (in simulations).
pub(crate) struct Outbound {
    tls: Arc<rustls::ClientConfig>,
    stand_ins: BTreeMap<Origin, SocketAddr>,
}

impl Outbound {
    /// Trusts the Mozilla roots (webpki-roots) and `extra` roots (a private CA); sends
    /// requests for the origins of `stand_ins` (`scheme://host:port`) to the plain-HTTP
    /// service at its address instead, with no address check and no TLS.
    pub(crate) fn new(
        extra: &[rustls::pki_types::CertificateDer<'static>],
        stand_ins: &BTreeMap<String, SocketAddr>,
    ) -> anyhow::Result<Self> {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for cert in extra {
            roots
                .add(cert.clone())
                .map_err(|e| anyhow::anyhow!("an outbound CA certificate is not usable: {e}"))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut by_origin = BTreeMap::new();
        for (origin, address) in stand_ins {
            let uri: http::Uri = origin
                .parse()
                .map_err(|e| anyhow::anyhow!("stand-in origin `{origin}`: {e}"))?;
            let origin = origin_of(&uri)
                .map_err(|f| anyhow::anyhow!("stand-in origin `{origin}`: {}", f.why))?;
            by_origin.insert(origin, *address);
        }
        Ok(Self {
            tls: Arc::new(tls),
            stand_ins: by_origin,
        })
    }
}

/// The send hook of one event's store.
pub(crate) struct OutboundHttp {
    plugin: Arc<PluginInfo>,
    origin: ActionOrigin,
    control: Arc<dyn CallControl>,
    shared: Arc<Outbound>,
    /// When the event's wall-clock bound passes.
    wall_deadline: Instant,
    /// Requests asked for in this event, refused ones included.
    asked: u32,
}

impl OutboundHttp {
    pub(crate) fn new(
        plugin: Arc<PluginInfo>,
        origin: ActionOrigin,
        control: Arc<dyn CallControl>,
        shared: Arc<Outbound>,
    ) -> Self {
        let wall_deadline = Instant::now() + plugin.limits.wall_timeout;
        Self {
            plugin,
            origin,
            control,
            shared,
            wall_deadline,
            asked: 0,
        }
    }

    /// Whether the request may be sent, and with which limits.
    fn admit(&mut self, uri: &http::Uri, options: Option<RequestOptions>) -> Result<Plan, Failure> {
        let id = &self.plugin.id;
        let limits = &self.plugin.limits;
        self.asked += 1;
        if self.asked > limits.http_requests {
            return Err(Failure::new(
                Error::ConnectionLimitReached,
                format!(
                    "more than plugins.{id}.limits.http_requests ({}) requests in one event",
                    limits.http_requests
                ),
            ));
        }
        let origin = origin_of(uri)?;
        let allowed = &self.plugin.allowed_outbound_hosts;
        if !allowed.allows(&origin) {
            let fix = match allowed.is_empty() {
                true => format!(
                    "the plugin may send no request: plugins.{id}.allowed_outbound_hosts is empty"
                ),
                false => format!("it is not in plugins.{id}.allowed_outbound_hosts"),
            };
            return Err(Failure::new(
                Error::HttpRequestDenied,
                format!(
                    "{origin} is refused: {fix}; add an entry such as `{}` to allow it",
                    origin.as_entry()
                ),
            ));
        }
        // Ends a little before the event's bound: the plugin has time to handle the error.
        let margin = WALL_MARGIN.min(limits.wall_timeout / 10);
        let left = self
            .wall_deadline
            .saturating_duration_since(Instant::now())
            .saturating_sub(margin);
        if left.is_zero() {
            return Err(Failure::new(
                Error::ConnectionTimeout,
                format!(
                    "the event's wall-clock bound (plugins.{id}.limits.wall_timeout_ms) has passed"
                ),
            ));
        }
        let clamp =
            |asked: Option<Duration>, limit: Duration| asked.unwrap_or(limit).min(limit).min(left);
        let options = options.unwrap_or_default();
        let stand_in = self.shared.stand_ins.get(&origin).copied();
        Ok(Plan {
            stand_in,
            origin,
            plugin: self.plugin.clone(),
            connect_timeout: clamp(options.connect_timeout, limits.http_connect_timeout),
            first_byte_timeout: clamp(options.first_byte_timeout, limits.http_first_byte_timeout),
            between_bytes_timeout: clamp(
                options.between_bytes_timeout,
                limits.http_between_bytes_timeout,
            ),
        })
    }
}

/// Where a request goes, from its URI as wasi-http built it (scheme and authority set).
fn origin_of(uri: &http::Uri) -> Result<Origin, Failure> {
    let invalid = |why: &str| Failure::new(Error::HttpRequestUriInvalid, why.to_owned());
    let scheme = uri
        .scheme_str()
        .and_then(Scheme::parse)
        .ok_or_else(|| invalid("the request's scheme is neither http nor https"))?;
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| invalid("the request names no host"))?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let host = match bare.parse() {
        Ok(ip) => Host::Address(ip),
        Err(_) => Host::Name(host.trim_end_matches('.').to_ascii_lowercase()),
    };
    let port = uri.port_u16().unwrap_or(scheme.default_port());
    Ok(Origin { scheme, host, port })
}

/// The URL as the call's history shows it: without the query, which often carries secrets.
fn shown_url(uri: &http::Uri) -> String {
    let mut url = String::new();
    if let Some(scheme) = uri.scheme_str() {
        url.push_str(scheme);
        url.push_str("://");
    }
    if let Some(authority) = uri.authority() {
        url.push_str(authority.as_str());
    }
    url.push_str(uri.path());
    url
}

/// Writes one exchange to the call's history and the log, once.
struct Recorder {
    control: Arc<dyn CallControl>,
    origin: ActionOrigin,
    started: Instant,
    method: String,
    url: String,
}

impl Recorder {
    fn record(
        &self,
        status: Option<u16>,
        (request_bytes, response_bytes): (u64, u64),
        error: Option<String>,
    ) {
        let exchange = HttpExchange {
            method: self.method.clone(),
            url: self.url.clone(),
            status,
            request_bytes,
            response_bytes,
            duration: self.started.elapsed(),
            error,
        };
        self.control.fetched(&self.origin, self.started, exchange);
    }

    fn failed(self, failure: Failure, sent: u64) -> Error {
        let Failure { error, why } = failure;
        tracing::warn!(plugin = %self.origin.plugin_id, call_id = %self.origin.call_id, method = %self.method, url = %self.url, error = ?error, "outbound HTTP request failed: {why}");
        self.record(
            None,
            (sent, 0),
            Some(format!("{}: {why}", error_name(&error))),
        );
        error
    }
}

/// The `wasi:http` error code's name, as a plugin sees it.
fn error_name(error: &Error) -> String {
    let debug = format!("{error:?}");
    let name = debug.split(['(', ' ', '{']).next().unwrap_or(&debug);
    let mut kebab = String::new();
    for (i, c) in name.chars().enumerate() {
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

type SendResult = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn Future<Output = Result<(), Error>> + Send>,
)>;

impl WasiHttpHooks for OutboundHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let recorder = Recorder {
            control: self.control.clone(),
            origin: self.origin.clone(),
            started: Instant::now(),
            method: request.method().to_string(),
            url: shown_url(request.uri()),
        };
        let over = self.asked > self.plugin.limits.http_requests;
        let admitted = self.admit(request.uri(), options);
        let tls = self.shared.tls.clone();
        Box::new(async move {
            let plan = match admitted {
                Ok(plan) => plan,
                // Past the count only the first refusal is recorded: a loop of thousands
                // would bury the call's history.
                Err(failure) if over && failure.is_over_count() => {
                    return Err(failure.error);
                }
                Err(failure) => return Err(recorder.failed(failure, 0)),
            };
            let (sent, received) = (Counted::default(), Counted::default());
            match send::send(request, plan, tls, sent.clone(), received.clone()).await {
                Ok((mut response, io)) => {
                    let status = response.status().as_u16();
                    response.body_mut().on_end = Some(Box::new(move |error| {
                        recorder.record(Some(status), (sent.get(), received.get()), error);
                    }));
                    let response = response.map(|body| body.boxed_unsync());
                    Ok((response, Box::new(io) as Box<dyn Future<Output = _> + Send>))
                }
                Err(failure) => Err(recorder.failed(failure, sent.get())),
            }
        })
    }
}

impl Failure {
    fn is_over_count(&self) -> bool {
        matches!(self.error, Error::ConnectionLimitReached)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_their_query() {
        let uri: http::Uri = "https://crm.example.com:8443/callers/42?token=secret"
            .parse()
            .unwrap();
        assert_eq!(shown_url(&uri), "https://crm.example.com:8443/callers/42");
    }

    #[test]
    fn origins_take_the_schemes_port_and_bare_addresses() {
        let origin = origin_of(&"https://CRM.example.com./x".parse().unwrap()).unwrap();
        assert_eq!(origin.host, Host::Name("crm.example.com".into()));
        assert_eq!(origin.port, 443);
        let origin = origin_of(&"http://[::1]:8080/".parse().unwrap()).unwrap();
        assert_eq!(origin.host, Host::Address("::1".parse().unwrap()));
        assert_eq!(origin.port, 8080);
    }

    #[test]
    fn error_names_are_the_wit_ones() {
        assert_eq!(error_name(&Error::HttpRequestDenied), "http-request-denied");
        assert_eq!(
            error_name(&Error::HttpResponseBodySize(Some(3))),
            "http-response-body-size"
        );
        assert_eq!(
            error_name(&Error::DnsError {
                rcode: None,
                info_code: None
            }),
            "dns-error"
        );
    }
}
