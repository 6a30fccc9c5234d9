//! Serving a router on a listener with every connection bounded: at most `max_connections`
//! at once (more are closed as they arrive), request headers (and a TLS handshake) within
//! `header_read_timeout`, and a shutdown that lets requests in progress finish for at most
//! the grace period, then closes whatever is left.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// How connections to one listener are bounded.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Connections open at once; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// Time for a connection's request headers (each request's, and the TLS handshake).
    pub header_read_timeout: Duration,
    /// How long requests in progress may finish after shutdown begins.
    pub shutdown_grace: Duration,
}

/// Serves `router` on `listener` (over TLS with `tls`) until `stop` turns true.
pub async fn serve(
    name: &'static str,
    listener: TcpListener,
    router: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(30)));
    let builder = Arc::new(builder);
    let (closing_tx, closing) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut refused: u64 = 0;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => break,
        };
        // Reap finished connections so the set does not grow.
        while connections.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait a moment rather than spin.
                tracing::warn!(listener = name, error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            refused += 1;
            if refused.is_power_of_two() {
                tracing::warn!(listener = name, %peer, max_connections = limits.max_connections, refused, "connection closed: the listener has max_connections open (server.max_connections)");
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            builder: builder.clone(),
            router: router.clone(),
            tls: tls.clone(),
            header_read_timeout: limits.header_read_timeout,
            closing: closing.clone(),
        };
        connections.spawn(async move {
            connection.serve(stream, peer).await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    let open = connections.len();
    if open > 0 {
        tracing::info!(
            listener = name,
            open,
            grace_s = limits.shutdown_grace.as_secs(),
            "closing connections: requests in progress may finish"
        );
    }
    let finished = tokio::time::timeout(limits.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        tracing::warn!(
            listener = name,
            left = connections.len(),
            "shutdown grace period passed; closing the connections still open"
        );
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
    Ok(())
}

struct Connection {
    builder: Arc<auto::Builder<TokioExecutor>>,
    router: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    header_read_timeout: Duration,
    closing: watch::Receiver<bool>,
}

impl Connection {
    async fn serve(self, stream: TcpStream, peer: SocketAddr) {
        match &self.tls {
            None => self.http(stream).await,
            Some(acceptor) => {
                let handshake =
                    tokio::time::timeout(self.header_read_timeout, acceptor.accept(stream)).await;
                match handshake {
                    Ok(Ok(stream)) => self.http(stream).await,
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake not finished in time"),
                }
            }
        }
    }

    async fn http<S>(self, stream: S)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let router = TowerToHyperService::new(self.router);
        let first_request = Arc::new(tokio::sync::Notify::new());
        let service = {
            let first_request = first_request.clone();
            hyper::service::service_fn(move |request| {
                first_request.notify_one();
                hyper::service::Service::call(&router, request)
            })
        };
        let connection = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service);
        let mut connection = std::pin::pin!(connection);
        let mut closing = self.closing;
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = closing.wait_for(|c| *c) => {}
        }
        // A connection accepted just before shutdown has its request on the way: wait for it
        // (as long as a request's headers may take) rather than close the connection under it.
        // A connection that served a request already has a stored permit and goes on at once.
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = tokio::time::timeout(self.header_read_timeout, first_request.notified()) => {}
        }
        // Finish the request in progress, take no more on this connection.
        connection.as_mut().graceful_shutdown();
        let _ = connection.await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    async fn started(
        limits: ConnectionLimits,
    ) -> (
        SocketAddr,
        watch::Sender<bool>,
        tokio::task::JoinHandle<anyhow::Result<()>>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = Router::new().route("/", get(|| async { "ok" }));
        let (stop_tx, stop) = watch::channel(false);
        let server = tokio::spawn(serve("test", listener, router, None, limits, stop));
        (addr, stop_tx, server)
    }

    fn limits(max_connections: usize) -> ConnectionLimits {
        ConnectionLimits {
            max_connections,
            header_read_timeout: Duration::from_millis(300),
            shutdown_grace: Duration::from_millis(500),
        }
    }

    /// Whether the server closes `stream` within `within`.
    async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
        let mut buf = [0u8; 1024];
        loop {
            match tokio::time::timeout(within, stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }

    #[tokio::test]
    async fn slowloris_headers_are_cut_off() {
        let (addr, _stop, _server) = started(limits(16)).await;
        let mut slow = Vec::new();
        for _ in 0..8 {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-A: ")
                .await
                .unwrap();
            slow.push(stream);
        }
        let started = Instant::now();
        for stream in &mut slow {
            assert!(closed_within(stream, Duration::from_secs(3)).await);
        }
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[tokio::test]
    async fn connections_past_the_cap_are_closed_and_served_again_once_one_ends() {
        let (addr, _stop, _server) = started(limits(2)).await;
        let mut held = Vec::new();
        for _ in 0..2 {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
            held.push(stream);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut extra = TcpStream::connect(addr).await.unwrap();
        assert!(closed_within(&mut extra, Duration::from_millis(200)).await);
        // The held ones time out; then a request is served.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let answer = reqwest::get(format!("http://{addr}/")).await.unwrap();
        assert_eq!(answer.text().await.unwrap(), "ok");
    }

    #[tokio::test]
    async fn shutdown_does_not_wait_for_a_half_sent_request_past_the_grace() {
        let mut limits = limits(16);
        limits.header_read_timeout = Duration::from_secs(60);
        let (addr, stop, server) = started(limits).await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhalf")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(3), server)
            .await
            .expect("the listener stops within its grace period")
            .unwrap()
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
