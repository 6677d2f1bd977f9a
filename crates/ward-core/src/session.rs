//! Session identifiers, protocols and outcomes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One authenticated (or refused) connection to one resource. UUIDv7, so ids sort by start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub Uuid);

impl SessionId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for SessionId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for SessionId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// The wire protocol a session speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Postgres,
    /// MySQL and MariaDB.
    Mysql,
    Ssh,
    /// Ward's own web UI and API: a signed-in viewer, whose views of sessions are recorded.
    Web,
    /// An AI agent through Ward's MCP endpoint: its notes, queries and results.
    Mcp,
    /// A client of an HTTP resource: its requests and the answers.
    Http,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Postgres => "postgres",
            Protocol::Mysql => "mysql",
            Protocol::Ssh => "ssh",
            Protocol::Web => "web",
            Protocol::Mcp => "mcp",
            Protocol::Http => "http",
        }
    }
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Authenticated, authorized, ended normally.
    Ok,
    /// Refused: authentication or policy said no.
    Denied,
    /// Ended by a failure: upstream unreachable, protocol error, I/O error.
    Error,
    /// Still open when the gateway stopped; found on restart.
    Incomplete,
    /// Ended from outside: its user disabled, its grant withdrawn.
    Terminated,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
            Outcome::Error => "error",
            Outcome::Incomplete => "incomplete",
            Outcome::Terminated => "terminated",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ok" => Outcome::Ok,
            "denied" => Outcome::Denied,
            "error" => Outcome::Error,
            "incomplete" => Outcome::Incomplete,
            "terminated" => Outcome::Terminated,
            _ => return None,
        })
    }
}
