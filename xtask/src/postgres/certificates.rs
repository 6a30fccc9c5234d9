//! The test server's TLS: a CA made for this cluster and a certificate it signs for 127.0.0.1,
//! made with `openssl` (which Debian's `postgresql` package brings along, through `ssl-cert`).
//! The tests connect with `sslmode=require` and this CA as `sslrootcert`, so every test that
//! uses PostgreSQL does so over verified TLS, as a managed database is reached.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::command;

/// What `openssl` is told: the CA's and the server certificate's extensions (the tests'
/// own TLS servers use it too).
const OPENSSL_CONFIG: &str = include_str!("openssl.cnf");

/// The files the server and the tests use.
pub struct Certificates {
    /// The CA certificate the tests trust.
    pub ca: PathBuf,
    /// The server's certificate and key, readable by the server's user only.
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Makes a CA and a server certificate in `dir`; `owner` (when given) gets the server's key,
/// which PostgreSQL wants readable by its own user only.
pub fn make(dir: &Path, owner: Option<&str>) -> Result<Certificates> {
    let config = dir.join("openssl.cnf");
    fs::write(&config, OPENSSL_CONFIG)
        .with_context(|| format!("could not write {}", config.display()))?;
    let (ca, ca_key) = (dir.join("ca.crt"), dir.join("ca.key"));
    let (csr, cert, key) = (
        dir.join("server.csr"),
        dir.join("server.crt"),
        dir.join("server.key"),
    );
    let fix = "`openssl` comes with Debian's `openssl` package: `apt-get install -y openssl`";
    let mut make_ca = new_key(&config, &ca_key);
    make_ca
        .args(["-x509", "-extensions", "ca", "-days", "3650", "-out"])
        .arg(&ca);
    command::output(&mut make_ca, fix)?;
    let mut request = new_key(&config, &key);
    request.args(["-subj", "/CN=localhost", "-out"]).arg(&csr);
    command::output(&mut request, fix)?;
    let mut sign = openssl(&config);
    sign.args([
        "x509",
        "-req",
        "-days",
        "3650",
        "-extensions",
        "server",
        "-extfile",
    ])
    .arg(&config)
    .arg("-in")
    .arg(&csr)
    .arg("-CA")
    .arg(&ca)
    .arg("-CAkey")
    .arg(&ca_key)
    .args(["-set_serial", "1"])
    .arg("-out")
    .arg(&cert);
    command::output(&mut sign, fix)?;
    for leftover in [&csr, &ca_key, &config] {
        let _ = fs::remove_file(leftover);
    }
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600))
        .with_context(|| format!("could not make {} private", key.display()))?;
    if let Some(owner) = owner {
        let mut chown = Command::new("chown");
        chown.arg(owner).arg(&key).arg(&cert);
        command::run(&mut chown, &format!("check that the user `{owner}` exists"))?;
    }
    Ok(Certificates { ca, cert, key })
}

fn openssl(config: &Path) -> Command {
    let mut openssl = Command::new("openssl");
    openssl.env("OPENSSL_CONF", config);
    openssl
}

/// `openssl req` making a new P-256 key, unencrypted, in `key`.
fn new_key(config: &Path, key: &Path) -> Command {
    let mut req = openssl(config);
    req.arg("req")
        .arg("-config")
        .arg(config)
        .args([
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ])
        .arg("-keyout")
        .arg(key);
    req
}
