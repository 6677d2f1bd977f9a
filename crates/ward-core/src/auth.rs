//! The contract between protocol gateways and whatever checks a user's credentials.

use crate::Identity;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown user or wrong password: deliberately one case, so callers cannot tell which.
    #[error("wrong user name or password")]
    BadCredentials,
    #[error("authentication is unavailable: {0}")]
    Unavailable(String),
}

/// Checks a user name and password. Called on a blocking thread: it may be slow (argon2id).
pub trait PasswordVerifier: Send + Sync + 'static {
    fn verify(&self, user: &str, password: &str) -> Result<Identity, AuthError>;
}
