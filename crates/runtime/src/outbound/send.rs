//! Sending one admitted request: the host resolves the name itself, keeps only the addresses
//! the plugin may reach, connects to one of them (so what was checked is what is reached),
//! speaks TLS for `https` and HTTP/1.1 over it, within the request's timeouts.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt as _;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wasmtime_wasi_http::{Error, WasiBody};

use super::addresses::not_public;
use super::allowed_hosts::{Host, Origin, Scheme};
use super::body::{Counted, RequestBody, ResponseBody};
use crate::plugin::PluginInfo;

/// What a request may do, settled when it was admitted.
pub(super) struct Plan {
    pub(super) origin: Origin,
    /// The plain-HTTP service that stands in for the origin, if one does (simulations).
    pub(super) stand_in: Option<SocketAddr>,
    /// The plugin, whose `allowed_outbound_hosts` may name an address that is not public.
    pub(super) plugin: Arc<PluginInfo>,
    pub(super) connect_timeout: Duration,
    pub(super) first_byte_timeout: Duration,
    pub(super) between_bytes_timeout: Duration,
}

/// Why a request got no response: the error the plugin sees, and what a person reads.
#[derive(Debug)]
pub(super) struct Failure {
    pub(super) error: Error,
    pub(super) why: String,
}

impl Failure {
    pub(super) fn new(error: Error, why: impl Into<String>) -> Self {
        Self {
            error,
            why: why.into(),
        }
    }
}

/// The response, and the connection's remaining work (driving the body).
pub(super) type Sent = (
    http::Response<ResponseBody>,
    Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>,
);

trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

pub(super) async fn send(
    mut request: http::Request<WasiBody>,
    plan: Plan,
    tls: Arc<rustls::ClientConfig>,
    sent: Counted,
    received: Counted,
) -> Result<Sent, Failure> {
    let addresses = match plan.stand_in {
        Some(address) => vec![address],
        None => reachable(&plan).await?,
    };
    let tcp = connect(&addresses, plan.connect_timeout).await?;
    let stream: Box<dyn Stream> = match (plan.origin.scheme, plan.stand_in) {
        (Scheme::Https, None) => Box::new(handshake_tls(&plan, tcp, tls).await?),
        _ => Box::new(tcp),
    };
    let (mut sender, connection) = tokio::time::timeout(
        plan.connect_timeout,
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| Failure::new(Error::ConnectionTimeout, "the HTTP handshake timed out"))?
    .map_err(|e| Failure::new(Error::from(e), "the HTTP handshake failed"))?;

    // To the server itself, the request names the path only (the authority is in `Host`).
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    *request.uri_mut() = http::Uri::try_from(path).map_err(|_| {
        Failure::new(
            Error::HttpRequestUriInvalid,
            "the request's path is invalid",
        )
    })?;
    let request = request.map(|inner| {
        RequestBody {
            inner,
            limit: plan.plugin.limits.http_request_bytes,
            sent,
        }
        .boxed_unsync()
    });

    let mut connection = Box::pin(connection);
    let mut connection_done = false;
    let response = sender.send_request(request);
    tokio::pin!(response);
    let waiting = async {
        loop {
            tokio::select! {
                biased;
                response = &mut response => break response,
                ended = &mut connection, if !connection_done => {
                    connection_done = true;
                    if let Err(e) = ended {
                        return Err(failed_exchange(e));
                    }
                }
            }
        }
        .map_err(failed_exchange)
    };
    let response = tokio::time::timeout(plan.first_byte_timeout, waiting)
        .await
        .map_err(|_| {
            Failure::new(
                Error::ConnectionReadTimeout,
                format!(
                    "no response within {} ms (the first-byte timeout)",
                    plan.first_byte_timeout.as_millis()
                ),
            )
        })??;
    if let Some(length) = content_length(&response)
        && length > plan.plugin.limits.http_response_bytes
    {
        return Err(Failure::new(
            Error::HttpResponseBodySize(Some(length)),
            format!(
                "the response announces {length} bytes, over limits.http_response_bytes ({})",
                plan.plugin.limits.http_response_bytes
            ),
        ));
    }
    let between_bytes = plan.between_bytes_timeout;
    let response = response.map(|inner| ResponseBody {
        inner,
        limit: plan.plugin.limits.http_response_bytes,
        between_bytes,
        idle: Box::pin(tokio::time::sleep(between_bytes)),
        received,
        on_end: None,
    });
    let io: Pin<Box<dyn Future<Output = Result<(), Error>> + Send>> = match connection_done {
        true => Box::pin(async { Ok(()) }),
        false => Box::pin(async move { connection.await.map_err(Error::from) }),
    };
    Ok((response, io))
}

