//! The contract between protocol gateways and whatever checks a user's credentials.

use std::future::Future;
use std::pin::Pin;

use crate::Identity;
use crate::login_throttle::Locked;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown user or wrong password: deliberately one case, so callers cannot tell which.
    #[error("wrong user name or password")]
    BadCredentials,
    /// A token or key that was recognised as such and refused, with the reason the holder
    /// can act on (expired, revoked, wrong audience, …).
    #[error("{method} rejected: {reason}")]
    Rejected {
        method: &'static str,
        reason: String,
    },
    #[error("authentication is unavailable: {0}")]
    Unavailable(String),
    /// Refused before the secret was looked at: too many failed logins for this user or from
    /// this address.
    #[error("{0}; try again later")]
    LockedOut(Locked),
    /// A wrong user name or password that reached the limit: the lock it started.
    #[error("wrong user name or password; {0}")]
    LockStarted(Locked),
}

impl AuthError {
    /// The kind of credential that failed, for the record.
    pub fn method(&self) -> &'static str {
        match self {
            Self::Rejected { method, .. } => method,
            Self::BadCredentials
            | Self::Unavailable(_)
            | Self::LockedOut(_)
            | Self::LockStarted(_) => "password",
        }
    }
}

pub type AuthFuture<'a> = Pin<Box<dyn Future<Output = Result<Identity, AuthError>> + Send + 'a>>;

/// Checks what a client gave as its password for `user`: a local password, a Ward token, a
/// service-account key or an OpenID Connect token.
pub trait Authenticator: Send + Sync + 'static {
    /// `from` is the client's address: failed logins are counted per user and per address
    /// ([`crate::login_throttle`]).
    fn authenticate<'a>(
        &'a self,
        user: &'a str,
        secret: &'a str,
        from: std::net::IpAddr,
    ) -> AuthFuture<'a>;

    /// Checks a key an SSH client proved it holds (its signature is already verified).
    fn authenticate_key<'a>(&'a self, user: &'a str, key: KeyLogin<'a>) -> AuthFuture<'a>;
}

/// A key an SSH client logged in with.
#[derive(Debug, Clone, Copy)]
pub enum KeyLogin<'a> {
    /// A public key registered for a local user (`ward users add-key`), by its SHA-256
    /// fingerprint.
    Registered { fingerprint: &'a str },
    /// A certificate Ward's user CA signed (its signature, validity and principal already
    /// checked) for the Ward credential `credential` (the certificate's key id): the
    /// credential must still be usable.
    Certificate { credential: &'a str },
}
