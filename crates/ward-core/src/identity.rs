//! Who is on the other end of a session: the authenticated identity bound to every event.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An identity as Ward authenticated it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Identity {
    /// Stable subject: the local user name, or the OIDC `sub` later.
    pub subject: String,
    /// Groups the identity belongs to; grants are given to groups.
    pub groups: Vec<String>,
    /// How the identity was established (`password`, `oidc`, `token`, …).
    pub method: String,
    /// Who vouched for it (`local` for Ward's own user table, else the OIDC issuer URL).
    pub issuer: String,
    /// Which credential proved it: a Ward token's or service-account key's id, or the OIDC
    /// `sub`; none for a password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

impl Identity {
    /// An identity that claimed a name but did not prove it (recorded on denied sessions).
    pub fn unauthenticated(claimed: &str) -> Self {
        Self {
            subject: claimed.to_owned(),
            groups: Vec::new(),
            method: "none".into(),
            issuer: "none".into(),
            credential: None,
        }
    }
}
