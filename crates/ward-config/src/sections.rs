//! The tables of the file that each hold one part's settings, with their defaults:
//! `[listen]`, `[store]`, `[tls]`, `[web]`, `[recording]`, `[retention]` and `[evidence]`.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use crate::{ByteSize, ConfigDuration, UpstreamTls};

/// Where each protocol listener binds. A protocol without an address is not served.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Listen {
    pub postgres: Option<SocketAddr>,
    /// MySQL and MariaDB clients (`mysql -h HOST -P PORT -u USER -D RESOURCE --ssl`).
    pub mysql: Option<SocketAddr>,
    /// SSH clients (`ssh -p PORT user:resource@host`).
    pub ssh: Option<SocketAddr>,
    /// HTTPS: `ward login`, the JSON API.
    pub web: Option<SocketAddr>,
    /// HTTPS for `kind = "http"` resources (`https://HOST:PORT/RESOURCE/…`).
    pub http: Option<SocketAddr>,
    /// Plain HTTP for Prometheus (`/metrics`) and liveness (`/healthz`).
    pub metrics: Option<SocketAddr>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Store {
    /// SQLite database file (when no `url` is given).
    #[serde(default = "Store::default_path")]
    pub path: PathBuf,
    /// A PostgreSQL store shared by several Ward processes, instead of the SQLite file
    /// (`postgres://user:password@host:port/db`, or libpq `key=value` form).
    pub url: Option<String>,
    /// Name of an environment variable holding `url`, to keep its password out of the file.
    pub url_env: Option<String>,
    /// This process's name in a shared store; at start Ward ends as `incomplete` only the
    /// sessions its own previous run left open. Default: the host name and listen address.
    pub node: Option<String>,
    /// When a recorded event counts as durable (see docs/evidence.md).
    #[serde(default)]
    pub durability: Durability,
    /// TLS to the PostgreSQL store, as for a resource: `disable` (default), `require`
    /// (encrypted, certificate not checked) or `verify-full`.
    #[serde(default)]
    pub tls: UpstreamTls,
    /// CA bundle for `tls = "verify-full"`; the system roots when absent.
    pub ca_file: Option<PathBuf>,
    /// Name expected in the store server's certificate; the URL's host when absent.
    pub server_name: Option<String>,
}

/// When the recorder's writes count as durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Events are group-committed every 10 ms; a crash of the machine (not of Ward) can lose
    /// the last commits, and a response may reach the client before its events are on disk.
    #[default]
    Batched,
    /// Every response reaches the client only after the events before it are committed and
    /// synced to disk.
    Strict,
}

impl Store {
    fn default_path() -> PathBuf {
        PathBuf::from("ward.db")
    }
}

impl Default for Store {
    fn default() -> Self {
        Self {
            path: Self::default_path(),
            url: None,
            url_env: None,
            node: None,
            durability: Durability::default(),
            tls: UpstreamTls::default(),
            ca_file: None,
            server_name: None,
        }
    }
}

/// The certificate Ward presents to clients. When neither file exists, a self-signed pair is
/// generated at these paths on first start.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    #[serde(default = "Tls::default_cert")]
    pub cert: PathBuf,
    #[serde(default = "Tls::default_key")]
    pub key: PathBuf,
    /// More names for a generated certificate, besides `localhost`, `127.0.0.1` and `::1`
    /// (the names clients reach Ward by: `ward.example.com`, a Compose service's name).
    #[serde(default)]
    pub names: Vec<String>,
}

impl Tls {
    fn default_cert() -> PathBuf {
        PathBuf::from("tls/cert.pem")
    }
    fn default_key() -> PathBuf {
        PathBuf::from("tls/key.pem")
    }
}

impl Default for Tls {
    fn default() -> Self {
        Self {
            cert: Self::default_cert(),
            key: Self::default_key(),
            names: Vec::new(),
        }
    }
}

/// The web UI and API (`[listen] web`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Web {
    /// Members of these groups see every session; everyone else sees their own.
    #[serde(default = "Web::default_auditor_groups")]
    pub auditor_groups: Vec<String>,
    /// How long a sign-in to the UI lasts.
    #[serde(default = "Web::default_session_ttl")]
    pub session_ttl: ConfigDuration,
}

impl Web {
    fn default_auditor_groups() -> Vec<String> {
        vec!["auditors".into()]
    }
    fn default_session_ttl() -> ConfigDuration {
        ConfigDuration(std::time::Duration::from_secs(8 * 3600))
    }
}

impl Default for Web {
    fn default() -> Self {
        Self {
            auditor_groups: Self::default_auditor_groups(),
            session_ttl: Self::default_session_ttl(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Recording {
    /// Result bytes kept per statement; rows past it are counted, not stored.
    #[serde(default = "Recording::default_max_result")]
    pub max_result_bytes: ByteSize,
    /// Largest protocol message accepted from a client or an upstream.
    #[serde(default = "Recording::default_max_message")]
    pub max_message_bytes: ByteSize,
    /// Events queued for the recorder before sessions are slowed down (never dropped).
    #[serde(default = "Recording::default_queue")]
    pub queue_events: usize,
}

impl Recording {
    fn default_max_result() -> ByteSize {
        ByteSize(16 << 20)
    }
    fn default_max_message() -> ByteSize {
        ByteSize(64 << 20)
    }
    fn default_queue() -> usize {
        8192
    }
}

impl Default for Recording {
    fn default() -> Self {
        Self {
            max_result_bytes: Self::default_max_result(),
            max_message_bytes: Self::default_max_message(),
            queue_events: Self::default_queue(),
        }
    }
}

/// How long sessions are kept. Sessions are only ever removed by `ward prune`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Sessions that ended more than this many days ago may be pruned. Unset: kept forever.
    pub days: Option<u32>,
}

/// Signed checkpoints over the recorded chains (docs/evidence.md).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// The Ed25519 private key checkpoints are signed with; generated (mode 0600) when missing.
    /// Default: `signing.key` next to the store.
    pub signing_key: Option<PathBuf>,
    /// Name of an environment variable that holds the private key instead (base64 of the
    /// 32-byte seed), for operators who manage keys themselves.
    pub signing_key_env: Option<String>,
    /// How often the heads of sessions that advanced are signed (also at every session end).
    #[serde(default = "Evidence::default_interval")]
    pub checkpoint_interval: ConfigDuration,
}

impl Evidence {
    fn default_interval() -> ConfigDuration {
        ConfigDuration(std::time::Duration::from_secs(10))
    }
}

impl Default for Evidence {
    fn default() -> Self {
        Self {
            signing_key: None,
            signing_key_env: None,
            checkpoint_interval: Self::default_interval(),
        }
    }
}
