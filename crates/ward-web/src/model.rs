//! What the JSON API sends and takes: the types behind `/api/openapi.json`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use ward_core::payload::Payload;
use ward_store::query::{EventRow, SessionRow, TextMatch};

/// Every error: a stable code and a message a person can act on.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// `unauthenticated`, `bad_credentials`, `rate_limited`, `forbidden`, `not_found`, `csrf`,
    /// `invalid_request`, `internal`, …
    pub error: String,
    pub message: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginBody {
    pub username: String,
    /// A local user's password, or a Ward token.
    pub password: String,
}

/// Why an auditor ends a session.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TerminateBody {
    /// Recorded in both sessions, and told to the session's client.
    pub reason: String,
}

/// The signed-in viewer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub user: String,
    pub groups: Vec<String>,
    /// Sees every session (member of `[web] auditor_groups`).
    pub auditor: bool,
    /// Send as `X-CSRF-Token` on calls that change state.
    pub csrf: String,
}

/// What the server offers to sign in with besides a password.
#[derive(Debug, Serialize, ToSchema)]
pub struct Info {
    pub version: String,
    /// OpenID Connect issuers (`/auth/web/login?issuer=NAME`, `ward login --issuer NAME`).
    pub issuers: Vec<String>,
    /// SAML providers (`/auth/web/saml?issuer=NAME`, `ward login --saml`).
    pub saml: Vec<String>,
    /// Ward's PostgreSQL listener, `host:port`.
    pub postgres: Option<String>,
    /// Ward's MySQL listener, `host:port`.
    pub mysql: Option<String>,
    /// Ward's SSH listener, `host:port`.
    pub ssh: Option<String>,
    /// Ward's listener for HTTP resources, `host:port`.
    pub http: Option<String>,
}

/// A recorded session.
#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    pub id: String,
    pub user: String,
    pub groups: Vec<String>,
    pub resource: String,
    /// `postgres`, `mysql`, `ssh`, `http`, `web` (a sign-in to this UI), `mcp` (an AI agent).
    pub protocol: String,
    pub client_addr: String,
    /// RFC 3339.
    pub started_at: String,
    pub ended_at: Option<String>,
    /// `ok`, `denied`, `error`, `incomplete`; none while live.
    pub outcome: Option<String>,
    pub event_count: i64,
    pub live: bool,
    /// With a search: where it matched (the first three places).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matches: Option<Vec<Match>>,
}

impl From<&SessionRow> for Session {
    fn from(s: &SessionRow) -> Self {
        Self {
            id: s.id.clone(),
            user: s.user.clone(),
            groups: s.groups.clone(),
            resource: s.resource.clone(),
            protocol: s.protocol.clone(),
            client_addr: s.client_addr.clone(),
            started_at: s.started_at.clone(),
            ended_at: s.ended_at.clone(),
            outcome: s.outcome.clone(),
            event_count: s.event_count,
            live: s.ended_at.is_none(),
            matches: None,
        }
    }
}

/// A place a search matched: the event and the text around it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Match {
    pub seq: i64,
    pub kind: String,
    pub snippet: Vec<Segment>,
}

impl From<&TextMatch> for Match {
    fn from(m: &TextMatch) -> Self {
        Self {
            seq: m.seq,
            kind: m.kind.clone(),
            snippet: segments(&m.snippet),
        }
    }
}

/// Part of a snippet; `mark` for the matched words.
#[derive(Debug, Serialize, ToSchema)]
pub struct Segment {
    pub text: String,
    pub mark: bool,
}

/// A snippet with the matched words between `\u{2}` and `\u{3}`, as marked segments.
fn segments(snippet: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut mark = false;
    for (i, part) in snippet.split(['\u{2}', '\u{3}']).enumerate() {
        if i > 0 {
            mark = !mark;
        }
        if !part.is_empty() {
            out.push(Segment {
                text: part.to_owned(),
                mark,
            });
        }
    }
    out
}

/// A page of sessions, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<Session>,
    /// Give as `cursor` for the next page; none on the last.
    pub next_cursor: Option<String>,
}

/// Whether a session's record is intact.
#[derive(Debug, Serialize, ToSchema)]
pub struct Integrity {
    /// `verified`, `open`, `tampered`, `missing_events`, `missing_session`,
    /// `pruned`, `orphaned`.
    pub status: String,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionDetail {
    pub session: Session,
    pub integrity: Integrity,
    pub bytes_up: i64,
    pub bytes_down: i64,
}

/// One recorded event: its `kind` and `payload`, one type per kind (docs/cli.md says what
/// each field means).
#[derive(Debug, Serialize, ToSchema)]
pub struct Event {
    pub seq: i64,
    pub at: String,
    #[serde(flatten)]
    pub body: Payload,
}

impl TryFrom<EventRow> for Event {
    type Error = String;

    /// The stored payload as its kind's type; an error names an event that has none of the
    /// shapes its kind ever had (a writer out of step with `ward_core::payload`).
    fn try_from(e: EventRow) -> Result<Self, String> {
        let body = e.read().ok_or_else(|| {
            format!(
                "event {} ({}) does not read as its kind: {}",
                e.seq, e.kind, e.payload
            )
        })?;
        Ok(Self {
            seq: e.seq,
            at: e.at,
            body,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<Event>,
    /// Give as `after_seq` for the next page; none on the last.
    pub next_after_seq: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::segments;

    #[test]
    fn snippets_become_marked_segments() {
        let s = segments("delete from \u{2}orders\u{3} where \u{2}id\u{3}");
        let shown: Vec<(&str, bool)> = s.iter().map(|x| (x.text.as_str(), x.mark)).collect();
        assert_eq!(
            shown,
            [
                ("delete from ", false),
                ("orders", true),
                (" where ", false),
                ("id", true)
            ]
        );
    }
}
