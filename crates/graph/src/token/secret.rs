//! The bot's client secret: read from the environment or a secret file, never printed.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Environment variable that holds the client secret when no secret file is configured.
pub const CLIENT_SECRET_ENV: &str = "CALLHOST_CLIENT_SECRET";

/// The client secret of the bot's app registration. `Debug` never shows the value.
#[derive(Clone)]
pub struct ClientSecret(Arc<str>);

impl ClientSecret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(Arc::from(value.into()))
    }

    /// Reads the secret from `file` when one is configured (it takes precedence, so a
    /// deployment that names a file never silently uses a stray environment variable),
    /// otherwise from [`CLIENT_SECRET_ENV`]. Surrounding whitespace, such as the trailing
    /// newline of a mounted secret file, is removed.
    pub fn from_env_or_file(file: Option<&Path>) -> Result<Self, SecretError> {
        Self::from_sources(std::env::var(CLIENT_SECRET_ENV).ok(), file)
    }

    pub(crate) fn from_sources(
        env: Option<String>,
        file: Option<&Path>,
    ) -> Result<Self, SecretError> {
        let (value, source) = match file {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| SecretError::Unreadable {
                        path: path.to_path_buf(),
                        source,
                    })?;
                (text, SecretSource::File(path.to_path_buf()))
            }
            None => (env.ok_or(SecretError::Missing)?, SecretSource::Env),
        };
        let value = value.trim();
        if value.is_empty() {
            return Err(SecretError::Empty(source));
        }
        Ok(Self::new(value))
    }

    /// The secret itself, for the token request body only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

/// Where an empty secret came from.
#[derive(Debug)]
pub enum SecretSource {
    Env,
    File(PathBuf),
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Env => write!(f, "environment variable {CLIENT_SECRET_ENV}"),
            SecretSource::File(path) => write!(f, "secret file {}", path.display()),
        }
    }
}

/// Why the client secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "no Graph client secret: set the environment variable {CLIENT_SECRET_ENV} or configure a \
         client secret file"
    )]
    Missing,
    #[error(
        "cannot read the Graph client secret file {}: {source}; make it readable by callhost or \
         set {CLIENT_SECRET_ENV} instead",
        path.display()
    )]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the Graph client secret in the {0} is empty; put the app registration's secret there")]
    Empty(SecretSource),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_is_used_when_no_file_is_configured() {
        let secret = ClientSecret::from_sources(Some(" s3cret\n".into()), None).unwrap();
        assert_eq!(secret.expose(), "s3cret");
    }

    #[test]
    fn file_takes_precedence_and_is_trimmed() {
        let path = std::env::temp_dir().join(format!("callhost-secret-{}", uuid::Uuid::new_v4()));
        std::fs::write(&path, "from-file\n").unwrap();
        let secret = ClientSecret::from_sources(Some("from-env".into()), Some(&path)).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(secret.expose(), "from-file");
    }

    #[test]
    fn missing_secret_names_the_variable() {
        let err = ClientSecret::from_sources(None, None).unwrap_err();
        assert!(err.to_string().contains(CLIENT_SECRET_ENV), "{err}");
    }

    #[test]
    fn unreadable_file_names_the_file() {
        let path = Path::new("/nonexistent/callhost/secret");
        let err = ClientSecret::from_sources(Some("x".into()), Some(path)).unwrap_err();
        assert!(matches!(err, SecretError::Unreadable { .. }));
        assert!(
            err.to_string().contains("/nonexistent/callhost/secret"),
            "{err}"
        );
    }

    #[test]
    fn empty_secret_is_rejected() {
        let err = ClientSecret::from_sources(Some("  ".into()), None).unwrap_err();
        assert!(err.to_string().contains(CLIENT_SECRET_ENV), "{err}");
    }

    #[test]
    fn debug_never_shows_the_value() {
        let secret = ClientSecret::new("hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
    }
}
