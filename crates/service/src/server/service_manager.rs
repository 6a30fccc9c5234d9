//! What a service manager such as systemd gives the process and asks of it: listening sockets
//! passed in (socket activation, `LISTEN_FDS`), so that connections wait in the kernel's
//! backlog while the service restarts instead of being refused, and the state notifications of
//! `Type=notify` units (`READY=1`, `STOPPING=1`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context as _, bail};

/// The first file descriptor the service manager passes (`SD_LISTEN_FDS_START`).
const FIRST_FD: i32 = 3;
/// The names a socket unit's `FileDescriptorName=` may give, and what each serves.
const NAMES: [&str; 2] = ["callbacks", "admin"];

/// Listening sockets passed in by the service manager, by name.
#[derive(Debug, Default)]
pub struct PassedSockets {
    sockets: HashMap<String, std::net::TcpListener>,
}

/// Taken once: a second take would wrap file descriptors already owned by a listener.
static TAKEN: AtomicBool = AtomicBool::new(false);

impl PassedSockets {
    /// The sockets this process was given, or none when it was started without socket
    /// activation (`LISTEN_PID` absent or naming another process).
    pub fn take() -> anyhow::Result<Self> {
        let env = |name: &str| std::env::var(name).ok();
        Self::from_env(
            env("LISTEN_PID").as_deref(),
            env("LISTEN_FDS").as_deref(),
            env("LISTEN_FDNAMES").as_deref(),
        )
    }

    fn from_env(pid: Option<&str>, fds: Option<&str>, names: Option<&str>) -> anyhow::Result<Self> {
        let (Some(pid), Some(fds)) = (pid, fds) else {
            return Ok(Self::default());
        };
        // Inherited from a parent that was itself activated: not ours.
        if pid.trim().parse::<u32>().ok() != Some(std::process::id()) {
            return Ok(Self::default());
        }
        let count: i32 = fds
            .trim()
            .parse()
            .with_context(|| format!("LISTEN_FDS is {fds:?}, not a number of passed sockets"))?;
        if !(1..=NAMES.len() as i32).contains(&count) {
            bail!(
                "the service manager passed {count} sockets (LISTEN_FDS); callhost takes one \
                 or two: the callback listener and, optionally, the admin listener"
            );
        }
        let names: Vec<String> = match names {
            Some(names) if !names.is_empty() => names.split(':').map(str::to_string).collect(),
            // Unnamed: in the order of the socket unit's ListenStream= lines.
            _ => NAMES
                .iter()
                .take(count as usize)
                .map(|n| n.to_string())
                .collect(),
        };
        if names.len() != count as usize {
            bail!(
                "LISTEN_FDNAMES names {} sockets but LISTEN_FDS passes {count}",
                names.len()
            );
        }
        if TAKEN.swap(true, Ordering::SeqCst) {
            bail!("the sockets passed by the service manager were already taken");
        }
        let mut sockets = HashMap::new();
        for (offset, name) in names.into_iter().enumerate() {
            if !NAMES.contains(&name.as_str()) {
                bail!(
                    "the service manager passed a socket named {name:?}; give the socket unit \
                     FileDescriptorName=callbacks (and a second socket FileDescriptorName=admin)"
                );
            }
            let fd = FIRST_FD + offset as i32;
            let listener = adopt(fd).with_context(|| {
                format!(
                    "the socket {name:?} passed by the service manager (file descriptor {fd}) \
                     is not a listening TCP socket; use ListenStream= in the socket unit"
                )
            })?;
            if sockets.insert(name.clone(), listener).is_some() {
                bail!("the service manager passed two sockets named {name:?}");
            }
        }
        Ok(Self { sockets })
    }

    /// The socket named `name` (`callbacks` or `admin`), taken out.
    pub fn listener(&mut self, name: &str) -> Option<std::net::TcpListener> {
        self.sockets.remove(name)
    }

    /// Names of the passed sockets nothing took.
    pub fn unused(&self) -> Vec<String> {
        self.sockets.keys().cloned().collect()
    }
}

#[cfg(unix)]
fn adopt(fd: i32) -> anyhow::Result<std::net::TcpListener> {
    use std::os::fd::FromRawFd as _;
    // SAFETY: by the socket activation protocol, file descriptors from 3 on are open sockets
    // the service manager passed to this process (LISTEN_PID checked above), owned by nothing
    // else in it; `TAKEN` makes sure each is wrapped once.
    #[allow(unsafe_code)]
    let socket = unsafe { socket2::Socket::from_raw_fd(fd) };
    if socket.r#type()? != socket2::Type::STREAM {
        bail!("not a stream socket");
    }
    #[cfg(target_os = "linux")]
    if !socket.is_listener()? {
        bail!("not listening (listen(2) was not called on it)");
    }
    let address = socket.local_addr()?;
    if address.as_socket().is_none() {
        bail!("not an IP socket");
    }
    socket.set_nonblocking(true)?;
    socket.set_cloexec(true)?;
    Ok(socket.into())
}

#[cfg(not(unix))]
fn adopt(_fd: i32) -> anyhow::Result<std::net::TcpListener> {
    bail!("socket activation is supported on Unix only")
}

/// Tells the service manager the service's state (`READY=1`, `STOPPING=1`) when it asked for
/// notifications (`NOTIFY_SOCKET`, a `Type=notify` unit); otherwise does nothing.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    if let Err(e) = send(&path, state) {
        tracing::warn!(state, error = %e, "telling the service manager the service's state failed (NOTIFY_SOCKET)");
    }
}

#[cfg(unix)]
fn send(path: &std::ffi::OsStr, state: &str) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt as _;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let bytes = path.as_bytes();
    let address = match bytes.strip_prefix(b"@") {
        #[cfg(target_os = "linux")]
        Some(name) => {
            use std::os::linux::net::SocketAddrExt as _;
            SocketAddr::from_abstract_name(name)?
        }
        #[cfg(not(target_os = "linux"))]
        Some(_) => return Err(std::io::Error::other("abstract socket names need Linux")),
        None => SocketAddr::from_pathname(std::path::Path::new(path))?,
    };
    let socket = UnixDatagram::unbound()?;
    socket.send_to_addr(state.as_bytes(), &address)?;
    Ok(())
}

#[cfg(not(unix))]
fn send(_path: &std::ffi::OsStr, _state: &str) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_taken_without_socket_activation() {
        let none = PassedSockets::from_env(None, None, None).unwrap();
        assert!(none.unused().is_empty());
        // Meant for another process (the parent that was activated).
        let other = PassedSockets::from_env(Some("1"), Some("1"), None).unwrap();
        assert!(other.unused().is_empty());
    }

    #[test]
    fn bad_counts_and_names_are_refused_with_the_fix() {
        let me = std::process::id().to_string();
        let e = PassedSockets::from_env(Some(&me), Some("x"), None).unwrap_err();
        assert!(e.to_string().contains("LISTEN_FDS"), "{e}");
        let e = PassedSockets::from_env(Some(&me), Some("3"), None).unwrap_err();
        assert!(e.to_string().contains("one or two"), "{e}");
        let e = PassedSockets::from_env(Some(&me), Some("2"), Some("callbacks")).unwrap_err();
        assert!(e.to_string().contains("names 1 sockets"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn notifications_reach_the_notify_socket() {
        let dir = std::env::temp_dir().join(format!("callhost-notify-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let socket = std::os::unix::net::UnixDatagram::bind(&dir).unwrap();
        send(dir.as_os_str(), "READY=1").unwrap();
        let mut buf = [0u8; 64];
        let n = socket.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
        let _ = std::fs::remove_file(&dir);
    }
}
