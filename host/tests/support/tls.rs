//! Certificates for the tests' own TLS servers: a CA and a certificate it signs for
//! 127.0.0.1 and localhost, made with `openssl` (which `cargo xtask test` installs with the
//! test PostgreSQL).

use std::path::{Path, PathBuf};
use std::process::Command;

/// A CA and a server certificate signed by it, in one directory.
pub struct TestCertificates {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The test PostgreSQL's certificates are made with the same configuration.
const CONFIG: &str = include_str!("../../../xtask/src/postgres/openssl.cnf");

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .env("OPENSSL_CONF", dir.join("openssl.cnf"))
        .output()
        .expect("`openssl` runs: install Debian's `openssl` (cargo xtask test does)");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Makes the certificates in `dir`.
pub fn make(dir: &Path) -> TestCertificates {
    std::fs::write(dir.join("openssl.cnf"), CONFIG).unwrap();
    let new_key = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-config", "openssl.cnf"];
    ca.extend(new_key);
    ca.extend([
        "-keyout",
        "ca.key",
        "-x509",
        "-extensions",
        "ca",
        "-days",
        "2",
        "-out",
        "ca.crt",
    ]);
    openssl(dir, &ca);
    let mut request = vec!["req", "-config", "openssl.cnf"];
    request.extend(new_key);
    request.extend([
        "-keyout",
        "server.key",
        "-subj",
        "/CN=localhost",
        "-out",
        "server.csr",
    ]);
    openssl(dir, &request);
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-days",
            "2",
            "-extensions",
            "server",
            "-extfile",
            "openssl.cnf",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "1",
            "-out",
            "server.crt",
        ],
    );
    TestCertificates {
        ca: dir.join("ca.crt"),
        cert: dir.join("server.crt"),
        key: dir.join("server.key"),
    }
}
