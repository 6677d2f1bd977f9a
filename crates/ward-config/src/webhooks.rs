//! `[[webhooks]]`: where Ward tells people, as it happens, of what needs their attention: an
//! access refused, a statement or command a guardrail refused, a session ended from outside, an
//! access request made, approved or denied, a step waiting for review.

use std::path::PathBuf;

use serde::Deserialize;

use super::{Config, ConfigError, Secret, acceptable_url};

/// What a webhook can be told of.
pub const EVENTS: &[&str] = &[
    "access.denied",
    "guardrail.denied",
    "session.terminated",
    "request.created",
    "request.approved",
    "request.denied",
    "review.waiting",
];

/// One receiver of notifications.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// `https://…` (or `http://` to a loopback address).
    pub url: String,
    /// What to send ([`EVENTS`]); every one when empty.
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub format: WebhookFormat,
    /// Name of an environment variable holding the key requests are signed with.
    pub secret_env: Option<String>,
    /// File holding that key.
    pub secret_file: Option<PathBuf>,
    /// The signing key, resolved at load time.
    #[serde(skip)]
    pub secret: Option<Secret>,
}

/// How a notification's body is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// Ward's own JSON (docs/config.md).
    #[default]
    Json,
    /// A Slack incoming webhook's `{"text": …}`.
    Slack,
}

impl Webhook {
    /// Whether this webhook is told of `event`.
    pub fn wants(&self, event: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == event)
    }
}

impl Config {
    pub(super) fn resolve_webhook_paths(&mut self, fix: &dyn Fn(&mut PathBuf)) {
        for w in &mut self.webhooks {
            w.secret_file.as_mut().map(fix);
        }
    }

    pub(super) fn validate_webhooks(&mut self) -> Result<(), ConfigError> {
        for i in 0..self.webhooks.len() {
            let key = |field: &str| format!("webhooks[{i}].{field}");
            let w = &self.webhooks[i];
            if !acceptable_url(&w.url) {
                return Err(self.invalid(
                    key("url"),
                    format!(
                        "`{}` must be https:// (or http:// to a loopback address)",
                        w.url
                    ),
                ));
            }
            if let Some(unknown) = w.events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
                return Err(self.invalid(
                    key("events"),
                    format!("no event `{unknown}` (events: {})", EVENTS.join(", ")),
                ));
            }
            let secret = self.read_secret(
                &w.secret_env,
                &w.secret_file,
                &key("secret_env"),
                &key("secret_file"),
            )?;
            if let Some(slot) = self.webhooks.get_mut(i) {
                slot.secret = secret;
            }
        }
        Ok(())
    }
}
