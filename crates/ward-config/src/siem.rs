//! `[[siem]]`: streams of every committed event to a SIEM (docs/operations.md).

use std::path::PathBuf;

use serde::Deserialize;

use crate::{Config, ConfigError, Secret};

/// One stream of events to a SIEM.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Siem {
    /// The stream's name: where it has got to is kept in the store under it.
    pub name: String,
    /// How events are sent.
    pub kind: SiemKind,
    /// `tcp://HOST:PORT` or `tls://HOST:PORT` for syslog; `https://…` (or `http://` to a
    /// loopback address) for a webhook or an OTLP/HTTP logs endpoint (`…/v1/logs`).
    pub url: String,
    /// The CA certificate(s) to trust for `tls://` and `https://` (default: the system's).
    pub ca_file: Option<PathBuf>,
    /// Event kinds to send (globs such as `db.*`); every one when empty.
    #[serde(default)]
    pub events: Vec<String>,
    /// Events per message batch (webhook, OTLP) or per write (syslog).
    #[serde(default = "Siem::default_batch")]
    pub batch: usize,
    /// Where a stream seen for the first time starts: `now` (the next checkpoint) or
    /// `beginning` (everything the store holds).
    #[serde(default)]
    pub start: SiemStart,
    /// The key a webhook's batches are signed with, from the environment or a file.
    pub secret_env: Option<String>,
    pub secret_file: Option<PathBuf>,
    #[serde(skip)]
    pub secret: Option<Secret>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SiemKind {
    /// RFC 5424 messages over TCP or TLS (RFC 5425 framing).
    Syslog,
    /// JSON batches posted to a URL, signed like `[[webhooks]]`.
    Webhook,
    /// OpenTelemetry logs over OTLP/HTTP, JSON encoding.
    Otlp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SiemStart {
    #[default]
    Now,
    Beginning,
}

impl Siem {
    fn default_batch() -> usize {
        200
    }

    /// Whether this stream sends events of `kind`.
    pub fn wants(&self, kind: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|g| ward_mask::glob_match(g, kind))
    }
}

impl Config {
    pub(super) fn resolve_siem_paths(&mut self, fix: &dyn Fn(&mut PathBuf)) {
        for s in &mut self.siem {
            s.ca_file.as_mut().map(fix);
            s.secret_file.as_mut().map(fix);
        }
    }

    pub(super) fn validate_siem(&mut self) -> Result<(), ConfigError> {
        let mut names = std::collections::HashSet::new();
        for i in 0..self.siem.len() {
            let key = |field: &str| format!("siem[{i}].{field}");
            let s = &self.siem[i];
            if s.name.trim().is_empty() || !names.insert(s.name.clone()) {
                return Err(self.invalid(key("name"), "give each stream a distinct name"));
            }
            let url_ok = match s.kind {
                SiemKind::Syslog => ["tcp://", "tls://"].iter().any(|p| {
                    s.url.strip_prefix(p).is_some_and(|a| {
                        a.rsplit_once(':')
                            .is_some_and(|(h, port)| !h.is_empty() && port.parse::<u16>().is_ok())
                    })
                }),
                SiemKind::Webhook | SiemKind::Otlp => crate::auth::acceptable_url(&s.url),
            };
            if !url_ok {
                let want = match s.kind {
                    SiemKind::Syslog => "tcp://HOST:PORT or tls://HOST:PORT",
                    _ => "https:// (or http:// to a loopback address)",
                };
                return Err(self.invalid(key("url"), format!("`{}` must be {want}", s.url)));
            }
            if !(1..=10_000).contains(&s.batch) {
                return Err(self.invalid(key("batch"), "must be between 1 and 10000"));
            }
            if let Some(f) = s.ca_file.as_ref().filter(|f| !f.is_file()) {
                return Err(self.invalid(key("ca_file"), format!("{} cannot be read", f.display())));
            }
            let secret = self.read_secret(
                &s.secret_env,
                &s.secret_file,
                &key("secret_env"),
                &key("secret_file"),
            )?;
            if let Some(slot) = self.siem.get_mut(i) {
                slot.secret = secret;
            }
        }
        Ok(())
    }
}
