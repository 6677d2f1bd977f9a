//! Webhooks (`[[webhooks]]`): as an access is refused, a guardrail refuses a statement or a
//! command, a session is ended from outside, access is asked for, approved or denied, or a step
//! waits for review, Ward posts it to each webhook that wants it.
//! What is sent comes from the record as committed, so it is masked like the record. Sending
//! never holds up a session: the recorder hands over events without waiting, and each post is
//! retried with backoff on its own task. docs/config.md describes the body and the signature.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;
use ward_config::{Config, Webhook, WebhookFormat};
use ward_core::EventKind;
use ward_store::{Location, Notice, Notify, Store};

/// Notices waiting to be sent; past this the recorder drops new ones (and logs it).
const QUEUE: usize = 1024;
/// Attempts per post: the first, then retries after 1, 2, 4, 8 and 16 seconds.
const ATTEMPTS: u32 = 6;
const TIMEOUT: Duration = Duration::from_secs(10);

/// Starts the sender when there are webhooks; what the recorder hands its events to.
pub fn start(config: &Config, location: &Location) -> anyhow::Result<Option<Notify>> {
    if config.webhooks.is_empty() {
        return Ok(None);
    }
    let client = ward_auth::oidc::http_client(None)?;
    let (to, notices) = mpsc::channel(QUEUE);
    let sender = Sender {
        hooks: config.webhooks.iter().cloned().map(Arc::new).collect(),
        client,
        location: location.clone(),
        store: None,
        public_url: config.auth.public_url.clone(),
    };
    tokio::spawn(sender.run(notices));
    Ok(Some(Notify {
        kinds: vec![
            EventKind::PolicyDecision,
            EventKind::PolicyDenied,
            EventKind::SessionTerminated,
            EventKind::AccessRequest,
            EventKind::AccessApprove,
            EventKind::AccessDeny,
            EventKind::ReviewHeld,
        ],
        to,
    }))
}

struct Sender {
    hooks: Vec<Arc<Webhook>>,
    client: reqwest::Client,
    location: Location,
    /// For the session's user, resource and protocol; opened on first use.
    store: Option<Store>,
    /// The web UI's address, to link the session.
    public_url: Option<String>,
}

/// What a notice is about, for people.
struct About {
    event: &'static str,
    text: String,
    /// The access request it is about, which the link opens instead of the session.
    request: Option<String>,
}

impl Sender {
    async fn run(mut self, mut notices: mpsc::Receiver<Notice>) {
        while let Some(notice) = notices.recv().await {
            let session = tokio::task::block_in_place(|| self.session(&notice));
            let Some(about) = about(&notice, &session) else {
                continue;
            };
            let id = format!("{}/{}", notice.session, notice.seq);
            let page = match &about.request {
                Some(request) => format!("requests/{request}"),
                None => format!("sessions/{}", notice.session),
            };
            let link = self
                .public_url
                .as_ref()
                .map(|u| format!("{}/{page}", u.trim_end_matches('/')));
            let body = json!({
                "id": id,
                "event": about.event,
                "at": notice.at.to_rfc3339(),
                "session": notice.session.to_string(),
                "user": session["user"],
                "resource": session["resource"],
                "protocol": session["protocol"],
                "text": about.text,
                "link": link,
                "detail": notice.payload,
            });
            for hook in self.hooks.iter().filter(|h| h.wants(about.event)) {
                let post = Post {
                    hook: hook.clone(),
                    client: self.client.clone(),
                    id: id.clone(),
                    body: match hook.format {
                        WebhookFormat::Json => body.to_string(),
                        WebhookFormat::Slack => {
                            slack(&about.text, link.as_deref(), about.request.is_some())
                        }
                    },
                };
                tokio::spawn(post.send());
            }
        }
    }

    /// The session's row (user, resource, protocol), or nulls when the store cannot say.
    fn session(&mut self, notice: &Notice) -> Value {
        let store = match &mut self.store {
            Some(s) => s,
            None => match Store::open(&self.location) {
                Ok(s) => self.store.insert(s),
                Err(e) => {
                    tracing::warn!(error = %e, "webhooks: cannot open the store");
                    return Value::Null;
                }
            },
        };
        match store.session(&notice.session.to_string()) {
            Ok(row) => serde_json::to_value(row).unwrap_or_default(),
            Err(e) => {
                tracing::warn!(error = %e, "webhooks: cannot read the session");
                self.store = None;
                Value::Null
            }
        }
    }
}

