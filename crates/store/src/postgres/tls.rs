//! TLS to the server. Whenever TLS is used the server's certificate is verified against the
//! Mozilla roots and the CA file of the configuration (`sslrootcert` in the URL, or
//! `storage.postgres_ca_file`), and its name against the host connected to: an encrypted
//! connection to a server nobody vouches for is refused, not used.
//!
//! `sslmode` is libpq's: `disable` (plain), `prefer` (the default: TLS when the server offers
//! it), `require`, `verify-ca` and `verify-full` (TLS or nothing; all three verify).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::StoreError;

/// A connection URL with what callhost handles itself taken out: the `sslmode` values the
/// driver does not know (they all verify here) and `sslrootcert`, returned on its own.
pub(crate) fn split_url(url: &str) -> (String, Option<String>) {
    let mut url = url
        .trim()
        .replace("sslmode=verify-full", "sslmode=require")
        .replace("sslmode=verify-ca", "sslmode=require");
    let Some(start) = url.find("sslrootcert=") else {
        return (url, None);
    };
    let value_at = start + "sslrootcert=".len();
    let end = url[value_at..]
        .find(['&', ' '])
        .map_or(url.len(), |i| value_at + i);
    let value = url[value_at..end].to_owned();
    url.replace_range(start..end, "");
    // The separators the parameter leaves behind.
    let url = url
        .replace("?&", "?")
        .replace("&&", "&")
        .replace("  ", " ")
        .trim_end_matches(['?', '&', ' '])
        .to_owned();
    (url, Some(value))
}

/// The connector every connection of the engine uses.
pub(crate) fn connector(ca_file: Option<&Path>) -> Result<MakeRustlsConnect, StoreError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| {
                StoreError::Config(format!(
                    "the PostgreSQL CA file {} cannot be read as PEM certificates ({e}); name the server's CA certificate file",
                    path.display()
                ))
            })?;
        if certs.is_empty() {
            return Err(StoreError::Config(format!(
                "the PostgreSQL CA file {} holds no certificate; name the server's CA certificate file (PEM)",
                path.display()
            )));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| {
                StoreError::Config(format!(
                    "the PostgreSQL CA file {} holds a certificate that cannot be a root ({e})",
                    path.display()
                ))
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Config(format!("TLS for PostgreSQL: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_driver_gets_what_it_knows_and_the_ca_file_comes_out() {
        let split = |url: &str| split_url(url);
        assert_eq!(
            split("postgres://u@h/db?sslmode=verify-full&sslrootcert=/etc/ca.pem"),
            (
                "postgres://u@h/db?sslmode=require".to_owned(),
                Some("/etc/ca.pem".to_owned())
            )
        );
        assert_eq!(
            split("postgres://u@h/db?sslrootcert=/etc/ca.pem&sslmode=verify-ca"),
            (
                "postgres://u@h/db?sslmode=require".to_owned(),
                Some("/etc/ca.pem".to_owned())
            )
        );
        assert_eq!(
            split("postgres://u@h/db?sslrootcert=ca.pem"),
            ("postgres://u@h/db".to_owned(), Some("ca.pem".to_owned()))
        );
        assert_eq!(
            split("host=h user=u sslrootcert=ca.pem sslmode=require"),
            (
                "host=h user=u sslmode=require".to_owned(),
                Some("ca.pem".to_owned())
            )
        );
        assert_eq!(
            split("postgres://u@h/db"),
            ("postgres://u@h/db".to_owned(), None)
        );
    }
}