fn failed_exchange(e: hyper::Error) -> Failure {
    // A request body over its cap fails the exchange from inside hyper.
    let cause = std::error::Error::source(&e).and_then(|c| c.downcast_ref::<Error>());
    if let Some(Error::HttpRequestBodySize(limit)) = cause {
        let why = format!(
            "the request body passed limits.http_request_bytes ({} bytes)",
            limit.unwrap_or_default()
        );
        return Failure::new(Error::HttpRequestBodySize(*limit), why);
    }
    let why = format!("the exchange failed: {e}");
    Failure::new(Error::from(e), why)
}

fn content_length<B>(response: &http::Response<B>) -> Option<u64> {
    response
        .headers()
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// The addresses of the request's host that the plugin may reach. A name is resolved here,
/// and each address it resolves to is checked: a loopback, private, link-local or other
/// address that is not public is refused unless an allowed entry names it.
async fn reachable(plan: &Plan) -> Result<Vec<SocketAddr>, Failure> {
    let port = plan.origin.port;
    let resolved: Vec<IpAddr> = match &plan.origin.host {
        Host::Address(ip) => vec![*ip],
        Host::Name(name) => {
            let lookup = tokio::net::lookup_host((name.as_str(), port));
            let found = tokio::time::timeout(plan.connect_timeout, lookup)
                .await
                .map_err(|_| {
                    Failure::new(Error::DnsTimeout, format!("resolving `{name}` timed out"))
                })?
                .map_err(|e| {
                    Failure::new(
                        Error::DnsError {
                            rcode: Some(e.to_string()),
                            info_code: None,
                        },
                        format!("`{name}` could not be resolved: {e}"),
                    )
                })?;
            found.map(|a| a.ip()).collect()
        }
    };
    let mut refused = None;
    let mut reachable = Vec::new();
    for ip in resolved {
        match not_public(ip) {
            Some(why)
                if !plan
                    .plugin
                    .allowed_outbound_hosts
                    .names_address(&plan.origin, ip) =>
            {
                refused.get_or_insert((ip, why));
            }
            _ => reachable.push(SocketAddr::new(ip, port)),
        }
    }
    match (reachable.is_empty(), refused) {
        (false, _) => Ok(reachable),
        (true, Some((ip, why))) => Err(Failure::new(
            Error::DestinationIpProhibited,
            format!(
                "{} is {why}; only an allowed_outbound_hosts entry naming the address itself (such as `{}`) lets a plugin reach it",
                describe(&plan.origin.host, ip),
                entry_for(&plan.origin, ip)
            ),
        )),
        (true, None) => Err(Failure::new(
            Error::DestinationNotFound,
            format!("`{}` resolves to no address", plan.origin),
        )),
    }
}

fn describe(host: &Host, ip: IpAddr) -> String {
    match host {
        Host::Name(name) => format!("`{name}` resolves to {ip}, which"),
        Host::Address(_) => ip.to_string(),
    }
}

fn entry_for(origin: &Origin, ip: IpAddr) -> String {
    let scheme = origin.scheme.as_str();
    match ip {
        IpAddr::V6(ip) => format!("{scheme}://[{ip}]:{}", origin.port),
        IpAddr::V4(ip) => format!("{scheme}://{ip}:{}", origin.port),
    }
}

/// Connects to the first address that answers within the timeout.
async fn connect(addresses: &[SocketAddr], timeout: Duration) -> Result<TcpStream, Failure> {
    let mut last = None;
    let connecting = async {
        for address in addresses {
            match TcpStream::connect(address).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last = Some((*address, e)),
            }
        }
        let (address, e) = last.expect("at least one address");
        let error = match e.kind() {
            std::io::ErrorKind::ConnectionRefused => Error::ConnectionRefused,
            _ => Error::DestinationUnavailable,
        };
        Err(Failure::new(error, format!("connecting to {address}: {e}")))
    };
    tokio::time::timeout(timeout, connecting)
        .await
        .map_err(|_| {
            Failure::new(
                Error::ConnectionTimeout,
                format!(
                    "no connection within {} ms (the connect timeout)",
                    timeout.as_millis()
                ),
            )
        })?
}

async fn handshake_tls(
    plan: &Plan,
    tcp: TcpStream,
    tls: Arc<rustls::ClientConfig>,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Failure> {
    use rustls::pki_types::ServerName;
    let name = match &plan.origin.host {
        Host::Address(ip) => ServerName::IpAddress((*ip).into()),
        Host::Name(name) => ServerName::try_from(name.clone()).map_err(|_| {
            Failure::new(
                Error::HttpRequestUriInvalid,
                format!("`{name}` is not a name TLS can verify"),
            )
        })?,
    };
    let connector = tokio_rustls::TlsConnector::from(tls);
    tokio::time::timeout(plan.connect_timeout, connector.connect(name, tcp))
        .await
        .map_err(|_| Failure::new(Error::ConnectionTimeout, "the TLS handshake timed out"))?
        .map_err(|e| {
            let why = format!("the TLS handshake failed: {e}");
            let error = match e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
                Some(rustls::Error::InvalidCertificate(_)) => Error::TlsCertificateError,
                _ => Error::TlsProtocolError,
            };
            Failure::new(error, why)
        })
}