/// The event a notice is, and its text; `None` for one no webhook is told of.
fn about(notice: &Notice, session: &Value) -> Option<About> {
    let p = &notice.payload;
    let s = |v: &Value| v.as_str().unwrap_or("?").to_owned();
    let (user, resource) = (s(&session["user"]), s(&session["resource"]));
    let request = p["request"].as_str().map(str::to_owned);
    Some(match notice.kind {
        EventKind::PolicyDecision if p["allowed"] == false => About {
            event: "access.denied",
            text: format!(
                "Ward refused {user} access to {} ({}): {}",
                s(&p["resource"]),
                s(&session["protocol"]),
                p["detail"].as_str().or(p["reason"].as_str()).unwrap_or("?")
            ),
            request: None,
        },
        EventKind::PolicyDenied => About {
            event: "guardrail.denied",
            text: match p["refused"].as_str() {
                Some(feature) => format!("Ward refused {feature} to {user} on {resource}"),
                None => format!(
                    "Guardrail {} stopped {user} on {}: {} ({})",
                    s(&p["rule"]),
                    p["resource"].as_str().unwrap_or(&resource),
                    p["command"]
                        .as_str()
                        .or(p["message"].as_str())
                        .unwrap_or("?"),
                    s(&p["reason"])
                ),
            },
            request: None,
        },
        EventKind::SessionTerminated => About {
            event: "session.terminated",
            text: format!(
                "Ward ended {user}'s session on {resource}: terminated by {}: {}",
                s(&p["by"]),
                s(&p["reason"])
            ),
            request: None,
        },
        EventKind::AccessRequest => About {
            event: "request.created",
            text: format!(
                "{user} asks for access to {} for {} minutes: {}; group {} approve",
                s(&p["resource"]),
                p["seconds"].as_u64().unwrap_or(0).div_ceil(60),
                s(&p["reason"]),
                p["approvers"]
                    .as_array()
                    .map(|a| a.iter().map(s).collect::<Vec<_>>().join(", group "))
                    .unwrap_or_default()
            ),
            request,
        },
        EventKind::ReviewHeld => About {
            event: "review.waiting",
            text: format!(
                "{user} waits on {}: guardrail {} holds this for review by group {} (at most {}s): {}",
                s(&p["resource"]),
                s(&p["rule"]),
                p["approvers"]
                    .as_array()
                    .map(|a| a.iter().map(s).collect::<Vec<_>>().join(", group "))
                    .unwrap_or_default(),
                p["timeout_seconds"].as_u64().unwrap_or(0),
                s(&p["text"])
            ),
            request,
        },
        EventKind::AccessApprove | EventKind::AccessDeny => About {
            event: if notice.kind == EventKind::AccessDeny {
                "request.denied"
            } else {
                "request.approved"
            },
            text: format!(
                "{user} {} {}'s request for access to {}{}{} (request {})",
                if notice.kind == EventKind::AccessDeny {
                    "denied"
                } else {
                    "approved"
                },
                s(&p["requester"]),
                s(&p["resource"]),
                p["comment"]
                    .as_str()
                    .filter(|c| !c.is_empty())
                    .map_or(String::new(), |c| format!(": {c}")),
                match (p["state"].as_str(), p["until"].as_str()) {
                    (Some("approved"), Some(until)) => format!("; open until {until}"),
                    (Some("pending"), _) => "; more approvals needed".to_owned(),
                    _ => String::new(),
                },
                s(&p["request"])
            ),
            request,
        },
        _ => return None,
    })
}

/// A Slack incoming webhook's body: `text`, with Slack's control characters escaped.
fn slack(text: &str, link: Option<&str>, request: bool) -> String {
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let text = match link {
        Some(link) => format!(
            "{escaped} <{link}|{}>",
            if request { "review" } else { "session" }
        ),
        None => escaped,
    };
    json!({ "text": text }).to_string()
}

/// One body for one webhook, posted until it is taken.
struct Post {
    hook: Arc<Webhook>,
    client: reqwest::Client,
    id: String,
    body: String,
}

impl Post {
    async fn send(self) {
        let mut wait = Duration::from_secs(1);
        for attempt in 1..=ATTEMPTS {
            match self.attempt().await {
                Ok(()) => return,
                Err(why) if attempt == ATTEMPTS => {
                    tracing::warn!(url = %self.hook.url, id = %self.id, %why, "webhook: giving up after {ATTEMPTS} attempts");
                }
                Err(why) => {
                    tracing::info!(url = %self.hook.url, id = %self.id, %why, "webhook: will retry");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
            }
        }
    }

    async fn attempt(&self) -> Result<(), String> {
        let delivery = (self.id.as_str(), self.hook.secret.as_ref());
        post_signed(&self.client, &self.hook.url, delivery, self.body.clone()).await
    }
}

/// Posts the JSON `body` to `url` as delivery `id` (the same on a retry), signed with `secret`
/// when there is one (`X-Ward-Timestamp`, `X-Ward-Signature`): whether the receiver took it
/// (a 2xx answer), or why not.
pub(crate) async fn post_signed(
    client: &reqwest::Client,
    url: &str,
    (id, secret): (&str, Option<&ward_config::Secret>),
    body: String,
) -> Result<(), String> {
    let mut request = client
        .post(url)
        .timeout(TIMEOUT)
        .header("content-type", "application/json")
        .header("x-ward-delivery", id);
    if let Some(secret) = secret {
        let at = ward_core::Timestamp::now().unix_seconds();
        request = request
            .header("x-ward-timestamp", at.to_string())
            .header("x-ward-signature", signature(secret.expose(), at, &body));
    }
    let response = request.body(body).send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {status}"))
    }
}

/// `v1=` and the hex HMAC-SHA256, keyed with the webhook's secret, of `TIMESTAMP.BODY`.
fn signature(secret: &str, at: u64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(format!("{at}.{body}").as_bytes());
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_text_cannot_ping_or_link() {
        let body = slack(
            "<!channel> & <https://evil|click>",
            Some("https://ward/s/1"),
            false,
        );
        let text = serde_json::from_str::<Value>(&body).expect("json")["text"].clone();
        assert_eq!(
            text,
            "&lt;!channel&gt; &amp; &lt;https://evil|click&gt; <https://ward/s/1|session>"
        );
    }
}
