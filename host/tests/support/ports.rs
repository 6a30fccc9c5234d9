//! Ports for the services the tests start as processes, which bind the port they are told.
//!
//! A port taken with `bind(":0")` and let go is drawn from the kernel's ephemeral range, the
//! same range every outgoing connection of every test draws its local port from: one of them
//! may hold it by the time the service binds it. Ports here come from below that range, each
//! handed out once per test process (and spread by process id across test binaries), and are
//! checked free when handed out.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};

/// Where the ports start: well below Linux's default ephemeral range (32768–60999).
const FIRST: u16 = 20_000;
/// How many ports the tests draw from.
const SPAN: u16 = 12_000;

static NEXT: AtomicU16 = AtomicU16::new(0);

/// A loopback port nobody listens on, and that no outgoing connection takes.
pub fn free_port() -> SocketAddr {
    let spread = (std::process::id() % 12) as u16 * (SPAN / 12);
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = FIRST + (spread + n) % SPAN;
        if let Ok(listener) = std::net::TcpListener::bind(("127.0.0.1", port)) {
            return listener.local_addr().unwrap();
        }
    }
    panic!("no free loopback port in {FIRST}..{}", FIRST + SPAN);
}
